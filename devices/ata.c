/*
 * The ATA device core (devices/ata_dev.h) and the ATA command set of its
 * disks, under every transport (PIIX IDE, AHCI) (ATA/ATAPI-7 subset):
 * IDENTIFY DEVICE, READ/WRITE SECTORS (EXT), READ/WRITE MULTIPLE (EXT),
 * READ/WRITE DMA (EXT), WRITE DMA FUA EXT, WRITE MULTIPLE FUA EXT, READ
 * VERIFY SECTORS (EXT), SET FEATURES, SET MULTIPLE MODE, FLUSH CACHE (EXT),
 * INITIALIZE DEVICE PARAMETERS,
 * RECALIBRATE, SEEK, EXECUTE DEVICE DIAGNOSTIC, standby/idle as no-ops and
 * CHECK POWER MODE; CHS (default translation 16 heads, 63 sectors), LBA28
 * and LBA48 addressing. Unsupported commands end with ERR and ABRT; a
 * failed read ends with UNC and a failed write or flush with ABRT, with the
 * failing sector in the task file, so the guest always learns of it.
 * The write cache (on at power-on unless the disk is write-through; SET
 * FEATURES 02h/82h, IDENTIFY words 82/85) is the blockdev's: with it off, and
 * for the FUA writes, a write completes only after blockdev_flush, so what
 * the guest sees complete is stable; turning it off flushes first.
 * ATAPI drives accept only the ATA commands their command set allows and
 * abort the rest with the ATAPI signature.
 */
#include <stdio.h>
#include <string.h>

#include "devices/ata_dev.h"
#include "devices/trace.h"

#define IDE_DH_LBA 0x40
#define IDE_DH_DEV 0x10
#define IDE_DH_ALWAYS 0xa0
#define IDE_MAX_MULT 16

/* ---- the device core: completion, PIO windows, DMA, reset ---- */

const struct ata_ident ata_ident_ide = {
    .disk_model = "VMware Virtual IDE Hard Drive",
    .disk_firmware = "1.0",
    .cd_model = "VMware Virtual IDE CDROM Drive",
    .cd_firmware = "1.00",
    .cd_product = "VMware IDE CDR10",
};

/* ATA strings: space padded, two characters per word with the first in the high byte. */
void ata_padstr(uint8_t *dst, const char *src, unsigned len, bool swap)
{
    size_t n = strlen(src);
    for (unsigned i = 0; i < len; i++)
        dst[swap ? i ^ 1 : i] = i < n ? (uint8_t)src[i] : ' ';
}

void ata_serial(struct ata_dev *d, uint16_t *id, const char *prefix)
{
    char serial[21];
    snprintf(serial, sizeof(serial), "%s%s", prefix, d->unit_id);
    ata_padstr((uint8_t *)&id[10], serial, 20, true);
}

void ata_pio_in(struct ata_dev *d, unsigned start, unsigned len, void (*end_fn)(struct ata_dev *d))
{
    d->xfer = XFER_PIO_IN;
    d->pos = start;
    d->end = start + len;
    d->end_fn = end_fn;
    d->status = ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ;
}

void ata_pio_out(struct ata_dev *d, unsigned len, void (*end_fn)(struct ata_dev *d))
{
    d->xfer = XFER_PIO_OUT;
    d->pos = 0;
    d->end = len;
    d->end_fn = end_fn;
    d->status = ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ;
}

void ata_pio_window_done(struct ata_dev *d)
{
    void (*fn)(struct ata_dev *) = d->end_fn;
    d->end_fn = NULL;
    d->xfer = XFER_NONE;
    d->status &= (uint8_t)~ATA_SR_DRQ;
    if (fn)
        fn(d);
}

void ata_cmd_done(struct ata_dev *d)
{
    d->xfer = XFER_NONE;
    d->end_fn = NULL;
    d->dma_fn = NULL;
    d->status = ATA_SR_DRDY | ATA_SR_DSC;
    ata_raise_irq(d);
}

