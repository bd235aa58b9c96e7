/*
 * The SDL2 window (issue 6): the guest's screen scaled into a resizable
 * window, keyboard and mouse into the input queue, grab and release, full
 * screen, kiosk mode, and closing as a power-button press. It sees the
 * machine only through struct display (frames, run state) and struct
 * input_queue (events); it never touches a device.
 *
 * The player creates it and runs it on the main thread while the machine
 * runs on its own thread; sdl_frontend_run() returns once the machine sets
 * the display state to DISPLAY_EXITED. Headless mode does not use this.
 */
#ifndef VMPLAY_FRONTEND_H
#define VMPLAY_FRONTEND_H

#include <signal.h>
#include <stdbool.h>

#include "devices/display.h"
#include "devices/input.h"
#include "formats/error.h"

struct frontend_opts {
    const char *title;        /* the .vmx displayName */
    bool fullscreen;          /* start full screen */
    bool kiosk;               /* full screen, grabbed for good, no hotkeys, close ignored */
    bool integer_scale;       /* whole-number scaling only (when the picture fits) */
    bool force_close;         /* --force: the first close powers off at once */
    /* SIGUSR1 hook: when *screenshot_request is set, write screenshot_path and clear it. */
    volatile sig_atomic_t *screenshot_request;
    const char *screenshot_path;
};

struct frontend;

/* Opens the window (SDL video on the calling thread, which must be the main one). */
struct frontend *sdl_frontend_new(const struct frontend_opts *opts, struct display *display,
                                  struct input_queue *input, struct error *err);
/* The event loop; returns 0 when the machine has exited, or -1 with err on an SDL failure. */
int sdl_frontend_run(struct frontend *fe, struct error *err);
void sdl_frontend_free(struct frontend *fe);

#endif
