/*
 * Direct kernel boot's loader (devices/linuxboot.c) against the Linux boot
 * protocol (Documentation/x86/boot.rst): a synthetic bzImage's setup header
 * is read (setup_sects, version, LOADED_HIGH, initrd_addr_max) and patched
 * (type_of_loader, CAN_USE_HEAP with heap_end_ptr, cmd_line_ptr,
 * ramdisk_image/size), and the fw_cfg items linuxboot_dma.bin reads
 * (SETUP_*, KERNEL_*, CMDLINE_*, INITRD_*) hold the pieces at the protocol's
 * addresses. Refused: an ELF, protocol 2.01, a command line over cmdline_size.
 */
#include "devices/linuxboot.h"
#include "tests/unit/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SETUP_SECTS 2
#define SETUP_BYTES ((SETUP_SECTS + 1) * 512)
#define PAYLOAD 4096
#define INITRD 10000
#define BELOW_4G (256u << 20)

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A bzImage as the protocol lays one out: boot sector + setup sectors, then the payload. */
static void make_image(uint8_t *img, uint16_t version)
{
    memset(img, 0, SETUP_BYTES + PAYLOAD);
    img[0x1F1] = SETUP_SECTS;
    img[0x1FE] = 0x55;
    img[0x1FF] = 0xAA;
    memcpy(img + 0x202, "HdrS", 4);
    img[0x206] = (uint8_t)version;
    img[0x207] = (uint8_t)(version >> 8);
    img[0x211] = 0x01; /* LOADED_HIGH */
    put32(img + 0x22C, 0x7FFFFFFF);
    put32(img + 0x238, 2047);
    for (int i = 0; i < PAYLOAD; i++)
        img[SETUP_BYTES + i] = (uint8_t)(i * 7 + 3);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f);
    ASSERT_EQ(fwrite(data, 1, len, f), len);
    fclose(f);
}

struct fix {
    struct bus *bus;
    struct fwcfg *fw;
    char kernel[64], initrd[64];
};

static void setup(struct fix *f, uint16_t version)
{
    static uint8_t img[SETUP_BYTES + PAYLOAD], rd[INITRD];
    f->bus = bus_new();
    f->fw = fwcfg_new(f->bus);
    ASSERT(f->fw);
    snprintf(f->kernel, sizeof f->kernel, "/tmp/test_linuxboot_k.%d", (int)getpid());
    snprintf(f->initrd, sizeof f->initrd, "/tmp/test_linuxboot_i.%d", (int)getpid());
    make_image(img, version);
    write_file(f->kernel, img, sizeof img);
    memset(rd, 0x5A, sizeof rd);
    write_file(f->initrd, rd, sizeof rd);
}

static void teardown(struct fix *f)
{
    unlink(f->kernel);
    unlink(f->initrd);
    fwcfg_free(f->fw);
    bus_free(f->bus);
}

static void read_entry(struct fix *f, uint16_t key, void *buf, size_t len)
{
    bus_out(f->bus, 0x510, key, 2);
    for (size_t i = 0; i < len; i++)
        ((uint8_t *)buf)[i] = (uint8_t)bus_in(f->bus, 0x511, 1);
}

static uint32_t read32(struct fix *f, uint16_t key)
{
    uint8_t b[4];
    read_entry(f, key, b, 4);
    return get32(b);
}

TEST(parse_header)
{
    uint8_t img[SETUP_BYTES + PAYLOAD];
    struct linuxboot_hdr h;
    make_image(img, 0x20F);
    ASSERT_EQ(linuxboot_parse(img, sizeof img, &h), 0);
    ASSERT_EQ(h.setup_size, SETUP_BYTES);
    ASSERT_EQ(h.version, 0x20F);
    ASSERT_EQ(h.initrd_max, 0x7FFFFFFF);
    img[0x1F1] = 0; /* setup_sects 0 means 4 */
    ASSERT_EQ(linuxboot_parse(img, sizeof img, &h), 0);
    ASSERT_EQ(h.setup_size, 5 * 512);
    make_image(img, 0x201);
    ASSERT_EQ(linuxboot_parse(img, sizeof img, &h), -1);
    make_image(img, 0x20F);
    img[0x211] = 0; /* a zImage (loaded low) */
    ASSERT_EQ(linuxboot_parse(img, sizeof img, &h), -1);
    make_image(img, 0x20F);
    memcpy(img + 0x202, "HdrX", 4);
    ASSERT_EQ(linuxboot_parse(img, sizeof img, &h), -1);
}

