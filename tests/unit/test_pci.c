/*
 * PCI bus: configuration mechanism #1 driven through ports 0xCF8/0xCFC the
 * way SeaBIOS's pciinit does it (enumerate by vendor ID, size BARs by
 * writing all ones, assign, enable decoding), BAR mapping on the bus, INTx
 * routing, bus-master DMA. Oracle: the PCI Local Bus Specification 2.2
 * (sections 3.2.2.3.2 mechanism #1, 6.2.5 base address registers, 6.2.2
 * command/status) and SeaBIOS's src/hw/pci.c / src/fw/pciinit.c sequences.
 */
#include <stdlib.h>

#include "devices/bus.h"
#include "devices/pci.h"
#include "tests/unit/test.h"

struct fake {
    struct pci_device pci;
    uint64_t last_off;
    uint64_t last_val;
    int writes;
    uint8_t fb[0x10000];
    uint8_t rom[0x800];
};

static uint64_t fake_read(void *opaque, uint64_t off, unsigned size)
{
    struct fake *f = opaque;
    f->last_off = off;
    return 0xa0 + off;
}

static void fake_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct fake *f = opaque;
    f->last_off = off;
    f->last_val = v;
    f->writes++;
}

static const struct bus_ops fake_ops = {.read = fake_read, .write = fake_write, .min_size = 1, .max_size = 4};

struct rig {
    struct bus *bus;
    struct pci_bus *pb;
    struct fake *f;
    int routed[4];
    int route_calls, route_devfn;
};

static void router(void *opaque, int devfn, int pin, int level)
{
    struct rig *r = opaque;
    r->routed[pin] = level;
    r->route_calls++;
    r->route_devfn = devfn;
}

/* SeaBIOS's ioconfig_cmd(): enable bit, bus 0, devfn, dword register. */
static void cfg_addr(struct rig *r, int bdf, unsigned off)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | (unsigned)bdf << 8 | (off & 0xfc), 4);
}
static uint32_t cfgl(struct rig *r, int bdf, unsigned off)
{
    cfg_addr(r, bdf, off);
    return bus_in(r->bus, 0xcfc, 4);
}
static uint16_t cfgw(struct rig *r, int bdf, unsigned off)
{
    cfg_addr(r, bdf, off);
    return (uint16_t)bus_in(r->bus, 0xcfc + (off & 2), 2);
}
static uint8_t cfgb(struct rig *r, int bdf, unsigned off)
{
    cfg_addr(r, bdf, off);
    return (uint8_t)bus_in(r->bus, 0xcfc + (off & 3), 1);
}
static void wcfgl(struct rig *r, int bdf, unsigned off, uint32_t v)
{
    cfg_addr(r, bdf, off);
    bus_out(r->bus, 0xcfc, v, 4);
}
static void wcfgw(struct rig *r, int bdf, unsigned off, uint16_t v)
{
    cfg_addr(r, bdf, off);
    bus_out(r->bus, 0xcfc + (off & 2), v, 2);
}

/* A device at 02.0: BAR0 I/O 32 bytes, BAR1 MMIO 4 KiB, BAR2/3 64-bit prefetchable 1 MiB
 * framebuffer (RAM), ROM 2 KiB, INTA. */
static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof(*r));
    r->bus = bus_new();
    r->pb = pci_bus_new(r->bus);
    r->f = calloc(1, sizeof(*r->f));
    ASSERT_EQ(pci_bus_map_conf_ports(r->pb), 0);
    pci_bus_set_intx_router(r->pb, router, r);
    struct pci_device *d = &r->f->pci;
    pci_device_init(d, "fake", 0x1234, 0x5678, 0x030000, 0x02, 1);
    pci_device_set_bar(d, 0, PCI_BAR_IO, 32, &fake_ops, r->f, NULL);
    pci_device_set_bar(d, 1, PCI_BAR_MEM32, 4096, &fake_ops, r->f, NULL);
    pci_device_set_bar(d, 2, PCI_BAR_MEM64, sizeof(r->f->fb), NULL, NULL, r->f->fb);
    d->bar[2].prefetch = true;
    pci_device_reset(d); /* rewrites the BAR flag bits */
    pci_device_set_rom(d, r->f->rom, sizeof(r->f->rom));
    ASSERT_EQ(pci_register(r->pb, d, 2 << 3), 0);
    return r;
}

