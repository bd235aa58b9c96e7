/*
 * Local APIC (see apic.h). Registers at their SDM offsets, 32-bit accesses
 * only. Fixed interrupts set IRR (and TMR when level-triggered); the INTR
 * output is raised when the highest IRR vector's priority class exceeds the
 * processor priority (PPR from TPR and the highest ISR), with the APIC
 * software-enabled (SVR bit 8), or when LINT0 is an unmasked ExtINT and the
 * 8259 asserts it. EOI clears the highest ISR bit and reports
 * level-triggered vectors to the EOI listener (the IOAPIC's remote IRR).
 * The timer (one-shot and periodic; TSC-deadline is not offered) computes
 * its current count from elapsed time and arms one timer for the next
 * expiry while unmasked. IPIs through ICR reach this APIC only (one CPU);
 * INIT, SIPI and SMI are ignored; NMIs (LVT, ICR, the IOAPIC) pulse the nmi
 * line to the CPU. IA32_APIC_BASE bit 11 (apic_set_base) disables the APIC
 * globally: its registers go back to their reset values, its MMIO reads all
 * ones and drops writes, and the 8259's INT reaches the CPU directly, as on a
 * part without a local APIC, until the bit is set again. Left out (this
 * subset): relocation through IA32_APIC_BASE (the base is fixed), x2APIC,
 * thermal and performance counter sources.
 */
#include "devices/apic.h"

#include <stdlib.h>

#include "devices/trace.h"

#define APIC_ID 0x020
#define APIC_LVR 0x030
#define APIC_TPR 0x080
#define APIC_APR 0x090
#define APIC_PPR 0x0a0
#define APIC_EOI 0x0b0
#define APIC_LDR 0x0d0
#define APIC_DFR 0x0e0
#define APIC_SVR 0x0f0
#define APIC_ISR 0x100
#define APIC_TMR 0x180
#define APIC_IRR 0x200
#define APIC_ESR 0x280
#define APIC_ICR 0x300
#define APIC_ICR2 0x310
#define APIC_LVTT 0x320
#define APIC_LVTTHMR 0x330
#define APIC_LVTPC 0x340
#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_LVTERR 0x370
#define APIC_TMICT 0x380
#define APIC_TMCCT 0x390
#define APIC_TDCR 0x3e0

#define APIC_VERSION 0x00050014 /* max LVT entry 5, version 0x14 */
#define APIC_SVR_ENABLE 0x100
#define APIC_LVT_MASKED 0x10000
#define APIC_LVT_LEVEL 0x8000
#define APIC_LVT_TIMER_PERIODIC 0x20000
#define APIC_ESR_SEND_ILLEGAL 0x20
#define APIC_ESR_RECV_ILLEGAL 0x40

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };

struct apic {
    struct bus *bus;
    struct clock *clock;
    struct irq intr, nmi;
    int (*extint_ack)(void *opaque);
    void *extint_opaque;
    void (*eoi)(void *opaque, int vector);
    void *eoi_opaque;
    uint8_t id, reset_id, tpr;
    uint32_t ldr, dfr, svr, esr, esr_pending, icr, icr2, tdcr, initial_count;
    uint32_t lvt[LVT_COUNT];
    uint32_t irr[8], isr[8], tmr[8];
    int lint[2];
    int out;
    bool global; /* IA32_APIC_BASE bit 11: globally enabled */
    int64_t timer_start; /* when the current count was last (re)loaded */
    struct timer timer;
};

static bool test_bit(const uint32_t *v, int n)
{
    return (v[n >> 5] >> (n & 31)) & 1;
}

static void set_bit(uint32_t *v, int n)
{
    v[n >> 5] |= 1u << (n & 31);
}

static void clear_bit(uint32_t *v, int n)
{
    v[n >> 5] &= ~(1u << (n & 31));
}

static int highest(const uint32_t *v)
{
    for (int i = 7; i >= 0; i--)
        if (v[i])
            return i * 32 + 31 - __builtin_clz(v[i]);
    return -1;
}

