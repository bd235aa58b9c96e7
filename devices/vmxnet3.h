/*
 * VMware's paravirtual NIC vmxnet3 (15AD:07B0, revision 1): the "vmxnet3" of
 * a .vmx, on the network seam (net.h).
 */
#ifndef VMPLAY_VMXNET3_H
#define VMPLAY_VMXNET3_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/clock.h"
#include "devices/net.h"
#include "devices/pci.h"

struct vmxnet3;

/* Registers a PCI function at devfn; frames go to and come from be; link: startConnected. */
struct vmxnet3 *vmxnet3_new(struct pci_bus *pci, int devfn, struct clock *clock, const uint8_t mac[6],
                            struct net_backend *be, bool link);
void vmxnet3_reset(struct vmxnet3 *s);
void vmxnet3_free(struct vmxnet3 *s);
/* For tests: the PCI function. */
struct pci_device *vmxnet3_pci(struct vmxnet3 *s);
/* Gives the card a PCI expansion ROM (taking image, size a power of two); vmxnet3_free frees it. */
void vmxnet3_set_rom(struct vmxnet3 *s, uint8_t *image, uint64_t size);

#endif
