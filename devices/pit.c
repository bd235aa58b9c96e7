/*
 * Intel 8254 PIT (see pit.h). Nothing ticks: each counter remembers the
 * absolute clock tick at which it started counting and its count N, and
 * its count element (CE) and OUT are computed from the elapsed ticks when
 * read. As in the datasheet, a count written is loaded into CE on the next
 * CLK pulse, which does not decrement it. All six modes, binary and BCD
 * counting, LSB/MSB/word access, counter latch and read-back commands, and
 * GATE behaviour (counter 2's gate is port 0x61 bit 0; counters 0 and 1
 * have GATE tied high). Counter 0's OUT goes to IRQ0: a timer is armed for
 * its next rising edge only. Mode 3 with an odd count uses the even
 * neighbour's CE sequence (OUT timing is exact).
 */
#include "devices/pit.h"

#include <stdbool.h>
#include <stdlib.h>

#include "devices/state.h"
#include "devices/trace.h"
#include "formats/error.h"

#define NS_PER_S 1000000000LL

/* Control word fields. */
#define PIT_CW_SC(v) (((v) >> 6) & 3)
#define PIT_CW_RW(v) (((v) >> 4) & 3)
#define PIT_CW_M(v) (((v) >> 1) & 7)
#define PIT_CW_BCD 0x01
/* Read-back command: bit 5 = 0 latch count, bit 4 = 0 latch status. */
#define PIT_RB_NOCOUNT 0x20
#define PIT_RB_NOSTATUS 0x10
/* Status byte. */
#define PIT_ST_OUT 0x80
#define PIT_ST_NULL 0x40

#define PORTB_GATE2 0x01
#define PORTB_SPKR 0x02
#define PORTB_REFRESH 0x10
#define PORTB_OUT2 0x20
#define REFRESH_NS 15085

enum { RW_LATCH, RW_LSB, RW_MSB, RW_WORD };

struct pit_counter {
    uint8_t mode, rw;
    bool bcd;
    bool gate;
    bool loaded;    /* a count has been written since the control word */
    bool counting;  /* CE is running */
    bool tc_done;   /* mode 0: terminal count passed before a pause */
    int64_t loads_at;   /* tick CR moves into CE (null count before it), INT64_MAX: not yet */
    uint32_t n;     /* count in use, 1..65536 (or 10000 BCD) */
    int64_t start;  /* tick of the write or trigger */
    int delay;      /* 1: the next CLK loads CE; 0: CE already holds n at start */
    uint32_t hold;  /* CE while not counting */
    uint32_t next_n;    /* modes 2/3: count waiting for the end of the period */
    int64_t next_at;    /* tick it takes effect, or -1 */
    uint16_t cr;        /* count register (raw, as written) */
    bool write_msb;     /* word access: next write is the MSB */
    bool read_msb;      /* word access: next read is the MSB */
    bool count_latched, status_latched;
    uint16_t latch;
    uint8_t status;
};

struct pit {
    struct bus *bus;
    struct clock *clock;
    struct irq irq0;
    struct pit_counter c[3];
    struct timer timer;
    int64_t edge; /* tick of counter 0's armed rising edge, or -1 */
    bool speaker;
};

static int64_t now_tick(struct pit *s)
{
    int64_t ns = clock_now_ns(s->clock);
    return ns / NS_PER_S * PIT_HZ + ns % NS_PER_S * PIT_HZ / NS_PER_S;
}

static int64_t tick_ns(int64_t tick)
{
    return tick / PIT_HZ * NS_PER_S + (tick % PIT_HZ * NS_PER_S + PIT_HZ - 1) / PIT_HZ;
}

static uint32_t modulus(const struct pit_counter *c)
{
    return c->bcd ? 10000 : 65536;
}

static uint32_t from_bcd(uint16_t v)
{
    return (v & 15) + ((v >> 4) & 15) * 10 + ((v >> 8) & 15) * 100 + (v >> 12) * 1000;
}

static uint16_t to_bcd(uint32_t v)
{
    return (uint16_t)(v % 10 | (v / 10 % 10) << 4 | (v / 100 % 10) << 8 | (v / 1000 % 10) << 12);
}

/* Effective count of a written value: 0 means the modulus. */
static uint32_t count_of(const struct pit_counter *c, uint16_t raw)
{
    uint32_t v = (c->bcd ? from_bcd(raw) : raw) % modulus(c); /* invalid BCD digits wrap */
    return v ? v : modulus(c);
}

