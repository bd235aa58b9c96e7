/*
 * Network boot ROMs (devices/netrom.c): an iPXE image built for one device ID of a vendor is
 * presented for another by its PCI data structure's device ID, with the image's byte sum kept
 * at zero (PCI Firmware 3.0, 5.1); every other ROM, and every ROM of another vendor, is refused.
 * The ROMs here are laid out by hand as the specification describes (header, PCIR, an "iPXE"
 * header, a checksum byte at offset 6); the last case reads Debian's pxe-e1000.rom itself.
 */
#include "devices/netrom.h"
#include "tests/unit/test.h"

#include <stdlib.h>

#define LEN 2048

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    while (n--)
        s = (uint8_t)(s + *p++);
    return s;
}

/* A 2 KiB ROM: 55 AA, 4 blocks, PCIR at 0x1c for vendor:device, "iPXE" at 0x9c, checksum at 6. */
static void make_rom(uint8_t *r, uint16_t vendor, uint16_t device)
{
    memset(r, 0, LEN);
    r[0] = 0x55, r[1] = 0xaa, r[2] = LEN / 512;
    r[3] = 0xcb; /* retf */
    r[0x10] = 0x9c;
    r[0x18] = 0x1c;
    memcpy(r + 0x1c, "PCIR", 4);
    r[0x20] = (uint8_t)vendor, r[0x21] = (uint8_t)(vendor >> 8);
    r[0x22] = (uint8_t)device, r[0x23] = (uint8_t)(device >> 8);
    r[0x26] = 0x1c, r[0x28] = 3, r[0x29] = 0, r[0x2a] = 0, r[0x2b] = 2; /* length, rev, class 020000 */
    r[0x2c] = LEN / 512, r[0x31] = 0x80;                                 /* image length, last image */
    memcpy(r + 0x9c, "iPXE", 4);
    for (int i = 0x200; i < LEN; i++)
        r[i] = (uint8_t)(i * 7);
    r[6] = (uint8_t)-sum(r, LEN);
}

TEST(retarget_rewrites_device_and_keeps_checksum)
{
    uint8_t r[LEN], before[LEN];
    make_rom(r, 0x8086, 0x100e);
    memcpy(before, r, LEN);
    ASSERT_EQ(sum(r, LEN), 0);
    const char *why = NULL;
    ASSERT_EQ(netrom_retarget(r, LEN, 0x8086, 0x100f, &why), 0);
    ASSERT_EQ(r[0x22] | r[0x23] << 8, 0x100f);
    ASSERT_EQ(r[0x20] | r[0x21] << 8, 0x8086);
    ASSERT_EQ(sum(r, LEN), 0);
    for (int i = 0; i < LEN; i++)
        if (i != 6 && i != 0x22 && i != 0x23 && r[i] != before[i])
            FAIL("byte 0x%x changed", i);
}

TEST(retarget_leaves_a_matching_rom_alone)
{
    uint8_t r[LEN], before[LEN];
    make_rom(r, 0x8086, 0x100f);
    memcpy(before, r, LEN);
    const char *why = NULL;
    ASSERT_EQ(netrom_retarget(r, LEN, 0x8086, 0x100f, &why), 0);
    ASSERT_MEM_EQ(r, before, LEN);
}

TEST(retarget_refuses_what_is_not_an_ipxe_rom_of_the_vendor)
{
    uint8_t r[LEN];
    const char *why = NULL;
    make_rom(r, 0x10ec, 0x8139); /* another vendor */
    ASSERT_EQ(netrom_retarget(r, LEN, 0x8086, 0x100f, &why), -1);
    ASSERT(why && strstr(why, "vendor"));
    make_rom(r, 0x8086, 0x100e); /* not iPXE: no way to know its checksum byte */
    memcpy(r + 0x9c, "gPXE", 4);
    ASSERT_EQ(netrom_retarget(r, LEN, 0x8086, 0x100f, &why), -1);
    make_rom(r, 0x8086, 0x100e); /* a wrong checksum stays refused */
    r[0x300] ^= 1;
    ASSERT_EQ(netrom_retarget(r, LEN, 0x8086, 0x100f, &why), -1);
    ASSERT(strstr(why, "checksum"));
    make_rom(r, 0x8086, 0x100e); /* PCIR past the declared length */
    r[0x18] = 0xf0, r[0x19] = 0x07;
    ASSERT_EQ(netrom_retarget(r, LEN, 0x8086, 0x100f, &why), -1);
    make_rom(r, 0x8086, 0x100e); /* PCIR over the header */
    r[0x18] = 0x02, r[0x19] = 0;
    ASSERT_EQ(netrom_retarget(r, LEN, 0x8086, 0x100f, &why), -1);
    make_rom(r, 0x8086, 0x100e); /* an EFI image (code type 3) */
    r[0x30] = 3;
    ASSERT_EQ(netrom_retarget(r, LEN, 0x8086, 0x100f, &why), -1);
    make_rom(r, 0x8086, 0x100e); /* a declared length beyond the buffer */
    r[2] = 0xff;
    ASSERT_EQ(netrom_retarget(r, LEN, 0x8086, 0x100f, &why), -1);
    make_rom(r, 0x8086, 0x100e); /* a buffer shorter than a header */
    ASSERT_EQ(netrom_retarget(r, 16, 0x8086, 0x100f, &why), -1);
}

TEST(debian_pxe_e1000_rom_for_82545em)
{
    const char *dir = getenv("VMPLAY_IPXE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/pxe-e1000.rom", dir && *dir ? dir : "/usr/lib/ipxe/qemu");
    FILE *f = fopen(path, "rb");
    if (!f)
        SKIP("no %s (Debian's ipxe-qemu)", path);
    static uint8_t file[1 << 20];
    size_t n = fread(file, 1, sizeof file, f);
    fclose(f);
    uint64_t size = 0;
    uint8_t *img = netrom_read_as("pxe-e1000.rom", 0x8086, 0x100f, "ethernet0", &size, stderr);
    ASSERT(img);
    ASSERT(size >= n && n > 0x40);
    unsigned p = file[0x18] | file[0x19] << 8;
    ASSERT_EQ(file[p + 6] | file[p + 7] << 8, 0x100e); /* as Debian ships it */
    ASSERT_EQ(img[p + 6] | img[p + 7] << 8, 0x100f);
    ASSERT_EQ(sum(img, (size_t)img[2] * 512), 0);
    size_t changed = 0;
    for (size_t i = 0; i < n; i++)
        changed += img[i] != file[i];
    ASSERT(changed >= 2 && changed <= 3); /* the device ID's low byte, the checksum byte, maybe the high byte */
    free(img);
    /* The vendor is checked: the same ROM is not presented for a vmxnet3. */
    ASSERT(!netrom_read_as("pxe-e1000.rom", 0x15ad, 0x07b0, "ethernet1", &size, NULL));
}
