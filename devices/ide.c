/*
 * Intel 82371SB PIIX3 IDE function (8086:7010, programming interface 0x80:
 * both channels in compatibility mode, bus master capable) with ATA disks.
 * Channels: command block 0x1F0-0x1F7 / 0x170-0x177, control block 0x3F6 /
 * 0x376 (alternate status, device control with nIEN, SRST and HOB), IRQ 14
 * / 15. Bus master IDE (BAR4, 8 bytes per channel): BMICx command (start
 * bit 0, read/write bit 3), BMISx status (active 0, error 1 and interrupt
 * 2 written 1 to clear, drive DMA capable 5-6), BMIDTPx PRD table pointer;
 * PRD entries are {address, byte count (0 = 64 KiB), EOT bit 31}.
 *
 * ATA command set (ATA/ATAPI-7 subset): IDENTIFY DEVICE, READ/WRITE SECTORS
 * (EXT), READ/WRITE MULTIPLE (EXT), READ/WRITE DMA (EXT), READ VERIFY
 * SECTORS (EXT), SET FEATURES, SET MULTIPLE MODE, FLUSH CACHE (EXT),
 * INITIALIZE DEVICE PARAMETERS, RECALIBRATE, SEEK, EXECUTE DEVICE
 * DIAGNOSTIC, power management no-ops, CHECK POWER MODE; CHS, LBA28 and
 * LBA48 addressing. Unsupported commands end with ERR and ABRT; a failed
 * read ends with UNC and a failed write with ABRT, at the failing sector.
 * ATAPI drives are in atapi.c.
 *
 * Disk I/O is synchronous in the machine thread: a command's blockdev
 * calls run from the port write that issued it (PIO) or that started the
 * bus master (DMA). An asynchronous version would submit in ata_pio_read_next,
 * ata_pio_write_end and ata_dma_rw, keep BSY set, and complete from the
 * machine loop.
 */
#include "devices/ide.h"

#include <stdlib.h>
#include <string.h>

#include "devices/ide_drive.h"
#include "devices/trace.h"

#define IDE_CTRL_NIEN 0x02
#define IDE_CTRL_SRST 0x04
#define IDE_CTRL_HOB 0x80
#define IDE_DH_LBA 0x40
#define IDE_DH_DEV 0x10
#define IDE_DH_ALWAYS 0xa0

#define BM_CMD_START 0x01
#define BM_CMD_WRITE_MEM 0x08
#define BM_ST_ACTIVE 0x01
#define BM_ST_ERROR 0x02
#define BM_ST_INT 0x04
#define BM_ST_DMA_CAP 0x60

#define IDE_MAX_MULT 16

struct ide {
    struct pci_device pci;
    struct bus *bus;
    struct ide_channel ch[2];
};

static const uint16_t ide_cmd_base[2] = {0x1f0, 0x170};
static const uint16_t ide_ctl_base[2] = {0x3f6, 0x376};

static struct ide_drive *cur_drive(struct ide_channel *ch)
{
    return &ch->drive[ch->cur];
}

/* ---- interrupts ---- */

static void irq_update(struct ide_channel *ch)
{
    bool level = ch->irq_pending && !(ch->ctrl & IDE_CTRL_NIEN);
    if (level != ch->irq_level) {
        ch->irq_level = level;
        irq_set(ch->irq, level);
    }
}

void ide_raise_irq(struct ide_channel *ch)
{
    ch->irq_pending = true;
    ch->bm_status |= BM_ST_INT;
    irq_update(ch);
}

static void irq_clear(struct ide_channel *ch)
{
    ch->irq_pending = false;
    irq_update(ch);
}

/* ---- helpers shared with atapi.c ---- */

/* ATA strings: space padded, two characters per word with the first in the high byte. */
void ide_padstr(uint8_t *dst, const char *src, unsigned len, bool swap)
{
    size_t n = strlen(src);
    for (unsigned i = 0; i < len; i++)
        dst[swap ? i ^ 1 : i] = i < n ? (uint8_t)src[i] : ' ';
}

