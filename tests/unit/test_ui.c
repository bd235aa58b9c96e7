/*
 * Front-end logic without a display: scaling arithmetic (worked by hand),
 * pointer mapping, SDL scancodes against the USB HID usage tables, the
 * hotkey state machine (Ctrl+Alt release, Ctrl+Alt+Enter, Ctrl+Alt+Insert,
 * kiosk), and the window title.
 */
#include "tests/unit/test.h"

#include <SDL_scancode.h>

#include "devices/input.h"
#include "sdl/ui.h"

TEST(scale_fit_aspect)
{
    /* 720x400 in 1920x1080: width-bound, 1920 x 1066.67 -> 1067, centred at y = 6 */
    struct ui_rect r = ui_scale_fit(720, 400, 1920, 1080, false);
    ASSERT_EQ(r.w, 1920);
    ASSERT_EQ(r.h, 1067);
    ASSERT_EQ(r.x, 0);
    ASSERT_EQ(r.y, 6);
    /* 640x480 in 1920x1080: height-bound, 1440 wide at x = 240 */
    r = ui_scale_fit(640, 480, 1920, 1080, false);
    ASSERT_EQ(r.w, 1440);
    ASSERT_EQ(r.h, 1080);
    ASSERT_EQ(r.x, 240);
    /* integer: 720x400 fits twice (1440x800) at (240, 140) */
    r = ui_scale_fit(720, 400, 1920, 1080, true);
    ASSERT_EQ(r.w, 1440);
    ASSERT_EQ(r.h, 800);
    ASSERT_EQ(r.x, 240);
    ASSERT_EQ(r.y, 140);
    /* integer but too big: falls back to shrinking with the aspect kept */
    r = ui_scale_fit(1024, 768, 800, 800, true);
    ASSERT_EQ(r.w, 800);
    ASSERT_EQ(r.h, 600);
    ASSERT_EQ(r.y, 100);
    /* degenerate sizes cover the output */
    r = ui_scale_fit(0, 0, 300, 200, false);
    ASSERT_EQ(r.w, 300);
}

TEST(point_to_abs)
{
    struct ui_rect r = {240, 0, 1440, 1080};
    unsigned x, y;
    ui_point_to_abs(&r, 240, 0, &x, &y);
    ASSERT_EQ(x, 0);
    ASSERT_EQ(y, 0);
    ui_point_to_abs(&r, 240 + 1439, 1079, &x, &y);
    ASSERT_EQ(x, INPUT_ABS_MAX);
    ASSERT_EQ(y, INPUT_ABS_MAX);
    ui_point_to_abs(&r, 100, 2000, &x, &y); /* outside: clamped */
    ASSERT_EQ(x, 0);
    ASSERT_EQ(y, INPUT_ABS_MAX);
    ui_point_to_abs(&r, 240 + 719, 539, &x, &y); /* about the middle */
    ASSERT(x > 0x7FC0 && x < 0x8040);
    ASSERT(y > 0x7FC0 && y < 0x8040);
}

TEST(window_size)
{
    int w, h;
    ui_window_size(320, 200, &w, &h);
    ASSERT_EQ(w, 640);
    ASSERT_EQ(h, 400);
    ui_window_size(720, 400, &w, &h);
    ASSERT_EQ(w, 720);
    ASSERT_EQ(h, 400);
}

/* HID Usage Tables: Keyboard/Keypad page 0x07 and Consumer page 0x0C. */
TEST(scancodes_are_hid_usages)
{
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_A), 0x04);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_Z), 0x1D);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_1), 0x1E);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_RETURN), 0x28);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_ESCAPE), 0x29);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_F12), 0x45);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_PRINTSCREEN), 0x46);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_PAUSE), 0x48);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_INSERT), HID_KEY_INSERT);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_DELETE), HID_KEY_DELETE);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_KP_ENTER), 0x58);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_NONUSBACKSLASH), 0x64); /* the 105th key */
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_APPLICATION), 0x65);    /* menu key */
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_INTERNATIONAL1), 0x87);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_LCTRL), HID_KEY_LEFTCTRL);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_LGUI), 0xE3);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_RALT), HID_KEY_RIGHTALT);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_RGUI), 0xE7);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_AUDIOMUTE), INPUT_PAGE_CONSUMER | 0xE2);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_AUDIOPLAY), INPUT_PAGE_CONSUMER | 0xCD);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_AUDIONEXT), INPUT_PAGE_CONSUMER | 0xB5);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_WWW), INPUT_PAGE_CONSUMER | 0x196);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_AC_BACK), INPUT_PAGE_CONSUMER | 0x224);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_AC_BOOKMARKS), INPUT_PAGE_CONSUMER | 0x22A);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_SLEEP), INPUT_PAGE_DESKTOP | 0x82);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_UNKNOWN), 0);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_MODE), 0);
    ASSERT_EQ(ui_scancode_to_usage(SDL_SCANCODE_APP1), 0);
}

struct press {
    uint32_t usage;
    bool down;
    unsigned want_act;
    unsigned want_n;
    uint32_t want_usage;
};