void ata_cmd_abort(struct ata_dev *d, uint8_t error)
{
    d->xfer = XFER_NONE;
    d->end_fn = NULL;
    d->dma_fn = NULL;
    d->error = error;
    d->status = ATA_SR_DRDY | ATA_SR_ERR;
    ata_raise_irq(d);
    if (trace_on(TRACE_IDE))
        trace_printf(TRACE_IDE, "%s: command aborted, error 0x%02x", d->name, error);
}

void ata_set_signature(struct ata_dev *d)
{
    d->nsector = 1;
    d->sector = 1;
    d->lcyl = d->kind == IDE_CDROM ? 0x14 : 0;
    d->hcyl = d->kind == IDE_CDROM ? 0xeb : 0;
    d->select &= IDE_DH_DEV | IDE_DH_ALWAYS;
}

void ata_start_dma(struct ata_dev *d, void (*dma_fn)(struct ata_dev *d))
{
    d->xfer = XFER_DMA;
    d->dma_fn = dma_fn;
    d->status = ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ;
    d->t->start_dma(d);
}

void ata_dev_reset(struct ata_dev *d, bool srst)
{
    d->xfer = XFER_NONE;
    d->end_fn = NULL;
    d->dma_fn = NULL;
    d->error = 0x01;
    d->select = IDE_DH_ALWAYS;
    d->feature = d->hob_feature = 0;
    d->hob_nsector = d->hob_sector = d->hob_lcyl = d->hob_hcyl = 0;
    ata_set_signature(d);
    /* After SRST an ATAPI device clears DRDY (ATA/ATAPI-7 9.12). */
    d->status = srst && d->kind == IDE_CDROM ? 0 : ATA_SR_DRDY | ATA_SR_DSC;
    if (!srst) {
        d->cur_heads = d->heads;
        d->cur_secs = d->secs;
        d->mult_sectors = 0;
        d->write_cache = !(d->bd && d->bd->write_through); /* off: its writes are stable anyway */
        d->mdma_mode = 2;
        d->udma_mode = 0xff;
    }
    if (d->kind == IDE_CDROM)
        atapi_reset(d);
}

int ata_dev_attach(struct ata_dev *d, enum ide_drive_kind kind, struct blockdev *bd)
{
    d->kind = kind;
    d->bd = bd;
    d->sectors = kind == IDE_DISK ? bd->sectors : 0;
    if (kind == IDE_DISK)
        ata_geometry(d);
    atapi_free(d);
    return kind == IDE_CDROM ? atapi_attach(d) : 0;
}

void ata_dev_free(struct ata_dev *d)
{
    atapi_free(d);
}

/* ---- ATA addressing ---- */

static uint64_t ata_lba(struct ata_dev *d)
{
    if (d->lba48)
        return (uint64_t)d->hob_hcyl << 40 | (uint64_t)d->hob_lcyl << 32 | (uint64_t)d->hob_sector << 24 |
               (uint64_t)d->hcyl << 16 | (uint64_t)d->lcyl << 8 | d->sector;
    if (d->select & IDE_DH_LBA)
        return (uint64_t)(d->select & 0x0f) << 24 | (uint64_t)d->hcyl << 16 | (uint64_t)d->lcyl << 8 | d->sector;
    /* CHS: sector numbers start at 1; 0 maps beyond the disk (IDNF). */
    if (d->sector == 0 || d->cur_heads == 0 || d->cur_secs == 0)
        return UINT64_MAX;
    uint64_t cyl = (uint64_t)d->hcyl << 8 | d->lcyl;
    return (cyl * d->cur_heads + (d->select & 0x0f)) * d->cur_secs + d->sector - 1;
}