void ide_pio_in(struct ide_drive *d, unsigned start, unsigned len, void (*end_fn)(struct ide_drive *d))
{
    d->xfer = XFER_PIO_IN;
    d->pos = start;
    d->end = start + len;
    d->end_fn = end_fn;
    d->status = ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ;
}

void ide_pio_out(struct ide_drive *d, unsigned len, void (*end_fn)(struct ide_drive *d))
{
    d->xfer = XFER_PIO_OUT;
    d->pos = 0;
    d->end = len;
    d->end_fn = end_fn;
    d->status = ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ;
}

static void cmd_done(struct ide_drive *d)
{
    d->xfer = XFER_NONE;
    d->end_fn = NULL;
    d->dma_fn = NULL;
    d->status = ATA_SR_DRDY | ATA_SR_DSC;
    ide_raise_irq(d->ch);
}

static void cmd_abort(struct ide_drive *d, uint8_t error)
{
    d->xfer = XFER_NONE;
    d->end_fn = NULL;
    d->dma_fn = NULL;
    d->error = error;
    d->status = ATA_SR_DRDY | ATA_SR_ERR;
    ide_raise_irq(d->ch);
    if (trace_on(TRACE_IDE))
        trace_printf(TRACE_IDE, "ide%d.%d: command aborted, error 0x%02x\n", d->ch->index,
                     (int)(d - d->ch->drive), error);
}

static void set_signature(struct ide_drive *d)
{
    d->nsector = 1;
    d->sector = 1;
    d->lcyl = d->kind == IDE_CDROM ? 0x14 : 0;
    d->hcyl = d->kind == IDE_CDROM ? 0xeb : 0;
    d->select &= IDE_DH_DEV | IDE_DH_ALWAYS;
}

/* ---- bus master DMA ---- */

void ide_bm_begin(struct ide_channel *ch)
{
    ch->prd_next = ch->bm_prd;
    ch->prd_left = 0;
    ch->prd_eot = false;
}

static int prd_load(struct ide_channel *ch)
{
    uint8_t prd[8];
    if (pci_dma_read(&ch->ide->pci, ch->prd_next, prd, 8) < 0)
        return -1;
    ch->prd_addr = (uint32_t)(prd[0] | prd[1] << 8 | prd[2] << 16 | (uint32_t)prd[3] << 24) & ~1u;
    ch->prd_left = (uint32_t)(prd[4] | prd[5] << 8) & ~1u;
    if (ch->prd_left == 0)
        ch->prd_left = 0x10000;
    ch->prd_eot = prd[7] & 0x80;
    ch->prd_next += 8;
    return 0;
}

long ide_bm_transfer(struct ide_channel *ch, uint8_t *buf, unsigned len, bool to_memory)
{
    struct pci_device *pci = &ch->ide->pci;
    unsigned done = 0;
    while (done < len) {
        if (ch->prd_left == 0) {
            if (ch->prd_eot)
                break;
            if (prd_load(ch) < 0)
                return -1;
        }
        unsigned n = len - done < ch->prd_left ? len - done : ch->prd_left;
        int r = to_memory ? pci_dma_write(pci, ch->prd_addr, buf + done, n)
                          : pci_dma_read(pci, ch->prd_addr, buf + done, n);
        if (r < 0)
            return -1;
        ch->prd_addr += n;
        ch->prd_left -= n;
        done += n;
    }
    return done;
}

void ide_bm_finish(struct ide_channel *ch, bool dma_error)
{
    if (dma_error)
        ch->bm_status |= BM_ST_ERROR;
    if (dma_error || (ch->prd_left == 0 && ch->prd_eot))
        ch->bm_status &= (uint8_t)~BM_ST_ACTIVE;
}

void ide_start_dma(struct ide_drive *d, void (*dma_fn)(struct ide_drive *d))
{
    d->xfer = XFER_DMA;
    d->dma_fn = dma_fn;
    d->status = ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ;
    if (d->ch->bm_cmd & BM_CMD_START)
        dma_fn(d);
}

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
        cmd_abort(d, ATA_ER_IDNF);
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
        cmd_abort(d, ATA_ER_UNC);
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

