/*
 * The PC's pair of Intel 8259A programmable interrupt controllers: master at
 * ports 0x20/0x21, slave at 0xA0/0xA1 cascaded on the master's IR2, and the
 * PIIX3 edge/level control registers (ELCR) at 0x4D0/0x4D1. Inputs are ISA
 * IRQ 0..15 (pic_set_irq as an irq set function); the output is the master's
 * INT pin, to the CPU's INTR or the local APIC's LINT0. The CPU (or APIC)
 * runs the INTA cycle with pic_intr_ack, which returns the vector.
 */
#ifndef VMPLAY_PIC_H
#define VMPLAY_PIC_H

#include <stdint.h>

#include "devices/bus.h"
#include "devices/irq.h"

struct pic;

/* Maps 0x20-0x21, 0xA0-0xA1 and 0x4D0-0x4D1; NULL on allocation or mapping failure. */
struct pic *pic_new(struct bus *bus, struct irq intr);
void pic_free(struct pic *pic);
/* Suspend state (devices/state.h): both chips' registers, input levels and ELCR. */
struct state_writer;
struct state_reader;
struct error;
int pic_save(struct pic *pic, struct state_writer *w);
int pic_load(struct pic *pic, struct state_reader *r, struct error *err);
void pic_reset(struct pic *pic);

/* Input line n (0..15) to level; irq_make(pic_set_irq, pic, n). */
void pic_set_irq(void *opaque, int n, int level);
/* The INTA sequence: acknowledges the highest request and returns its vector. */
int pic_intr_ack(void *opaque);
/* Level of the INT output (1 when an unmasked request beats the in-service ones). */
int pic_intr_pending(const struct pic *pic);

/* ELCR: bit n set = IRQ n level-triggered (bits 0, 1, 2, 8, 13 are always edge). */
void pic_set_elcr(struct pic *pic, uint16_t mask);
uint16_t pic_get_elcr(const struct pic *pic);

#endif
