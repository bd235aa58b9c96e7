/*
 * Intel 82441FX PMC, the i440FX host bridge (8086:1237 rev 02) at PCI 00.0,
 * as QEMU's "pc" machine presents it to SeaBIOS. Subset: configuration
 * mechanism #1 (through devices/pci.c), the Programmable Attribute Map
 * registers PAM0-PAM6 (0x59-0x5F) and the SMRAM register (0x72).
 *
 * PAM: each nibble controls one chunk (PAM0 bits 5:4 the 64 KiB at
 * 0xF0000; PAM1-PAM6 two 16 KiB chunks each from 0xC0000 up, low nibble
 * first) with RE (bit 0) and WE (bit 1): 00 reads and writes go to the
 * ISA/PCI side (here: the board's ROM image, writes dropped), 01 reads from
 * DRAM with writes to ROM (dropped), 10 reads from ROM with writes to DRAM,
 * 11 DRAM read/write. Each chunk is one range on the bus, re-mapped when
 * its attribute changes. SeaBIOS's shadow.c sets 0x33/0x30, copies the
 * BIOS from its 4 GiB alias, then write-protects with 0x11/0x10.
 *
 * Subsystem IDs are QEMU's (1AF4:1100): SeaBIOS's qemu_detect() reads them
 * from 00.0 and only then runs as on QEMU (fw_cfg, the debug port 0x402).
 *
 * SMRAM: the register is kept (C_BASE_SEG = 010b, D_LCK locks D_OPEN) but
 * there is no SMM, so 0xA0000-0xBFFFF always stays with the VGA.
 */
#include "devices/i440fx.h"

#include <stdlib.h>

#include "devices/trace.h"

#define I440FX_PAM0 0x59
#define I440FX_PAM_COUNT 7
#define I440FX_SMRAM 0x72
#define I440FX_SMRAM_RESET 0x02
#define I440FX_SMRAM_WMASK 0x78 /* D_OPEN, D_CLS, D_LCK, G_SMRAME */
#define I440FX_SMRAM_D_LCK 0x10
#define I440FX_SMRAM_D_OPEN 0x40
#define PAM_RE 0x1
#define PAM_WE 0x2
#define PAM_CHUNKS 13
#define PAM_UNMAPPED (-1)

struct pam_chunk {
    struct i440fx *s;
    uint32_t base, size;
    int mode; /* PAM_RE | PAM_WE, or PAM_UNMAPPED */
};

struct i440fx {
    struct pci_device pci;
    struct bus *bus;
    uint8_t *ram, *isa_rom;
    struct pam_chunk chunk[PAM_CHUNKS];
};

