/*
 * The 82574L model (e1000e) against what Linux's e1000e driver does with it:
 * the NVM read word by word through EERD in the 82571-family layout (start bit
 * 0, done bit 1, address from bit 2, data from bit 16) with the checksum the
 * driver validates (words 0x00-0x3F sum to 0xBABA) and the MAC and IDs where
 * it reads them; EECD.AUTO_RD, EEMNGCTL configuration done, the BME1000 PHY
 * ID (0x01410CB1, which e1000e insists on for an 82574); MSI-X messages routed
 * by IVAR as e1000_configure_msix programs it (RXQ0 -> 0, TXQ0 -> 1, OTHER ->
 * 2), EIAC auto-clear and EIAME/IAM auto-mask, re-routing and invalid entries;
 * real receive and transmit raising their queue vectors; extended receive
 * descriptor write-back (RFCTL.EXTEN); MSI sent once per fresh cause; INTx
 * with ICR.INT_ASSERTED; and hostile values (IVAR vectors past the table,
 * EERD addresses past the NVM, an MSI-X address outside RAM, rings outside RAM).
 */
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/e1000.h"
#include "devices/firmware.h"
#include "devices/net.h"
#include "devices/pci.h"
#include "test.h"
#include "netfake.h"

#define RAM_SIZE 0x400000
#define BAR0 0xfebc0000u
#define BAR3 0xfebe0000u
#define BAR2 0xc000u
#define DEVFN (4 << 3)

#define CTRL_EXT 0x18
#define ICR 0xc0
#define ICS 0xc8
#define IMS 0xd0
#define IMC 0xd8
#define EIAC 0xdc
#define IAM 0xe0
#define IVAR 0xe4
#define EERD 0x14
#define RCTL 0x100
#define RFCTL 0x5008

#define RXQ0 (1u << 20)
#define TXQ0 (1u << 22)
#define OTHER (1u << 24)
#define LSC 0x4u


#define MAX_MSGS 64
struct rig {
    struct bus *bus;
    struct pci_bus *pb;
    struct clock *clock;
    uint8_t *ram;
    struct fake_be fb;
    struct e1000 *nic;
    int level;
    int nmsg;
    uint32_t msg[MAX_MSGS]; /* data of each message to the APIC */
};

static const uint8_t mac[6] = {0x00, 0x0c, 0x29, 0x6f, 0x90, 0x13};

static void route(void *opaque, int devfn, int pin, int level)
{
    ((struct rig *)opaque)->level = level;
}

static void msi_sink(void *opaque, uint64_t addr, uint32_t data)
{
    struct rig *r = opaque;
    if (r->nmsg < MAX_MSGS)
        r->msg[r->nmsg++] = data;
}

static uint32_t rd(struct rig *r, unsigned off)
{
    return (uint32_t)bus_read(r->bus, BAR0 + off, 4);
}

static void wr(struct rig *r, unsigned off, uint32_t v)
{
    bus_write(r->bus, BAR0 + off, v, 4);
}

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof *r);
    r->bus = bus_new();
    r->pb = pci_bus_new(r->bus);
    r->clock = clock_new(CLOCK_DETERMINISTIC, 4);
    r->ram = calloc(1, RAM_SIZE);
    ASSERT_EQ(bus_map_ram(r->bus, 0, RAM_SIZE, r->ram, false, "ram"), 0);
    pci_bus_set_intx_router(r->pb, route, r);
    pci_bus_set_msi_sink(r->pb, msi_sink, r);
    net_backend_init(&r->fb.be, &fake_ops, r->clock);
    r->nic = e1000e_new(r->pb, DEVFN, r->clock, mac, &r->fb.be, true);
    ASSERT(r->nic != NULL);
    pci_config_write(r->pb, DEVFN, 0x10, BAR0, 4);
    pci_config_write(r->pb, DEVFN, 0x18, BAR2, 4);
    pci_config_write(r->pb, DEVFN, 0x1c, BAR3, 4);
    pci_config_write(r->pb, DEVFN, 0x04, 0x7, 4);
    return r;
}

