/* devices/acpi_tables.c: the loader script applied as OVMF's loader applies it
 * (QEMU's bios-linker-loader format) and as SeaBIOS's does, then the RSDP -> XSDT ->
 * FADT -> DSDT/FACS chain walked by address, every table's checksum and length
 * checked (ACPI 6). The two differ in ADD_CHECKSUM: OVMF stores -sum(range) into
 * the byte (edk2's CalculateCheckSum8 over the range as it is), SeaBIOS subtracts
 * the range's sum from it; both are right only for a byte that starts at 0, as
 * QEMU's blobs have it (a pre-filled checksum made OVMF store 0, and install none
 * of the tables). */
#include "tests/unit/test.h"

#include "devices/acpi_tables.h"

#define MEM_SIZE 0x20000
#define RSDP_AT 0x10000 /* "F segment" */
#define TABLES_AT 0x400

static uint8_t mem[MEM_SIZE];

static uint32_t get32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }
static uint8_t sum(const uint8_t *p, size_t n) { uint8_t s = 0; while (n--) s = (uint8_t)(s + *p++); return s; }

static uint32_t base_of(const char *name)
{
    if (!strcmp(name, "etc/acpi/tables"))
        return TABLES_AT;
    if (!strcmp(name, "etc/acpi/rsdp"))
        return RSDP_AT;
    test_fail(__FILE__, __LINE__, "loader names unknown file '%s'", name);
}

enum loader { OVMF, SEABIOS };

static void apply(const struct acpi_blobs *b, enum loader how)
{
    memset(mem, 0, sizeof mem);
    int allocs = 0;
    for (size_t o = 0; o < b->loader_len; o += ACPI_LOADER_ENTRY) {
        const uint8_t *c = b->loader + o;
        const char *f1 = (const char *)c + 4, *f2 = (const char *)c + 4 + ACPI_LOADER_FILE;
        ASSERT_EQ(f1[ACPI_LOADER_FILE - 1], 0);
        switch (get32(c)) {
        case ACPI_LOADER_ALLOCATE: {
            uint32_t align = get32(c + 4 + ACPI_LOADER_FILE);
            uint8_t zone = c[8 + ACPI_LOADER_FILE];
            uint32_t at = base_of(f1);
            ASSERT_EQ(at % align, 0);
            if (at == RSDP_AT) {
                ASSERT_EQ(zone, ACPI_LOADER_ZONE_FSEG);
                memcpy(mem + at, b->rsdp, sizeof b->rsdp);
            } else {
                ASSERT_EQ(zone, ACPI_LOADER_ZONE_HIGH);
                memcpy(mem + at, b->tables, b->tables_len);
            }
            allocs++;
            break;
        }
        case ACPI_LOADER_ADD_POINTER: {
            uint32_t off = get32(c + 4 + 2 * ACPI_LOADER_FILE);
            uint8_t size = c[8 + 2 * ACPI_LOADER_FILE];
            ASSERT_EQ(allocs, 2);
            uint8_t *p = mem + base_of(f1) + off;
            uint64_t v = 0;
            for (int i = 0; i < size; i++)
                v |= (uint64_t)p[i] << (8 * i);
            v += base_of(f2);
            for (int i = 0; i < size; i++)
                p[i] = (uint8_t)(v >> (8 * i));
            break;
        }
        case ACPI_LOADER_ADD_CHECKSUM: {
            uint32_t off = get32(c + 4 + ACPI_LOADER_FILE), start = get32(c + 8 + ACPI_LOADER_FILE),
                     len = get32(c + 12 + ACPI_LOADER_FILE);
            uint8_t *blob = mem + base_of(f1);
            if (how == OVMF)
                blob[off] = (uint8_t)-sum(blob + start, len);
            else
                blob[off] = (uint8_t)(blob[off] - sum(blob + start, len));
            break;
        }
        default:
            test_fail(__FILE__, __LINE__, "unknown loader command %u", get32(c));
        }
    }
}

static const uint8_t *table(uint64_t addr, const char *sig)
{
    ASSERT_NE(addr, 0);
    if (addr >= MEM_SIZE - 36)
        test_fail(__FILE__, __LINE__, "%s at %#llx: outside the blobs", sig, (unsigned long long)addr);
    const uint8_t *t = mem + addr;
    if (memcmp(t, sig, 4) != 0)
        test_fail(__FILE__, __LINE__, "expected %s at %#llx, found %.4s", sig, (unsigned long long)addr, t);
    uint32_t len = get32(t + 4);
    if (len < 36 || addr + len > TABLES_AT + 1024)
        test_fail(__FILE__, __LINE__, "%s length %u", sig, len);
    ASSERT_EQ(sum(t, len), 0);
    return t;
}

