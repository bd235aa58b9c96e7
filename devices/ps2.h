/*
 * PS/2 devices behind the i8042: a keyboard (scancode sets 1 and 2, the
 * host commands of an MF2 keyboard, ID AB 83) and a mouse (standard,
 * IntelliMouse with wheel, IntelliMouse Explorer). Each keeps a queue of
 * bytes for the controller, which takes them with ps2_*_read when its
 * output buffer is free; notify(opaque) tells it that bytes arrived.
 *
 * Keys come as USB HID usages in devices/input.h's encoding: keyboard page
 * (0x07) usages as they are (0x04 = A ... 0xE7 = right GUI), other pages as
 * page << 16 | usage: consumer keys PS2_HID_CONSUMER(u) (0x0C0000 | u),
 * generic desktop system controls PS2_HID_SYSTEM(u) (0x010000 | u: 0x81
 * power down, 0x82 sleep, 0x83 wake).
 */
#ifndef VMPLAY_PS2_H
#define VMPLAY_PS2_H

#include <stdbool.h>
#include <stdint.h>

#define PS2_HID_CONSUMER(u) (0x0c0000u | (u))
#define PS2_HID_SYSTEM(u) (0x010000u | (u))

/* Mouse buttons in ps2_mouse_event (the PS/2 packet's bit order). */
#define PS2_BUTTON_LEFT 0x01
#define PS2_BUTTON_RIGHT 0x02
#define PS2_BUTTON_MIDDLE 0x04
#define PS2_BUTTON_4 0x08
#define PS2_BUTTON_5 0x10

struct ps2_kbd;
struct ps2_mouse;

struct ps2_kbd *ps2_kbd_new(void (*notify)(void *opaque), void *opaque);
void ps2_kbd_free(struct ps2_kbd *kbd);
/* Power-on state: set 2, scanning enabled, queue empty. */
void ps2_kbd_reset(struct ps2_kbd *kbd);
/* A byte from the host (command or argument). */
void ps2_kbd_write(struct ps2_kbd *kbd, uint8_t v);
/* The next byte for the host, or -1. */
int ps2_kbd_read(struct ps2_kbd *kbd);
/* A key pressed or released (make and break codes in the current set; Pause has no break). */
void ps2_kbd_key(struct ps2_kbd *kbd, uint32_t hid_usage, bool down);
/* LED state set by the host (0xED): bit 0 Scroll, 1 Num, 2 Caps Lock. */
uint8_t ps2_kbd_leds(const struct ps2_kbd *kbd);
/* The set 2 code of a usage (0xE0xx for E0-prefixed keys), 0 when unmapped. */
uint16_t ps2_hid_to_set2(uint32_t hid_usage);
/* The i8042's set 2 -> set 1 translation of one byte (F0 prefixes handled by the caller). */
uint8_t ps2_translate(uint8_t set2);

struct ps2_mouse *ps2_mouse_new(void (*notify)(void *opaque), void *opaque);
void ps2_mouse_free(struct ps2_mouse *m);
void ps2_mouse_reset(struct ps2_mouse *m);
void ps2_mouse_write(struct ps2_mouse *m, uint8_t v);
int ps2_mouse_read(struct ps2_mouse *m);
/*
 * Relative motion as devices/input.h gives it: dx right, dy down (screen
 * directions), dz wheel clicks towards the user (scrolling down), buttons
 * PS2_BUTTON_* (the same bits as INPUT_BUTTON_*).
 * Large motions are split over several packets.
 */
void ps2_mouse_event(struct ps2_mouse *m, int dx, int dy, int dz, unsigned buttons);
/* One packet with no motion and the held buttons (the interrupt a VMMouse driver waits
 * for before it reads the backdoor's queue); nothing when a packet is still queued. */
void ps2_mouse_kick(struct ps2_mouse *m);

#endif