static void rig_free(struct rig *r)
{
    e1000_free(r->nic);
    net_backend_free(&r->fb.be);
    pci_bus_free(r->pb);
    clock_free(r->clock);
    bus_free(r->bus);
    free(r->ram);
    free(r);
}

/* MSI-X on, entry n's message data 0x40 + n to the APIC, all unmasked. */
static void msix_on(struct rig *r)
{
    uint8_t cap = pci_find_capability(r->pb, DEVFN, PCI_CAP_ID_MSIX);
    ASSERT(cap != 0);
    ASSERT_EQ((pci_config_read(r->pb, DEVFN, cap + 2, 2) & 0x7ff) + 1, 5); /* table size 5 */
    ASSERT_EQ(pci_config_read(r->pb, DEVFN, cap + 4, 4) & 7, 3);           /* in BAR3 */
    for (unsigned n = 0; n < 5; n++) {
        bus_write(r->bus, BAR3 + n * 16, 0xfee00000u, 4);
        bus_write(r->bus, BAR3 + n * 16 + 4, 0, 4);
        bus_write(r->bus, BAR3 + n * 16 + 8, 0x40 + n, 4);
        bus_write(r->bus, BAR3 + n * 16 + 12, 0, 4);
    }
    pci_config_write(r->pb, DEVFN, cap + 2, PCI_MSIX_FLAGS_ENABLE, 2);
    ASSERT(pci_msix_enabled(pci_find(r->pb, DEVFN)));
}

/* What e1000_configure_msix and e1000_irq_enable write for an 82574. */
static void linux_msix_setup(struct rig *r)
{
    wr(r, IVAR, 1u << 31 | (8 | 2) << 16 | (8 | 1) << 8 | (8 | 0));
    wr(r, CTRL_EXT, 1u << 31 | 1u << 24); /* PBA_CLR, EIAME; IAME clear */
    wr(r, IAM, 0xffffffffu);
    wr(r, EIAC, RXQ0 | TXQ0);
    wr(r, IMS, RXQ0 | TXQ0 | OTHER | 0x9d);
}

/* ---- NVM, PHY, identity ---- */

static uint16_t eerd(struct rig *r, unsigned word)
{
    wr(r, EERD, word << 2 | 1);
    uint32_t v = rd(r, EERD);
    ASSERT(v & 2); /* done */
    return (uint16_t)(v >> 16);
}

static uint16_t mdic_read(struct rig *r, unsigned reg)
{
    wr(r, 0x20, 2u << 26 | 1u << 21 | reg << 16);
    uint32_t v = rd(r, 0x20);
    ASSERT(v & (1u << 28));
    ASSERT(!(v & (1u << 30)));
    return (uint16_t)v;
}

TEST(nvm_through_eerd_with_checksum)
{
    struct rig *r = rig_new();
    uint16_t w[64], sum = 0;
    for (unsigned i = 0; i < 64; i++) {
        w[i] = eerd(r, i);
        sum = (uint16_t)(sum + w[i]);
    }
    ASSERT_EQ(sum, 0xbaba);
    ASSERT_EQ(w[0], 0x0c00);
    ASSERT_EQ(w[1], 0x6f29);
    ASSERT_EQ(w[2], 0x1390);
    ASSERT_EQ(w[0x0d], 0x10d3);
    ASSERT_EQ(w[0x0f] & 0x6000, 0);  /* no manageability (e1000_check_mng_mode_82574) */
    ASSERT_EQ(w[0x37], 0xffff);      /* no alternate MAC address */
    ASSERT_EQ(rd(r, EERD) >> 2 & 0x3fff, 63);
    ASSERT_EQ(rd(r, 0x10) & 0x300, 0x300); /* EECD: PRES, AUTO_RD */
    ASSERT_EQ(rd(r, 0x10) >> 15 & 3, 0);   /* an SPI EEPROM, not flash */
    ASSERT(rd(r, 0x1010) & (1u << 18));    /* EEMNGCTL: configuration done, port 0 */
    ASSERT_EQ(eerd(r, 0x3fff), 0);         /* past the NVM: done, nothing */
    ASSERT_EQ(pci_config_read(r->pb, DEVFN, 0, 4), 0x10d38086);
    ASSERT_EQ(pci_config_read(r->pb, DEVFN, 0x2c, 4), 0x07d015ad);
    ASSERT_EQ((uint32_t)mdic_read(r, 2) << 16 | mdic_read(r, 3), 0x01410cb1u);
    ASSERT_EQ(rd(r, 0x5400), 0x6f290c00u); /* RAR0 loaded from the NVM */
    ASSERT_EQ(rd(r, 0x1000), 0x00140014u); /* PBA */
    rig_free(r);
}

