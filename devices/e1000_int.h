/*
 * The inside of the Intel gigabit family model, shared by e1000.c (the 82545EM
 * core: registers, EEPROM, PHY, rings, offloads) and e1000e.c (what the 82574L
 * does differently: NVM through EERD, MSI-X with IVAR, extended receive
 * descriptors). Nothing outside those two files includes it.
 */
#ifndef VMPLAY_E1000_INT_H
#define VMPLAY_E1000_INT_H

#include "devices/e1000.h"

/* registers (byte offsets in BAR0) */
#define CTRL 0x0000
#define STATUS 0x0008
#define EECD 0x0010
#define EERD 0x0014
#define MDIC 0x0020
#define VET 0x0038
#define ICR 0x00c0
#define ITR 0x00c4
#define ICS 0x00c8
#define IMS 0x00d0
#define IMC 0x00d8
#define RCTL 0x0100
#define TCTL 0x0400
#define RDBAL 0x2800
#define RDBAH 0x2804
#define RDLEN 0x2808
#define RDH 0x2810
#define RDT 0x2818
#define TDBAL 0x3800
#define TDBAH 0x3804
#define TDLEN 0x3808
#define TDH 0x3810
#define TDT 0x3818
#define STATS_FIRST 0x4000
#define STATS_LAST 0x40fc
#define MPC 0x4010
#define GPRC 0x4074
#define BPRC 0x4078
#define MPRC 0x407c
#define GPTC 0x4080
#define GORCL 0x4088
#define GOTCL 0x4090
#define RNBC 0x40a0
#define TORL 0x40c0
#define TOTL 0x40c8
#define TPR 0x40d0
#define TPT 0x40d4
#define MPTC 0x40f0
#define BPTC 0x40f4
#define MTA 0x5200
#define RA 0x5400
#define VFTA 0x5600
#define REG_SPACE 0x20000

#define CTRL_GIO_MASTER_DISABLE (1u << 2) /* 82574L */
#define CTRL_RST (1u << 26)
#define CTRL_VME (1u << 30)
#define CTRL_PHY_RST (1u << 31)
#define STATUS_FD 0x1
#define STATUS_LU 0x2
#define STATUS_SPEED_1000 0x80
#define STATUS_GIO_MASTER_ENABLE (1u << 19) /* 82574L */

#define EECD_SK 0x1
#define EECD_CS 0x2
#define EECD_DI 0x4
#define EECD_DO 0x8
#define EECD_REQ 0x40
#define EECD_GNT 0x80
#define EECD_PRES 0x100
#define EECD_AUTO_RD 0x200 /* 82574L: the NVM was loaded after reset */
#define EERD_START 0x1
#define EERD_DONE 0x10

#define MDIC_OP_WRITE (1u << 26)
#define MDIC_OP_READ (2u << 26)
#define MDIC_READY (1u << 28)
#define MDIC_ERROR (1u << 30)

#define ICR_TXDW 0x1
#define ICR_TXQE 0x2
#define ICR_LSC 0x4
#define ICR_RXDMT0 0x10
#define ICR_RXT0 0x80
#define ICR_RXQ0 (1u << 20) /* 82574L: the queue causes MSI-X routes through IVAR */
#define ICR_RXQ1 (1u << 21)
#define ICR_TXQ0 (1u << 22)
#define ICR_TXQ1 (1u << 23)
#define ICR_OTHER (1u << 24)
#define ICR_INT_ASSERTED (1u << 31)

#define RCTL_EN (1u << 1)
#define RCTL_UPE (1u << 3)
#define RCTL_MPE (1u << 4)
#define RCTL_LPE (1u << 5)
#define RCTL_BAM (1u << 15)
#define RCTL_VFE (1u << 18)
#define RCTL_BSEX (1u << 25)
#define RCTL_SECRC (1u << 26)
#define TCTL_EN (1u << 1)

