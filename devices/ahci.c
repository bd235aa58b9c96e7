/*
 * AHCI 1.3 SATA host bus adapter as VMware presents it: PCI 15ad:07e0,
 * class 01.06.01, subsystem 15ad:07e0, INTA. BAR5 (ABAR, 4 KiB) holds the
 * generic host control (CAP: 64-bit, NCQ, CLO, 6 Gb/s, AHCI only, 32 slots,
 * 30 ports; GHC with AE fixed at 1, IE and HR; IS; PI; VS 1.3; CAP2 0) and
 * 30 ports of 80h bytes (CLB/CLBU, FB/FBU, IS, IE, CMD with ST/CR and
 * FRE/FR, TFD, SIG, SSTS/SCTL/SERR, SACT, CI).
 *
 * A port runs its command list when CI bits are set while ST is: the
 * command header names a command table (CFIS, ACMD, PRDT of PRDTL entries
 * with a 22-bit DBC and the I bit). A host-to-device register FIS loads the
 * task file of the device, which is the ATA device core's (devices/ata_dev.h:
 * ata.c, atapi.c); this file is its transport. The device's PIO windows and
 * its DMA phases both move through the PRDT. What the device answers is
 * posted in the received FIS area (when FRE is set) and in TFD: a D2H
 * register FIS at the end of a command, a PIO setup FIS for each PIO data
 * block (a PIO data-in command ends with it: its E_Status), a set device
 * bits FIS for READ/WRITE FPDMA QUEUED (NCQ: run as READ/WRITE DMA EXT and
 * completed through SACT). With the A bit the PACKET command's CDB is the
 * ACMD. A control FIS with SRST, then one without, soft-resets the device;
 * SCTL.DET 1 then 0 is COMRESET; both leave the signature in SIG
 * (00000101h disk, EB140101h ATAPI).
 *
 * Faults never reach the player: a command header, command table or PRD
 * entry the HBA cannot read, or data to or from something that is not RAM,
 * sets HBFS and stops the port; a malformed FIS or a failed command sets
 * TFES with the ERR status in TFD and stops the port until software clears
 * ST (AHCI 1.3 6.2.2); more data than the PRDT holds sets OFS and fails the
 * command. The data phase is bounded by the command's length, each PRD
 * entry by its DBC. A port without a device has no link (SSTS 0) and runs
 * nothing. Interrupts: a PxIS bit enabled in PxIE sets the port's bit in IS;
 * INTx is GHC.IE && IS. Commands run to completion inside the CI write.
 * Not emulated: MSI, port multipliers and FIS-based switching, staggered
 * spin-up, link power management, command completion coalescing, enclosure
 * management, BIOS/OS handoff.
 */
#include "devices/ahci.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/ata_dev.h"
#include "devices/trace.h"

#define ABAR 5
#define ABAR_SIZE 0x1000

/* Generic host control */
#define HBA_CAP 0x00
#define HBA_GHC 0x04
#define HBA_IS 0x08
#define HBA_PI 0x0c
#define HBA_VS 0x10
#define HBA_CAP2 0x24
#define PORT_BASE 0x100
#define PORT_SIZE 0x80

#define CAP_S64A (1u << 31)
#define CAP_SNCQ (1u << 30)
#define CAP_SCLO (1u << 24)
#define CAP_ISS_GEN3 (3u << 20)
#define CAP_SAM (1u << 18)
#define CAP_NCS(n) (((n) - 1u) << 8)
#define CAP_NP(n) ((n) - 1u)
#define AHCI_CAP                                                                           \
    (CAP_S64A | CAP_SNCQ | CAP_SCLO | CAP_ISS_GEN3 | CAP_SAM | CAP_NCS(32) | CAP_NP(AHCI_PORTS))
#define AHCI_PI ((1u << AHCI_PORTS) - 1)
#define AHCI_VS 0x00010300

#define GHC_HR (1u << 0)
#define GHC_IE (1u << 1)
#define GHC_AE (1u << 31)