TEST(reset_and_gio_master)
{
    struct rig *r = rig_new();
    ASSERT(rd(r, 8) & (1u << 19)); /* STATUS.GIO_MASTER_ENABLE */
    wr(r, 0, 1u << 2);              /* CTRL.GIO_MASTER_DISABLE: e1000e_disable_pcie_master */
    ASSERT_EQ(rd(r, 8) & (1u << 19), 0);
    wr(r, 0xf00, 1u << 5); /* EXTCNF_CTRL: MDIO software ownership sticks */
    ASSERT(rd(r, 0xf00) & (1u << 5));
    wr(r, CTRL_EXT, 1u << 13 | 1u << 28); /* EE_RST self-clears, DRV_LOAD stays */
    ASSERT_EQ(rd(r, CTRL_EXT), 1u << 28);
    wr(r, 0, 1u << 26); /* CTRL.RST */
    ASSERT_EQ(rd(r, CTRL_EXT), 0);
    ASSERT_EQ(rd(r, 0xf00) & (1u << 5), 0);
    ASSERT(rd(r, 0x10) & 0x200); /* AUTO_RD again after the reset */
    rig_free(r);
}

/* ---- MSI-X ---- */

TEST(msix_routes_by_ivar_with_autoclear)
{
    struct rig *r = rig_new();
    msix_on(r);
    linux_msix_setup(r);
    ASSERT_EQ(r->nmsg, 0);
    wr(r, ICS, RXQ0);
    ASSERT_EQ(r->nmsg, 1);
    ASSERT_EQ(r->msg[0], 0x40);         /* RXQ0 -> entry 0 */
    ASSERT_EQ(rd(r, ICS) & RXQ0, 0);    /* EIAC cleared it from ICR */
    ASSERT_EQ(rd(r, IMS) & RXQ0, 0);    /* EIAME with IAM masked it */
    wr(r, ICS, RXQ0);
    ASSERT_EQ(r->nmsg, 1);              /* masked: no message */
    wr(r, IMS, RXQ0);                   /* NAPI done: the driver unmasks, the pending cause goes */
    ASSERT_EQ(r->nmsg, 2);
    ASSERT_EQ(r->msg[1], 0x40);
    wr(r, ICS, TXQ0);
    ASSERT_EQ(r->nmsg, 3);
    ASSERT_EQ(r->msg[2], 0x41);         /* TXQ0 -> entry 1 */
    wr(r, ICS, LSC);                    /* e1000e_up's kick: LSC raises OTHER */
    ASSERT_EQ(r->nmsg, 4);
    ASSERT_EQ(r->msg[3], 0x42);         /* OTHER -> entry 2 */
    uint32_t icr = rd(r, ICR);          /* e1000_msix_other reads ICR: LSC and OTHER, cleared */
    ASSERT_EQ(icr & (LSC | OTHER), LSC | OTHER);
    ASSERT_EQ(rd(r, ICS) & (LSC | OTHER), 0);
    ASSERT_EQ(r->level, 0);             /* never INTx under MSI-X */
    /* another routing: RXQ0 to entry 4; an entry without its valid bit sends nothing */
    wr(r, IVAR, (8 | 2) << 16 | (0 | 1) << 8 | (8 | 4));
    wr(r, IMS, RXQ0 | TXQ0 | OTHER);
    wr(r, ICS, RXQ0);
    ASSERT_EQ(r->nmsg, 5);
    ASSERT_EQ(r->msg[4], 0x44);
    wr(r, ICS, TXQ0);
    ASSERT_EQ(r->nmsg, 5);
    rig_free(r);
}

#define TXRING 0x10000
#define TXBUF 0x20000
#define RXRING 0x30000
#define RXBUF 0x40000