static void chain(enum loader how)
{
    static struct acpi_blobs b;
    acpi_tables_build(&b, 1);
    ASSERT_EQ(b.loader_len % ACPI_LOADER_ENTRY, 0);
    apply(&b, how);
    const uint8_t *r = mem + RSDP_AT;
    ASSERT_MEM_EQ(r, "RSD PTR ", 8);
    ASSERT_EQ(r[15], 2);
    ASSERT_EQ(get32(r + 20), 36);
    ASSERT_EQ(sum(r, 20), 0);
    ASSERT_EQ(sum(r, 36), 0);
    const uint8_t *x = table(get64(r + 24), "XSDT");
    ASSERT_EQ(get32(x + 4), 36 + 16);
    const uint8_t *f = table(get64(x + 36), "FACP");
    const uint8_t *m = table(get64(x + 44), "APIC");
    ASSERT_EQ(get32(f + 4), 244);
    ASSERT_EQ(f[8], 3);
    /* the board's fixed hardware (devices/piix4pm.c, PIIX3) */
    ASSERT_EQ(f[46] | f[47] << 8, 9);
    ASSERT_EQ(get32(f + 48), 0xB2);
    ASSERT_EQ(f[52], 0xF1);
    ASSERT_EQ(f[53], 0xF0);
    ASSERT_EQ(get32(f + 56), 0xB000);
    ASSERT_EQ(get32(f + 64), 0xB004);
    ASSERT_EQ(get32(f + 76), 0xB008);
    ASSERT_EQ(get32(f + 80), 0xAFE0);
    ASSERT_EQ(f[88], 4);
    ASSERT_EQ(f[89], 2);
    ASSERT_EQ(f[91], 4);
    ASSERT_EQ(f[92], 4);
    ASSERT_EQ(f[116], 1);
    ASSERT_EQ(get32(f + 120), 0xCF9);
    ASSERT_EQ(f[128], 6);
    /* FACS: no checksum, 64 bytes, 64-aligned */
    uint32_t facs = get32(f + 36);
    ASSERT_EQ(facs % 64, 0);
    ASSERT_MEM_EQ(mem + facs, "FACS", 4);
    ASSERT_EQ(get32(mem + facs + 4), 64);
    const uint8_t *d = table(get32(f + 40), "DSDT");
    uint32_t dlen = get32(d + 4);
    static const uint8_t s5[] = {0x08, '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x00, 0x00};
    bool found = false;
    for (uint32_t i = 36; i + sizeof s5 <= dlen; i++)
        found |= memcmp(d + i, s5, sizeof s5) == 0;
    ASSERT_EQ(found, true);
    /* \_SB scope's PkgLength spans exactly to the end of the DSDT */
    const uint8_t *sc = d + 36 + sizeof s5;
    ASSERT_EQ(sc[0], 0x10);
    ASSERT_EQ(sc[1] < 64, true);
    ASSERT_EQ(36 + sizeof s5 + 1 + sc[1], dlen);
    ASSERT_MEM_EQ(sc + 2, "\\_SB_\x5b\x82", 7);
    ASSERT_EQ(1 + 5 + 2 + sc[9], sc[1]); /* Device(PCI0) fills the scope */
    ASSERT_MEM_EQ(sc + 10, "PCI0", 4);
    /* MADT: LAPIC 0, IOAPIC 1 at 0xFEC00000 GSI 0, IRQ0->GSI2, SCI level/high */
    uint32_t mlen = get32(m + 4);
    ASSERT_EQ(get32(m + 36), 0xFEE00000);
    int lapic = 0, ioapic = 0, iso0 = 0, iso9 = 0;
    for (uint32_t o = 44; o < mlen; o += m[o + 1]) {
        const uint8_t *e = m + o;
        ASSERT_NE(e[1], 0);
        if (e[0] == 0 && e[3] == 0 && (get32(e + 4) & 1))
            lapic++;
        if (e[0] == 1 && e[2] == 1 && get32(e + 4) == 0xFEC00000 && get32(e + 8) == 0)
            ioapic++;
        if (e[0] == 2 && e[3] == 0 && get32(e + 4) == 2)
            iso0++;
        if (e[0] == 2 && e[3] == 9 && get32(e + 4) == 9 && (e[8] | e[9] << 8) == 0xD)
            iso9++;
    }
    ASSERT_EQ(lapic, 1);
    ASSERT_EQ(ioapic, 1);
    ASSERT_EQ(iso0, 1);
    ASSERT_EQ(iso9, 1);
}

TEST(chain_after_ovmf_loader)
{
    chain(OVMF);
}

TEST(chain_after_seabios_loader)
{
    chain(SEABIOS);
}

/* Every byte an ADD_CHECKSUM names is 0 as built (QEMU's convention). */
TEST(checksum_bytes_zero_as_built)
{
    static struct acpi_blobs b;
    acpi_tables_build(&b, 1);
    int n = 0;
    for (size_t o = 0; o < b.loader_len; o += ACPI_LOADER_ENTRY) {
        const uint8_t *c = b.loader + o;
        if (get32(c) != ACPI_LOADER_ADD_CHECKSUM)
            continue;
        const char *f = (const char *)c + 4;
        uint32_t off = get32(c + 4 + ACPI_LOADER_FILE);
        ASSERT_EQ(strcmp(f, "etc/acpi/rsdp") ? b.tables[off] : b.rsdp[off], 0);
        n++;
    }
    ASSERT_EQ(n, 6);
    ASSERT_EQ(b.tables_len <= sizeof b.tables, true);
}
