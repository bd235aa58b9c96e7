/*
 * Intel 82371AB PIIX4 function 3, power management (8086:7113), at PCI
 * 01.3 as in QEMU's pc: the ACPI fixed hardware (PM1a event and control
 * blocks, the PM timer) at PMBA, GPE0 at 0xAFE0, SCI on ISA IRQ 9, the APM
 * control/status ports 0xB2/0xB3 (ACPI enable/disable), power button and
 * S5 power-off. No SMM and no SMBus.
 */
#ifndef VMPLAY_PIIX4PM_H
#define VMPLAY_PIIX4PM_H

#include <stdbool.h>

#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/irq.h"
#include "devices/pci.h"

struct piix4pm;

/*
 * Registers at devfn (QEMU's pc: 1 << 3 | 3 = 01.3), maps ports 0xB2-0xB3
 * and 0xAFE0-0xAFE3 now and the 64-byte PM block wherever the guest puts
 * PMBA (SeaBIOS: 0xB000). sci is ISA IRQ 9 (a level; the board wires it to
 * the 8259 and IOAPIC pin 9); power_off is pulsed when the guest enters S5.
 * NULL when devfn or the ports are taken.
 */
struct piix4pm *piix4pm_new(struct bus *bus, struct pci_bus *pci, int devfn, struct clock *clock,
                            struct irq sci, struct irq power_off);
/* Frees the object; its port and memory ranges go with the bus (free it before pci_bus_free, bus_free). */
void piix4pm_free(struct piix4pm *pm);
/* Machine reset: legacy mode (SCI_EN 0), PM block unmapped, events cleared. */
void piix4pm_reset(struct piix4pm *pm);
/*
 * Presses the power button (PWRBTN_STS). Returns true when the guest's ACPI
 * is listening (SCI_EN and PWRBTN_EN set); otherwise the press is latched
 * but nothing will act on it, and the caller may power off itself.
 */
bool piix4pm_power_button(struct piix4pm *pm);
/* What the guest made of ACPI: *sci_en SCI_EN is set; *button the power button would reach it. */
void piix4pm_acpi_state(const struct piix4pm *pm, bool *sci_en, bool *button);

#endif
