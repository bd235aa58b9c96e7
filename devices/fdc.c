/*
 * Intel 82077AA floppy controller (see fdc.h), the subset SeaBIOS and
 * Linux's floppy driver use. Registers: SRA/SRB (read as PS/2 model 30
 * idle values), DOR (drive select, nRESET, DMA gate, motors), TDR, MSR (RQM,
 * DIO, NDMA, CB) and DSR, the FIFO, DIR (disk change, bit 7) and CCR.
 * Commands: SPECIFY, SENSE DRIVE STATUS, RECALIBRATE, SENSE INTERRUPT STATUS,
 * SEEK, READ DATA and WRITE DATA (MT, MFM, SK accepted; 512-byte sectors),
 * READ ID, VERSION (0x90), CONFIGURE, LOCK/UNLOCK, DUMPREG, PERPENDICULAR
 * MODE; anything else is invalid (ST0 0x80). A reset (DOR bit 2 low then
 * high, or DSR bit 7) raises IRQ 6 and leaves four polling interrupts to
 * sense. Data moves through DMA channel 2 until the terminal count, one
 * sector at a time, synchronously with the last parameter byte; the disk
 * change line is set at power-on and insertion and cleared by a step with
 * a disk in the drive.
 */
#include "devices/fdc.h"

#include <stdlib.h>
#include <string.h>

#include "devices/trace.h"

#define DOR_NRESET 0x04
#define DOR_DMA 0x08
#define MSR_RQM 0x80
#define MSR_DIO 0x40
#define MSR_CB 0x10
#define ST0_ABNORMAL 0x40
#define ST0_INVALID 0x80
#define ST0_SEEK_END 0x20
#define ST1_MA 0x01 /* missing address mark */
#define ST1_NW 0x02 /* not writable */
#define ST1_ND 0x04 /* no data */
#define ST1_EN 0x80 /* end of cylinder */
#define ST3_WP 0x40
#define ST3_RDY 0x20
#define ST3_T0 0x10
#define ST3_TS 0x08
#define FDC_DMA_CHANNEL 2

enum phase { PH_CMD, PH_PARAMS, PH_RESULT };

struct drive {
    struct blockdev *bd;
    uint8_t cyl, heads, spt, cyls;
    bool changed;
};

struct fdc {
    struct bus *bus;
    struct irq irq;
    struct dma8237 *dma;
    struct drive drv[2];
    uint8_t dor, tdr, dsr, ccr;
    enum phase phase;
    uint8_t cmd[10], ncmd, need;
    uint8_t res[10], nres, pos;
    bool irq_level;
    int sense_pending; /* polling interrupts left after a reset (4..0) */
    uint8_t sense_st0, sense_pcn[4];
    bool seek_pending[4];
    uint8_t specify[2], config, pretrk, perp;
    bool lock;
    uint8_t sector[512];
};

static const struct { uint32_t sectors; uint8_t cyls, heads, spt; } geometries[] = {
    {720, 40, 2, 9}, {1440, 80, 2, 9}, {2400, 80, 2, 15}, {2880, 80, 2, 18}, {5760, 80, 2, 36},
};

static void set_irq(struct fdc *s, bool level)
{
    if (level && !(s->dor & DOR_DMA))
        level = false;
    if (level != s->irq_level) {
        s->irq_level = level;
        irq_set(s->irq, level);
    }
}

void fdc_insert(struct fdc *s, int drive, struct blockdev *bd)
{
    struct drive *d = &s->drv[drive & 1];
    d->bd = bd;
    d->changed = true;
    d->heads = 2, d->spt = 18, d->cyls = 80;
    for (size_t i = 0; bd && i < sizeof geometries / sizeof geometries[0]; i++)
        if (geometries[i].sectors == bd->sectors) {
            d->cyls = geometries[i].cyls;
            d->heads = geometries[i].heads;
            d->spt = geometries[i].spt;
        }
}

static void controller_reset(struct fdc *s)
{
    s->phase = PH_CMD;
    s->ncmd = s->nres = s->pos = 0;
    memset(s->seek_pending, 0, sizeof s->seek_pending);
    if (!s->lock) {
        s->config = 0x20; /* FIFO disabled, implied seeks off */
        s->pretrk = 0;
    }
    s->perp = 0;
    s->sense_pending = 4;
    set_irq(s, true);
}