static void rig_free(struct rig *r)
{
    pci_bus_free(r->pb);
    bus_free(r->bus);
    free(r->f);
    free(r);
}

TEST(mechanism1_ids_and_absent_functions)
{
    struct rig *r = rig_new();
    ASSERT_EQ(cfgl(r, 0x10, 0), 0x56781234);
    ASSERT_EQ(cfgw(r, 0x10, 2), 0x5678);
    ASSERT_EQ(cfgb(r, 0x10, 3), 0x56);
    ASSERT_EQ(cfgb(r, 0x10, 0x0b), 0x03); /* base class: display */
    ASSERT_EQ(cfgb(r, 0x10, 0x08), 0x02);
    /* Absent slot and absent function read all ones (pci_next skips them). */
    ASSERT_EQ(cfgw(r, 0x08, 0), 0xffff);
    ASSERT_EQ(cfgl(r, 0x11, 0), 0xffffffff);
    /* Without the enable bit, or on bus 1, data reads all ones. */
    bus_out(r->bus, 0xcf8, 0x00001000, 4);
    ASSERT_EQ(bus_in(r->bus, 0xcfc, 4), 0xffffffff);
    bus_out(r->bus, 0xcf8, 0x80011000, 4);
    ASSERT_EQ(bus_in(r->bus, 0xcfc, 4), 0xffffffff);
    /* CONFIG_ADDRESS reads back (Linux's pci_check_type1 writes 0x80000000 and compares). */
    bus_out(r->bus, 0xcfb, 0x01, 1);
    bus_out(r->bus, 0xcf8, 0x80000000, 4);
    ASSERT_EQ(bus_in(r->bus, 0xcf8, 4), 0x80000000);
    rig_free(r);
}

TEST(multifunction_bit_set_on_function0)
{
    struct rig *r = rig_new();
    ASSERT_EQ(cfgb(r, 0x10, PCI_HEADER_TYPE), 0x00);
    struct pci_device g;
    memset(&g, 0, sizeof(g));
    pci_device_init(&g, "fn1", 0x1234, 0x0001, 0xff0000, 0, 0);
    ASSERT_EQ(pci_register(r->pb, &g, 0x11), 0);
    ASSERT_EQ(pci_register(r->pb, &g, 0x11), -1);
    ASSERT_EQ(cfgb(r, 0x10, PCI_HEADER_TYPE), 0x80);
    ASSERT_EQ(cfgw(r, 0x11, 2), 0x0001);
    rig_free(r);
}

/* SeaBIOS pci_bios_get_bar(): old = read; write ~0 (or the ROM mask); read; write old. */
static uint64_t size_bar(struct rig *r, unsigned ofs, bool rom, bool *is64)
{
    uint32_t old = cfgl(r, 0x10, ofs);
    uint64_t mask = rom ? 0xfffff800u : (old & 1) ? 0xfffffffcu : 0xfffffff0u;
    wcfgl(r, 0x10, ofs, rom ? 0xfffff800u : 0xffffffffu);
    uint64_t val = cfgl(r, 0x10, ofs);
    wcfgl(r, 0x10, ofs, old);
    *is64 = !rom && (old & 7) == 4;
    if (*is64) {
        uint32_t hold = cfgl(r, 0x10, ofs + 4);
        wcfgl(r, 0x10, ofs + 4, 0xffffffffu);
        val |= (uint64_t)cfgl(r, 0x10, ofs + 4) << 32;
        wcfgl(r, 0x10, ofs + 4, hold);
        mask |= 0xffffffffull << 32;
    } else {
        mask |= 0xffffffffull << 32;
        val |= 0xffffffffull << 32;
    }
    return ~(val & mask) + 1;
}

