/*
 * ATA command set of the PIIX IDE model's disks (ATA/ATAPI-7 subset):
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
#include <string.h>

#include "devices/ide_drive.h"
#include "devices/trace.h"

#define IDE_DH_LBA 0x40
#define IDE_MAX_MULT 16

/* ---- ATA addressing ---- */

static uint64_t ata_lba(struct ide_drive *d)
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
static void ata_set_lba(struct ide_drive *d, uint64_t lba)
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

static uint32_t ata_count(struct ide_drive *d)
{
    if (d->lba48) {
        uint32_t n = (uint32_t)d->hob_nsector << 8 | d->nsector;
        return n ? n : 65536;
    }
    return d->nsector ? d->nsector : 256;
}

/* Sets up lba/remaining for a read or write; false (command aborted with IDNF) when out of range. */
static bool ata_range(struct ide_drive *d, bool lba48)
{
    d->lba48 = lba48;
    d->lba = ata_lba(d);
    d->remaining = ata_count(d);
    if (d->lba >= d->sectors || d->remaining > d->sectors - d->lba) {
        ide_cmd_abort(d, ATA_ER_IDNF);
        return false;
    }
    return true;
}

/* ---- ATA PIO ---- */

static void ata_pio_read_end(struct ide_drive *d);

static void ata_pio_read_next(struct ide_drive *d)
{
    unsigned n = d->remaining < d->block ? d->remaining : d->block;
    if (blockdev_read(d->bd, d->lba, n, d->buf) < 0) {
        ata_set_lba(d, d->lba);
        ide_cmd_abort(d, ATA_ER_UNC);
        return;
    }
    ide_pio_in(d, 0, n * 512, ata_pio_read_end);
    ide_raise_irq(d->ch);
}

