/*
 * The EFI board's ACPI tables (see acpi_tables.h). Layout of "etc/acpi/tables":
 * FACS (64-byte aligned), DSDT, FADT (revision 3), MADT, XSDT. The RSDP
 * (revision 2) is its own blob in the F segment. Values follow the board:
 * devices/piix4pm.c (PM block at 0xB000 where OVMF puts PMBA, GPE0 at
 * 0xAFE0, SCI on IRQ 9, APMC 0xB2 with 0xF1/0xF0, S5 is SLP_TYP 0), PIIX3's
 * reset register 0xCF9 (value 6), the IOAPIC at 0xFEC00000.
 *
 * The DSDT is hand-assembled AML: Name(\_S5, Package{0, 0}) and
 * \_SB.PCI0 (PNP0A03, _ADR 0, _UID 0).
 */
#include "devices/acpi_tables.h"

#include <string.h>

#define OFF_FACS 0
#define FACS_LEN 64
#define OFF_DSDT 64

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }

static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
    memcpy(t, sig, 4);
    put32(t + 4, len);
    t[8] = rev;
    memcpy(t + 10, "VMPLAY", 6);
    memcpy(t + 16, "VMPLAYPC", 8);
    put32(t + 24, 1);
    memcpy(t + 28, "VMPL", 4);
    put32(t + 32, 1);
}

/* An AML PkgLength for a body of n bytes (n < 4096), written at p; returns its size. */
static size_t pkglen(uint8_t *p, size_t n)
{
    if (n + 1 < 64) {
        p[0] = (uint8_t)(n + 1);
        return 1;
    }
    size_t t = n + 2;
    p[0] = (uint8_t)(0x40 | (t & 0xF));
    p[1] = (uint8_t)(t >> 4);
    return 2;
}

