/*
 * Input queue tests: order is kept, release-all lets go of exactly the keys
 * the guest holds (and the buttons), a full queue merges motion and refuses
 * keys, absolute events are dropped by a sink without an absolute pointer,
 * and a producer thread racing the drain loses and reorders nothing.
 */
#include "tests/unit/test.h"

#include <pthread.h>

#include "devices/input.h"

struct rec {
    uint32_t log[20000][4]; /* kind, usage or dx, down or buttons, dy */
    unsigned n;
    unsigned notified;
};

static void rec_key(void *o, uint32_t usage, bool down)
{
    struct rec *r = o;
    r->log[r->n][0] = 'k', r->log[r->n][1] = usage, r->log[r->n][2] = down;
    r->n++;
}

static void rec_rel(void *o, int dx, int dy, int dz, unsigned buttons)
{
    struct rec *r = o;
    r->log[r->n][0] = 'r', r->log[r->n][1] = (uint32_t)dx, r->log[r->n][2] = buttons;
    r->log[r->n][3] = (uint32_t)dy;
    r->n++;
    (void)dz;
}

static void rec_power(void *o)
{
    struct rec *r = o;
    r->log[r->n++][0] = 'p';
}

static struct rec rec;

static struct input_sink sink(void)
{
    struct input_sink s = {.key = rec_key, .mouse_rel = rec_rel, .power_button = rec_power,
                           .opaque = &rec};
    return s;
}

TEST(order_and_release_all)
{
    memset(&rec, 0, sizeof rec);
    struct input_queue *q = input_queue_new();
    struct input_sink s = sink();
    input_key(q, 0x04, true);
    input_key(q, HID_KEY_LEFTCTRL, true);
    input_key(q, INPUT_PAGE_CONSUMER | 0xE2, true);
    input_key(q, 0x04, true); /* auto-repeat */
    input_key(q, HID_KEY_LEFTCTRL, false);
    input_mouse_rel(q, 3, -4, 0, INPUT_BUTTON_LEFT);
    input_power_button(q);
    ASSERT_EQ(input_drain(q, &s), 7);
    ASSERT_EQ(rec.n, 7);
    ASSERT_EQ(rec.log[0][1], 0x04);
    ASSERT_EQ(rec.log[4][1], HID_KEY_LEFTCTRL);
    ASSERT_EQ(rec.log[4][2], 0);
    ASSERT_EQ(rec.log[5][1], 3);
    ASSERT_EQ((int32_t)rec.log[5][3], -4);
    ASSERT_EQ(rec.log[6][0], 'p');
    ASSERT_EQ(input_keys_held(q), 2);
    input_release_all(q);
    ASSERT_EQ(input_drain(q, &s), 1);
    ASSERT_EQ(rec.n, 10); /* 'a' up, mute up, buttons up */
    bool a_up = false, mute_up = false;
    for (unsigned i = 7; i < 9; i++) {
        ASSERT_EQ(rec.log[i][2], 0);
        a_up |= rec.log[i][1] == 0x04;
        mute_up |= rec.log[i][1] == (INPUT_PAGE_CONSUMER | 0xE2);
    }
    ASSERT(a_up && mute_up);
    ASSERT_EQ(rec.log[9][0], 'r');
    ASSERT_EQ(rec.log[9][2], 0);
    ASSERT_EQ(input_keys_held(q), 0);
    input_queue_free(q);
}

TEST(full_queue_merges_motion)
{
    memset(&rec, 0, sizeof rec);
    struct input_queue *q = input_queue_new();
    unsigned accepted = 0;
    for (unsigned i = 0; i < 2000; i++)
        accepted += input_mouse_rel(q, 1, 2, 0, 0) == 0;
    ASSERT_EQ(accepted, 2000);
    ASSERT_EQ(input_key(q, 0x05, true), -1);
    struct input_sink s = sink();
    ASSERT_EQ(input_drain(q, &s), 1024);
    int sx = 0, sy = 0;
    for (unsigned i = 0; i < rec.n; i++) {
        sx += (int)rec.log[i][1];
        sy += (int)rec.log[i][3];
    }
    ASSERT_EQ(sx, 2000);
    ASSERT_EQ(sy, 4000);
    input_queue_free(q);
}

TEST(absolute_needs_a_sink)
{
    memset(&rec, 0, sizeof rec);
    struct input_queue *q = input_queue_new();
    ASSERT(!input_pointer_absolute(q));
    input_set_pointer_absolute(q, true);
    ASSERT(input_pointer_absolute(q));
    input_mouse_abs(q, 0x12345, 100, 0, 0);
    struct input_sink s = sink();
    ASSERT_EQ(input_drain(q, &s), 1);
    ASSERT_EQ(rec.n, 0);
    input_queue_free(q);
}

static void *producer(void *arg)
{
    struct input_queue *q = arg;
    for (uint32_t i = 0; i < 10000; i++)
        while (input_key(q, i, (i & 1) != 0) < 0)
            ;
    return NULL;
}

static void count_notify(void *o)
{
    __atomic_fetch_add(&((struct rec *)o)->notified, 1, __ATOMIC_RELAXED);
}

TEST(concurrent_producer)
{
    memset(&rec, 0, sizeof rec);
    struct input_queue *q = input_queue_new();
    input_set_notify(q, count_notify, &rec);
    pthread_t t;
    pthread_create(&t, NULL, producer, q);
    struct input_sink s = sink();
    while (rec.n < 10000)
        input_drain(q, &s);
    pthread_join(t, NULL);
    for (uint32_t i = 0; i < 10000; i++)
        ASSERT_EQ(rec.log[i][1], i);
    ASSERT(rec.notified >= 10000);
    input_queue_free(q);
}
