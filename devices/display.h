/*
 * What a front end sees of the guest's screen: the contract between the
 * machine thread (the display device renders into its own framebuffer at each
 * refresh and publishes it here) and the front end (SDL window, headless
 * screenshots), which never touches device state.
 *
 * The handoff: display_publish() copies only the rows the device flagged
 * dirty into the shared frame under a mutex, ORs their flags into the shared
 * dirty set and bumps an atomic generation; nothing is locked or copied when
 * no row changed. The front end polls display_generation() without locking;
 * when it moved, display_acquire() locks the shared frame and hands out the
 * dirty rows, display_release() clears them and unlocks. An idle text screen
 * therefore costs one atomic load per front-end frame.
 *
 * The text screen (text modes only) is published as code page 437 characters
 * and read back as UTF-8 (--screen-text and tests). The machine's run state
 * (for the window title and to end the front end's loop) travels here too.
 */
#ifndef VMPLAY_DISPLAY_H
#define VMPLAY_DISPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/error.h"

#define DISPLAY_MAX_WIDTH 4096
#define DISPLAY_MAX_HEIGHT 4096

/* XRGB8888 pixels (0x00RRGGBB in a host-endian uint32_t), one dirty flag per row. */
struct framebuffer {
    unsigned width, height;
    size_t stride; /* bytes per row */
    uint32_t *pixels;
    uint8_t *dirty; /* height flags: nonzero = row changed since last published/taken */
};

/* Sizes fb (contents undefined, every row dirty). Returns 0, or -1 (ENOMEM / too large). */
int framebuffer_resize(struct framebuffer *fb, unsigned width, unsigned height);
void framebuffer_release(struct framebuffer *fb);
void framebuffer_mark_all(struct framebuffer *fb);
static inline uint32_t *framebuffer_row(const struct framebuffer *fb, unsigned y)
{
    return (uint32_t *)((uint8_t *)fb->pixels + (size_t)y * fb->stride);
}

enum display_state {
    DISPLAY_RUNNING,
    DISPLAY_PAUSED,
    DISPLAY_POWERED_OFF, /* guest off, machine may still restart it (kiosk) */
    DISPLAY_EXITED,      /* the machine thread is done: the front end leaves its loop */
};

struct display;

struct display *display_new(void);
void display_free(struct display *d);

/* ---- machine thread ---- */

/*
 * Publishes src: when its size changed the whole frame is copied, otherwise
 * only rows with src->dirty set. Clears src->dirty. Returns the number of rows
 * copied (0: nothing changed, no lock taken), or -1 when out of memory.
 */
int display_publish(struct display *d, struct framebuffer *src);
/* The text screen as CP437 codes, rows*cols bytes (rows = 0 in graphics modes). */
void display_publish_text(struct display *d, unsigned rows, unsigned cols, const uint8_t *chars);
void display_set_refresh_hz(struct display *d, unsigned hz);
void display_set_state(struct display *d, enum display_state st);

/* ---- front end (any thread) ---- */

/* Bumped by every publish that changed something (lock-free read). */
uint64_t display_generation(struct display *d);
unsigned display_refresh_hz(struct display *d);
enum display_state display_get_state(struct display *d);

/*
 * The shared frame, locked until display_release(). f->dirty[y] marks rows
 * changed since the last release; resized tells the size changed since then.
 * Hold it only to copy pixels out (e.g. into a texture).
 */
struct display_frame {
    unsigned width, height;
    size_t stride;
    const uint32_t *pixels;
    const uint8_t *dirty;
    bool resized;
    uint64_t generation;
};
void display_acquire(struct display *d, struct display_frame *f);
/* Clears the dirty rows and the resized flag, unlocks. */
void display_release(struct display *d);

/* Copies the whole current frame into dst (resizing it). Returns 0 or -1 (no memory, no frame). */
int display_snapshot(struct display *d, struct framebuffer *dst);
/* Writes the current frame as a PNG (--screenshot, SIGUSR1). Returns 0, or -1 with err. */
int display_write_png(struct display *d, const char *path, struct error *err);
/*
 * The text screen as UTF-8, one line per row with trailing blanks removed and
 * a newline after each. Returns a malloc'd string ("" in graphics modes), or NULL.
 */
char *display_text_utf8(struct display *d);
/* The Unicode code point CP437 shows for byte c (0 shows as a space). */
uint32_t cp437_to_unicode(uint8_t c);

#endif