static void ata_pio_write_end(struct ide_drive *d)
{
    unsigned n = d->end / 512;
    int r = blockdev_write(d->bd, d->lba, n, d->buf);
    if (r < 0) {
        if (trace_on(TRACE_IDE))
            trace_printf(TRACE_IDE, "ide%d: write of %u sectors at %llu failed (%d)\n", d->ch->index, n,
                         (unsigned long long)d->lba, r);
        ata_set_lba(d, d->lba);
        cmd_abort(d, ATA_ER_ABRT);
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
    cmd_done(d);
}

static void ata_rw_pio(struct ide_drive *d, bool write, bool lba48, bool multiple)
{
    if (multiple && !d->mult_sectors) {
        cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    if (!ata_range(d, lba48))
        return;
    d->block = multiple ? d->mult_sectors : 1;
    d->is_write = write;
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
            cmd_abort(d, ATA_ER_UNC);
            return;
        }
        moved = ide_bm_transfer(ch, d->buf, n * 512, !d->is_write);
        if (moved != (long)n * 512) {
            ide_bm_finish(ch, moved < 0);
            ata_set_lba(d, d->lba);
            cmd_abort(d, ATA_ER_ABRT);
            return;
        }
        if (d->is_write && blockdev_write(d->bd, d->lba, n, d->buf) < 0) {
            ata_set_lba(d, d->lba);
            cmd_abort(d, ATA_ER_ABRT);
            return;
        }
        d->lba += n;
        d->remaining -= n;
    }
    ata_set_lba(d, d->lba - 1);
    ide_bm_finish(ch, false);
    cmd_done(d);
}

static void ata_rw_dma(struct ide_drive *d, bool write, bool lba48)
{
    if (!ata_range(d, lba48))
        return;
    d->is_write = write;
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
    ide_padstr((uint8_t *)&id[10], "VMPLAY0000000001", 20, true);
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
    put16(id, 84, 0x4000);
    put16(id, 85, d->write_cache ? 1 << 5 : 0);
    put16(id, 86, 1 << 13 | 1 << 12 | 1 << 10);
    put16(id, 87, 0x4000);
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
            set_signature(d);
        cmd_abort(d, ATA_ER_ABRT);
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
    case 0x82: /* disable write cache */
        d->write_cache = d->feature == 0x02;
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
        cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    cmd_done(d);
}

