/*
 * Intel 8237A pair (see dma8237.h). Per channel: base and current address
 * and count (16 bits through the byte pointer flip-flop), mode (transfer
 * type in bits 3:2, 01 write to memory, 10 read from memory; auto-init bit 4;
 * address decrement bit 5), mask bit; per controller: status (TC bits 3:0,
 * cleared by reading), command, master clear, clear mask, write all masks.
 * The 16-bit controller counts words and shifts its address left by one
 * (page bit 0 unused), as on the AT. Memory moves one byte at a time through
 * the checked DMA path, so a channel pointed at anything but RAM moves
 * nothing.
 */
#include "devices/dma8237.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MODE_TYPE(m) (((m) >> 2) & 3)
#define MODE_TYPE_WRITE 1 /* device to memory */
#define MODE_TYPE_READ 2  /* memory to device */
#define MODE_AUTOINIT 0x10
#define MODE_DECREMENT 0x20

struct dma_channel {
    uint16_t base_addr, base_count, addr, count;
    uint8_t mode, page;
};

struct dma_ctrl {
    struct dma_channel ch[4];
    uint8_t status, command, mask;
    bool flipflop;
};

struct dma8237 {
    struct bus *bus;
    struct dma_ctrl c[2];
};

/* Page register port offsets from 0x80, by channel. */
static const uint8_t page_port[8] = {0x07, 0x03, 0x01, 0x02, 0x0f, 0x0b, 0x09, 0x0a};

static void ctrl_reset(struct dma_ctrl *c)
{
    c->status = 0;
    c->command = 0;
    c->mask = 0x0f;
    c->flipflop = false;
}

void dma8237_reset(struct dma8237 *d)
{
    for (int i = 0; i < 2; i++) {
        memset(d->c[i].ch, 0, sizeof d->c[i].ch);
        ctrl_reset(&d->c[i]);
    }
}

/* Register reg (0..15) of controller n. */
static uint8_t ctrl_read(struct dma_ctrl *c, unsigned reg)
{
    if (reg < 8) {
        struct dma_channel *ch = &c->ch[reg / 2];
        uint16_t v = reg & 1 ? ch->count : ch->addr;
        uint8_t b = (uint8_t)(c->flipflop ? v >> 8 : v);
        c->flipflop = !c->flipflop;
        return b;
    }
    if (reg == 8) {
        uint8_t s = c->status;
        c->status &= 0xf0;
        return s;
    }
    if (reg == 0x0f)
        return (uint8_t)(0xf0 | c->mask);
    return 0;
}

static void ctrl_write(struct dma_ctrl *c, unsigned reg, uint8_t v)
{
    if (reg < 8) {
        struct dma_channel *ch = &c->ch[reg / 2];
        uint16_t *base = reg & 1 ? &ch->base_count : &ch->base_addr;
        if (c->flipflop)
            *base = (uint16_t)((*base & 0x00ff) | v << 8);
        else
            *base = (uint16_t)((*base & 0xff00) | v);
        c->flipflop = !c->flipflop;
        if (reg & 1)
            ch->count = ch->base_count;
        else
            ch->addr = ch->base_addr;
        return;
    }
    switch (reg) {
    case 0x08:
        c->command = v;
        break;
    case 0x0a:
        c->mask = (uint8_t)(v & 4 ? c->mask | 1u << (v & 3) : c->mask & ~(1u << (v & 3)));
        break;
    case 0x0b:
        c->ch[v & 3].mode = v;
        break;
    case 0x0c:
        c->flipflop = false;
        break;
    case 0x0d:
        ctrl_reset(c);
        break;
    case 0x0e:
        c->mask = 0;
        break;
    case 0x0f:
        c->mask = v & 0x0f;
        break;
    default: /* 0x09 request: software requests are not modelled */
        break;
    }
}

static uint64_t lo_read(void *opaque, uint64_t off, unsigned size)
{
    struct dma8237 *d = opaque;
    return ctrl_read(&d->c[0], (unsigned)off);
}