static uint8_t ppr(const struct apic *a)
{
    int isrv = highest(a->isr);
    uint8_t isr_class = isrv < 0 ? 0 : (uint8_t)(isrv & 0xf0);
    return (a->tpr & 0xf0) >= isr_class ? a->tpr : isr_class;
}

static bool enabled(const struct apic *a)
{
    return a->svr & APIC_SVR_ENABLE;
}

/* The IRR vector INTA would take, or -1. */
static int deliverable(const struct apic *a)
{
    int v = highest(a->irr);
    if (v < 0 || !enabled(a) || !a->global)
        return -1;
    return (v & 0xf0) > (ppr(a) & 0xf0) ? v : -1;
}

static bool extint_pending(const struct apic *a)
{
    uint32_t lvt = a->lvt[LVT_LINT0];
    if (!a->global)
        return a->lint[0]; /* no APIC in the way: the 8259's INT is the CPU's INTR */
    return a->lint[0] && !(lvt & APIC_LVT_MASKED) && ((lvt >> 8) & 7) == APIC_DM_EXTINT;
}

static void update(struct apic *a)
{
    int out = deliverable(a) >= 0 || extint_pending(a);
    if (out != a->out) {
        a->out = out;
        irq_set(a->intr, out);
    }
}

static void error(struct apic *a, uint32_t bits);

/* Accepts a fixed interrupt into IRR. */
static void accept(struct apic *a, uint8_t vector, bool level)
{
    if (vector < 16) {
        error(a, APIC_ESR_RECV_ILLEGAL);
        return;
    }
    set_bit(a->irr, vector);
    if (level)
        set_bit(a->tmr, vector);
    else
        clear_bit(a->tmr, vector);
    update(a);
}

static void error(struct apic *a, uint32_t bits)
{
    bool fresh = (a->esr_pending & bits) != bits;
    a->esr_pending |= bits;
    uint32_t lvt = a->lvt[LVT_ERROR];
    if (fresh && !(lvt & APIC_LVT_MASKED) && (lvt & 0xff) >= 16)
        accept(a, (uint8_t)lvt, false);
}

/* Delivers through an LVT entry (timer, LINT pins, error). */
static void lvt_fire(struct apic *a, int idx)
{
    uint32_t lvt = a->lvt[idx];
    if (lvt & APIC_LVT_MASKED)
        return;
    switch ((lvt >> 8) & 7) {
    case APIC_DM_FIXED:
        accept(a, (uint8_t)lvt, idx != LVT_TIMER && (lvt & APIC_LVT_LEVEL));
        break;
    case APIC_DM_NMI:
        irq_pulse(a->nmi);
        break;
    default: /* ExtINT is a level seen by update(); SMI/INIT not modelled */
        update(a);
    }
}

/* ---- timer ---- */

static uint32_t divisor(const struct apic *a)
{
    unsigned v = (a->tdcr & 3) | ((a->tdcr >> 1) & 4);
    return v == 7 ? 1 : 2u << v;
}

static int64_t count_ns(const struct apic *a)
{
    return (int64_t)divisor(a) * (1000000000 / APIC_BUS_HZ);
}

static bool periodic(const struct apic *a)
{
    return a->lvt[LVT_TIMER] & APIC_LVT_TIMER_PERIODIC;
}

/* Counts elapsed since the load, or -1 when the timer is stopped. */
static int64_t elapsed_counts(struct apic *a)
{
    if (!a->initial_count)
        return -1;
    return (clock_now_ns(a->clock) - a->timer_start) / count_ns(a);
}

static uint32_t current_count(struct apic *a)
{
    int64_t e = elapsed_counts(a);
    if (e < 0)
        return 0;
    if (periodic(a))
        return (uint32_t)(a->initial_count - e % a->initial_count);
    return e >= a->initial_count ? 0 : (uint32_t)(a->initial_count - e);
}

