/*
 * Intel 82545EM gigabit Ethernet (8086:100F, subsystem 15AD:0750 as VMware
 * presents it): the "e1000" of a .vmx, on the network seam (net.h); and its
 * PCIe sibling the 82574L, the "e1000e" (e1000e.c holds what differs).
 */
#ifndef VMPLAY_E1000_H
#define VMPLAY_E1000_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/clock.h"
#include "devices/net.h"
#include "devices/pci.h"

struct e1000;

/* Registers a PCI function at devfn; frames go to and come from be; link: startConnected. */
struct e1000 *e1000_new(struct pci_bus *pci, int devfn, struct clock *clock, const uint8_t mac[6],
                        struct net_backend *be, bool link);
/* The Intel 82574L (8086:10D3, subsystem 15AD:07D0), the "e1000e" of a .vmx: the same object
 * (e1000_reset, e1000_free), with MSI and MSI-X (5 vectors, BAR3) besides INTx. */
struct e1000 *e1000e_new(struct pci_bus *pci, int devfn, struct clock *clock, const uint8_t mac[6],
                         struct net_backend *be, bool link);
/* Gives the card a PCI expansion ROM (taking image, size a power of two); e1000_free frees it. */
void e1000_set_rom(struct e1000 *s, uint8_t *image, uint64_t size);
void e1000_reset(struct e1000 *s);
void e1000_free(struct e1000 *s);
/* For tests: the PCI function. */
struct pci_device *e1000_pci(struct e1000 *s);

#endif