static bool periodic(const struct pit_counter *c)
{
    return c->mode == 2 || c->mode == 3;
}

/* Applies a count written during a mode 2/3 period once that period ended. */
static void sync(struct pit_counter *c, int64_t t)
{
    if (c->next_at >= 0 && t >= c->next_at) {
        c->n = c->next_n;
        c->start = c->next_at;
        c->delay = 0;
        c->next_at = -1;
    }
}

/* Decrements done since CE was loaded (negative before the load clock). */
static int64_t elapsed(const struct pit_counter *c, int64_t t)
{
    return t - c->start - c->delay;
}

static uint32_t mode3_ce(uint32_t n, int64_t d)
{
    uint32_t p = (uint32_t)(d % n), high = (n + 1) / 2, even = n & ~1u;
    if (p < high)
        return even - 2 * p;
    return even - 2 * (p - high);
}

static uint32_t ce_at(const struct pit_counter *c, int64_t t)
{
    int64_t d = elapsed(c, t);
    if (!c->counting)
        return c->hold;
    if (d < 0)
        return c->n % modulus(c);
    uint32_t m = modulus(c);
    switch (c->mode) {
    case 2:
        return c->n - (uint32_t)(d % c->n);
    case 3:
        return mode3_ce(c->n, d);
    default:
        return (uint32_t)(((int64_t)c->n - d % m + m) % m);
    }
}

static int out_at(const struct pit_counter *c, int64_t t)
{
    int64_t d = elapsed(c, t);
    switch (c->mode) {
    case 0:
        if (!c->loaded)
            return 0;
        return c->tc_done || (c->counting && d >= c->n);
    case 1:
        return !c->counting || d < 0 || d >= c->n;
    case 2:
        return !c->counting || d < 0 || ce_at(c, t) != 1;
    case 3:
        return !c->counting || d < 0 || (uint32_t)(d % c->n) < (c->n + 1) / 2;
    default: /* 4, 5: one-clock strobe at terminal count */
        return !c->counting || d != c->n;
    }
}

/* First tick > after at which OUT rises, or -1. */
static int64_t next_rise(const struct pit_counter *c, int64_t after)
{
    if (!c->counting)
        return -1;
    int64_t base = c->start + c->delay, e;
    if (periodic(c)) {
        int64_t k = after >= base ? (after - base) / c->n + 1 : 1;
        e = base + k * c->n;
        if (c->next_at >= 0 && e > c->next_at)
            e = c->next_at + c->next_n;
    } else if (c->mode == 0 || c->mode == 1) {
        e = c->tc_done ? -1 : base + c->n;
    } else {
        e = base + c->n + 1;
    }
    return e > after ? e : -1;
}

static void arm(struct pit *s)
{
    struct pit_counter *c = &s->c[0];
    int64_t t = now_tick(s);
    sync(c, t);
    s->edge = next_rise(c, t);
    if (s->edge < 0)
        timer_cancel(&s->timer);
    else
        timer_arm(&s->timer, tick_ns(s->edge));
}

static void timer_cb(void *opaque)
{
    struct pit *s = opaque;
    if (s->edge >= 0 && now_tick(s) >= s->edge) {
        irq_lower(s->irq0);
        irq_raise(s->irq0);
    }
    arm(s);
}

/* Starts counting n from tick t (the next CLK loads CE). */
static void start(struct pit_counter *c, int64_t t, uint32_t n)
{
    c->n = n;
    c->start = t;
    c->delay = 1;
    c->counting = true;
    c->tc_done = false;
    c->next_at = -1;
}

/* A count has been completely written. */
static void count_written(struct pit *s, int idx, int64_t t)
{
    struct pit_counter *c = &s->c[idx];
    uint32_t n = count_of(c, c->cr);
    bool was = c->loaded;
    c->loaded = true;
    c->loads_at = t + 1;
    if (c->mode == 1 || c->mode == 5) {
        c->loads_at = INT64_MAX; /* CR waits for the next gate trigger */
    } else if (periodic(c) && was && c->counting) {
        int64_t base = c->start + c->delay, d = t - base;
        c->next_n = n;
        c->next_at = d < 0 ? base : base + (d / c->n + 1) * c->n;
        c->loads_at = c->next_at;
    } else if (c->gate || c->mode == 0 || c->mode == 4) {
        start(c, t, n);
        if (!c->gate) { /* modes 0/4 with gate low: loaded but held */
            c->counting = false;
            c->hold = n % modulus(c);
        }
    }
    if (idx == 0)
        irq_set(s->irq0, out_at(c, t));
}

