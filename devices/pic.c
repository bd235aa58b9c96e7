/*
 * Intel 8259A pair (see pic.h). Each chip keeps the datasheet's registers:
 * IRR (requests), ISR (in service), IMR (masks), the lowest-priority level
 * for rotation, the ICW initialisation state, and the OCW3 read selection,
 * special mask and poll flags. Edge-triggered inputs latch IRR on a rising
 * edge; level-triggered ones (ELCR or ICW1 LTIM) follow the line. The slave's
 * INT output drives the master's IR2. Implemented: ICW1-4 (8086 mode, single
 * or cascade, AEOI, special fully nested), OCW1-3 (all EOI and rotation
 * commands, set priority, special mask, poll, IRR/ISR read), spurious IR7.
 * Left out (this subset): 8080/8085 mode call addresses and buffered mode (no effect
 * on a PC).
 */
#include "devices/pic.h"

#include <stdbool.h>
#include <stdlib.h>

#include "devices/state.h"
#include "devices/trace.h"
#include "formats/error.h"

#define ICW1_IC4 0x01
#define ICW1_SNGL 0x02
#define ICW1_LTIM 0x08
#define ICW1_INIT 0x10
#define ICW4_AEOI 0x02
#define ICW4_SFNM 0x10
#define OCW3_RIS 0x01
#define OCW3_RR 0x02
#define OCW3_P 0x04
#define OCW3_SMM 0x20
#define OCW3_ESMM 0x40

/* PIIX3 ELCR: IRQ0, 1, 2, 8 and 13 are always edge-triggered. */
#define ELCR_WRITABLE 0xdef8

struct pic_chip {
    uint8_t irr, isr, imr;
    uint8_t lines;        /* current input levels */
    uint8_t elcr;         /* level-triggered inputs */
    uint8_t lowest;       /* priority rotation: IR(lowest+1) has the highest priority */
    uint8_t vector_base;  /* ICW2 & 0xF8 */
    uint8_t icw_step;     /* 0 = ready, 2..4 = next ICW expected */
    bool ic4, single, ltim;
    bool aeoi, rotate_aeoi, sfnm;
    bool read_isr, poll, special_mask;
};

struct pic {
    struct pic_chip chip[2];
    struct irq intr;
    int out;
    struct bus *bus;
};

static bool is_level(const struct pic_chip *c, int bit)
{
    return c->ltim || ((c->elcr >> bit) & 1);
}

/* Highest-priority set bit in mask in the rotated order, or 8 if none. */
static int highest(const struct pic_chip *c, uint8_t mask)
{
    for (int i = 1; i <= 8; i++) {
        int bit = (c->lowest + i) & 7;
        if ((mask >> bit) & 1)
            return bit;
    }
    return 8;
}

/* Priority position 0 (highest) .. 7 of an input, 8 for "none". */
static int rank(const struct pic_chip *c, int bit)
{
    return bit > 7 ? 8 : (bit - c->lowest - 1) & 7;
}

/* The request the chip would present on INT, or -1. */
static int chip_pending(const struct pic *s, int idx)
{
    const struct pic_chip *c = &s->chip[idx];
    /* Special mask mode: every unmasked level not itself in service may interrupt. */
    if (c->special_mask) {
        int req = highest(c, c->irr & ~c->imr & ~c->isr);
        return req == 8 ? -1 : req;
    }
    int req = highest(c, c->irr & ~c->imr);
    if (req == 8)
        return -1;
    int cur = highest(c, c->isr);
    /* Special fully nested: the slave's IR2 may nest over its own in-service IR2. */
    if (idx == 0 && c->sfnm && req == 2 && cur == 2)
        return req;
    return rank(c, req) < rank(c, cur) ? req : -1;
}

static void chip_input(struct pic_chip *c, int bit, int level)
{
    uint8_t m = (uint8_t)(1u << bit);
    if (level) {
        if (is_level(c, bit) || !(c->lines & m))
            c->irr |= m;
        c->lines |= m;
    } else {
        if (is_level(c, bit))
            c->irr &= ~m;
        c->lines &= ~m;
    }
}

