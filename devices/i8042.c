/*
 * i8042 controller (see i8042.h). One output buffer byte (OBF), filled
 * from the controller's own replies first, then the keyboard's queue, then
 * the mouse's (AUXB set for mouse bytes), each interface only while its
 * clock is enabled in the command byte. Keyboard bytes are translated to
 * set 1 while the command byte's XLATE bit is set (F0 prefixes folded into
 * bit 7). Commands: read/write command byte and RAM (0x20-0x7F), aux
 * disable/enable/test (A7/A8/A9), self-test (AA -> 55), keyboard interface
 * test/disable/enable (AB/AD/AE), read input port (C0), read/write output
 * port (D0/D1), write keyboard/aux output buffer (D2/D3), write to aux
 * (D4), fast A20 off/on (DD/DF), test inputs (E0), pulse output port
 * (F0-FF; bit 0 resets the machine).
 */
#include "devices/i8042.h"

#include <stdlib.h>

#include "devices/trace.h"

#define KBD_STAT_OBF 0x01
#define KBD_STAT_SYS 0x04
#define KBD_STAT_CMD 0x08
#define KBD_STAT_UNLOCKED 0x10
#define KBD_STAT_AUXB 0x20

#define KBD_CCB_KBDINT 0x01
#define KBD_CCB_AUXINT 0x02
#define KBD_CCB_SYS 0x04
#define KBD_CCB_KBDDIS 0x10
#define KBD_CCB_AUXDIS 0x20
#define KBD_CCB_XLATE 0x40

#define KBD_OUT_RESET 0x01 /* 0 = reset asserted */
#define KBD_OUT_A20 0x02
#define KBD_OUT_OBF_KBD 0x10
#define KBD_OUT_OBF_AUX 0x20

enum ob_source { SRC_CTRL, SRC_KBD, SRC_AUX };

struct i8042 {
    struct bus *bus;
    struct irq irq1, irq12, a20, reset;
    struct ps2_kbd *kbd;
    struct ps2_mouse *mouse;
    uint8_t ram[32]; /* ram[0] is the command byte */
    uint8_t status, outport, pending_cmd;
    uint8_t ob;      /* output buffer */
    enum ob_source ob_src;
    bool ob_full, xlate_break;
    struct {
        uint8_t v;
        enum ob_source src;
    } ctrl_q[4]; /* the controller's replies, and bytes written by D2/D3 */
    unsigned ctrl_n;
};

static uint8_t ccb(const struct i8042 *s)
{
    return s->ram[0];
}

static void update_irqs(struct i8042 *s)
{
    int kbd = s->ob_full && s->ob_src != SRC_AUX && (ccb(s) & KBD_CCB_KBDINT);
    int aux = s->ob_full && s->ob_src == SRC_AUX && (ccb(s) & KBD_CCB_AUXINT);
    s->outport = (uint8_t)((s->outport & ~(KBD_OUT_OBF_KBD | KBD_OUT_OBF_AUX)) |
                           (kbd ? KBD_OUT_OBF_KBD : 0) | (aux ? KBD_OUT_OBF_AUX : 0));
    irq_set(s->irq1, kbd);
    irq_set(s->irq12, aux);
}

/* The next keyboard byte as the host sees it (translated when XLATE), or -1. */
static int kbd_byte(struct i8042 *s)
{
    for (;;) {
        int v = ps2_kbd_read(s->kbd);
        if (v < 0 || !(ccb(s) & KBD_CCB_XLATE))
            return v;
        if (v == 0xf0) {
            s->xlate_break = true;
            continue;
        }
        v = ps2_translate((uint8_t)v) | (s->xlate_break ? 0x80 : 0);
        s->xlate_break = false;
        return v;
    }
}

/* Refills the output buffer when it is empty. */
static void fill(struct i8042 *s)
{
    int v = -1;
    if (s->ob_full)
        return;
    if (s->ctrl_n) {
        v = s->ctrl_q[0].v;
        s->ob_src = s->ctrl_q[0].src;
        for (unsigned i = 1; i < s->ctrl_n; i++)
            s->ctrl_q[i - 1] = s->ctrl_q[i];
        s->ctrl_n--;
    }
    if (v < 0 && !(ccb(s) & KBD_CCB_KBDDIS) && (v = kbd_byte(s)) >= 0)
        s->ob_src = SRC_KBD;
    if (v < 0 && !(ccb(s) & KBD_CCB_AUXDIS) && (v = ps2_mouse_read(s->mouse)) >= 0)
        s->ob_src = SRC_AUX;
    if (v >= 0) {
        s->ob = (uint8_t)v;
        s->ob_full = true;
    }
    update_irqs(s);
}

