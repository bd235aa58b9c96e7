/*
 * Intel 82371SB PIIX3 function 0, the PCI-to-ISA bridge (8086:7000) at PCI
 * 01.0: PIRQ routing of PCI INTA-D to ISA IRQs and the reset control
 * register at port 0xCF9. The ELCR (ports 0x4D0/0x4D1) belongs to the 8259
 * model (devices/pic.c).
 */
#ifndef VMPLAY_PIIX3_H
#define VMPLAY_PIIX3_H

#include "devices/irq.h"
#include "devices/pci.h"

struct piix3;

/*
 * Registers at devfn (QEMU's pc: 1 << 3 = 01.0), becomes pci's INTx router
 * and takes byte accesses to port 0xCF9. isa_irq[n] is ISA IRQ n (the board
 * wires it to the 8259 input and the IOAPIC pin); a PIRQ routed to IRQ n
 * drives isa_irq[n] as a level. reset is pulsed when the guest asks for a
 * reset through 0xCF9 (RCPU). NULL when devfn is taken.
 */
struct piix3 *piix3_new(struct pci_bus *pci, int devfn, const struct irq isa_irq[16], struct irq reset);
/* Frees the object; its port and memory ranges go with the bus (free it before pci_bus_free, bus_free). */
void piix3_free(struct piix3 *s);
/* Machine reset: PIRQs disabled (0x80), reset control 0. */
void piix3_reset(struct piix3 *s);

#endif