/* Port registers */
#define PX_CLB 0x00
#define PX_CLBU 0x04
#define PX_FB 0x08
#define PX_FBU 0x0c
#define PX_IS 0x10
#define PX_IE 0x14
#define PX_CMD 0x18
#define PX_TFD 0x20
#define PX_SIG 0x24
#define PX_SSTS 0x28
#define PX_SCTL 0x2c
#define PX_SERR 0x30
#define PX_SACT 0x34
#define PX_CI 0x38

/* PxIS / PxIE */
#define PXIS_DHRS (1u << 0)
#define PXIS_PSS (1u << 1)
#define PXIS_SDBS (1u << 3)
#define PXIS_DPS (1u << 5)
#define PXIS_OFS (1u << 24)
#define PXIS_HBFS (1u << 29)
#define PXIS_TFES (1u << 30)
#define PXIS_RWC 0xfd8000afu /* write 1 to clear; PCS, PRCS and UFS clear through SERR */
#define PXIE_MASK 0xfdc000ffu

/* PxCMD */
#define CMD_ST (1u << 0)
#define CMD_SUD (1u << 1)
#define CMD_POD (1u << 2)
#define CMD_CLO (1u << 3)
#define CMD_FRE (1u << 4)
#define CMD_CCS_SHIFT 8
#define CMD_CCS_MASK (0x1fu << CMD_CCS_SHIFT)
#define CMD_FR (1u << 14)
#define CMD_CR (1u << 15)
#define CMD_ATAPI (1u << 24)
#define CMD_DLAE (1u << 25)
#define CMD_RW (CMD_ST | CMD_FRE | CMD_ATAPI | CMD_DLAE)

#define SSTS_LINK_UP 0x133 /* device present, phy up; 6 Gb/s; interface active */
#define TFD_RESET 0x7f
#define SCTL_DET_COMRESET 1
#define SCTL_DET_OFFLINE 4

/* Received FIS area */
#define RFIS_PSFIS 0x20
#define RFIS_RFIS 0x40
#define RFIS_SDBFIS 0x58

#define FIS_REG_H2D 0x27
#define FIS_REG_D2H 0x34
#define FIS_PIO_SETUP 0x5f
#define FIS_SDB 0xa1
#define FIS_H2D_C 0x80     /* byte 1: command register update, not device control */
#define FIS_I 0x40         /* byte 1 of a D2H FIS: interrupt */
#define FIS_PIO_D 0x20     /* byte 1 of a PIO setup FIS: device to host */
#define DEVCTL_SRST 0x04

/* Command header DW0, command table */
#define CH_CFL 0x1f
#define CH_A (1u << 5)
#define CT_CFIS 0x00
#define CT_ACMD 0x40
#define CT_PRDT 0x80
#define PRD_SIZE 16
#define PRD_DBC 0x3fffffu
#define PRD_I (1u << 31)

#define ATA_PACKET 0xa0
#define ATA_READ_FPDMA 0x60
#define ATA_WRITE_FPDMA 0x61
#define ATA_READ_DMA_EXT 0x25
#define ATA_WRITE_DMA_EXT 0x35
#define ATA_WRITE_DMA_FUA_EXT 0x3d

struct ahci;

struct ahci_port {
    struct ahci *s;
    int index;
    struct ata_dev dev;   /* kind IDE_NONE: no device, no link */
    uint32_t clb, clbu, fb, fbu, is, ie, cmd, tfd, sig, ssts, sctl, serr, sact, ci;
    bool stopped;         /* HBFS or TFES: nothing runs until software clears ST */
    bool srst;            /* a control FIS set SRST: the one clearing it resets the device */
    /* The running command: its table, the PRD walk and the bytes it moved. */
    uint64_t ctba;
    uint32_t prdtl, prd_next, prd_left, prdbc;
    uint64_t prd_addr;
    bool prd_irq;
    bool fault;           /* a DMA fault in this command (HBFS) */
    bool cdb_from_acmd;   /* the PACKET command's CDB window is filled from the ACMD */
    bool dev_irq;         /* the device asserted its interrupt since the last PIO window */
    uint8_t acmd[16];
};