static void timer_rearm(struct apic *a)
{
    int64_t e = elapsed_counts(a);
    if (e < 0 || (a->lvt[LVT_TIMER] & APIC_LVT_MASKED) || (!periodic(a) && e >= a->initial_count)) {
        timer_cancel(&a->timer);
        return;
    }
    int64_t periods = periodic(a) ? e / a->initial_count + 1 : 1;
    timer_arm(&a->timer, a->timer_start + periods * (int64_t)a->initial_count * count_ns(a));
}

static void timer_cb(void *opaque)
{
    struct apic *a = opaque;
    lvt_fire(a, LVT_TIMER);
    timer_rearm(a);
}

/* ---- EOI, IPIs, INTA ---- */

static void eoi(struct apic *a)
{
    int v = highest(a->isr);
    if (v < 0)
        return;
    clear_bit(a->isr, v);
    if (test_bit(a->tmr, v) && a->eoi)
        a->eoi(a->eoi_opaque, v);
    update(a);
}

/* Physical destination: our ID or broadcast; logical: flat (DFR 0xF...) or cluster model. */
static bool dest_match(const struct apic *a, uint8_t dest, bool logical)
{
    if (!logical)
        return dest == a->id || dest == 0xff;
    uint8_t ldr = (uint8_t)(a->ldr >> 24);
    if ((a->dfr >> 28) == 0xf)
        return (dest & ldr) != 0;
    return ((dest >> 4) == (ldr >> 4) || (dest >> 4) == 0xf) && (dest & ldr & 0x0f);
}

void apic_deliver(void *opaque, const struct apic_msg *m)
{
    struct apic *a = opaque;
    if (!a->global || !dest_match(a, m->dest, m->logical))
        return;
    switch (m->mode) {
    case APIC_DM_FIXED:
    case APIC_DM_LOWEST:
        accept(a, m->vector, m->level);
        break;
    case APIC_DM_NMI:
        irq_pulse(a->nmi);
        break;
    default: /* SMI, INIT, SIPI, ExtINT through the IOAPIC: not modelled */
        break;
    }
}

void apic_deliver_msi(void *opaque, uint64_t addr, uint32_t data)
{
    struct apic_msg m = {
        .vector = (uint8_t)data,
        .mode = (uint8_t)((data >> 8) & 7),
        .level = (data >> 15) & 1,
        .dest = (uint8_t)(addr >> 12),
        .logical = (addr >> 2) & 1,
    };
    if ((addr >> 20) != 0xfee)
        return;
    apic_deliver(opaque, &m); /* a vector below 16 is the receiver's illegal-vector error */
}

static void send_ipi(struct apic *a)
{
    struct apic_msg m = {
        .vector = (uint8_t)a->icr,
        .mode = (uint8_t)((a->icr >> 8) & 7),
        .logical = (a->icr >> 11) & 1,
        .level = (a->icr >> 15) & 1,
        .dest = (uint8_t)(a->icr2 >> 24),
    };
    unsigned shorthand = (a->icr >> 18) & 3;
    if ((m.mode == APIC_DM_FIXED || m.mode == APIC_DM_LOWEST) && m.vector < 16) {
        error(a, APIC_ESR_SEND_ILLEGAL);
        return;
    }
    m.level = false; /* IPIs are edge-triggered */
    if (shorthand == 3)
        return; /* all excluding self: there is nobody else */
    if (shorthand != 0) {
        m.dest = 0xff;
        m.logical = false;
    }
    apic_deliver(a, &m);
}

int apic_intr_ack(void *opaque)
{
    struct apic *a = opaque;
    int v = deliverable(a);
    if (v >= 0) {
        clear_bit(a->irr, v);
        set_bit(a->isr, v);
    } else if (extint_pending(a) && a->extint_ack) {
        v = a->extint_ack(a->extint_opaque);
    } else {
        v = a->svr & 0xff; /* spurious: ISR untouched */
    }
    update(a);
    if (trace_on(TRACE_APIC))
        trace_printf(TRACE_APIC, "inta -> 0x%02x\n", v);
    return v;
}

