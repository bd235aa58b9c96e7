/*
 * PCI bus 0: configuration mechanism #1 (CONFIG_ADDRESS at 0xCF8 with the
 * enable bit 31, CONFIG_DATA at 0xCFC-0xCFF with any width at any offset),
 * 256-byte configuration spaces with per-bit write masks, the type 0
 * header's BARs (I/O, 32-bit and 64-bit memory, prefetchable bit, sizing by
 * writing all ones) and expansion ROM, decoding switched by the command
 * register's I/O and memory enables. A BAR is mapped on the bus only while
 * it decodes, has a non-zero address and does not wrap its address space;
 * a BAR the guest places over an existing range is left unmapped (traced).
 * INTx goes to the board's router, masked by INTX_DISABLE, with status
 * bit 3 following the device's pin; bus-master DMA needs the command
 * register's bus-master enable. Only bus 0 exists: other buses and absent
 * functions read all ones.
 *
 * Capabilities (PCI 3.0 section 6.7) are chained from 0x34 in the order
 * devices add them, from 0x40 up. MSI (6.8.1) and MSI-X (6.8.2) follow the
 * spec's register layouts; an MSI-X table lives in a BAR of its own served
 * here. A message is a dword memory write: to the local APIC's window
 * through the board's sink, anywhere else through the checked DMA path.
 */
#include "devices/pci.h"

#include <stdlib.h>
#include <string.h>

#include "devices/trace.h"

#define PCI_CONFIG_ENABLE 0x80000000u
#define PCI_CACHE_LINE_SIZE 0x0c
#define PCI_LATENCY_TIMER 0x0d
#define PCI_COMMAND_WMASK 0x0547 /* IO, MEM, MASTER, PARITY, SERR, INTX_DISABLE */
#define PCI_STATUS_W1C 0xf900    /* error bits cleared by writing 1 */
#define PCI_ROM_ENABLE 0x1
#define PCI_BAR_END 0x28

struct pci_bus {
    struct bus *bus;
    struct pci_device *dev[256];
    void (*route)(void *opaque, int devfn, int pin, int level);
    void *route_opaque;
    uint32_t config_address;
    uint8_t (*cf9_read)(void *opaque);
    void (*cf9_write)(void *opaque, uint8_t value);
    void *cf9_opaque;
    void (*msi_deliver)(void *opaque, uint64_t addr, uint32_t data);
    void *msi_opaque;
};

struct pci_bus *pci_bus_new(struct bus *bus)
{
    struct pci_bus *pb = calloc(1, sizeof(*pb));
    if (pb)
        pb->bus = bus;
    return pb;
}

void pci_bus_free(struct pci_bus *pb)
{
    free(pb);
}

void pci_bus_set_intx_router(struct pci_bus *pb, void (*route)(void *opaque, int devfn, int pin, int level),
                             void *opaque)
{
    pb->route = route;
    pb->route_opaque = opaque;
}

void pci_bus_set_cf9(struct pci_bus *pb, uint8_t (*read)(void *opaque),
                     void (*write)(void *opaque, uint8_t value), void *opaque)
{
    pb->cf9_read = read;
    pb->cf9_write = write;
    pb->cf9_opaque = opaque;
}

struct pci_device *pci_find(struct pci_bus *pb, int devfn)
{
    return devfn >= 0 && devfn < 256 ? pb->dev[devfn] : NULL;
}

/* ---- little-endian config helpers ---- */

static uint32_t cfg_get(const uint8_t *c, unsigned off, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)c[off + i] << (8 * i);
    return v;
}

static void cfg_put(uint8_t *c, unsigned off, uint32_t v, unsigned size)
{
    for (unsigned i = 0; i < size; i++)
        c[off + i] = (uint8_t)(v >> (8 * i));
}

static uint16_t command(const struct pci_device *d)
{
    return (uint16_t)cfg_get(d->config, PCI_COMMAND, 2);
}