struct ahci {
    struct pci_device pci;
    int index;
    uint32_t ghc, is;
    struct ahci_port port[AHCI_PORTS];
};

static const struct ata_ident ata_ident_sata = {
    .disk_model = "VMware Virtual SATA Hard Drive",
    .disk_firmware = "00000001",
    .cd_model = "VMware Virtual SATA CDRW Drive",
    .cd_firmware = "00000001",
    .cd_product = "VMware SATA CD00",
    .sata = true,
};

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* ---- interrupts ---- */

static void hba_update_irq(struct ahci *s)
{
    for (int i = 0; i < AHCI_PORTS; i++)
        if (s->port[i].is & s->port[i].ie)
            s->is |= 1u << i;
    pci_set_irq(&s->pci, (s->ghc & GHC_IE) && s->is);
}

/* ---- received FIS area ---- */

static void fatal(struct ahci_port *p)
{
    p->is |= PXIS_HBFS;
    p->stopped = true;
    if (trace_on(TRACE_IDE))
        trace_printf(TRACE_IDE, "%s: host bus fatal error, port stopped", p->dev.name);
}

static void post_fis(struct ahci_port *p, unsigned off, const uint8_t *fis, unsigned len)
{
    uint64_t fb = (uint64_t)p->fbu << 32 | p->fb;
    if ((p->cmd & CMD_FRE) && pci_dma_write(&p->s->pci, fb + off, fis, len) < 0)
        fatal(p);
}

/* The register bytes 2-13 a device-to-host FIS carries: status, error, LBA, device, count. */
static void fis_taskfile(uint8_t *f, const struct ata_dev *d)
{
    f[2] = d->status;
    f[3] = d->error;
    f[4] = d->sector;
    f[5] = d->lcyl;
    f[6] = d->hcyl;
    f[7] = d->select;
    f[8] = d->hob_sector;
    f[9] = d->hob_lcyl;
    f[10] = d->hob_hcyl;
    f[12] = d->nsector;
    f[13] = d->hob_nsector;
}

static void post_d2h(struct ahci_port *p, bool irq)
{
    uint8_t f[20] = {FIS_REG_D2H, irq ? FIS_I : 0};
    fis_taskfile(f, &p->dev);
    p->tfd = (uint32_t)p->dev.error << 8 | p->dev.status;
    post_fis(p, RFIS_RFIS, f, sizeof f);
    if (irq)
        p->is |= PXIS_DHRS;
}

/* status: as the data block began; the device's status now is the ending status (E_Status).
 * irq: the device announced the block with an interrupt (not the first block of a PIO data-out
 * command, nor a PACKET command's CDB). */
static void post_pio_setup(struct ahci_port *p, uint8_t status, unsigned count, bool to_host,
                           bool irq)
{
    uint8_t f[20] = {FIS_PIO_SETUP, (uint8_t)((irq ? FIS_I : 0) | (to_host ? FIS_PIO_D : 0))};
    fis_taskfile(f, &p->dev);
    f[2] = status;
    f[15] = p->dev.status;
    f[16] = (uint8_t)count;
    f[17] = (uint8_t)(count >> 8);
    p->tfd = (uint32_t)p->dev.error << 8 | p->dev.status;
    post_fis(p, RFIS_PSFIS, f, sizeof f);
    if (irq)
        p->is |= PXIS_PSS;
}

/* Set device bits: the status bits it carries, and the SActive bits of the commands it ends. */
static void post_sdb(struct ahci_port *p, uint32_t done)
{
    uint8_t f[8] = {FIS_SDB, FIS_I, (uint8_t)(p->dev.status & 0x77), p->dev.error};
    put32(f + 4, done);
    p->tfd = (uint32_t)p->dev.error << 8 | (p->tfd & 0x88) | (p->dev.status & 0x77);
    post_fis(p, RFIS_SDBFIS, f, sizeof f);
    p->is |= PXIS_SDBS;
}

