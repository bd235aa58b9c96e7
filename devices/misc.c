/*
 * Small ISA ports (see misc.h). Port 0x92 (PS/2 system control port A):
 * bit 1 gates A20, writing bit 0 as 1 pulses the reset line (it reads back
 * 0). Port 0x80 keeps the last POST code. Debug consoles pass bytes to a
 * character back end and read back 0xE9. The debug-exit port reports the
 * guest's requested status through an irq level.
 */
#include "devices/misc.h"

#include <stdbool.h>
#include <stdlib.h>

#include "devices/state.h"
#include "devices/trace.h"
#include "formats/error.h"

#define PORT92_RESET 0x01
#define PORT92_A20 0x02

struct port92 {
    struct bus *bus;
    struct irq a20, reset;
    uint8_t value;
    bool kbc_a20;
    int a20_level;
};

static void port92_update(struct port92 *p)
{
    int level = (p->value & PORT92_A20) || p->kbc_a20;
    if (level != p->a20_level) {
        p->a20_level = level;
        irq_set(p->a20, level);
    }
}

void port92_kbc_a20(void *opaque, int n, int level)
{
    struct port92 *p = opaque;
    p->kbc_a20 = level;
    port92_update(p);
}

static uint64_t port92_read(void *opaque, uint64_t offset, unsigned size)
{
    struct port92 *p = opaque;
    return p->value;
}

static void port92_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct port92 *p = opaque;
    p->value = (uint8_t)(value & ~PORT92_RESET);
    port92_update(p);
    if (value & PORT92_RESET)
        irq_pulse(p->reset);
}

static const struct bus_ops port92_ops = {port92_read, port92_write, 1, 1};

void port92_reset(struct port92 *p)
{
    p->value = 0;
    port92_update(p);
}

struct port92 *port92_new(struct bus *bus, struct irq a20, struct irq reset)
{
    struct port92 *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->bus = bus;
    p->a20 = a20;
    p->reset = reset;
    p->a20_level = -1;
    port92_reset(p);
    if (bus_map_pio(bus, 0x92, 1, &port92_ops, p, "port92") < 0) {
        free(p);
        return NULL;
    }
    return p;
}

void port92_free(struct port92 *p)
{
    if (!p)
        return;
    bus_unmap_pio(p->bus, 0x92);
    free(p);
}

struct postcode {
    struct bus *bus;
    int last;
};

static uint64_t postcode_read(void *opaque, uint64_t offset, unsigned size)
{
    struct postcode *p = opaque;
    return p->last < 0 ? 0xff : (uint64_t)p->last;
}

static void postcode_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct postcode *p = opaque;
    p->last = (int)(value & 0xff);
}

static const struct bus_ops postcode_ops = {postcode_read, postcode_write, 1, 1};

struct postcode *postcode_new(struct bus *bus)
{
    struct postcode *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->bus = bus;
    p->last = -1;
    if (bus_map_pio(bus, 0x80, 1, &postcode_ops, p, "post") < 0) {
        free(p);
        return NULL;
    }
    return p;
}

void postcode_free(struct postcode *p)
{
    if (!p)
        return;
    bus_unmap_pio(p->bus, 0x80);
    free(p);
}

int postcode_last(const struct postcode *p)
{
    return p->last;
}

struct debugcon {
    struct bus *bus;
    uint16_t port;
    struct chardev *out;
};

static uint64_t debugcon_read(void *opaque, uint64_t offset, unsigned size)
{
    return 0xe9;
}

static void debugcon_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct debugcon *d = opaque;
    uint8_t b = (uint8_t)value;
    if (d->out)
        chardev_write(d->out, &b, 1);
}

static const struct bus_ops debugcon_ops = {debugcon_read, debugcon_write, 1, 1};

struct debugcon *debugcon_new(struct bus *bus, uint16_t port, struct chardev *out)
{
    struct debugcon *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->bus = bus;
    d->port = port;
    d->out = out;
    if (bus_map_pio(bus, port, 1, &debugcon_ops, d, "debugcon") < 0) {
        free(d);
        return NULL;
    }
    return d;
}

void debugcon_free(struct debugcon *d)
{
    if (!d)
        return;
    bus_unmap_pio(d->bus, d->port);
    free(d);
}

struct debugexit {
    struct bus *bus;
    uint16_t port;
    struct irq exit;
};

static uint64_t debugexit_read(void *opaque, uint64_t offset, unsigned size)
{
    return 0xff;
}

static void debugexit_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct debugexit *d = opaque;
    unsigned v = (unsigned)(value & 0xff);
    if (trace_on(TRACE_IO))
        trace_printf(TRACE_IO, "debug-exit 0x%02x\n", v);
    irq_set(d->exit, (int)((v << 1) | 1));
}

static const struct bus_ops debugexit_ops = {debugexit_read, debugexit_write, 1, 1};

struct debugexit *debugexit_new(struct bus *bus, uint16_t port, struct irq exit)
{
    struct debugexit *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->bus = bus;
    d->port = port;
    d->exit = exit;
    if (bus_map_pio(bus, port, 1, &debugexit_ops, d, "debug-exit") < 0) {
        free(d);
        return NULL;
    }
    return d;
}

void debugexit_free(struct debugexit *d)
{
    if (!d)
        return;
    bus_unmap_pio(d->bus, d->port);
    free(d);
}

/* ---- port 0x92's suspend state (devices/state.h), section version 1 ---- */

int port92_save(struct port92 *p, struct state_writer *w)
{
    state_put_u8(w, p->value);
    state_put_u8(w, p->kbc_a20);
    return 0;
}

int port92_load(struct port92 *p, struct state_reader *r, struct error *err)
{
    uint8_t value, kbc_a20;
    state_get_u8(r, &value);
    if (state_get_u8(r, &kbc_a20) < 0 || (value & PORT92_RESET) || kbc_a20 > 1)
        return error_set(err, EX_DATAERR, "truncated or out of range");
    p->value = value;
    p->kbc_a20 = kbc_a20;
    port92_update(p);
    return 0;
}
