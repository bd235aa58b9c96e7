/*
 * The ATA device core: one ATA disk or ATAPI CD-ROM drive, its registers
 * (the task file), the ATA command set (ata.c) and the ATAPI packet protocol
 * (atapi.c, over the SCSI layer's MMC command set in scsi_disk.c),
 * independent of how the host reaches it. A transport drives
 * it: the PIIX IDE task file and bus master (ide.c), or AHCI's command FISes
 * and PRD tables (ahci.c). The transport writes the task file registers,
 * calls ata_command, and then serves what the device asks for:
 *   - a PIO window (xfer XFER_PIO_IN / XFER_PIO_OUT, buf[pos..end]): the host
 *     reads or fills it, then ata_pio_window_done runs the command on;
 *   - a DMA data phase (xfer XFER_DMA): transport->start_dma, when the host's
 *     engine is ready, calls d->dma_fn, which moves the data through
 *     dma_begin / dma_move / dma_end;
 *   - an interrupt (transport->irq) at each DRQ block and at the end;
 *   - the end: xfer XFER_NONE with the status (ERR and the error register on
 *     failure) and the task file as ATA/ATAPI-7 leaves them.
 * Everything runs to completion inside these calls (synchronous blockdev I/O).
 */
#ifndef VMPLAY_ATA_DEV_H
#define VMPLAY_ATA_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/ide.h"
#include "formats/blockdev.h"

/* Status register */
#define ATA_SR_BSY 0x80
#define ATA_SR_DRDY 0x40
#define ATA_SR_DF 0x20
#define ATA_SR_DSC 0x10
#define ATA_SR_DRQ 0x08
#define ATA_SR_ERR 0x01
/* Error register */
#define ATA_ER_UNC 0x40
#define ATA_ER_IDNF 0x10
#define ATA_ER_ABRT 0x04
/* ATAPI interrupt reason (sector count register) */
#define ATAPI_IR_COD 0x01
#define ATAPI_IR_IO 0x02

#define IDE_BUF_SECTORS 256 /* 128 KiB: one ATA command of 256 sectors, or 64 CD blocks */
#define IDE_BUF_SIZE (IDE_BUF_SECTORS * 512)
#define CD_BLOCK 2048

struct ata_dev;
struct scsi_dev;

enum ide_xfer { XFER_NONE, XFER_PIO_IN, XFER_PIO_OUT, XFER_DMA };

/* What the device needs from the host side; opaque is ata_dev.opaque. */
struct ata_transport {
    /* The device asserts its interrupt (a DRQ block is ready, or the command ended). */
    void (*irq)(struct ata_dev *d);
    /* A DMA command is set up (d->dma_fn): run it now, or once the host starts its engine. */
    void (*start_dma)(struct ata_dev *d);
    /* The DMA data phase: begin, move len bytes of buf (returns how many, fewer when the host's
     * table ends, -1 on a DMA error), end (dma_error: the move failed). */
    void (*dma_begin)(struct ata_dev *d);
    long (*dma_move)(struct ata_dev *d, uint8_t *buf, unsigned len, bool to_memory);
    void (*dma_end)(struct ata_dev *d, bool dma_error);
    /* EXECUTE DEVICE DIAGNOSTIC: every device the command reaches (IDE: both on the channel). */
    void (*diagnostic)(struct ata_dev *d);
};

/* What the device tells the guest it is (IDENTIFY, INQUIRY); set by the transport. */
struct ata_ident {
    const char *disk_model, *disk_firmware; /* IDENTIFY words 27-46 and 23-26 of a disk */
    const char *cd_model, *cd_firmware;     /* ... of a CD-ROM */
    const char *cd_product;  /* INQUIRY product of the CD-ROM */
    bool sata;               /* IDENTIFY words 75-79: a SATA device with native command queuing */
};