/* The slave's INT drives the master's IR2 as a level, so no slave request is lost. */
static void update(struct pic *s)
{
    if (chip_pending(s, 1) >= 0)
        s->chip[0].irr |= 1u << 2;
    else
        s->chip[0].irr &= (uint8_t)~(1u << 2);
    int out = chip_pending(s, 0) >= 0;
    if (out != s->out) {
        s->out = out;
        irq_set(s->intr, out);
    }
}

void pic_set_irq(void *opaque, int n, int level)
{
    struct pic *s = opaque;
    if (n < 0 || n > 15)
        return;
    chip_input(&s->chip[n >> 3], n & 7, level);
    update(s);
}

int pic_intr_pending(const struct pic *pic)
{
    return pic->out;
}

/* Acknowledges bit on chip c: ISR set (unless AEOI), edge IRR cleared. */
static void chip_ack(struct pic_chip *c, int bit)
{
    uint8_t m = (uint8_t)(1u << bit);
    if (!is_level(c, bit))
        c->irr &= ~m;
    if (c->aeoi) {
        if (c->rotate_aeoi)
            c->lowest = (uint8_t)bit;
    } else {
        c->isr |= m;
    }
}

/* INTA on one chip: the vector of its best request, or its IR7 spurious vector. */
static int chip_inta(struct pic *s, int idx)
{
    struct pic_chip *c = &s->chip[idx];
    int bit = chip_pending(s, idx);
    if (bit < 0)
        return c->vector_base | 7;
    chip_ack(c, bit);
    if (idx == 0 && bit == 2 && !c->single)
        return chip_inta(s, 1);
    return c->vector_base | bit;
}

int pic_intr_ack(void *opaque)
{
    struct pic *s = opaque;
    int v = chip_inta(s, 0);
    update(s);
    if (trace_on(TRACE_PIC))
        trace_printf(TRACE_PIC, "inta -> vector 0x%02x\n", v);
    return v;
}

/* Poll command: acknowledges like INTA and returns 0x80|level, or 0 when nothing is pending. */
static uint8_t chip_poll(struct pic *s, int idx)
{
    struct pic_chip *c = &s->chip[idx];
    int bit = chip_pending(s, idx);
    if (bit < 0)
        return 0;
    chip_ack(c, bit);
    update(s);
    return (uint8_t)(0x80 | bit);
}

static void chip_init(struct pic_chip *c, uint8_t icw1)
{
    uint8_t elcr = c->elcr, lines = c->lines;
    *c = (struct pic_chip){0};
    c->elcr = elcr;
    c->lines = lines;
    c->lowest = 7;
    c->ic4 = icw1 & ICW1_IC4;
    c->single = icw1 & ICW1_SNGL;
    c->ltim = icw1 & ICW1_LTIM;
    c->icw_step = 2;
}

static void chip_eoi(struct pic_chip *c, int bit, bool rotate)
{
    if (bit > 7)
        return;
    c->isr &= (uint8_t)~(1u << bit);
    if (rotate)
        c->lowest = (uint8_t)bit;
}

static void write_ocw2(struct pic_chip *c, uint8_t v)
{
    int level = v & 7;
    switch (v >> 5) {
    case 1: /* non-specific EOI */
        chip_eoi(c, highest(c, c->isr), false);
        break;
    case 3: /* specific EOI */
        chip_eoi(c, level, false);
        break;
    case 5: /* rotate on non-specific EOI */
        chip_eoi(c, highest(c, c->isr), true);
        break;
    case 4: /* set rotate in AEOI mode */
        c->rotate_aeoi = true;
        break;
    case 0: /* clear rotate in AEOI mode */
        c->rotate_aeoi = false;
        break;
    case 7: /* rotate on specific EOI */
        chip_eoi(c, level, true);
        break;
    case 6: /* set priority: level becomes the lowest */
        c->lowest = (uint8_t)level;
        break;
    default: /* 2: no operation */
        break;
    }
}

static void write_ocw3(struct pic_chip *c, uint8_t v)
{
    if (v & OCW3_RR)
        c->read_isr = v & OCW3_RIS;
    if (v & OCW3_P)
        c->poll = true;
    if (v & OCW3_ESMM)
        c->special_mask = v & OCW3_SMM;
}