void pci_set_subsystem(struct pci_device *d, uint16_t vendor, uint16_t id)
{
    d->config[PCI_SUBSYSTEM_VENDOR_ID] = vendor & 0xFF;
    d->config[PCI_SUBSYSTEM_VENDOR_ID + 1] = vendor >> 8;
    d->config[PCI_SUBSYSTEM_ID] = id & 0xFF;
    d->config[PCI_SUBSYSTEM_ID + 1] = id >> 8;
}

void pci_device_init(struct pci_device *d, const char *name, uint16_t vendor, uint16_t device,
                     uint32_t class_code, uint8_t revision, uint8_t int_pin)
{
    memset(d, 0, sizeof(*d));
    d->name = name;
    d->devfn = -1;
    cfg_put(d->config, PCI_VENDOR_ID, vendor, 2);
    cfg_put(d->config, PCI_DEVICE_ID, device, 2);
    d->config[PCI_REVISION_ID] = revision;
    cfg_put(d->config, PCI_CLASS_PROG, class_code, 3);
    d->config[PCI_INTERRUPT_PIN] = int_pin;
    cfg_put(d->wmask, PCI_COMMAND, PCI_COMMAND_WMASK, 2);
    d->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
    d->wmask[PCI_LATENCY_TIMER] = 0xff;
    d->wmask[PCI_INTERRUPT_LINE] = 0xff;
    memset(d->wmask + 0x40, 0xff, 0xc0);
}

void pci_set_qemu_subsystem(struct pci_device *d)
{
    cfg_put(d->config, PCI_SUBSYSTEM_VENDOR_ID, PCI_SUBSYSTEM_VENDOR_QEMU, 2);
    cfg_put(d->config, PCI_SUBSYSTEM_ID, PCI_SUBSYSTEM_ID_QEMU, 2);
}

/* The flag bits a BAR reads back with (bits 0-3). */
static uint32_t bar_flags(const struct pci_bar *b)
{
    switch (b->kind) {
    case PCI_BAR_IO:
        return 0x1;
    case PCI_BAR_MEM32:
        return b->prefetch ? 0x8 : 0x0;
    case PCI_BAR_MEM64:
        return 0x4 | (b->prefetch ? 0x8 : 0x0);
    default:
        return 0;
    }
}

void pci_device_set_bar(struct pci_device *d, int n, enum pci_bar_kind kind, uint64_t size,
                        const struct bus_ops *ops, void *opaque, uint8_t *ram)
{
    if (n < 0 || n >= PCI_NUM_BARS || (kind == PCI_BAR_MEM64 && n == PCI_NUM_BARS - 1))
        return;
    struct pci_bar *b = &d->bar[n];
    memset(b, 0, sizeof(*b));
    b->kind = kind;
    b->size = size;
    b->ops = ops;
    b->opaque = opaque;
    b->ram = ram;
    cfg_put(d->config, PCI_BASE_ADDRESS_0 + 4 * n, bar_flags(b), 4);
}

void pci_device_set_rom(struct pci_device *d, uint8_t *image, uint64_t size)
{
    memset(&d->rom, 0, sizeof(d->rom));
    d->rom.kind = PCI_BAR_MEM32;
    d->rom.size = size;
    d->rom.ram = image;
    cfg_put(d->config, PCI_ROM_ADDRESS, 0, 4);
}

/* ---- BAR decode and mapping ---- */

/* Address bits of BAR dword n (0..5), or of the ROM for n == 6. */
static uint32_t bar_addr_mask(const struct pci_device *d, int n)
{
    if (n == PCI_NUM_BARS)
        return d->rom.kind == PCI_BAR_NONE ? 0 : (uint32_t)~(d->rom.size - 1) & 0xfffff800u;
    const struct pci_bar *b = &d->bar[n];
    if (b->kind == PCI_BAR_NONE) {
        /* The upper half of a 64-bit BAR. */
        if (n > 0 && d->bar[n - 1].kind == PCI_BAR_MEM64)
            return (uint32_t)(~(d->bar[n - 1].size - 1) >> 32);
        return 0;
    }
    uint32_t low = b->kind == PCI_BAR_IO ? 0xfffffffcu : 0xfffffff0u;
    return (uint32_t)~(b->size - 1) & low;
}

