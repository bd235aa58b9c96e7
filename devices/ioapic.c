/*
 * 82093AA I/O APIC (see ioapic.h). Registers: 0x00 IOAPICID, 0x01
 * IOAPICVER (0x00170020), 0x02 IOAPICARB, 0x10 + 2n / 0x11 + 2n the low and
 * high halves of redirection entry n. An edge-triggered pin delivers on
 * each rising edge while unmasked (masked edges are lost); a level pin
 * delivers while asserted, unmasked and with remote IRR clear, and sets
 * remote IRR until the local APIC's EOI for its vector. Delivery status is
 * always idle (messages are delivered at once). As in the ICH's version
 * 0x20 I/O APIC that QEMU models, a write of a vector to the EOI register
 * (+0x40) also clears remote IRR (Linux uses it for its remote-IRR
 * workaround). Inputs are taken as
 * "asserted" levels, so the polarity bit is stored but not applied.
 */
#include "devices/ioapic.h"

#include <stdlib.h>
#include <string.h>

#include "devices/state.h"
#include "devices/trace.h"
#include "formats/error.h"

#define IOAPIC_IOREGSEL 0x00
#define IOAPIC_IOWIN 0x10
#define IOAPIC_EOI 0x40 /* version 0x20 (ICH) EOI register: vector written clears remote IRR */
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VER 0x01
#define IOAPIC_REG_ARB 0x02
#define IOAPIC_REG_REDTBL 0x10
#define IOAPIC_VERSION 0x00170020 /* 24 entries (max index 23), version 0x20 */

#define RTE_DEST_LOGICAL (1ull << 11)
#define RTE_DELIVERY_STATUS (1ull << 12)
#define RTE_REMOTE_IRR (1ull << 14)
#define RTE_LEVEL (1ull << 15)
#define RTE_MASKED (1ull << 16)
#define RTE_RO_BITS (RTE_DELIVERY_STATUS | RTE_REMOTE_IRR)
#define RTE_WRITABLE 0xff0000000001afffull /* not delivery status, remote IRR */

struct ioapic {
    struct bus *bus;
    void (*deliver)(void *opaque, const struct apic_msg *m);
    void *opaque;
    uint8_t id, reset_id, regsel;
    uint64_t rte[IOAPIC_PINS];
    uint32_t lines;
};

static void send(struct ioapic *io, int pin)
{
    uint64_t e = io->rte[pin];
    struct apic_msg m = {
        .vector = (uint8_t)e,
        .mode = (uint8_t)((e >> 8) & 7),
        .logical = e & RTE_DEST_LOGICAL,
        .level = e & RTE_LEVEL,
        .dest = (uint8_t)(e >> 56),
    };
    if (m.level)
        io->rte[pin] |= RTE_REMOTE_IRR;
    if (trace_on(TRACE_APIC))
        trace_printf(TRACE_APIC, "ioapic pin %d -> vector 0x%02x\n", pin, m.vector);
    if (io->deliver)
        io->deliver(io->opaque, &m);
}

/* Level pins: deliver if asserted, unmasked and not already in service. */
static void service_level(struct ioapic *io, int pin)
{
    uint64_t e = io->rte[pin];
    if ((e & RTE_LEVEL) && !(e & (RTE_MASKED | RTE_REMOTE_IRR)) && ((io->lines >> pin) & 1))
        send(io, pin);
}

void ioapic_set_irq(void *opaque, int n, int level)
{
    struct ioapic *io = opaque;
    if (n < 0 || n >= IOAPIC_PINS)
        return;
    uint32_t bit = 1u << n, old = io->lines & bit;
    io->lines = level ? io->lines | bit : io->lines & ~bit;
    uint64_t e = io->rte[n];
    if (e & RTE_LEVEL)
        service_level(io, n);
    else if (level && !old && !(e & RTE_MASKED))
        send(io, n);
}

void ioapic_eoi(void *opaque, int vector)
{
    struct ioapic *io = opaque;
    for (int pin = 0; pin < IOAPIC_PINS; pin++) {
        uint64_t e = io->rte[pin];
        if ((e & RTE_LEVEL) && (e & RTE_REMOTE_IRR) && (int)(e & 0xff) == vector) {
            io->rte[pin] &= ~RTE_REMOTE_IRR;
            service_level(io, pin);
        }
    }
}