struct ata_dev {
    const struct ata_transport *t;
    void *opaque;             /* the transport's (IDE: its channel; AHCI: its port) */
    const struct ata_ident *ident;
    char name[16];            /* for traces: "ide0.1", "sata0:3" */
    char unit_id[8];          /* the tail of the IDENTIFY serial number */
    enum ide_drive_kind kind;
    struct blockdev *bd;
    uint8_t status, error;
    /* Task file: every write goes to both drives of the channel, reads come from the selected one. */
    uint8_t feature, nsector, sector, lcyl, hcyl, select;
    uint8_t hob_feature, hob_nsector, hob_sector, hob_lcyl, hob_hcyl;
    /* ATA geometry: default translation and the one INITIALIZE DEVICE PARAMETERS set. */
    uint64_t sectors;
    unsigned cyls, heads, secs, cur_heads, cur_secs;
    unsigned mult_sectors; /* SET MULTIPLE; 0 = disabled */
    bool write_cache;
    uint8_t mdma_mode, udma_mode; /* selected by SET FEATURES 03h, 0xff = none */
    /* The running command's transfer. */
    enum ide_xfer xfer;
    uint8_t *buf;
    unsigned pos, end;                        /* PIO: the current DRQ window of buf */
    void (*end_fn)(struct ata_dev *d);        /* PIO: the window has been consumed */
    void (*dma_fn)(struct ata_dev *d);        /* DMA: runs once the host's engine is started */
    uint64_t lba;                             /* next sector (ATA 512, ATAPI 2048) */
    uint32_t remaining;                       /* sectors or blocks left */
    unsigned block;                           /* sectors per DRQ block / per buffer load */
    bool lba48, is_write;
    bool stable;                              /* a write completes once stable (cache off, FUA) */
    /* ATAPI */
    struct scsi_dev *scsi;                    /* a CD-ROM's command set (devices/scsi.h) */
    uint8_t cdb[12];
    unsigned byte_limit;                      /* PIO byte count limit of the PACKET command */
    bool packet_dma;                          /* PACKET with features bit 0: data by DMA */
    unsigned reply_len;                       /* bytes of the SCSI layer's answer in buf */
};

/* The identity of VMware's IDE drives. */
extern const struct ata_ident ata_ident_ide;

/* ---- ata.c: the device core ---- */

/* Attaches the medium (disk: bd required; CD-ROM: bd NULL is an empty tray); buf must be
 * IDE_BUF_SIZE bytes the transport owns. -1: out of memory. */
int ata_dev_attach(struct ata_dev *d, enum ide_drive_kind kind, struct blockdev *bd);
/* Frees what ata_dev_attach allocated (not buf). */
void ata_dev_free(struct ata_dev *d);
/* Power-on or hardware reset (srst false: also the settings SET FEATURES and friends made), or
 * the soft reset SRST (ATAPI devices then clear DRDY). The signature is in the task file. */
void ata_dev_reset(struct ata_dev *d, bool srst);
void ata_command(struct ata_dev *d, uint8_t cmd);
void ata_geometry(struct ata_dev *d);
static inline void ata_raise_irq(struct ata_dev *d)
{
    d->t->irq(d);
}
/* Command completion: DRDY|DSC and an interrupt; or ERR with the error register. */
void ata_cmd_done(struct ata_dev *d);
void ata_cmd_abort(struct ata_dev *d, uint8_t error);
/* The reset signature: count 1, sector 1, cylinder 0 (ATA) or EB14h (ATAPI). */
void ata_set_signature(struct ata_dev *d);
/* A DRQ data window of buf: device to host (start..start+len) or host to device (0..len). */
void ata_pio_in(struct ata_dev *d, unsigned start, unsigned len, void (*end_fn)(struct ata_dev *d));
void ata_pio_out(struct ata_dev *d, unsigned len, void (*end_fn)(struct ata_dev *d));
/* The host has read or filled the whole window: DRQ clears and the command goes on. */
void ata_pio_window_done(struct ata_dev *d);
/* A DMA command is ready: dma_fn runs (now, or when the host starts its engine). */
void ata_start_dma(struct ata_dev *d, void (*dma_fn)(struct ata_dev *d));
void ata_padstr(uint8_t *dst, const char *src, unsigned len, bool swap);
/* IDENTIFY words 10-19: prefix and the device's unit_id. */
void ata_serial(struct ata_dev *d, uint16_t *id, const char *prefix);

/* ---- atapi.c ---- */
int atapi_attach(struct ata_dev *d); /* the CD-ROM LUN over d->bd; -1: out of memory */
void atapi_free(struct ata_dev *d);
/* The transport's power-on or hardware reset: a disc in the tray gives one UNIT ATTENTION. */
void atapi_power_on(struct ata_dev *d);
void atapi_identify(struct ata_dev *d, uint16_t *id);
void atapi_packet_cmd(struct ata_dev *d);
void atapi_reset(struct ata_dev *d);

#endif