static unsigned bar_offset(int n)
{
    return n == PCI_NUM_BARS ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4 * (unsigned)n;
}

static struct pci_bar *bar_of(struct pci_device *d, int n)
{
    return n == PCI_NUM_BARS ? &d->rom : &d->bar[n];
}

/* Where BAR n should decode now, or false when it should not be mapped. */
static bool bar_target(struct pci_device *d, int n, uint64_t *addr)
{
    const struct pci_bar *b = bar_of(d, n);
    uint32_t lo = cfg_get(d->config, bar_offset(n), 4);
    uint16_t cmd = command(d);
    uint64_t a = lo & bar_addr_mask(d, n), limit = 1ull << 32;
    if (b->kind == PCI_BAR_NONE || b->size == 0)
        return false;
    if (b->kind == PCI_BAR_IO) {
        if (!(cmd & PCI_COMMAND_IO))
            return false;
        limit = 0x10000;
    } else if (!(cmd & PCI_COMMAND_MEMORY) || (n == PCI_NUM_BARS && !(lo & PCI_ROM_ENABLE))) {
        return false;
    }
    if (b->kind == PCI_BAR_MEM64) {
        a |= (uint64_t)cfg_get(d->config, bar_offset(n) + 4, 4) << 32;
        limit = 1ull << 52;
    }
    /* Address 0 is unprogrammed; a BAR whose last byte reaches the top is being sized. */
    if (a == 0 || a >= limit || b->size >= limit - a)
        return false;
    *addr = a;
    return true;
}

static void bar_unmap(struct pci_device *d, struct pci_bar *b)
{
    struct bus *bus = d->bus->bus;
    if (!b->mapped)
        return;
    if (b->kind == PCI_BAR_IO)
        bus_unmap_pio(bus, (uint16_t)b->mapped_at);
    else
        bus_unmap(bus, b->mapped_at);
    b->mapped = false;
}

static int bar_map(struct pci_device *d, struct pci_bar *b, uint64_t a)
{
    struct bus *bus = d->bus->bus;
    if (b->kind == PCI_BAR_IO)
        return bus_map_pio(bus, (uint16_t)a, (uint32_t)b->size, b->ops, b->opaque, d->name);
    if (b->ram)
        return bus_map_ram(bus, a, b->size, b->ram, b == &d->rom, d->name);
    return bus_map_mmio(bus, a, b->size, b->ops, b->opaque, d->name);
}

static void bar_update(struct pci_device *d, int n)
{
    struct pci_bar *b = bar_of(d, n);
    uint64_t a = 0;
    bool want = bar_target(d, n, &a);
    if (b->mapped && want && b->mapped_at == a)
        return;
    bar_unmap(d, b);
    if (!want)
        return;
    if (bar_map(d, b, a) < 0) {
        if (trace_on(TRACE_PCI))
            trace_printf(TRACE_PCI, "pci %02x.%x %s: BAR %d at 0x%llx overlaps a mapped range, left unmapped",
                         d->devfn >> 3, d->devfn & 7, d->name, n, (unsigned long long)a);
        return;
    }
    b->mapped = true;
    b->mapped_at = a;
    if (trace_on(TRACE_PCI))
        trace_printf(TRACE_PCI, "pci %02x.%x %s: BAR %d mapped at 0x%llx size 0x%llx", d->devfn >> 3,
                     d->devfn & 7, d->name, n, (unsigned long long)a, (unsigned long long)b->size);
}

static void bars_update(struct pci_device *d)
{
    for (int n = 0; n <= PCI_NUM_BARS; n++)
        bar_update(d, n);
}

/* ---- INTx ---- */

