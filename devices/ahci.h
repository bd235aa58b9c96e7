/*
 * The AHCI SATA controller VMware presents for `sataN.present` (PCI 15ad:07e0,
 * class 0x010601: AHCI 1.3 through BAR5, 30 ports, 32 command slots, NCQ,
 * 64-bit addressing, INTx). Disks and CD-ROMs on its ports (`sataN:M` is port
 * M) are the ATA device core's (devices/ata_dev.h).
 */
#ifndef VMPLAY_AHCI_H
#define VMPLAY_AHCI_H

#include "devices/bus.h"
#include "devices/ide.h"
#include "devices/pci.h"
#include "formats/blockdev.h"
#include "formats/error.h"

#define AHCI_PORTS 30

/* The device number sataN has on PCI bus 0 (the board places it, the boot order names it). */
static inline int ahci_pci_slot(int index)
{
    return 0x14 + index;
}

struct ahci;

/*
 * Registers the controller sataN (index, for names) at devfn; its interrupt is
 * INTA, routed by the board. NULL when devfn is taken or memory runs out.
 */
struct ahci *ahci_new(struct pci_bus *pci, int devfn, int index);
/* Frees the object (before pci_bus_free and bus_free). */
void ahci_free(struct ahci *s);
/* Machine reset: the HBA as after power-on, every attached device reset and signed on. */
void ahci_reset(struct ahci *s);
/*
 * Puts a device on port 0..AHCI_PORTS-1: a disk needs bd; a CD-ROM may have
 * bd NULL (empty tray). The caller keeps ownership of bd. 0, or -1 with err.
 */
int ahci_attach(struct ahci *s, int port, enum ide_drive_kind kind, struct blockdev *bd,
                struct error *err);

#endif
