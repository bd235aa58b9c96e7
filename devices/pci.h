/*
 * PCI bus 0 behind the i440FX host bridge: configuration mechanism #1
 * (ports 0xCF8/0xCFC), 256-byte configuration spaces, BARs that map and
 * unmap themselves on the bus when the guest programs them and enables
 * decoding, and INTx lines routed by the board (PIIX3 PIRQ). A PCI device
 * embeds struct pci_device (or points to one) and fills it before
 * pci_register(); the generic code handles the header, BAR sizing and
 * command-register decode enables. Interrupt pins are numbered as in the
 * config register (1 = INTA) in pci_device_init and 0..3 (INTA..INTD) in
 * the router callback.
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
#define PCI_STATUS_INTERRUPT 0x08
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_CLASS_DEVICE 0x0a
#define PCI_HEADER_TYPE 0x0e
#define PCI_HEADER_TYPE_MULTI_FUNCTION 0x80
#define PCI_BASE_ADDRESS_0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_ROM_ADDRESS 0x30
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_NUM_BARS 6

/* Capability IDs (PCI Local Bus 3.0 appendix H) and the MSI / MSI-X registers. */
#define PCI_CAP_ID_MSI 0x05
#define PCI_CAP_ID_MSIX 0x11
#define PCI_MSI_FLAGS_ENABLE 0x0001
#define PCI_MSI_FLAGS_64BIT 0x0080
#define PCI_MSI_FLAGS_MASKBIT 0x0100
#define PCI_MSIX_FLAGS_MASKALL 0x4000
#define PCI_MSIX_FLAGS_ENABLE 0x8000
#define PCI_MSIX_ENTRY_SIZE 16
#define PCI_MSIX_ENTRY_CTRL_MASKBIT 0x1
#define PCI_MSIX_MAX_VECTORS 64
/* The MSI-X BAR pci_msix_init creates: the table at 0, the PBA at PCI_MSIX_PBA_OFFSET. */
#define PCI_MSIX_BAR_SIZE 0x1000
#define PCI_MSIX_PBA_OFFSET 0x800

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
    /* Expansion ROM (PCI_ROM_ADDRESS), optional: see pci_device_set_rom. */
    struct pci_bar rom;
    int intx_asserted; /* what the router was last told */
    /* Capabilities (pci_add_capability, pci_msi_init, pci_msix_init); 0 = none. */
    uint8_t cap_last, cap_free;
    uint8_t msi_cap, msix_cap;
    unsigned msi_vectors, msix_vectors;
    uint32_t msi_pending;
    uint32_t msix_table[PCI_MSIX_MAX_VECTORS][4]; /* address low, high, data, vector control */
    uint64_t msix_pba;
};

struct pci_bus *pci_bus_new(struct bus *bus);
void pci_bus_free(struct pci_bus *pb);
/* The board routes INTA..INTD of each slot; set before devices raise interrupts. */
void pci_bus_set_intx_router(struct pci_bus *pb, void (*route)(void *opaque, int devfn, int pin, int level),
                             void *opaque);

/* Clears *d (hooks included: set them after) and fills the header: ids, class, header type 0,
 * interrupt pin (0 = none, 1 = INTA...), the standard writable bits. */
void pci_device_init(struct pci_device *d, const char *name, uint16_t vendor, uint16_t device,
                     uint32_t class_code, uint8_t revision, uint8_t int_pin);
/* The subsystem vendor and device IDs (config 0x2C, 0x2E) a guest driver may match on. */
void pci_set_subsystem(struct pci_device *d, uint16_t vendor, uint16_t id);
/*
 * Subsystem IDs 1AF4:1100, QEMU's default for its PCI devices. SeaBIOS's
 * qemu_detect() requires them on the host bridge before it uses fw_cfg and
 * the debug port; the chipset devices carry them as on QEMU.
 */
#define PCI_SUBSYSTEM_VENDOR_QEMU 0x1af4
#define PCI_SUBSYSTEM_ID_QEMU 0x1100
void pci_set_qemu_subsystem(struct pci_device *d);
void pci_device_set_bar(struct pci_device *d, int n, enum pci_bar_kind kind, uint64_t size,
                        const struct bus_ops *ops, void *opaque, uint8_t *ram);
/* An expansion ROM image of size bytes (a power of two >= 2 KiB), mapped read-only
 * when the guest enables it (PCI_ROM_ADDRESS bit 0) and memory decoding. */
