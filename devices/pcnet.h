/*
 * AMD PCnet-PCI II (Am79C970A, 1022:2000 rev 0x10): the "vlance" of a .vmx,
 * on the network seam (net.h).
 */
#ifndef VMPLAY_PCNET_H
#define VMPLAY_PCNET_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/clock.h"
#include "devices/net.h"
#include "devices/pci.h"

/* The I/O BAR (BAR0): APROM, then RDP/RAP/RESET/BDP (word or dword I/O). */
#define PCNET_IO_SIZE 0x20

struct pcnet;

/* Registers a PCI function at devfn; frames go to and come from be; link: startConnected. */
struct pcnet *pcnet_new(struct pci_bus *pci, int devfn, struct clock *clock, const uint8_t mac[6],
                        struct net_backend *be, bool link);
void pcnet_reset(struct pcnet *s);
void pcnet_free(struct pcnet *s);
/* For tests: the PCI function. */
struct pci_device *pcnet_pci(struct pcnet *s);
/* Gives the card a PCI expansion ROM (taking image, size a power of two); pcnet_free frees it. */
void pcnet_set_rom(struct pcnet *s, uint8_t *image, uint64_t size);

#endif