static void write_count(struct pit *s, int idx, uint8_t v)
{
    struct pit_counter *c = &s->c[idx];
    int64_t t = now_tick(s);
    sync(c, t);
    switch (c->rw) {
    case RW_LSB:
        c->cr = v;
        break;
    case RW_MSB:
        c->cr = (uint16_t)(v << 8);
        break;
    default:
        if (!c->write_msb) {
            c->cr = (uint16_t)((c->cr & 0xff00) | v);
            c->write_msb = true;
            if (c->mode == 0) { /* writing the first byte stops counting, OUT low */
                c->hold = ce_at(c, t);
                c->counting = false;
                c->tc_done = false;
                if (idx == 0)
                    irq_lower(s->irq0);
            }
            return;
        }
        c->cr = (uint16_t)((c->cr & 0xff) | v << 8);
        c->write_msb = false;
    }
    count_written(s, idx, t);
    if (idx == 0)
        arm(s);
}

static uint16_t ce_visible(struct pit *s, struct pit_counter *c)
{
    int64_t t = now_tick(s);
    sync(c, t);
    uint32_t v = ce_at(c, t) % modulus(c);
    return c->bcd ? to_bcd(v) : (uint16_t)v;
}

static void latch_count(struct pit *s, struct pit_counter *c)
{
    if (c->count_latched)
        return;
    c->latch = ce_visible(s, c);
    c->count_latched = true;
    c->read_msb = false;
}

static void latch_status(struct pit *s, struct pit_counter *c)
{
    if (c->status_latched)
        return;
    int64_t t = now_tick(s);
    sync(c, t);
    c->status = (uint8_t)((out_at(c, t) ? PIT_ST_OUT : 0) | (t < c->loads_at ? PIT_ST_NULL : 0) |
                          c->rw << 4 | c->mode << 1 | c->bcd);
    c->status_latched = true;
}

static void control_word(struct pit *s, uint8_t v)
{
    int sc = PIT_CW_SC(v);
    if (sc == 3) { /* read-back */
        for (int i = 0; i < 3; i++) {
            if (!((v >> (i + 1)) & 1))
                continue;
            if (!(v & PIT_RB_NOSTATUS))
                latch_status(s, &s->c[i]);
            if (!(v & PIT_RB_NOCOUNT))
                latch_count(s, &s->c[i]);
        }
        return;
    }
    struct pit_counter *c = &s->c[sc];
    if (PIT_CW_RW(v) == RW_LATCH) {
        latch_count(s, c);
        return;
    }
    int64_t t = now_tick(s);
    sync(c, t);
    c->hold = ce_at(c, t);
    c->rw = PIT_CW_RW(v);
    c->mode = PIT_CW_M(v) > 5 ? PIT_CW_M(v) - 4 : PIT_CW_M(v);
    c->bcd = v & PIT_CW_BCD;
    c->loaded = c->counting = c->tc_done = false;
    c->loads_at = INT64_MAX;
    c->write_msb = c->read_msb = false;
    c->count_latched = c->status_latched = false;
    c->next_at = -1;
    if (trace_on(TRACE_PIT))
        trace_printf(TRACE_PIT, "counter %d mode %d rw %d%s\n", sc, c->mode, c->rw,
                     c->bcd ? " bcd" : "");
    if (sc == 0) {
        irq_set(s->irq0, out_at(c, t));
        arm(s);
    }
}

static uint8_t read_counter(struct pit *s, struct pit_counter *c)
{
    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    uint16_t v = c->count_latched ? c->latch : ce_visible(s, c);
    uint8_t r;
    switch (c->rw) {
    case RW_MSB:
        r = (uint8_t)(v >> 8);
        c->count_latched = false;
        break;
    case RW_WORD:
        r = (uint8_t)(c->read_msb ? v >> 8 : v);
        c->read_msb = !c->read_msb;
        if (!c->read_msb)
            c->count_latched = false;
        break;
    default:
        r = (uint8_t)v;
        c->count_latched = false;
    }
    return r;
}

static uint64_t pit_read(void *opaque, uint64_t offset, unsigned size)
{
    struct pit *s = opaque;
    return offset < 3 ? read_counter(s, &s->c[offset]) : 0xff;
}

static void pit_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct pit *s = opaque;
    if (offset == 3)
        control_word(s, (uint8_t)value);
    else
        write_count(s, (int)offset, (uint8_t)value);
}