void apic_set_irq(void *opaque, int n, int level)
{
    struct apic *a = opaque;
    if (n < 0 || n > 1)
        return;
    int old = a->lint[n];
    a->lint[n] = level;
    uint32_t lvt = a->lvt[LVT_LINT0 + n];
    if (((lvt >> 8) & 7) == APIC_DM_EXTINT) {
        update(a);
        return;
    }
    bool level_trig = lvt & APIC_LVT_LEVEL;
    if (level && (!old || level_trig))
        lvt_fire(a, LVT_LINT0 + n);
}

void apic_set_extint(struct apic *a, int (*ack)(void *opaque), void *opaque)
{
    a->extint_ack = ack;
    a->extint_opaque = opaque;
}

void apic_set_eoi_listener(struct apic *a, void (*cb)(void *opaque, int vector), void *opaque)
{
    a->eoi = cb;
    a->eoi_opaque = opaque;
}

/* ---- registers ---- */

static uint32_t read_reg(struct apic *a, uint32_t off)
{
    if (off >= APIC_ISR && off < APIC_ISR + 0x80)
        return a->isr[(off - APIC_ISR) >> 4];
    if (off >= APIC_TMR && off < APIC_TMR + 0x80)
        return a->tmr[(off - APIC_TMR) >> 4];
    if (off >= APIC_IRR && off < APIC_IRR + 0x80)
        return a->irr[(off - APIC_IRR) >> 4];
    if (off >= APIC_LVTT && off <= APIC_LVTERR)
        return a->lvt[(off - APIC_LVTT) >> 4];
    switch (off) {
    case APIC_ID: return (uint32_t)a->id << 24;
    case APIC_LVR: return APIC_VERSION;
    case APIC_TPR: return a->tpr;
    case APIC_PPR: return ppr(a);
    case APIC_LDR: return a->ldr;
    case APIC_DFR: return a->dfr;
    case APIC_SVR: return a->svr;
    case APIC_ESR: return a->esr;
    case APIC_ICR: return a->icr & ~0x1000u; /* delivery status: idle */
    case APIC_ICR2: return a->icr2;
    case APIC_TMICT: return a->initial_count;
    case APIC_TMCCT: return current_count(a);
    case APIC_TDCR: return a->tdcr;
    default: return 0;
    }
}

static void write_lvt(struct apic *a, int idx, uint32_t v)
{
    static const uint32_t writable[LVT_COUNT] = {
        [LVT_TIMER] = 0x300ff, [LVT_THERMAL] = 0x107ff,
        [LVT_PERF] = 0x107ff, [LVT_LINT0] = 0x1a7ff, [LVT_LINT1] = 0x1a7ff,
        [LVT_ERROR] = 0x100ff,
    };
    if (!enabled(a))
        v |= APIC_LVT_MASKED; /* software-disabled: masks stay set */
    a->lvt[idx] = v & writable[idx];
    if (idx == LVT_TIMER)
        timer_rearm(a);
    else if (idx == LVT_LINT0 || idx == LVT_LINT1)
        apic_set_irq(a, idx - LVT_LINT0, a->lint[idx - LVT_LINT0]);
    update(a);
}

static void write_svr(struct apic *a, uint32_t v)
{
    a->svr = v & 0x1ff;
    if (!enabled(a)) {
        for (int i = 0; i < LVT_COUNT; i++)
            a->lvt[i] |= APIC_LVT_MASKED;
        timer_cancel(&a->timer);
    }
    update(a);
}

