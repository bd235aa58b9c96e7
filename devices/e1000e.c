/*
 * Intel 82574L gigabit Ethernet controller (8086:10D3, subsystem 15AD:07D0 as
 * VMware presents it): the "e1000e" of a .vmx, after Intel's 82574 GbE
 * Controller Family datasheet and what Linux's e1000e driver relies on. The
 * register file, PHY over MDIC, rings, transmit offloads and filtering are the
 * 82545EM core in e1000.c; this file holds what the 82574L does differently:
 *
 * - the NVM, 64 words read through EERD with the 82571-family layout (start
 *   bit 0, done bit 1, word address from bit 2, data from bit 16) and
 *   EECD.AUTO_RD, with the IDs, PBA number and checksum (0xBABA over words
 *   0x00-0x3F) where the driver looks; EEMNGCTL says the configuration is done;
 * - interrupts: INTx with ICR.INT_ASSERTED, MSI (one vector) and MSI-X (five
 *   table entries in BAR3). Under MSI-X the queue causes RXQ0, RXQ1, TXQ0, TXQ1
 *   and OTHER (raised with link, overrun and management causes) go to the
 *   vector IVAR names for them when its valid bit is set; after a message the
 *   causes in EIAC leave ICR, and with CTRL_EXT.EIAME those in IAM leave IMS.
 *   A message goes out when a cause becomes pending and unmasked, not again
 *   until it was cleared. ICR reads clear it (and with CTRL_EXT.IAME and an
 *   asserted interrupt, clear IAM's bits from IMS);
 * - extended receive descriptors (RFCTL.EXTEN): the buffer address read, the
 *   write-back with status/error dword, length and VLAN tag (RSS hash 0);
 * - registers kept for the driver: CTRL_EXT (EE_RST and ASDCHK self-clear),
 *   GCR, PBA (20 KiB receive, 20 KiB transmit), PBS, EXTCNF_CTRL (the MDIO
 *   ownership semaphore), SWSM, EITR, IVAR.
 *
 * Not here: the second receive and transmit queue (their registers are kept,
 * no frames move on them, RSS is not applied), interrupt throttling (EITR, ITR
 * are kept), packet-split descriptors, the flash BAR, PBACLR (pending MSI-X
 * bits clear when the vector is unmasked), timestamping, wake-up.
 */
#include <string.h>

#include "devices/e1000_int.h"

#define CTRL_EXT 0x0018
#define EIAC 0x00dc
#define IAM 0x00e0
#define IVAR 0x00e4
#define EXTCNF_CTRL 0x0f00
#define PBS 0x1008
#define EEMNGCTL 0x1010
#define RXCSUM 0x5000
#define RFCTL 0x5008
#define GCR 0x5b00
#define PBA 0x1000

#define CTRL_EXT_ASDCHK (1u << 12)
#define CTRL_EXT_EE_RST (1u << 13)
#define CTRL_EXT_EIAME (1u << 24)
#define CTRL_EXT_IAME (1u << 27)
#define EIAC_MASK 0x01f00000u
#define RFCTL_EXTEN (1u << 15)
#define EEMNGCTL_CFG_DONE0 (1u << 18)
#define EERD_START_82574 0x1
#define EERD_DONE_82574 0x2
#define EERD_ADDR_SHIFT 2
#define EERD_DATA_SHIFT 16

/* the causes the OTHER vector stands for: LSC, RXO, MDAC, SRPD, ACK, MNG */
#define ICR_OTHER_CAUSES (0x4u | 0x40u | 0x200u | 0x10000u | 0x20000u | 0x40000u)

#define MSIX_VECTORS 5
#define NVM_SUM 0xbaba
#define NVM_CHECKSUM_WORD 0x3f

/* ---- NVM ---- */

void e1000e_nvm_fill(struct e1000 *s)
{
    uint16_t *e = s->eeprom;
    for (int i = 0; i < 3; i++)
        e[i] = (uint16_t)(s->macaddr[2 * i] | s->macaddr[2 * i + 1] << 8);
    e[0x04] = 0xffff; /* LED configuration: the driver's defaults */
    e[0x05] = 0x1080; /* image version (ethtool -i) */
    e[0x08] = 0x5e4d; /* printed board assembly number E4D5xx-0A0 in the old two-word form */
    e[0x09] = 0x000a;
    e[0x0b] = 0x07d0; /* subsystem */
    e[0x0c] = 0x15ad;
    e[0x0d] = 0x10d3; /* device */
    e[0x0e] = 0x8086;
    e[0x0f] = 0x0000; /* initialization control 2: no manageability, no pause frames */
    e[0x1a] = 0x0000; /* PCIe 3: no ASPM workaround bits */
    e[0x24] = 0x0000; /* initialization control 3: no APM wake-up */
    for (int i = 0x30; i < NVM_CHECKSUM_WORD; i++)
        e[i] = 0xffff; /* software section, unprogrammed; word 0x37 (no alternate MAC) among them */
    uint16_t sum = 0;
    for (int i = 0; i < NVM_CHECKSUM_WORD; i++)
        sum = (uint16_t)(sum + e[i]);
    e[NVM_CHECKSUM_WORD] = (uint16_t)(NVM_SUM - sum);
}

void e1000e_eerd_write(struct e1000 *s, uint32_t v)
{
    unsigned a = v >> EERD_ADDR_SHIFT & 0x3fff;
    if (!(v & EERD_START_82574)) {
        w(s, EERD, v & ~EERD_DONE_82574);
        return;
    }
    uint16_t data = a < EEPROM_WORDS ? s->eeprom[a] : 0;
    w(s, EERD, a << EERD_ADDR_SHIFT | EERD_DONE_82574 | (uint32_t)data << EERD_DATA_SHIFT);
}