/* The device signs on (power-on, COMRESET, SRST): its signature in SIG, its status in TFD. */
static void sign_on(struct ahci_port *p)
{
    struct ata_dev *d = &p->dev;
    p->sig = (uint32_t)d->hcyl << 24 | (uint32_t)d->lcyl << 16 | (uint32_t)d->sector << 8 |
             d->nsector;
    post_d2h(p, false);
}

/* ---- the PRD walk ---- */

static void prd_reset(struct ahci_port *p)
{
    p->prd_next = p->prd_left = p->prdbc = 0;
    p->prd_irq = false;
    p->fault = false;
}

/* The next entry: 1, or 0 when the table is used up, -1 when it cannot be read. */
static int prd_load(struct ahci_port *p)
{
    uint8_t e[PRD_SIZE];
    if (p->prd_next >= p->prdtl)
        return 0;
    uint64_t at = p->ctba + CT_PRDT + (uint64_t)PRD_SIZE * p->prd_next;
    if (pci_dma_read(&p->s->pci, at, e, sizeof e) < 0)
        return -1;
    p->prd_addr = ((uint64_t)get32(e + 4) << 32 | get32(e)) & ~1ull;
    p->prd_left = (get32(e + 12) & PRD_DBC) + 1;
    p->prd_irq = get32(e + 12) & PRD_I;
    p->prd_next++;
    return 1;
}

/* Moves len bytes between buf and the PRDT's buffers: how many moved, or -1 on a DMA fault. */
static long prd_move(struct ahci_port *p, uint8_t *buf, unsigned len, bool to_memory)
{
    unsigned done = 0;
    while (done < len) {
        if (p->prd_left == 0) {
            int r = prd_load(p);
            if (r < 0)
                goto fault;
            if (r == 0) {
                if (to_memory)
                    p->is |= PXIS_OFS;
                break;
            }
        }
        unsigned n = len - done < p->prd_left ? len - done : p->prd_left;
        int r = to_memory ? pci_dma_write(&p->s->pci, p->prd_addr, buf + done, n)
                          : pci_dma_read(&p->s->pci, p->prd_addr, buf + done, n);
        if (r < 0)
            goto fault;
        p->prd_addr += n;
        p->prd_left -= n;
        p->prdbc += n;
        done += n;
        if (p->prd_left == 0 && p->prd_irq)
            p->is |= PXIS_DPS;
    }
    return done;
fault:
    p->fault = true;
    fatal(p);
    return -1;
}

/* ---- the device core's transport ---- */

static void dev_irq(struct ata_dev *d)
{
    struct ahci_port *p = d->opaque;
    p->dev_irq = true;
}

/* The HBA's DMA engine is always ready once a command runs. */
static void dev_start_dma(struct ata_dev *d)
{
    d->dma_fn(d);
}

static void dev_dma_begin(struct ata_dev *d)
{
}

static long dev_dma_move(struct ata_dev *d, uint8_t *buf, unsigned len, bool to_memory)
{
    return prd_move(d->opaque, buf, len, to_memory);
}

static void dev_dma_end(struct ata_dev *d, bool dma_error)
{
}

/* One device per port. */
static void dev_diagnostic(struct ata_dev *d)
{
    ata_set_signature(d);
    d->error = 0x01;
    d->status = d->kind == IDE_CDROM ? 0 : ATA_SR_DRDY | ATA_SR_DSC;
    d->xfer = XFER_NONE;
    ata_raise_irq(d);
}

static const struct ata_transport ahci_transport = {
    .irq = dev_irq,
    .start_dma = dev_start_dma,
    .dma_begin = dev_dma_begin,
    .dma_move = dev_dma_move,
    .dma_end = dev_dma_end,
    .diagnostic = dev_diagnostic,
};