static void intx_update(struct pci_device *d)
{
    int pin = d->config[PCI_INTERRUPT_PIN];
    int level = d->intx_level && !(command(d) & PCI_COMMAND_INTX_DISABLE) && pin >= 1 && pin <= 4;
    if (level == d->intx_asserted)
        return;
    d->intx_asserted = level;
    if (d->bus && d->bus->route)
        d->bus->route(d->bus->route_opaque, d->devfn, pin - 1, level);
}

void pci_set_irq(struct pci_device *d, int level)
{
    d->intx_level = level != 0;
    if (d->intx_level)
        d->config[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
    else
        d->config[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
    intx_update(d);
}

/* ---- registration and reset ---- */

static void mark_multifunction(struct pci_bus *pb, int slot)
{
    int n = 0;
    for (int fn = 0; fn < 8; fn++)
        n += pb->dev[slot << 3 | fn] != NULL;
    if (n > 1 && pb->dev[slot << 3])
        pb->dev[slot << 3]->config[PCI_HEADER_TYPE] |= PCI_HEADER_TYPE_MULTI_FUNCTION;
}

int pci_register(struct pci_bus *pb, struct pci_device *d, int devfn)
{
    if (devfn < 0 || devfn > 255 || pb->dev[devfn])
        return -1;
    pb->dev[devfn] = d;
    d->devfn = devfn;
    d->bus = pb;
    mark_multifunction(pb, devfn >> 3);
    return 0;
}

static void msi_reset(struct pci_device *d);

void pci_device_reset(struct pci_device *d)
{
    cfg_put(d->config, PCI_COMMAND, 0, 2);
    cfg_put(d->config, PCI_STATUS, d->cap_last ? PCI_STATUS_CAP_LIST : 0, 2);
    msi_reset(d);
    for (int n = 0; n < PCI_NUM_BARS; n++)
        cfg_put(d->config, bar_offset(n), bar_flags(&d->bar[n]), 4);
    cfg_put(d->config, PCI_ROM_ADDRESS, 0, 4);
    d->config[PCI_INTERRUPT_LINE] = 0;
    d->intx_level = 0;
    if (d->bus) {
        bars_update(d);
        intx_update(d);
    }
}

/* ---- config space access ---- */

int pci_dma_read(struct pci_device *d, uint64_t addr, void *buf, size_t len)
{
    if (!(command(d) & PCI_COMMAND_MASTER) || !d->bus)
        return -1;
    return bus_dma_read(d->bus->bus, addr, buf, len);
}

int pci_dma_write(struct pci_device *d, uint64_t addr, const void *buf, size_t len)
{
    if (!(command(d) & PCI_COMMAND_MASTER) || !d->bus)
        return -1;
    return bus_dma_write(d->bus->bus, addr, buf, len);
}

static bool is_bar_byte(unsigned off)
{
    return (off >= PCI_BASE_ADDRESS_0 && off < PCI_BAR_END) ||
           (off >= PCI_ROM_ADDRESS && off < PCI_ROM_ADDRESS + 4);
}

static int bar_index(unsigned off)
{
    return off >= PCI_ROM_ADDRESS ? PCI_NUM_BARS : (int)(off - PCI_BASE_ADDRESS_0) / 4;
}

/* Keeps only the address bits the BAR implements, and its read-only flag bits. */
static void bar_fixup(struct pci_device *d, int n)
{
    unsigned off = bar_offset(n);
    uint32_t v = cfg_get(d->config, off, 4), mask = bar_addr_mask(d, n);
    uint32_t flags = n == PCI_NUM_BARS ? (v & PCI_ROM_ENABLE) : bar_flags(&d->bar[n]);
    if (n == PCI_NUM_BARS && d->rom.kind == PCI_BAR_NONE)
        flags = 0;
    cfg_put(d->config, off, (v & mask) | flags, 4);
}

static void write_byte(struct pci_device *d, unsigned off, uint8_t v)
{
    if (is_bar_byte(off)) {
        d->config[off] = v;
    } else if (off == PCI_STATUS || off == PCI_STATUS + 1) {
        uint8_t w1c = (uint8_t)(PCI_STATUS_W1C >> (8 * (off - PCI_STATUS)));
        d->config[off] &= (uint8_t)~(v & w1c);
    } else {
        d->config[off] = (uint8_t)((d->config[off] & ~d->wmask[off]) | (v & d->wmask[off]));
    }
}

static void msi_config_written(struct pci_device *d);

uint32_t pci_config_read(struct pci_bus *pb, int devfn, unsigned off, unsigned size)
{
    struct pci_device *d = pci_find(pb, devfn);
    uint32_t ones = size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    if (!d || off + size > 256)
        return ones;
    if (d->config_read)
        return d->config_read(d, off, size) & ones;
    return cfg_get(d->config, off, size);
}

void pci_config_write(struct pci_bus *pb, int devfn, unsigned off, uint32_t value, unsigned size)
{
    struct pci_device *d = pci_find(pb, devfn);
    bool bars = false, cmd = false;
    if (!d || off + size > 256)
        return;
    for (unsigned i = 0; i < size; i++) {
        write_byte(d, off + i, (uint8_t)(value >> (8 * i)));
        bars |= is_bar_byte(off + i);
        cmd |= off + i == PCI_COMMAND || off + i == PCI_COMMAND + 1;
    }
    if (bars) {
        for (unsigned i = 0; i < size; i++)
            if (is_bar_byte(off + i))
                bar_fixup(d, bar_index(off + i));
    }
    if (bars || cmd)
        bars_update(d);
    if (cmd)
        intx_update(d);
    if (d->msi_cap || d->msix_cap)
        msi_config_written(d);
    if (d->config_write)
        d->config_write(d, off, value, size);
}

/* ---- mechanism #1 ports ---- */

static uint64_t conf_addr_read(void *opaque, uint64_t offset, unsigned size)
{
    struct pci_bus *pb = opaque;
    if (offset == 0 && size == 4)
        return pb->config_address;
    if (offset == 1 && size == 1 && pb->cf9_read)
        return pb->cf9_read(pb->cf9_opaque);
    return 0xffffffffu;
}

static void conf_addr_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct pci_bus *pb = opaque;
    if (offset == 0 && size == 4)
        pb->config_address = (uint32_t)value;
    else if (offset == 1 && size == 1 && pb->cf9_write)
        pb->cf9_write(pb->cf9_opaque, (uint8_t)value);
}

/* The devfn CONFIG_ADDRESS selects on bus 0, or -1 (disabled or another bus). */
static int conf_devfn(const struct pci_bus *pb)
{
    if (!(pb->config_address & PCI_CONFIG_ENABLE) || ((pb->config_address >> 16) & 0xff) != 0)
        return -1;
    return (pb->config_address >> 8) & 0xff;
}

static uint64_t conf_data_read(void *opaque, uint64_t offset, unsigned size)
{
    struct pci_bus *pb = opaque;
    int devfn = conf_devfn(pb);
    if (devfn < 0)
        return 0xffffffffu;
    return pci_config_read(pb, devfn, (pb->config_address & 0xfc) + (unsigned)offset, size);
}

static void conf_data_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct pci_bus *pb = opaque;
    int devfn = conf_devfn(pb);
    if (devfn >= 0)
        pci_config_write(pb, devfn, (pb->config_address & 0xfc) + (unsigned)offset, (uint32_t)value, size);
}