static void cmd_set_multiple(struct ide_drive *d)
{
    unsigned n = d->nsector;
    if (n > IDE_MAX_MULT || (n & (n - 1))) {
        cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    d->mult_sectors = n;
    cmd_done(d);
}

static void cmd_flush(struct ide_drive *d)
{
    int r = blockdev_flush(d->bd);
    if (r < 0) {
        if (trace_on(TRACE_IDE))
            trace_printf(TRACE_IDE, "ide%d: flush failed (%d)\n", d->ch->index, r);
        cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    cmd_done(d);
}

static void cmd_read_verify(struct ide_drive *d, bool lba48)
{
    if (!ata_range(d, lba48))
        return;
    ata_set_lba(d, d->lba + d->remaining - 1);
    cmd_done(d);
}

/* INITIALIZE DEVICE PARAMETERS: sectors per track in the count, heads - 1 in device/head. */
static void cmd_init_params(struct ide_drive *d)
{
    if (d->nsector == 0) {
        cmd_abort(d, ATA_ER_ABRT);
        return;
    }
    d->cur_secs = d->nsector;
    d->cur_heads = (d->select & 0x0f) + 1u;
    cmd_done(d);
}

static void cmd_diagnostic(struct ide_channel *ch)
{
    for (int i = 0; i < 2; i++) {
        struct ide_drive *d = &ch->drive[i];
        if (d->kind == IDE_NONE)
            continue;
        set_signature(d);
        d->error = 0x01; /* device 0 passed, device 1 passed or not present */
        d->status = d->kind == IDE_CDROM ? 0 : ATA_SR_DRDY | ATA_SR_DSC;
        d->xfer = XFER_NONE;
    }
    ide_raise_irq(ch);
}

/* Commands for ATA disks; ATAPI drives accept only the ones marked. */
static void ata_command(struct ide_drive *d, uint8_t cmd)
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
            set_signature(d);
            d->status = 0;
            d->error = 0x01;
            return;
        }
        break;
    case 0xef: cmd_set_features(d); return;
    case 0xe5: /* CHECK POWER MODE: active */
        d->nsector = 0xff;
        cmd_done(d);
        return;
    case 0xe0: case 0xe1: case 0xe2: case 0xe3: case 0x94: case 0x95: case 0x96: case 0x97:
        cmd_done(d); /* standby / idle: nothing spins here */
        return;
    case 0x00: /* NOP ends with ABRT by definition */
        break;
    default:
        if (cd) {
            set_signature(d);
            break;
        }
        switch (cmd) {
        case 0x20: case 0x21: ata_rw_pio(d, false, false, false); return;
        case 0x24: ata_rw_pio(d, false, true, false); return;
        case 0x30: case 0x31: ata_rw_pio(d, true, false, false); return;
        case 0x34: ata_rw_pio(d, true, true, false); return;
        case 0xc4: ata_rw_pio(d, false, false, true); return;
        case 0x29: ata_rw_pio(d, false, true, true); return;
        case 0xc5: ata_rw_pio(d, true, false, true); return;
        case 0x39: ata_rw_pio(d, true, true, true); return;
        case 0xc8: case 0xc9: ata_rw_dma(d, false, false); return;
        case 0x25: ata_rw_dma(d, false, true); return;
        case 0xca: case 0xcb: ata_rw_dma(d, true, false); return;
        case 0x35: ata_rw_dma(d, true, true); return;
        case 0x40: case 0x41: cmd_read_verify(d, false); return;
        case 0x42: cmd_read_verify(d, true); return;
        case 0xc6: cmd_set_multiple(d); return;
        case 0xe7: case 0xea: cmd_flush(d); return;
        case 0x91: cmd_init_params(d); return;
        case 0x70: cmd_done(d); return; /* SEEK */
        default:
            if ((cmd & 0xf0) == 0x10) { /* RECALIBRATE */
                cmd_done(d);
                return;
            }
        }
    }
    cmd_abort(d, ATA_ER_ABRT);
}

/* ---- command block registers ---- */

static bool channel_empty(const struct ide_channel *ch)
{
    return ch->drive[0].kind == IDE_NONE && ch->drive[1].kind == IDE_NONE;
}

static uint8_t status_read(struct ide_channel *ch)
{
    struct ide_drive *d = cur_drive(ch);
    if (channel_empty(ch) || d->kind == IDE_NONE)
        return 0;
    return d->status;
}

static uint8_t reg_read(struct ide_channel *ch, unsigned off)
{
    struct ide_drive *d = cur_drive(ch);
    bool hob = ch->ctrl & IDE_CTRL_HOB;
    if (channel_empty(ch) || (d->kind == IDE_NONE && off != 6))
        return 0;
    switch (off) {
    case 1: return d->error;
    case 2: return hob ? d->hob_nsector : d->nsector;
    case 3: return hob ? d->hob_sector : d->sector;
    case 4: return hob ? d->hob_lcyl : d->lcyl;
    case 5: return hob ? d->hob_hcyl : d->hcyl;
    case 6: return d->select;
    default:
        irq_clear(ch);
        return d->status;
    }
}

#define SHIFT_REG(d, reg, v) ((d)->hob_##reg = (d)->reg, (d)->reg = (v))

