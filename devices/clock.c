/*
 * Virtual time and timers (see clock.h). Timers sit in a singly linked list
 * sorted by deadline: a PC has a handful of them, and arming is rare next to
 * the instructions executed between deadlines.
 */
#include "devices/clock.h"

#include <stdlib.h>
#include <time.h>

struct clock {
    enum clock_mode mode;
    unsigned ns_per_insn;
    int64_t det_now;      /* deterministic: current virtual time */
    int64_t host_base;    /* realtime: host time at virtual zero */
    int64_t paused_at;    /* realtime: host time when paused, or -1 */
    struct timer *timers; /* sorted by when */
};

int64_t clock_host_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct clock *clock_new(enum clock_mode mode, unsigned ns_per_insn)
{
    struct clock *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->mode = mode;
    c->ns_per_insn = ns_per_insn ? ns_per_insn : 1;
    c->host_base = clock_host_ns();
    c->paused_at = -1;
    return c;
}

void clock_free(struct clock *c)
{
    free(c);
}

enum clock_mode clock_mode(const struct clock *c)
{
    return c->mode;
}

int64_t clock_now_ns(struct clock *c)
{
    if (c->mode == CLOCK_DETERMINISTIC)
        return c->det_now;
    int64_t host = c->paused_at >= 0 ? c->paused_at : clock_host_ns();
    return host - c->host_base;
}

void clock_add_insns(struct clock *c, uint64_t n)
{
    if (c->mode == CLOCK_DETERMINISTIC)
        c->det_now += (int64_t)(n * c->ns_per_insn);
}

void clock_warp(struct clock *c, int64_t when)
{
    if (c->mode == CLOCK_DETERMINISTIC && when > c->det_now && when != CLOCK_NEVER)
        c->det_now = when;
}

void clock_pause(struct clock *c)
{
    if (c->mode == CLOCK_REALTIME && c->paused_at < 0)
        c->paused_at = clock_host_ns();
}

void clock_resume(struct clock *c)
{
    if (c->mode == CLOCK_REALTIME && c->paused_at >= 0) {
        c->host_base += clock_host_ns() - c->paused_at;
        c->paused_at = -1;
    }
}

void timer_init(struct timer *t, struct clock *c, void (*cb)(void *opaque), void *opaque)
{
    t->when = CLOCK_NEVER;
    t->cb = cb;
    t->opaque = opaque;
    t->clock = c;
    t->next = NULL;
    t->armed = false;
}

void timer_cancel(struct timer *t)
{
    if (!t->armed)
        return;
    for (struct timer **p = &t->clock->timers; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    t->next = NULL;
    t->armed = false;
}

void timer_arm(struct timer *t, int64_t when_ns)
{
    timer_cancel(t);
    t->when = when_ns;
    struct timer **p = &t->clock->timers;
    while (*p && (*p)->when <= when_ns) /* equal deadlines keep arming order */
        p = &(*p)->next;
    t->next = *p;
    *p = t;
    t->armed = true;
}

int64_t clock_next_deadline(struct clock *c)
{
    return c->timers ? c->timers->when : CLOCK_NEVER;
}

int clock_run_timers(struct clock *c)
{
    int fired = 0;
    int64_t now = clock_now_ns(c);
    /* A callback that keeps re-arming in the past cannot hold the loop forever. */
    while (c->timers && c->timers->when <= now && fired < 10000) {
        struct timer *t = c->timers;
        c->timers = t->next;
        t->next = NULL;
        t->armed = false;
        t->cb(t->opaque);
        fired++;
    }
    return fired;
}
