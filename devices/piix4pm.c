/*
 * Intel 82371AB PIIX4 function 3 (power management, 8086:7113 rev 03) in
 * QEMU's layout, the subset ACPI guests and SeaBIOS use. Config: PMBA
 * (0x40, bits 15:6, bit 0 reads 1) enabled by PMREGMISC bit 0 (0x80);
 * DEVACTB (0x58) reads with APMC_EN (bit 25) set, which tells SeaBIOS's
 * smm.c that SMM is already set up so it never tries to relocate SMBASE.
 * PM block (ACPI fixed hardware, as SeaBIOS's FADT describes it):
 * +0 PM1_STS (write 1 to clear: TMR_STS 0, GBL_STS 5, PWRBTN_STS 8,
 * RTC_STS 10, WAK_STS 15), +2 PM1_EN, +4 PM1_CNT (SCI_EN 0, SLP_TYP 12:10,
 * SLP_EN 13), +8 PM_TMR (24 bits at 3.579545 MHz of virtual time; TMR_STS
 * when bit 23 toggles); other offsets are plain storage. GPE0_STS/GPE0_EN
 * at 0xAFE0/0xAFE2 (QEMU's PIIX4 GPE block). SCI is a level on ISA IRQ 9.
 * APM: writing ACPI_ENABLE (0xF1) / ACPI_DISABLE (0xF0) to APMC (0xB2)
 * sets / clears SCI_EN, as QEMU's SMI handler would; APMS (0xB3) is
 * storage. Sleep: SLP_EN with SLP_TYP 0 is S5 (SeaBIOS's SSDT: _S5 =
 * {0, 0}) and requests power-off; other sleep types are ignored (no S3).
 */
#include "devices/piix4pm.h"

#include <stdlib.h>
#include <string.h>

#include "devices/trace.h"

#define PIIX4_PMBA 0x40
#define PIIX4_DEVACTB 0x58
#define PIIX4_DEVACTB_APMC_EN_BYTE3 0x02 /* bit 25 */
#define PIIX4_PMREGMISC 0x80
#define PIIX4_PM_SIZE 64

#define PM1_STS 0x00
#define PM1_EN 0x02
#define PM1_CNT 0x04
#define PM_TMR 0x08
#define PM1_TMR_STS 0x0001
#define PM1_GBL_STS 0x0020
#define PM1_PWRBTN_STS 0x0100
#define PM1_RTC_STS 0x0400
#define PM1_WAK_STS 0x8000
#define PM1_EVENTS (PM1_TMR_STS | PM1_GBL_STS | PM1_PWRBTN_STS | PM1_RTC_STS)
#define PM1_CNT_SCI_EN 0x0001
#define PM1_CNT_SLP_EN 0x2000
#define PM1_CNT_SLP_TYP_SHIFT 10
#define PM1_SLP_TYP_S5 0

#define GPE0_BASE 0xafe0
#define APM_BASE 0xb2
#define ACPI_ENABLE 0xf1
#define ACPI_DISABLE 0xf0

#define PM_TIMER_HZ 3579545u
#define NS_PER_S 1000000000ull
#define PM_TMR_MASK 0xffffffu
#define PM_TMR_TOGGLE (1ull << 23)

struct piix4pm {
    struct pci_device pci;
    struct bus *bus;
    struct clock *clock;
    struct irq sci, power_off;
    struct timer tmr_timer;
    uint16_t pm1_sts, pm1_en, pm1_cnt;
    uint8_t regs[PIIX4_PM_SIZE]; /* the rest of the PM block, storage only */
    uint16_t gpe_sts, gpe_en;
    uint8_t apmc, apms;
    uint16_t pm_base; /* mapped base, or 0 */
    int sci_level;
};

/* ---- PM timer ---- */

static uint64_t pm_ticks(struct piix4pm *pm)
{
    uint64_t ns = (uint64_t)clock_now_ns(pm->clock);
    return ns / NS_PER_S * PM_TIMER_HZ + ns % NS_PER_S * PM_TIMER_HZ / NS_PER_S;
}

static void sci_update(struct piix4pm *pm)
{
    int level = (pm->pm1_sts & pm->pm1_en & PM1_EVENTS) || (pm->gpe_sts & pm->gpe_en);
    if (level != pm->sci_level) {
        pm->sci_level = level;
        irq_set(pm->sci, level);
    }
}

/* Arms the timer for the next toggle of PM_TMR bit 23. */
static void tmr_arm(struct piix4pm *pm)
{
    uint64_t next = (pm_ticks(pm) / PM_TMR_TOGGLE + 1) * PM_TMR_TOGGLE;
    uint64_t ns = next / PM_TIMER_HZ * NS_PER_S + (next % PM_TIMER_HZ * NS_PER_S + PM_TIMER_HZ - 1) / PM_TIMER_HZ;
    timer_arm(&pm->tmr_timer, (int64_t)ns);
}

static void tmr_fire(void *opaque)
{
    struct piix4pm *pm = opaque;
    pm->pm1_sts |= PM1_TMR_STS;
    sci_update(pm);
    tmr_arm(pm);
}