TEST(bar_sizing_as_seabios)
{
    struct rig *r = rig_new();
    bool is64;
    ASSERT_EQ(cfgl(r, 0x10, 0x10) & 3, 1); /* I/O space indicator */
    ASSERT_EQ(size_bar(r, 0x10, false, &is64), 32);
    ASSERT(!is64);
    ASSERT_EQ(size_bar(r, 0x14, false, &is64), 4096);
    ASSERT(!is64);
    ASSERT_EQ(cfgl(r, 0x10, 0x18) & 0xf, 0xc); /* 64-bit, prefetchable */
    ASSERT_EQ(size_bar(r, 0x18, false, &is64), 0x10000);
    ASSERT(is64);
    ASSERT_EQ(size_bar(r, 0x30, true, &is64), 0x800);
    /* Unimplemented BARs read 0 and ignore writes. */
    wcfgl(r, 0x10, 0x20, 0xffffffff);
    ASSERT_EQ(cfgl(r, 0x10, 0x20), 0);
    /* Sizing restored the old values. */
    ASSERT_EQ(cfgl(r, 0x10, 0x10), 1);
    ASSERT_EQ(cfgl(r, 0x10, 0x14), 0);
    rig_free(r);
}

static void assign_and_enable(struct rig *r)
{
    wcfgl(r, 0x10, 0x10, 0xc000);
    wcfgl(r, 0x10, 0x14, 0xfebf0000);
    wcfgl(r, 0x10, 0x18, 0xfd000000);
    wcfgl(r, 0x10, 0x1c, 0);
    wcfgl(r, 0x10, 0x30, 0xfeb80000);
    /* pci_config_maskw(bdf, PCI_COMMAND, 0, IO | MEMORY | SERR) */
    uint16_t cmd = cfgw(r, 0x10, PCI_COMMAND);
    wcfgw(r, 0x10, PCI_COMMAND, cmd | 0x1 | 0x2 | 0x100);
}

TEST(bars_decode_only_when_enabled)
{
    struct rig *r = rig_new();
    wcfgl(r, 0x10, 0x10, 0xc000);
    wcfgl(r, 0x10, 0x14, 0xfebf0000);
    /* Decoding off: nothing answers. */
    ASSERT_EQ(bus_in(r->bus, 0xc004, 1), 0xff);
    ASSERT_EQ(bus_read(r->bus, 0xfebf0010, 4), 0xffffffff);
    assign_and_enable(r);
    ASSERT_EQ(cfgw(r, 0x10, PCI_COMMAND), 0x103);
    ASSERT_EQ(bus_in(r->bus, 0xc004, 1), 0xa4);
    bus_out(r->bus, 0xc01f, 0x5a, 1);
    ASSERT_EQ(r->f->last_off, 0x1f);
    ASSERT_EQ(bus_read(r->bus, 0xfebf0010, 4), 0xb0);
    /* The framebuffer BAR is RAM: CPU writes land in the device's buffer. */
    bus_write(r->bus, 0xfd000100, 0x11223344, 4);
    ASSERT_EQ(r->f->fb[0x100], 0x44);
    /* The ROM decodes only with its enable bit. */
    ASSERT_EQ(bus_read(r->bus, 0xfeb80000, 1), 0xff);
    r->f->rom[0] = 0x55;
    wcfgl(r, 0x10, 0x30, 0xfeb80001);
    ASSERT_EQ(bus_read(r->bus, 0xfeb80000, 1), 0x55);
    bus_write(r->bus, 0xfeb80000, 0, 1); /* read-only */
    ASSERT_EQ(r->f->rom[0], 0x55);
    /* Moving a BAR moves the decode. */
    wcfgl(r, 0x10, 0x10, 0xd000);
    ASSERT_EQ(bus_in(r->bus, 0xc004, 1), 0xff);
    ASSERT_EQ(bus_in(r->bus, 0xd004, 1), 0xa4);
    /* Clearing IO decode unmaps the I/O BAR only. */
    wcfgw(r, 0x10, PCI_COMMAND, 0x102);
    ASSERT_EQ(bus_in(r->bus, 0xd004, 1), 0xff);
    ASSERT_EQ(bus_read(r->bus, 0xfebf0010, 4), 0xb0);
    wcfgw(r, 0x10, PCI_COMMAND, 0);
    ASSERT_EQ(bus_read(r->bus, 0xfebf0010, 4), 0xffffffff);
    ASSERT_EQ(bus_read(r->bus, 0xfd000100, 4), 0xffffffff);
    rig_free(r);
}