/* Writes a sector address back into the task file (after each block, and at an error). */
static void ata_set_lba(struct ata_dev *d, uint64_t lba)
{
    if (d->lba48) {
        d->sector = (uint8_t)lba;
        d->lcyl = (uint8_t)(lba >> 8);
        d->hcyl = (uint8_t)(lba >> 16);
        d->hob_sector = (uint8_t)(lba >> 24);
        d->hob_lcyl = (uint8_t)(lba >> 32);
        d->hob_hcyl = (uint8_t)(lba >> 40);
    } else if (d->select & IDE_DH_LBA) {
        d->sector = (uint8_t)lba;
        d->lcyl = (uint8_t)(lba >> 8);
        d->hcyl = (uint8_t)(lba >> 16);
        d->select = (uint8_t)((d->select & 0xf0) | ((lba >> 24) & 0x0f));
    } else if (d->cur_heads && d->cur_secs) {
        uint64_t cyl = lba / (d->cur_heads * d->cur_secs), r = lba % (d->cur_heads * d->cur_secs);
        d->lcyl = (uint8_t)cyl;
        d->hcyl = (uint8_t)(cyl >> 8);
        d->select = (uint8_t)((d->select & 0xf0) | (r / d->cur_secs));
        d->sector = (uint8_t)(r % d->cur_secs + 1);
    }
}

static uint32_t ata_count(struct ata_dev *d)
{
    if (d->lba48) {
        uint32_t n = (uint32_t)d->hob_nsector << 8 | d->nsector;
        return n ? n : 65536;
    }
    return d->nsector ? d->nsector : 256;
}

/* Sets up lba/remaining for a read or write; false (command aborted with IDNF) when out of range. */
static bool ata_range(struct ata_dev *d, bool lba48)
{
    d->lba48 = lba48;
    d->lba = ata_lba(d);
    d->remaining = ata_count(d);
    if (d->lba >= d->sectors || d->remaining > d->sectors - d->lba) {
        ata_cmd_abort(d, ATA_ER_IDNF);
        return false;
    }
    return true;
}

/* ---- ATA PIO ---- */

static void ata_pio_read_end(struct ata_dev *d);

static void ata_pio_read_next(struct ata_dev *d)
{
    unsigned n = d->remaining < d->block ? d->remaining : d->block;
    if (blockdev_read(d->bd, d->lba, n, d->buf) < 0) {
        ata_set_lba(d, d->lba);
        ata_cmd_abort(d, ATA_ER_UNC);
        return;
    }
    ata_pio_in(d, 0, n * 512, ata_pio_read_end);
    ata_raise_irq(d);
}

static void ata_pio_read_end(struct ata_dev *d)
{
    unsigned n = d->end / 512;
    d->lba += n;
    d->remaining -= n;
    ata_set_lba(d, d->lba - 1);
    if (d->remaining) {
        ata_pio_read_next(d);
        return;
    }
    d->xfer = XFER_NONE;
    d->status = ATA_SR_DRDY | ATA_SR_DSC;
}