/* ---- PM1 control: sleep ---- */

static void pm1_cnt_write(struct piix4pm *pm, uint16_t v)
{
    pm->pm1_cnt = v & (uint16_t)~PM1_CNT_SLP_EN;
    if (!(v & PM1_CNT_SLP_EN))
        return;
    int typ = (v >> PM1_CNT_SLP_TYP_SHIFT) & 7;
    if (trace_on(TRACE_ACPI))
        trace_printf(TRACE_ACPI, "piix4pm: sleep SLP_TYP=%d%s", typ,
                     typ == PM1_SLP_TYP_S5 ? " (S5: power off)" : " (not supported, ignored)");
    if (typ == PM1_SLP_TYP_S5)
        irq_pulse(pm->power_off);
}

/* ---- PM block registers, a byte at a time ---- */

static uint8_t pm_read_byte(struct piix4pm *pm, unsigned off)
{
    unsigned sh = 8 * (off & 1);
    switch (off & ~1u) {
    case PM1_STS:
        return (uint8_t)(pm->pm1_sts >> sh);
    case PM1_EN:
        return (uint8_t)(pm->pm1_en >> sh);
    case PM1_CNT:
        return (uint8_t)(pm->pm1_cnt >> sh);
    case PM_TMR:
    case PM_TMR + 2:
        return (uint8_t)((pm_ticks(pm) & PM_TMR_MASK) >> (8 * (off - PM_TMR)));
    default:
        return pm->regs[off];
    }
}

static void pm_write_byte(struct piix4pm *pm, unsigned off, uint8_t v)
{
    unsigned sh = 8 * (off & 1);
    uint16_t keep = (uint16_t)(0xff00u >> sh), val = (uint16_t)(v << sh);
    switch (off & ~1u) {
    case PM1_STS:
        pm->pm1_sts &= (uint16_t)~val;
        break;
    case PM1_EN:
        pm->pm1_en = (pm->pm1_en & keep) | val;
        break;
    case PM1_CNT:
        pm1_cnt_write(pm, (pm->pm1_cnt & keep) | val);
        break;
    case PM_TMR:
    case PM_TMR + 2:
        break;
    default:
        pm->regs[off] = v;
    }
}

static uint64_t pm_read(void *opaque, uint64_t off, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size && off + i < PIIX4_PM_SIZE; i++)
        v |= (uint64_t)pm_read_byte(opaque, (unsigned)off + i) << (8 * i);
    return v;
}

/* A 16-bit write to PM1_CNT must take effect once, with both bytes. */
static void pm_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct piix4pm *pm = opaque;
    if (off == PM1_CNT && size >= 2) {
        pm1_cnt_write(pm, (uint16_t)v);
        off += 2;
        v >>= 16;
        size -= 2;
    }
    for (unsigned i = 0; i < size && off + i < PIIX4_PM_SIZE; i++)
        pm_write_byte(pm, (unsigned)off + i, (uint8_t)(v >> (8 * i)));
    sci_update(pm);
}

static const struct bus_ops pm_ops = {.read = pm_read, .write = pm_write, .min_size = 1, .max_size = 4};

/* ---- GPE0 block (0xAFE0: status, 0xAFE2: enable) ---- */

static uint64_t gpe_read(void *opaque, uint64_t off, unsigned size)
{
    struct piix4pm *pm = opaque;
    uint32_t both = pm->gpe_sts | (uint32_t)pm->gpe_en << 16;
    return both >> (8 * off);
}

static void gpe_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct piix4pm *pm = opaque;
    for (unsigned i = 0; i < size && off + i < 4; i++) {
        unsigned o = (unsigned)off + i, sh = 8 * (o & 1);
        uint16_t b = (uint16_t)(((v >> (8 * i)) & 0xff) << sh);
        if (o < 2)
            pm->gpe_sts &= (uint16_t)~b;
        else
            pm->gpe_en = (pm->gpe_en & (uint16_t)(0xff00u >> sh)) | b;
    }
    sci_update(pm);
}

static const struct bus_ops gpe_ops = {.read = gpe_read, .write = gpe_write, .min_size = 1, .max_size = 4};

/* ---- APM control and status (0xB2, 0xB3) ---- */

static uint64_t apm_read(void *opaque, uint64_t off, unsigned size)
{
    struct piix4pm *pm = opaque;
    return off == 0 ? pm->apmc : pm->apms;
}

static void apm_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct piix4pm *pm = opaque;
    if (off == 1) {
        pm->apms = (uint8_t)v;
        return;
    }
    pm->apmc = (uint8_t)v;
    if (pm->apmc == ACPI_ENABLE)
        pm->pm1_cnt |= PM1_CNT_SCI_EN;
    else if (pm->apmc == ACPI_DISABLE)
        pm->pm1_cnt &= (uint16_t)~PM1_CNT_SCI_EN;
    if (trace_on(TRACE_ACPI))
        trace_printf(TRACE_ACPI, "piix4pm: APMC 0x%02x, SCI_EN=%d", pm->apmc, pm->pm1_cnt & PM1_CNT_SCI_EN);
}

