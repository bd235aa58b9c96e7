/*
 * The framebuffer handoff between the machine thread and the front end (see
 * display.h): one shared frame behind a mutex, dirty rows accumulated until
 * the front end takes them, an atomic generation so that polling an
 * unchanged screen takes no lock, and the text screen in CP437 with its
 * UTF-8 readback.
 */
#include "devices/display.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "formats/png.h"

struct display {
    pthread_mutex_t lock;
    struct framebuffer frame; /* shared copy; dirty = not yet taken by the front end */
    bool resized;
    uint8_t *text;            /* rows*cols CP437 codes */
    unsigned text_rows, text_cols;
    _Atomic uint64_t generation;
    _Atomic unsigned refresh_hz;
    _Atomic int state;
};

int framebuffer_resize(struct framebuffer *fb, unsigned width, unsigned height)
{
    if (width == 0 || height == 0 || width > DISPLAY_MAX_WIDTH || height > DISPLAY_MAX_HEIGHT)
        return -1;
    size_t stride = (size_t)width * 4;
    uint32_t *px = malloc(stride * height);
    uint8_t *dirty = malloc(height);
    if (!px || !dirty) {
        free(px);
        free(dirty);
        return -1;
    }
    memset(px, 0, stride * height);
    framebuffer_release(fb);
    fb->width = width;
    fb->height = height;
    fb->stride = stride;
    fb->pixels = px;
    fb->dirty = dirty;
    framebuffer_mark_all(fb);
    return 0;
}

void framebuffer_release(struct framebuffer *fb)
{
    free(fb->pixels);
    free(fb->dirty);
    memset(fb, 0, sizeof *fb);
}

void framebuffer_mark_all(struct framebuffer *fb)
{
    if (fb->dirty)
        memset(fb->dirty, 1, fb->height);
}

struct display *display_new(void)
{
    struct display *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    pthread_mutex_init(&d->lock, NULL);
    atomic_init(&d->generation, 0);
    atomic_init(&d->refresh_hz, 60);
    atomic_init(&d->state, DISPLAY_RUNNING);
    return d;
}