static void write_reg(struct apic *a, uint32_t off, uint32_t v)
{
    if (off >= APIC_LVTT && off <= APIC_LVTERR) {
        write_lvt(a, (int)(off - APIC_LVTT) >> 4, v);
        return;
    }
    switch (off) {
    case APIC_ID: a->id = (uint8_t)(v >> 24); break;
    case APIC_TPR: a->tpr = (uint8_t)v; update(a); break;
    case APIC_EOI: eoi(a); break;
    case APIC_LDR: a->ldr = v & 0xff000000u; break;
    case APIC_DFR: a->dfr = v | 0x0fffffffu; break;
    case APIC_SVR: write_svr(a, v); break;
    case APIC_ESR: a->esr = a->esr_pending; a->esr_pending = 0; break;
    case APIC_ICR: a->icr = v & 0x000ccfffu; send_ipi(a); break;
    case APIC_ICR2: a->icr2 = v & 0xff000000u; break;
    case APIC_TMICT:
        a->initial_count = v;
        a->timer_start = clock_now_ns(a->clock);
        timer_rearm(a);
        break;
    case APIC_TDCR: {
        uint32_t cur = current_count(a);
        a->tdcr = v & 0xb;
        /* Keep the current count across a divider change. */
        if (a->initial_count)
            a->timer_start = clock_now_ns(a->clock) - (int64_t)(a->initial_count - cur) * count_ns(a);
        timer_rearm(a);
        break;
    }
    default: break; /* read-only or reserved */
    }
}

static uint64_t mmio_read(void *opaque, uint64_t offset, unsigned size)
{
    struct apic *a = opaque;
    if (!a->global)
        return 0xffffffffu; /* globally disabled: nothing answers here */
    if (offset & 0xf)
        return 0;
    return read_reg(a, (uint32_t)offset);
}

static void mmio_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct apic *a = opaque;
    if ((offset & 0xf) || !a->global)
        return;
    if (trace_on(TRACE_APIC))
        trace_printf(TRACE_APIC, "write 0x%03x <- 0x%08x\n", (unsigned)offset, (unsigned)value);
    write_reg(a, (uint32_t)offset, (uint32_t)value);
}

static const struct bus_ops mmio_ops = {mmio_read, mmio_write, 4, 4};

void apic_reset(struct apic *a)
{
    for (int i = 0; i < 8; i++)
        a->irr[i] = a->isr[i] = a->tmr[i] = 0;
    for (int i = 0; i < LVT_COUNT; i++)
        a->lvt[i] = APIC_LVT_MASKED;
    /* The bootstrap processor's LINT0 starts as ExtINT (virtual wire), as on QEMU's pc. */
    a->lvt[LVT_LINT0] = APIC_DM_EXTINT << 8;
    a->id = a->reset_id;
    a->tpr = 0;
    a->ldr = 0;
    a->dfr = 0xffffffffu;
    a->svr = 0xff;
    a->esr = a->esr_pending = 0;
    a->icr = a->icr2 = 0;
    a->tdcr = 0;
    a->initial_count = 0;
    timer_cancel(&a->timer);
    a->out = -1;
    a->global = true;
    update(a);
}

void apic_set_base(void *opaque, uint64_t msr)
{
    struct apic *a = opaque;
    bool on = msr & 0x800;
    if (on == a->global)
        return;
    if (trace_on(TRACE_APIC))
        trace_printf(TRACE_APIC, "globally %s\n", on ? "enabled" : "disabled");
    if (!on)
        apic_reset(a); /* SDM vol. 3 11.4.3: back to the power-up state */
    a->global = on;
    update(a);
}

struct apic *apic_new(struct bus *bus, struct clock *clock, uint8_t id, struct irq intr,
                      struct irq nmi)
{
    struct apic *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->bus = bus;
    a->clock = clock;
    a->reset_id = id;
    a->intr = intr;
    a->nmi = nmi;
    timer_init(&a->timer, clock, timer_cb, a);
    apic_reset(a);
    if (bus_map_mmio(bus, APIC_BASE, 0x1000, &mmio_ops, a, "lapic") < 0) {
        free(a);
        return NULL;
    }
    return a;
}

void apic_free(struct apic *a)
{
    if (!a)
        return;
    timer_cancel(&a->timer);
    bus_unmap(a->bus, APIC_BASE);
    free(a);
}