/* ---- running a command ---- */

static void load_taskfile(struct ata_dev *d, const uint8_t *fis)
{
    d->feature = fis[3];
    d->sector = fis[4];
    d->lcyl = fis[5];
    d->hcyl = fis[6];
    d->select = fis[7];
    d->hob_sector = fis[8];
    d->hob_lcyl = fis[9];
    d->hob_hcyl = fis[10];
    d->hob_feature = fis[11];
    d->nsector = fis[12];
    d->hob_nsector = fis[13];
}

/*
 * Serves the device's PIO windows through the PRDT (the CDB window from the
 * ACMD) until the command ends; DMA phases have run inside. True when the
 * command ended with a PIO data-in block and no further interrupt: its
 * PIO setup FIS is then the completion.
 */
static bool pump(struct ahci_port *p)
{
    struct ata_dev *d = &p->dev;
    bool ended_in_data = false;
    while (d->xfer == XFER_PIO_IN || d->xfer == XFER_PIO_OUT) {
        bool in = d->xfer == XFER_PIO_IN;
        unsigned len = d->end - d->pos;
        uint8_t status = d->status;
        long moved = len;
        bool irq = p->dev_irq;
        p->dev_irq = false;
        if (!in && p->cdb_from_acmd) {
            p->cdb_from_acmd = false;
            memcpy(d->buf + d->pos, p->acmd, len < sizeof p->acmd ? len : sizeof p->acmd);
        } else {
            moved = prd_move(p, d->buf + d->pos, len, in);
        }
        if (moved != (long)len) {
            ata_cmd_abort(d, ATA_ER_ABRT);
            return false;
        }
        d->pos = d->end;
        ata_pio_window_done(d);
        post_pio_setup(p, status, len, in, irq);
        ended_in_data = in && d->xfer == XFER_NONE && !p->dev_irq;
    }
    if (d->xfer != XFER_NONE) /* a DMA phase that did not run: cannot happen, but never hang */
        ata_cmd_abort(d, ATA_ER_ABRT);
    return ended_in_data && !(d->status & ATA_SR_ERR);
}

/* A failed command: TFES, and the port stops with CCS naming the slot (CI keeps its bit). */
static void slot_error(struct ahci_port *p, int slot)
{
    p->is |= PXIS_TFES;
    p->stopped = true;
    if (trace_on(TRACE_IDE))
        trace_printf(TRACE_IDE, "%s: slot %d failed, TFD 0x%04x", p->dev.name, slot, p->tfd);
}

static void write_prdbc(struct ahci_port *p, int slot)
{
    uint8_t b[4];
    uint64_t clb = (uint64_t)p->clbu << 32 | p->clb;
    put32(b, p->prdbc);
    if (pci_dma_write(&p->s->pci, clb + 32u * slot + 4, b, 4) < 0)
        fatal(p);
}

/* A control FIS: SRST set, then cleared, resets the device, which signs on again. */
static void run_control(struct ahci_port *p, int slot, const uint8_t *fis)
{
    bool srst = fis[15] & DEVCTL_SRST;
    p->ci &= ~(1u << slot);
    if (srst) {
        p->srst = true;
        p->dev.xfer = XFER_NONE;
        return;
    }
    if (p->srst) {
        p->srst = false;
        ata_dev_reset(&p->dev, true);
        sign_on(p);
    }
}

/* READ/WRITE FPDMA QUEUED: the count is in the features, the tag in count 7:3, FUA in device
 * bit 7; it runs as READ/WRITE DMA EXT and ends with a set device bits FIS. */