TEST(sizing_while_decoding_does_not_map_at_all_ones)
{
    struct rig *r = rig_new();
    assign_and_enable(r);
    wcfgl(r, 0x10, 0x14, 0xffffffff);
    ASSERT_EQ(cfgl(r, 0x10, 0x14), 0xfffff000);
    ASSERT_EQ(bus_read(r->bus, 0xfffff000, 4), 0xffffffff);
    ASSERT_EQ(bus_read(r->bus, 0xfebf0010, 4), 0xffffffff);
    ASSERT_EQ(r->f->pci.bar[1].mapped, false);
    wcfgl(r, 0x10, 0x14, 0xfebf0000);
    ASSERT_EQ(bus_read(r->bus, 0xfebf0010, 4), 0xb0);
    rig_free(r);
}

TEST(bar_over_existing_range_left_unmapped)
{
    struct rig *r = rig_new();
    static uint8_t ram[0x10000];
    ASSERT_EQ(bus_map_ram(r->bus, 0xfebf0000, sizeof(ram), ram, false, "ram"), 0);
    ram[0x10] = 0x77;
    assign_and_enable(r);
    ASSERT_EQ(r->f->pci.bar[1].mapped, false);
    ASSERT_EQ(bus_read(r->bus, 0xfebf0010, 1), 0x77); /* the RAM stays */
    /* Moving it to a free place maps it. */
    wcfgl(r, 0x10, 0x14, 0xfeb00000);
    ASSERT_EQ(r->f->pci.bar[1].mapped, true);
    ASSERT_EQ(bus_read(r->bus, 0xfeb00010, 4), 0xb0);
    rig_free(r);
}

TEST(intx_routing_disable_and_status)
{
    struct rig *r = rig_new();
    pci_set_irq(&r->f->pci, 1);
    ASSERT_EQ(r->routed[0], 1);
    ASSERT_EQ(r->route_devfn, 0x10);
    ASSERT_EQ(cfgw(r, 0x10, PCI_STATUS) & 0x08, 0x08);
    /* INTX_DISABLE deasserts the line but the status bit keeps the pin's state. */
    wcfgw(r, 0x10, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE);
    ASSERT_EQ(r->routed[0], 0);
    ASSERT_EQ(cfgw(r, 0x10, PCI_STATUS) & 0x08, 0x08);
    wcfgw(r, 0x10, PCI_COMMAND, 0);
    ASSERT_EQ(r->routed[0], 1);
    int calls = r->route_calls;
    pci_set_irq(&r->f->pci, 1); /* no change, no call */
    ASSERT_EQ(r->route_calls, calls);
    pci_set_irq(&r->f->pci, 0);
    ASSERT_EQ(r->routed[0], 0);
    ASSERT_EQ(cfgw(r, 0x10, PCI_STATUS) & 0x08, 0);
    /* Status is read-only for writes of 0 and of the interrupt bit. */
    pci_set_irq(&r->f->pci, 1);
    wcfgw(r, 0x10, PCI_STATUS, 0xffff);
    ASSERT_EQ(cfgw(r, 0x10, PCI_STATUS) & 0x08, 0x08);
    rig_free(r);
}

TEST(dma_needs_bus_master)
{
    struct rig *r = rig_new();
    static uint8_t ram[0x2000];
    ASSERT_EQ(bus_map_ram(r->bus, 0, sizeof(ram), ram, false, "ram"), 0);
    uint8_t buf[4] = {1, 2, 3, 4};
    ASSERT_EQ(pci_dma_write(&r->f->pci, 0x100, buf, 4), -1);
    ASSERT_EQ(ram[0x100], 0);
    wcfgw(r, 0x10, PCI_COMMAND, PCI_COMMAND_MASTER);
    ASSERT_EQ(pci_dma_write(&r->f->pci, 0x100, buf, 4), 0);
    ASSERT_EQ(ram[0x103], 4);
    uint8_t back[4];
    ASSERT_EQ(pci_dma_read(&r->f->pci, 0x100, back, 4), 0);
    ASSERT_MEM_EQ(back, buf, 4);
    /* Beyond RAM: refused by the checked bus DMA. */
    ASSERT_EQ(pci_dma_read(&r->f->pci, 0x1ffe, back, 4), -1);
    rig_free(r);
}