static void reg_write(struct ide_channel *ch, unsigned off, uint8_t v)
{
    if (off != 7)
        ch->ctrl &= (uint8_t)~IDE_CTRL_HOB;
    for (int i = 0; i < 2 && off != 7; i++) {
        struct ide_drive *d = &ch->drive[i];
        switch (off) {
        case 1: SHIFT_REG(d, feature, v); break;
        case 2: SHIFT_REG(d, nsector, v); break;
        case 3: SHIFT_REG(d, sector, v); break;
        case 4: SHIFT_REG(d, lcyl, v); break;
        case 5: SHIFT_REG(d, hcyl, v); break;
        case 6: d->select = v | IDE_DH_ALWAYS; break;
        }
    }
    if (off == 6)
        ch->cur = (v & IDE_DH_DEV) ? 1 : 0;
    if (off != 7)
        return;
    struct ide_drive *d = cur_drive(ch);
    if (d->kind == IDE_NONE || (ch->ctrl & IDE_CTRL_SRST))
        return;
    if (trace_on(TRACE_IDE))
        trace_printf(TRACE_IDE, "ide%d.%d: command 0x%02x\n", ch->index, ch->cur, v);
    irq_clear(ch);
    ata_command(d, v);
}

static uint32_t data_read(struct ide_channel *ch, unsigned size)
{
    struct ide_drive *d = cur_drive(ch);
    uint32_t v = 0;
    if (d->xfer != XFER_PIO_IN)
        return size == 4 ? 0xffffffffu : 0xffff;
    for (unsigned i = 0; i < size && d->pos < d->end; i++)
        v |= (uint32_t)d->buf[d->pos++] << (8 * i);
    if (d->pos >= d->end) {
        void (*fn)(struct ide_drive *) = d->end_fn;
        d->end_fn = NULL;
        d->xfer = XFER_NONE;
        d->status &= (uint8_t)~ATA_SR_DRQ;
        if (fn)
            fn(d);
    }
    return v;
}

static void data_write(struct ide_channel *ch, uint32_t v, unsigned size)
{
    struct ide_drive *d = cur_drive(ch);
    if (d->xfer != XFER_PIO_OUT)
        return;
    for (unsigned i = 0; i < size && d->pos < d->end; i++)
        d->buf[d->pos++] = (uint8_t)(v >> (8 * i));
    if (d->pos >= d->end) {
        void (*fn)(struct ide_drive *) = d->end_fn;
        d->end_fn = NULL;
        d->xfer = XFER_NONE;
        d->status &= (uint8_t)~ATA_SR_DRQ;
        if (fn)
            fn(d);
    }
}

static uint64_t cmd_block_read(void *opaque, uint64_t off, unsigned size)
{
    struct ide_channel *ch = opaque;
    if (off == 0)
        return data_read(ch, size == 1 ? 2 : size);
    uint64_t v = 0;
    for (unsigned i = 0; i < size && off + i < 8; i++)
        v |= (uint64_t)reg_read(ch, (unsigned)off + i) << (8 * i);
    return v;
}

static void cmd_block_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct ide_channel *ch = opaque;
    if (off == 0) {
        data_write(ch, (uint32_t)v, size == 1 ? 2 : size);
        return;
    }
    for (unsigned i = 0; i < size && off + i < 8; i++)
        reg_write(ch, (unsigned)off + i, (uint8_t)(v >> (8 * i)));
}

static const struct bus_ops cmd_block_ops = {
    .read = cmd_block_read, .write = cmd_block_write, .min_size = 1, .max_size = 4};

/* ---- control block: alternate status / device control ---- */

static void drive_reset(struct ide_drive *d, bool srst)
{
    d->xfer = XFER_NONE;
    d->end_fn = NULL;
    d->dma_fn = NULL;
    d->error = 0x01;
    d->select = IDE_DH_ALWAYS;
    d->feature = d->hob_feature = 0;
    d->hob_nsector = d->hob_sector = d->hob_lcyl = d->hob_hcyl = 0;
    set_signature(d);
    /* After SRST an ATAPI device clears DRDY (ATA/ATAPI-7 9.12). */
    d->status = srst && d->kind == IDE_CDROM ? 0 : ATA_SR_DRDY | ATA_SR_DSC;
    if (!srst) {
        d->cur_heads = d->heads;
        d->cur_secs = d->secs;
        d->mult_sectors = 0;
        d->write_cache = true;
        d->mdma_mode = 2;
        d->udma_mode = 0xff;
    }
    if (d->kind == IDE_CDROM)
        atapi_reset(d);
}

