/*
 * PIIX3 IDE (8086:7010) at PCI 01.1: two channels in ISA compatibility mode
 * (primary 0x1F0-0x1F7 / 0x3F6 on IRQ 14, secondary 0x170-0x177 / 0x376 on
 * IRQ 15) with bus-master DMA through BAR4, each with up to two drives: ATA
 * disks and ATAPI CD-ROMs, both on struct blockdev.
 */
#ifndef VMPLAY_IDE_H
#define VMPLAY_IDE_H

#include "devices/bus.h"
#include "devices/irq.h"
#include "devices/pci.h"
#include "formats/blockdev.h"
#include "formats/error.h"

enum ide_drive_kind { IDE_NONE, IDE_DISK, IDE_CDROM };

struct ide;

/*
 * Registers at devfn (QEMU's pc: 1 << 3 | 1 = 01.1) and maps the legacy
 * ports. irq14/irq15 are ISA IRQ 14 and 15 (edge, to the 8259 and IOAPIC).
 * NULL when devfn or a port is taken.
 */
struct ide *ide_new(struct bus *bus, struct pci_bus *pci, int devfn, struct irq irq14, struct irq irq15);
/* Frees the object; its port and memory ranges go with the bus (free it before pci_bus_free, bus_free). */
void ide_free(struct ide *s);
/* Machine reset: both channels as after power-on, bus master stopped. */
void ide_reset(struct ide *s);
/*
 * Puts a drive at channel (0 primary, 1 secondary), unit (0 master, 1
 * slave). A disk needs bd; a CD-ROM may have bd NULL (empty tray), else bd
 * is the ISO image (its 512-byte sectors are read as 2048-byte blocks). The
 * caller keeps ownership of bd. Returns 0 or -1 with err filled.
 */
int ide_attach(struct ide *s, int channel, int unit, enum ide_drive_kind kind, struct blockdev *bd,
               struct error *err);

#endif
