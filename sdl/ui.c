/*
 * Front-end decisions without SDL calls (see ui.h). SDL's scancode values
 * are the USB HID Keyboard/Keypad page usages up to 0xE7; the media and
 * application keys SDL numbers from 258 are mapped to their Consumer and
 * Generic Desktop page usages (HID Usage Tables).
 */
#include "sdl/ui.h"

#include <stdio.h>

#include "devices/input.h"

struct ui_rect ui_scale_fit(int src_w, int src_h, int out_w, int out_h, bool integer)
{
    struct ui_rect r = {0, 0, out_w, out_h};
    if (src_w <= 0 || src_h <= 0 || out_w <= 0 || out_h <= 0)
        return r;
    int k = out_w / src_w < out_h / src_h ? out_w / src_w : out_h / src_h;
    if (integer && k >= 1) {
        r.w = src_w * k;
        r.h = src_h * k;
    } else if ((int64_t)out_w * src_h <= (int64_t)out_h * src_w) {
        r.w = out_w; /* width-bound */
        r.h = (int)(((int64_t)out_w * src_h + src_w / 2) / src_w);
    } else {
        r.h = out_h;
        r.w = (int)(((int64_t)out_h * src_w + src_h / 2) / src_h);
    }
    r.x = (out_w - r.w) / 2;
    r.y = (out_h - r.h) / 2;
    return r;
}

static unsigned to_abs(int p, int origin, int len)
{
    if (len <= 1 || p <= origin)
        return 0;
    if (p >= origin + len - 1)
        return INPUT_ABS_MAX;
    return (unsigned)(((int64_t)(p - origin) * INPUT_ABS_MAX + (len - 1) / 2) / (len - 1));
}

void ui_point_to_abs(const struct ui_rect *r, int px, int py, unsigned *ax, unsigned *ay)
{
    *ax = to_abs(px, r->x, r->w);
    *ay = to_abs(py, r->y, r->h);
}

void ui_window_size(int mode_w, int mode_h, int *win_w, int *win_h)
{
    int k = mode_w < 640 && mode_h < 480 ? 2 : 1;
    *win_w = mode_w * k;
    *win_h = mode_h * k;
}

/* SDL_SCANCODE_AUDIONEXT (258) onwards. */
static const uint32_t media_usages[] = {
    INPUT_PAGE_CONSUMER | 0xB5,  /* AUDIONEXT: scan next track */
    INPUT_PAGE_CONSUMER | 0xB6,  /* AUDIOPREV */
    INPUT_PAGE_CONSUMER | 0xB7,  /* AUDIOSTOP */
    INPUT_PAGE_CONSUMER | 0xCD,  /* AUDIOPLAY: play/pause */
    INPUT_PAGE_CONSUMER | 0xE2,  /* AUDIOMUTE */
    INPUT_PAGE_CONSUMER | 0x183, /* MEDIASELECT: AL consumer control configuration */
    INPUT_PAGE_CONSUMER | 0x196, /* WWW: AL internet browser */
    INPUT_PAGE_CONSUMER | 0x18A, /* MAIL: AL email reader */
    INPUT_PAGE_CONSUMER | 0x192, /* CALCULATOR */
    INPUT_PAGE_CONSUMER | 0x194, /* COMPUTER: AL local machine browser */
    INPUT_PAGE_CONSUMER | 0x221, /* AC_SEARCH */
    INPUT_PAGE_CONSUMER | 0x223, /* AC_HOME */
    INPUT_PAGE_CONSUMER | 0x224, /* AC_BACK */
    INPUT_PAGE_CONSUMER | 0x225, /* AC_FORWARD */
    INPUT_PAGE_CONSUMER | 0x226, /* AC_STOP */
    INPUT_PAGE_CONSUMER | 0x227, /* AC_REFRESH */
    INPUT_PAGE_CONSUMER | 0x22A, /* AC_BOOKMARKS */
    INPUT_PAGE_CONSUMER | 0x70,  /* BRIGHTNESSDOWN */
    INPUT_PAGE_CONSUMER | 0x6F,  /* BRIGHTNESSUP */
    0,                           /* DISPLAYSWITCH */
    0, 0, 0,                     /* KBDILLUM* */
    INPUT_PAGE_CONSUMER | 0xB8,  /* EJECT */
    INPUT_PAGE_DESKTOP | 0x82,   /* SLEEP: system sleep */
};
#define MEDIA_FIRST 258