static const struct bus_ops apm_ops = {.read = apm_read, .write = apm_write, .min_size = 1, .max_size = 1};

/* ---- PCI config: PMBA / PMREGMISC ---- */

static void pm_io_update(struct piix4pm *pm)
{
    const uint8_t *c = pm->pci.config;
    uint16_t base = (uint16_t)((c[PIIX4_PMBA] | c[PIIX4_PMBA + 1] << 8) & 0xffc0);
    if (!(c[PIIX4_PMREGMISC] & 1))
        base = 0;
    if (base == pm->pm_base)
        return;
    if (pm->pm_base)
        bus_unmap_pio(pm->bus, pm->pm_base);
    pm->pm_base = 0;
    if (!base)
        return;
    if (bus_map_pio(pm->bus, base, PIIX4_PM_SIZE, &pm_ops, pm, "piix4-pm") < 0) {
        if (trace_on(TRACE_ACPI))
            trace_printf(TRACE_ACPI, "piix4pm: PM block at 0x%04x overlaps another range, left unmapped", base);
        return;
    }
    pm->pm_base = base;
    if (trace_on(TRACE_ACPI))
        trace_printf(TRACE_ACPI, "piix4pm: PM block at 0x%04x", base);
}

static void piix4pm_config_write(struct pci_device *d, unsigned off, uint32_t value, unsigned size)
{
    if ((off < PIIX4_PMBA + 4 && off + size > PIIX4_PMBA) || (off <= PIIX4_PMREGMISC && off + size > PIIX4_PMREGMISC))
        pm_io_update(d->opaque);
}

static void config_defaults(struct piix4pm *pm)
{
    struct pci_device *d = &pm->pci;
    pci_device_reset(d);
    memset(d->config + 0x40, 0, 0xc0);
    d->config[PIIX4_PMBA] = 0x01; /* I/O space indicator */
    d->wmask[PIIX4_PMBA] = 0xc0;
    d->wmask[PIIX4_PMBA + 1] = 0xff;
    d->wmask[PIIX4_PMBA + 2] = 0;
    d->wmask[PIIX4_PMBA + 3] = 0;
    d->config[PIIX4_DEVACTB + 3] = PIIX4_DEVACTB_APMC_EN_BYTE3;
    d->wmask[PIIX4_DEVACTB + 3] = (uint8_t)~PIIX4_DEVACTB_APMC_EN_BYTE3;
}

void piix4pm_reset(struct piix4pm *pm)
{
    config_defaults(pm);
    pm_io_update(pm);
    pm->pm1_sts = pm->pm1_en = pm->pm1_cnt = 0;
    pm->gpe_sts = pm->gpe_en = 0;
    pm->apmc = pm->apms = 0;
    memset(pm->regs, 0, sizeof(pm->regs));
    sci_update(pm);
    tmr_arm(pm);
}

void piix4pm_acpi_state(const struct piix4pm *pm, bool *sci_en, bool *button)
{
    *sci_en = pm->pm1_cnt & PM1_CNT_SCI_EN;
    *button = *sci_en && (pm->pm1_en & PM1_PWRBTN_STS);
}

bool piix4pm_power_button(struct piix4pm *pm)
{
    bool sci_en, button;
    pm->pm1_sts |= PM1_PWRBTN_STS;
    sci_update(pm);
    piix4pm_acpi_state(pm, &sci_en, &button);
    return button;
}

struct piix4pm *piix4pm_new(struct bus *bus, struct pci_bus *pci, int devfn, struct clock *clock,
                            struct irq sci, struct irq power_off)
{
    struct piix4pm *pm = calloc(1, sizeof(*pm));
    if (!pm)
        return NULL;
    pm->bus = bus;
    pm->clock = clock;
    pm->sci = sci;
    pm->power_off = power_off;
    timer_init(&pm->tmr_timer, clock, tmr_fire, pm);
    pci_device_init(&pm->pci, "piix4-pm", 0x8086, 0x7113, 0x068000, 0x03, 1);
    pm->pci.config_write = piix4pm_config_write;
    pm->pci.opaque = pm;
    pci_set_qemu_subsystem(&pm->pci);
    config_defaults(pm);
    if (pci_find(pci, devfn) || bus_map_pio(bus, APM_BASE, 2, &apm_ops, pm, "apm") < 0) {
        free(pm);
        return NULL;
    }
    if (bus_map_pio(bus, GPE0_BASE, 4, &gpe_ops, pm, "piix4-gpe0") < 0) {
        bus_unmap_pio(bus, APM_BASE);
        free(pm);
        return NULL;
    }
    pci_register(pci, &pm->pci, devfn);
    tmr_arm(pm);
    return pm;
}

/* The ports stay on the bus (and the device on the PCI bus): free the bus after. */
void piix4pm_free(struct piix4pm *pm)
{
    if (!pm)
        return;
    timer_cancel(&pm->tmr_timer);
    free(pm);
}