/* descriptor bits */
#define RXD_DD 0x01
#define RXD_EOP 0x02
#define RXD_IXSM 0x04
#define RXD_VP 0x08
#define TXD_EOP (1u << 24)
#define TXD_IC (1u << 26) /* legacy: insert checksum */
#define TXD_TSE (1u << 26) /* data/context: segmentation */
#define TXD_RS (1u << 27)
#define TXD_RPS (1u << 28)
#define TXD_DEXT (1u << 29)
#define TXD_VLE (1u << 30)
#define TUCMD_TCP (1u << 24)
#define TUCMD_IP (1u << 25)
#define POPTS_IXSM 0x01
#define POPTS_TXSM 0x02

/* PHY (Marvell M88E1011) */
#define PHY_ADDR 1
#define PHY_CTRL 0
#define PHY_STATUS 1
#define PHY_LP_ABILITY 5
#define PHY_1000T_STATUS 10
#define M88_PHY_SPEC_STATUS 17
#define PHY_CTRL_RESET 0x8000
#define PHY_CTRL_RESTART_AN 0x0200
#define PHY_STATUS_LINK 0x0004
#define PHY_STATUS_AN_DONE 0x0020

#define EEPROM_WORDS 64
#define EEPROM_SUM 0xbaba
#define TX_BURST 256
#define TX_MAX (NET_FRAME_MAX - 4) /* a packet before segmentation, room for a VLAN tag */
#define RX_FRAME_MAX 16384

struct e1000 {
    struct pci_device pci;
    bool e1000e;        /* the 82574L (e1000e.c) rather than the 82545EM */
    uint32_t msi_sent;  /* 82574L: pending causes already signalled by message */
    struct clock *clock;
    struct net_backend *be;
    bool link;
    uint8_t macaddr[6];
    uint32_t reg[REG_SPACE / 4];
    uint32_t ioaddr;
    uint16_t phy[32];
    uint16_t eeprom[EEPROM_WORDS];
    struct {
        uint32_t last_eecd; /* what the guest last wrote */
        unsigned bits_in, shift_in;
        bool reading;
        int out_bit;        /* bit being shifted out, counted from the addressed word's MSB */
        unsigned addr;
    } ee;
    struct {
        uint8_t ipcss, ipcso, tucss, tucso;
        uint16_t ipcse, tucse, mss;
        uint8_t hdrlen;
        uint32_t tucmd;
    } ctx;
    struct {
        uint8_t buf[TX_MAX];
        size_t len;
        bool overflow, started, tse, vle;
        uint8_t popts, cso, css;
        bool legacy_ic;
        uint16_t vlan;
    } tx;
    uint8_t seg[TX_MAX + 4];
    uint8_t rxbuf[RX_FRAME_MAX + 8];
    struct timer tx_timer;
    uint8_t *rom; /* the PCI expansion ROM image (owned), or NULL */
};

static inline uint32_t r(struct e1000 *s, unsigned off)
{
    return s->reg[off >> 2];
}

static inline void w(struct e1000 *s, unsigned off, uint32_t v)
{
    s->reg[off >> 2] = v;
}

/* ---- e1000e.c: the 82574L's differences, called from the shared core ---- */

void e1000e_nvm_fill(struct e1000 *s);
void e1000e_eerd_write(struct e1000 *s, uint32_t v);
void e1000e_regs_reset(struct e1000 *s);
void e1000e_update_irq(struct e1000 *s);
/* Registers the 82574L treats its own way: true when handled (read value in *v). */
bool e1000e_reg_read(struct e1000 *s, unsigned off, uint32_t *v);
bool e1000e_reg_write(struct e1000 *s, unsigned off, uint32_t v);
/* Extended receive descriptor write-back (RFCTL.EXTEN): fills d from the status and length. */
bool e1000e_rx_extended(struct e1000 *s);
void e1000e_rx_writeback(uint8_t d[16], size_t len, uint32_t status, uint16_t vlan);

/* e1000.c: a card of either model, its PCI function not yet set up or registered. */
struct e1000 *e1000_alloc(struct clock *clock, const uint8_t mac[6], struct net_backend *be, bool link,
                          bool e1000e);
/* Registers the function and attaches the back end; frees s and returns NULL on failure. */
struct e1000 *e1000_register(struct e1000 *s, struct pci_bus *pci, int devfn);
/* The register BAR (0) and the IOADDR/IODATA BAR (io_bar, io_size bytes). */
void e1000_setup_bars(struct e1000 *s, int io_bar, uint64_t io_size);

#endif