static void notify(void *opaque)
{
    fill(opaque);
}

/* A byte placed in the output buffer by the controller itself (or by D2/D3 as a device's). */
static void ctrl_reply(struct i8042 *s, uint8_t v, enum ob_source src)
{
    if (s->ctrl_n < sizeof s->ctrl_q / sizeof s->ctrl_q[0]) {
        s->ctrl_q[s->ctrl_n].v = v;
        s->ctrl_q[s->ctrl_n++].src = src;
    }
    fill(s);
}

static void write_outport(struct i8042 *s, uint8_t v)
{
    uint8_t old = s->outport;
    s->outport = v;
    if ((old ^ v) & KBD_OUT_A20)
        irq_set(s->a20, !!(v & KBD_OUT_A20));
    if (!(v & KBD_OUT_RESET)) {
        s->outport |= KBD_OUT_RESET; /* the reset line only pulses */
        irq_pulse(s->reset);
    }
}

static void command(struct i8042 *s, uint8_t v)
{
    if (trace_on(TRACE_PS2))
        trace_printf(TRACE_PS2, "i8042 command 0x%02x\n", v);
    s->pending_cmd = 0; /* a new command replaces one still waiting for its data byte */
    if (v >= 0x20 && v < 0x40) {
        ctrl_reply(s, s->ram[v & 0x1f], SRC_CTRL);
        return;
    }
    if ((v >= 0x60 && v < 0x80) || v == 0xd1 || v == 0xd2 || v == 0xd3 || v == 0xd4) {
        s->pending_cmd = v;
        return;
    }
    if (v >= 0xf0) {
        if (!(v & 1)) /* pulse output port bit 0 low: reset */
            irq_pulse(s->reset);
        return;
    }
    switch (v) {
    case 0xa7: s->ram[0] |= KBD_CCB_AUXDIS; break;
    case 0xa8: s->ram[0] &= (uint8_t)~KBD_CCB_AUXDIS; break;
    case 0xa9: ctrl_reply(s, 0x00, SRC_CTRL); break; /* aux interface OK */
    case 0xaa: /* self-test passed; the system flag is set */
        s->status |= KBD_STAT_SYS;
        ctrl_reply(s, 0x55, SRC_CTRL);
        break;
    case 0xab: ctrl_reply(s, 0x00, SRC_CTRL); break;
    case 0xad: s->ram[0] |= KBD_CCB_KBDDIS; break;
    case 0xae: s->ram[0] &= (uint8_t)~KBD_CCB_KBDDIS; break;
    case 0xc0: ctrl_reply(s, 0x80, SRC_CTRL); break; /* input port: keyboard not locked */
    case 0xd0: ctrl_reply(s, s->outport, SRC_CTRL); break;
    case 0xdd: write_outport(s, s->outport & (uint8_t)~KBD_OUT_A20); break;
    case 0xdf: write_outport(s, s->outport | KBD_OUT_A20); break;
    case 0xe0: ctrl_reply(s, 0x00, SRC_CTRL); break;
    default: break;
    }
    fill(s);
}

static void data_write(struct i8042 *s, uint8_t v)
{
    uint8_t cmd = s->pending_cmd;
    s->pending_cmd = 0;
    if (cmd >= 0x60 && cmd < 0x80) {
        s->ram[cmd & 0x1f] = v;
        if (cmd == 0x60)
            s->status = (uint8_t)((s->status & ~KBD_STAT_SYS) | (v & KBD_CCB_SYS));
    } else if (cmd == 0xd1) {
        write_outport(s, v);
    } else if (cmd == 0xd2) {
        ctrl_reply(s, v, SRC_KBD);
    } else if (cmd == 0xd3) {
        ctrl_reply(s, v, SRC_AUX);
    } else if (cmd == 0xd4) {
        ps2_mouse_write(s->mouse, v);
    } else {
        s->ram[0] &= (uint8_t)~KBD_CCB_KBDDIS; /* writing to the keyboard enables its interface */
        ps2_kbd_write(s->kbd, v);
    }
    fill(s);
}