static void lo_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct dma8237 *d = opaque;
    ctrl_write(&d->c[0], (unsigned)off, (uint8_t)v);
}

/* 0xC0-0xDF: register n at 0xC0 + 2n. */
static uint64_t hi_read(void *opaque, uint64_t off, unsigned size)
{
    struct dma8237 *d = opaque;
    return off & 1 ? 0xff : ctrl_read(&d->c[1], (unsigned)off / 2);
}

static void hi_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct dma8237 *d = opaque;
    if (!(off & 1))
        ctrl_write(&d->c[1], (unsigned)off / 2, (uint8_t)v);
}

/* 0x81-0x8F: offset + 1 is the page port number. */
static uint64_t page_read(void *opaque, uint64_t off, unsigned size)
{
    struct dma8237 *d = opaque;
    for (int ch = 0; ch < 8; ch++)
        if (page_port[ch] == off + 1)
            return d->c[ch / 4].ch[ch % 4].page;
    return 0xff;
}

static void page_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct dma8237 *d = opaque;
    for (int ch = 0; ch < 8; ch++)
        if (page_port[ch] == off + 1)
            d->c[ch / 4].ch[ch % 4].page = (uint8_t)v;
}

static const struct bus_ops lo_ops = {.read = lo_read, .write = lo_write, .min_size = 1, .max_size = 1};
static const struct bus_ops hi_ops = {.read = hi_read, .write = hi_write, .min_size = 1, .max_size = 1};
static const struct bus_ops page_ops = {.read = page_read, .write = page_write, .min_size = 1, .max_size = 1};

size_t dma8237_transfer(struct dma8237 *d, int chn, void *buf, size_t len, bool to_memory, bool *tc)
{
    if (tc)
        *tc = false;
    if (chn < 0 || chn > 7 || chn == 4)
        return 0;
    struct dma_ctrl *c = &d->c[chn / 4];
    struct dma_channel *ch = &c->ch[chn % 4];
    bool wide = chn >= 4;
    unsigned unit = wide ? 2 : 1;
    if ((c->mask >> (chn % 4) & 1) || (c->command & 0x04) ||
        MODE_TYPE(ch->mode) != (to_memory ? MODE_TYPE_WRITE : MODE_TYPE_READ))
        return 0;
    uint8_t *p = buf;
    size_t done = 0;
    while (done + unit <= len) {
        uint64_t a = wide ? ((uint64_t)(ch->page & 0xfe) << 16) | (uint64_t)ch->addr << 1
                          : (uint64_t)ch->page << 16 | ch->addr;
        int r = to_memory ? bus_dma_write(d->bus, a, p + done, unit) : bus_dma_read(d->bus, a, p + done, unit);
        if (r < 0)
            break;
        done += unit;
        ch->addr = (uint16_t)(ch->mode & MODE_DECREMENT ? ch->addr - 1 : ch->addr + 1);
        if (ch->count-- == 0) {
            c->status |= (uint8_t)(1u << (chn % 4));
            if (tc)
                *tc = true;
            if (ch->mode & MODE_AUTOINIT) {
                ch->addr = ch->base_addr;
                ch->count = ch->base_count;
            } else {
                c->mask |= (uint8_t)(1u << (chn % 4));
            }
            break;
        }
    }
    return done;
}

struct dma8237 *dma8237_new(struct bus *bus)
{
    struct dma8237 *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->bus = bus;
    if (bus_map_pio(bus, 0x00, 0x10, &lo_ops, d, "dma1") < 0) {
        free(d);
        return NULL;
    }
    if (bus_map_pio(bus, 0xc0, 0x20, &hi_ops, d, "dma2") < 0 ||
        bus_map_pio(bus, 0x81, 0x0f, &page_ops, d, "dma-page") < 0) {
        bus_unmap_pio(bus, 0x00);
        bus_unmap_pio(bus, 0xc0);
        free(d);
        return NULL;
    }
    dma8237_reset(d);
    return d;
}

void dma8237_free(struct dma8237 *d)
{
    free(d);
}
