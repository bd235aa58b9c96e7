/*
 * Virtual time, in nanoseconds since power-on, and timers with deadlines.
 *
 * Realtime mode follows the host's monotonic clock (minus paused time).
 * Deterministic mode advances only with the instructions the CPU retires
 * (clock_add_insns) and jumps forward when the CPU idles (clock_warp), so a
 * run is identical every time. Timers are kept sorted by deadline; the
 * machine loop runs the CPU until clock_next_deadline() and then
 * clock_run_timers(), which fires every due timer in deadline order.
 * A timer callback may re-arm its own or any other timer.
 */
#ifndef VMPLAY_CLOCK_H
#define VMPLAY_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define CLOCK_NEVER INT64_MAX

enum clock_mode { CLOCK_MODE_REALTIME = 0, CLOCK_MODE_DETERMINISTIC = 1 };
/* Short names. CLOCK_REALTIME is <time.h>'s clock id, a macro whichever header
 * comes first; it is 0 like CLOCK_MODE_REALTIME, so both spellings work. */
#define CLOCK_DETERMINISTIC CLOCK_MODE_DETERMINISTIC
_Static_assert(CLOCK_REALTIME == CLOCK_MODE_REALTIME, "CLOCK_REALTIME must be 0");

struct clock;

struct timer {
    int64_t when;
    void (*cb)(void *opaque);
    void *opaque;
    struct clock *clock;
    struct timer *next;
    bool armed;
};

/* ns_per_insn: virtual time per retired instruction in deterministic mode. */
struct clock *clock_new(enum clock_mode mode, unsigned ns_per_insn);
void clock_free(struct clock *c);
enum clock_mode clock_mode(const struct clock *c);

int64_t clock_now_ns(struct clock *c);
/* Deterministic mode: instructions retired since the last call (no-op in realtime mode). */
void clock_add_insns(struct clock *c, uint64_t n);
/* Moves time forward to when (idle CPU in deterministic mode; no-op if when is past or realtime). */
void clock_warp(struct clock *c, int64_t when);
/* Realtime mode: stop and restart the flow of guest time (paused VM). */
void clock_pause(struct clock *c);
void clock_resume(struct clock *c);

void timer_init(struct timer *t, struct clock *c, void (*cb)(void *opaque), void *opaque);
void timer_arm(struct timer *t, int64_t when_ns);
void timer_cancel(struct timer *t);
static inline bool timer_armed(const struct timer *t)
{
    return t->armed;
}

int64_t clock_next_deadline(struct clock *c);
/* Fires due timers in deadline order; returns how many fired. */
int clock_run_timers(struct clock *c);

/* Nanoseconds of the host's monotonic clock (for pacing and benchmarks). */
int64_t clock_host_ns(void);

#endif