/* The end of a write command: a stable one (write cache off, FUA) is flushed before it completes. */
static void ata_write_done(struct ata_dev *d)
{
    int r = d->stable ? blockdev_flush(d->bd) : 0;
    if (r < 0) {
        if (trace_on(TRACE_IDE))
            trace_printf(TRACE_IDE, "%s: flush of a stable write failed (%d)", d->name, r);
        ata_cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    ata_cmd_done(d);
}

static void ata_pio_write_end(struct ata_dev *d)
{
    unsigned n = d->end / 512;
    int r = blockdev_write(d->bd, d->lba, n, d->buf);
    if (r < 0) {
        if (trace_on(TRACE_IDE))
            trace_printf(TRACE_IDE, "%s: write of %u sectors at %llu failed (%d)", d->name, n,
                         (unsigned long long)d->lba, r);
        ata_set_lba(d, d->lba);
        ata_cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    d->lba += n;
    d->remaining -= n;
    ata_set_lba(d, d->lba - 1);
    if (d->remaining) {
        n = d->remaining < d->block ? d->remaining : d->block;
        ata_pio_out(d, n * 512, ata_pio_write_end);
        ata_raise_irq(d);
        return;
    }
    ata_write_done(d);
}

/* A write is stable when the command is FUA or the write cache is off. */
static void ata_rw_pio(struct ata_dev *d, bool write, bool lba48, bool multiple, bool fua)
{
    if (multiple && !d->mult_sectors) {
        ata_cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    if (!ata_range(d, lba48))
        return;
    d->block = multiple ? d->mult_sectors : 1;
    d->is_write = write;
    d->stable = write && (fua || !d->write_cache);
    if (!write) {
        ata_pio_read_next(d);
        return;
    }
    unsigned n = d->remaining < d->block ? d->remaining : d->block;
    ata_pio_out(d, n * 512, ata_pio_write_end);
}

/* ---- ATA DMA ---- */

static void ata_dma_rw(struct ata_dev *d)
{
    d->t->dma_begin(d);
    while (d->remaining) {
        unsigned n = d->remaining < IDE_BUF_SECTORS ? d->remaining : IDE_BUF_SECTORS;
        long moved;
        if (!d->is_write && blockdev_read(d->bd, d->lba, n, d->buf) < 0) {
            ata_set_lba(d, d->lba);
            ata_cmd_abort(d, ATA_ER_UNC);
            return;
        }
        moved = d->t->dma_move(d, d->buf, n * 512, !d->is_write);
        if (moved != (long)n * 512) {
            d->t->dma_end(d, moved < 0);
            ata_set_lba(d, d->lba);
            ata_cmd_abort(d, ATA_ER_ABRT);
            return;
        }
        if (d->is_write && blockdev_write(d->bd, d->lba, n, d->buf) < 0) {
            ata_set_lba(d, d->lba);
            ata_cmd_abort(d, ATA_ER_ABRT);
            return;
        }
        d->lba += n;
        d->remaining -= n;
    }
    ata_set_lba(d, d->lba - 1);
    d->t->dma_end(d, false);
    if (d->is_write)
        ata_write_done(d);
    else
        ata_cmd_done(d);
}

static void ata_rw_dma(struct ata_dev *d, bool write, bool lba48, bool fua)
{
    if (!ata_range(d, lba48))
        return;
    d->is_write = write;
    d->stable = write && (fua || !d->write_cache);
    ata_start_dma(d, ata_dma_rw);
}

/* ---- IDENTIFY DEVICE ---- */

static void put16(uint16_t *id, int w, uint16_t v)
{
    uint8_t *p = (uint8_t *)&id[w];
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void ata_identify(struct ata_dev *d, uint16_t *id)
{
    uint64_t lba28 = d->sectors < 0x0fffffff ? d->sectors : 0x0fffffff;
    uint32_t cur_cap = d->cyls * d->cur_heads * d->cur_secs;
    memset(id, 0, 512);
    put16(id, 0, 0x0040); /* fixed device */
    put16(id, 1, (uint16_t)d->cyls);
    put16(id, 3, (uint16_t)d->heads);
    put16(id, 6, (uint16_t)d->secs);
    ata_serial(d, id, "VMPLAY-HD");
    ata_padstr((uint8_t *)&id[23], d->ident->disk_firmware, 8, true);
    ata_padstr((uint8_t *)&id[27], d->ident->disk_model, 40, true);
    put16(id, 47, 0x8000 | IDE_MAX_MULT);
    put16(id, 49, 0x0b00);              /* IORDY, LBA, DMA */
    put16(id, 50, 0x4000);
    put16(id, 51, 0x0200);
    put16(id, 52, 0x0200);
    put16(id, 53, 0x0007);              /* words 54-58, 64-70 and 88 valid */
    put16(id, 54, (uint16_t)d->cyls);
    put16(id, 55, (uint16_t)d->cur_heads);
    put16(id, 56, (uint16_t)d->cur_secs);
    put16(id, 57, (uint16_t)cur_cap);
    put16(id, 58, (uint16_t)(cur_cap >> 16));
    put16(id, 59, d->mult_sectors ? (uint16_t)(0x100 | d->mult_sectors) : 0);
    put16(id, 60, (uint16_t)lba28);
    put16(id, 61, (uint16_t)(lba28 >> 16));
    put16(id, 63, (uint16_t)(0x07 | (d->mdma_mode < 3 ? 0x100 << d->mdma_mode : 0)));
    put16(id, 64, 0x0003);              /* PIO 3 and 4 */
    put16(id, 65, 120);
    put16(id, 66, 120);
    put16(id, 67, 120);
    put16(id, 68, 120);
    put16(id, 80, 0x00f0);              /* ATA/ATAPI-4 to -7 */
    put16(id, 81, 0x0016);
    put16(id, 82, 1 << 5);              /* write cache */
    put16(id, 83, 0x4000 | 1 << 13 | 1 << 12 | 1 << 10); /* FLUSH CACHE (EXT), 48-bit */
    put16(id, 84, 0x4000 | 1 << 6);     /* WRITE DMA/MULTIPLE FUA EXT */
    put16(id, 85, d->write_cache ? 1 << 5 : 0);
    put16(id, 86, 1 << 13 | 1 << 12 | 1 << 10);
    put16(id, 87, 0x4000 | 1 << 6);
    put16(id, 88, (uint16_t)(0x3f | (d->udma_mode < 6 ? 0x100 << d->udma_mode : 0)));
    put16(id, 93, d->ident->sata ? 0 : 0x6001); /* hardware reset result: PATA only */
    if (d->ident->sata) {
        put16(id, 75, 31);                  /* queue depth 32 */
        put16(id, 76, 1 << 8 | 0x0e);       /* NCQ; Gen1, Gen2, Gen3 signalling */
    }
    put16(id, 100, (uint16_t)d->sectors);
    put16(id, 101, (uint16_t)(d->sectors >> 16));
    put16(id, 102, (uint16_t)(d->sectors >> 32));
    put16(id, 103, (uint16_t)(d->sectors >> 48));
}

static void cmd_identify(struct ata_dev *d, bool packet)
{
    if ((d->kind == IDE_CDROM) != packet) {
        if (d->kind == IDE_CDROM)
            ata_set_signature(d);
        ata_cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    if (packet)
        atapi_identify(d, (uint16_t *)d->buf);
    else
        ata_identify(d, (uint16_t *)d->buf);
    ata_pio_in(d, 0, 512, NULL);
    ata_raise_irq(d);
}

/* ---- other ATA commands ---- */

static void cmd_set_features(struct ata_dev *d)
{
    switch (d->feature) {
    case 0x02: /* enable write cache */
        d->write_cache = true;
        break;
    case 0x82: /* disable write cache: what it holds is written first */
        if (d->kind == IDE_DISK && blockdev_flush(d->bd) < 0) {
            ata_cmd_abort(d, ATA_ER_ABRT);
            return;
        }
        d->write_cache = false;
        break;
    case 0x03: /* set transfer mode: sector count = mode class << 3 | mode */
        if ((d->nsector >> 3) == 4) {
            d->mdma_mode = d->nsector & 7;
            d->udma_mode = 0xff;
        } else if ((d->nsector >> 3) == 8) {
            d->udma_mode = d->nsector & 7;
            d->mdma_mode = 0xff;
        }
        break;
    case 0x55: case 0xaa: /* read look-ahead off/on */
    case 0x66: case 0xcc: /* revert to power-on defaults off/on */
        break;
    default:
        ata_cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    ata_cmd_done(d);
}

static void cmd_set_multiple(struct ata_dev *d)
{
    unsigned n = d->nsector;
    if (n > IDE_MAX_MULT || (n & (n - 1))) {
        ata_cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    d->mult_sectors = n;
    ata_cmd_done(d);
}

static void cmd_flush(struct ata_dev *d)
{
    int r = blockdev_flush(d->bd);
    if (r < 0) {
        if (trace_on(TRACE_IDE))
            trace_printf(TRACE_IDE, "%s: flush failed (%d)", d->name, r);
        ata_cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    ata_cmd_done(d);
}

static void cmd_read_verify(struct ata_dev *d, bool lba48)
{
    if (!ata_range(d, lba48))
        return;
    ata_set_lba(d, d->lba + d->remaining - 1);
    ata_cmd_done(d);
}

/* INITIALIZE DEVICE PARAMETERS: sectors per track in the count, heads - 1 in device/head. */
static void cmd_init_params(struct ata_dev *d)
{
    if (d->nsector == 0) {
        ata_cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    d->cur_secs = d->nsector;
    d->cur_heads = (d->select & 0x0f) + 1u;
    ata_cmd_done(d);
}

/* Commands for ATA disks; ATAPI drives accept only the ones marked. */
void ata_command(struct ata_dev *d, uint8_t cmd)
{
    bool cd = d->kind == IDE_CDROM;
    d->error = 0;
    switch (cmd) {
    case 0xec: cmd_identify(d, false); return;
    case 0xa1: cmd_identify(d, true); return;
    case 0x90: d->t->diagnostic(d); return;
    case 0xa0:
        if (cd) {
            atapi_packet_cmd(d);
            return;
        }
        break;
    case 0x08: /* DEVICE RESET */
        if (cd) {
            atapi_reset(d);
            ata_set_signature(d);
            d->status = 0;
            d->error = 0x01;
            return;
        }
        break;
    case 0xef: cmd_set_features(d); return;
    case 0xe5: /* CHECK POWER MODE: active */
        d->nsector = 0xff;
        ata_cmd_done(d);
        return;
    case 0xe0: case 0xe1: case 0xe2: case 0xe3: case 0x94: case 0x95: case 0x96: case 0x97:
        ata_cmd_done(d); /* standby / idle: nothing spins here */
        return;
    case 0x00: /* NOP ends with ABRT by definition */
        break;
    default:
        if (cd) {
            ata_set_signature(d);
            break;
        }
        switch (cmd) {
        case 0x20: case 0x21: ata_rw_pio(d, false, false, false, false); return;
        case 0x24: ata_rw_pio(d, false, true, false, false); return;
        case 0x30: case 0x31: ata_rw_pio(d, true, false, false, false); return;
        case 0x34: ata_rw_pio(d, true, true, false, false); return;
        case 0xc4: ata_rw_pio(d, false, false, true, false); return;
        case 0x29: ata_rw_pio(d, false, true, true, false); return;
        case 0xc5: ata_rw_pio(d, true, false, true, false); return;
        case 0x39: ata_rw_pio(d, true, true, true, false); return;
        case 0xce: ata_rw_pio(d, true, true, true, true); return; /* WRITE MULTIPLE FUA EXT */
        case 0xc8: case 0xc9: ata_rw_dma(d, false, false, false); return;
        case 0x25: ata_rw_dma(d, false, true, false); return;
        case 0xca: case 0xcb: ata_rw_dma(d, true, false, false); return;
        case 0x35: ata_rw_dma(d, true, true, false); return;
        case 0x3d: ata_rw_dma(d, true, true, true); return; /* WRITE DMA FUA EXT */
        case 0x40: case 0x41: cmd_read_verify(d, false); return;
        case 0x42: cmd_read_verify(d, true); return;
        case 0xc6: cmd_set_multiple(d); return;
        case 0xe7: case 0xea: cmd_flush(d); return;
        case 0x91: cmd_init_params(d); return;
        case 0x70: ata_cmd_done(d); return; /* SEEK */
        default:
            if ((cmd & 0xf0) == 0x10) { /* RECALIBRATE */
                ata_cmd_done(d);
                return;
            }
        }
    }
    ata_cmd_abort(d, ATA_ER_ABRT);
}

/* Default CHS translation: 16 heads, 63 sectors, at most 16383 cylinders. */
void ata_geometry(struct ata_dev *d)
{
    uint64_t cyls = d->sectors / (16 * 63);
    d->heads = 16;
    d->secs = 63;
    d->cyls = (unsigned)(cyls > 16383 ? 16383 : cyls < 1 ? 1 : cyls);
    d->cur_heads = d->heads;
    d->cur_secs = d->secs;
}