TEST(writable_masks)
{
    struct rig *r = rig_new();
    /* Vendor/device/class are read-only; interrupt line and 0x40.. are writable. */
    wcfgl(r, 0x10, 0, 0);
    ASSERT_EQ(cfgl(r, 0x10, 0), 0x56781234);
    wcfgl(r, 0x10, 0x08, 0);
    ASSERT_EQ(cfgl(r, 0x10, 0x08), 0x03000002);
    cfg_addr(r, 0x10, PCI_INTERRUPT_LINE);
    bus_out(r->bus, 0xcfc, 0x0b, 1);
    ASSERT_EQ(cfgb(r, 0x10, PCI_INTERRUPT_LINE), 0x0b);
    ASSERT_EQ(cfgb(r, 0x10, PCI_INTERRUPT_PIN), 1);
    wcfgw(r, 0x10, 0x42, 0xbeef);
    ASSERT_EQ(cfgl(r, 0x10, 0x40), 0xbeef0000);
    /* The command register keeps only its implemented bits. */
    wcfgw(r, 0x10, PCI_COMMAND, 0xffff);
    ASSERT_EQ(cfgw(r, 0x10, PCI_COMMAND), 0x0547);
    rig_free(r);
}

TEST(reset_unmaps)
{
    struct rig *r = rig_new();
    assign_and_enable(r);
    ASSERT_EQ(bus_in(r->bus, 0xc004, 1), 0xa4);
    pci_device_reset(&r->f->pci);
    ASSERT_EQ(bus_in(r->bus, 0xc004, 1), 0xff);
    ASSERT_EQ(cfgl(r, 0x10, 0x10), 1);
    ASSERT_EQ(cfgw(r, 0x10, PCI_COMMAND), 0);
    rig_free(r);
}

static uint8_t cf9_reg;
static uint8_t cf9_read(void *opaque)
{
    return cf9_reg;
}
static void cf9_write(void *opaque, uint8_t v)
{
    cf9_reg = v;
}

TEST(cf9_byte_goes_to_hook_dword_to_config_address)
{
    struct rig *r = rig_new();
    ASSERT_EQ(bus_in(r->bus, 0xcf9, 1), 0xff);
    pci_bus_set_cf9(r->pb, cf9_read, cf9_write, NULL);
    bus_out(r->bus, 0xcf8, 0x80001000, 4);
    bus_out(r->bus, 0xcf9, 0x06, 1);
    ASSERT_EQ(cf9_reg, 0x06);
    ASSERT_EQ(bus_in(r->bus, 0xcf9, 1), 0x06);
    ASSERT_EQ(bus_in(r->bus, 0xcf8, 4), 0x80001000);
    rig_free(r);
}

/* Random config cycles of every width at every offset: no crash (SAN=1), and a BAR is
 * mapped only while its decode bit is on and it reads back where it is mapped. */
TEST(random_config_cycles)
{
    struct rig *r = rig_new();
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned off = (unsigned)(x % 0x48), size = 1u << ((x >> 8) % 3);
        uint32_t v = (x >> 16) % 4 ? (uint32_t)(x >> 32) : 0xffffffffu;
        cfg_addr(r, 0x10, off);
        if ((x >> 12) % 2)
            bus_out(r->bus, 0xcfc + (off & 3), v, size);
        else
            bus_in(r->bus, 0xcfc + (off & 3), size);
        uint16_t cmd = cfgw(r, 0x10, PCI_COMMAND);
        for (int n = 0; n < 3; n++) {
            const struct pci_bar *b = &r->f->pci.bar[n];
            if (!b->mapped)
                continue;
            ASSERT(cmd & (b->kind == PCI_BAR_IO ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY));
            uint64_t at = cfgl(r, 0x10, 0x10 + 4 * n) & (b->kind == PCI_BAR_IO ? ~3u : ~0xfu);
            if (b->kind == PCI_BAR_MEM64)
                at |= (uint64_t)cfgl(r, 0x10, 0x14 + 4 * n) << 32;
            ASSERT_EQ(b->mapped_at, at);
        }
    }
    rig_free(r);
}