/* Write-only mode: reads come from the ROM image, writes go to DRAM. */
static uint64_t pam_wo_read(void *opaque, uint64_t off, unsigned size)
{
    struct pam_chunk *c = opaque;
    const uint8_t *p = c->s->isa_rom + (c->base - I440FX_ISA_ROM_BASE) + off;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void pam_wo_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct pam_chunk *c = opaque;
    uint8_t *p = c->s->ram + c->base + off;
    for (unsigned i = 0; i < size; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static const struct bus_ops pam_wo_ops = {
    .read = pam_wo_read, .write = pam_wo_write, .min_size = 1, .max_size = 8};

/* The attribute nibble of chunk i (0..11: 16 KiB chunks from 0xC0000; 12: 0xF0000). */
static int pam_mode(const struct i440fx *s, int i)
{
    if (i == PAM_CHUNKS - 1)
        return (s->pci.config[I440FX_PAM0] >> 4) & 3;
    uint8_t reg = s->pci.config[I440FX_PAM0 + 1 + i / 2];
    return (i & 1 ? reg >> 4 : reg) & 3;
}

static int pam_map(struct i440fx *s, struct pam_chunk *c, int mode)
{
    uint8_t *rom = s->isa_rom + (c->base - I440FX_ISA_ROM_BASE);
    switch (mode) {
    case 0:
        return bus_map_ram(s->bus, c->base, c->size, rom, true, "pam-rom");
    case PAM_RE:
        return bus_map_ram(s->bus, c->base, c->size, s->ram + c->base, true, "pam-ram-ro");
    case PAM_WE:
        return bus_map_mmio(s->bus, c->base, c->size, &pam_wo_ops, c, "pam-ram-wo");
    default:
        return bus_map_ram(s->bus, c->base, c->size, s->ram + c->base, false, "pam-ram");
    }
}

static int pam_update(struct i440fx *s)
{
    for (int i = 0; i < PAM_CHUNKS; i++) {
        struct pam_chunk *c = &s->chunk[i];
        int mode = pam_mode(s, i);
        if (mode == c->mode)
            continue;
        if (c->mode != PAM_UNMAPPED)
            bus_unmap(s->bus, c->base);
        c->mode = PAM_UNMAPPED;
        if (pam_map(s, c, mode) < 0)
            return -1;
        c->mode = mode;
        if (trace_on(TRACE_PCI))
            trace_printf(TRACE_PCI, "i440fx: PAM 0x%05x-0x%05x RE=%d WE=%d", c->base,
                         c->base + c->size - 1, mode & PAM_RE, (mode & PAM_WE) >> 1);
    }
    return 0;
}

static void smram_update(struct i440fx *s)
{
    uint8_t *r = &s->pci.config[I440FX_SMRAM];
    /* No SMM: D_OPEN never takes effect; D_LCK makes the register read-only but D_CLS. */
    if (*r & I440FX_SMRAM_D_LCK) {
        *r &= (uint8_t)~I440FX_SMRAM_D_OPEN;
        s->pci.wmask[I440FX_SMRAM] = 0x20;
    }
}

static void i440fx_config_write(struct pci_device *d, unsigned off, uint32_t value, unsigned size)
{
    struct i440fx *s = d->opaque;
    if (off <= I440FX_PAM0 + I440FX_PAM_COUNT - 1 && off + size > I440FX_PAM0)
        pam_update(s);
    if (off <= I440FX_SMRAM && off + size > I440FX_SMRAM)
        smram_update(s);
}

static void i440fx_init_config(struct i440fx *s)
{
    struct pci_device *d = &s->pci;
    pci_device_reset(d);
    d->config[I440FX_SMRAM] = I440FX_SMRAM_RESET;
    d->wmask[I440FX_SMRAM] = I440FX_SMRAM_WMASK;
    d->wmask[I440FX_PAM0] = 0x30;
    for (int i = 1; i < I440FX_PAM_COUNT; i++) {
        d->config[I440FX_PAM0 + i] = 0;
        d->wmask[I440FX_PAM0 + i] = 0x33;
    }
    d->config[I440FX_PAM0] = 0;
}

struct i440fx *i440fx_new(struct bus *bus, struct pci_bus *pci, uint8_t *ram, uint8_t *isa_rom)
{
    struct i440fx *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->bus = bus;
    s->ram = ram;
    s->isa_rom = isa_rom;
    for (int i = 0; i < PAM_CHUNKS; i++) {
        struct pam_chunk *c = &s->chunk[i];
        c->s = s;
        c->base = I440FX_ISA_ROM_BASE + (uint32_t)i * 0x4000;
        c->size = i == PAM_CHUNKS - 1 ? 0x10000 : 0x4000;
        c->mode = PAM_UNMAPPED;
    }
    pci_device_init(&s->pci, "i440fx", 0x8086, 0x1237, 0x060000, 0x02, 0);
    s->pci.config_write = i440fx_config_write;
    s->pci.opaque = s;
    pci_set_qemu_subsystem(&s->pci);
    i440fx_init_config(s);
    if (pci_find(pci, 0) || pci_bus_map_conf_ports(pci) < 0) {
        free(s);
        return NULL;
    }
    if (pam_update(s) < 0) {
        for (int i = 0; i < PAM_CHUNKS; i++)
            if (s->chunk[i].mode != PAM_UNMAPPED)
                bus_unmap(bus, s->chunk[i].base);
        free(s);
        return NULL;
    }
    pci_register(pci, &s->pci, 0);
    return s;
}

void i440fx_reset(struct i440fx *s)
{
    i440fx_init_config(s);
    pam_update(s);
}

/* The ranges stay on the bus (and the device on the PCI bus): free the bus after. */
void i440fx_free(struct i440fx *s)
{
    free(s);
}