static size_t dsdt_body(uint8_t *p)
{
    static const uint8_t s5[] = {0x08, '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x00, 0x00};
    static const uint8_t pci0[] = {
        'P', 'C', 'I', '0',
        0x08, '_', 'H', 'I', 'D', 0x0C, 0x41, 0xD0, 0x0A, 0x03, /* EisaId("PNP0A03") */
        0x08, '_', 'A', 'D', 'R', 0x00,
        0x08, '_', 'U', 'I', 'D', 0x00,
    };
    size_t n = 0;
    memcpy(p + n, s5, sizeof s5);
    n += sizeof s5;
    uint8_t dev[64];
    size_t d = 0;
    dev[d++] = 0x5B; /* DeviceOp */
    dev[d++] = 0x82;
    d += pkglen(dev + d, sizeof pci0);
    memcpy(dev + d, pci0, sizeof pci0);
    d += sizeof pci0;
    p[n++] = 0x10; /* ScopeOp */
    n += pkglen(p + n, 5 + d);
    memcpy(p + n, "\\_SB_", 5);
    n += 5;
    memcpy(p + n, dev, d);
    return n + d;
}

static void gas_io(uint8_t *g, uint8_t width, uint32_t addr)
{
    g[0] = 1; /* system I/O */
    g[1] = width;
    g[2] = 0;
    g[3] = 1; /* byte access */
    put32(g + 4, addr);
}

static size_t fadt(uint8_t *t)
{
    const uint32_t len = 244;
    header(t, "FACP", len, 3);
    t[45] = 0;         /* unspecified PM profile */
    put16(t + 46, 9);  /* SCI_INT */
    put32(t + 48, 0xB2);
    t[52] = 0xF1;
    t[53] = 0xF0;
    put32(t + 56, 0xB000); /* PM1a_EVT_BLK */
    put32(t + 64, 0xB004); /* PM1a_CNT_BLK */
    put32(t + 76, 0xB008); /* PM_TMR_BLK */
    put32(t + 80, 0xAFE0); /* GPE0_BLK */
    t[88] = 4;
    t[89] = 2;
    t[91] = 4;
    t[92] = 4;
    put16(t + 96, 0xFFF);  /* no C2 */
    put16(t + 98, 0xFFF);  /* no C3 */
    t[108] = 0x32;         /* RTC century register */
    put16(t + 109, 0x3);   /* LEGACY_DEVICES, 8042 */
    put32(t + 112, (1u << 0) | (1u << 2) | (1u << 5) | (1u << 10)); /* WBINVD, PROC_C1, SLP_BUTTON, RESET_REG_SUP */
    gas_io(t + 116, 8, 0xCF9);
    t[128] = 6;
    return len;
}

static size_t madt(uint8_t *t, uint8_t ioapic_id)
{
    size_t n = 44;
    put32(t + 36, 0xFEE00000);
    put32(t + 40, 1); /* PCAT_COMPAT */
    uint8_t *e = t + n;
    e[0] = 0; e[1] = 8; e[2] = 0; e[3] = 0; put32(e + 4, 1); /* LAPIC 0, enabled */
    n += 8;
    e = t + n;
    e[0] = 1; e[1] = 12; e[2] = ioapic_id; e[3] = 0; put32(e + 4, 0xFEC00000); put32(e + 8, 0);
    n += 12;
    e = t + n;
    e[0] = 2; e[1] = 10; e[2] = 0; e[3] = 0; put32(e + 4, 2); put16(e + 8, 0); /* IRQ0 -> GSI2 */
    n += 10;
    e = t + n;
    e[0] = 2; e[1] = 10; e[2] = 0; e[3] = 9; put32(e + 4, 9); put16(e + 8, 0xD); /* SCI: level, high */
    n += 10;
    header(t, "APIC", (uint32_t)n, 1);
    return n;
}

static uint8_t *cmd_alloc(uint8_t *c, const char *file, uint32_t align, uint8_t zone)
{
    put32(c, ACPI_LOADER_ALLOCATE);
    strncpy((char *)c + 4, file, ACPI_LOADER_FILE - 1);
    put32(c + 4 + ACPI_LOADER_FILE, align);
    c[8 + ACPI_LOADER_FILE] = zone;
    return c + ACPI_LOADER_ENTRY;
}

static uint8_t *cmd_pointer(uint8_t *c, const char *dst, const char *src, uint32_t off, uint8_t size)
{
    put32(c, ACPI_LOADER_ADD_POINTER);
    strncpy((char *)c + 4, dst, ACPI_LOADER_FILE - 1);
    strncpy((char *)c + 4 + ACPI_LOADER_FILE, src, ACPI_LOADER_FILE - 1);
    put32(c + 4 + 2 * ACPI_LOADER_FILE, off);
    c[8 + 2 * ACPI_LOADER_FILE] = size;
    return c + ACPI_LOADER_ENTRY;
}

static uint8_t *cmd_checksum(uint8_t *c, const char *file, uint32_t off, uint32_t start, uint32_t len)
{
    put32(c, ACPI_LOADER_ADD_CHECKSUM);
    strncpy((char *)c + 4, file, ACPI_LOADER_FILE - 1);
    put32(c + 4 + ACPI_LOADER_FILE, off);
    put32(c + 8 + ACPI_LOADER_FILE, start);
    put32(c + 12 + ACPI_LOADER_FILE, len);
    return c + ACPI_LOADER_ENTRY;
}

#define TABLES "etc/acpi/tables"
#define RSDP "etc/acpi/rsdp"

/* The checksum of the table at off in the tables blob: header byte 9 over its len bytes. */
static uint8_t *cmd_table_sum(uint8_t *c, size_t off, size_t len)
{
    return cmd_checksum(c, TABLES, (uint32_t)off + 9, (uint32_t)off, (uint32_t)len);
}

void acpi_tables_build(struct acpi_blobs *b, uint8_t ioapic_id)
{
    memset(b, 0, sizeof *b);
    uint8_t *t = b->tables;
    uint8_t *c = b->loader;
    c = cmd_alloc(c, RSDP, 16, ACPI_LOADER_ZONE_FSEG);
    c = cmd_alloc(c, TABLES, 64, ACPI_LOADER_ZONE_HIGH);

    memcpy(t + OFF_FACS, "FACS", 4);
    put32(t + OFF_FACS + 4, FACS_LEN);
    t[OFF_FACS + 32] = 1; /* version */

    size_t off = OFF_DSDT;
    size_t body = dsdt_body(t + off + 36);
    size_t dsdt_len = 36 + body;
    header(t + off, "DSDT", (uint32_t)dsdt_len, 2);
    c = cmd_table_sum(c, off, dsdt_len);
    off += (dsdt_len + 7) & ~(size_t)7;

    size_t off_fadt = off;
    size_t fadt_len = fadt(t + off);
    /* the 32-bit FIRMWARE_CTRL and DSDT fields hold offsets in the blob; the loader relocates them */
    put32(t + off + 36, OFF_FACS);
    put32(t + off + 40, OFF_DSDT);
    c = cmd_pointer(c, TABLES, TABLES, (uint32_t)off + 36, 4);
    c = cmd_pointer(c, TABLES, TABLES, (uint32_t)off + 40, 4);
    c = cmd_table_sum(c, off, fadt_len);
    off += (fadt_len + 7) & ~(size_t)7;

    size_t off_madt = off;
    size_t madt_len = madt(t + off, ioapic_id);
    c = cmd_table_sum(c, off, madt_len);
    off += (madt_len + 7) & ~(size_t)7;

    size_t off_xsdt = off;
    size_t xsdt_len = 36 + 2 * 8;
    header(t + off, "XSDT", (uint32_t)xsdt_len, 1);
    put32(t + off + 36, (uint32_t)off_fadt);
    put32(t + off + 44, (uint32_t)off_madt);
    c = cmd_pointer(c, TABLES, TABLES, (uint32_t)off + 36, 8);
    c = cmd_pointer(c, TABLES, TABLES, (uint32_t)off + 44, 8);
    c = cmd_table_sum(c, off, xsdt_len);
    off += xsdt_len;
    b->tables_len = off;

    uint8_t *r = b->rsdp;
    memcpy(r, "RSD PTR ", 8);
    memcpy(r + 9, "VMPLAY", 6);
    r[15] = 2;
    put32(r + 20, sizeof b->rsdp);
    put32(r + 24, (uint32_t)off_xsdt); /* XsdtAddress (low half; relocated) */
    c = cmd_pointer(c, RSDP, TABLES, 24, 8);
    c = cmd_checksum(c, RSDP, 8, 0, 20);
    c = cmd_checksum(c, RSDP, 32, 0, 36);
    b->loader_len = (size_t)(c - b->loader);
    /* Every checksum byte stays 0: the firmware's loader computes it after relocation.
     * OVMF stores -sum(range) into the byte, which is right only if the byte was 0;
     * SeaBIOS subtracts the range's sum from it, right from any start that sums to 0. */
}

int acpi_tables_add(struct fwcfg *fw, uint8_t ioapic_id)
{
    struct acpi_blobs b; /* fwcfg copies the data */
    acpi_tables_build(&b, ioapic_id);
    if (fwcfg_add_file(fw, TABLES, b.tables, b.tables_len) < 0 ||
        fwcfg_add_file(fw, RSDP, b.rsdp, sizeof b.rsdp) < 0 ||
        fwcfg_add_file(fw, "etc/table-loader", b.loader, b.loader_len) < 0)
        return -1;
    return 0;
}
