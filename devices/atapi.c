/*
 * ATAPI CD-ROM (MMC subset) behind the PIIX IDE model: the PACKET protocol
 * (12-byte command packet by PIO, data by PIO in chunks of at most the
 * byte count limit, or by bus-master DMA with features bit 0; interrupt
 * reason CoD/IO in the sector count register, byte count in the cylinder
 * registers) and the commands SeaBIOS's El Torito boot and Linux's sr /
 * libata use: TEST UNIT READY, REQUEST SENSE, INQUIRY, READ CAPACITY,
 * READ(10), READ(12), MODE SENSE(10) (pages 01h, 2Ah, 3Fh), READ TOC
 * (formats 0 and 1, LBA or MSF), GET CONFIGURATION, GET EVENT STATUS
 * NOTIFICATION (polled, media class), START STOP UNIT, PREVENT ALLOW MEDIUM
 * REMOVAL, MECHANISM STATUS, SET CD SPEED, SEEK. A medium present at power-on
 * gives one UNIT ATTENTION (28h: medium may have changed). Errors end with
 * CHECK CONDITION: ERR in status, the sense key in the error register's high
 * nibble, details for REQUEST SENSE. The medium is a blockdev of 512-byte
 * sectors read as 2048-byte blocks.
 */
#include <string.h>

#include "devices/ata_dev.h"
#include "devices/trace.h"

#define SENSE_NONE 0x00
#define SENSE_NOT_READY 0x02
#define SENSE_MEDIUM_ERROR 0x03
#define SENSE_ILLEGAL_REQUEST 0x05
#define SENSE_UNIT_ATTENTION 0x06
#define SENSE_ABORTED_COMMAND 0x0b

#define ASC_READ_ERROR 0x11
#define ASC_INVALID_OPCODE 0x20
#define ASC_LBA_OUT_OF_RANGE 0x21
#define ASC_INVALID_FIELD 0x24
#define ASC_MEDIUM_MAY_HAVE_CHANGED 0x28
#define ASC_SAVING_NOT_SUPPORTED 0x39
#define ASC_MEDIUM_NOT_PRESENT 0x3a
#define ASC_REMOVAL_PREVENTED 0x53

#define CD_BLOCKS_PER_BUF (IDE_BUF_SIZE / CD_BLOCK)

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, v >> 16);
    put_be16(p + 2, v);
}

static uint32_t capacity(const struct ata_dev *d)
{
    return d->bd ? (uint32_t)(d->bd->sectors / (CD_BLOCK / BLOCKDEV_SECTOR)) : 0;
}

void atapi_reset(struct ata_dev *d)
{
    d->sense_key = d->asc = d->ascq = 0;
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
    d->sense_key = key;
    d->asc = asc;
    d->ascq = 0;
    d->xfer = XFER_NONE;
    d->remaining = 0;
    d->error = (uint8_t)(key << 4);
    d->nsector = ATAPI_IR_IO | ATAPI_IR_COD;
    d->status = ATA_SR_DRDY | ATA_SR_ERR;
    ata_raise_irq(d);
    if (trace_on(TRACE_IDE))
        trace_printf(TRACE_IDE, "%s: command 0x%02x: sense %x/%02x", d->name, d->cdb[0], key, asc);
}

/* ---- data-in: PIO chunks or DMA ---- */

/* Loads the next blocks of a READ into buf; false (check condition sent) on a read error. */
static bool atapi_load(struct ata_dev *d)
{
    uint32_t n = d->remaining < CD_BLOCKS_PER_BUF ? d->remaining : CD_BLOCKS_PER_BUF;
    uint32_t per = CD_BLOCK / BLOCKDEV_SECTOR;
    if (blockdev_read(d->bd, d->lba * per, n * per, d->buf) < 0) {
        atapi_check(d, SENSE_MEDIUM_ERROR, ASC_READ_ERROR);
        return false;
    }
    d->reply_len = n * CD_BLOCK;
    d->lba += n;
    d->remaining -= n;
    return true;
}

static void atapi_pio_end(struct ata_dev *d);

/* Offers buf[off..] to the host as the next DRQ chunk, reloading for READs. */
static void atapi_pio_send(struct ata_dev *d, unsigned off)
{
    if (off >= d->reply_len) {
        if (!d->remaining) {
            atapi_ok(d);
            return;
        }
        if (!atapi_load(d))
            return;
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
                atapi_check(d, SENSE_ABORTED_COMMAND, 0);
                return;
            }
            d->reply_len = 0;
        }
        if (!d->remaining)
            break;
        if (!atapi_load(d))
            return;
    }
    d->t->dma_end(d, false);
    atapi_ok(d);
}

static void atapi_data_in(struct ata_dev *d)
{
    if (d->packet_dma)
        ata_start_dma(d, atapi_dma);
    else
        atapi_pio_send(d, 0);
}

/* A reply of len bytes already in buf, cut to the allocation length. */
static void atapi_reply(struct ata_dev *d, unsigned len, unsigned alloc)
{
    d->reply_len = len < alloc ? len : alloc;
    d->remaining = 0;
    if (!d->reply_len) {
        atapi_ok(d);
        return;
    }
    atapi_data_in(d);
}