static uint32_t read_reg(struct ioapic *io)
{
    uint8_t r = io->regsel;
    if (r >= IOAPIC_REG_REDTBL && r < IOAPIC_REG_REDTBL + 2 * IOAPIC_PINS) {
        uint64_t e = io->rte[(r - IOAPIC_REG_REDTBL) / 2];
        return (uint32_t)(r & 1 ? e >> 32 : e);
    }
    switch (r) {
    case IOAPIC_REG_ID:
    case IOAPIC_REG_ARB:
        return (uint32_t)io->id << 24;
    case IOAPIC_REG_VER:
        return IOAPIC_VERSION;
    default:
        return 0;
    }
}

static void write_reg(struct ioapic *io, uint32_t v)
{
    uint8_t r = io->regsel;
    if (r >= IOAPIC_REG_REDTBL && r < IOAPIC_REG_REDTBL + 2 * IOAPIC_PINS) {
        int pin = (r - IOAPIC_REG_REDTBL) / 2;
        uint64_t e = io->rte[pin];
        e = r & 1 ? (e & 0xffffffffull) | (uint64_t)v << 32 : (e & ~0xffffffffull) | v;
        io->rte[pin] = (e & RTE_WRITABLE) | (io->rte[pin] & RTE_RO_BITS);
        if (!(io->rte[pin] & RTE_LEVEL))
            io->rte[pin] &= ~RTE_REMOTE_IRR;
        service_level(io, pin); /* unmasking an asserted level pin delivers it */
        return;
    }
    if (r == IOAPIC_REG_ID)
        io->id = (uint8_t)((v >> 24) & 0x0f);
}

static uint64_t mmio_read(void *opaque, uint64_t offset, unsigned size)
{
    struct ioapic *io = opaque;
    if (offset == IOAPIC_IOREGSEL)
        return io->regsel;
    if (offset == IOAPIC_IOWIN)
        return read_reg(io);
    return 0;
}

static void mmio_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct ioapic *io = opaque;
    if (offset == IOAPIC_IOREGSEL)
        io->regsel = (uint8_t)value;
    else if (offset == IOAPIC_IOWIN)
        write_reg(io, (uint32_t)value);
    else if (offset == IOAPIC_EOI)
        ioapic_eoi(io, (int)(value & 0xff));
}

static const struct bus_ops mmio_ops = {mmio_read, mmio_write, 4, 4};

void ioapic_reset(struct ioapic *io)
{
    io->id = io->reset_id;
    io->regsel = 0;
    for (int i = 0; i < IOAPIC_PINS; i++)
        io->rte[i] = RTE_MASKED;
}

struct ioapic *ioapic_new(struct bus *bus, uint8_t id,
                          void (*deliver)(void *opaque, const struct apic_msg *m), void *opaque)
{
    struct ioapic *io = calloc(1, sizeof *io);
    if (!io)
        return NULL;
    io->bus = bus;
    io->deliver = deliver;
    io->opaque = opaque;
    io->reset_id = id;
    ioapic_reset(io);
    if (bus_map_mmio(bus, IOAPIC_BASE, 0x1000, &mmio_ops, io, "ioapic") < 0) {
        free(io);
        return NULL;
    }
    return io;
}

void ioapic_free(struct ioapic *io)
{
    if (!io)
        return;
    bus_unmap(io->bus, IOAPIC_BASE);
    free(io);
}

/* ---- suspend state (devices/state.h), section version 1 ---- */

int ioapic_save(struct ioapic *io, struct state_writer *w)
{
    state_put_u8(w, io->id);
    state_put_u8(w, io->regsel);
    state_put_u32(w, io->lines);
    for (int i = 0; i < IOAPIC_PINS; i++)
        state_put_u64(w, io->rte[i]);
    return 0;
}

/* Restores the registers without delivering anything: a level pin in service keeps its
 * remote IRR, and the EOI that ends it delivers again as before the suspend. */
int ioapic_load(struct ioapic *io, struct state_reader *r, struct error *err)
{
    uint8_t id, regsel;
    uint32_t lines;
    uint64_t rte[IOAPIC_PINS];
    state_get_u8(r, &id);
    state_get_u8(r, &regsel);
    state_get_u32(r, &lines);
    for (int i = 0; i < IOAPIC_PINS; i++)
        if (state_get_u64(r, &rte[i]) == 0 && (rte[i] & ~(RTE_WRITABLE | RTE_RO_BITS)))
            return error_set(err, EX_DATAERR, "redirection entry %d: reserved bits set", i);
    if (r->failed || id > 0x0f || (lines >> IOAPIC_PINS))
        return error_set(err, EX_DATAERR, "truncated or out of range");
    io->id = id;
    io->regsel = regsel;
    io->lines = lines;
    memcpy(io->rte, rte, sizeof rte);
    return 0;
}