static void run_ncq(struct ahci_port *p, int slot, const uint8_t *fis)
{
    struct ata_dev *d = &p->dev;
    bool write = fis[2] == ATA_WRITE_FPDMA, fua = fis[7] & 0x80;
    d->nsector = fis[3];
    d->hob_nsector = fis[11];
    d->feature = d->hob_feature = 0;
    d->select = 0x40;
    p->sact |= 1u << slot;
    ata_command(d, write ? (fua ? ATA_WRITE_DMA_FUA_EXT : ATA_WRITE_DMA_EXT) : ATA_READ_DMA_EXT);
    pump(p);
    p->ci &= ~(1u << slot); /* the device took the command (its D2H FIS cleared BSY) */
    if (d->status & ATA_SR_ERR) {
        post_sdb(p, 0);
        slot_error(p, slot);
        return;
    }
    p->sact &= ~(1u << slot);
    post_sdb(p, 1u << slot);
}

static void run_slot(struct ahci_port *p, int slot)
{
    struct ata_dev *d = &p->dev;
    uint8_t hdr[16], tbl[CT_ACMD + 16];
    uint64_t clb = (uint64_t)p->clbu << 32 | p->clb;
    p->cmd = (p->cmd & ~CMD_CCS_MASK) | (uint32_t)slot << CMD_CCS_SHIFT;
    if (pci_dma_read(&p->s->pci, clb + 32u * slot, hdr, sizeof hdr) < 0) {
        fatal(p);
        return;
    }
    uint32_t dw0 = get32(hdr);
    p->ctba = ((uint64_t)get32(hdr + 12) << 32 | get32(hdr + 8)) & ~0x7full;
    p->prdtl = dw0 >> 16;
    prd_reset(p);
    if (pci_dma_read(&p->s->pci, p->ctba, tbl, sizeof tbl) < 0) {
        fatal(p);
        return;
    }
    const uint8_t *fis = tbl + CT_CFIS;
    unsigned cfl = dw0 & CH_CFL;
    if (cfl < 5 || cfl > 16 || fis[0] != FIS_REG_H2D) {
        /* Not a command FIS the device can take: it rejects it. */
        p->tfd = (uint32_t)ATA_ER_ABRT << 8 | ATA_SR_DRDY | ATA_SR_ERR;
        slot_error(p, slot);
        return;
    }
    if (!(fis[1] & FIS_H2D_C)) {
        run_control(p, slot, fis);
        return;
    }
    memcpy(p->acmd, tbl + CT_ACMD, sizeof p->acmd);
    load_taskfile(d, fis);
    if (trace_on(TRACE_IDE))
        trace_printf(TRACE_IDE, "%s: slot %d command 0x%02x, %u PRD entries", d->name, slot, fis[2],
                     p->prdtl);
    if (fis[2] == ATA_READ_FPDMA || fis[2] == ATA_WRITE_FPDMA) {
        run_ncq(p, slot, fis);
        return;
    }
    p->cdb_from_acmd = (dw0 & CH_A) && fis[2] == ATA_PACKET;
    p->dev_irq = false;
    ata_command(d, fis[2]);
    bool ended_in_data = pump(p);
    write_prdbc(p, slot);
    if (d->status & ATA_SR_ERR) {
        post_d2h(p, true);
        slot_error(p, slot);
        return;
    }
    if (!ended_in_data)
        post_d2h(p, true);
    if (!p->stopped)
        p->ci &= ~(1u << slot);
}

static void port_run(struct ahci_port *p)
{
    if (!(p->cmd & CMD_ST) || p->dev.kind == IDE_NONE)
        return;
    for (int slot = 0; slot < 32 && !p->stopped; slot++)
        if (p->ci & (1u << slot))
            run_slot(p, slot);
}

/* ---- link and reset ---- */

/* The link comes up (power-on, HBA reset, the end of COMRESET): the device resets and signs on. */
static void link_up(struct ahci_port *p)
{
    if (p->dev.kind == IDE_NONE) {
        p->ssts = 0;
        p->tfd = TFD_RESET;
        p->sig = 0xffffffff;
        return;
    }
    ata_dev_reset(&p->dev, false);
    p->srst = false;
    p->ssts = SSTS_LINK_UP;
    sign_on(p);
}

