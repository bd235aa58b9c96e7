/*
 * Intel 82093AA I/O APIC at 0xFEC00000 (IOREGSEL at +0x00, IOWIN at
 * +0x10): ID, version 0x20 with 24 redirection entries, edge and level
 * inputs with remote IRR, masks, delivery as APIC bus messages.
 */
#ifndef VMPLAY_IOAPIC_H
#define VMPLAY_IOAPIC_H

#include "devices/apic.h"
#include "devices/bus.h"

#define IOAPIC_BASE 0xfec00000u
#define IOAPIC_PINS 24

struct ioapic;

/* Maps IOAPIC_BASE..+4 KiB; deliver(opaque, msg) sends to the local APIC(s) (apic_deliver). */
struct ioapic *ioapic_new(struct bus *bus, uint8_t id,
                          void (*deliver)(void *opaque, const struct apic_msg *m), void *opaque);
void ioapic_free(struct ioapic *io);
void ioapic_reset(struct ioapic *io);
/* Suspend state (devices/state.h): ID, IOREGSEL, input levels, redirection table. */
struct state_writer;
struct state_reader;
struct error;
int ioapic_save(struct ioapic *io, struct state_writer *w);
int ioapic_load(struct ioapic *io, struct state_reader *r, struct error *err);

/* Input pin n (0..23), level 1 = asserted (the polarity bit is not applied). */
void ioapic_set_irq(void *opaque, int n, int level);
/* EOI broadcast from a local APIC for a level-triggered vector: clears remote IRR. */
void ioapic_eoi(void *opaque, int vector);

#endif