static void write_data(struct pic_chip *c, uint8_t v)
{
    switch (c->icw_step) {
    case 2:
        c->vector_base = v & 0xf8;
        c->icw_step = c->single ? (c->ic4 ? 4 : 0) : 3;
        break;
    case 3: /* cascade wiring is fixed on a PC */
        c->icw_step = c->ic4 ? 4 : 0;
        break;
    case 4:
        c->aeoi = v & ICW4_AEOI;
        c->sfnm = v & ICW4_SFNM;
        c->icw_step = 0;
        break;
    default: /* OCW1 */
        c->imr = v;
        break;
    }
}

static void write_cmd(struct pic_chip *c, uint8_t v)
{
    if (v & ICW1_INIT)
        chip_init(c, v);
    else if (v & 0x08)
        write_ocw3(c, v);
    else
        write_ocw2(c, v);
}

static void chip_write(struct pic *s, int idx, uint64_t offset, uint64_t value)
{
    struct pic_chip *c = &s->chip[idx];
    uint8_t v = (uint8_t)value;
    if (trace_on(TRACE_PIC))
        trace_printf(TRACE_PIC, "%s port %d <- 0x%02x\n", idx ? "slave" : "master", (int)offset, v);
    if (offset == 0)
        write_cmd(c, v);
    else
        write_data(c, v);
    /* The chip's inputs keep their levels across ICW1; re-latch level-triggered ones. */
    for (int bit = 0; bit < 8; bit++)
        if (is_level(c, bit) && ((c->lines >> bit) & 1))
            c->irr |= (uint8_t)(1u << bit);
    update(s);
}

static uint64_t chip_read(struct pic *s, int idx, uint64_t offset)
{
    struct pic_chip *c = &s->chip[idx];
    if (c->poll) {
        c->poll = false;
        return chip_poll(s, idx);
    }
    if (offset == 1)
        return c->imr;
    return c->read_isr ? c->isr : c->irr;
}

static uint64_t master_read(void *opaque, uint64_t offset, unsigned size)
{
    return chip_read(opaque, 0, offset);
}

static void master_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    chip_write(opaque, 0, offset, value);
}

static uint64_t slave_read(void *opaque, uint64_t offset, unsigned size)
{
    return chip_read(opaque, 1, offset);
}

static void slave_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    chip_write(opaque, 1, offset, value);
}

static uint64_t elcr_read(void *opaque, uint64_t offset, unsigned size)
{
    return (pic_get_elcr(opaque) >> (offset * 8)) & 0xff;
}

static void elcr_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct pic *s = opaque;
    uint16_t cur = pic_get_elcr(s);
    unsigned shift = (unsigned)offset * 8;
    cur = (uint16_t)((cur & ~(0xffu << shift)) | ((value & 0xff) << shift));
    pic_set_elcr(s, cur);
}

static const struct bus_ops master_ops = {master_read, master_write, 1, 1};
static const struct bus_ops slave_ops = {slave_read, slave_write, 1, 1};
static const struct bus_ops elcr_ops = {elcr_read, elcr_write, 1, 1};

void pic_set_elcr(struct pic *pic, uint16_t mask)
{
    mask &= ELCR_WRITABLE;
    pic->chip[0].elcr = (uint8_t)mask;
    pic->chip[1].elcr = (uint8_t)(mask >> 8);
    for (int n = 0; n < 16; n++) {
        struct pic_chip *c = &pic->chip[n >> 3];
        if (is_level(c, n & 7))
            chip_input(c, n & 7, (c->lines >> (n & 7)) & 1);
    }
    update(pic);
}

uint16_t pic_get_elcr(const struct pic *pic)
{
    return (uint16_t)(pic->chip[0].elcr | pic->chip[1].elcr << 8);
}

void pic_reset(struct pic *pic)
{
    for (int i = 0; i < 2; i++) {
        struct pic_chip *c = &pic->chip[i];
        uint8_t lines = c->lines;
        *c = (struct pic_chip){0};
        c->lines = lines;
        c->lowest = 7;
    }
    update(pic);
}

struct pic *pic_new(struct bus *bus, struct irq intr)
{
    struct pic *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->intr = intr;
    s->bus = bus;
    pic_reset(s);
    if (bus_map_pio(bus, 0x20, 2, &master_ops, s, "pic-master") < 0)
        goto fail;
    if (bus_map_pio(bus, 0xa0, 2, &slave_ops, s, "pic-slave") < 0)
        goto fail_master;
    if (bus_map_pio(bus, 0x4d0, 2, &elcr_ops, s, "elcr") < 0)
        goto fail_slave;
    return s;
fail_slave:
    bus_unmap_pio(bus, 0xa0);
fail_master:
    bus_unmap_pio(bus, 0x20);
fail:
    free(s);
    return NULL;
}