static const struct bus_ops conf_addr_ops = {
    .read = conf_addr_read, .write = conf_addr_write, .min_size = 1, .max_size = 4};
static const struct bus_ops conf_data_ops = {
    .read = conf_data_read, .write = conf_data_write, .min_size = 1, .max_size = 4};

int pci_bus_map_conf_ports(struct pci_bus *pb)
{
    if (bus_map_pio(pb->bus, 0xcf8, 4, &conf_addr_ops, pb, "pci-config-address") < 0)
        return -1;
    if (bus_map_pio(pb->bus, 0xcfc, 4, &conf_data_ops, pb, "pci-config-data") < 0) {
        bus_unmap_pio(pb->bus, 0xcf8);
        return -1;
    }
    return 0;
}

/* ---- capabilities ---- */

uint8_t pci_add_capability(struct pci_device *d, uint8_t id, uint8_t size)
{
    unsigned at = d->cap_free ? d->cap_free : 0x40;
    at = (at + 3) & ~3u;
    if (size < 2 || at + size > 256)
        return 0;
    memset(d->config + at, 0, size);
    memset(d->wmask + at, 0, size);
    d->config[at] = id;
    if (d->cap_last)
        d->config[d->cap_last + 1] = (uint8_t)at;
    else
        d->config[PCI_CAPABILITY_LIST] = (uint8_t)at;
    d->cap_last = (uint8_t)at;
    d->cap_free = (uint8_t)(at + size > 255 ? 255 : at + size);
    d->config[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
    return (uint8_t)at;
}

uint8_t pci_find_capability(struct pci_bus *pb, int devfn, uint8_t id)
{
    if (!(pci_config_read(pb, devfn, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
        return 0;
    unsigned at = pci_config_read(pb, devfn, PCI_CAPABILITY_LIST, 1) & 0xfc;
    for (int n = 0; n < 48 && at >= 0x40; n++) {
        if (pci_config_read(pb, devfn, at, 1) == id)
            return (uint8_t)at;
        at = pci_config_read(pb, devfn, at + 1, 1) & 0xfc;
    }
    return 0;
}

void pci_bus_set_msi_sink(struct pci_bus *pb, void (*deliver)(void *opaque, uint64_t addr, uint32_t data),
                          void *opaque)
{
    pb->msi_deliver = deliver;
    pb->msi_opaque = opaque;
}

/* A message: a dword write on the bus, from the device (bus mastering on). */
static void msi_send(struct pci_device *d, uint64_t addr, uint32_t data)
{
    if (!d->bus || !(command(d) & PCI_COMMAND_MASTER))
        return;
    if (trace_on(TRACE_PCI))
        trace_printf(TRACE_PCI, "pci %02x.%x %s: message 0x%llx <- 0x%x", d->devfn >> 3, d->devfn & 7,
                     d->name, (unsigned long long)addr, data);
    if ((addr >> 20) == 0xfee) {
        if (d->bus->msi_deliver)
            d->bus->msi_deliver(d->bus->msi_opaque, addr, data);
        return;
    }
    uint8_t le[4] = {(uint8_t)data, (uint8_t)(data >> 8), (uint8_t)(data >> 16), (uint8_t)(data >> 24)};
    bus_dma_write(d->bus->bus, addr, le, 4);
}

/* ---- MSI ---- */

static uint16_t msi_flags(const struct pci_device *d)
{
    return (uint16_t)cfg_get(d->config, d->msi_cap + 2, 2);
}

static unsigned msi_data_off(const struct pci_device *d)
{
    return d->msi_cap + (msi_flags(d) & PCI_MSI_FLAGS_64BIT ? 0x0c : 0x08);
}

static unsigned msi_mask_off(const struct pci_device *d)
{
    return msi_data_off(d) + 4;
}

uint8_t pci_msi_init(struct pci_device *d, unsigned nvectors, bool addr64, bool maskable)
{
    unsigned log2 = 0;
    while ((1u << log2) < nvectors && log2 < 5)
        log2++;
    uint8_t size = (uint8_t)((addr64 ? 14 : 10) + (maskable ? 10 : 0));
    uint8_t at = pci_add_capability(d, PCI_CAP_ID_MSI, size);
    if (!at)
        return 0;
    uint16_t flags = (uint16_t)(log2 << 1) | (addr64 ? PCI_MSI_FLAGS_64BIT : 0) |
                     (maskable ? PCI_MSI_FLAGS_MASKBIT : 0);
    cfg_put(d->config, at + 2, flags, 2);
    d->msi_cap = at;
    d->msi_vectors = 1u << log2;
    cfg_put(d->wmask, at + 2, PCI_MSI_FLAGS_ENABLE | 0x70, 2);
    cfg_put(d->wmask, at + 4, 0xfffffffcu, 4);
    if (addr64)
        cfg_put(d->wmask, at + 8, 0xffffffffu, 4);
    cfg_put(d->wmask, msi_data_off(d), 0xffff, 2);
    if (maskable) {
        uint32_t bits = d->msi_vectors >= 32 ? 0xffffffffu : (1u << d->msi_vectors) - 1;
        cfg_put(d->wmask, msi_mask_off(d), bits, 4);
    }
    return at;
}

bool pci_msi_enabled(const struct pci_device *d)
{
    return d->msi_cap && (msi_flags(d) & PCI_MSI_FLAGS_ENABLE) && !pci_msix_enabled(d);
}

/* Vectors the guest enabled (Multiple Message Enable), at most those offered. */
static unsigned msi_enabled_vectors(const struct pci_device *d)
{
    unsigned n = 1u << ((msi_flags(d) >> 4) & 7);
    return n > d->msi_vectors ? d->msi_vectors : n;
}

static bool msi_masked(const struct pci_device *d, unsigned v)
{
    if (!(msi_flags(d) & PCI_MSI_FLAGS_MASKBIT))
        return false;
    return (cfg_get(d->config, msi_mask_off(d), 4) >> v) & 1;
}

static void msi_set_pending(struct pci_device *d, uint32_t pending)
{
    d->msi_pending = pending;
    if (msi_flags(d) & PCI_MSI_FLAGS_MASKBIT)
        cfg_put(d->config, msi_mask_off(d) + 4, pending, 4);
}

static void msi_fire(struct pci_device *d, unsigned v)
{
    uint16_t flags = msi_flags(d);
    uint64_t addr = cfg_get(d->config, d->msi_cap + 4, 4);
    if (flags & PCI_MSI_FLAGS_64BIT)
        addr |= (uint64_t)cfg_get(d->config, d->msi_cap + 8, 4) << 32;
    uint32_t data = cfg_get(d->config, msi_data_off(d), 2);
    unsigned n = msi_enabled_vectors(d);
    data = (data & ~(n - 1)) | (v & (n - 1));
    msi_send(d, addr, data);
}

static bool msi_raise(struct pci_device *d, unsigned v)
{
    if (v >= msi_enabled_vectors(d))
        v = 0;
    if (msi_masked(d, v)) {
        msi_set_pending(d, d->msi_pending | 1u << v);
        return true;
    }
    msi_fire(d, v);
    return true;
}

/* ---- MSI-X ---- */

static uint16_t msix_flags(const struct pci_device *d)
{
    return (uint16_t)cfg_get(d->config, d->msix_cap + 2, 2);
}

bool pci_msix_enabled(const struct pci_device *d)
{
    return d->msix_cap && (msix_flags(d) & PCI_MSIX_FLAGS_ENABLE);
}

static bool msix_masked(const struct pci_device *d, unsigned v)
{
    return (msix_flags(d) & PCI_MSIX_FLAGS_MASKALL) ||
           (d->msix_table[v][3] & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

static void msix_fire(struct pci_device *d, unsigned v)
{
    const uint32_t *e = d->msix_table[v];
    msi_send(d, (uint64_t)e[1] << 32 | e[0], e[2]);
}

static bool msix_raise(struct pci_device *d, unsigned v)
{
    if (v >= d->msix_vectors)
        return false;
    if (msix_masked(d, v))
        d->msix_pba |= 1ull << v;
    else
        msix_fire(d, v);
    return true;
}

/* Sends every pending vector that is no longer masked. */
static void msix_flush(struct pci_device *d)
{
    if (!pci_msix_enabled(d))
        return;
    for (unsigned v = 0; v < d->msix_vectors && d->msix_pba; v++) {
        if ((d->msix_pba >> v & 1) && !msix_masked(d, v)) {
            d->msix_pba &= ~(1ull << v);
            msix_fire(d, v);
        }
    }
}

static void msi_flush(struct pci_device *d)
{
    if (!pci_msi_enabled(d))
        return;
    for (unsigned v = 0; v < 32 && d->msi_pending; v++) {
        if ((d->msi_pending >> v & 1) && !msi_masked(d, v)) {
            msi_set_pending(d, d->msi_pending & ~(1u << v));
            msi_fire(d, v);
        }
    }
}

static void msi_config_written(struct pci_device *d)
{
    msix_flush(d);
    msi_flush(d);
}

static uint64_t msix_mmio_read(void *opaque, uint64_t off, unsigned size)
{
    struct pci_device *d = opaque;
    if (size != 4)
        return 0xffffffffu;
    if (off < (uint64_t)d->msix_vectors * PCI_MSIX_ENTRY_SIZE)
        return d->msix_table[off / PCI_MSIX_ENTRY_SIZE][(off % PCI_MSIX_ENTRY_SIZE) / 4];
    if (off >= PCI_MSIX_PBA_OFFSET && off < PCI_MSIX_PBA_OFFSET + 8)
        return (uint32_t)(d->msix_pba >> (off == PCI_MSIX_PBA_OFFSET ? 0 : 32));
    return 0;
}

static void msix_mmio_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct pci_device *d = opaque;
    if (size != 4 || off >= (uint64_t)d->msix_vectors * PCI_MSIX_ENTRY_SIZE)
        return; /* the PBA is read-only */
    unsigned v = (unsigned)(off / PCI_MSIX_ENTRY_SIZE), w = (unsigned)(off % PCI_MSIX_ENTRY_SIZE) / 4;
    if (w == 3)
        value &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
    d->msix_table[v][w] = (uint32_t)value;
    if (w == 3)
        msix_flush(d);
}

static const struct bus_ops msix_ops = {
    .read = msix_mmio_read, .write = msix_mmio_write, .min_size = 4, .max_size = 4};

uint8_t pci_msix_init(struct pci_device *d, unsigned nvectors, int bar)
{
    if (nvectors == 0 || nvectors > PCI_MSIX_MAX_VECTORS || bar < 0 || bar >= PCI_NUM_BARS)
        return 0;
    uint8_t at = pci_add_capability(d, PCI_CAP_ID_MSIX, 12);
    if (!at)
        return 0;
    cfg_put(d->config, at + 2, nvectors - 1, 2);
    cfg_put(d->config, at + 4, (uint32_t)bar, 4);
    cfg_put(d->config, at + 8, PCI_MSIX_PBA_OFFSET | (uint32_t)bar, 4);
    cfg_put(d->wmask, at + 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 2);
    d->msix_cap = at;
    d->msix_vectors = nvectors;
    pci_device_set_bar(d, bar, PCI_BAR_MEM32, PCI_MSIX_BAR_SIZE, &msix_ops, d, NULL);
    msi_reset(d);
    return at;
}

static void msi_reset(struct pci_device *d)
{
    if (d->msi_cap) {
        uint16_t keep = msi_flags(d) & (uint16_t)~(PCI_MSI_FLAGS_ENABLE | 0x70);
        unsigned end = (keep & PCI_MSI_FLAGS_MASKBIT) ? msi_mask_off(d) + 8 : msi_data_off(d) + 2;
        memset(d->config + d->msi_cap + 4, 0, end - (d->msi_cap + 4u));
        cfg_put(d->config, d->msi_cap + 2, keep, 2);
        d->msi_pending = 0;
    }
    if (d->msix_cap) {
        cfg_put(d->config, d->msix_cap + 2, d->msix_vectors - 1, 2);
        memset(d->msix_table, 0, sizeof d->msix_table);
        for (unsigned v = 0; v < d->msix_vectors; v++)
            d->msix_table[v][3] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
        d->msix_pba = 0;
    }
}

bool pci_msi_notify(struct pci_device *d, unsigned vector)
{
    if (pci_msix_enabled(d))
        return msix_raise(d, vector);
    if (pci_msi_enabled(d))
        return msi_raise(d, vector);
    return false;
}
