/*
 * Intel 82371SB PIIX3 IDE function (8086:7010, programming interface 0x80:
 * both channels in compatibility mode, bus master capable): the controller.
 * Channels: command block 0x1F0-0x1F7 / 0x170-0x177, control block 0x3F6 /
 * 0x376 (alternate status, device control with nIEN, SRST and HOB), IRQ 14
 * / 15; two drives per channel share the task file writes, reads come from
 * the selected drive, an absent drive reads 0. Bus master IDE (BAR4, 8
 * bytes per channel): BMICx command (start bit 0, read/write bit 3),
 * BMISx status (active 0, error 1 and interrupt 2 written 1 to clear, drive
 * DMA capable 5-6), BMIDTPx PRD table pointer; PRD entries are {address,
 * byte count (0 = 64 KiB), EOT bit 31}. Data moves through PIO windows of
 * the drive's buffer or through the PRD walk. The drives are the ATA device
 * core's (devices/ata_dev.h: the ATA command set in ata.c, the ATAPI packet
 * protocol in atapi.c over the SCSI layer's MMC commands); this file is their
 * transport.
 *
 * Disk I/O is synchronous in the machine thread: a command's blockdev
 * calls run from the port write that issued it (PIO) or that started the
 * bus master (DMA). An asynchronous version would submit in ata.c's
 * ata_pio_read_next, ata_pio_write_end and ata_dma_rw (and atapi_load),
 * keep BSY set, and complete from the machine loop.
 */
#include "devices/ide.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/ide_drive.h"
#include "devices/trace.h"

#define IDE_CTRL_NIEN 0x02
#define IDE_CTRL_SRST 0x04
#define IDE_CTRL_HOB 0x80
#define IDE_DH_DEV 0x10
#define IDE_DH_ALWAYS 0xa0

#define BM_CMD_START 0x01
#define BM_CMD_WRITE_MEM 0x08
#define BM_ST_ACTIVE 0x01
#define BM_ST_ERROR 0x02
#define BM_ST_INT 0x04
#define BM_ST_DMA_CAP 0x60

struct ide {
    struct pci_device pci;
    struct bus *bus;
    struct ide_channel ch[2];
};

static const uint16_t ide_cmd_base[2] = {0x1f0, 0x170};
static const uint16_t ide_ctl_base[2] = {0x3f6, 0x376};

static struct ata_dev *cur_drive(struct ide_channel *ch)
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

static void ide_raise_irq(struct ide_channel *ch)
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

/* ---- bus master DMA ---- */

static void ide_bm_begin(struct ide_channel *ch)
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

static long ide_bm_transfer(struct ide_channel *ch, uint8_t *buf, unsigned len, bool to_memory)
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

static void ide_bm_finish(struct ide_channel *ch, bool dma_error)
{
    if (dma_error)
        ch->bm_status |= BM_ST_ERROR;
    if (dma_error || (ch->prd_left == 0 && ch->prd_eot))
        ch->bm_status &= (uint8_t)~BM_ST_ACTIVE;
}

/* ---- the ATA device core's transport ---- */

static void drive_irq(struct ata_dev *d)
{
    ide_raise_irq(d->opaque);
}

static void drive_start_dma(struct ata_dev *d)
{
    struct ide_channel *ch = d->opaque;
    if (ch->bm_cmd & BM_CMD_START)
        d->dma_fn(d);
}

static void drive_dma_begin(struct ata_dev *d)
{
    ide_bm_begin(d->opaque);
}

static long drive_dma_move(struct ata_dev *d, uint8_t *buf, unsigned len, bool to_memory)
{
    return ide_bm_transfer(d->opaque, buf, len, to_memory);
}

static void drive_dma_end(struct ata_dev *d, bool dma_error)
{
    ide_bm_finish(d->opaque, dma_error);
}

/* EXECUTE DEVICE DIAGNOSTIC reaches both drives of the channel. */
static void drive_diagnostic(struct ata_dev *d)
{
    struct ide_channel *ch = d->opaque;
    for (int i = 0; i < 2; i++) {
        struct ata_dev *e = &ch->drive[i];
        if (e->kind == IDE_NONE)
            continue;
        ata_set_signature(e);
        e->error = 0x01; /* device 0 passed, device 1 passed or not present */
        e->status = e->kind == IDE_CDROM ? 0 : ATA_SR_DRDY | ATA_SR_DSC;
        e->xfer = XFER_NONE;
    }
    ide_raise_irq(ch);
}

static const struct ata_transport ide_transport = {
    .irq = drive_irq,
    .start_dma = drive_start_dma,
    .dma_begin = drive_dma_begin,
    .dma_move = drive_dma_move,
    .dma_end = drive_dma_end,
    .diagnostic = drive_diagnostic,
};

