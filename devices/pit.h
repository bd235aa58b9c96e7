/*
 * Intel 8254 programmable interval timer at ports 0x40-0x43 and the PC's
 * port 0x61 (system control port B: counter 2 gate, speaker enable, refresh
 * toggle, counter 2 output). Counter 0's output drives IRQ0; counter 2's is
 * readable at port 0x61 bit 5. Counts come from the machine clock at
 * 1.193182 MHz; a timer is armed only for counter 0's next rising edge.
 */
#ifndef VMPLAY_PIT_H
#define VMPLAY_PIT_H

#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/irq.h"

#define PIT_HZ 1193182

struct pit;

/* Maps 0x40-0x43 and 0x61. irq0: counter 0's OUT (a rising edge per period). */
struct pit *pit_new(struct bus *bus, struct clock *clock, struct irq irq0);
void pit_free(struct pit *pit);
/* Suspend state (devices/state.h): the counters, their ticks relative to the clock's now. */
struct state_writer;
struct state_reader;
struct error;
int pit_save(struct pit *pit, struct state_writer *w);
int pit_load(struct pit *pit, struct state_reader *r, struct error *err);
void pit_reset(struct pit *pit);

/* Current OUT level of counter n (0..2), for tests and the speaker. */
int pit_out(struct pit *pit, int n);

#endif
