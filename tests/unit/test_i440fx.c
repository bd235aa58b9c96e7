/*
 * i440FX host bridge: identity at 00.0 and the PAM shadowing of
 * 0xC0000-0xFFFFF, driven by the config cycles SeaBIOS's src/fw/shadow.c
 * performs (dword read-modify-write of 0x58/0x5C, then byte writes).
 * Oracle: 82441FX datasheet, PAM registers (RE bit 0 / WE bit 1 per
 * nibble; 00 ROM, 01 read DRAM, 10 write DRAM, 11 DRAM read/write).
 */
#include <stdlib.h>

#include "devices/bus.h"
#include "devices/i440fx.h"
#include "devices/pci.h"
#include "tests/unit/test.h"

struct rig {
    struct bus *bus;
    struct pci_bus *pb;
    struct i440fx *hb;
    uint8_t *ram, *rom;
};

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof(*r));
    r->bus = bus_new();
    r->pb = pci_bus_new(r->bus);
    r->ram = calloc(1, 0x100000);
    r->rom = malloc(I440FX_ISA_ROM_SIZE);
    for (unsigned i = 0; i < I440FX_ISA_ROM_SIZE; i++)
        r->rom[i] = (uint8_t)(i * 7 + (i >> 12));
    r->hb = i440fx_new(r->bus, r->pb, r->ram, r->rom);
    ASSERT(r->hb != NULL);
    return r;
}

static void rig_free(struct rig *r)
{
    i440fx_free(r->hb);
    pci_bus_free(r->pb);
    bus_free(r->bus);
    free(r->ram);
    free(r->rom);
    free(r);
}

static uint32_t cfgl(struct rig *r, unsigned off)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | (off & 0xfc), 4);
    return bus_in(r->bus, 0xcfc, 4);
}
static void wcfgl(struct rig *r, unsigned off, uint32_t v)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | (off & 0xfc), 4);
    bus_out(r->bus, 0xcfc, v, 4);
}
static uint8_t cfgb(struct rig *r, unsigned off)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | (off & 0xfc), 4);
    return (uint8_t)bus_in(r->bus, 0xcfc + (off & 3), 1);
}
static void wcfgb(struct rig *r, unsigned off, uint8_t v)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | (off & 0xfc), 4);
    bus_out(r->bus, 0xcfc + (off & 3), v, 1);
}

static uint8_t rom_at(struct rig *r, uint32_t gpa)
{
    return r->rom[gpa - I440FX_ISA_ROM_BASE];
}

TEST(identity)
{
    struct rig *r = rig_new();
    ASSERT_EQ(cfgl(r, 0), 0x12378086);
    ASSERT_EQ(cfgb(r, 0x08), 0x02);
    ASSERT_EQ(cfgl(r, 0x08) >> 8, 0x060000);
    ASSERT_EQ(cfgb(r, 0x72), 0x02);
    ASSERT_EQ(cfgb(r, 0x59), 0x00);
    /* SeaBIOS qemu_detect(): "if (sv != 0x1af4 || sd != 0x1100) return;" -- else no fw_cfg, no debug port. */
    ASSERT_EQ(cfgl(r, 0x2c), 0x11001af4);
    rig_free(r);
}

TEST(reset_state_reads_rom)
{
    struct rig *r = rig_new();
    for (uint32_t a = 0xc0000; a < 0x100000; a += 0x1234)
        ASSERT_EQ(bus_read(r->bus, a, 1), rom_at(r, a));
    bus_write(r->bus, 0xf0000, 0xdeadbeef, 4);
    ASSERT_EQ(bus_read(r->bus, 0xf0000, 1), rom_at(r, 0xf0000));
    ASSERT_EQ(r->ram[0xf0000], 0);
    rig_free(r);
}

