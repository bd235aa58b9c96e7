/*
 * PIIX4 power management: SeaBIOS's piix4_pm_config_setup (PMBA = 0xB000|1,
 * PMREGMISC = 1, SCI line 9) and its SMM check (smm.c: DEVACTB bit 25 set
 * means "already done"), the ACPI PM timer (ACPI spec 4.8.3.3: 3.579545 MHz,
 * 24 bits, TMR_STS on bit-23 toggles), ACPI enable through the SMI command
 * port (FADT: SMI_CMD 0xB2, ACPI_ENABLE 0xF1), the power button event and
 * SCI level, S5 with SLP_TYP 0 (SeaBIOS's ssdt-misc.dsl: _S5 = {0, 0}).
 */
#include <stdlib.h>

#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/i440fx.h"
#include "devices/pci.h"
#include "devices/piix4pm.h"
#include "tests/unit/test.h"

#define PM 0xb000
#define BDF 0x0b /* 01.3 */

struct rig {
    struct bus *bus;
    struct clock *clock;
    struct pci_bus *pb;
    struct i440fx *hb;
    struct piix4pm *pm;
    uint8_t *ram, *rom;
    int sci, sci_sets, power_offs;
};

static void sci_set(void *opaque, int n, int level)
{
    struct rig *r = opaque;
    r->sci = level;
    r->sci_sets++;
}
static void off_set(void *opaque, int n, int level)
{
    struct rig *r = opaque;
    r->power_offs += level;
}

static void wcfgl(struct rig *r, unsigned off, uint32_t v)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | BDF << 8 | (off & 0xfc), 4);
    bus_out(r->bus, 0xcfc, v, 4);
}
static void wcfgb(struct rig *r, unsigned off, uint8_t v)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | BDF << 8 | (off & 0xfc), 4);
    bus_out(r->bus, 0xcfc + (off & 3), v, 1);
}
static uint32_t cfgl(struct rig *r, unsigned off)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | BDF << 8 | (off & 0xfc), 4);
    return bus_in(r->bus, 0xcfc, 4);
}

static struct rig *rig_new(bool setup)
{
    struct rig *r = calloc(1, sizeof(*r));
    r->bus = bus_new();
    r->clock = clock_new(CLOCK_DETERMINISTIC, 1);
    r->pb = pci_bus_new(r->bus);
    r->ram = calloc(1, 0x100000);
    r->rom = calloc(1, I440FX_ISA_ROM_SIZE);
    r->hb = i440fx_new(r->bus, r->pb, r->ram, r->rom);
    r->pm = piix4pm_new(r->bus, r->pb, BDF, r->clock, irq_make(sci_set, r, 9), irq_make(off_set, r, 0));
    ASSERT(r->hb && r->pm);
    if (setup) {
        /* piix4_pm_config_setup() */
        wcfgb(r, PCI_INTERRUPT_LINE, 9);
        wcfgl(r, 0x40, PM | 1);
        wcfgb(r, 0x80, 0x01);
        wcfgl(r, 0x90, (PM + 0x100) | 1);
        wcfgb(r, 0xd2, 0x09);
    }
    return r;
}

static void rig_free(struct rig *r)
{
    piix4pm_free(r->pm);
    i440fx_free(r->hb);
    pci_bus_free(r->pb);
    clock_free(r->clock);
    bus_free(r->bus);
    free(r->ram);
    free(r->rom);
    free(r);
}

static void advance(struct rig *r, int64_t ns)
{
    clock_warp(r->clock, clock_now_ns(r->clock) + ns);
    clock_run_timers(r->clock);
}

TEST(identity_and_smm_already_done)
{
    struct rig *r = rig_new(false);
    ASSERT_EQ(cfgl(r, 0), 0x71138086);
    ASSERT_EQ(cfgl(r, 0x08), 0x06800003);
    ASSERT_EQ(cfgl(r, 0x40), 1);
    /* piix4_apmc_smm_setup: if (value & PIIX_DEVACTB_APMC_EN) return; */
    ASSERT_EQ(cfgl(r, 0x58) & (1u << 25), 1u << 25);
    wcfgl(r, 0x58, 0);
    ASSERT_EQ(cfgl(r, 0x58) & (1u << 25), 1u << 25);
    /* PM block not decoded before PMREGMISC. */
    wcfgl(r, 0x40, PM | 1);
    ASSERT_EQ(bus_in(r->bus, PM + 8, 4), 0xffffffff);
    rig_free(r);
}

TEST(pm_timer_counts_at_3579545_hz)
{
    struct rig *r = rig_new(true);
    ASSERT_EQ(cfgl(r, 0x40), PM | 1);
    ASSERT_EQ(bus_in(r->bus, PM + 8, 4), 0);
    clock_warp(r->clock, 1000000000);
    ASSERT_EQ(bus_in(r->bus, PM + 8, 4), 3579545);
    clock_warp(r->clock, 10000000000);
    ASSERT_EQ(bus_in(r->bus, PM + 8, 4), 35795450 & 0xffffff);
    /* Byte reads of the same instant agree with the dword. */
    uint32_t lo = bus_in(r->bus, PM + 8, 2), hi = bus_in(r->bus, PM + 10, 2);
    ASSERT_EQ(lo | hi << 16, 35795450 & 0xffffff);
    /* An hour: no overflow in the conversion (3600 s * 3579545 Hz mod 2^24). */
    clock_warp(r->clock, 3600000000000);
    ASSERT_EQ(bus_in(r->bus, PM + 8, 4), (3600ull * 3579545) & 0xffffff);
    rig_free(r);
}

