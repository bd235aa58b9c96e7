/*
 * Intel 8042 keyboard controller at ports 0x60 (data) and 0x64 (status /
 * command) with its PS/2 keyboard and mouse (ps2.h), IRQ1 and IRQ12, the
 * output port's A20 gate and reset line, and set 2 -> set 1 translation.
 */
#ifndef VMPLAY_I8042_H
#define VMPLAY_I8042_H

#include "devices/bus.h"
#include "devices/irq.h"
#include "devices/ps2.h"

struct i8042;

/*
 * Maps 0x60 and 0x64. irq1/irq12: raised when a keyboard / mouse byte is
 * put in the output buffer (and the command byte enables it), lowered when
 * it is read. a20: level of output port bit 1 (1 = A20 enabled). reset:
 * pulsed for a system reset (command 0xFE, or output port bit 0 written 0).
 */
struct i8042 *i8042_new(struct bus *bus, struct irq irq1, struct irq irq12, struct irq a20,
                        struct irq reset);
void i8042_free(struct i8042 *k);
void i8042_reset(struct i8042 *k);

/*
 * Input sink entry points with opaque = the i8042 (devices/input.h's
 * struct input_sink: .key and .mouse_rel).
 */
void i8042_input_key(void *opaque, uint32_t usage, bool down);
void i8042_input_mouse_rel(void *opaque, int dx, int dy, int dz, unsigned buttons);

/* The devices behind it. */
struct ps2_kbd *i8042_kbd(struct i8042 *k);
struct ps2_mouse *i8042_mouse(struct i8042 *k);

#endif
