/*
 * fw_cfg (see fwcfg.h). The selected item is read a byte at a time from the
 * data port or in bulk by DMA: the guest writes the big-endian address of a
 * FWCfgDmaAccess {be32 control, be32 length, be64 address}; control bits
 * are ERROR (0x01), READ (0x02), SKIP (0x04), SELECT (0x08, key in the top
 * 16 bits) and WRITE (0x10). Reads past an item's end give zeros; writes are
 * refused (no item is writable) with ERROR. On completion the control
 * word is written back as 0 (or ERROR). Every guest address goes through
 * the bus's checked DMA.
 */
#include "devices/fwcfg.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "devices/trace.h"

#define FW_CFG_ID_TRADITIONAL 0x01
#define FW_CFG_ID_DMA 0x02

#define FW_CFG_DMA_CTL_ERROR 0x01
#define FW_CFG_DMA_CTL_READ 0x02
#define FW_CFG_DMA_CTL_SKIP 0x04
#define FW_CFG_DMA_CTL_SELECT 0x08
#define FW_CFG_DMA_CTL_WRITE 0x10

#define FW_CFG_FILE_ENTRY 64 /* be32 size, be16 select, be16 reserved, char name[56] */

static const uint8_t dma_signature[8] = {'Q', 'E', 'M', 'U', ' ', 'C', 'F', 'G'};

struct fwcfg_item {
    uint16_t key;
    uint8_t *data;
    uint32_t len;
};

struct fwcfg_file {
    char name[FW_CFG_FILE_NAME_MAX];
    uint16_t key;
};

struct fwcfg {
    struct bus *bus;
    struct fwcfg_item *items;
    size_t n_items;
    struct fwcfg_file files[FW_CFG_MAX_FILES];
    size_t n_files;
    uint16_t selector;
    uint32_t offset;
    uint32_t dma_high;
};

static struct fwcfg_item *find(struct fwcfg *fw, uint16_t key)
{
    for (size_t i = 0; i < fw->n_items; i++)
        if (fw->items[i].key == key)
            return &fw->items[i];
    return NULL;
}

int fwcfg_add_bytes(struct fwcfg *fw, uint16_t key, const void *data, size_t len)
{
    if (len > UINT32_MAX)
        return -1;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return -1;
    if (len)
        memcpy(copy, data, len);
    struct fwcfg_item *it = find(fw, key);
    if (!it) {
        struct fwcfg_item *n = realloc(fw->items, (fw->n_items + 1) * sizeof *n);
        if (!n) {
            free(copy);
            return -1;
        }
        fw->items = n;
        it = &fw->items[fw->n_items++];
        it->key = key;
        it->data = NULL;
    }
    free(it->data);
    it->data = copy;
    it->len = (uint32_t)len;
    return 0;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int fwcfg_add_u16(struct fwcfg *fw, uint16_t key, uint16_t v)
{
    uint8_t b[2];
    put_le(b, v, 2);
    return fwcfg_add_bytes(fw, key, b, 2);
}

int fwcfg_add_u32(struct fwcfg *fw, uint16_t key, uint32_t v)
{
    uint8_t b[4];
    put_le(b, v, 4);
    return fwcfg_add_bytes(fw, key, b, 4);
}

int fwcfg_add_u64(struct fwcfg *fw, uint16_t key, uint64_t v)
{
    uint8_t b[8];
    put_le(b, v, 8);
    return fwcfg_add_bytes(fw, key, b, 8);
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const struct fwcfg_file *)a)->name, ((const struct fwcfg_file *)b)->name);
}