void pci_device_set_rom(struct pci_device *d, uint8_t *image, uint64_t size);
/* Machine reset of the generic header: decoding off (BARs unmapped), BAR and ROM
 * addresses 0, INTx deasserted. Devices call it from their own _reset. */
void pci_device_reset(struct pci_device *d);
/* Registers at devfn (function 0 of a slot with several functions gets the
 * multi-function header bit); returns 0, or -1 when the slot is taken. */
int pci_register(struct pci_bus *pb, struct pci_device *d, int devfn);
/* Drives the device's INTx pin (ignored while INTX_DISABLE is set). */
void pci_set_irq(struct pci_device *d, int level);
/* Bus-master DMA through the checked accessors; fails when bus mastering is off. */
int pci_dma_read(struct pci_device *d, uint64_t addr, void *buf, size_t len);
int pci_dma_write(struct pci_device *d, uint64_t addr, const void *buf, size_t len);

/*
 * Capabilities and message-signalled interrupts.
 *
 * pci_add_capability appends a capability of size bytes (id, next pointer, then
 * size - 2 bytes read-only unless the caller opens bits in d->wmask) to the
 * list at PCI_CAPABILITY_LIST, sets PCI_STATUS_CAP_LIST and returns its
 * offset, or 0 when config space is full. Call after pci_device_init.
 *
 * pci_msi_init adds an MSI capability for nvectors (1, 2, 4, ... 32) vectors,
 * 64-bit addresses when addr64, per-vector mask and pending bits when
 * maskable. pci_msix_init adds an MSI-X capability for nvectors (up to
 * PCI_MSIX_MAX_VECTORS) with its table and PBA in BAR bar, a 4 KiB memory BAR
 * that pci.c itself serves (table at 0, PBA at PCI_MSIX_PBA_OFFSET). Both
 * return the capability's offset or 0.
 *
 * A device raises interrupt vector n with pci_msi_notify: when MSI-X is
 * enabled the message of table entry n is sent (or its pending bit set while
 * the vector or the function is masked; it is sent when unmasked); when MSI
 * is enabled the message data carries n in its low bits (n below the number
 * of vectors the guest enabled, else vector 0), masked vectors pend likewise.
 * It returns false when neither is enabled: the device then drives INTx
 * (pci_set_irq). pci_msi_active tells the same in advance.
 *
 * Messages to 0xFEExxxxx go to the board's sink (pci_bus_set_msi_sink: the
 * local APIC, apic_deliver_msi); any other address is a DMA write of the
 * data dword, as on a real bus.
 */
uint8_t pci_add_capability(struct pci_device *d, uint8_t id, uint8_t size);
uint8_t pci_msi_init(struct pci_device *d, unsigned nvectors, bool addr64, bool maskable);
uint8_t pci_msix_init(struct pci_device *d, unsigned nvectors, int bar);
bool pci_msix_enabled(const struct pci_device *d);
bool pci_msi_enabled(const struct pci_device *d);
static inline bool pci_msi_active(const struct pci_device *d)
{
    return pci_msix_enabled(d) || pci_msi_enabled(d);
}
bool pci_msi_notify(struct pci_device *d, unsigned vector);
void pci_bus_set_msi_sink(struct pci_bus *pb, void (*deliver)(void *opaque, uint64_t addr, uint32_t data),
                          void *opaque);
/* Finds capability id in d's list (walking it as a guest does); its offset or 0. */
uint8_t pci_find_capability(struct pci_bus *pb, int devfn, uint8_t id);

/* The device at devfn, or NULL. */
struct pci_device *pci_find(struct pci_bus *pb, int devfn);

/*
 * Configuration mechanism #1: maps CONFIG_ADDRESS (0xCF8, dword accesses
 * only) and CONFIG_DATA (0xCFC-0xCFF, any width at any offset). The host
 * bridge calls it. Returns 0, or -1 when the ports are taken.
 */
int pci_bus_map_conf_ports(struct pci_bus *pb);
/* Byte accesses to port 0xCF9 (inside CONFIG_ADDRESS): the PIIX reset control register. */
void pci_bus_set_cf9(struct pci_bus *pb, uint8_t (*read)(void *opaque),
                     void (*write)(void *opaque, uint8_t value), void *opaque);

/* Config access (the host bridge's 0xCF8/0xCFC handlers call these). */
uint32_t pci_config_read(struct pci_bus *pb, int devfn, unsigned off, unsigned size);
void pci_config_write(struct pci_bus *pb, int devfn, unsigned off, uint32_t value, unsigned size);

#endif
