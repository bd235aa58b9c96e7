/*
 * Intel 82441FX (i440FX) PCI and memory controller, the host bridge at
 * PCI 00.0 (8086:1237 rev 02): it owns configuration mechanism #1 and the
 * PAM registers that shadow 0xC0000-0xFFFFF, and accepts the SMRAM
 * register without ever opening SMRAM (there is no SMM).
 */
#ifndef VMPLAY_I440FX_H
#define VMPLAY_I440FX_H

#include <stdint.h>

#include "devices/bus.h"
#include "devices/pci.h"

#define I440FX_ISA_ROM_BASE 0xc0000u
#define I440FX_ISA_ROM_SIZE 0x40000u /* 0xC0000-0xFFFFF */

struct i440fx;

/*
 * Registers at devfn 0 of pci, maps ports 0xCF8-0xCFF and the thirteen PAM
 * chunks of 0xC0000-0xFFFFF. ram is the guest RAM from address 0 (at least
 * 1 MiB; the board maps 0-0x9FFFF and 1 MiB up itself, the VGA 0xA0000-0xBFFFF);
 * isa_rom holds what reads back at 0xC0000-0xFFFFF while a chunk is not
 * shadowed (option ROMs, then the low 128 KiB copy of the BIOS at 0xE0000).
 * Both stay owned by the board. NULL when a port or range is already taken.
 */
struct i440fx *i440fx_new(struct bus *bus, struct pci_bus *pci, uint8_t *ram, uint8_t *isa_rom);
/* Frees the object; its port and memory ranges go with the bus (free it before pci_bus_free, bus_free). */
void i440fx_free(struct i440fx *s);
/* Machine reset: PAM all off (reads from isa_rom), SMRAM 0x02. */
void i440fx_reset(struct i440fx *s);

#endif