static uint8_t data_read(struct i8042 *s)
{
    uint8_t v = s->ob; /* reading an empty buffer returns the last byte */
    s->ob_full = false;
    /* Drop the line before the next byte raises it again: an edge-triggered
     * IOAPIC input sees one edge per byte, as with the real controller. */
    update_irqs(s);
    fill(s);
    return v;
}

static uint8_t status_read(struct i8042 *s)
{
    uint8_t v = (uint8_t)(s->status | KBD_STAT_UNLOCKED);
    if (s->ob_full)
        v |= (uint8_t)(KBD_STAT_OBF | (s->ob_src == SRC_AUX ? KBD_STAT_AUXB : 0));
    return v;
}

static uint64_t port60_read(void *opaque, uint64_t offset, unsigned size)
{
    return data_read(opaque);
}

static void port60_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct i8042 *s = opaque;
    s->status &= (uint8_t)~KBD_STAT_CMD;
    data_write(s, (uint8_t)value);
}

static uint64_t port64_read(void *opaque, uint64_t offset, unsigned size)
{
    return status_read(opaque);
}

static void port64_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct i8042 *s = opaque;
    s->status |= KBD_STAT_CMD;
    command(s, (uint8_t)value);
}

static const struct bus_ops data_ops = {port60_read, port60_write, 1, 1};
static const struct bus_ops cmd_ops = {port64_read, port64_write, 1, 1};

void i8042_input_key(void *opaque, uint32_t usage, bool down)
{
    struct i8042 *k = opaque;
    ps2_kbd_key(k->kbd, usage, down);
}

void i8042_input_mouse_rel(void *opaque, int dx, int dy, int dz, unsigned buttons)
{
    struct i8042 *k = opaque;
    ps2_mouse_event(k->mouse, dx, dy, dz, buttons);
}

struct ps2_kbd *i8042_kbd(struct i8042 *k)
{
    return k->kbd;
}

struct ps2_mouse *i8042_mouse(struct i8042 *k)
{
    return k->mouse;
}

void i8042_reset(struct i8042 *k)
{
    for (unsigned i = 0; i < sizeof k->ram; i++)
        k->ram[i] = 0;
    /* Power-on command byte: interrupts on, translation on (as a BIOS leaves it). */
    k->ram[0] = KBD_CCB_KBDINT | KBD_CCB_AUXINT | KBD_CCB_XLATE;
    k->status = 0;
    k->pending_cmd = 0;
    k->ob_full = k->xlate_break = false;
    k->ctrl_n = 0;
    k->outport = KBD_OUT_RESET | KBD_OUT_A20;
    irq_set(k->a20, 1);
    ps2_kbd_reset(k->kbd);
    ps2_mouse_reset(k->mouse);
    update_irqs(k);
}

struct i8042 *i8042_new(struct bus *bus, struct irq irq1, struct irq irq12, struct irq a20,
                        struct irq reset)
{
    struct i8042 *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->bus = bus;
    s->irq1 = irq1;
    s->irq12 = irq12;
    s->a20 = a20;
    s->reset = reset;
    s->kbd = ps2_kbd_new(notify, s);
    s->mouse = ps2_mouse_new(notify, s);
    if (!s->kbd || !s->mouse)
        goto fail;
    i8042_reset(s);
    if (bus_map_pio(bus, 0x60, 1, &data_ops, s, "i8042-data") < 0)
        goto fail;
    if (bus_map_pio(bus, 0x64, 1, &cmd_ops, s, "i8042-cmd") < 0) {
        bus_unmap_pio(bus, 0x60);
        goto fail;
    }
    return s;
fail:
    ps2_kbd_free(s->kbd);
    ps2_mouse_free(s->mouse);
    free(s);
    return NULL;
}

void i8042_free(struct i8042 *k)
{
    if (!k)
        return;
    bus_unmap_pio(k->bus, 0x60);
    bus_unmap_pio(k->bus, 0x64);
    ps2_kbd_free(k->kbd);
    ps2_mouse_free(k->mouse);
    free(k);
}