/* ---- commands ---- */

static void cmd_read(struct ata_dev *d, uint32_t lba, uint32_t count)
{
    if (lba > capacity(d) || count > capacity(d) - lba) {
        atapi_check(d, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
        return;
    }
    if (!count) {
        atapi_ok(d);
        return;
    }
    d->lba = lba;
    d->remaining = count;
    d->reply_len = 0;
    atapi_data_in(d);
}

static void cmd_request_sense(struct ata_dev *d)
{
    uint8_t *b = d->buf;
    memset(b, 0, 18);
    b[0] = 0x70; /* current error, fixed format */
    b[2] = d->sense_key;
    b[7] = 10;
    b[12] = d->asc;
    b[13] = d->ascq;
    d->sense_key = d->asc = d->ascq = 0;
    atapi_reply(d, 18, d->cdb[4]);
}

static void cmd_inquiry(struct ata_dev *d)
{
    uint8_t *b = d->buf;
    memset(b, 0, 36);
    b[0] = 0x05; /* CD/DVD device */
    b[1] = 0x80; /* removable */
    b[3] = 0x21; /* ATAPI, response data format 1 */
    b[4] = 31;
    ata_padstr(b + 8, "NECVMWar", 8, false);
    ata_padstr(b + 16, d->ident->cd_product, 16, false);
    ata_padstr(b + 32, "1.00", 4, false);
    atapi_reply(d, 36, d->cdb[4]);
}

static void cmd_read_capacity(struct ata_dev *d)
{
    put_be32(d->buf, capacity(d) - 1);
    put_be32(d->buf + 4, CD_BLOCK);
    atapi_reply(d, 8, 8);
}

static unsigned mode_page(struct ata_dev *d, uint8_t page, uint8_t *p)
{
    if (page == 0x01) { /* read error recovery */
        memset(p, 0, 8);
        p[0] = 0x01;
        p[1] = 6;
        p[3] = 5; /* read retry count */
        return 8;
    }
    /* 0x2A: CD/DVD capabilities and mechanical status */
    memset(p, 0, 20);
    p[0] = 0x2a;
    p[1] = 18;
    p[4] = 0x71;                            /* audio play, composite, digital ports, multisession */
    p[5] = 0x60;                            /* CD-DA accurate, sub-channel */
    p[6] = 0x29 | (d->locked ? 0x02 : 0);  /* lock, eject, tray loader; lock state */
    put_be16(p + 8, 706);                   /* max speed, KB/s */
    put_be16(p + 10, 2);                    /* volume levels */
    put_be16(p + 12, 512);                  /* buffer KB */
    put_be16(p + 14, 706);                  /* current speed */
    return 20;
}

static void cmd_mode_sense10(struct ata_dev *d)
{
    uint8_t pc = d->cdb[2] >> 6, page = d->cdb[2] & 0x3f;
    unsigned len = 8;
    if (pc == 3) {
        atapi_check(d, SENSE_ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED);
        return;
    }
    if (page != 0x01 && page != 0x2a && page != 0x3f) {
        atapi_check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
        return;
    }
    memset(d->buf, 0, 8);
    if (page == 0x01 || page == 0x3f)
        len += mode_page(d, 0x01, d->buf + len);
    if (page == 0x2a || page == 0x3f)
        len += mode_page(d, 0x2a, d->buf + len);
    put_be16(d->buf, len - 2);
    d->buf[2] = 0x70; /* medium type: door closed (MMC) */
    atapi_reply(d, len, be16(d->cdb + 7));
}

/* An address in a TOC descriptor: LBA, or MSF with the 2-second lead-in offset. */
static void toc_addr(uint8_t *p, uint32_t lba, bool msf)
{
    if (!msf) {
        put_be32(p, lba);
        return;
    }
    uint32_t f = lba + 150;
    p[0] = 0;
    p[1] = (uint8_t)(f / (75 * 60));
    p[2] = (uint8_t)(f / 75 % 60);
    p[3] = (uint8_t)(f % 75);
}

static void cmd_read_toc(struct ata_dev *d)
{
    bool msf = d->cdb[1] & 0x02;
    uint8_t format = d->cdb[2] & 0x0f, track = d->cdb[6];
    uint8_t *b = d->buf;
    unsigned len = 4;
    if (format == 0 && d->cdb[9] >> 6)
        format = d->cdb[9] >> 6; /* the older format field in the control byte */
    memset(b, 0, 32);
    if (format == 0) {
        if (track > 1 && track != 0xaa) {
            atapi_check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
            return;
        }
        if (track <= 1) {
            b[len + 1] = 0x14; /* ADR 1, data track */
            b[len + 2] = 1;
            toc_addr(b + len + 4, 0, msf);
            len += 8;
        }
        b[len + 1] = 0x16; /* lead-out */
        b[len + 2] = 0xaa;
        toc_addr(b + len + 4, capacity(d), msf);
        len += 8;
    } else if (format == 1) { /* multi-session: one session, starting at track 1 */
        b[len + 1] = 0x14;
        b[len + 2] = 1;
        toc_addr(b + len + 4, 0, msf);
        len += 8;
    } else {
        atapi_check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
        return;
    }
    put_be16(b, len - 2);
    b[2] = 1; /* first track or session */
    b[3] = 1; /* last */
    atapi_reply(d, len, be16(d->cdb + 7));
}

static void cmd_get_configuration(struct ata_dev *d)
{
    uint8_t *b = d->buf;
    unsigned len = 8;
    uint16_t start = (uint16_t)be16(d->cdb + 2);
    memset(b, 0, 32);
    put_be16(b + 6, d->bd ? 0x0008 : 0); /* current profile: CD-ROM */
    if (start == 0) { /* profile list */
        b[len + 2] = 0x03;
        b[len + 3] = 4;
        put_be16(b + len + 4, 0x0008);
        b[len + 6] = d->bd ? 1 : 0;
        len += 8;
    }
    if (start <= 1) { /* core: ATAPI interface */
        put_be16(b + len, 0x0001);
        b[len + 2] = 0x0b;
        b[len + 3] = 8;
        put_be32(b + len + 4, 2);
        b[len + 8] = 1;
        len += 12;
    }
    put_be32(b, len - 4);
    atapi_reply(d, len, be16(d->cdb + 7));
}

static void cmd_get_event_status(struct ata_dev *d)
{
    uint8_t *b = d->buf;
    memset(b, 0, 8);
    if (!(d->cdb[1] & 1)) { /* only polled operation */
        atapi_check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
        return;
    }
    b[3] = 0x10; /* supported: media class */
    if (!(d->cdb[4] & 0x10)) {
        put_be16(b, 2);
        b[2] = 0x80; /* no event available */
        atapi_reply(d, 4, be16(d->cdb + 7));
        return;
    }
    put_be16(b, 6);
    b[2] = 0x04;
    b[4] = d->media_event ? 0x02 : 0x00; /* new media */
    b[5] = d->bd ? 0x02 : 0x00;          /* media present */
    d->media_event = false;
    atapi_reply(d, 8, be16(d->cdb + 7));
}

static void cmd_start_stop(struct ata_dev *d)
{
    bool loej = d->cdb[4] & 0x02, start = d->cdb[4] & 0x01;
    if (loej && !start && d->locked) {
        atapi_check(d, SENSE_ILLEGAL_REQUEST, ASC_REMOVAL_PREVENTED);
        return;
    }
    /* The image stays in the tray: vmplay has no eject. */
    atapi_ok(d);
}

static void cmd_mechanism_status(struct ata_dev *d)
{
    memset(d->buf, 0, 8);
    atapi_reply(d, 8, be16(d->cdb + 8));
}

static bool needs_medium(uint8_t op)
{
    return op == 0x00 || op == 0x25 || op == 0x28 || op == 0xa8 || op == 0x43 || op == 0x2b;
}

/* Commands that report instead of consuming a pending UNIT ATTENTION. */
static bool ua_exempt(uint8_t op)
{
    return op == 0x12 || op == 0x03 || op == 0x4a || op == 0x46;
}

static void atapi_execute(struct ata_dev *d)
{
    uint8_t op = d->cdb[0];
    if (trace_on(TRACE_IDE))
        trace_printf(TRACE_IDE, "%s: packet 0x%02x%s", d->name, op, d->packet_dma ? " (DMA)" : "");
    if (d->unit_attention && !ua_exempt(op)) {
        d->unit_attention = false;
        atapi_check(d, SENSE_UNIT_ATTENTION, ASC_MEDIUM_MAY_HAVE_CHANGED);
        return;
    }
    if (needs_medium(op) && !d->bd) {
        atapi_check(d, SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
        return;
    }
    switch (op) {
    case 0x00: atapi_ok(d); break;                                   /* TEST UNIT READY */
    case 0x03: cmd_request_sense(d); break;
    case 0x12: cmd_inquiry(d); break;
    case 0x1b: cmd_start_stop(d); break;
    case 0x1e: d->locked = d->cdb[4] & 1; atapi_ok(d); break;        /* PREVENT ALLOW */
    case 0x25: cmd_read_capacity(d); break;
    case 0x28: cmd_read(d, be32(d->cdb + 2), be16(d->cdb + 7)); break;
    case 0xa8: cmd_read(d, be32(d->cdb + 2), be32(d->cdb + 6)); break;
    case 0x2b: atapi_ok(d); break;                                   /* SEEK(10) */
    case 0x43: cmd_read_toc(d); break;
    case 0x46: cmd_get_configuration(d); break;
    case 0x4a: cmd_get_event_status(d); break;
    case 0x5a: cmd_mode_sense10(d); break;
    case 0xbb: atapi_ok(d); break;                                   /* SET CD SPEED */
    case 0xbd: cmd_mechanism_status(d); break;
    default: atapi_check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE); break;
    }
}

static void atapi_packet_received(struct ata_dev *d)
{
    memcpy(d->cdb, d->buf, sizeof(d->cdb));
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
