/*
 * The ATAPI packet protocol of a CD-ROM drive, under every ATA transport (PIIX
 * IDE, AHCI): the 12-byte command packet by PIO, the data by PIO in chunks of
 * at most the byte count limit (interrupt reason CoD/IO in the sector count
 * register, byte count in the cylinder registers), or by DMA with features
 * bit 0. The commands themselves are the SCSI layer's (devices/scsi.h): each
 * packet runs through scsi_execute on the drive's CD-ROM LUN, which answers
 * into the device buffer (IDE_BUF_SIZE); a READ(10)/READ(12) of more blocks
 * than the buffer holds is run as consecutive reads of one buffer each, the
 * next one when the host has taken the last chunk, so a request of any length
 * streams through a buffer of fixed size. CHECK CONDITION ends the command
 * with ERR in status and the sense key in the error register's high nibble;
 * the SCSI layer keeps the details for REQUEST SENSE. A medium present at
 * power-on gives one UNIT ATTENTION (28h: medium may have changed).
 */
#include <stdlib.h>
#include <string.h>

#include "devices/ata_dev.h"
#include "devices/scsi.h"
#include "devices/trace.h"

#define CD_BLOCKS_PER_BUF (IDE_BUF_SIZE / CD_BLOCK)

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int atapi_attach(struct ata_dev *d)
{
    struct scsi_ident id = {
        .vendor = "NECVMWar", .product = d->ident->cd_product, .revision = "1.00", .atapi = true};
    scsi_dev_free(d->scsi);
    d->scsi = scsi_dev_new(SCSI_CDROM, d->bd, &id);
    return d->scsi ? 0 : -1;
}

void atapi_free(struct ata_dev *d)
{
    scsi_dev_free(d->scsi);
    d->scsi = NULL;
}

void atapi_power_on(struct ata_dev *d)
{
    if (d->kind == IDE_CDROM && d->scsi)
        scsi_dev_power_on(d->scsi, true);
}

void atapi_reset(struct ata_dev *d)
{
    if (d->scsi)
        scsi_dev_set_sense(d->scsi, 0, 0, 0);
    d->reply_len = 0;
    d->remaining = 0;
}

/* ---- completion ---- */

static void atapi_ok(struct ata_dev *d)
{
    d->xfer = XFER_NONE;
    d->error = 0;
    d->nsector = ATAPI_IR_IO | ATAPI_IR_COD;
    d->status = ATA_SR_DRDY | ATA_SR_DSC;
    ata_raise_irq(d);
}

static void atapi_check(struct ata_dev *d, uint8_t key, uint8_t asc)
{
    d->xfer = XFER_NONE;
    d->remaining = 0;
    d->reply_len = 0;
    d->error = (uint8_t)(key << 4);
    d->nsector = ATAPI_IR_IO | ATAPI_IR_COD;
    d->status = ATA_SR_DRDY | ATA_SR_ERR;
    ata_raise_irq(d);
    if (trace_on(TRACE_IDE))
        trace_printf(TRACE_IDE, "%s: command 0x%02x: sense %x/%02x", d->name, d->cdb[0], key, asc);
}

/* ---- one SCSI command into the device buffer ---- */

/* The SCSI layer's data phase: to and from buf[off..off+len], never past its end. */
static int buf_xfer(void *opaque, uint64_t off, void *data, size_t len, bool to_guest)
{
    struct ata_dev *d = opaque;
    if (off > IDE_BUF_SIZE || len > IDE_BUF_SIZE - off)
        return -1;
    if (to_guest)
        memcpy(d->buf + off, data, len);
    else
        memcpy(data, d->buf + off, len);
    return 0;
}

/* A failed command's sense key and code, for atapi_check. */
struct atapi_err {
    uint8_t key, asc;
};

/* Runs cdb with room for len bytes of reply; false on CHECK CONDITION (e: its sense). */
static bool run_scsi(struct ata_dev *d, const uint8_t *cdb, unsigned len, struct atapi_err *e)
{
    struct scsi_req r = {.cdb_len = sizeof(d->cdb), .dir = SCSI_DIR_IN, .xfer_len = len,
                         .xfer = buf_xfer, .opaque = d};
    memcpy(r.cdb, cdb, sizeof(d->cdb));
    scsi_execute(d->scsi, &r);
    if (r.status != SCSI_GOOD) {
        e->key = r.sense_len ? r.sense[2] & 0x0f : SENSE_ABORTED_COMMAND;
        e->asc = r.sense_len ? r.sense[12] : 0;
        return false;
    }
    d->reply_len = (unsigned)r.transferred;
    return true;
}

/* The next buffer of a READ: blocks lba.. of the remaining ones; false (e) on an error. */
static bool atapi_load(struct ata_dev *d, struct atapi_err *e)
{
    uint8_t cdb[12] = {0xa8};
    uint32_t n = d->remaining < CD_BLOCKS_PER_BUF ? d->remaining : CD_BLOCKS_PER_BUF;
    put_be32(cdb + 2, (uint32_t)d->lba);
    put_be32(cdb + 6, d->remaining);
    if (!run_scsi(d, cdb, n * CD_BLOCK, e))
        return false;
    if (d->reply_len != n * CD_BLOCK) { /* cannot happen: the range was checked */
        *e = (struct atapi_err){SENSE_MEDIUM_ERROR, 0x11};
        scsi_dev_set_sense(d->scsi, e->key, e->asc, 0);
        return false;
    }
    d->lba += n;
    d->remaining -= n;
    return true;
}