void fdc_reset(struct fdc *s)
{
    s->dor = DOR_NRESET | DOR_DMA;
    s->tdr = s->dsr = s->ccr = 0;
    s->lock = false;
    s->specify[0] = s->specify[1] = 0;
    for (int i = 0; i < 2; i++) {
        s->drv[i].cyl = 0;
        s->drv[i].changed = true;
    }
    s->irq_level = false;
    irq_set(s->irq, 0);
    controller_reset(s);
    s->sense_pending = 0;
    set_irq(s, false);
}

/* ---- command execution ---- */

static void result(struct fdc *s, const uint8_t *r, int n, bool irq)
{
    if (n)
        memcpy(s->res, r, (size_t)n);
    s->nres = (uint8_t)n;
    s->pos = 0;
    s->phase = n ? PH_RESULT : PH_CMD;
    if (irq)
        set_irq(s, true);
}

static struct drive *selected(struct fdc *s, uint8_t b)
{
    return &s->drv[b & 1];
}

static void seek_done(struct fdc *s, uint8_t b, uint8_t cyl)
{
    struct drive *d = selected(s, b);
    if (d->bd) /* a step with a disk in the drive clears the change line */
        d->changed = false;
    d->cyl = cyl;
    s->seek_pending[b & 3] = true;
    s->sense_st0 = (uint8_t)(ST0_SEEK_END | (b & 7));
    result(s, NULL, 0, true);
}

static void sense_interrupt(struct fdc *s)
{
    uint8_t r[2];
    if (s->sense_pending > 0) {
        int n = 4 - s->sense_pending--;
        r[0] = (uint8_t)(0xc0 | n);
        r[1] = n < 2 ? s->drv[n].cyl : 0;
    } else {
        int n = -1;
        for (int i = 0; i < 4 && n < 0; i++)
            if (s->seek_pending[i])
                n = i;
        if (n < 0) {
            r[0] = ST0_INVALID;
            set_irq(s, false);
            result(s, r, 1, false);
            return;
        }
        s->seek_pending[n] = false;
        r[0] = (uint8_t)(ST0_SEEK_END | n | (s->sense_st0 & 4));
        r[1] = n < 2 ? s->drv[n].cyl : 0;
    }
    set_irq(s, false);
    result(s, r, 2, false);
}

/* READ DATA / WRITE DATA: sectors from R on, MT continuing on head 1, until TC or EOT. */
static void read_write(struct fdc *s, bool write)
{
    uint8_t b = s->cmd[1], c = s->cmd[2], h = s->cmd[3], r = s->cmd[4], n = s->cmd[5], eot = s->cmd[6];
    bool mt = s->cmd[0] & 0x80;
    struct drive *d = selected(s, b);
    uint8_t st0 = (uint8_t)(b & 7), st1 = 0, st2 = 0;
    bool tc = false;
    if (!d->bd || n != 2 || c >= d->cyls || h >= d->heads || r == 0 || r > d->spt) {
        st0 |= ST0_ABNORMAL;
        st1 |= d->bd ? ST1_ND : ST1_MA;
    } else if (write && d->bd->read_only) {
        st0 |= ST0_ABNORMAL;
        st1 |= ST1_NW;
    } else {
        d->cyl = c;
        if (eot > d->spt)
            eot = d->spt;
        for (int guard = 0; !tc && guard < 2 * 36; guard++) {
            uint64_t lba = ((uint64_t)c * d->heads + h) * d->spt + (r - 1u);
            int rc = 0;
            size_t moved;
            if (write) {
                moved = dma8237_transfer(s->dma, FDC_DMA_CHANNEL, s->sector, 512, false, &tc);
                if (moved == 512)
                    rc = blockdev_write(d->bd, lba, 1, s->sector);
            } else {
                rc = blockdev_read(d->bd, lba, 1, s->sector);
                moved = rc < 0 ? 0 : dma8237_transfer(s->dma, FDC_DMA_CHANNEL, s->sector, 512, true, &tc);
            }
            if (rc < 0 || moved != 512) {
                st0 |= ST0_ABNORMAL;
                st1 |= rc < 0 ? ST1_ND : 0x10; /* overrun: the DMA channel did not take the sector */
                break;
            }
            /* The next sector's address. */
            if (r < eot) {
                r++;
            } else {
                r = 1;
                if (mt && h == 0) {
                    h = 1;
                } else {
                    if (mt)
                        h = 0;
                    c++;
                    if (!tc) { /* past the end of the track without TC */
                        st0 |= ST0_ABNORMAL;
                        st1 |= ST1_EN;
                        break;
                    }
                }
            }
        }
    }
    uint8_t res[7] = {(uint8_t)(st0 | h << 2), st1, st2, c, h, r, n};
    result(s, res, 7, true);
}

