/*
 * The front end's decisions, kept apart from SDL so they can be tested
 * without a display: where the guest picture goes in the window (aspect
 * kept, optional integer scaling), window points to absolute pointer
 * coordinates, SDL scancodes to USB HID usages, the hotkey state machine
 * (Ctrl+Alt releases the grab, Ctrl+Alt+Enter toggles full screen,
 * Ctrl+Alt+Insert sends Ctrl+Alt+Del; none of the first two in kiosk mode),
 * and the window title.
 */
#ifndef VMPLAY_UI_H
#define VMPLAY_UI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/display.h"

struct ui_rect {
    int x, y, w, h;
};

/* The largest src-shaped rectangle centred in out (whole multiples only when integer, if it fits). */
struct ui_rect ui_scale_fit(int src_w, int src_h, int out_w, int out_h, bool integer);
/* A point in output pixels to 0..INPUT_ABS_MAX over the picture (clamped at its edges). */
void ui_point_to_abs(const struct ui_rect *r, int px, int py, unsigned *ax, unsigned *ay);
/* The window size for a new guest mode: small modes doubled (320x200 -> 640x400). */
void ui_window_size(int mode_w, int mode_h, int *win_w, int *win_h);

/* SDL scancode -> HID usage (input.h encoding), 0 for none. */
uint32_t ui_scancode_to_usage(int scancode);

enum {
    UI_ACT_RELEASE_GRAB = 1,
    UI_ACT_FULLSCREEN = 2,
};

struct ui_key_out {
    uint32_t usage;
    bool down;
};

struct ui_keys {
    bool kiosk;
    bool ctrl_l, ctrl_r, alt_l, alt_r;
    bool combo;            /* Ctrl and Alt were both down ... */
    bool combo_used;       /* ... and another key was pressed meanwhile */
    bool swallow_enter;    /* Enter of Ctrl+Alt+Enter: its release is not the guest's either */
    bool insert_as_delete; /* Insert of Ctrl+Alt+Insert went to the guest as Delete */
};

void ui_keys_init(struct ui_keys *k, bool kiosk);
/* Forget modifier state (focus lost; the queue's release-all frees the guest's keys). */
void ui_keys_reset(struct ui_keys *k);
/*
 * One key event from the host. Fills out[] (up to 2) with what the guest gets
 * and returns UI_ACT_* flags for the front end.
 */
unsigned ui_key_event(struct ui_keys *k, uint32_t usage, bool down, bool grabbed,
                      struct ui_key_out out[2], unsigned *nout);

/* "name - vmplay", the state when not running, and the release hint while grabbed. */
void ui_title(char *buf, size_t n, const char *name, enum display_state st, bool grabbed,
              bool kiosk);

#endif