static void port_reset(struct ahci_port *p)
{
    p->clb = p->clbu = p->fb = p->fbu = 0;
    p->is = p->ie = 0;
    p->cmd = CMD_SUD | CMD_POD;
    p->sctl = p->serr = p->sact = p->ci = 0;
    p->stopped = false;
    link_up(p);
}

static void hba_reset(struct ahci *s)
{
    s->ghc = 0;
    s->is = 0;
    for (int i = 0; i < AHCI_PORTS; i++)
        port_reset(&s->port[i]);
    hba_update_irq(s);
}

/* ---- registers ---- */

static void cmd_write(struct ahci_port *p, uint32_t v)
{
    uint32_t old = p->cmd;
    p->cmd = (old & ~CMD_RW) | (v & CMD_RW);
    if ((v & CMD_CLO) && p->dev.kind != IDE_NONE) /* command list override: BSY and DRQ clear */
        p->tfd &= ~(uint32_t)(ATA_SR_BSY | ATA_SR_DRQ);
    if ((old & CMD_ST) && !(v & CMD_ST)) {
        p->ci = p->sact = 0;
        p->stopped = false;
        p->cmd &= ~CMD_CCS_MASK;
    }
    if (!(old & CMD_ST) && (v & CMD_ST))
        port_run(p);
}

static void sctl_write(struct ahci_port *p, uint32_t v)
{
    unsigned old = p->sctl & 0xf, det = v & 0xf;
    p->sctl = v & 0xfffff;
    if (det == SCTL_DET_COMRESET) {
        p->ssts = p->dev.kind != IDE_NONE ? 1 : 0; /* device present, no communication */
        p->tfd = ATA_SR_BSY;
        p->dev.xfer = XFER_NONE;
    } else if (det == SCTL_DET_OFFLINE) {
        p->ssts = SCTL_DET_OFFLINE;
    } else if (det == 0 && old != 0) {
        link_up(p);
    }
}

static uint32_t port_read(struct ahci_port *p, unsigned off)
{
    switch (off) {
    case PX_CLB: return p->clb;
    case PX_CLBU: return p->clbu;
    case PX_FB: return p->fb;
    case PX_FBU: return p->fbu;
    case PX_IS: return p->is;
    case PX_IE: return p->ie;
    case PX_CMD:
        return p->cmd | (p->cmd & CMD_ST ? CMD_CR : 0) | (p->cmd & CMD_FRE ? CMD_FR : 0);
    case PX_TFD: return p->tfd;
    case PX_SIG: return p->sig;
    case PX_SSTS: return p->ssts;
    case PX_SCTL: return p->sctl;
    case PX_SERR: return p->serr;
    case PX_SACT: return p->sact;
    case PX_CI: return p->ci;
    default: return 0;
    }
}

static void port_write(struct ahci_port *p, unsigned off, uint32_t v)
{
    switch (off) {
    case PX_CLB: p->clb = v & ~0x3ffu; break;
    case PX_CLBU: p->clbu = v; break;
    case PX_FB: p->fb = v & ~0xffu; break;
    case PX_FBU: p->fbu = v; break;
    case PX_IS: p->is &= ~(v & PXIS_RWC); break;
    case PX_IE: p->ie = v & PXIE_MASK; break;
    case PX_CMD: cmd_write(p, v); break;
    case PX_SCTL: sctl_write(p, v); break;
    case PX_SERR: p->serr &= ~v; break;
    case PX_SACT:
        if (p->cmd & CMD_ST)
            p->sact |= v;
        break;
    case PX_CI:
        if (p->cmd & CMD_ST) {
            p->ci |= v;
            port_run(p);
        }
        break;
    }
}

