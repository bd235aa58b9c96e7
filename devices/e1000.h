/*
 * Intel 82545EM gigabit Ethernet (8086:100F, subsystem 15AD:0750 as VMware
 * presents it): the "e1000" of a .vmx, on the network seam (net.h).
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
void e1000_reset(struct e1000 *s);
void e1000_free(struct e1000 *s);
/* For tests: the PCI function. */
struct pci_device *e1000_pci(struct e1000 *s);

#endif
