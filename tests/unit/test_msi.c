/*
 * PCI capability list, MSI and MSI-X (devices/pci.c) and their delivery to
 * the local APIC (apic_deliver_msi). Oracle: PCI Local Bus Specification 3.0
 * sections 6.7 (capability list: status bit 4, pointer at 0x34, each entry
 * id + next), 6.8.1 (MSI capability layout, Multiple Message Enable, mask and
 * pending bits) and 6.8.2 (MSI-X capability, table entries of 16 bytes,
 * function mask, per-vector mask, PBA), and the SDM vol. 3 10.11 (MSI address
 * 0xFEE, destination ID in bits 19:12, vector in data bits 7:0). The guest's
 * side is driven through ports 0xCF8/0xCFC and MMIO, as Linux's pci/msi code
 * programs it.
 */
#include <stdlib.h>

#include "devices/apic.h"
#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/pci.h"
#include "tests/unit/test.h"

#define DEVFN (5 << 3)
#define MSIX_BAR_ADDR 0xfebf0000u

struct msg {
    uint64_t addr;
    uint32_t data;
};

struct rig {
    struct bus *bus;
    struct pci_bus *pb;
    struct pci_device dev;
    struct msg msgs[16];
    int nmsgs;
    uint8_t ram[0x10000];
};

static void sink(void *opaque, uint64_t addr, uint32_t data)
{
    struct rig *r = opaque;
    if (r->nmsgs < 16)
        r->msgs[r->nmsgs++] = (struct msg){addr, data};
}

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof *r);
    ASSERT(r);
    r->bus = bus_new();
    r->pb = pci_bus_new(r->bus);
    ASSERT(r->bus && r->pb);
    ASSERT_EQ(pci_bus_map_conf_ports(r->pb), 0);
    ASSERT_EQ(bus_map_ram(r->bus, 0, sizeof r->ram, r->ram, false, "ram"), 0);
    pci_bus_set_msi_sink(r->pb, sink, r);
    pci_device_init(&r->dev, "msitest", 0x15ad, 0x07f0, 0x010802, 0, 1);
    return r;
}

static void rig_free(struct rig *r)
{
    pci_bus_free(r->pb);
    bus_free(r->bus);
    free(r);
}

static uint32_t cfg_rd(struct rig *r, unsigned off, unsigned size)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | DEVFN << 8 | (off & 0xfc), 4);
    return bus_in(r->bus, (uint16_t)(0xcfc + (off & 3)), size);
}

static void cfg_wr(struct rig *r, unsigned off, uint32_t v, unsigned size)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | DEVFN << 8 | (off & 0xfc), 4);
    bus_out(r->bus, (uint16_t)(0xcfc + (off & 3)), v, size);
}

