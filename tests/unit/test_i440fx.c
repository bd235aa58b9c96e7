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
