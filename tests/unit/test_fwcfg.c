/*
 * fw_cfg read the way SeaBIOS's src/fw/paravirt.c does: signature and
 * FW_CFG_ID (DMA bit) on the data port, the file directory (be32 count,
 * 64-byte entries {be32 size, be16 select, be16 reserved, name[56]}),
 * "etc/e820" as 20-byte little-endian records (qemu_early_e820), fixed
 * integer keys, and DMA transfers through a FWCfgDmaAccess in guest RAM
 * (select/read/skip, zero fill, error on bad addresses and writes).
 */
#include "devices/fwcfg.h"
#include "tests/unit/test.h"

#include <stdlib.h>

#define RAM_SIZE (1u << 20)

struct fix {
    struct bus *bus;
    struct fwcfg *fw;
    uint8_t *ram;
};

static void setup(struct fix *f)
{
    f->bus = bus_new();
    f->ram = calloc(1, RAM_SIZE);
    ASSERT(bus_map_ram(f->bus, 0, RAM_SIZE, f->ram, false, "ram") == 0);
    f->fw = fwcfg_new(f->bus);
    ASSERT(f->fw);
}

static void teardown(struct fix *f)
{
    fwcfg_free(f->fw);
    bus_free(f->bus);
    free(f->ram);
}

/* qemu_cfg_read_entry over the data port. */
static void read_entry(struct fix *f, uint16_t key, void *buf, size_t len)
{
    bus_out(f->bus, 0x510, key, 2);
    for (size_t i = 0; i < len; i++)
        ((uint8_t *)buf)[i] = (uint8_t)bus_in(f->bus, 0x511, 1);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

TEST(signature_and_id)
{
    struct fix f;
    setup(&f);
    char sig[5] = {0};
    read_entry(&f, FW_CFG_SIGNATURE, sig, 4);
    ASSERT_STR_EQ(sig, "QEMU");
    uint8_t id[4];
    read_entry(&f, FW_CFG_ID, id, 4);
    ASSERT_EQ(le(id, 4), 3); /* traditional interface + DMA */
    /* The DMA registers read back "QEMU CFG". */
    uint32_t lo = bus_in(f.bus, 0x514, 4), hi = bus_in(f.bus, 0x518, 4);
    char dsig[9] = {0};
    memcpy(dsig, &lo, 4);
    memcpy(dsig + 4, &hi, 4);
    ASSERT_STR_EQ(dsig, "QEMU CFG");
    /* Past the end of an item: zeros. */
    read_entry(&f, FW_CFG_SIGNATURE, sig, 4);
    ASSERT_EQ(bus_in(f.bus, 0x511, 1), 0);
    teardown(&f);
}

TEST(integer_keys)
{
    struct fix f;
    setup(&f);
    ASSERT_EQ(fwcfg_add_u64(f.fw, FW_CFG_RAM_SIZE, 256ull << 20), 0);
    ASSERT_EQ(fwcfg_add_u16(f.fw, FW_CFG_NB_CPUS, 1), 0);
    ASSERT_EQ(fwcfg_add_u16(f.fw, FW_CFG_MAX_CPUS, 1), 0);
    ASSERT_EQ(fwcfg_add_u16(f.fw, FW_CFG_BOOT_MENU, 0), 0);
    uint8_t b[8];
    read_entry(&f, FW_CFG_RAM_SIZE, b, 8);
    ASSERT_EQ(le(b, 8), 256ull << 20);
    read_entry(&f, FW_CFG_NB_CPUS, b, 2);
    ASSERT_EQ(le(b, 2), 1);
    /* Bit 14 (write flag) is ignored in the selector. */
    read_entry(&f, 0x4000 | FW_CFG_NB_CPUS, b, 2);
    ASSERT_EQ(le(b, 2), 1);
    /* Replacing an item. */
    ASSERT_EQ(fwcfg_add_u16(f.fw, FW_CFG_NB_CPUS, 2), 0);
    read_entry(&f, FW_CFG_NB_CPUS, b, 2);
    ASSERT_EQ(le(b, 2), 2);
    teardown(&f);
}

struct dirent_ {
    uint32_t size;
    uint16_t select;
    char name[57];
};

/* qemu_romfile_init: count, then the entries. */
static int read_dir(struct fix *f, struct dirent_ *out, int max)
{
    uint8_t cnt[4];
    read_entry(f, FW_CFG_FILE_DIR, cnt, 4);
    int n = (int)be32(cnt);
    for (int i = 0; i < n && i < max; i++) {
        uint8_t e[64];
        for (int j = 0; j < 64; j++)
            e[j] = (uint8_t)bus_in(f->bus, 0x511, 1);
        out[i].size = be32(e);
        out[i].select = (uint16_t)(e[4] << 8 | e[5]);
        memcpy(out[i].name, e + 8, 56);
        out[i].name[56] = 0;
    }
    return n;
}

TEST(file_directory_sorted_big_endian)
{
    struct fix f;
    setup(&f);
    struct dirent_ d[8];
    ASSERT_EQ(read_dir(&f, d, 8), 0);
    const char *bootorder = "/pci@i0cf8/ide@1,1/drive@0/disk@0\n";
    int k1 = fwcfg_add_file(f.fw, "etc/show-boot-menu", (uint8_t[8]){0}, 8);
    int k2 = fwcfg_add_file(f.fw, "bootorder", bootorder, strlen(bootorder) + 1);
    int k3 = fwcfg_add_file(f.fw, "etc/boot-fail-wait", (uint8_t[4]){0x10, 0x27, 0, 0}, 4);
    ASSERT(k1 >= FW_CFG_FILE_FIRST && k2 >= FW_CFG_FILE_FIRST && k3 >= FW_CFG_FILE_FIRST);
    ASSERT(k1 != k2 && k2 != k3 && k1 != k3);
    ASSERT_EQ(read_dir(&f, d, 8), 3);
    ASSERT_STR_EQ(d[0].name, "bootorder");
    ASSERT_STR_EQ(d[1].name, "etc/boot-fail-wait");
    ASSERT_STR_EQ(d[2].name, "etc/show-boot-menu");
    ASSERT_EQ(d[0].select, k2);
    ASSERT_EQ(d[0].size, strlen(bootorder) + 1);
    ASSERT_EQ(d[1].size, 4);
    char got[64];
    read_entry(&f, d[0].select, got, d[0].size);
    ASSERT_STR_EQ(got, bootorder);
    /* romfile_loadint("etc/boot-fail-wait"): 4-byte little-endian integer. */
    uint8_t v[4];
    read_entry(&f, d[1].select, v, 4);
    ASSERT_EQ(le(v, 4), 10000);
    char longname[80];
    memset(longname, 'x', sizeof longname - 1);
    longname[79] = 0;
    ASSERT_EQ(fwcfg_add_file(f.fw, longname, "", 0), -1);
    teardown(&f);
}

TEST(e820_as_seabios_reads_it)
{
    struct fix f;
    setup(&f);
    const struct fwcfg_e820 map[] = {
        {0, 0xbfff0000ull, E820_RAM},
        {0xfffc0000ull, 0x40000, E820_RESERVED},
        {0x100000000ull, 0x40000000ull, E820_RAM},
    };
    ASSERT_EQ(fwcfg_add_e820(f.fw, map, 3), 0);
    struct dirent_ d[4];
    ASSERT_EQ(read_dir(&f, d, 4), 1);
    ASSERT_STR_EQ(d[0].name, "etc/e820");
    ASSERT_EQ(d[0].size, 60);
    uint8_t buf[60];
    read_entry(&f, d[0].select, buf, 60);
    /* qemu_early_e820: RAM entries set RamSize (below 4 GiB) and RamSizeOver4G. */
    uint64_t ram = 0, over = 0;
    for (int i = 0; i < 3; i++) {
        uint64_t a = le(buf + 20 * i, 8), l = le(buf + 20 * i + 8, 8);
        uint32_t t = (uint32_t)le(buf + 20 * i + 16, 4);
        if (t != E820_RAM)
            continue;
        if (a < 0x100000000ull)
            ram = a + l;
        else
            over = a + l - 0x100000000ull;
    }
    ASSERT_EQ(ram, 0xbfff0000ull);
    ASSERT_EQ(over, 0x40000000ull);
    ASSERT_EQ(le(buf + 20 + 16, 4), E820_RESERVED);
    teardown(&f);
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* qemu_cfg_dma_transfer: FWCfgDmaAccess at desc, address written big-endian to 0x518. */
static uint32_t dma(struct fix *f, uint32_t desc, uint32_t control, uint32_t len, uint64_t addr)
{
    put_be(f->ram + desc, control, 4);
    put_be(f->ram + desc + 4, len, 4);
    put_be(f->ram + desc + 8, addr, 8);
    uint32_t be = __builtin_bswap32(desc);
    bus_out(f->bus, 0x518, be, 4);
    return be32(f->ram + desc);
}

TEST(dma_select_read_skip)
{
    struct fix f;
    setup(&f);
    uint8_t data[300];
    for (int i = 0; i < 300; i++)
        data[i] = (uint8_t)(i * 7);
    int key = fwcfg_add_file(f.fw, "genroms/test.bin", data, sizeof data);
    ASSERT(key > 0);
    /* SELECT | READ of 100 bytes. */
    uint32_t ctl = dma(&f, 0x1000, (uint32_t)key << 16 | 0x08 | 0x02, 100, 0x2000);
    ASSERT_EQ(ctl, 0);
    ASSERT_MEM_EQ(f.ram + 0x2000, data, 100);
    /* SKIP 100, then READ 150: 100 real bytes then 50 zeros. */
    ASSERT_EQ(dma(&f, 0x1000, 0x04, 100, 0), 0);
    memset(f.ram + 0x3000, 0xaa, 150);
    ASSERT_EQ(dma(&f, 0x1000, 0x02, 150, 0x3000), 0);
    ASSERT_MEM_EQ(f.ram + 0x3000, data + 200, 100);
    for (int i = 100; i < 150; i++)
        ASSERT_EQ(f.ram[0x3000 + i], 0);
    /* The data port continues from the DMA offset (300 = end). */
    ASSERT_EQ(bus_in(f.bus, 0x511, 1), 0);
    /* Destination outside RAM: ERROR, nothing written elsewhere. */
    ctl = dma(&f, 0x1000, (uint32_t)key << 16 | 0x08 | 0x02, 16, 0xfee00000u);
    ASSERT_EQ(ctl, 0x01);
    /* No writable items. */
    ASSERT_EQ(dma(&f, 0x1000, (uint32_t)key << 16 | 0x08 | 0x10, 4, 0x2000), 0x01);
    /* Signature through DMA, as the 64-bit high register stays 0. */
    ASSERT_EQ(dma(&f, 0x1000, FW_CFG_SIGNATURE << 16 | 0x08 | 0x02, 4, 0x4000), 0);
    ASSERT_MEM_EQ(f.ram + 0x4000, "QEMU", 4);
    teardown(&f);
}