/* __make_bios_writable_intel() then make_bios_readonly_intel() as SeaBIOS does. */
TEST(seabios_shadow_sequence)
{
    struct rig *r = rig_new();
    ASSERT_EQ(cfgb(r, 0x59) & 0x10, 0); /* "RAM not present": SeaBIOS copies the BIOS */
    uint8_t pam[8];
    uint32_t lo = cfgl(r, 0x58), hi = cfgl(r, 0x5c);
    for (int i = 0; i < 4; i++) {
        pam[i] = (uint8_t)(lo >> (8 * i));
        pam[4 + i] = (uint8_t)(hi >> (8 * i));
    }
    for (int i = 0; i < 6; i++)
        pam[1 + 1 + i] = 0x33;
    pam[1] = 0x30;
    wcfgl(r, 0x58, pam[0] | pam[1] << 8 | pam[2] << 16 | (uint32_t)pam[3] << 24);
    wcfgl(r, 0x5c, pam[4] | pam[5] << 8 | pam[6] << 16 | (uint32_t)pam[7] << 24);
    ASSERT_EQ(cfgl(r, 0x58) >> 8, 0x333330);
    ASSERT_EQ(cfgl(r, 0x5c), 0x33333333);
    /* RAM now: reads give RAM (zero), the copy from the 4 GiB alias lands in RAM. */
    ASSERT_EQ(bus_read(r->bus, 0xffff0, 1), 0);
    for (uint32_t a = 0xe0000; a < 0x100000; a += 4)
        bus_write(r->bus, a, 0x11000000u | a, 4);
    ASSERT_EQ(bus_read(r->bus, 0xffff0, 4), 0x110ffff0);
    ASSERT_EQ(r->ram[0xe0004], 0x04);
    /* make_bios_readonly_intel with romlast = 0xc8000: 0x11 for C0000, 0x31 for C8000... */
    wcfgb(r, 0x5a, 0x11);
    wcfgb(r, 0x5b, 0x31);
    wcfgb(r, 0x59, 0x10);
    bus_write(r->bus, 0xffff0, 0, 4);
    ASSERT_EQ(bus_read(r->bus, 0xffff0, 4), 0x110ffff0); /* write-protected */
    bus_write(r->bus, 0xc0000, 0x55, 1);
    ASSERT_EQ(bus_read(r->bus, 0xc0000, 1), 0);         /* 0x11: read-only RAM */
    bus_write(r->bus, 0xcc000, 0x66, 1);
    ASSERT_EQ(bus_read(r->bus, 0xcc000, 1), 0x66);      /* 0x31 high nibble: RAM r/w */
    bus_write(r->bus, 0xc8000, 0x77, 1);
    ASSERT_EQ(bus_read(r->bus, 0xc8000, 1), 0);         /* 0x31 low nibble: read-only */
    ASSERT_EQ(bus_read(r->bus, 0xd0000, 1), 0);         /* 0x33 stays RAM */
    rig_free(r);
}

TEST(write_only_mode_reads_rom_writes_ram)
{
    struct rig *r = rig_new();
    wcfgb(r, 0x59, 0x20);
    bus_write(r->bus, 0xf1234, 0xa5a5, 2);
    ASSERT_EQ(bus_read(r->bus, 0xf1234, 1), rom_at(r, 0xf1234));
    ASSERT_EQ(r->ram[0xf1234], 0xa5);
    ASSERT_EQ(r->ram[0xf1235], 0xa5);
    /* Then read/write: the written bytes appear. */
    wcfgb(r, 0x59, 0x30);
    ASSERT_EQ(bus_read(r->bus, 0xf1234, 2), 0xa5a5);
    /* And off again: ROM, with RAM kept underneath. */
    wcfgb(r, 0x59, 0x00);
    ASSERT_EQ(bus_read(r->bus, 0xf1234, 1), rom_at(r, 0xf1234));
    ASSERT_EQ(r->ram[0xf1234], 0xa5);
    rig_free(r);
}

TEST(chunk_granularity_16k)
{
    struct rig *r = rig_new();
    wcfgb(r, 0x5e, 0x03); /* PAM5 low nibble: 0xE0000-0xE3FFF RAM */
    bus_write(r->bus, 0xe3fff, 0x42, 1);
    bus_write(r->bus, 0xe4000, 0x42, 1);
    ASSERT_EQ(bus_read(r->bus, 0xe3fff, 1), 0x42);
    ASSERT_EQ(bus_read(r->bus, 0xe4000, 1), rom_at(r, 0xe4000));
    ASSERT_EQ(bus_read(r->bus, 0xdffff, 1), rom_at(r, 0xdffff));
    /* Reserved bits are not writable. */
    wcfgb(r, 0x5e, 0xff);
    ASSERT_EQ(cfgb(r, 0x5e), 0x33);
    wcfgb(r, 0x59, 0xff);
    ASSERT_EQ(cfgb(r, 0x59), 0x30);
    i440fx_reset(r->hb);
    ASSERT_EQ(cfgb(r, 0x5e), 0);
    ASSERT_EQ(bus_read(r->bus, 0xe3fff, 1), rom_at(r, 0xe3fff));
    rig_free(r);
}

