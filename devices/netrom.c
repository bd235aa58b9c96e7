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