/* Rebuilds the FW_CFG_FILE_DIR item from the file list, sorted by name. */
static int rebuild_dir(struct fwcfg *fw)
{
    size_t len = 4 + fw->n_files * FW_CFG_FILE_ENTRY;
    uint8_t *dir = calloc(1, len);
    if (!dir)
        return -1;
    struct fwcfg_file sorted[FW_CFG_MAX_FILES];
    memcpy(sorted, fw->files, fw->n_files * sizeof sorted[0]);
    qsort(sorted, fw->n_files, sizeof sorted[0], cmp_file);
    put_be(dir, fw->n_files, 4);
    for (size_t i = 0; i < fw->n_files; i++) {
        uint8_t *e = dir + 4 + i * FW_CFG_FILE_ENTRY;
        put_be(e, find(fw, sorted[i].key)->len, 4);
        put_be(e + 4, sorted[i].key, 2);
        memcpy(e + 8, sorted[i].name, strlen(sorted[i].name));
    }
    int rc = fwcfg_add_bytes(fw, FW_CFG_FILE_DIR, dir, len);
    free(dir);
    return rc;
}

int fwcfg_add_file(struct fwcfg *fw, const char *name, const void *data, size_t len)
{
    if (strlen(name) >= FW_CFG_FILE_NAME_MAX)
        return -1;
    size_t i = 0;
    while (i < fw->n_files && strcmp(fw->files[i].name, name) != 0)
        i++;
    if (i == fw->n_files) {
        if (fw->n_files == FW_CFG_MAX_FILES)
            return -1;
        strcpy(fw->files[i].name, name);
        fw->files[i].key = (uint16_t)(FW_CFG_FILE_FIRST + i);
    }
    if (fwcfg_add_bytes(fw, fw->files[i].key, data, len) < 0)
        return -1;
    if (i == fw->n_files)
        fw->n_files++;
    return rebuild_dir(fw) < 0 ? -1 : fw->files[i].key;
}

int fwcfg_add_e820(struct fwcfg *fw, const struct fwcfg_e820 *map, size_t n)
{
    uint8_t *buf = calloc(n ? n : 1, 20);
    if (!buf)
        return -1;
    for (size_t i = 0; i < n; i++) {
        put_le(buf + i * 20, map[i].address, 8);
        put_le(buf + i * 20 + 8, map[i].length, 8);
        put_le(buf + i * 20 + 16, map[i].type, 4);
    }
    int rc = fwcfg_add_file(fw, "etc/e820", buf, n * 20);
    free(buf);
    return rc < 0 ? -1 : 0;
}

/* Selects an item; bit 14 (the old write flag) is not part of the key. */
static void select_key(struct fwcfg *fw, uint16_t key)
{
    key &= (uint16_t)~0x4000;
    fw->selector = key;
    fw->offset = 0;
    if (trace_on(TRACE_FWCFG))
        trace_printf(TRACE_FWCFG, "select 0x%04x (%s)\n", key, find(fw, key) ? "present" : "absent");
}

static uint8_t data_byte(struct fwcfg *fw)
{
    struct fwcfg_item *it = find(fw, fw->selector);
    if (!it || fw->offset >= it->len)
        return 0;
    return it->data[fw->offset++];
}

/* Copies len bytes of the selected item (zeros past its end) to guest memory. */
static bool dma_read_item(struct fwcfg *fw, uint64_t addr, uint32_t len)
{
    static const uint8_t zeros[4096];
    struct fwcfg_item *it = find(fw, fw->selector);
    uint32_t avail = it && fw->offset < it->len ? it->len - fw->offset : 0;
    uint32_t n = len < avail ? len : avail;
    if (n && bus_dma_write(fw->bus, addr, it->data + fw->offset, n) < 0)
        return false;
    for (uint32_t done = n; done < len;) {
        uint32_t chunk = len - done < sizeof zeros ? len - done : (uint32_t)sizeof zeros;
        if (bus_dma_write(fw->bus, addr + done, zeros, chunk) < 0)
            return false;
        done += chunk;
    }
    fw->offset += n;
    return true;
}

static void skip(struct fwcfg *fw, uint32_t len)
{
    struct fwcfg_item *it = find(fw, fw->selector);
    uint32_t avail = it && fw->offset < it->len ? it->len - fw->offset : 0;
    fw->offset += len < avail ? len : avail;
}

