/*
 * Multiboot 1 kernels for --kernel, the way QEMU's -kernel boots them: the
 * option ROM multiboot_dma.bin (Debian's qemu-system-data) reads the
 * multiboot information structure from the fw_cfg initrd items to
 * MBI_ADDR, fills in mem_lower (INT 12h), the memory map (INT 15h E820, at
 * MMAP_ADDR), mmap_length and mem_upper (from the map), reads the kernel
 * blob from the fw_cfg kernel items to its load address in protected mode
 * and jumps to the entry with EAX = 0x2BADB002 and EBX = MBI_ADDR.
 *
 * Built here (Multiboot Specification 0.6.96, section 3): the header is
 * found in the first 8 KiB (4-byte aligned, magic + flags + checksum = 0);
 * the kernel is the a.out kludge's load range when header flag 16 is set,
 * else the PT_LOAD segments of an ELF32 i386 image at their physical
 * addresses. The blob holds, from the load address: the kernel with its BSS,
 * page-aligned; the module list, the command lines and the boot loader
 * name; then each module page-aligned. Modules are --initrd's
 * comma-separated files (",," is a comma), each with its arguments after
 * the first space, as QEMU takes them; the kernel's command line is its
 * file name and --append. The information structure sets memory, boot
 * device, command line, modules, memory map and boot loader name.
 */
#include "devices/multiboot.h"

#include <stdlib.h>
#include <string.h>

#include "devices/firmware.h"

#define MB_MAGIC 0x1BADB002u
#define MB_SEARCH 8192u
#define MB_HDR_AOUT 0x00010000u /* the address fields are valid */

#define MMAP_ADDR 0x9000u
#define MBI_ADDR 0x9500u
#define MBI_SIZE 88u
#define MBI_FLAGS_SET 0x24Fu /* memory, boot device, cmdline, modules, mmap, boot loader name */