TEST(smram_never_opens)
{
    struct rig *r = rig_new();
    /* piix4_apmc_smm_setup would write 0x4a (D_OPEN | G_SMRAME | 010b). */
    wcfgb(r, 0x72, 0x4a);
    ASSERT_EQ(cfgb(r, 0x72), 0x4a);
    ASSERT_EQ(bus_read(r->bus, 0xa0000, 1), 0xff); /* nothing but the VGA would be here */
    wcfgb(r, 0x72, 0x1a);                          /* D_LCK */
    wcfgb(r, 0x72, 0x4a);
    ASSERT_EQ(cfgb(r, 0x72) & 0x40, 0);
    rig_free(r);
}

/* ---- the whole chipset as SeaBIOS's pciinit sees it (QEMU's "pc" layout) ---- */

#include "devices/clock.h"
#include "devices/ide.h"
#include "devices/piix3.h"
#include "devices/piix4pm.h"

static int isa_level[16];
static void isa_rec(void *opaque, int n, int level)
{
    isa_level[n] = level;
}

static uint32_t bcfgl(struct bus *bus, int bdf, unsigned off)
{
    bus_out(bus, 0xcf8, 0x80000000u | (unsigned)bdf << 8 | (off & 0xfc), 4);
    return bus_in(bus, 0xcfc, 4);
}
static void bwcfgl(struct bus *bus, int bdf, unsigned off, uint32_t v)
{
    bus_out(bus, 0xcf8, 0x80000000u | (unsigned)bdf << 8 | (off & 0xfc), 4);
    bus_out(bus, 0xcfc, v, 4);
}
static uint8_t bcfgb(struct bus *bus, int bdf, unsigned off)
{
    bus_out(bus, 0xcf8, 0x80000000u | (unsigned)bdf << 8 | (off & 0xfc), 4);
    return (uint8_t)bus_in(bus, 0xcfc + (off & 3), 1);
}
static void bwcfgb(struct bus *bus, int bdf, unsigned off, uint8_t v)
{
    bus_out(bus, 0xcf8, 0x80000000u | (unsigned)bdf << 8 | (off & 0xfc), 4);
    bus_out(bus, 0xcfc + (off & 3), v, 1);
}

/* SeaBIOS pci_next(): skip functions 1-7 unless function 0 is multi-function. */
static int pci_next(struct bus *bus, int bdf)
{
    if ((bdf & 7) == 0 && !(bcfgb(bus, bdf, PCI_HEADER_TYPE) & 0x80))
        bdf += 8;
    else
        bdf += 1;
    for (; bdf < 256; bdf += (bdf & 7) == 0 ? 8 : 1) {
        uint16_t v = (uint16_t)bcfgl(bus, bdf, 0);
        if (v != 0x0000 && v != 0xffff)
            return bdf;
    }
    return -1;
}