static void rx_setup(struct rig *r, unsigned ndesc, unsigned tail)
{
    for (unsigned i = 0; i < ndesc; i++) {
        uint64_t a = RXBUF + i * 2048;
        memcpy(r->ram + RXRING + i * 16, &a, 8);
        memset(r->ram + RXRING + i * 16 + 8, 0, 8);
    }
    wr(r, 0x2800, RXRING);
    wr(r, 0x2804, 0);
    wr(r, 0x2808, ndesc * 16);
    wr(r, 0x2810, 0);
    wr(r, 0x2818, tail);
    wr(r, RFCTL, 1u << 15); /* EXTEN */
    wr(r, RCTL, 0x2 | 0x8 | 1u << 15 | 1u << 26); /* EN, UPE, BAM, SECRC */
}

static size_t frame_to_us(uint8_t *f, size_t len)
{
    memcpy(f, mac, 6);
    memcpy(f + 6, "\x52\x55\x0a\x00\x02\x02", 6);
    f[12] = 0x08;
    f[13] = 0x00;
    for (size_t i = 14; i < len; i++)
        f[i] = (uint8_t)(i ^ 0xa5);
    return len;
}

TEST(rx_extended_descriptor_writeback_and_rx_vector)
{
    struct rig *r = rig_new();
    msix_on(r);
    linux_msix_setup(r);
    rx_setup(r, 8, 7);
    uint8_t f[1514];
    frame_to_us(f, sizeof f);
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_MEM_EQ(r->ram + RXBUF, f, sizeof f);
    uint8_t *d = r->ram + RXRING;
    uint32_t staterr, zero[2];
    memcpy(&staterr, d + 8, 4);
    memcpy(zero, d, 8);
    ASSERT_EQ(staterr & 0x7, 0x7);          /* DD, EOP, IXSM */
    ASSERT_EQ(staterr >> 24, 0);            /* no errors */
    ASSERT_EQ(d[12] | d[13] << 8, 1514);    /* length, CRC stripped */
    ASSERT_EQ(zero[0] | zero[1], 0);        /* MRQ, RSS hash: none */
    ASSERT_EQ(rd(r, 0x2810), 1);
    ASSERT_EQ(r->nmsg, 1);
    ASSERT_EQ(r->msg[0], 0x40);
    /* legacy layout again when EXTEN is off */
    wr(r, RFCTL, 0);
    net_deliver(&r->fb.be, f, 100);
    d = r->ram + RXRING + 16;
    ASSERT_EQ(d[8] | d[9] << 8, 100);
    ASSERT_EQ(d[12] & 3, 3);
    rig_free(r);
}

TEST(tx_completion_raises_tx_vector)
{
    struct rig *r = rig_new();
    msix_on(r);
    linux_msix_setup(r);
    uint8_t *d = r->ram + TXRING;
    uint64_t a = TXBUF;
    uint32_t cl = 60u | 1u << 24 | 1u << 27 | 1u << 25; /* EOP, RS, IFCS */
    memcpy(d, &a, 8);
    memcpy(d + 8, &cl, 4);
    memset(r->ram + TXBUF, 0xff, 60);
    wr(r, 0x3800, TXRING);
    wr(r, 0x3808, 8 * 16);
    wr(r, 0x400, 0x2);
    wr(r, 0x3818, 1);
    ASSERT_EQ(r->fb.frames, 1);
    ASSERT_EQ(d[12] & 1, 1);
    ASSERT(r->nmsg >= 1);
    ASSERT_EQ(r->msg[0], 0x41);
    rig_free(r);
}

/* ---- MSI and INTx ---- */