void pic_free(struct pic *pic)
{
    if (!pic)
        return;
    bus_unmap_pio(pic->bus, 0x20);
    bus_unmap_pio(pic->bus, 0xa0);
    bus_unmap_pio(pic->bus, 0x4d0);
    free(pic);
}

/* ---- suspend state (devices/state.h), section version 1 ---- */

#define PIC_FLAG_IC4 0x001
#define PIC_FLAG_SINGLE 0x002
#define PIC_FLAG_LTIM 0x004
#define PIC_FLAG_AEOI 0x008
#define PIC_FLAG_ROTATE_AEOI 0x010
#define PIC_FLAG_SFNM 0x020
#define PIC_FLAG_READ_ISR 0x040
#define PIC_FLAG_POLL 0x080
#define PIC_FLAG_SPECIAL_MASK 0x100

static uint16_t chip_flags(const struct pic_chip *c)
{
    return (uint16_t)((c->ic4 ? PIC_FLAG_IC4 : 0) | (c->single ? PIC_FLAG_SINGLE : 0) |
                      (c->ltim ? PIC_FLAG_LTIM : 0) | (c->aeoi ? PIC_FLAG_AEOI : 0) |
                      (c->rotate_aeoi ? PIC_FLAG_ROTATE_AEOI : 0) | (c->sfnm ? PIC_FLAG_SFNM : 0) |
                      (c->read_isr ? PIC_FLAG_READ_ISR : 0) | (c->poll ? PIC_FLAG_POLL : 0) |
                      (c->special_mask ? PIC_FLAG_SPECIAL_MASK : 0));
}

int pic_save(struct pic *pic, struct state_writer *w)
{
    for (int i = 0; i < 2; i++) {
        const struct pic_chip *c = &pic->chip[i];
        state_put_u8(w, c->irr);
        state_put_u8(w, c->isr);
        state_put_u8(w, c->imr);
        state_put_u8(w, c->lines);
        state_put_u8(w, c->elcr);
        state_put_u8(w, c->lowest);
        state_put_u8(w, c->vector_base);
        state_put_u8(w, c->icw_step);
        state_put_u16(w, chip_flags(c));
    }
    return 0;
}

static int chip_load(struct pic_chip *c, int idx, struct state_reader *r, struct error *err)
{
    uint8_t b[8];
    uint16_t flags;
    if (state_get_bytes(r, b, sizeof b) < 0 || state_get_u16(r, &flags) < 0)
        return error_set(err, EX_DATAERR, "truncated");
    if (b[5] > 7 || (b[6] & 7) || (b[7] != 0 && (b[7] < 2 || b[7] > 4)) || flags > 0x1ff ||
        (b[4] & ~(uint8_t)(ELCR_WRITABLE >> (8 * idx))))
        return error_set(err, EX_DATAERR, "chip %d: a register out of range", idx);
    *c = (struct pic_chip){.irr = b[0], .isr = b[1], .imr = b[2], .lines = b[3], .elcr = b[4],
                           .lowest = b[5], .vector_base = b[6], .icw_step = b[7]};
    c->ic4 = flags & PIC_FLAG_IC4;
    c->single = flags & PIC_FLAG_SINGLE;
    c->ltim = flags & PIC_FLAG_LTIM;
    c->aeoi = flags & PIC_FLAG_AEOI;
    c->rotate_aeoi = flags & PIC_FLAG_ROTATE_AEOI;
    c->sfnm = flags & PIC_FLAG_SFNM;
    c->read_isr = flags & PIC_FLAG_READ_ISR;
    c->poll = flags & PIC_FLAG_POLL;
    c->special_mask = flags & PIC_FLAG_SPECIAL_MASK;
    return 0;
}

int pic_load(struct pic *pic, struct state_reader *r, struct error *err)
{
    struct pic_chip chip[2];
    for (int i = 0; i < 2; i++)
        if (chip_load(&chip[i], i, r, err) < 0)
            return -1;
    pic->chip[0] = chip[0];
    pic->chip[1] = chip[1];
    update(pic);
    return 0;
}
