/*
 * The input path from a front end to the machine: the front end (any
 * thread) posts events into a thread-safe queue; the machine thread drains
 * it into the guest's devices through a struct input_sink (PS/2 keyboard
 * and mouse now, the VMware backdoor's absolute pointer later).
 *
 * Keys are USB HID usages, so the keyboard layout is the guest's business:
 * Keyboard/Keypad page (0x07) usages as they are (0x04 'a' .. 0xE7 right GUI),
 * other pages as page << 16 | usage (consumer keys: INPUT_PAGE_CONSUMER |
 * 0xE2 for mute). The drain side remembers which keys it pressed, so
 * "release all" (focus lost, grab released) lets go of exactly those.
 *
 * Pointing: relative motion in screen directions (dx > 0 right, dy > 0
 * down, dz > 0 wheel towards the user, i.e. scrolling down); absolute
 * positions in 0..INPUT_ABS_MAX over the guest screen. The machine says
 * which one the guest uses (input_set_pointer_absolute); a front end asks
 * input_pointer_absolute() and then needs no grab. A sink without mouse_abs
 * drops absolute events, so the front end never changes when it comes.
 */
#ifndef VMPLAY_INPUT_H
#define VMPLAY_INPUT_H

#include <stdbool.h>
#include <stdint.h>

#define INPUT_PAGE_DESKTOP 0x010000u
#define INPUT_PAGE_CONSUMER 0x0C0000u
#define INPUT_ABS_MAX 0xFFFF

#define INPUT_BUTTON_LEFT 0x01
#define INPUT_BUTTON_RIGHT 0x02
#define INPUT_BUTTON_MIDDLE 0x04
#define INPUT_BUTTON_SIDE 0x08
#define INPUT_BUTTON_EXTRA 0x10

/* Keyboard page usages the front end and tests name. */
#define HID_KEY_ENTER 0x28
#define HID_KEY_DELETE 0x4C
#define HID_KEY_INSERT 0x49
#define HID_KEY_LEFTCTRL 0xE0
#define HID_KEY_LEFTALT 0xE2
#define HID_KEY_RIGHTCTRL 0xE4
#define HID_KEY_RIGHTALT 0xE6

enum input_kind {
    INPUT_KEY,
    INPUT_MOUSE_REL,
    INPUT_MOUSE_ABS,
    INPUT_RELEASE_ALL,  /* key-up for every key the guest holds, buttons up */
    INPUT_POWER_BUTTON, /* ACPI power button press (clean shutdown) */
    INPUT_POWER_OFF,    /* pull the plug */
    INPUT_DISPLAY_SIZE, /* the user resized the window to x by y pixels: the guest may follow */
};

struct input_event {
    enum input_kind kind;
    uint32_t usage;    /* INPUT_KEY */
    bool down;         /* INPUT_KEY */
    int32_t dx, dy, dz;
    uint32_t x, y;     /* INPUT_MOUSE_ABS, 0..INPUT_ABS_MAX */
    uint8_t buttons;   /* INPUT_BUTTON_* held after this event */
};

/* Where the machine thread delivers events; NULL members drop their events. */
struct input_sink {
    void (*key)(void *opaque, uint32_t usage, bool down);
    void (*mouse_rel)(void *opaque, int dx, int dy, int dz, unsigned buttons);
    void (*mouse_abs)(void *opaque, unsigned x, unsigned y, int dz, unsigned buttons);
    void (*power_button)(void *opaque);
    void (*power_off)(void *opaque);
    void (*display_size)(void *opaque, unsigned w, unsigned h);
    void *opaque;
};

struct input_queue;

struct input_queue *input_queue_new(void);
void input_queue_free(struct input_queue *q);

/* ---- front end (any thread) ---- */

/* Returns 0, or -1 when the queue is full (relative motion is merged instead of dropped). */
int input_post(struct input_queue *q, const struct input_event *e);
int input_key(struct input_queue *q, uint32_t usage, bool down);
int input_mouse_rel(struct input_queue *q, int dx, int dy, int dz, unsigned buttons);
int input_mouse_abs(struct input_queue *q, unsigned x, unsigned y, int dz, unsigned buttons);
int input_release_all(struct input_queue *q);
int input_power_button(struct input_queue *q);
int input_power_off(struct input_queue *q);
/* The window's new size in pixels, after the user resized it (not the player). */
int input_display_size(struct input_queue *q, unsigned w, unsigned h);
/* True while the guest drives an absolute pointer (no grab needed). */
bool input_pointer_absolute(struct input_queue *q);

/* ---- machine thread ---- */

/* Called (outside the lock) after each post, e.g. to kick the CPU out of a halt. */
void input_set_notify(struct input_queue *q, void (*fn)(void *opaque), void *opaque);
void input_set_pointer_absolute(struct input_queue *q, bool absolute);
/* Delivers every queued event in order; returns how many. */
unsigned input_drain(struct input_queue *q, const struct input_sink *sink);
/* Number of keys the guest holds down (tests). */
unsigned input_keys_held(struct input_queue *q);

#endif
