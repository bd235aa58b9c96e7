/*
 * PCI bus 0 behind the i440FX host bridge: configuration mechanism #1
 * (ports 0xCF8/0xCFC), 256-byte configuration spaces, BARs that map and
 * unmap themselves on the bus when the guest programs them and enables
 * decoding, and INTx lines routed by the board (PIIX3 PIRQ). A PCI device
 * embeds struct pci_device (or points to one) and fills it before
 * pci_register(); the generic code handles the header, BAR sizing and
 * command-register decode enables.
 */
#ifndef VMPLAY_PCI_H
#define VMPLAY_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/irq.h"

#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_COMMAND_IO 0x1
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_CLASS_DEVICE 0x0a
#define PCI_HEADER_TYPE 0x0e
#define PCI_BASE_ADDRESS_0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_ROM_ADDRESS 0x30
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_NUM_BARS 6

struct pci_bus;
struct pci_device;

enum pci_bar_kind { PCI_BAR_NONE, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

struct pci_bar {
    enum pci_bar_kind kind;
    uint64_t size;    /* power of two */
    bool prefetch;
    /* What decodes there: a RAM block (a framebuffer) or MMIO/port handlers. */
    uint8_t *ram;
    const struct bus_ops *ops;
    void *opaque;
    uint64_t mapped_at; /* current address while mapped */
    bool mapped;
};

struct pci_device {
    const char *name;
    uint8_t config[256];
    uint8_t wmask[256]; /* writable bits of config (the generic code sets the header's) */
    struct pci_bar bar[PCI_NUM_BARS];
    /* Optional hooks for device-specific registers (after the generic handling). */
    uint32_t (*config_read)(struct pci_device *d, unsigned off, unsigned size);
    void (*config_write)(struct pci_device *d, unsigned off, uint32_t value, unsigned size);
    void *opaque;
    int devfn; /* slot << 3 | function */
    int intx_level;
    struct pci_bus *bus;
};

struct pci_bus *pci_bus_new(struct bus *bus);
void pci_bus_free(struct pci_bus *pb);
/* The board routes INTA..INTD of each slot; set before devices raise interrupts. */
void pci_bus_set_intx_router(struct pci_bus *pb, void (*route)(void *opaque, int devfn, int pin, int level),
                             void *opaque);

/* Fills the header helpers: ids, class, header type 0, interrupt pin (0 = none, 1 = INTA...). */
void pci_device_init(struct pci_device *d, const char *name, uint16_t vendor, uint16_t device,
                     uint32_t class_code, uint8_t revision, uint8_t int_pin);
void pci_device_set_bar(struct pci_device *d, int n, enum pci_bar_kind kind, uint64_t size,
                        const struct bus_ops *ops, void *opaque, uint8_t *ram);
/* Registers at devfn; returns 0, or -1 when the slot is taken. */
int pci_register(struct pci_bus *pb, struct pci_device *d, int devfn);
/* Drives the device's INTx pin (ignored while INTX_DISABLE is set). */
void pci_set_irq(struct pci_device *d, int level);
/* Bus-master DMA through the checked accessors; fails when bus mastering is off. */
int pci_dma_read(struct pci_device *d, uint64_t addr, void *buf, size_t len);
int pci_dma_write(struct pci_device *d, uint64_t addr, const void *buf, size_t len);

/* Config access (the host bridge's 0xCF8/0xCFC handlers call these). */
uint32_t pci_config_read(struct pci_bus *pb, int devfn, unsigned off, unsigned size);
void pci_config_write(struct pci_bus *pb, int devfn, unsigned off, uint32_t value, unsigned size);

#endif