/* ---- command block registers ---- */

static bool channel_empty(const struct ide_channel *ch)
{
    return ch->drive[0].kind == IDE_NONE && ch->drive[1].kind == IDE_NONE;
}

static uint8_t status_read(struct ide_channel *ch)
{
    struct ata_dev *d = cur_drive(ch);
    if (channel_empty(ch) || d->kind == IDE_NONE)
        return 0;
    return d->status;
}

static uint8_t reg_read(struct ide_channel *ch, unsigned off)
{
    struct ata_dev *d = cur_drive(ch);
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
        struct ata_dev *d = &ch->drive[i];
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
    struct ata_dev *d = cur_drive(ch);
    if (d->kind == IDE_NONE || (ch->ctrl & IDE_CTRL_SRST))
        return;
    if (trace_on(TRACE_IDE))
        trace_printf(TRACE_IDE, "ide%d.%d: command 0x%02x", ch->index, ch->cur, v);
    irq_clear(ch);
    ata_command(d, v);
}

static uint32_t data_read(struct ide_channel *ch, unsigned size)
{
    struct ata_dev *d = cur_drive(ch);
    uint32_t v = 0;
    if (d->xfer != XFER_PIO_IN)
        return size == 4 ? 0xffffffffu : 0xffff;
    for (unsigned i = 0; i < size && d->pos < d->end; i++)
        v |= (uint32_t)d->buf[d->pos++] << (8 * i);
    if (d->pos >= d->end)
        ata_pio_window_done(d);
    return v;
}

static void data_write(struct ide_channel *ch, uint32_t v, unsigned size)
{
    struct ata_dev *d = cur_drive(ch);
    if (d->xfer != XFER_PIO_OUT)
        return;
    for (unsigned i = 0; i < size && d->pos < d->end; i++)
        d->buf[d->pos++] = (uint8_t)(v >> (8 * i));
    if (d->pos >= d->end)
        ata_pio_window_done(d);
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
            ata_dev_reset(&ch->drive[i], true);
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
    struct ata_dev *d = cur_drive(ch);
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
        struct ata_dev *d = &ch->drive[i];
        ata_dev_reset(d, false);
        if (d->kind != IDE_NONE)
            ch->bm_status |= (uint8_t)(0x20 << i); /* drive i DMA capable */
        /* Power-on with a disc in the tray: the first access reports a medium change. */
        atapi_power_on(d);
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
    pci_set_qemu_subsystem(&s->pci);
    for (int c = 0; c < 2; c++) {
        struct ide_channel *ch = &s->ch[c];
        ch->ide = s;
        ch->index = c;
        ch->irq = c ? irq15 : irq14;
        for (int i = 0; i < 2; i++) {
            struct ata_dev *d = &ch->drive[i];
            d->t = &ide_transport;
            d->opaque = ch;
            d->ident = &ata_ident_ide;
            snprintf(d->name, sizeof d->name, "ide%d.%d", c, i);
            snprintf(d->unit_id, sizeof d->unit_id, "%d%d", c, i);
            ch->drive[i].buf = calloc(1, IDE_BUF_SIZE);
            if (!ch->drive[i].buf) {
                ide_free(s);
                return NULL;
            }
        }
    }
    for (int c = 0; c < 2; c++) {
        if (bus_map_pio(bus, ide_cmd_base[c], 8, &cmd_block_ops, &s->ch[c], "ide") < 0) {
            unmap_ports(s, c);
            goto fail;
        }
        if (bus_map_pio(bus, ide_ctl_base[c], 1, &ctl_block_ops, &s->ch[c], "ide-ctl") < 0) {
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
        for (int i = 0; i < 2; i++) {
            ata_dev_free(&s->ch[c].drive[i]);
            free(s->ch[c].drive[i].buf);
        }
    free(s);
}

int ide_attach(struct ide *s, int channel, int unit, enum ide_drive_kind kind, struct blockdev *bd,
               struct error *err)
{
    if (channel < 0 || channel > 1 || unit < 0 || unit > 1)
        return error_set(err, EX_SOFTWARE, "ide%d:%d: no such IDE position", channel, unit);
    if (kind == IDE_DISK && !bd)
        return error_set(err, EX_SOFTWARE, "ide%d:%d: a disk needs an image", channel, unit);
    struct ata_dev *d = &s->ch[channel].drive[unit];
    if (ata_dev_attach(d, kind, bd) < 0)
        return error_set(err, EX_OSERR, "ide%d:%d: out of memory", channel, unit);
    channel_reset(&s->ch[channel]);
    return 0;
}