TEST(fwcfg_items)
{
    if (access(LINUXBOOT_ROM_PATH, R_OK) != 0)
        SKIP("%s missing (Debian qemu-system-data)", LINUXBOOT_ROM_PATH);
    struct fix f;
    setup(&f, 0x20F);
    struct error err = {0};
    const char *cmd = "console=ttyS0 vmplay.mode=test";
    ASSERT_EQ(linuxboot_setup(f.fw, f.kernel, f.initrd, cmd, BELOW_4G, &err), 0);
    ASSERT_EQ(read32(&f, FW_CFG_SETUP_ADDR), 0x10000);
    ASSERT_EQ(read32(&f, FW_CFG_SETUP_SIZE), SETUP_BYTES);
    ASSERT_EQ(read32(&f, FW_CFG_KERNEL_ADDR), 0x100000);
    ASSERT_EQ(read32(&f, FW_CFG_KERNEL_SIZE), PAYLOAD);
    ASSERT_EQ(read32(&f, FW_CFG_CMDLINE_ADDR), 0x20000);
    ASSERT_EQ(read32(&f, FW_CFG_CMDLINE_SIZE), strlen(cmd) + 1);
    char got[64];
    read_entry(&f, FW_CFG_CMDLINE_DATA, got, strlen(cmd) + 1);
    ASSERT_STR_EQ(got, cmd);
    static uint8_t setup_data[SETUP_BYTES], payload[PAYLOAD];
    read_entry(&f, FW_CFG_SETUP_DATA, setup_data, sizeof setup_data);
    ASSERT_EQ(setup_data[0x210], 0xB0);                /* type_of_loader */
    ASSERT_EQ(setup_data[0x211], 0x81);                /* LOADED_HIGH | CAN_USE_HEAP */
    ASSERT_EQ(setup_data[0x224] | setup_data[0x225] << 8, 0xFE00); /* heap_end_ptr */
    ASSERT_EQ(get32(setup_data + 0x228), 0x20000);     /* cmd_line_ptr */
    uint32_t rd = get32(setup_data + 0x218), rds = get32(setup_data + 0x21C);
    ASSERT_EQ(rds, INITRD);
    ASSERT_EQ(rd & 0xFFF, 0);
    ASSERT(rd + rds <= BELOW_4G - 0x100000); /* under SeaBIOS's high tables */
    ASSERT(rd >= 0x100000 + PAYLOAD);
    ASSERT_EQ(read32(&f, FW_CFG_INITRD_ADDR), rd);
    ASSERT_EQ(read32(&f, FW_CFG_INITRD_SIZE), INITRD);
    read_entry(&f, FW_CFG_KERNEL_DATA, payload, sizeof payload);
    for (int i = 0; i < PAYLOAD; i++)
        ASSERT_EQ(payload[i], (uint8_t)(i * 7 + 3));
    uint8_t b = 0;
    read_entry(&f, FW_CFG_INITRD_DATA, &b, 1);
    ASSERT_EQ(b, 0x5A);
    teardown(&f);
}

TEST(refusals)
{
    struct fix f;
    setup(&f, 0x201);
    struct error err = {0};
    ASSERT_EQ(linuxboot_setup(f.fw, f.kernel, NULL, NULL, BELOW_4G, &err), -1);
    ASSERT_EQ(err.code, EX_DATAERR);
    write_file(f.kernel, "\177ELF\001\001\001\000", 8);
    ASSERT_EQ(linuxboot_setup(f.fw, f.kernel, NULL, NULL, BELOW_4G, &err), -1);
    ASSERT_EQ(err.code, EX_DATAERR); /* an ELF with no multiboot header: neither kind vmplay loads */
    ASSERT(strstr(err.msg, "multiboot"));
    teardown(&f);
    setup(&f, 0x20F);
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    ASSERT_EQ(linuxboot_setup(f.fw, f.kernel, NULL, big, BELOW_4G, &err), -1);
    ASSERT_EQ(err.code, EX_USAGE);
    ASSERT_EQ(linuxboot_setup(f.fw, "/nonexistent/vmlinuz", NULL, NULL, BELOW_4G, &err), -1);
    teardown(&f);
}