/* ---- reset ---- */

void e1000e_regs_reset(struct e1000 *s)
{
    w(s, PBA, 0x00140014);
    w(s, PBS, 0x28);
    w(s, EEMNGCTL, EEMNGCTL_CFG_DONE0 | (1u << 31));
    w(s, EXTCNF_CTRL, 1u << 3);
    w(s, RXCSUM, 0x300);
    w(s, EERD, EERD_DONE_82574);
}

/* ---- interrupts ---- */

/* The IVAR field of each queue cause and OTHER: 3 bits of vector, bit 3 valid. */
static const struct {
    uint32_t cause;
    unsigned shift;
} ivar_map[] = {
    {ICR_RXQ0, 0}, {ICR_RXQ1, 4}, {ICR_TXQ0, 8}, {ICR_TXQ1, 12}, {ICR_OTHER, 16},
};

static void msix_send(struct e1000 *s, uint32_t causes)
{
    for (unsigned i = 0; i < sizeof ivar_map / sizeof ivar_map[0]; i++) {
        uint32_t c = ivar_map[i].cause;
        if (!(causes & c))
            continue;
        unsigned f = r(s, IVAR) >> ivar_map[i].shift & 0xf;
        if ((f & 0x8) && (f & 7) < MSIX_VECTORS)
            pci_msi_notify(&s->pci, f & 7);
        if (r(s, CTRL_EXT) & CTRL_EXT_EIAME)
            w(s, IMS, r(s, IMS) & ~(r(s, IAM) & c));
        uint32_t clear = r(s, EIAC) & c;
        w(s, ICR, r(s, ICR) & ~clear);
        s->msi_sent &= ~clear;
    }
}

void e1000e_update_irq(struct e1000 *s)
{
    bool msix = pci_msix_enabled(&s->pci);
    if (msix && (r(s, ICR) & ICR_OTHER_CAUSES))
        w(s, ICR, r(s, ICR) | ICR_OTHER);
    uint32_t pending = r(s, ICR) & r(s, IMS) & ~ICR_INT_ASSERTED;
    s->msi_sent &= pending;
    if (!msix && !pci_msi_enabled(&s->pci)) {
        pci_set_irq(&s->pci, pending != 0);
        return;
    }
    pci_set_irq(&s->pci, 0);
    uint32_t fresh = pending & ~s->msi_sent;
    if (!fresh)
        return;
    s->msi_sent |= fresh;
    if (msix)
        msix_send(s, fresh);
    else
        pci_msi_notify(&s->pci, 0);
}

static uint32_t icr_read(struct e1000 *s)
{
    uint32_t v = r(s, ICR);
    if (v & r(s, IMS))
        v |= ICR_INT_ASSERTED;
    if ((v & ICR_INT_ASSERTED) && (r(s, CTRL_EXT) & CTRL_EXT_IAME))
        w(s, IMS, r(s, IMS) & ~r(s, IAM));
    w(s, ICR, 0);
    e1000e_update_irq(s);
    return v;
}

/* ---- registers ---- */

bool e1000e_reg_read(struct e1000 *s, unsigned off, uint32_t *v)
{
    switch (off) {
    case ICR: *v = icr_read(s); return true;
    case ICS: *v = r(s, ICR); return true; /* reads as ICR, without clearing it */
    }
    return false;
}

bool e1000e_reg_write(struct e1000 *s, unsigned off, uint32_t v)
{
    switch (off) {
    case CTRL_EXT: w(s, CTRL_EXT, v & ~(CTRL_EXT_EE_RST | CTRL_EXT_ASDCHK)); return true;
    case EIAC: w(s, EIAC, v & EIAC_MASK); return true;
    case EEMNGCTL: return true; /* read-only here: the configuration is always done */
    }
    return false;
}

/* ---- receive ---- */

bool e1000e_rx_extended(struct e1000 *s)
{
    return r(s, RFCTL) & RFCTL_EXTEN;
}

void e1000e_rx_writeback(uint8_t d[16], size_t len, uint32_t status, uint16_t vlan)
{
    memset(d, 0, 8); /* MRQ (no RSS) and the RSS hash or IP id and checksum */
    for (int i = 0; i < 4; i++)
        d[8 + i] = (uint8_t)(status >> (8 * i)); /* extended status; errors (bits 24-31) none */
    d[12] = (uint8_t)len;
    d[13] = (uint8_t)(len >> 8);
    d[14] = (uint8_t)vlan;
    d[15] = (uint8_t)(vlan >> 8);
}

/* ---- the device ---- */

struct e1000 *e1000e_new(struct pci_bus *pci, int devfn, struct clock *clock, const uint8_t mac[6],
                         struct net_backend *be, bool link)
{
    struct e1000 *s = e1000_alloc(clock, mac, be, link, true);
    if (!s)
        return NULL;
    pci_device_init(&s->pci, "e1000e", 0x8086, 0x10d3, 0x020000, 0x00, 1);
    pci_set_subsystem(&s->pci, 0x15ad, 0x07d0);
    e1000_setup_bars(s, 2, 0x20);
    pci_msi_init(&s->pci, 1, true, false);
    pci_msix_init(&s->pci, MSIX_VECTORS, 3);
    return e1000_register(s, pci, devfn);
}