TEST(pc_layout_as_seabios_pciinit)
{
    struct bus *bus = bus_new();
    struct clock *clock = clock_new(CLOCK_DETERMINISTIC, 1);
    struct pci_bus *pb = pci_bus_new(bus);
    uint8_t *ram = calloc(1, 0x100000), *rom = calloc(1, I440FX_ISA_ROM_SIZE);
    struct irq isa[16];
    for (int i = 0; i < 16; i++)
        isa[i] = irq_make(isa_rec, NULL, i);
    struct i440fx *hb = i440fx_new(bus, pb, ram, rom);
    struct piix3 *isab = piix3_new(pb, 0x08, isa, (struct irq){0});
    struct ide *ide = ide_new(bus, pb, 0x09, isa[14], isa[15]);
    struct piix4pm *pm = piix4pm_new(bus, pb, 0x0b, clock, isa[9], (struct irq){0});
    static uint8_t fb[1 << 20];
    struct pci_device vga;
    pci_device_init(&vga, "vga", 0x1234, 0x1111, 0x030000, 2, 1);
    pci_device_set_bar(&vga, 0, PCI_BAR_MEM32, sizeof(fb), NULL, NULL, fb);
    ASSERT(hb && isab && ide && pm);
    ASSERT_EQ(pci_register(pb, &vga, 0x10), 0);

    /* Enumeration finds exactly QEMU's pc functions. */
    int found[8], n = 0;
    for (int bdf = bcfgl(bus, 0, 0) != 0xffffffff ? 0 : pci_next(bus, 0); bdf >= 0 && n < 8; bdf = pci_next(bus, bdf))
        found[n++] = bdf;
    ASSERT_EQ(n, 5);
    ASSERT_EQ(found[0], 0x00);
    ASSERT_EQ(found[1], 0x08);
    ASSERT_EQ(found[2], 0x09);
    ASSERT_EQ(found[3], 0x0b);
    ASSERT_EQ(found[4], 0x10);
    ASSERT_EQ(bcfgl(bus, 0x00, 0), 0x12378086);
    ASSERT_EQ(bcfgl(bus, 0x08, 0), 0x70008086);
    ASSERT_EQ(bcfgl(bus, 0x09, 0), 0x70108086);
    ASSERT_EQ(bcfgl(bus, 0x0b, 0), 0x71138086);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(bcfgl(bus, found[i], 0x2c), 0x11001af4); /* as QEMU gives every device */

    /* pci_bios_init_device: interrupt lines, then the device table's setups. */
    static const uint8_t pci_irqs[4] = {10, 10, 11, 11};
    for (int i = 0; i < n; i++) {
        int pin = bcfgb(bus, found[i], PCI_INTERRUPT_PIN);
        if (pin)
            bwcfgb(bus, found[i], PCI_INTERRUPT_LINE, pci_irqs[(pin - 1 + (found[i] >> 3) - 1) & 3]);
    }
    for (int i = 0; i < 4; i++)
        bwcfgb(bus, 0x08, 0x60 + i, pci_irqs[i]);
    bwcfgl(bus, 0x09, 0x40, 0x80008000);
    bwcfgb(bus, 0x0b, PCI_INTERRUPT_LINE, 9);
    bwcfgl(bus, 0x0b, 0x40, 0xb000 | 1);
    bwcfgb(bus, 0x0b, 0x80, 0x01);
    /* Size and assign: the IDE bus master BAR and the VGA framebuffer. */
    bwcfgl(bus, 0x09, 0x20, 0xffffffff);
    ASSERT_EQ(~(bcfgl(bus, 0x09, 0x20) & ~3u) + 1, 16);
    bwcfgl(bus, 0x09, 0x20, 0xc000);
    bwcfgl(bus, 0x10, 0x10, 0xffffffff);
    ASSERT_EQ(~(bcfgl(bus, 0x10, 0x10) & ~0xfu) + 1, sizeof(fb));
    bwcfgl(bus, 0x10, 0x10, 0xfd000000);
    for (int i = 0; i < n; i++) {
        uint32_t cmd = bcfgl(bus, found[i], PCI_COMMAND) & 0xffff;
        bwcfgl(bus, found[i], PCI_COMMAND, cmd | 0x103);
    }

    ASSERT_EQ(bus_in(bus, 0xc002, 1), 0x00);      /* BMIS of a channel without drives: decoded */
    bus_write(bus, 0xfd000010, 0x12345678, 4);
    ASSERT_EQ(fb[0x10], 0x78);
    ASSERT_EQ(bcfgb(bus, 0x10, PCI_INTERRUPT_LINE), 10);
    pci_set_irq(&vga, 1);
    ASSERT_EQ(isa_level[10], 1);                   /* the line SeaBIOS wrote is the one that fires */
    pci_set_irq(&vga, 0);
    ASSERT_EQ(isa_level[10], 0);
    clock_warp(clock, 1000000);
    ASSERT_EQ(bus_in(bus, 0xb008, 4), 3579);      /* PM timer at the PM base SeaBIOS chose */
    ASSERT(bcfgl(bus, 0x0b, 0x58) & (1u << 25));  /* smm_setup returns at once */

    ide_free(ide);
    piix4pm_free(pm);
    piix3_free(isab);
    i440fx_free(hb);
    pci_bus_free(pb);
    clock_free(clock);
    bus_free(bus);
    free(ram);
    free(rom);
}