static uint64_t abar_read(void *opaque, uint64_t off, unsigned size)
{
    struct ahci *s = opaque;
    unsigned o = (unsigned)off & ~3u;
    if (o >= PORT_BASE) {
        unsigned n = (o - PORT_BASE) / PORT_SIZE;
        return n < AHCI_PORTS ? port_read(&s->port[n], (o - PORT_BASE) % PORT_SIZE) : 0;
    }
    switch (o) {
    case HBA_CAP: return AHCI_CAP;
    case HBA_GHC: return s->ghc | GHC_AE;
    case HBA_IS: return s->is;
    case HBA_PI: return AHCI_PI;
    case HBA_VS: return AHCI_VS;
    default: return 0; /* CCC, EM, CAP2, BOHC: none */
    }
}

static void abar_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct ahci *s = opaque;
    unsigned o = (unsigned)off & ~3u;
    uint32_t v = (uint32_t)value;
    if (o >= PORT_BASE) {
        unsigned n = (o - PORT_BASE) / PORT_SIZE;
        if (n < AHCI_PORTS)
            port_write(&s->port[n], (o - PORT_BASE) % PORT_SIZE, v);
    } else if (o == HBA_GHC) {
        if (v & GHC_HR) {
            hba_reset(s); /* done at once: HR reads back 0 */
            return;
        }
        s->ghc = v & GHC_IE;
    } else if (o == HBA_IS) {
        s->is &= ~v;
    }
    hba_update_irq(s);
}

static const struct bus_ops abar_ops = {
    .read = abar_read, .write = abar_write, .min_size = 4, .max_size = 4};

/* ---- object ---- */

void ahci_reset(struct ahci *s)
{
    pci_device_reset(&s->pci);
    hba_reset(s);
    for (int i = 0; i < AHCI_PORTS; i++) {
        struct ata_dev *d = &s->port[i].dev;
        /* Power-on with a disc in the tray: the first access reports a medium change. */
        atapi_power_on(d);
    }
}

struct ahci *ahci_new(struct pci_bus *pci, int devfn, int index)
{
    struct ahci *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->index = index;
    pci_device_init(&s->pci, "ahci", 0x15ad, 0x07e0, 0x010601, 0x00, 1);
    pci_set_subsystem(&s->pci, 0x15ad, 0x07e0);
    pci_device_set_bar(&s->pci, ABAR, PCI_BAR_MEM32, ABAR_SIZE, &abar_ops, s, NULL);
    s->pci.opaque = s;
    for (int i = 0; i < AHCI_PORTS; i++) {
        struct ahci_port *p = &s->port[i];
        p->s = s;
        p->index = i;
        p->dev.t = &ahci_transport;
        p->dev.opaque = p;
        p->dev.ident = &ata_ident_sata;
        snprintf(p->dev.name, sizeof p->dev.name, "sata%d:%d", index, i);
        snprintf(p->dev.unit_id, sizeof p->dev.unit_id, "S%d.%d", index, i);
    }
    if (pci_register(pci, &s->pci, devfn) < 0) {
        free(s);
        return NULL;
    }
    ahci_reset(s);
    return s;
}

void ahci_free(struct ahci *s)
{
    if (!s)
        return;
    for (int i = 0; i < AHCI_PORTS; i++) {
        ata_dev_free(&s->port[i].dev);
        free(s->port[i].dev.buf);
    }
    free(s);
}

int ahci_attach(struct ahci *s, int port, enum ide_drive_kind kind, struct blockdev *bd,
                struct error *err)
{
    if (port < 0 || port >= AHCI_PORTS)
        return error_set(err, EX_SOFTWARE, "sata%d:%d: no such SATA port", s->index, port);
    if (kind == IDE_DISK && !bd)
        return error_set(err, EX_SOFTWARE, "sata%d:%d: a disk needs an image", s->index, port);
    struct ahci_port *p = &s->port[port];
    if (!p->dev.buf && !(p->dev.buf = calloc(1, IDE_BUF_SIZE)))
        return error_set(err, EX_OSERR, "out of memory");
    if (ata_dev_attach(&p->dev, kind, bd) < 0)
        return error_set(err, EX_OSERR, "out of memory");
    port_reset(p);
    atapi_power_on(&p->dev);
    hba_update_irq(s);
    return 0;
}
