/*
 * The SCSI target layer: disks and CD-ROMs on a controller's targets and LUNs,
 * one command set (SPC/SBC/MMC) under every SCSI controller (LSI Logic, LSI SAS,
 * PVSCSI) and under ATAPI. A controller never interprets a CDB: it finds the
 * LUN (scsi_bus_find), fills a struct scsi_req with the CDB and a way to move
 * the data (its scatter/gather list, walked by xfer), and calls scsi_execute,
 * which runs the command to completion before it returns (the disk reads and
 * writes through blockdev, stable when the write cache is off or FUA is set)
 * and leaves the SAM status, the sense data and the residual in the request.
 *
 * Commands on an absent LUN go to scsi_execute_absent: INQUIRY answers
 * "peripheral qualifier 3" (no device), REPORT LUNS lists the target's LUNs,
 * REQUEST SENSE and everything else get LOGICAL UNIT NOT SUPPORTED.
 */
#ifndef VMPLAY_SCSI_H
#define VMPLAY_SCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/blockdev.h"
#include "formats/error.h"

/* SAM status codes */
#define SCSI_GOOD 0x00
#define SCSI_CHECK_CONDITION 0x02
#define SCSI_BUSY 0x08
#define SCSI_RESERVATION_CONFLICT 0x18
#define SCSI_TASK_SET_FULL 0x28

/* Sense keys */
#define SENSE_NO_SENSE 0x0
#define SENSE_RECOVERED_ERROR 0x1
#define SENSE_NOT_READY 0x2
#define SENSE_MEDIUM_ERROR 0x3
#define SENSE_HARDWARE_ERROR 0x4
#define SENSE_ILLEGAL_REQUEST 0x5
#define SENSE_UNIT_ATTENTION 0x6
#define SENSE_DATA_PROTECT 0x7
#define SENSE_ABORTED_COMMAND 0xb

#define SCSI_SENSE_LEN 18 /* fixed-format sense data */
#define SCSI_MAX_CDB 16

enum scsi_kind { SCSI_DISK, SCSI_CDROM };
enum scsi_dir { SCSI_DIR_NONE, SCSI_DIR_IN /* device -> guest */, SCSI_DIR_OUT /* guest -> device */ };

struct scsi_req {
    /* Filled by the controller. */
    uint8_t cdb[SCSI_MAX_CDB];
    unsigned cdb_len;
    enum scsi_dir dir;   /* the direction the initiator set up; a mismatch is ILLEGAL REQUEST */
    uint64_t xfer_len;   /* bytes the initiator's buffer holds */
    /*
     * Moves len bytes between buf and the initiator's buffer at byte offset off
     * (to_guest: buf -> guest). Returns 0, or -1 when the buffer cannot be
     * reached (a DMA address outside RAM): the command then ends with
     * SCSI_CHECK_CONDITION, HARDWARE ERROR / DATA PHASE ERROR (4Bh/00h).
     */
    int (*xfer)(void *opaque, uint64_t off, void *buf, size_t len, bool to_guest);
    void *opaque;
    /* Set by scsi_execute. */
    uint8_t status;                 /* SAM status */
    uint8_t sense[SCSI_SENSE_LEN];  /* valid when status is CHECK CONDITION */
    unsigned sense_len;             /* 0 or SCSI_SENSE_LEN */
    uint64_t transferred;           /* bytes moved; residual = xfer_len - transferred */
};

/* Inquiry identity (padded with spaces to the field widths). */
struct scsi_ident {
    const char *vendor;   /* 8: "VMware  " */
    const char *product;  /* 16: "Virtual disk    " */
    const char *revision; /* 4: "2.0 " */
    const char *serial;   /* VPD 80h; NULL: derived from the target/LUN */
    bool atapi;           /* an ATAPI drive: INQUIRY as SFF-8020 (no CMDQUE), ATAPI core feature */
};

struct scsi_dev;

/* A LUN over bd (NULL for a CD drive with no medium); the device does not own bd. */
struct scsi_dev *scsi_dev_new(enum scsi_kind kind, struct blockdev *bd, const struct scsi_ident *id);
void scsi_dev_free(struct scsi_dev *d);
/* Bus or device reset: the next command (but INQUIRY, REPORT LUNS, REQUEST SENSE) gets
 * UNIT ATTENTION, POWER ON, RESET, OR BUS DEVICE RESET OCCURRED (29h/00h). */
void scsi_dev_reset(struct scsi_dev *d);
/* Medium change on a CD (bd NULL: ejected): UNIT ATTENTION 28h/00h, a media event. */
void scsi_dev_change_medium(struct scsi_dev *d, struct blockdev *bd);
enum scsi_kind scsi_dev_kind(const struct scsi_dev *d);
/* Power-on (ATAPI: the transport's hardware reset): no pending UNIT ATTENTION, no sense, unlocked;
 * medium_ua with a medium in the drive: one UNIT ATTENTION 28h/00h and a media event. */
void scsi_dev_power_on(struct scsi_dev *d, bool medium_ua);
/* Sets the sense a later REQUEST SENSE returns (key 0, asc 0, ascq 0: none), for an error the
 * transport found itself (ATAPI: a DMA table too short). */
void scsi_dev_set_sense(struct scsi_dev *d, uint8_t key, uint8_t asc, uint8_t ascq);

void scsi_execute(struct scsi_dev *d, struct scsi_req *r);

/* A controller's targets and LUNs. */
#define SCSI_MAX_TARGETS 16
#define SCSI_MAX_LUNS 8

struct scsi_bus {
    struct scsi_dev *lun[SCSI_MAX_TARGETS][SCSI_MAX_LUNS];
};

int scsi_bus_attach(struct scsi_bus *b, unsigned target, unsigned lun, struct scsi_dev *d,
                    struct error *err);
struct scsi_dev *scsi_bus_find(struct scsi_bus *b, unsigned target, unsigned lun);
bool scsi_bus_target_present(struct scsi_bus *b, unsigned target);
void scsi_bus_reset(struct scsi_bus *b);
void scsi_bus_free(struct scsi_bus *b); /* frees the devices */
/* A command for (target, lun) where no device is: see the top of this file. */
void scsi_execute_absent(struct scsi_bus *b, unsigned target, unsigned lun, struct scsi_req *r);

/* Fixed-format sense data for a request (status CHECK CONDITION). */
void scsi_req_sense(struct scsi_req *r, uint8_t key, uint8_t asc, uint8_t ascq);

#endif