void display_free(struct display *d)
{
    if (!d)
        return;
    framebuffer_release(&d->frame);
    free(d->text);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static bool any_dirty(const struct framebuffer *fb)
{
    return memchr(fb->dirty, 1, fb->height) != NULL;
}

int display_publish(struct display *d, struct framebuffer *src)
{
    if (!src->pixels)
        return 0;
    bool same = d->frame.width == src->width && d->frame.height == src->height;
    if (same && !any_dirty(src))
        return 0;
    pthread_mutex_lock(&d->lock);
    if (!same) {
        if (framebuffer_resize(&d->frame, src->width, src->height) < 0) {
            pthread_mutex_unlock(&d->lock);
            return -1;
        }
        d->resized = true;
        framebuffer_mark_all(src);
    }
    int copied = 0;
    size_t bytes = (size_t)src->width * 4;
    for (unsigned y = 0; y < src->height; y++) {
        if (!src->dirty[y])
            continue;
        memcpy(framebuffer_row(&d->frame, y), framebuffer_row(src, y), bytes);
        d->frame.dirty[y] = 1;
        src->dirty[y] = 0;
        copied++;
    }
    atomic_fetch_add(&d->generation, 1);
    pthread_mutex_unlock(&d->lock);
    return copied;
}

void display_publish_text(struct display *d, unsigned rows, unsigned cols, const uint8_t *chars)
{
    size_t n = (size_t)rows * cols;
    pthread_mutex_lock(&d->lock);
    if (rows != d->text_rows || cols != d->text_cols) {
        uint8_t *t = n ? malloc(n) : NULL;
        if (n && !t)
            rows = cols = n = 0;
        free(d->text);
        d->text = t;
        d->text_rows = rows;
        d->text_cols = cols;
    }
    if (n)
        memcpy(d->text, chars, n);
    pthread_mutex_unlock(&d->lock);
}

void display_set_refresh_hz(struct display *d, unsigned hz)
{
    atomic_store(&d->refresh_hz, hz ? hz : 60);
}

void display_set_state(struct display *d, enum display_state st)
{
    atomic_store(&d->state, (int)st);
    atomic_fetch_add(&d->generation, 1);
}

uint64_t display_generation(struct display *d)
{
    return atomic_load(&d->generation);
}

unsigned display_refresh_hz(struct display *d)
{
    return atomic_load(&d->refresh_hz);
}

enum display_state display_get_state(struct display *d)
{
    return (enum display_state)atomic_load(&d->state);
}

void display_acquire(struct display *d, struct display_frame *f)
{
    pthread_mutex_lock(&d->lock);
    f->width = d->frame.width;
    f->height = d->frame.height;
    f->stride = d->frame.stride;
    f->pixels = d->frame.pixels;
    f->dirty = d->frame.dirty;
    f->resized = d->resized;
    f->generation = atomic_load(&d->generation);
}

void display_release(struct display *d)
{
    if (d->frame.dirty)
        memset(d->frame.dirty, 0, d->frame.height);
    d->resized = false;
    pthread_mutex_unlock(&d->lock);
}

int display_snapshot(struct display *d, struct framebuffer *dst)
{
    pthread_mutex_lock(&d->lock);
    int rc = -1;
    if (d->frame.pixels && (dst->width == d->frame.width && dst->height == d->frame.height
                            ? 0 : framebuffer_resize(dst, d->frame.width, d->frame.height)) == 0) {
        for (unsigned y = 0; y < dst->height; y++)
            memcpy(framebuffer_row(dst, y), framebuffer_row(&d->frame, y), (size_t)dst->width * 4);
        framebuffer_mark_all(dst);
        rc = 0;
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int display_write_png(struct display *d, const char *path, struct error *err)
{
    struct framebuffer fb = {0};
    if (display_snapshot(d, &fb) < 0)
        return error_set(err, EX_SOFTWARE, "%s: the guest has shown no picture yet", path);
    int rc = png_write_xrgb(path, fb.pixels, fb.width, fb.height, fb.stride, err);
    framebuffer_release(&fb);
    return rc;
}

/* Code page 437 from 0x80 (the VGA ROM font's upper half) and its pictures for 0x01..0x1F, 0x7F. */
static const uint16_t cp437_low[32] = {
    0x0020, 0x263A, 0x263B, 0x2665, 0x2666, 0x2663, 0x2660, 0x2022, 0x25D8, 0x25CB, 0x25D9,
    0x2642, 0x2640, 0x266A, 0x266B, 0x263C, 0x25BA, 0x25C4, 0x2195, 0x203C, 0x00B6, 0x00A7,
    0x25AC, 0x21A8, 0x2191, 0x2193, 0x2192, 0x2190, 0x221F, 0x2194, 0x25B2, 0x25BC,
};
static const uint16_t cp437_high[128] = {
    0x00C7, 0x00FC, 0x00E9, 0x00E2, 0x00E4, 0x00E0, 0x00E5, 0x00E7, /* 0x80 */
    0x00EA, 0x00EB, 0x00E8, 0x00EF, 0x00EE, 0x00EC, 0x00C4, 0x00C5,
    0x00C9, 0x00E6, 0x00C6, 0x00F4, 0x00F6, 0x00F2, 0x00FB, 0x00F9, /* 0x90 */
    0x00FF, 0x00D6, 0x00DC, 0x00A2, 0x00A3, 0x00A5, 0x20A7, 0x0192,
    0x00E1, 0x00ED, 0x00F3, 0x00FA, 0x00F1, 0x00D1, 0x00AA, 0x00BA, /* 0xA0 */
    0x00BF, 0x2310, 0x00AC, 0x00BD, 0x00BC, 0x00A1, 0x00AB, 0x00BB,
    0x2591, 0x2592, 0x2593, 0x2502, 0x2524, 0x2561, 0x2562, 0x2556, /* 0xB0 */
    0x2555, 0x2563, 0x2551, 0x2557, 0x255D, 0x255C, 0x255B, 0x2510,
    0x2514, 0x2534, 0x252C, 0x251C, 0x2500, 0x253C, 0x255E, 0x255F, /* 0xC0 */
    0x255A, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550, 0x256C, 0x2567,
    0x2568, 0x2564, 0x2565, 0x2559, 0x2558, 0x2552, 0x2553, 0x256B, /* 0xD0 */
    0x256A, 0x2518, 0x250C, 0x2588, 0x2584, 0x258C, 0x2590, 0x2580,
    0x03B1, 0x00DF, 0x0393, 0x03C0, 0x03A3, 0x03C3, 0x00B5, 0x03C4, /* 0xE0 */
    0x03A6, 0x0398, 0x03A9, 0x03B4, 0x221E, 0x03C6, 0x03B5, 0x2229,
    0x2261, 0x00B1, 0x2265, 0x2264, 0x2320, 0x2321, 0x00F7, 0x2248, /* 0xF0 */
    0x00B0, 0x2219, 0x00B7, 0x221A, 0x207F, 0x00B2, 0x25A0, 0x00A0,
};

uint32_t cp437_to_unicode(uint8_t c)
{
    if (c < 0x20)
        return cp437_low[c];
    if (c == 0x7F)
        return 0x2302;
    if (c >= 0x80)
        return cp437_high[c - 0x80];
    return c;
}

static size_t utf8_put(char *p, uint32_t u)
{
    if (u < 0x80) {
        p[0] = (char)u;
        return 1;
    }
    if (u < 0x800) {
        p[0] = (char)(0xC0 | u >> 6);
        p[1] = (char)(0x80 | (u & 0x3F));
        return 2;
    }
    p[0] = (char)(0xE0 | u >> 12);
    p[1] = (char)(0x80 | ((u >> 6) & 0x3F));
    p[2] = (char)(0x80 | (u & 0x3F));
    return 3;
}

char *display_text_utf8(struct display *d)
{
    pthread_mutex_lock(&d->lock);
    size_t cap = (size_t)d->text_rows * (d->text_cols * 3 + 1) + 1;
    char *out = malloc(cap);
    if (out) {
        char *p = out;
        for (unsigned r = 0; r < d->text_rows; r++) {
            const uint8_t *row = d->text + (size_t)r * d->text_cols;
            unsigned n = d->text_cols;
            while (n > 0 && (row[n - 1] == ' ' || row[n - 1] == 0 || row[n - 1] == 0xFF))
                n--;
            for (unsigned c = 0; c < n; c++)
                p += utf8_put(p, cp437_to_unicode(row[c]));
            *p++ = '\n';
        }
        *p = 0;
    }
    pthread_mutex_unlock(&d->lock);
    return out;
}
