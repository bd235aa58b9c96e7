/*
 * PIIX3 ISA bridge: PIRQ routing checked against SeaBIOS's own formula
 * (piix_pci_slot_get_irq: pci_irqs[(pin - 1 + slot - 1) & 3] with
 * pci_irqs = {10, 10, 11, 11}, programmed by piix_isa_bridge_setup into
 * PIRQRC 0x60-0x63), sharing, IRQROUTEN, and the reset control register
 * at 0xCF9 (82371SB datasheet: RCPU bit 2 resets, SRST bit 1 is kept).
 */
#include <stdlib.h>

#include "devices/bus.h"
#include "devices/i440fx.h"
#include "devices/pci.h"
#include "devices/piix3.h"
#include "tests/unit/test.h"

struct rig {
    struct bus *bus;
    struct pci_bus *pb;
    struct i440fx *hb;
    struct piix3 *isa;
    uint8_t *ram, *rom;
    int level[16];
    int sets[16];
    int resets;
    struct pci_device dev[4][4]; /* slots 2..5, one function per pin */
};

static void isa_set(void *opaque, int n, int level)
{
    struct rig *r = opaque;
    r->level[n] = level;
    r->sets[n]++;
}

static void reset_set(void *opaque, int n, int level)
{
    struct rig *r = opaque;
    r->resets += level;
}

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof(*r));
    r->bus = bus_new();
    r->pb = pci_bus_new(r->bus);
    r->ram = calloc(1, 0x100000);
    r->rom = calloc(1, I440FX_ISA_ROM_SIZE);
    r->hb = i440fx_new(r->bus, r->pb, r->ram, r->rom);
    struct irq isa[16];
    for (int i = 0; i < 16; i++)
        isa[i] = irq_make(isa_set, r, i);
    r->isa = piix3_new(r->pb, 1 << 3, isa, irq_make(reset_set, r, 0));
    ASSERT(r->hb && r->isa);
    for (int slot = 0; slot < 4; slot++)
        for (int pin = 0; pin < 4; pin++) {
            pci_device_init(&r->dev[slot][pin], "fake", 0x1af4, 0x1000, 0x020000, 0, (uint8_t)(pin + 1));
            ASSERT_EQ(pci_register(r->pb, &r->dev[slot][pin], (slot + 2) << 3 | pin), 0);
        }
    return r;
}

static void rig_free(struct rig *r)
{
    piix3_free(r->isa);
    i440fx_free(r->hb);
    pci_bus_free(r->pb);
    bus_free(r->bus);
    free(r->ram);
    free(r->rom);
    free(r);
}

static void wcfgb(struct rig *r, int bdf, unsigned off, uint8_t v)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | (unsigned)bdf << 8 | (off & 0xfc), 4);
    bus_out(r->bus, 0xcfc + (off & 3), v, 1);
}
static uint8_t cfgb(struct rig *r, int bdf, unsigned off)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | (unsigned)bdf << 8 | (off & 0xfc), 4);
    return (uint8_t)bus_in(r->bus, 0xcfc + (off & 3), 1);
}

static const uint8_t seabios_pci_irqs[4] = {10, 10, 11, 11};

static void seabios_isa_bridge_setup(struct rig *r)
{
    for (int i = 0; i < 4; i++)
        wcfgb(r, 0x08, 0x60 + i, seabios_pci_irqs[i]);
}

TEST(identity_and_defaults)
{
    struct rig *r = rig_new();
    ASSERT_EQ(cfgb(r, 0x08, 0), 0x86);
    ASSERT_EQ(cfgb(r, 0x08, 2), 0x00);
    ASSERT_EQ(cfgb(r, 0x08, 3), 0x70);
    ASSERT_EQ(cfgb(r, 0x08, 0x0b), 0x06);
    ASSERT_EQ(cfgb(r, 0x08, 0x0a), 0x01);
    ASSERT_EQ(cfgb(r, 0x08, 0x60), 0x80);
    ASSERT_EQ(cfgb(r, 0x08, 0x69), 0x02);
    rig_free(r);
}

TEST(routing_matches_seabios_interrupt_line)
{
    struct rig *r = rig_new();
    seabios_isa_bridge_setup(r);
    for (int slot = 2; slot < 6; slot++)
        for (int pin = 1; pin <= 4; pin++) {
            int expect = seabios_pci_irqs[(pin - 1 + slot - 1) & 3];
            struct pci_device *d = &r->dev[slot - 2][pin - 1];
            pci_set_irq(d, 1);
            ASSERT_EQ(r->level[expect], 1);
            ASSERT_EQ(r->level[expect == 10 ? 11 : 10], 0);
            pci_set_irq(d, 0);
            ASSERT_EQ(r->level[expect], 0);
        }
    rig_free(r);
}

TEST(shared_lines_are_wired_or)
{
    struct rig *r = rig_new();
    seabios_isa_bridge_setup(r);
    /* Slot 2 INTA and slot 3 INTD both reach PIRQB, routed to IRQ 10. */
    pci_set_irq(&r->dev[0][0], 1);
    pci_set_irq(&r->dev[1][3], 1);
    ASSERT_EQ(r->level[10], 1);
    pci_set_irq(&r->dev[0][0], 0);
    ASSERT_EQ(r->level[10], 1);
    pci_set_irq(&r->dev[1][3], 0);
    ASSERT_EQ(r->level[10], 0);
    rig_free(r);
}

TEST(route_disable_and_reroute)
{
    struct rig *r = rig_new();
    /* Reset state: every PIRQ disabled, nothing reaches the ISA side. */
    pci_set_irq(&r->dev[0][0], 1);
    for (int i = 0; i < 16; i++)
        ASSERT_EQ(r->sets[i], 0);
    /* Enabling the route while asserted raises the IRQ; rerouting moves it. */
    wcfgb(r, 0x08, 0x61, 5);
    ASSERT_EQ(r->level[5], 1);
    wcfgb(r, 0x08, 0x61, 9);
    ASSERT_EQ(r->level[5], 0);
    ASSERT_EQ(r->level[9], 1);
    /* IRQ 2, 8 and 13 cannot be PIRQ targets. */
    wcfgb(r, 0x08, 0x61, 8);
    ASSERT_EQ(r->level[9], 0);
    ASSERT_EQ(r->sets[8], 0);
    wcfgb(r, 0x08, 0x61, 0x89);
    ASSERT_EQ(r->level[9], 0);
    rig_free(r);
}

TEST(reset_control_cf9)
{
    struct rig *r = rig_new();
    /* SeaBIOS pci_reboot / Linux reboot=pci: outb(0x02, 0xcf9); outb(0x06, 0xcf9). */
    bus_out(r->bus, 0xcf9, 0x02, 1);
    ASSERT_EQ(r->resets, 0);
    ASSERT_EQ(bus_in(r->bus, 0xcf9, 1), 0x02);
    bus_out(r->bus, 0xcf9, 0x06, 1);
    ASSERT_EQ(r->resets, 1);
    piix3_reset(r->isa);
    ASSERT_EQ(bus_in(r->bus, 0xcf9, 1), 0x00);
    rig_free(r);
}
