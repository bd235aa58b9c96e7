/*
 * The local APIC of the (single) CPU, memory-mapped at 0xFEE00000: version
 * 0x14 with six LVT entries (timer, thermal, performance, LINT0, LINT1,
 * error), TPR/PPR, IRR/ISR/TMR, EOI, LDR/DFR, SVR, ESR, ICR (self
 * delivery), and the timer counting from the machine clock. LINT0 in ExtINT
 * mode passes the 8259's INT through (virtual wire, the reset state of the
 * bootstrap processor); LINT1 is normally NMI.
 */
#ifndef VMPLAY_APIC_H
#define VMPLAY_APIC_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/irq.h"

#define APIC_BASE 0xfee00000u
/* The timer's input clock (the "bus clock"): one count per nanosecond before the divider. */
#define APIC_BUS_HZ 1000000000u

/* Delivery modes (LVT, ICR and IOAPIC redirection entries). */
enum { APIC_DM_FIXED, APIC_DM_LOWEST, APIC_DM_SMI, APIC_DM_NMI = 4, APIC_DM_INIT, APIC_DM_SIPI,
       APIC_DM_EXTINT };

/* An interrupt message on the APIC bus (from the IOAPIC or an IPI). */
struct apic_msg {
    uint8_t vector, mode, dest;
    bool logical, level;
};

struct apic;

/* Maps APIC_BASE..+4 KiB. intr: to the CPU's INTR; nmi: pulsed for NMI deliveries. */
struct apic *apic_new(struct bus *bus, struct clock *clock, uint8_t id, struct irq intr,
                      struct irq nmi);
void apic_free(struct apic *a);
void apic_reset(struct apic *a);

/* The ExtINT source (the 8259's INTA, e.g. pic_intr_ack with the pic). */
void apic_set_extint(struct apic *a, int (*ack)(void *opaque), void *opaque);
/* Told the vector of every EOI of a level-triggered interrupt (the IOAPIC's ioapic_eoi). */
void apic_set_eoi_listener(struct apic *a, void (*eoi)(void *opaque, int vector), void *opaque);

/* LINT0 (n = 0) and LINT1 (n = 1) pins. */
void apic_set_irq(void *opaque, int n, int level);
/* A message from the IOAPIC: accepted when the destination matches this APIC. */
void apic_deliver(void *opaque, const struct apic_msg *m);
/*
 * A message-signalled interrupt (a dword write to 0xFEExxxxx, SDM vol. 3
 * 10.11): address bits 19:12 destination ID, bit 2 destination mode; data
 * bits 7:0 vector, 10:8 delivery mode, 15 trigger mode. The PCI bus's MSI
 * sink (pci_bus_set_msi_sink).
 */
void apic_deliver_msi(void *opaque, uint64_t addr, uint32_t data);
/* IA32_APIC_BASE as the CPU has it now (cpu_hooks.apic_base): bit 11 enables the APIC globally. */
void apic_set_base(void *opaque, uint64_t msr);
/* INTA: the highest deliverable vector (moved to ISR), else the 8259's (ExtINT), else spurious. */
int apic_intr_ack(void *opaque);

#endif