static void dma_transfer(struct fwcfg *fw, uint64_t desc)
{
    uint8_t acc[16];
    if (bus_dma_read(fw->bus, desc, acc, sizeof acc) < 0)
        return; /* nowhere to report the error */
    uint32_t control = (uint32_t)get_be(acc, 4), len = (uint32_t)get_be(acc + 4, 4);
    uint64_t addr = get_be(acc + 8, 8);
    bool ok = true;
    if (control & FW_CFG_DMA_CTL_SELECT)
        select_key(fw, (uint16_t)(control >> 16));
    if (control & FW_CFG_DMA_CTL_READ)
        ok = dma_read_item(fw, addr, len);
    else if (control & FW_CFG_DMA_CTL_WRITE)
        ok = false; /* no writable items */
    else if (control & FW_CFG_DMA_CTL_SKIP)
        skip(fw, len);
    if (trace_on(TRACE_FWCFG))
        trace_printf(TRACE_FWCFG, "dma control 0x%08x len %u addr 0x%llx%s\n", control, len,
                     (unsigned long long)addr, ok ? "" : " error");
    uint8_t done[4];
    put_be(done, ok ? 0 : FW_CFG_DMA_CTL_ERROR, 4);
    bus_dma_write(fw->bus, desc, done, 4);
}

static uint64_t io_read(void *opaque, uint64_t offset, unsigned size)
{
    struct fwcfg *fw = opaque;
    if (offset != 1)
        return 0;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)data_byte(fw) << (8 * i);
    return v;
}

static void io_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    if (offset == 0)
        select_key(opaque, (uint16_t)value);
}

static uint32_t bswap32(uint32_t v)
{
    return v >> 24 | (v >> 8 & 0xff00) | (v << 8 & 0xff0000) | v << 24;
}

static uint64_t dma_io_read(void *opaque, uint64_t offset, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size && offset + i < 8; i++)
        v |= (uint64_t)dma_signature[offset + i] << (8 * i);
    return v;
}

static void dma_io_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct fwcfg *fw = opaque;
    if (size != 4)
        return;
    if (offset == 0) {
        fw->dma_high = bswap32((uint32_t)value);
    } else if (offset == 4) {
        uint64_t desc = (uint64_t)fw->dma_high << 32 | bswap32((uint32_t)value);
        fw->dma_high = 0;
        dma_transfer(fw, desc);
    }
}

static const struct bus_ops io_ops = {io_read, io_write, 1, 2};
static const struct bus_ops dma_ops = {dma_io_read, dma_io_write, 1, 4};

void fwcfg_reset(struct fwcfg *fw)
{
    fw->selector = 0;
    fw->offset = 0;
    fw->dma_high = 0;
}

struct fwcfg *fwcfg_new(struct bus *bus)
{
    struct fwcfg *fw = calloc(1, sizeof *fw);
    if (!fw)
        return NULL;
    fw->bus = bus;
    if (fwcfg_add_bytes(fw, FW_CFG_SIGNATURE, "QEMU", 4) < 0 ||
        fwcfg_add_u32(fw, FW_CFG_ID, FW_CFG_ID_TRADITIONAL | FW_CFG_ID_DMA) < 0 ||
        rebuild_dir(fw) < 0)
        goto fail;
    if (bus_map_pio(bus, 0x510, 2, &io_ops, fw, "fw_cfg") < 0)
        goto fail;
    if (bus_map_pio(bus, 0x514, 8, &dma_ops, fw, "fw_cfg-dma") < 0) {
        bus_unmap_pio(bus, 0x510);
        goto fail;
    }
    return fw;
fail:
    for (size_t i = 0; i < fw->n_items; i++)
        free(fw->items[i].data);
    free(fw->items);
    free(fw);
    return NULL;
}

void fwcfg_free(struct fwcfg *fw)
{
    if (!fw)
        return;
    bus_unmap_pio(fw->bus, 0x510);
    bus_unmap_pio(fw->bus, 0x514);
    for (size_t i = 0; i < fw->n_items; i++)
        free(fw->items[i].data);
    free(fw->items);
    free(fw);
}