#define PAGE 4096u
#define LOW_LIMIT 0x100000u /* below is the ROM's, SeaBIOS's and the MBI's */
#define FIRMWARE_TOP_RESERVE 0x100000u
#define MOD_MAX 64

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t page_up(uint64_t v)
{
    return (v + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

int multiboot_find(const uint8_t *buf, size_t len)
{
    size_t end = len < MB_SEARCH ? len : MB_SEARCH;
    for (size_t i = 0; i + 12 <= end; i += 4) {
        uint32_t magic = rd32(buf + i), flags = rd32(buf + i + 4), sum = rd32(buf + i + 8);
        if (magic == MB_MAGIC && magic + flags + sum == 0)
            return (int)i;
    }
    return -1;
}

/* The kernel image: load address, bytes of file and of memory (with BSS), entry. */
struct mb_image {
    uint32_t load, entry;
    uint64_t mem_size;
    uint8_t *data; /* mem_size bytes, the BSS zeroed */
};

static int load_aout(const uint8_t *buf, size_t len, size_t hdr, struct mb_image *im,
                     struct error *err)
{
    if (hdr + 32 > len)
        return error_set(err, EX_DATAERR, "multiboot header cut short");
    uint32_t header_addr = rd32(buf + hdr + 12), load = rd32(buf + hdr + 16);
    uint32_t load_end = rd32(buf + hdr + 20), bss_end = rd32(buf + hdr + 24);
    if (header_addr < load || header_addr - load > hdr)
        return error_set(err, EX_DATAERR, "multiboot header_addr 0x%x before load_addr 0x%x or "
                         "past the file's start", header_addr, load);
    uint64_t off = hdr - (header_addr - load);
    uint64_t file = load_end ? (uint64_t)load_end - load : len - off;
    if (load_end && load_end < load)
        return error_set(err, EX_DATAERR, "multiboot load_end_addr below load_addr");
    if (off + file > len)
        return error_set(err, EX_DATAERR, "multiboot load range past the end of the file");
    uint64_t mem = file;
    if (bss_end) {
        if (bss_end < load + file)
            return error_set(err, EX_DATAERR, "multiboot bss_end_addr inside the loaded part");
        mem = (uint64_t)bss_end - load;
    }
    im->load = load;
    im->entry = rd32(buf + hdr + 28);
    im->mem_size = mem;
    im->data = calloc(1, mem ? mem : 1);
    if (!im->data)
        return error_set(err, EX_OSERR, "out of memory");
    memcpy(im->data, buf + off, file);
    return 0;
}

/* ELF32 i386: the PT_LOAD segments, every offset and size checked against the file. */
static int load_elf(const uint8_t *buf, size_t len, uint64_t ram, struct mb_image *im,
                    struct error *err)
{
    if (len < 52 || buf[4] != 1 || buf[5] != 1)
        return error_set(err, EX_DATAERR, "not a little-endian ELF32 file (a 64-bit multiboot "
                         "kernel cannot be loaded; give a 32-bit one)");
    if (rd16(buf + 18) != 3)
        return error_set(err, EX_DATAERR, "ELF machine %u, not i386", rd16(buf + 18));
    uint32_t phoff = rd32(buf + 28);
    unsigned phentsize = rd16(buf + 42), phnum = rd16(buf + 44);
    if (phentsize < 32 || (uint64_t)phoff + (uint64_t)phnum * phentsize > len)
        return error_set(err, EX_DATAERR, "ELF program headers past the end of the file");
    uint64_t lo = UINT64_MAX, hi = 0;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = buf + phoff + (size_t)i * phentsize;
        if (rd32(ph) != 1 || !rd32(ph + 20))
            continue;
        uint64_t paddr = rd32(ph + 12), filesz = rd32(ph + 16), memsz = rd32(ph + 20);
        if (filesz > memsz || (uint64_t)rd32(ph + 4) + filesz > len)
            return error_set(err, EX_DATAERR, "ELF segment %u past the end of the file", i);
        lo = paddr < lo ? paddr : lo;
        hi = paddr + memsz > hi ? paddr + memsz : hi;
    }
    if (hi == 0)
        return error_set(err, EX_DATAERR, "ELF without a loadable segment");
    if (hi - lo > ram)
        return error_set(err, EX_DATAERR, "ELF segments span %llu bytes, more than the RAM",
                         (unsigned long long)(hi - lo));
    im->load = (uint32_t)lo;
    im->entry = rd32(buf + 24);
    im->mem_size = hi - lo;
    im->data = calloc(1, im->mem_size);
    if (!im->data)
        return error_set(err, EX_OSERR, "out of memory");
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = buf + phoff + (size_t)i * phentsize;
        if (rd32(ph) == 1 && rd32(ph + 20))
            memcpy(im->data + (rd32(ph + 12) - lo), buf + rd32(ph + 4), rd32(ph + 16));
    }
    return 0;
}

/* --initrd split at commas (",," is one comma) into module strings (file, then arguments). */
static int split_modules(const char *list, char **mods, int max, struct error *err)
{
    int n = 0;
    size_t cap = strlen(list) + 1;
    char *cur = malloc(cap);
    size_t k = 0;
    if (!cur)
        return error_set(err, EX_OSERR, "out of memory");
    for (const char *p = list;; p++) {
        if (*p == ',' && p[1] == ',') {
            cur[k++] = ',';
            p++;
            continue;
        }
        if (*p && *p != ',') {
            cur[k++] = *p;
            continue;
        }
        cur[k] = 0;
        if (n == max) {
            free(cur);
            return error_set(err, EX_USAGE, "--initrd: more than %d multiboot modules", max);
        }
        mods[n++] = strdup(cur);
        k = 0;
        if (!*p)
            break;
    }
    free(cur);
    for (int i = 0; i < n; i++)
        if (!mods[i])
            return error_set(err, EX_OSERR, "out of memory");
    return n;
}