TEST(tmr_sts_on_bit23_toggle_and_sci)
{
    struct rig *r = rig_new(true);
    bus_out(r->bus, PM + 2, 0x0001, 2); /* TMR_EN */
    /* 2^23 ticks = 2.343484 s. */
    advance(r, 2343000000);
    ASSERT_EQ(bus_in(r->bus, PM, 2) & 1, 0);
    ASSERT_EQ(r->sci, 0);
    advance(r, 1000000);
    ASSERT_EQ(bus_in(r->bus, PM, 2) & 1, 1);
    ASSERT_EQ(r->sci, 1);
    ASSERT_EQ(bus_in(r->bus, PM + 8, 4) >> 23, 1);
    bus_out(r->bus, PM, 0x0001, 2); /* write 1 to clear */
    ASSERT_EQ(r->sci, 0);
    ASSERT_EQ(bus_in(r->bus, PM, 2) & 1, 0);
    rig_free(r);
}

TEST(acpi_enable_through_smi_cmd)
{
    struct rig *r = rig_new(true);
    ASSERT_EQ(bus_in(r->bus, PM + 4, 2) & 1, 0);
    bus_out(r->bus, 0xb2, 0xf1, 1);
    ASSERT_EQ(bus_in(r->bus, PM + 4, 2) & 1, 1);
    bus_out(r->bus, 0xb2, 0xf0, 1);
    ASSERT_EQ(bus_in(r->bus, PM + 4, 2) & 1, 0);
    bus_out(r->bus, 0xb3, 0x5a, 1);
    ASSERT_EQ(bus_in(r->bus, 0xb3, 1), 0x5a);
    rig_free(r);
}

TEST(power_button)
{
    struct rig *r = rig_new(true);
    /* Legacy mode: latched, nobody listening. */
    ASSERT(!piix4pm_power_button(r->pm));
    ASSERT_EQ(r->sci, 0);
    bus_out(r->bus, PM, 0x0100, 2);
    bus_out(r->bus, 0xb2, 0xf1, 1);
    bus_out(r->bus, PM + 2, 0x0100, 2); /* PWRBTN_EN */
    ASSERT(piix4pm_power_button(r->pm));
    ASSERT_EQ(bus_in(r->bus, PM, 2) & 0x100, 0x100);
    ASSERT_EQ(r->sci, 1);
    /* The OS clears the status with a 1 and SCI drops. */
    bus_out(r->bus, PM, 0x0100, 2);
    ASSERT_EQ(r->sci, 0);
    rig_free(r);
}

TEST(s5_powers_off_other_states_do_not)
{
    struct rig *r = rig_new(true);
    /* Linux acpi_hw_legacy_sleep: write SLP_TYP, then SLP_TYP | SLP_EN. */
    bus_out(r->bus, PM + 4, 1 | 1 << 10, 2);
    bus_out(r->bus, PM + 4, 1 | 1 << 10 | 1 << 13, 2); /* S3 (SLP_TYP 1): not supported */
    ASSERT_EQ(r->power_offs, 0);
    ASSERT_EQ(bus_in(r->bus, PM + 4, 2) & (1 << 13), 0); /* SLP_EN reads 0 */
    bus_out(r->bus, PM + 4, 1, 2);
    ASSERT_EQ(r->power_offs, 0);
    bus_out(r->bus, PM + 4, 1 | 1 << 13, 2);
    ASSERT_EQ(r->power_offs, 1);
    rig_free(r);
}

TEST(gpe0_block)
{
    struct rig *r = rig_new(true);
    bus_out(r->bus, 0xafe2, 0xffff, 2);
    ASSERT_EQ(bus_in(r->bus, 0xafe2, 2), 0xffff);
    ASSERT_EQ(bus_in(r->bus, 0xafe0, 2), 0);
    ASSERT_EQ(r->sci, 0);
    rig_free(r);
}

TEST(pm_block_moves_and_reset_unmaps)
{
    struct rig *r = rig_new(true);
    bus_out(r->bus, 0xb2, 0xf1, 1);
    wcfgl(r, 0x40, 0x600 | 1);
    ASSERT_EQ(bus_in(r->bus, PM + 4, 2), 0xffff);
    ASSERT_EQ(bus_in(r->bus, 0x604, 2), 1);
    piix4pm_reset(r->pm);
    ASSERT_EQ(bus_in(r->bus, 0x604, 2), 0xffff);
    ASSERT_EQ(cfgl(r, 0x40), 1);
    rig_free(r);
}