static void read_id(struct fdc *s)
{
    uint8_t b = s->cmd[1];
    struct drive *d = selected(s, b);
    uint8_t h = (b >> 2) & 1;
    uint8_t res[7] = {(uint8_t)(b & 7), 0, 0, d->cyl, h, 1, 2};
    if (!d->bd) {
        res[0] |= ST0_ABNORMAL;
        res[1] = ST1_MA;
    }
    result(s, res, 7, true);
}

static void execute(struct fdc *s)
{
    uint8_t op = s->cmd[0], r[10];
    struct drive *d = selected(s, s->cmd[1]);
    if (trace_on(TRACE_IDE))
        trace_printf(TRACE_IDE, "fdc: command 0x%02x", op);
    switch (op & 0x1f) {
    case 0x03: /* SPECIFY */
        s->specify[0] = s->cmd[1];
        s->specify[1] = s->cmd[2];
        result(s, NULL, 0, false);
        return;
    case 0x04: /* SENSE DRIVE STATUS */
        r[0] = (uint8_t)((s->cmd[1] & 7) | ST3_RDY | ST3_TS | (d->cyl == 0 ? ST3_T0 : 0) |
                         (d->bd && d->bd->read_only ? ST3_WP : 0));
        result(s, r, 1, false);
        return;
    case 0x07: /* RECALIBRATE */
        seek_done(s, s->cmd[1] & 3, 0);
        return;
    case 0x08: /* SENSE INTERRUPT STATUS */
        sense_interrupt(s);
        return;
    case 0x0f: /* SEEK */
        seek_done(s, s->cmd[1] & 7, s->cmd[2]);
        return;
    case 0x05: /* WRITE DATA */
    case 0x06: /* READ DATA */
        read_write(s, (op & 0x1f) == 0x05);
        return;
    case 0x0a: /* READ ID */
        read_id(s);
        return;
    case 0x10: /* VERSION */
        r[0] = 0x90;
        result(s, r, 1, false);
        return;
    case 0x13: /* CONFIGURE */
        s->config = s->cmd[2];
        s->pretrk = s->cmd[3];
        result(s, NULL, 0, false);
        return;
    case 0x14: /* LOCK (0x94) / UNLOCK (0x14) */
        s->lock = op & 0x80;
        r[0] = (uint8_t)(s->lock ? 0x10 : 0);
        result(s, r, 1, false);
        return;
    case 0x0e: /* DUMPREG */
        r[0] = s->drv[0].cyl, r[1] = s->drv[1].cyl, r[2] = 0, r[3] = 0;
        r[4] = s->specify[0], r[5] = s->specify[1];
        r[6] = s->drv[0].spt;
        r[7] = (uint8_t)((s->lock ? 0x80 : 0) | (s->perp & 0x7f));
        r[8] = s->config, r[9] = s->pretrk;
        result(s, r, 10, false);
        return;
    case 0x12: /* PERPENDICULAR MODE */
        s->perp = s->cmd[1];
        result(s, NULL, 0, false);
        return;
    default:
        r[0] = ST0_INVALID;
        result(s, r, 1, false);
        return;
    }
}

/* Parameter bytes after the command byte. */
static int params_of(uint8_t op)
{
    switch (op & 0x1f) {
    case 0x03: return 2;
    case 0x04: return 1;
    case 0x07: return 1;
    case 0x0f: return 2;
    case 0x05: case 0x06: return 8;
    case 0x0a: return 1;
    case 0x13: return 3;
    case 0x12: return 1;
    default: return 0;
    }
}

