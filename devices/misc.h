/*
 * Small ISA ports of the PC board: system control port A (0x92: fast A20
 * and fast reset), the POST code port (0x80), debug consoles (SeaBIOS's
 * 0x402, Bochs/QEMU's 0xE9) and the opt-in debug-exit port (0xF4).
 */
#ifndef VMPLAY_MISC_H
#define VMPLAY_MISC_H

#include <stdint.h>

#include "devices/bus.h"
#include "devices/chardev.h"
#include "devices/irq.h"

/*
 * Port 0x92. a20: the machine's A20 gate, level 1 = enabled, the OR of
 * port 0x92 bit 1 and the keyboard controller's output port (wire the
 * i8042's a20 irq to irq_make(port92_kbc_a20, p, 0)). reset: pulsed when
 * bit 0 is written 1.
 */
struct port92;
struct port92 *port92_new(struct bus *bus, struct irq a20, struct irq reset);
void port92_free(struct port92 *p);
void port92_reset(struct port92 *p);
void port92_kbc_a20(void *opaque, int n, int level);
/* Suspend state (devices/state.h): the port's value and the keyboard controller's A20. */
struct state_writer;
struct state_reader;
struct error;
int port92_save(struct port92 *p, struct state_writer *w);
int port92_load(struct port92 *p, struct state_reader *r, struct error *err);

/* Port 0x80: POST codes (kept for tracing and tests; writes are also Linux's I/O delay). */
struct postcode;
struct postcode *postcode_new(struct bus *bus);
void postcode_free(struct postcode *p);
/* The last code written, -1 when none. */
int postcode_last(const struct postcode *p);

/*
 * A debug console: bytes written to port go to out (may be NULL: dropped);
 * reads return 0xE9, which guests use to detect it. Port 0x402 (SeaBIOS's
 * log) or 0xE9.
 */
struct debugcon;
struct debugcon *debugcon_new(struct bus *bus, uint16_t port, struct chardev *out);
void debugcon_free(struct debugcon *d);

/*
 * Debug exit at port (0xF4 by convention): a write of v calls
 * irq_set(exit, (v << 1) | 1), the level being the exit status requested.
 */
struct debugexit;
struct debugexit *debugexit_new(struct bus *bus, uint16_t port, struct irq exit);
void debugexit_free(struct debugexit *d);

#endif
