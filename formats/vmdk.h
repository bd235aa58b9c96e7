/*
 * VMDK internals shared by formats/vmdk.c (layers, snapshot chains, the
 * blockdev), formats/vmdk_desc.c (the text descriptor) and
 * formats/vmdk_sparse.c (hosted sparse "KDMV" extents v1-v3, stream-optimized
 * extents and ESX "COWD" vmfsSparse extents). Facts follow VMware's "Virtual
 * Disk Format 5.0" and what QEMU and libvmdk accept; limits refuse absurd
 * headers before anything is allocated.
 */
#ifndef VMPLAY_VMDK_H
#define VMPLAY_VMDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/blockdev.h"
#include "formats/error.h"

#define VMDK_DESC_MAX (1u << 20)       /* descriptor text, file or embedded */
#define VMDK_MAX_EXTENTS 65536
#define VMDK_MAX_DEPTH 255             /* snapshot chain layers */
#define VMDK_CID_NONE 0xffffffffu

/* ---- descriptor (vmdk_desc.c) ---- */

enum vmdk_access { VMDK_RW, VMDK_RDONLY, VMDK_NOACCESS };
enum vmdk_ext_type { VMDK_EXT_SPARSE, VMDK_EXT_FLAT, VMDK_EXT_ZERO, VMDK_EXT_VMFS,
                     VMDK_EXT_VMFSSPARSE };

struct vmdk_desc_extent {
    enum vmdk_access access;
    enum vmdk_ext_type type;
    uint64_t sectors;
    uint64_t offset; /* FLAT/VMFS: first sector in the file */
    char *file;      /* NULL for ZERO */
};

struct vmdk_desc {
    unsigned version;
    uint32_t cid, parent_cid;
    char create_type[64];
    char *parent_hint; /* parentFileNameHint, NULL when absent */
    struct vmdk_desc_extent *ext;
    size_t n_ext;
    size_t n_ddb;      /* ddb.* keys seen (kept verbatim in the text) */
    bool has_cid;
};

/* Parses descriptor text (not NUL-terminated; len bytes). The error names the line. */
int vmdk_desc_parse(const char *text, size_t len, struct vmdk_desc *d, struct error *err);
void vmdk_desc_free(struct vmdk_desc *d);
/* The same text with CID=<cid>; malloc'd, NUL-terminated, length in *len. */
char *vmdk_desc_with_cid(const char *text, size_t len, uint32_t cid, size_t *out_len);
/* Whether text looks like a descriptor (probe). */
bool vmdk_desc_probe(const uint8_t *buf, size_t len);

/* ---- sparse extents (vmdk_sparse.c) ---- */

/* Whole-buffer pread (past end of file reads zeros) and pwrite; 0 or -errno. */
int vmdk_pread(int fd, void *buf, size_t len, uint64_t off);
int vmdk_pwrite(int fd, const void *buf, size_t len, uint64_t off);

struct sparse;

/* Reads sectors the extent does not hold (from the parent layer, or zeros). */
typedef int (*sparse_fallback)(void *opaque, uint64_t sector, uint32_t count, uint8_t *buf);

struct sparse_info {
    bool cowd, compressed, stream, unclean;
    unsigned version;
    uint64_t capacity, grain;
    uint64_t desc_off, desc_size; /* sectors; 0 when no embedded descriptor */
    char damage[200]; /* non-empty: metadata a write would trust is inconsistent (read only) */
};

/* Opens the sparse extent on fd (owned from then on, closed by sparse_free).
 * writable: the caller will write (the fd is O_RDWR). */
int sparse_open(int fd, const char *path, bool writable, struct sparse **out, struct error *err);
/* The same for an extent stored at bytes [base, base+len) of a larger file (a disk inside a
 * .ova); never writable when base is not 0. */
int sparse_open_window(int fd, const char *path, bool writable, uint64_t base, uint64_t len,
                       struct sparse **out, struct error *err);
void sparse_free(struct sparse *s);
const struct sparse_info *sparse_info(const struct sparse *s);
/* Whether writes may go here (not COWD, not compressed/stream). */
bool sparse_writable_format(const struct sparse *s);
int sparse_read(struct sparse *s, uint64_t sector, uint32_t count, uint8_t *buf,
                sparse_fallback fb, void *opaque);
int sparse_write(struct sparse *s, uint64_t sector, uint32_t count, const uint8_t *buf,
                 sparse_fallback fb, void *opaque);
/* Makes every write so far durable: data, then primary tables, then redundant. */
int sparse_flush(struct sparse *s);
/* Puts the tables of every write so far into the file, unsynced (the next flush syncs). */
int sparse_commit(struct sparse *s);
/* Flushes and clears the unclean-shutdown flag if this session set it. */
int sparse_close_clean(struct sparse *s);
/* Rewrites the embedded descriptor in place (within its reserved sectors) and syncs. */
int sparse_write_descriptor(struct sparse *s, const char *text, size_t len);
/* Reads the embedded descriptor (malloc'd, NUL-terminated) or NULL with *len 0 when none. */
int sparse_read_descriptor(struct sparse *s, char **text, size_t *len, struct error *err);

/* ---- the disk (vmdk.c) ---- */

bool vmdk_probe(const uint8_t *buf, size_t len);
int vmdk_open(const char *path, const struct blockdev_open_opts *opts, struct blockdev **out,
              struct error *err);
/* The descriptor's ddb.adapterType ("lsilogic", "buslogic", "pvscsi", "ide", ...) into out;
 * 0, or -1 when the file cannot be read or has no such key (out is then ""). */
int vmdk_adapter_type(const char *path, char *out, size_t len);

#endif
