/*
 * Key names for the control socket's send-keys: a chord is key names joined
 * by '-' ("ctrl-alt-delete"), pressed in that order and released in reverse,
 * as QEMU's sendkey does. Names (case does not matter) are the letters a-z,
 * the digits 0-9, f1-f12, the modifiers ctrl, shift, alt, meta (left) and
 * ctrl_r, shift_r, alt_r (altgr), meta_r, and the named keys of the table in
 * keys.c (enter, esc, tab, space, backspace, delete, arrows, punctuation,
 * keypad). Each becomes a USB HID usage (devices/input.h): the key's
 * position, so the guest's keyboard layout decides what it types.
 */
#ifndef VMPLAY_KEYS_H
#define VMPLAY_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define KEYS_CHORD_MAX 8

/* The HID usage of one key name of len bytes, or 0 when there is no such key. */
uint32_t keys_usage(const char *name, size_t len);

/*
 * Parses a chord into usages[] in press order (at most KEYS_CHORD_MAX).
 * Returns how many, or a KEYS_ERR_* with *bad and *badlen naming the
 * offending part.
 */
enum { KEYS_ERR_NAME = -1, KEYS_ERR_TWICE = -2, KEYS_ERR_TOO_MANY = -3 };
int keys_parse_chord(const char *chord, uint32_t usages[KEYS_CHORD_MAX], const char **bad,
                     size_t *badlen);

#endif