/* ---- data-in: PIO chunks or DMA ---- */

static void atapi_pio_end(struct ata_dev *d);

/* Offers buf[off..] to the host as the next DRQ chunk, reloading for READs. */
static void atapi_pio_send(struct ata_dev *d, unsigned off)
{
    if (off >= d->reply_len) {
        if (!d->remaining) {
            atapi_ok(d);
            return;
        }
        struct atapi_err e;
        if (!atapi_load(d, &e)) {
            atapi_check(d, e.key, e.asc);
            return;
        }
        off = 0;
    }
    unsigned n = d->reply_len - off, limit = d->byte_limit;
    if (limit == 0 || limit == 0xffff)
        limit = 0xfffe;
    if (n > limit)
        n = limit & ~1u;
    d->lcyl = (uint8_t)n;
    d->hcyl = (uint8_t)(n >> 8);
    d->nsector = ATAPI_IR_IO;
    ata_pio_in(d, off, n, atapi_pio_end);
    ata_raise_irq(d);
}

static void atapi_pio_end(struct ata_dev *d)
{
    atapi_pio_send(d, d->end);
}

static void atapi_dma(struct ata_dev *d)
{
    d->t->dma_begin(d);
    for (;;) {
        if (d->reply_len) {
            long moved = d->t->dma_move(d, d->buf, d->reply_len, true);
            if (moved != (long)d->reply_len) {
                d->t->dma_end(d, moved < 0);
                scsi_dev_set_sense(d->scsi, SENSE_ABORTED_COMMAND, 0, 0);
                atapi_check(d, SENSE_ABORTED_COMMAND, 0);
                return;
            }
            d->reply_len = 0;
        }
        if (!d->remaining)
            break;
        struct atapi_err e;
        if (!atapi_load(d, &e)) {
            d->t->dma_end(d, false);
            atapi_check(d, e.key, e.asc);
            return;
        }
    }
    d->t->dma_end(d, false);
    atapi_ok(d);
}

/* ---- the packet ---- */

static void atapi_execute(struct ata_dev *d)
{
    uint8_t op = d->cdb[0];
    uint32_t lba = be32(d->cdb + 2), count = 0;
    if (trace_on(TRACE_IDE))
        trace_printf(TRACE_IDE, "%s: packet 0x%02x%s", d->name, op, d->packet_dma ? " (DMA)" : "");
    if (op == 0x28)
        count = be16(d->cdb + 7);
    else if (op == 0xa8)
        count = be32(d->cdb + 6);
    d->remaining = 0;
    /* A READ's first buffer checks the whole range; the rest follow as the host takes them. */
    uint32_t first = count < CD_BLOCKS_PER_BUF ? count : CD_BLOCKS_PER_BUF;
    struct atapi_err e;
    if (!run_scsi(d, d->cdb, count ? first * CD_BLOCK : IDE_BUF_SIZE, &e)) {
        atapi_check(d, e.key, e.asc);
        return;
    }
    if (count) {
        d->lba = (uint64_t)lba + first;
        d->remaining = count - first;
    }
    if (!d->reply_len && !d->remaining) {
        atapi_ok(d);
        return;
    }
    if (d->packet_dma)
        ata_start_dma(d, atapi_dma);
    else
        atapi_pio_send(d, 0);
}

static void atapi_packet_received(struct ata_dev *d)
{
    memcpy(d->cdb, d->buf, sizeof(d->cdb));
    if (!d->scsi) { /* the drive could not be set up: it answers nothing */
        atapi_check(d, SENSE_HARDWARE_ERROR, 0);
        return;
    }
    atapi_execute(d);
}

void atapi_packet_cmd(struct ata_dev *d)
{
    d->packet_dma = d->feature & 1;
    d->byte_limit = (unsigned)d->lcyl | (unsigned)d->hcyl << 8;
    d->reply_len = 0;
    d->remaining = 0;
    d->nsector = ATAPI_IR_COD;
    ata_pio_out(d, sizeof(d->cdb), atapi_packet_received);
}

static void put16(uint16_t *id, int w, uint16_t v)
{
    uint8_t *p = (uint8_t *)&id[w];
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void atapi_identify(struct ata_dev *d, uint16_t *id)
{
    memset(id, 0, 512);
    put16(id, 0, 0x85c0); /* ATAPI, CD-ROM, removable, DRQ within 50 us, 12-byte packets */
    ata_serial(d, id, "VMPLAY-CD");
    ata_padstr((uint8_t *)&id[23], d->ident->cd_firmware, 8, true);
    ata_padstr((uint8_t *)&id[27], d->ident->cd_model, 40, true);
    put16(id, 49, 0x0b00); /* IORDY, LBA, DMA */
    put16(id, 53, 0x0007);
    put16(id, 63, (uint16_t)(0x07 | (d->mdma_mode < 3 ? 0x100 << d->mdma_mode : 0)));
    put16(id, 64, 0x0003);
    put16(id, 65, 0xb4);
    put16(id, 66, 0xb4);
    put16(id, 67, 0x12c);
    put16(id, 68, 0xb4);
    put16(id, 71, 30);
    put16(id, 72, 30);
    put16(id, 80, 0x001e); /* ATAPI-1 to -4 */
    put16(id, 83, 0x4000);
    put16(id, 84, 0x4000);
    put16(id, 87, 0x4000);
    put16(id, 88, (uint16_t)(0x3f | (d->udma_mode < 6 ? 0x100 << d->udma_mode : 0)));
    put16(id, 93, 0x6001);
}