struct mb_blob {
    uint8_t *p;
    uint64_t size, max;
};

static int blob_grow(struct mb_blob *b, uint64_t size, struct error *err)
{
    if (size > b->max)
        return error_set(err, EX_DATAERR, "the multiboot kernel and its modules (%llu bytes from "
                         "the load address) do not fit in the RAM below 4 GiB less 1 MiB for the "
                         "firmware: give the VM more memory (memsize)", (unsigned long long)size);
    uint8_t *n = realloc(b->p, size);
    if (!n)
        return error_set(err, EX_OSERR, "out of memory");
    memset(n + b->size, 0, size - b->size);
    b->p = n;
    b->size = size;
    return 0;
}

static int add_item(struct fwcfg *fw, uint16_t key, const void *data, size_t len, struct error *err)
{
    if (fwcfg_add_bytes(fw, key, data, len) < 0)
        return error_set(err, EX_SOFTWARE, "fw_cfg: cannot add the kernel's item 0x%x", key);
    return 0;
}

static int add_u32(struct fwcfg *fw, uint16_t key, uint32_t v, struct error *err)
{
    if (fwcfg_add_u32(fw, key, v) < 0)
        return error_set(err, EX_SOFTWARE, "fw_cfg: cannot add the kernel's item 0x%x", key);
    return 0;
}

/* Module i: its file read into the blob, page-aligned, and its list entry at entry. */
static int add_module(struct mb_blob *b, const char *spec, uint32_t base, uint8_t *entry_at,
                      uint32_t cmdline, uint64_t ram, struct error *err)
{
    char path[4096];
    size_t n = strcspn(spec, " ");
    if (n == 0 || n >= sizeof path)
        return error_set(err, EX_USAGE, "--initrd: an empty or too long module name in '%s'", spec);
    memcpy(path, spec, n);
    path[n] = 0;
    uint8_t *data = NULL;
    size_t size = 0;
    if (firmware_read_file_max(path, &data, &size, ram, err) < 0)
        return -1;
    uint64_t start = b->size;
    ptrdiff_t entry_off = entry_at - b->p;
    if (blob_grow(b, page_up(start + size), err) < 0) {
        free(data);
        return -1;
    }
    memcpy(b->p + start, data, size);
    free(data);
    wr32(b->p + entry_off, base + (uint32_t)start);
    wr32(b->p + entry_off + 4, base + (uint32_t)(start + size));
    wr32(b->p + entry_off + 8, cmdline);
    return 0;
}