static uint64_t ctl_block_read(void *opaque, uint64_t off, unsigned size)
{
    return status_read(opaque);
}

static void ctl_block_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct ide_channel *ch = opaque;
    uint8_t old = ch->ctrl;
    ch->ctrl = (uint8_t)v;
    if ((v & IDE_CTRL_SRST) && !(old & IDE_CTRL_SRST)) {
        for (int i = 0; i < 2; i++) {
            ch->drive[i].xfer = XFER_NONE;
            ch->drive[i].status = ATA_SR_BSY;
        }
        ch->irq_pending = false;
    } else if (!(v & IDE_CTRL_SRST) && (old & IDE_CTRL_SRST)) {
        for (int i = 0; i < 2; i++)
            drive_reset(&ch->drive[i], true);
        ch->cur = 0;
    }
    irq_update(ch);
}

static const struct bus_ops ctl_block_ops = {
    .read = ctl_block_read, .write = ctl_block_write, .min_size = 1, .max_size = 1};

/* ---- bus master registers (BAR4) ---- */

static void bm_cmd_write(struct ide_channel *ch, uint8_t v)
{
    uint8_t old = ch->bm_cmd;
    ch->bm_cmd = v & (BM_CMD_START | BM_CMD_WRITE_MEM);
    if (!(v & BM_CMD_START)) {
        ch->bm_status &= (uint8_t)~BM_ST_ACTIVE;
        return;
    }
    if (old & BM_CMD_START)
        return;
    ch->bm_status |= BM_ST_ACTIVE;
    struct ide_drive *d = cur_drive(ch);
    if (d->xfer == XFER_DMA && d->dma_fn)
        d->dma_fn(d);
}

static uint8_t bm_read_byte(struct ide_channel *ch, unsigned off)
{
    switch (off) {
    case 0: return ch->bm_cmd;
    case 2: return ch->bm_status;
    case 4: case 5: case 6: case 7: return (uint8_t)(ch->bm_prd >> (8 * (off - 4)));
    default: return 0;
    }
}

static void bm_write_byte(struct ide_channel *ch, unsigned off, uint8_t v)
{
    switch (off) {
    case 0:
        bm_cmd_write(ch, v);
        break;
    case 2:
        ch->bm_status = (uint8_t)((ch->bm_status & ~(BM_ST_DMA_CAP | (v & (BM_ST_ERROR | BM_ST_INT)))) |
                                  (v & BM_ST_DMA_CAP));
        break;
    case 4: case 5: case 6: case 7: {
        unsigned sh = 8 * (off - 4);
        ch->bm_prd = ((ch->bm_prd & ~(0xffu << sh)) | (uint32_t)v << sh) & ~3u;
        break;
    }
    }
}

static uint64_t bm_read(void *opaque, uint64_t off, unsigned size)
{
    struct ide *s = opaque;
    uint64_t v = 0;
    for (unsigned i = 0; i < size && off + i < 16; i++)
        v |= (uint64_t)bm_read_byte(&s->ch[(off + i) >> 3], (unsigned)(off + i) & 7) << (8 * i);
    return v;
}

static void bm_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct ide *s = opaque;
    for (unsigned i = 0; i < size && off + i < 16; i++)
        bm_write_byte(&s->ch[(off + i) >> 3], (unsigned)(off + i) & 7, (uint8_t)(v >> (8 * i)));
}

static const struct bus_ops bm_ops = {.read = bm_read, .write = bm_write, .min_size = 1, .max_size = 4};

/* ---- object ---- */

