/* devices/clock.c: virtual time in both modes, timers firing in deadline order. */
#include "devices/clock.h"
#include "tests/unit/test.h"

#include <time.h>

struct fired {
    int order[16];
    int n;
    int64_t at[16];
    struct clock *c;
};

struct tctx {
    struct fired *f;
    int id;
    struct timer *rearm; /* re-arm this timer 100 ns later when fired */
};

static void on_fire(void *opaque)
{
    struct tctx *t = opaque;
    t->f->at[t->f->n] = clock_now_ns(t->f->c);
    t->f->order[t->f->n++] = t->id;
    if (t->rearm)
        timer_arm(t->rearm, clock_now_ns(t->f->c) + 100);
}

static void check_deadline_order(struct clock *c, void (*advance)(struct clock *, int64_t))
{
    struct fired f = {.c = c};
    struct timer t[4];
    struct tctx ctx[4];
    int64_t base = clock_now_ns(c);
    /* 10 ms apart, so a slow host (sanitizers, load) cannot blur the order */
    int64_t when[4] = {30000000, 10000000, 40000000, 20000000};
    for (int i = 0; i < 4; i++) {
        ctx[i] = (struct tctx){&f, i, NULL};
        timer_init(&t[i], c, on_fire, &ctx[i]);
        timer_arm(&t[i], base + when[i]);
    }
    ASSERT_EQ(clock_next_deadline(c), base + 10000000);
    timer_cancel(&t[2]);
    ASSERT(!timer_armed(&t[2]));
    advance(c, base + 25000000);
    ASSERT_EQ(clock_run_timers(c), 2);
    ASSERT_EQ(f.order[0], 1);
    ASSERT_EQ(f.order[1], 3);
    ASSERT_EQ(clock_next_deadline(c), base + 30000000);
    advance(c, base + 50000000);
    ASSERT_EQ(clock_run_timers(c), 1);
    ASSERT_EQ(f.order[2], 0);
    ASSERT_EQ(clock_next_deadline(c), CLOCK_NEVER);
    ASSERT_EQ(clock_run_timers(c), 0);
}

static void det_advance(struct clock *c, int64_t to)
{
    clock_warp(c, to);
}

static void rt_advance(struct clock *c, int64_t to)
{
    while (clock_now_ns(c) < to) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
}

TEST(deterministic_timers_fire_in_deadline_order)
{
    struct clock *c = clock_new(CLOCK_DETERMINISTIC, 10);
    ASSERT_EQ(clock_now_ns(c), 0);
    check_deadline_order(c, det_advance);
    clock_free(c);
}

TEST(realtime_timers_fire_in_deadline_order)
{
    struct clock *c = clock_new(CLOCK_REALTIME, 0);
    check_deadline_order(c, rt_advance);
    clock_free(c);
}

TEST(deterministic_time_follows_instructions)
{
    struct clock *c = clock_new(CLOCK_DETERMINISTIC, 4);
    clock_add_insns(c, 1000);
    ASSERT_EQ(clock_now_ns(c), 4000);
    clock_warp(c, 3000); /* never backwards */
    ASSERT_EQ(clock_now_ns(c), 4000);
    clock_warp(c, 10000);
    ASSERT_EQ(clock_now_ns(c), 10000);
    clock_warp(c, CLOCK_NEVER); /* an idle CPU with no timers does not jump to infinity */
    ASSERT_EQ(clock_now_ns(c), 10000);
    clock_free(c);
}

TEST(realtime_pause_stops_time)
{
    struct clock *c = clock_new(CLOCK_REALTIME, 0);
    clock_pause(c);
    int64_t t0 = clock_now_ns(c);
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
    ASSERT_EQ(clock_now_ns(c), t0);
    clock_resume(c);
    int64_t t1 = clock_now_ns(c);
    ASSERT(t1 >= t0 && t1 - t0 < 4000000); /* the 5 ms paused did not count */
    clock_add_insns(c, 1000000); /* no effect in realtime mode */
    ASSERT(clock_now_ns(c) - t1 < 4000000);
    clock_free(c);
}

TEST(callback_may_rearm_and_equal_deadlines_keep_order)
{
    struct clock *c = clock_new(CLOCK_DETERMINISTIC, 1);
    struct fired f = {.c = c};
    struct timer a, b, d;
    struct tctx ca = {&f, 0, &a}, cb = {&f, 1, NULL}, cd = {&f, 2, NULL};
    timer_init(&a, c, on_fire, &ca);
    timer_init(&b, c, on_fire, &cb);
    timer_init(&d, c, on_fire, &cd);
    timer_arm(&b, 50);
    timer_arm(&d, 50);
    timer_arm(&a, 20);
    clock_warp(c, 50);
    /* a at 20 (re-arms at 150), then b and d at 50 in arming order */
    ASSERT_EQ(clock_run_timers(c), 3);
    ASSERT_EQ(f.order[0], 0);
    ASSERT_EQ(f.order[1], 1);
    ASSERT_EQ(f.order[2], 2);
    ASSERT_EQ(clock_next_deadline(c), 150);
    clock_free(c);
}
