/*
 * The input queue (see input.h): a fixed ring of events behind a mutex,
 * drained in order by the machine thread, with the set of keys the guest
 * holds kept on the drain side for "release all".
 */
#include "devices/input.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_LEN 1024
#define HELD_MAX 64

struct input_queue {
    pthread_mutex_t lock;
    struct input_event ring[QUEUE_LEN];
    unsigned head, count;
    void (*notify)(void *opaque);
    void *notify_opaque;
    _Atomic bool absolute;
    /* drain side (machine thread only) */
    uint32_t held[HELD_MAX];
    unsigned nheld;
    uint8_t buttons;
};

struct input_queue *input_queue_new(void)
{
    struct input_queue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    pthread_mutex_init(&q->lock, NULL);
    atomic_init(&q->absolute, false);
    return q;
}

void input_queue_free(struct input_queue *q)
{
    if (!q)
        return;
    pthread_mutex_destroy(&q->lock);
    free(q);
}

/* Merges relative motion into the newest queued event when it has the same buttons. */
static bool merge_motion(struct input_queue *q, const struct input_event *e)
{
    if (e->kind != INPUT_MOUSE_REL || q->count == 0)
        return false;
    struct input_event *last = &q->ring[(q->head + q->count - 1) % QUEUE_LEN];
    if (last->kind != INPUT_MOUSE_REL || last->buttons != e->buttons)
        return false;
    last->dx += e->dx;
    last->dy += e->dy;
    last->dz += e->dz;
    return true;
}

int input_post(struct input_queue *q, const struct input_event *e)
{
    int rc = 0;
    pthread_mutex_lock(&q->lock);
    if (q->count < QUEUE_LEN)
        q->ring[(q->head + q->count++) % QUEUE_LEN] = *e;
    else if (!merge_motion(q, e))
        rc = -1;
    void (*fn)(void *) = q->notify;
    void *opaque = q->notify_opaque;
    pthread_mutex_unlock(&q->lock);
    if (fn)
        fn(opaque);
    return rc;
}

int input_key(struct input_queue *q, uint32_t usage, bool down)
{
    struct input_event e = {.kind = INPUT_KEY, .usage = usage, .down = down};
    return input_post(q, &e);
}

int input_mouse_rel(struct input_queue *q, int dx, int dy, int dz, unsigned buttons)
{
    struct input_event e = {.kind = INPUT_MOUSE_REL, .dx = dx, .dy = dy, .dz = dz,
                            .buttons = (uint8_t)buttons};
    return input_post(q, &e);
}

int input_mouse_abs(struct input_queue *q, unsigned x, unsigned y, int dz, unsigned buttons)
{
    struct input_event e = {.kind = INPUT_MOUSE_ABS, .dz = dz, .buttons = (uint8_t)buttons,
                            .x = x > INPUT_ABS_MAX ? INPUT_ABS_MAX : x,
                            .y = y > INPUT_ABS_MAX ? INPUT_ABS_MAX : y};
    return input_post(q, &e);
}

static int post_kind(struct input_queue *q, enum input_kind k)
{
    struct input_event e = {.kind = k};
    return input_post(q, &e);
}

int input_release_all(struct input_queue *q)
{
    return post_kind(q, INPUT_RELEASE_ALL);
}

int input_power_button(struct input_queue *q)
{
    return post_kind(q, INPUT_POWER_BUTTON);
}

int input_power_off(struct input_queue *q)
{
    return post_kind(q, INPUT_POWER_OFF);
}

int input_display_size(struct input_queue *q, unsigned w, unsigned h)
{
    struct input_event e = {.kind = INPUT_DISPLAY_SIZE, .x = w, .y = h};
    return input_post(q, &e);
}

bool input_pointer_absolute(struct input_queue *q)
{
    return atomic_load(&q->absolute);
}

void input_set_pointer_absolute(struct input_queue *q, bool absolute)
{
    atomic_store(&q->absolute, absolute);
}

void input_set_notify(struct input_queue *q, void (*fn)(void *opaque), void *opaque)
{
    pthread_mutex_lock(&q->lock);
    q->notify = fn;
    q->notify_opaque = opaque;
    pthread_mutex_unlock(&q->lock);
}

unsigned input_keys_held(struct input_queue *q)
{
    return q->nheld;
}

/* Keeps the set of held keys (an auto-repeated press is delivered but tracked once). */
static void track_key(struct input_queue *q, uint32_t usage, bool down)
{
    for (unsigned i = 0; i < q->nheld; i++) {
        if (q->held[i] != usage)
            continue;
        if (!down)
            q->held[i] = q->held[--q->nheld];
        return;
    }
    if (down && q->nheld < HELD_MAX)
        q->held[q->nheld++] = usage;
}

static void release_all(struct input_queue *q, const struct input_sink *s)
{
    while (q->nheld > 0) {
        uint32_t u = q->held[--q->nheld];
        if (s->key)
            s->key(s->opaque, u, false);
    }
    if (q->buttons && s->mouse_rel)
        s->mouse_rel(s->opaque, 0, 0, 0, 0);
    q->buttons = 0;
}

static void deliver(struct input_queue *q, const struct input_sink *s, const struct input_event *e)
{
    switch (e->kind) {
    case INPUT_KEY:
        track_key(q, e->usage, e->down);
        if (s->key)
            s->key(s->opaque, e->usage, e->down);
        break;
    case INPUT_MOUSE_REL:
        q->buttons = e->buttons;
        if (s->mouse_rel)
            s->mouse_rel(s->opaque, e->dx, e->dy, e->dz, e->buttons);
        break;
    case INPUT_MOUSE_ABS:
        if (s->mouse_abs)
            s->mouse_abs(s->opaque, e->x, e->y, e->dz, e->buttons);
        break;
    case INPUT_RELEASE_ALL:
        release_all(q, s);
        break;
    case INPUT_POWER_BUTTON:
        if (s->power_button)
            s->power_button(s->opaque);
        break;
    case INPUT_POWER_OFF:
        if (s->power_off)
            s->power_off(s->opaque);
        break;
    case INPUT_DISPLAY_SIZE:
        if (s->display_size)
            s->display_size(s->opaque, e->x, e->y);
        break;
    }
}

unsigned input_drain(struct input_queue *q, const struct input_sink *sink)
{
    struct input_event batch[64];
    unsigned total = 0;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        unsigned n = q->count < 64 ? q->count : 64;
        for (unsigned i = 0; i < n; i++)
            batch[i] = q->ring[(q->head + i) % QUEUE_LEN];
        q->head = (q->head + n) % QUEUE_LEN;
        q->count -= n;
        pthread_mutex_unlock(&q->lock);
        if (n == 0)
            return total;
        for (unsigned i = 0; i < n; i++)
            deliver(q, sink, &batch[i]);
        total += n;
    }
}