static void channel_reset(struct ide_channel *ch)
{
    ch->ctrl = 0;
    ch->cur = 0;
    ch->irq_pending = false;
    ch->bm_cmd = 0;
    ch->bm_status = 0;
    ch->bm_prd = 0;
    for (int i = 0; i < 2; i++) {
        struct ide_drive *d = &ch->drive[i];
        drive_reset(d, false);
        if (d->kind != IDE_NONE)
            ch->bm_status |= (uint8_t)(0x20 << i); /* drive i DMA capable */
        /* Power-on with a disc in the tray: the first access reports a medium change. */
        d->unit_attention = d->media_event = d->kind == IDE_CDROM && d->bd;
        d->locked = false;
    }
    irq_update(ch);
}

void ide_reset(struct ide *s)
{
    pci_device_reset(&s->pci);
    for (int c = 0; c < 2; c++)
        channel_reset(&s->ch[c]);
}

static void unmap_ports(struct ide *s, int upto)
{
    for (int c = 0; c < upto; c++) {
        bus_unmap_pio(s->bus, ide_cmd_base[c]);
        bus_unmap_pio(s->bus, ide_ctl_base[c]);
    }
}

struct ide *ide_new(struct bus *bus, struct pci_bus *pci, int devfn, struct irq irq14, struct irq irq15)
{
    struct ide *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->bus = bus;
    pci_device_init(&s->pci, "piix3-ide", 0x8086, 0x7010, 0x010180, 0x00, 0);
    pci_device_set_bar(&s->pci, 4, PCI_BAR_IO, 16, &bm_ops, s, NULL);
    s->pci.opaque = s;
    for (int c = 0; c < 2; c++) {
        struct ide_channel *ch = &s->ch[c];
        ch->ide = s;
        ch->index = c;
        ch->irq = c ? irq15 : irq14;
        for (int i = 0; i < 2; i++) {
            ch->drive[i].ch = ch;
            ch->drive[i].buf = calloc(1, IDE_BUF_SIZE);
            if (!ch->drive[i].buf) {
                ide_free(s);
                return NULL;
            }
        }
    }
    for (int c = 0; c < 2; c++) {
        if (bus_map_pio(bus, ide_cmd_base[c], 8, &cmd_block_ops, &s->ch[c], "ide") < 0 ||
            bus_map_pio(bus, ide_ctl_base[c], 1, &ctl_block_ops, &s->ch[c], "ide-ctl") < 0) {
            bus_unmap_pio(bus, ide_cmd_base[c]);
            unmap_ports(s, c);
            goto fail;
        }
    }
    if (pci_register(pci, &s->pci, devfn) < 0) {
        unmap_ports(s, 2);
        goto fail;
    }
    ide_reset(s);
    return s;
fail:
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 2; i++)
            free(s->ch[c].drive[i].buf);
    free(s);
    return NULL;
}

void ide_free(struct ide *s)
{
    if (!s)
        return;
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 2; i++)
            free(s->ch[c].drive[i].buf);
    free(s);
}

/* Default CHS translation: 16 heads, 63 sectors, at most 16383 cylinders. */
static void disk_geometry(struct ide_drive *d)
{
    uint64_t cyls = d->sectors / (16 * 63);
    d->heads = 16;
    d->secs = 63;
    d->cyls = (unsigned)(cyls > 16383 ? 16383 : cyls < 1 ? 1 : cyls);
    d->cur_heads = d->heads;
    d->cur_secs = d->secs;
}

int ide_attach(struct ide *s, int channel, int unit, enum ide_drive_kind kind, struct blockdev *bd,
               struct error *err)
{
    if (channel < 0 || channel > 1 || unit < 0 || unit > 1)
        return error_set(err, EX_SOFTWARE, "ide%d:%d: no such IDE position", channel, unit);
    if (kind == IDE_DISK && !bd)
        return error_set(err, EX_SOFTWARE, "ide%d:%d: a disk needs an image", channel, unit);
    struct ide_drive *d = &s->ch[channel].drive[unit];
    d->kind = kind;
    d->bd = bd;
    d->sectors = kind == IDE_DISK ? bd->sectors : 0;
    if (kind == IDE_DISK)
        disk_geometry(d);
    channel_reset(&s->ch[channel]);
    return 0;
}