static int build(struct fwcfg *fw, struct mb_image *im, const char *kernel, const char *initrd,
                 const char *append, uint64_t below_4g, struct error *err)
{
    char *mods[MOD_MAX];
    int nmod = 0, rc = -1;
    if (im->load < LOW_LIMIT)
        return error_set(err, EX_DATAERR, "--kernel %s: multiboot load address 0x%x is below 1 MiB",
                         kernel, im->load);
    struct mb_blob b = {NULL, 0, below_4g > FIRMWARE_TOP_RESERVE + im->load
                                     ? below_4g - FIRMWARE_TOP_RESERVE - im->load : 0};
    if (initrd && (nmod = split_modules(initrd, mods, MOD_MAX, err)) < 0)
        return -1;
    const char *cmd = append ? append : "";
    size_t klen = strlen(kernel) + 1 + strlen(cmd) + 1, names = klen + strlen("vmplay") + 1;
    for (int i = 0; i < nmod; i++)
        names += strlen(mods[i]) + 1;
    uint64_t list = page_up(im->mem_size), strs = list + 16u * (unsigned)nmod;
    if (blob_grow(&b, page_up(strs + names), err) < 0)
        goto out;
    memcpy(b.p, im->data, im->mem_size);
    uint8_t mbi[MBI_SIZE] = {0};
    uint64_t at = strs;
    uint32_t mod_cmd[MOD_MAX];
    for (int i = 0; i < nmod; i++) {
        mod_cmd[i] = im->load + (uint32_t)at;
        memcpy(b.p + at, mods[i], strlen(mods[i]) + 1);
        at += strlen(mods[i]) + 1;
    }
    wr32(mbi + 16, im->load + (uint32_t)at);
    at += (uint64_t)snprintf((char *)b.p + at, klen, "%s %s", kernel, cmd) + 1;
    wr32(mbi + 64, im->load + (uint32_t)at);
    memcpy(b.p + at, "vmplay", 7);
    for (int i = 0; i < nmod; i++)
        if (add_module(&b, mods[i], im->load, b.p + list + 16u * (unsigned)i, mod_cmd[i],
                       below_4g, err) < 0)
            goto out;
    wr32(mbi + 0, MBI_FLAGS_SET);
    wr32(mbi + 12, 0x8000FFFFu); /* boot device: the first BIOS disk, no partition */
    wr32(mbi + 20, (uint32_t)nmod);
    wr32(mbi + 24, im->load + (uint32_t)list);
    wr32(mbi + 48, MMAP_ADDR);
    if (add_u32(fw, FW_CFG_KERNEL_ENTRY, im->entry, err) < 0 ||
        add_u32(fw, FW_CFG_KERNEL_ADDR, im->load, err) < 0 ||
        add_u32(fw, FW_CFG_KERNEL_SIZE, (uint32_t)b.size, err) < 0 ||
        add_item(fw, FW_CFG_KERNEL_DATA, b.p, b.size, err) < 0 ||
        add_u32(fw, FW_CFG_INITRD_ADDR, MBI_ADDR, err) < 0 ||
        add_u32(fw, FW_CFG_INITRD_SIZE, MBI_SIZE, err) < 0 ||
        add_item(fw, FW_CFG_INITRD_DATA, mbi, MBI_SIZE, err) < 0)
        goto out;
    rc = 0;
out:
    for (int i = 0; i < nmod; i++)
        free(mods[i]);
    free(b.p);
    return rc;
}

static int load_rom(struct fwcfg *fw, struct error *err)
{
    uint8_t *rom = NULL;
    size_t size = 0;
    struct error e2 = {0};
    if (firmware_read_file(MULTIBOOT_ROM_PATH, &rom, &size, &e2) < 0)
        return error_set(err, EX_UNAVAILABLE, "--kernel: a multiboot kernel needs QEMU's option "
                         "ROM %s (Debian package qemu-system-data)", MULTIBOOT_ROM_PATH);
    int rc = fwcfg_add_file(fw, MULTIBOOT_ROM_NAME, rom, size);
    free(rom);
    return rc < 0 ? error_set(err, EX_SOFTWARE, "fw_cfg: cannot add %s", MULTIBOOT_ROM_NAME) : 0;
}

int multiboot_setup(struct fwcfg *fw, const uint8_t *buf, size_t len, const char *kernel,
                    const char *initrd, const char *append, uint64_t below_4g, struct error *err)
{
    int hdr = multiboot_find(buf, len);
    struct mb_image im = {0};
    if (hdr < 0)
        return error_set(err, EX_DATAERR, "--kernel %s: no multiboot header", kernel);
    int rc;
    if (rd32(buf + hdr + 4) & MB_HDR_AOUT)
        rc = load_aout(buf, len, (size_t)hdr, &im, err);
    else if (len >= 4 && !memcmp(buf, "\177ELF", 4))
        rc = load_elf(buf, len, below_4g, &im, err);
    else
        rc = error_set(err, EX_DATAERR, "neither an ELF nor with the header's load addresses");
    if (rc < 0)
        return error_prefix(err, "--kernel %s: multiboot", kernel);
    rc = build(fw, &im, kernel, initrd, append, below_4g, err);
    free(im.data);
    return rc < 0 ? -1 : load_rom(fw, err);
}