TEST(msi_once_per_fresh_cause_and_intx_asserted)
{
    struct rig *r = rig_new();
    wr(r, IMS, 0x9d);
    wr(r, ICS, LSC);
    ASSERT_EQ(r->level, 1);
    uint32_t icr = rd(r, ICR);
    ASSERT_EQ(icr, LSC | 1u << 31); /* INT_ASSERTED, which e1000_intr requires */
    ASSERT_EQ(r->level, 0);
    wr(r, IMC, ~0u);
    wr(r, ICS, LSC);
    ASSERT_EQ(rd(r, ICR), LSC);     /* masked: not asserted */
    uint8_t cap = pci_find_capability(r->pb, DEVFN, PCI_CAP_ID_MSI);
    ASSERT(cap != 0);
    pci_config_write(r->pb, DEVFN, cap + 4, 0xfee00000u, 4);
    pci_config_write(r->pb, DEVFN, cap + 12, 0x51, 2); /* 64-bit layout: data at +12 */
    pci_config_write(r->pb, DEVFN, cap + 2, PCI_MSI_FLAGS_ENABLE, 2);
    wr(r, IMS, 0x9d);
    wr(r, ICS, LSC);
    ASSERT_EQ(r->nmsg, 1);
    ASSERT_EQ(r->msg[0], 0x51);
    wr(r, ICS, LSC);
    ASSERT_EQ(r->nmsg, 1); /* still pending: no second message */
    wr(r, ICS, 0x80);
    ASSERT_EQ(r->nmsg, 2); /* a fresh cause */
    rd(r, ICR);
    wr(r, ICS, LSC);
    ASSERT_EQ(r->nmsg, 3); /* cleared, raised again */
    ASSERT_EQ(r->level, 0);
    rig_free(r);
}

/* ---- hostile ---- */

TEST(hostile_vectors_and_rings)
{
    struct rig *r = rig_new();
    msix_on(r);
    wr(r, IVAR, 0xffffffffu); /* every field vector 7, past the five entries */
    wr(r, EIAC, 0xffffffffu);
    wr(r, IMS, 0xffffffffu);
    wr(r, ICS, 0xffffffffu);
    ASSERT_EQ(r->nmsg, 0);
    /* an entry whose address is outside RAM and not the APIC: the write is dropped */
    wr(r, IVAR, 8 | 0);
    bus_write(r->bus, BAR3, 0xf0000000u, 4);
    wr(r, ICR, ~0u);
    wr(r, IMS, RXQ0);
    wr(r, ICS, RXQ0);
    ASSERT_EQ(r->nmsg, 0);
    /* extended descriptors on a ring outside RAM, huge lengths, a tail past the ring */
    wr(r, RFCTL, 1u << 15);
    wr(r, RCTL, 0x2 | 0x8);
    wr(r, 0x2800, 0xfff00000u);
    wr(r, 0x2808, 0xfff80);
    wr(r, 0x2818, 5);
    uint8_t f[200];
    frame_to_us(f, sizeof f);
    for (int i = 0; i < 20; i++)
        net_deliver(&r->fb.be, f, sizeof f);
    wr(r, 0x2818, 0x1234567);
    net_deliver(&r->fb.be, f, sizeof f);
    wr(r, EERD, 0xffffffffu);
    ASSERT(rd(r, EERD) & 2);
    /* the I/O BAR reaches the same registers */
    bus_out(r->bus, BAR2, 0x8, 4);
    ASSERT(bus_in(r->bus, BAR2 + 4, 4) & 0x1); /* STATUS.FD */
    wr(r, 0, 1u << 26);
    rig_free(r);
}

/* bios.bootOrder "ethernetN": the path SeaBIOS searches for the card's option ROM (its debug
 * log on this board: "Searching bootorder for: /pci@i0cf8/[*]@3"), in the order given. */
TEST(boot_order_names_the_nic_rom)
{
    struct vm_disk disks[1] = {{.bus = VM_BUS_IDE, .ctrl = 0, .unit = 0, .type = VM_DISK_HDD}};
    struct vm_config c = {.disks = disks, .ndisks = 1, .boot_order = "ethernet0,hdd"};
    c.nic[0].present = true;
    char out[512];
    firmware_bootorder(&c, out, sizeof out);
    ASSERT_STR_EQ(out, "/pci@i0cf8/*@3\n/pci@i0cf8/ide@1,1/drive@0/disk@0\n");
    c.boot_order = "hdd,ethernet1,ethernet0";
    firmware_bootorder(&c, out, sizeof out);
    ASSERT_STR_EQ(out, "/pci@i0cf8/ide@1,1/drive@0/disk@0\n/pci@i0cf8/*@3\n"); /* no ethernet1 */
}