/* Counter 2's GATE input (port 0x61 bit 0). */
static void set_gate(struct pit *s, struct pit_counter *c, bool gate)
{
    int64_t t = now_tick(s);
    sync(c, t);
    if (gate == c->gate)
        return;
    c->gate = gate;
    if (!c->loaded)
        return;
    if (!gate) {
        if (c->mode == 0 || c->mode == 4 || periodic(c)) {
            c->tc_done = c->mode == 0 && out_at(c, t);
            c->hold = ce_at(c, t);
            c->counting = false;
        }
        return;
    }
    if (c->mode == 0 || c->mode == 4) { /* resume from the held CE */
        bool tc = c->tc_done;
        uint32_t h = c->hold ? c->hold : modulus(c);
        start(c, t, h);
        c->delay = 0;
        c->tc_done = tc;
    } else { /* rising edge: modes 1, 2, 3, 5 (re)trigger with the count register */
        start(c, t, count_of(c, c->cr));
        c->loads_at = t + 1;
    }
}

static uint64_t portb_read(void *opaque, uint64_t offset, unsigned size)
{
    struct pit *s = opaque;
    int64_t ns = clock_now_ns(s->clock);
    uint8_t v = (uint8_t)((s->c[2].gate ? PORTB_GATE2 : 0) | (s->speaker ? PORTB_SPKR : 0));
    if ((ns / REFRESH_NS) & 1)
        v |= PORTB_REFRESH;
    if (pit_out(s, 2))
        v |= PORTB_OUT2;
    return v;
}

static void portb_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct pit *s = opaque;
    s->speaker = value & PORTB_SPKR;
    set_gate(s, &s->c[2], value & PORTB_GATE2);
}

static const struct bus_ops pit_ops = {pit_read, pit_write, 1, 1};
static const struct bus_ops portb_ops = {portb_read, portb_write, 1, 1};

int pit_out(struct pit *pit, int n)
{
    struct pit_counter *c = &pit->c[n];
    int64_t t = now_tick(pit);
    sync(c, t);
    return out_at(c, t);
}

void pit_reset(struct pit *pit)
{
    for (int i = 0; i < 3; i++) {
        pit->c[i] = (struct pit_counter){
            .gate = i != 2, .next_at = -1, .n = 65536, .loads_at = INT64_MAX};
    }
    pit->speaker = false;
    pit->edge = -1;
    timer_cancel(&pit->timer);
    irq_lower(pit->irq0);
}

struct pit *pit_new(struct bus *bus, struct clock *clock, struct irq irq0)
{
    struct pit *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->bus = bus;
    s->clock = clock;
    s->irq0 = irq0;
    timer_init(&s->timer, clock, timer_cb, s);
    pit_reset(s);
    if (bus_map_pio(bus, 0x40, 4, &pit_ops, s, "pit") < 0) {
        free(s);
        return NULL;
    }
    if (bus_map_pio(bus, 0x61, 1, &portb_ops, s, "port61") < 0) {
        bus_unmap_pio(bus, 0x40);
        free(s);
        return NULL;
    }
    return s;
}

void pit_free(struct pit *pit)
{
    if (!pit)
        return;
    timer_cancel(&pit->timer);
    bus_unmap_pio(pit->bus, 0x40);
    bus_unmap_pio(pit->bus, 0x61);
    free(pit);
}

/* ---- suspend state (devices/state.h), section version 1 ---- */

/* Ticks are saved relative to the clock's now: a resumed counter continues where it was. */
#define PIT_REL_MAX (INT64_C(1) << 60)
#define PIT_F_BCD 0x001
#define PIT_F_GATE 0x002
#define PIT_F_LOADED 0x004
#define PIT_F_COUNTING 0x008
#define PIT_F_TC_DONE 0x010
#define PIT_F_WRITE_MSB 0x020
#define PIT_F_READ_MSB 0x040
#define PIT_F_COUNT_LATCHED 0x080
#define PIT_F_STATUS_LATCHED 0x100
#define PIT_F_NOT_LOADING 0x200 /* loads_at is "not yet" */
#define PIT_F_NO_NEXT 0x400     /* next_at is "none" */
#define PIT_F_ALL 0x7ff

