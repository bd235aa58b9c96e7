/*
 * An NVMe 1.3 controller with VMware's PCI identity (15ad:07f0, class
 * 010802, subsystem 15ad:07f0): the `nvmeN` of a .vmx, its disks `nvmeN:M`
 * as namespace M + 1. BAR0/1 is the 64-bit register BAR (16 KiB), BAR4 the
 * MSI-X table; MSI and INTx are the fallbacks.
 */
#ifndef VMPLAY_NVME_H
#define VMPLAY_NVME_H

#include "devices/bus.h"
#include "devices/pci.h"
#include "formats/blockdev.h"
#include "formats/error.h"

#define NVME_MAX_NAMESPACES 15 /* nvmeN:0 .. nvmeN:14 */

struct nvme;

/* Registers at devfn; index is N of nvmeN (serial number, EUI-64). NULL when devfn is taken. */
struct nvme *nvme_new(struct bus *bus, struct pci_bus *pci, int devfn, int index);
/* Frees the object (its ranges go with the bus; free it before pci_bus_free and bus_free). */
void nvme_free(struct nvme *s);
/* Machine reset: the controller disabled, no queues, PCI header and MSI state at reset. */
void nvme_reset(struct nvme *s);
/* Puts bd behind namespace unit + 1; the caller keeps ownership. 0, or -1 with err filled. */
int nvme_attach(struct nvme *s, int unit, struct blockdev *bd, struct error *err);

#endif
