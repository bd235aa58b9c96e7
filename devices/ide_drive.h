/*
 * Internal to the IDE model (ide.c: controller, task file, ATA command set,
 * bus-master DMA; atapi.c: the ATAPI packet command set). Not a contract:
 * other devices use devices/ide.h.
 */
#ifndef VMPLAY_IDE_DRIVE_H
#define VMPLAY_IDE_DRIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/ide.h"

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

struct ide_channel;

enum ide_xfer { XFER_NONE, XFER_PIO_IN, XFER_PIO_OUT, XFER_DMA };

struct ide_drive {
    struct ide_channel *ch;
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
    void (*end_fn)(struct ide_drive *d);      /* PIO: the window has been consumed */
    void (*dma_fn)(struct ide_drive *d);      /* DMA: runs once the bus master is started */
    uint64_t lba;                             /* next sector (ATA 512, ATAPI 2048) */
    uint32_t remaining;                       /* sectors or blocks left */
    unsigned block;                           /* sectors per DRQ block / per buffer load */
    bool lba48, is_write;
    bool stable;                              /* a write completes once stable (cache off, FUA) */
    /* ATAPI */
    uint8_t cdb[12];
    uint8_t sense_key, asc, ascq;
    bool unit_attention, media_event, locked;
    unsigned byte_limit;                      /* PIO byte count limit of the PACKET command */
    bool packet_dma;                          /* PACKET with features bit 0: data by DMA */
    unsigned reply_len;                       /* bytes in buf for a non-read reply */
};

struct ide_channel {
    struct ide *ide;
    int index;
    struct ide_drive drive[2];
    int cur; /* selected drive (device/head bit 4) */
    uint8_t ctrl; /* device control: nIEN bit 1, SRST bit 2, HOB bit 7 */
    struct irq irq;
    bool irq_pending, irq_level;
    /* Bus master IDE registers (BAR4 + 8 * channel) */
    uint8_t bm_cmd, bm_status;
    uint32_t bm_prd;
    /* The PRD walk of the running transfer: next entry, and what is left of the current one. */
    uint32_t prd_next, prd_addr, prd_left;
    bool prd_eot;
};

/* ide.c, for ata.c and atapi.c */
void ide_raise_irq(struct ide_channel *ch);
/* Command completion: DRDY|DSC and an interrupt; or ERR with the error register. */
void ide_cmd_done(struct ide_drive *d);
void ide_cmd_abort(struct ide_drive *d, uint8_t error);
/* The reset signature: count 1, sector 1, cylinder 0 (ATA) or EB14h (ATAPI). */
void ide_set_signature(struct ide_drive *d);
/* A DRQ data window of buf: device to host (start..start+len) or host to device (0..len). */
void ide_pio_in(struct ide_drive *d, unsigned start, unsigned len, void (*end_fn)(struct ide_drive *d));
void ide_pio_out(struct ide_drive *d, unsigned len, void (*end_fn)(struct ide_drive *d));
/* A DMA command is ready: dma_fn runs (now, or when the guest starts the bus master). */
void ide_start_dma(struct ide_drive *d, void (*dma_fn)(struct ide_drive *d));
/* The PRD walk: begin at BMIDTP, move bytes (returns how many, fewer when the table ends, -1 on
 * a DMA error), and finish (ACTIVE clears when the table was used up, ERROR on a DMA error). */
void ide_bm_begin(struct ide_channel *ch);
long ide_bm_transfer(struct ide_channel *ch, uint8_t *buf, unsigned len, bool to_memory);
void ide_bm_finish(struct ide_channel *ch, bool dma_error);
void ide_padstr(uint8_t *dst, const char *src, unsigned len, bool swap);
/* IDENTIFY words 10-19: a serial number unique to the drive's position. */
void ide_serial(struct ide_drive *d, uint16_t *id, const char *prefix);

/* ata.c */
void ata_command(struct ide_drive *d, uint8_t cmd);
void ata_geometry(struct ide_drive *d);

/* atapi.c */
void atapi_identify(struct ide_drive *d, uint16_t *id);
void atapi_packet_cmd(struct ide_drive *d);
void atapi_reset(struct ide_drive *d);

#endif