TEST(capability_list_walk)
{
    struct rig *r = rig_new();
    ASSERT_EQ(r->dev.config[PCI_STATUS] & PCI_STATUS_CAP_LIST, 0);
    uint8_t pm = pci_add_capability(&r->dev, 0x01, 8);
    uint8_t msi = pci_msi_init(&r->dev, 4, true, true);
    uint8_t msix = pci_msix_init(&r->dev, 8, 4);
    ASSERT_EQ(pci_register(r->pb, &r->dev, DEVFN), 0);
    ASSERT(pm >= 0x40 && msi > pm && msix > msi);
    /* Status bit 4 and the chain from 0x34, each pointer dword aligned, ending in 0. */
    ASSERT(cfg_rd(r, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
    uint8_t ids[8], n = 0;
    unsigned at = cfg_rd(r, PCI_CAPABILITY_LIST, 1);
    while (at && n < 8) {
        ASSERT_EQ(at & 3, 0);
        ASSERT(at >= 0x40);
        ids[n++] = (uint8_t)cfg_rd(r, at, 1);
        at = cfg_rd(r, at + 1, 1);
    }
    ASSERT_EQ(n, 3);
    ASSERT_EQ(ids[0], 0x01);
    ASSERT_EQ(ids[1], PCI_CAP_ID_MSI);
    ASSERT_EQ(ids[2], PCI_CAP_ID_MSIX);
    ASSERT_EQ(pci_find_capability(r->pb, DEVFN, PCI_CAP_ID_MSIX), msix);
    ASSERT_EQ(pci_find_capability(r->pb, DEVFN, 0x10), 0);
    /* The chain is read-only to the guest. */
    cfg_wr(r, PCI_CAPABILITY_LIST, 0x80, 1);
    cfg_wr(r, msi + 1, 0x00, 1);
    ASSERT_EQ(cfg_rd(r, PCI_CAPABILITY_LIST, 1), pm);
    ASSERT_EQ(cfg_rd(r, msi + 1, 1), msix);
    /* MSI: 64-bit, per-vector mask, 4 vectors offered (MMC = 2). */
    uint16_t flags = (uint16_t)cfg_rd(r, msi + 2, 2);
    ASSERT(flags & PCI_MSI_FLAGS_64BIT);
    ASSERT(flags & PCI_MSI_FLAGS_MASKBIT);
    ASSERT_EQ((flags >> 1) & 7, 2);
    /* MSI-X: table size 8 (N-1 encoded), table and PBA in BAR 4. */
    ASSERT_EQ(cfg_rd(r, msix + 2, 2) & 0x7ff, 7);
    ASSERT_EQ(cfg_rd(r, msix + 4, 4), 4);
    ASSERT_EQ(cfg_rd(r, msix + 8, 4), PCI_MSIX_PBA_OFFSET | 4);
    /* A reset keeps the list. */
    pci_device_reset(&r->dev);
    ASSERT(cfg_rd(r, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
    ASSERT_EQ(cfg_rd(r, PCI_CAPABILITY_LIST, 1), pm);
    rig_free(r);
}

/* Place the MSI-X BAR and enable memory decoding and bus mastering. */
static void map_msix_bar(struct rig *r)
{
    cfg_wr(r, PCI_BASE_ADDRESS_0 + 16, 0xffffffffu, 4);
    ASSERT_EQ(cfg_rd(r, PCI_BASE_ADDRESS_0 + 16, 4), ~(uint32_t)(PCI_MSIX_BAR_SIZE - 1));
    cfg_wr(r, PCI_BASE_ADDRESS_0 + 16, MSIX_BAR_ADDR, 4);
    cfg_wr(r, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
}

static void msix_entry(struct rig *r, unsigned v, uint64_t addr, uint32_t data, uint32_t ctrl)
{
    uint64_t e = MSIX_BAR_ADDR + v * PCI_MSIX_ENTRY_SIZE;
    bus_write(r->bus, e, (uint32_t)addr, 4);
    bus_write(r->bus, e + 4, (uint32_t)(addr >> 32), 4);
    bus_write(r->bus, e + 8, data, 4);
    bus_write(r->bus, e + 12, ctrl, 4);
}

TEST(msix_table_mask_pending_unmask)
{
    struct rig *r = rig_new();
    uint8_t cap = pci_msix_init(&r->dev, 8, 4);
    ASSERT_EQ(pci_register(r->pb, &r->dev, DEVFN), 0);
    map_msix_bar(r);
    /* Reset state: every vector masked, table zero, PBA clear. */
    for (unsigned v = 0; v < 8; v++)
        ASSERT_EQ(bus_read(r->bus, MSIX_BAR_ADDR + v * 16 + 12, 4), 1);
    ASSERT_EQ(bus_read(r->bus, MSIX_BAR_ADDR + PCI_MSIX_PBA_OFFSET, 4), 0);
    /* Not enabled: the device must use INTx. */
    ASSERT(!pci_msi_active(&r->dev));
    ASSERT(!pci_msi_notify(&r->dev, 0));
    ASSERT_EQ(r->nmsgs, 0);
    /* Linux: enable with the function masked, write the entries, then unmask the function. */
    cfg_wr(r, cap + 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 2);
    msix_entry(r, 0, 0xfee00000u, 0x41, 1);
    msix_entry(r, 3, 0xfee01000u, 0x53, 0);
    ASSERT_EQ(bus_read(r->bus, MSIX_BAR_ADDR + 3 * 16 + 8, 4), 0x53);
    ASSERT_EQ(bus_read(r->bus, MSIX_BAR_ADDR + 3 * 16 + 4, 4), 0);
    /* Function masked: vector 3 pends (PBA bit 3). */
    ASSERT(pci_msi_notify(&r->dev, 3));
    ASSERT_EQ(r->nmsgs, 0);
    ASSERT_EQ(bus_read(r->bus, MSIX_BAR_ADDR + PCI_MSIX_PBA_OFFSET, 4), 1u << 3);
    /* The PBA is read-only. */
    bus_write(r->bus, MSIX_BAR_ADDR + PCI_MSIX_PBA_OFFSET, 0, 4);
    ASSERT_EQ(bus_read(r->bus, MSIX_BAR_ADDR + PCI_MSIX_PBA_OFFSET, 4), 1u << 3);
    /* Clearing the function mask sends it. */
    cfg_wr(r, cap + 2, PCI_MSIX_FLAGS_ENABLE, 2);
    ASSERT_EQ(r->nmsgs, 1);
    ASSERT_EQ(r->msgs[0].addr, 0xfee01000u);
    ASSERT_EQ(r->msgs[0].data, 0x53);
    ASSERT_EQ(bus_read(r->bus, MSIX_BAR_ADDR + PCI_MSIX_PBA_OFFSET, 4), 0);
    /* Vector 0 is masked on its own: pends, then fires when its mask bit clears. */
    ASSERT(pci_msi_notify(&r->dev, 0));
    ASSERT_EQ(r->nmsgs, 1);
    ASSERT_EQ(bus_read(r->bus, MSIX_BAR_ADDR + PCI_MSIX_PBA_OFFSET, 4), 1);
    bus_write(r->bus, MSIX_BAR_ADDR + 12, 0, 4);
    ASSERT_EQ(r->nmsgs, 2);
    ASSERT_EQ(r->msgs[1].data, 0x41);
    /* Unmasked: immediate. A vector beyond the table is refused. */
    ASSERT(pci_msi_notify(&r->dev, 3));
    ASSERT_EQ(r->nmsgs, 3);
    ASSERT(!pci_msi_notify(&r->dev, 8));
    /* Bus mastering off: no message goes out. */
    cfg_wr(r, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    pci_msi_notify(&r->dev, 3);
    ASSERT_EQ(r->nmsgs, 3);
    /* Reset masks everything again and disables MSI-X. */
    pci_device_reset(&r->dev);
    ASSERT(!pci_msix_enabled(&r->dev));
    ASSERT_EQ(cfg_rd(r, cap + 2, 2), 7);
    rig_free(r);
}

TEST(msi_multiple_message_and_mask)
{
    struct rig *r = rig_new();
    uint8_t cap = pci_msi_init(&r->dev, 4, true, true);
    ASSERT_EQ(pci_register(r->pb, &r->dev, DEVFN), 0);
    cfg_wr(r, PCI_COMMAND, PCI_COMMAND_MASTER, 2);
    /* Address low bits 1:0 are read-only zero. */
    cfg_wr(r, cap + 4, 0xfee00003u, 4);
    ASSERT_EQ(cfg_rd(r, cap + 4, 4), 0xfee00000u);
    cfg_wr(r, cap + 8, 0, 4);
    cfg_wr(r, cap + 12, 0x60, 2);
    /* MME = 2 (4 vectors) and enable; the MMC field stays read-only. */
    cfg_wr(r, cap + 2, 0x20 | PCI_MSI_FLAGS_ENABLE | 0x0e, 2);
    ASSERT_EQ(cfg_rd(r, cap + 2, 2) & 0x7f, 0x25);
    ASSERT(pci_msi_enabled(&r->dev));
    ASSERT(pci_msi_notify(&r->dev, 2));
    ASSERT_EQ(r->nmsgs, 1);
    ASSERT_EQ(r->msgs[0].data, 0x62);
    /* Mask vector 1: it pends in the pending bits at cap + 0x14, sent when unmasked. */
    cfg_wr(r, cap + 0x10, 0x2, 4);
    ASSERT(pci_msi_notify(&r->dev, 1));
    ASSERT_EQ(r->nmsgs, 1);
    ASSERT_EQ(cfg_rd(r, cap + 0x14, 4), 0x2);
    cfg_wr(r, cap + 0x14, 0, 4); /* read-only */
    ASSERT_EQ(cfg_rd(r, cap + 0x14, 4), 0x2);
    cfg_wr(r, cap + 0x10, 0, 4);
    ASSERT_EQ(r->nmsgs, 2);
    ASSERT_EQ(r->msgs[1].data, 0x61);
    ASSERT_EQ(cfg_rd(r, cap + 0x14, 4), 0);
    /* A vector beyond those enabled uses vector 0. */
    pci_msi_notify(&r->dev, 9);
    ASSERT_EQ(r->msgs[2].data, 0x60);
    rig_free(r);
}

TEST(msi_to_ram_is_a_dma_write)
{
    struct rig *r = rig_new();
    uint8_t cap = pci_msi_init(&r->dev, 1, false, false);
    ASSERT_EQ(pci_register(r->pb, &r->dev, DEVFN), 0);
    cfg_wr(r, PCI_COMMAND, PCI_COMMAND_MASTER, 2);
    cfg_wr(r, cap + 4, 0x1000, 4);
    cfg_wr(r, cap + 8, 0xbeef, 2);
    cfg_wr(r, cap + 2, PCI_MSI_FLAGS_ENABLE, 2);
    ASSERT(pci_msi_notify(&r->dev, 0));
    ASSERT_EQ(r->nmsgs, 0);
    ASSERT_EQ(r->ram[0x1000], 0xef);
    ASSERT_EQ(r->ram[0x1001], 0xbe);
    rig_free(r);
}

/* The message reaches a real local APIC: IRR gets the vector, INTR rises. */
TEST(msix_message_reaches_the_apic)
{
    struct rig *r = rig_new();
    struct clock *clock = clock_new(CLOCK_DETERMINISTIC, 1);
    struct irq_rec intr = {0};
    struct apic *a = apic_new(r->bus, clock, 0, irq_make(irq_rec_set, &intr, 0), (struct irq){0});
    ASSERT(clock && a);
    pci_bus_set_msi_sink(r->pb, apic_deliver_msi, a);
    uint8_t cap = pci_msix_init(&r->dev, 2, 2);
    ASSERT_EQ(pci_register(r->pb, &r->dev, DEVFN), 0);
    cfg_wr(r, PCI_BASE_ADDRESS_0 + 8, MSIX_BAR_ADDR, 4);
    cfg_wr(r, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    bus_write(r->bus, APIC_BASE + 0xf0, 0x1ff, 4); /* SVR: software enable */
    cfg_wr(r, cap + 2, PCI_MSIX_FLAGS_ENABLE, 2);
    uint64_t e = MSIX_BAR_ADDR + 1 * PCI_MSIX_ENTRY_SIZE;
    bus_write(r->bus, e, 0xfee00000u, 4);         /* destination ID 0, physical */
    bus_write(r->bus, e + 8, 0x00000045u, 4);     /* fixed, edge, vector 0x45 */
    bus_write(r->bus, e + 12, 0, 4);
    ASSERT(pci_msi_notify(&r->dev, 1));
    uint32_t irr2 = (uint32_t)bus_read(r->bus, APIC_BASE + 0x200 + 0x20, 4); /* vectors 64..95 */
    ASSERT_EQ(irr2, 1u << (0x45 - 64));
    ASSERT_EQ(intr.level, 1);
    ASSERT_EQ(apic_intr_ack(a), 0x45);
    /* Another destination ID: not ours, dropped. */
    bus_write(r->bus, e, 0xfee05000u, 4);
    bus_write(r->bus, e + 8, 0x00000046u, 4);
    pci_msi_notify(&r->dev, 1);
    ASSERT_EQ((uint32_t)bus_read(r->bus, APIC_BASE + 0x220, 4) & (1u << 6), 0);
    apic_free(a);
    clock_free(clock);
    rig_free(r);
}
