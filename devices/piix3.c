/*
 * Intel 82371SB PIIX3 function 0 (PCI-to-ISA bridge, 8086:7000), the
 * subset a PC guest and SeaBIOS use. PIRQRC[A:D] (config 0x60-0x63): bit 7
 * IRQROUTEN disables the route, bits 3:0 name the ISA IRQ (3-7, 9-12, 14,
 * 15). PCI INTx of each slot reach PIRQ[(slot + pin - 1) mod 4] (pin 0 =
 * INTA), the swizzle of QEMU's pc and of SeaBIOS's piix_pci_slot_get_irq;
 * several devices may share a PIRQ and several PIRQs an IRQ, so the bridge
 * counts asserted inputs and drives each ISA IRQ as a level. The reset
 * control register (port 0xCF9): bit 1 SRST is kept, writing bit 2 RCPU
 * requests a reset. Other registers keep their datasheet reset values and
 * are plain storage (TOM 0x69, XBCS 0x4E, MBIRQ 0x70, ...).
 */
#include "devices/piix3.h"

#include <stdlib.h>
#include <string.h>

#include "devices/trace.h"

#define PIIX3_PIRQRC 0x60
#define PIIX3_PIRQRC_DISABLE 0x80
#define PIIX3_RC_SRST 0x02
#define PIIX3_RC_RCPU 0x04
/* ISA IRQs a PIRQ may be routed to (datasheet: 3-7, 9-12, 14, 15). */
#define PIIX3_IRQ_ALLOWED 0xdef8

struct piix3 {
    struct pci_device pci;
    struct irq isa_irq[16];
    struct irq reset;
    int pirq_count[4];
    uint16_t out_level;
    uint8_t rcr;
};

static void piix3_update(struct piix3 *s)
{
    uint16_t level = 0;
    for (int p = 0; p < 4; p++) {
        uint8_t route = s->pci.config[PIIX3_PIRQRC + p];
        int irq = route & 0x0f;
        if (!(route & PIIX3_PIRQRC_DISABLE) && (PIIX3_IRQ_ALLOWED >> irq & 1) && s->pirq_count[p] > 0)
            level |= (uint16_t)(1u << irq);
    }
    uint16_t changed = level ^ s->out_level;
    s->out_level = level;
    for (int n = 0; n < 16; n++)
        if (changed >> n & 1)
            irq_set(s->isa_irq[n], level >> n & 1);
}

static void piix3_route(void *opaque, int devfn, int pin, int level)
{
    struct piix3 *s = opaque;
    int pirq = ((devfn >> 3) + pin + 3) & 3;
    s->pirq_count[pirq] += level ? 1 : -1;
    if (trace_on(TRACE_PCI))
        trace_printf(TRACE_PCI, "piix3: %02x.%x INT%c -> PIRQ%c %d", devfn >> 3, devfn & 7, 'A' + pin,
                     'A' + pirq, level);
    piix3_update(s);
}

static void piix3_config_write(struct pci_device *d, unsigned off, uint32_t value, unsigned size)
{
    if (off < PIIX3_PIRQRC + 4 && off + size > PIIX3_PIRQRC)
        piix3_update(d->opaque);
}

static uint8_t piix3_rcr_read(void *opaque)
{
    struct piix3 *s = opaque;
    return s->rcr;
}

static void piix3_rcr_write(void *opaque, uint8_t value)
{
    struct piix3 *s = opaque;
    if (value & PIIX3_RC_RCPU) {
        if (trace_on(TRACE_PCI))
            trace_printf(TRACE_PCI, "piix3: reset requested through 0xCF9 (0x%02x)", value);
        irq_pulse(s->reset);
        return;
    }
    s->rcr = value & PIIX3_RC_SRST;
}

/* Reset values from the 82371SB datasheet (as QEMU's piix3 sets them). */
static const struct {
    uint8_t off, value;
} piix3_defaults[] = {
    {0x4c, 0x4d}, {0x4e, 0x03}, {0x60, 0x80}, {0x61, 0x80}, {0x62, 0x80}, {0x63, 0x80},
    {0x69, 0x02}, {0x70, 0x80}, {0x76, 0x0c}, {0x77, 0x0c}, {0x78, 0x02}, {0xa0, 0x08},
    {0xa8, 0x0f},
};

void piix3_reset(struct piix3 *s)
{
    struct pci_device *d = &s->pci;
    pci_device_reset(d);
    memset(d->config + 0x40, 0, 0xc0);
    d->config[PCI_COMMAND] = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    d->config[PCI_STATUS + 1] = 0x02; /* DEVSEL medium */
    for (size_t i = 0; i < sizeof(piix3_defaults) / sizeof(piix3_defaults[0]); i++)
        d->config[piix3_defaults[i].off] = piix3_defaults[i].value;
    s->rcr = 0;
    piix3_update(s);
}

struct piix3 *piix3_new(struct pci_bus *pci, int devfn, const struct irq isa_irq[16], struct irq reset)
{
    struct piix3 *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    memcpy(s->isa_irq, isa_irq, sizeof(s->isa_irq));
    s->reset = reset;
    pci_device_init(&s->pci, "piix3", 0x8086, 0x7000, 0x060100, 0x00, 0);
    s->pci.config_write = piix3_config_write;
    s->pci.opaque = s;
    pci_set_qemu_subsystem(&s->pci);
    piix3_reset(s);
    if (pci_register(pci, &s->pci, devfn) < 0) {
        free(s);
        return NULL;
    }
    pci_bus_set_intx_router(pci, piix3_route, s);
    pci_bus_set_cf9(pci, piix3_rcr_read, piix3_rcr_write, s);
    return s;
}

void piix3_free(struct piix3 *s)
{
    free(s);
}