static void fifo_write(struct fdc *s, uint8_t v)
{
    if (!(s->dor & DOR_NRESET))
        return;
    if (s->phase == PH_RESULT) { /* a new command aborts the result phase */
        s->phase = PH_CMD;
    }
    if (s->phase == PH_CMD) {
        s->cmd[0] = v;
        s->ncmd = 1;
        s->need = (uint8_t)(1 + params_of(v));
        /* These need the exact opcode; other bits make them invalid. */
        uint8_t low = v & 0x1f;
        bool ok = (low == 0x05 || low == 0x06) || (low == 0x0a && !(v & 0xa0)) ||
                  (low == 0x14 && !(v & 0x60)) || v == low;
        if (!ok)
            s->need = 1, s->cmd[0] = 0x1f;
        s->phase = PH_PARAMS;
    } else {
        s->cmd[s->ncmd++] = v;
    }
    if (s->ncmd >= s->need)
        execute(s);
}

static uint8_t fifo_read(struct fdc *s)
{
    if (s->phase != PH_RESULT)
        return 0xff;
    uint8_t v = s->res[s->pos++];
    if (s->pos == 1 && (s->res[0] & 0xc0) != 0xc0)
        set_irq(s, false);
    if (s->pos >= s->nres)
        s->phase = PH_CMD;
    return v;
}

static uint8_t msr(const struct fdc *s)
{
    if (!(s->dor & DOR_NRESET))
        return 0;
    if (s->phase == PH_RESULT)
        return MSR_RQM | MSR_DIO | MSR_CB;
    return MSR_RQM | (s->phase == PH_PARAMS ? MSR_CB : 0);
}

/* ---- ports ---- */

static uint64_t port_read(void *opaque, uint64_t off, unsigned size)
{
    struct fdc *s = opaque;
    switch (off) {
    case 0: /* SRA */
        return s->irq_level ? 0x80 : 0x00;
    case 1: /* SRB */
        return 0xc0;
    case 2:
        return s->dor;
    case 3:
        return s->tdr;
    case 4:
        return msr(s);
    case 5:
        return fifo_read(s);
    default:
        return 0xff;
    }
}

static void port_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct fdc *s = opaque;
    uint8_t v = (uint8_t)value;
    switch (off) {
    case 2: {
        uint8_t old = s->dor;
        s->dor = v;
        if (!(v & DOR_NRESET)) {
            set_irq(s, false);
        } else if (!(old & DOR_NRESET)) {
            controller_reset(s);
        }
        if ((v ^ old) & DOR_DMA)
            set_irq(s, s->irq_level || (s->sense_pending > 0 && (v & DOR_DMA)));
        break;
    }
    case 3:
        s->tdr = v;
        break;
    case 4: /* DSR */
        s->dsr = v & 0x7f;
        if (v & 0x80)
            controller_reset(s);
        break;
    case 5:
        fifo_write(s, v);
        break;
    default:
        break;
    }
}

/* 0x3F7: DIR (read: the selected drive's disk change line), CCR (write: data rate). */
static uint64_t dir_read(void *opaque, uint64_t off, unsigned size)
{
    struct fdc *s = opaque;
    return s->drv[s->dor & 1].changed ? 0x80 : 0x00;
}

static void ccr_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct fdc *s = opaque;
    s->ccr = (uint8_t)value & 3;
}

static const struct bus_ops dir_ops = {.read = dir_read, .write = ccr_write, .min_size = 1, .max_size = 1};
static const struct bus_ops port_ops = {.read = port_read, .write = port_write, .min_size = 1, .max_size = 1};

struct fdc *fdc_new(struct bus *bus, struct irq irq6, struct dma8237 *dma)
{
    struct fdc *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->bus = bus;
    s->irq = irq6;
    s->dma = dma;
    if (bus_map_pio(bus, 0x3f0, 6, &port_ops, s, "fdc") < 0) {
        free(s);
        return NULL;
    }
    if (bus_map_pio(bus, 0x3f7, 1, &dir_ops, s, "fdc-dir") < 0) {
        bus_unmap_pio(bus, 0x3f0);
        free(s);
        return NULL;
    }
    fdc_insert(s, 0, NULL);
    fdc_insert(s, 1, NULL);
    fdc_reset(s);
    return s;
}

void fdc_free(struct fdc *s)
{
    free(s);
}