static void ata_pio_read_end(struct ide_drive *d)
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
static void ata_write_done(struct ide_drive *d)
{
    int r = d->stable ? blockdev_flush(d->bd) : 0;
    if (r < 0) {
        if (trace_on(TRACE_IDE))
            trace_printf(TRACE_IDE, "ide%d: flush of a stable write failed (%d)", d->ch->index, r);
        ide_cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    ide_cmd_done(d);
}

static void ata_pio_write_end(struct ide_drive *d)
{
    unsigned n = d->end / 512;
    int r = blockdev_write(d->bd, d->lba, n, d->buf);
    if (r < 0) {
        if (trace_on(TRACE_IDE))
            trace_printf(TRACE_IDE, "ide%d: write of %u sectors at %llu failed (%d)", d->ch->index, n,
                         (unsigned long long)d->lba, r);
        ata_set_lba(d, d->lba);
        ide_cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    d->lba += n;
    d->remaining -= n;
    ata_set_lba(d, d->lba - 1);
    if (d->remaining) {
        n = d->remaining < d->block ? d->remaining : d->block;
        ide_pio_out(d, n * 512, ata_pio_write_end);
        ide_raise_irq(d->ch);
        return;
    }
    ata_write_done(d);
}

/* A write is stable when the command is FUA or the write cache is off. */
static void ata_rw_pio(struct ide_drive *d, bool write, bool lba48, bool multiple, bool fua)
{
    if (multiple && !d->mult_sectors) {
        ide_cmd_abort(d, ATA_ER_ABRT);
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
    ide_pio_out(d, n * 512, ata_pio_write_end);
}

/* ---- ATA DMA ---- */

static void ata_dma_rw(struct ide_drive *d)
{
    struct ide_channel *ch = d->ch;
    ide_bm_begin(ch);
    while (d->remaining) {
        unsigned n = d->remaining < IDE_BUF_SECTORS ? d->remaining : IDE_BUF_SECTORS;
        long moved;
        if (!d->is_write && blockdev_read(d->bd, d->lba, n, d->buf) < 0) {
            ata_set_lba(d, d->lba);
            ide_cmd_abort(d, ATA_ER_UNC);
            return;
        }
        moved = ide_bm_transfer(ch, d->buf, n * 512, !d->is_write);
        if (moved != (long)n * 512) {
            ide_bm_finish(ch, moved < 0);
            ata_set_lba(d, d->lba);
            ide_cmd_abort(d, ATA_ER_ABRT);
            return;
        }
        if (d->is_write && blockdev_write(d->bd, d->lba, n, d->buf) < 0) {
            ata_set_lba(d, d->lba);
            ide_cmd_abort(d, ATA_ER_ABRT);
            return;
        }
        d->lba += n;
        d->remaining -= n;
    }
    ata_set_lba(d, d->lba - 1);
    ide_bm_finish(ch, false);
    if (d->is_write)
        ata_write_done(d);
    else
        ide_cmd_done(d);
}

static void ata_rw_dma(struct ide_drive *d, bool write, bool lba48, bool fua)
{
    if (!ata_range(d, lba48))
        return;
    d->is_write = write;
    d->stable = write && (fua || !d->write_cache);
    ide_start_dma(d, ata_dma_rw);
}

/* ---- IDENTIFY DEVICE ---- */

static void put16(uint16_t *id, int w, uint16_t v)
{
    uint8_t *p = (uint8_t *)&id[w];
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void ata_identify(struct ide_drive *d, uint16_t *id)
{
    uint64_t lba28 = d->sectors < 0x0fffffff ? d->sectors : 0x0fffffff;
    uint32_t cur_cap = d->cyls * d->cur_heads * d->cur_secs;
    memset(id, 0, 512);
    put16(id, 0, 0x0040); /* fixed device */
    put16(id, 1, (uint16_t)d->cyls);
    put16(id, 3, (uint16_t)d->heads);
    put16(id, 6, (uint16_t)d->secs);
    ide_serial(d, id, "VMPLAY-HD");
    ide_padstr((uint8_t *)&id[23], "1.0", 8, true);
    ide_padstr((uint8_t *)&id[27], "VMware Virtual IDE Hard Drive", 40, true);
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
    put16(id, 93, 0x6001);
    put16(id, 100, (uint16_t)d->sectors);
    put16(id, 101, (uint16_t)(d->sectors >> 16));
    put16(id, 102, (uint16_t)(d->sectors >> 32));
    put16(id, 103, (uint16_t)(d->sectors >> 48));
}

static void cmd_identify(struct ide_drive *d, bool packet)
{
    if ((d->kind == IDE_CDROM) != packet) {
        if (d->kind == IDE_CDROM)
            ide_set_signature(d);
        ide_cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    if (packet)
        atapi_identify(d, (uint16_t *)d->buf);
    else
        ata_identify(d, (uint16_t *)d->buf);
    ide_pio_in(d, 0, 512, NULL);
    ide_raise_irq(d->ch);
}

/* ---- other ATA commands ---- */

static void cmd_set_features(struct ide_drive *d)
{
    switch (d->feature) {
    case 0x02: /* enable write cache */
        d->write_cache = true;
        break;
    case 0x82: /* disable write cache: what it holds is written first */
        if (d->kind == IDE_DISK && blockdev_flush(d->bd) < 0) {
            ide_cmd_abort(d, ATA_ER_ABRT);
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
        ide_cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    ide_cmd_done(d);
}

static void cmd_set_multiple(struct ide_drive *d)
{
    unsigned n = d->nsector;
    if (n > IDE_MAX_MULT || (n & (n - 1))) {
        ide_cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    d->mult_sectors = n;
    ide_cmd_done(d);
}

static void cmd_flush(struct ide_drive *d)
{
    int r = blockdev_flush(d->bd);
    if (r < 0) {
        if (trace_on(TRACE_IDE))
            trace_printf(TRACE_IDE, "ide%d: flush failed (%d)", d->ch->index, r);
        ide_cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    ide_cmd_done(d);
}

static void cmd_read_verify(struct ide_drive *d, bool lba48)
{
    if (!ata_range(d, lba48))
        return;
    ata_set_lba(d, d->lba + d->remaining - 1);
    ide_cmd_done(d);
}

/* INITIALIZE DEVICE PARAMETERS: sectors per track in the count, heads - 1 in device/head. */
static void cmd_init_params(struct ide_drive *d)
{
    if (d->nsector == 0) {
        ide_cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    d->cur_secs = d->nsector;
    d->cur_heads = (d->select & 0x0f) + 1u;
    ide_cmd_done(d);
}

static void cmd_diagnostic(struct ide_channel *ch)
{
    for (int i = 0; i < 2; i++) {
        struct ide_drive *d = &ch->drive[i];
        if (d->kind == IDE_NONE)
            continue;
        ide_set_signature(d);
        d->error = 0x01; /* device 0 passed, device 1 passed or not present */
        d->status = d->kind == IDE_CDROM ? 0 : ATA_SR_DRDY | ATA_SR_DSC;
        d->xfer = XFER_NONE;
    }
    ide_raise_irq(ch);
}

/* Commands for ATA disks; ATAPI drives accept only the ones marked. */
void ata_command(struct ide_drive *d, uint8_t cmd)
{
    bool cd = d->kind == IDE_CDROM;
    d->error = 0;
    switch (cmd) {
    case 0xec: cmd_identify(d, false); return;
    case 0xa1: cmd_identify(d, true); return;
    case 0x90: cmd_diagnostic(d->ch); return;
    case 0xa0:
        if (cd) {
            atapi_packet_cmd(d);
            return;
        }
        break;
    case 0x08: /* DEVICE RESET */
        if (cd) {
            atapi_reset(d);
            ide_set_signature(d);
            d->status = 0;
            d->error = 0x01;
            return;
        }
        break;
    case 0xef: cmd_set_features(d); return;
    case 0xe5: /* CHECK POWER MODE: active */
        d->nsector = 0xff;
        ide_cmd_done(d);
        return;
    case 0xe0: case 0xe1: case 0xe2: case 0xe3: case 0x94: case 0x95: case 0x96: case 0x97:
        ide_cmd_done(d); /* standby / idle: nothing spins here */
        return;
    case 0x00: /* NOP ends with ABRT by definition */
        break;
    default:
        if (cd) {
            ide_set_signature(d);
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
        case 0x70: ide_cmd_done(d); return; /* SEEK */
        default:
            if ((cmd & 0xf0) == 0x10) { /* RECALIBRATE */
                ide_cmd_done(d);
                return;
            }
        }
    }
    ide_cmd_abort(d, ATA_ER_ABRT);
}

/* Default CHS translation: 16 heads, 63 sectors, at most 16383 cylinders. */
void ata_geometry(struct ide_drive *d)
{
    uint64_t cyls = d->sectors / (16 * 63);
    d->heads = 16;
    d->secs = 63;
    d->cyls = (unsigned)(cyls > 16383 ? 16383 : cyls < 1 ? 1 : cyls);
    d->cur_heads = d->heads;
    d->cur_secs = d->secs;
}