static uint16_t counter_flags(const struct pit_counter *c)
{
    return (uint16_t)((c->bcd ? PIT_F_BCD : 0) | (c->gate ? PIT_F_GATE : 0) |
                      (c->loaded ? PIT_F_LOADED : 0) | (c->counting ? PIT_F_COUNTING : 0) |
                      (c->tc_done ? PIT_F_TC_DONE : 0) | (c->write_msb ? PIT_F_WRITE_MSB : 0) |
                      (c->read_msb ? PIT_F_READ_MSB : 0) |
                      (c->count_latched ? PIT_F_COUNT_LATCHED : 0) |
                      (c->status_latched ? PIT_F_STATUS_LATCHED : 0) |
                      (c->loads_at == INT64_MAX ? PIT_F_NOT_LOADING : 0) |
                      (c->next_at < 0 ? PIT_F_NO_NEXT : 0));
}

int pit_save(struct pit *pit, struct state_writer *w)
{
    int64_t now = now_tick(pit);
    for (int i = 0; i < 3; i++) {
        const struct pit_counter *c = &pit->c[i];
        state_put_u8(w, c->mode);
        state_put_u8(w, c->rw);
        state_put_u16(w, counter_flags(c));
        state_put_i64(w, c->loads_at == INT64_MAX ? 0 : c->loads_at - now);
        state_put_u32(w, c->n);
        state_put_i64(w, c->start - now);
        state_put_u8(w, (uint8_t)c->delay);
        state_put_u32(w, c->hold);
        state_put_u32(w, c->next_n);
        state_put_i64(w, c->next_at < 0 ? 0 : c->next_at - now);
        state_put_u16(w, c->cr);
        state_put_u16(w, c->latch);
        state_put_u8(w, c->status);
    }
    state_put_u8(w, pit->speaker);
    return 0;
}

static bool rel_ok(int64_t v)
{
    return v >= -PIT_REL_MAX && v <= PIT_REL_MAX;
}

static int counter_load(struct pit_counter *c, int64_t now, struct state_reader *r)
{
    uint8_t mode, rw, delay, status;
    uint16_t flags, cr, latch;
    int64_t loads_at, start, next_at;
    uint32_t n, hold, next_n;
    state_get_u8(r, &mode);
    state_get_u8(r, &rw);
    state_get_u16(r, &flags);
    state_get_i64(r, &loads_at);
    state_get_u32(r, &n);
    state_get_i64(r, &start);
    state_get_u8(r, &delay);
    state_get_u32(r, &hold);
    state_get_u32(r, &next_n);
    state_get_i64(r, &next_at);
    state_get_u16(r, &cr);
    state_get_u16(r, &latch);
    if (state_get_u8(r, &status) < 0)
        return -1;
    if (mode > 5 || rw > 3 || (flags & ~PIT_F_ALL) || n < 1 || n > 65536 || delay > 1 ||
        hold > 65536 || next_n > 65536 || !rel_ok(loads_at) || !rel_ok(start) || !rel_ok(next_at))
        return -1;
    *c = (struct pit_counter){
        .mode = mode, .rw = rw, .n = n, .delay = delay, .hold = hold, .next_n = next_n,
        .cr = cr, .latch = latch, .status = status,
        .loads_at = flags & PIT_F_NOT_LOADING ? INT64_MAX : now + loads_at,
        .start = now + start,
        .next_at = flags & PIT_F_NO_NEXT ? -1 : now + next_at,
    };
    c->bcd = flags & PIT_F_BCD;
    c->gate = flags & PIT_F_GATE;
    c->loaded = flags & PIT_F_LOADED;
    c->counting = flags & PIT_F_COUNTING;
    c->tc_done = flags & PIT_F_TC_DONE;
    c->write_msb = flags & PIT_F_WRITE_MSB;
    c->read_msb = flags & PIT_F_READ_MSB;
    c->count_latched = flags & PIT_F_COUNT_LATCHED;
    c->status_latched = flags & PIT_F_STATUS_LATCHED;
    return 0;
}

int pit_load(struct pit *pit, struct state_reader *r, struct error *err)
{
    struct pit_counter c[3];
    uint8_t speaker;
    int64_t now = now_tick(pit);
    for (int i = 0; i < 3; i++)
        if (counter_load(&c[i], now, r) < 0)
            return error_set(err, EX_DATAERR, "counter %d: %s", i,
                             r->failed ? "truncated" : "a register out of range");
    if (state_get_u8(r, &speaker) < 0 || speaker > 1)
        return error_set(err, EX_DATAERR, "port 0x61: truncated or out of range");
    for (int i = 0; i < 3; i++)
        pit->c[i] = c[i];
    pit->speaker = speaker;
    arm(pit);
    return 0;
}