uint32_t ui_scancode_to_usage(int scancode)
{
    if (scancode >= 4 && scancode <= 0xE7)
        return (uint32_t)scancode;
    unsigned i = (unsigned)(scancode - MEDIA_FIRST);
    if (scancode >= MEDIA_FIRST && i < sizeof media_usages / sizeof media_usages[0])
        return media_usages[i];
    return 0;
}

void ui_keys_init(struct ui_keys *k, bool kiosk)
{
    *k = (struct ui_keys){.kiosk = kiosk};
}

void ui_keys_reset(struct ui_keys *k)
{
    ui_keys_init(k, k->kiosk);
}

static bool set_modifier(struct ui_keys *k, uint32_t usage, bool down)
{
    switch (usage) {
    case HID_KEY_LEFTCTRL:
        k->ctrl_l = down;
        return true;
    case HID_KEY_RIGHTCTRL:
        k->ctrl_r = down;
        return true;
    case HID_KEY_LEFTALT:
        k->alt_l = down;
        return true;
    case HID_KEY_RIGHTALT:
        k->alt_r = down;
        return true;
    default:
        return false;
    }
}

static void emit(struct ui_key_out out[2], unsigned *nout, uint32_t usage, bool down)
{
    out[*nout].usage = usage;
    out[*nout].down = down;
    (*nout)++;
}

/* Ctrl and Alt: the grab is released when the pair is let go with nothing pressed in between. */
static unsigned modifier_event(struct ui_keys *k, bool grabbed)
{
    bool ctrl = k->ctrl_l || k->ctrl_r, alt = k->alt_l || k->alt_r;
    if (ctrl && alt) {
        if (!k->combo)
            k->combo_used = false;
        k->combo = true;
        return 0;
    }
    if (!k->combo)
        return 0;
    k->combo = false;
    return !k->combo_used && grabbed && !k->kiosk ? UI_ACT_RELEASE_GRAB : 0;
}

unsigned ui_key_event(struct ui_keys *k, uint32_t usage, bool down, bool grabbed,
                      struct ui_key_out out[2], unsigned *nout)
{
    *nout = 0;
    if (set_modifier(k, usage, down)) {
        emit(out, nout, usage, down);
        return modifier_event(k, grabbed);
    }
    bool chord = (k->ctrl_l || k->ctrl_r) && (k->alt_l || k->alt_r);
    if (down && chord)
        k->combo_used = true;
    if (usage == HID_KEY_ENTER && !k->kiosk && (k->swallow_enter || (down && chord))) {
        k->swallow_enter = down;
        return down ? UI_ACT_FULLSCREEN : 0;
    }
    if (usage == HID_KEY_INSERT && (k->insert_as_delete || (down && chord))) {
        k->insert_as_delete = down;
        emit(out, nout, HID_KEY_DELETE, down);
        return 0;
    }
    emit(out, nout, usage, down);
    return 0;
}

void ui_title(char *buf, size_t n, const char *name, enum display_state st, bool grabbed,
              bool kiosk)
{
    const char *state = st == DISPLAY_PAUSED        ? " (paused)"
                        : st == DISPLAY_POWERED_OFF ? " (powered off)"
                        : st == DISPLAY_EXITED      ? " (stopped)"
                                                    : "";
    const char *hint = grabbed && !kiosk ? " - press Ctrl+Alt to release input" : "";
    snprintf(buf, n, "%s%s - vmplay%s", name && *name ? name : "Virtual Machine", state, hint);
}