static void run(struct ui_keys *k, bool grabbed, const struct press *p, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        struct ui_key_out out[2];
        unsigned nout;
        unsigned act = ui_key_event(k, p[i].usage, p[i].down, grabbed, out, &nout);
        if (act != p[i].want_act || nout != p[i].want_n
            || (nout && (out[0].usage != p[i].want_usage || out[0].down != p[i].down)))
            FAIL("step %u (usage 0x%x %s): act %u n %u usage 0x%x", i, p[i].usage,
                 p[i].down ? "down" : "up", act, nout, nout ? out[0].usage : 0);
    }
}

#define CTRL HID_KEY_LEFTCTRL
#define ALT HID_KEY_LEFTALT

TEST(ctrl_alt_releases_grab)
{
    struct ui_keys k;
    ui_keys_init(&k, false);
    const struct press seq[] = {
        {CTRL, true, 0, 1, CTRL}, {ALT, true, 0, 1, ALT},
        {ALT, false, UI_ACT_RELEASE_GRAB, 1, ALT}, {CTRL, false, 0, 1, CTRL},
        /* right-hand keys too, released in the other order */
        {HID_KEY_RIGHTALT, true, 0, 1, HID_KEY_RIGHTALT},
        {HID_KEY_RIGHTCTRL, true, 0, 1, HID_KEY_RIGHTCTRL},
        {HID_KEY_RIGHTCTRL, false, UI_ACT_RELEASE_GRAB, 1, HID_KEY_RIGHTCTRL},
        {HID_KEY_RIGHTALT, false, 0, 1, HID_KEY_RIGHTALT},
        /* Ctrl+Alt+T is a guest chord, not a release */
        {CTRL, true, 0, 1, CTRL}, {ALT, true, 0, 1, ALT}, {0x17, true, 0, 1, 0x17},
        {0x17, false, 0, 1, 0x17}, {ALT, false, 0, 1, ALT}, {CTRL, false, 0, 1, CTRL},
        /* and the next plain Ctrl+Alt releases again */
        {CTRL, true, 0, 1, CTRL}, {ALT, true, 0, 1, ALT},
        {CTRL, false, UI_ACT_RELEASE_GRAB, 1, CTRL}, {ALT, false, 0, 1, ALT},
    };
    run(&k, true, seq, sizeof seq / sizeof seq[0]);
    /* not grabbed: nothing to release */
    const struct press ungrabbed[] = {
        {CTRL, true, 0, 1, CTRL}, {ALT, true, 0, 1, ALT}, {ALT, false, 0, 1, ALT},
        {CTRL, false, 0, 1, CTRL},
    };
    run(&k, false, ungrabbed, 4);
}

TEST(ctrl_alt_enter_and_insert)
{
    struct ui_keys k;
    ui_keys_init(&k, false);
    const struct press seq[] = {
        {CTRL, true, 0, 1, CTRL}, {ALT, true, 0, 1, ALT},
        {HID_KEY_ENTER, true, UI_ACT_FULLSCREEN, 0, 0},
        {HID_KEY_ENTER, false, 0, 0, 0},
        {HID_KEY_INSERT, true, 0, 1, HID_KEY_DELETE},
        {HID_KEY_INSERT, false, 0, 1, HID_KEY_DELETE},
        {ALT, false, 0, 1, ALT}, {CTRL, false, 0, 1, CTRL},
        {HID_KEY_ENTER, true, 0, 1, HID_KEY_ENTER}, {HID_KEY_ENTER, false, 0, 1, HID_KEY_ENTER},
        {HID_KEY_INSERT, true, 0, 1, HID_KEY_INSERT},
    };
    run(&k, true, seq, sizeof seq / sizeof seq[0]);
}

TEST(kiosk_has_no_escape)
{
    struct ui_keys k;
    ui_keys_init(&k, true);
    const struct press seq[] = {
        {CTRL, true, 0, 1, CTRL}, {ALT, true, 0, 1, ALT},
        {HID_KEY_ENTER, true, 0, 1, HID_KEY_ENTER}, {HID_KEY_ENTER, false, 0, 1, HID_KEY_ENTER},
        {HID_KEY_INSERT, true, 0, 1, HID_KEY_DELETE}, {HID_KEY_INSERT, false, 0, 1, HID_KEY_DELETE},
        {ALT, false, 0, 1, ALT}, {CTRL, false, 0, 1, CTRL},
        {CTRL, true, 0, 1, CTRL}, {ALT, true, 0, 1, ALT}, {ALT, false, 0, 1, ALT},
    };
    run(&k, true, seq, sizeof seq / sizeof seq[0]);
    ui_keys_reset(&k);
    ASSERT(k.kiosk);
    ASSERT(!k.ctrl_l);
}

TEST(title)
{
    char t[256];
    ui_title(t, sizeof t, "Debian 12", DISPLAY_RUNNING, false, false);
    ASSERT_STR_EQ(t, "Debian 12 - vmplay");
    ui_title(t, sizeof t, "Debian 12", DISPLAY_PAUSED, true, false);
    ASSERT_STR_EQ(t, "Debian 12 (paused) - vmplay - press Ctrl+Alt to release input");
    ui_title(t, sizeof t, NULL, DISPLAY_POWERED_OFF, true, true);
    ASSERT_STR_EQ(t, "Virtual Machine (powered off) - vmplay");
}
