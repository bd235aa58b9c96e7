/*
 * Network boot ROMs from ipxe-qemu (netrom.h). A ROM must start with the
 * 55 AA option ROM signature and fit in 16 MiB; anything else is refused
 * with the same one-line notice as a missing file.
 */
#include "devices/netrom.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NETROM_DIR "/usr/lib/ipxe/qemu"
#define NETROM_MAX (16u << 20)

/* The option ROM header (PCI Firmware 3.0, 5.1): 55 AA, the length in 512-byte units at 2,
 * the PCI data structure's offset at 0x18. iPXE's own header ("iPXE") is found through
 * offset 0x10, and iPXE keeps the image's checksum byte at offset 6. */
#define ROM_LEN 0x02
#define ROM_IPXE_CSUM 0x06
#define ROM_IPXE_HDR 0x10
#define ROM_PCIR 0x18
#define PCIR_VENDOR 0x04
#define PCIR_DEVICE 0x06
#define PCIR_CODE_TYPE 0x14
#define PCIR_SIZE 0x18

static unsigned le16(const uint8_t *p)
{
    return p[0] | (unsigned)p[1] << 8;
}

static uint8_t byte_sum(const uint8_t *p, uint64_t n)
{
    uint8_t sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum = (uint8_t)(sum + p[i]);
    return sum;
}

int netrom_retarget(uint8_t *img, uint64_t size, uint16_t vendor, uint16_t device, const char **why)
{
    uint64_t len = size > ROM_LEN ? (uint64_t)img[ROM_LEN] * 512 : 0;
    if (size < ROM_PCIR + 2 || img[0] != 0x55 || img[1] != 0xaa || len < ROM_PCIR + 2 || len > size) {
        *why = "no option ROM header";
        return -1;
    }
    unsigned p = le16(img + ROM_PCIR), q = le16(img + ROM_IPXE_HDR);
    if (p < ROM_PCIR + 2 || (uint64_t)p + PCIR_SIZE > len || memcmp(img + p, "PCIR", 4) != 0 || img[p + PCIR_CODE_TYPE] != 0) {
        *why = "no x86 PCI data structure";
        return -1;
    }
    if (le16(img + p + PCIR_VENDOR) != vendor) {
        *why = "its PCI data structure names another vendor";
        return -1;
    }
    unsigned old = le16(img + p + PCIR_DEVICE);
    if (old == device)
        return 0;
    if (q < ROM_PCIR + 2 || (uint64_t)q + 4 > len || memcmp(img + q, "iPXE", 4) != 0) {
        *why = "its PCI data structure names another device and it is not an iPXE image";
        return -1;
    }
    if (byte_sum(img, len) != 0) {
        *why = "its checksum is wrong";
        return -1;
    }
    img[p + PCIR_DEVICE] = (uint8_t)device;
    img[p + PCIR_DEVICE + 1] = (uint8_t)(device >> 8);
    img[ROM_IPXE_CSUM] = (uint8_t)(img[ROM_IPXE_CSUM] - byte_sum(img, len));
    return 0;
}

uint8_t *netrom_read_as(const char *name, uint16_t vendor, uint16_t device, const char *who,
                        uint64_t *size, FILE *log)
{
    uint8_t *img = netrom_read(name, who, size, log);
    const char *why;
    if (!img || netrom_retarget(img, *size, vendor, device, &why) == 0)
        return img;
    free(img);
    if (log)
        fprintf(log, "vmplay: %s: no network boot ROM (%s for %04x:%04x: %s); booting without PXE\n",
                who, name, vendor, device, why);
    return NULL;
}

uint8_t *netrom_read(const char *name, const char *who, uint64_t *size, FILE *log)
{
    const char *dir = getenv("VMPLAY_IPXE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : NETROM_DIR, name);
    const char *why = NULL;
    uint8_t *img = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        why = strerror(errno);
        goto fail;
    }
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (len < 3 || (unsigned long)len > NETROM_MAX || fseek(f, 0, SEEK_SET) != 0) {
        why = "not an option ROM of a usable size";
        goto fail;
    }
    uint64_t sz = 2048;
    while (sz < (uint64_t)len)
        sz <<= 1;
    img = calloc(1, sz);
    if (!img || fread(img, 1, (size_t)len, f) != (size_t)len) {
        why = img ? "read failed" : "out of memory";
        goto fail;
    }
    if (img[0] != 0x55 || img[1] != 0xaa) {
        why = "no option ROM signature";
        goto fail;
    }
    fclose(f);
    *size = sz;
    return img;
fail:
    if (f)
        fclose(f);
    free(img);
    if (log)
        fprintf(log, "vmplay: %s: no network boot ROM (%s: %s; Debian's ipxe-qemu has it); "
                "booting without PXE\n", who, path, why);
    return NULL;
}
