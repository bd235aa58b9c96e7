/*
 * CFI parallel flash for OVMF's variable store (see pflash.h). One device
 * in x8 mode: commands are the low byte of a write, the identifier and the
 * CFI query answer at byte offsets, status reads return the status register
 * in every byte lane. Programming ANDs the data into the array, as a NOR
 * cell can only go from 1 to 0; erase sets a whole 4 KiB block to 0xFF.
 * Unsupported commands (buffered program, lock bits, suspend) set the
 * command sequence error bits and change nothing.
 */
#include "devices/pflash.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Commands (Intel/Sharp basic command set). */
#define CMD_PROGRAM 0x10
#define CMD_BLOCK_ERASE 0x20
#define CMD_PROGRAM_ALT 0x40
#define CMD_CLEAR_STATUS 0x50
#define CMD_READ_STATUS 0x70
#define CMD_READ_ID 0x90
#define CMD_CFI_QUERY 0x98
#define CMD_CONFIRM 0xd0
#define CMD_READ_ARRAY 0xff

/* Status register. */
#define SR_READY 0x80
#define SR_ERASE_ERROR 0x20
#define SR_PROGRAM_ERROR 0x10

#define ID_MANUFACTURER 0x89 /* Intel */
#define ID_DEVICE 0x18
#define SAVE_DELAY_NS 100000000LL /* 100 ms after the last change */

enum pflash_mode { MODE_ARRAY, MODE_STATUS, MODE_ID, MODE_CFI };
enum pflash_pending { PENDING_NONE, PENDING_PROGRAM, PENDING_ERASE };

struct pflash {
    struct bus *bus;
    struct clock *clock;
    uint64_t gpa;
    uint8_t *data;
    size_t size;
    char *path;
    FILE *log;
    enum pflash_mode mode;
    enum pflash_pending pending;
    uint8_t status;
    bool dirty;
    struct timer save_timer;
};

/* The CFI query structure in x8 mode, byte offset -> value; 0 elsewhere. */
static uint8_t cfi_byte(const struct pflash *s, uint64_t off)
{
    unsigned log2 = 0;
    while (((size_t)1 << log2) < s->size)
        log2++;
    size_t blocks = s->size / PFLASH_BLOCK - 1;
    switch (off) {
    case 0x10: return 'Q';
    case 0x11: return 'R';
    case 0x12: return 'Y';
    case 0x13: return 0x01; /* primary command set: Intel/Sharp extended */
    case 0x15: return 0x31; /* its extended table at 0x31 */
    case 0x1b: return 0x45; /* Vcc 4.5 V .. 5.5 V */
    case 0x1c: return 0x55;
    case 0x1f: return 0x07; /* typical byte program 2^7 us */
    case 0x21: return 0x0a; /* typical block erase 2^10 ms */
    case 0x23: return 0x04;
    case 0x25: return 0x04;
    case 0x27: return (uint8_t)log2;
    case 0x28: return 0x00; /* x8 interface */
    case 0x2c: return 0x01; /* one erase block region */
    case 0x2d: return (uint8_t)blocks;
    case 0x2e: return (uint8_t)(blocks >> 8);
    case 0x2f: return (uint8_t)((PFLASH_BLOCK >> 8) & 0xff);
    case 0x30: return (uint8_t)(PFLASH_BLOCK >> 16);
    case 0x31: return 'P';
    case 0x32: return 'R';
    case 0x33: return 'I';
    case 0x34: return '1';
    case 0x35: return '0';
    default: return 0;
    }
}

static uint8_t read_byte(const struct pflash *s, uint64_t off)
{
    switch (s->mode) {
    case MODE_STATUS: return s->status;
    case MODE_ID: return (off & 0xff) == 0 ? ID_MANUFACTURER : (off & 0xff) == 1 ? ID_DEVICE : 0;
    case MODE_CFI: return cfi_byte(s, off & 0xff);
    default: return s->data[off];
    }
}

static uint64_t pflash_read(void *opaque, uint64_t off, unsigned size)
{
    struct pflash *s = opaque;
    uint64_t v = 0;
    for (unsigned i = 0; i < size && off + i < s->size; i++)
        v |= (uint64_t)read_byte(s, off + i) << (8 * i);
    return v;
}

static void changed(struct pflash *s)
{
    s->dirty = true;
    if (s->path)
        timer_arm(&s->save_timer, clock_now_ns(s->clock) + SAVE_DELAY_NS);
}

static void program(struct pflash *s, uint64_t off, uint64_t value, unsigned size)
{
    for (unsigned i = 0; i < size && off + i < s->size; i++)
        s->data[off + i] &= (uint8_t)(value >> (8 * i));
    s->status |= SR_READY;
    changed(s);
}

static void erase(struct pflash *s, uint64_t off)
{
    uint64_t start = off & ~(uint64_t)(PFLASH_BLOCK - 1);
    memset(s->data + start, 0xff, PFLASH_BLOCK);
    s->status |= SR_READY;
    changed(s);
}

static void command(struct pflash *s, uint8_t cmd)
{
    switch (cmd) {
    case CMD_READ_ARRAY: s->mode = MODE_ARRAY; break;
    case CMD_READ_STATUS: s->mode = MODE_STATUS; break;
    case CMD_CLEAR_STATUS: s->status = 0; break;
    case CMD_READ_ID: s->mode = MODE_ID; break;
    case CMD_CFI_QUERY: s->mode = MODE_CFI; break;
    case CMD_PROGRAM:
    case CMD_PROGRAM_ALT: s->pending = PENDING_PROGRAM; break;
    case CMD_BLOCK_ERASE: s->pending = PENDING_ERASE; break;
    default:
        s->status |= SR_ERASE_ERROR | SR_PROGRAM_ERROR | SR_READY;
        s->mode = MODE_STATUS;
        break;
    }
}

static void pflash_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct pflash *s = opaque;
    if (off >= s->size)
        return;
    enum pflash_pending p = s->pending;
    s->pending = PENDING_NONE;
    if (p == PENDING_PROGRAM) {
        program(s, off, value, size);
        s->mode = MODE_STATUS;
    } else if (p == PENDING_ERASE) {
        if ((value & 0xff) == CMD_CONFIRM)
            erase(s, off);
        else
            s->status |= SR_ERASE_ERROR | SR_PROGRAM_ERROR | SR_READY;
        s->mode = MODE_STATUS;
    } else {
        command(s, (uint8_t)value);
    }
}

static const struct bus_ops pflash_ops = {
    .read = pflash_read, .write = pflash_write, .min_size = 1, .max_size = 8,
};

static void save_timer_fire(void *opaque)
{
    struct pflash *s = opaque;
    struct error err = {0};
    if (s->dirty && pflash_save(s, &err) < 0 && s->log)
        fprintf(s->log, "vmplay: %s (the EFI variables stay in memory; retrying on the next change)\n",
                err.msg);
}

struct pflash *pflash_new(struct bus *bus, struct clock *clock, uint64_t gpa, uint8_t *data,
                          size_t size, const char *path, FILE *log)
{
    struct pflash *s = calloc(1, sizeof *s);
    if (!s || !size || size % PFLASH_BLOCK || (path && !(s->path = strdup(path)))) {
        if (s)
            free(s->path);
        free(s);
        return NULL;
    }
    s->bus = bus;
    s->clock = clock;
    s->gpa = gpa;
    s->size = size;
    s->log = log;
    timer_init(&s->save_timer, clock, save_timer_fire, s);
    if (bus_map_mmio(bus, gpa, size, &pflash_ops, s, "pflash") < 0) {
        free(s->path);
        free(s);
        return NULL;
    }
    s->data = data;
    pflash_reset(s);
    return s;
}

void pflash_reset(struct pflash *s)
{
    s->mode = MODE_ARRAY;
    s->pending = PENDING_NONE;
    s->status = SR_READY;
}

int pflash_save(struct pflash *s, struct error *err)
{
    if (!s->path)
        return 0;
    if (pflash_write_file(s->path, s->data, s->size, err) < 0)
        return -1;
    s->dirty = false;
    return 0;
}

void pflash_free(struct pflash *s)
{
    if (!s)
        return;
    timer_cancel(&s->save_timer);
    struct error err = {0};
    if (s->dirty && pflash_save(s, &err) < 0 && s->log)
        fprintf(s->log, "vmplay: %s: the EFI variables of this run are lost\n", err.msg);
    free(s->data);
    free(s->path);
    free(s);
}

const uint8_t *pflash_data(const struct pflash *s)
{
    return s->data;
}

/* ---- the store's file ---- */

static int fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int pflash_write_file(const char *path, const uint8_t *data, size_t len, struct error *err)
{
    size_t n = strlen(path) + 5;
    char *tmp = malloc(n);
    if (!tmp)
        return error_set(err, EX_SOFTWARE, "out of memory");
    snprintf(tmp, n, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t done = 0;
    while (fd >= 0 && done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    int e = errno;
    bool ok = fd >= 0 && done == len && fsync(fd) == 0;
    e = ok ? 0 : errno ? errno : e;
    if (fd >= 0 && close(fd) < 0 && ok) {
        ok = false;
        e = errno;
    }
    if (ok && rename(tmp, path) < 0) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        error_set(err, EX_CANTCREAT, "%s: cannot write the EFI variable store: %s", path,
                  strerror(e ? e : EIO));
        free(tmp);
        return -1;
    }
    free(tmp);
    fsync_dir_of(path);
    return 0;
}

int pflash_store_open(const char *path, const uint8_t *template_data, size_t template_size,
                      uint8_t **data, struct error *err)
{
    *data = NULL;
    uint8_t *buf = malloc(template_size);
    if (!buf)
        return error_set(err, EX_SOFTWARE, "out of memory");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) {
        free(buf);
        return error_set(err, error_code_for_errno(errno), "%s: %s", path, strerror(errno));
    }
    if (fd < 0) {
        memcpy(buf, template_data, template_size);
        if (pflash_write_file(path, buf, template_size, err) < 0) {
            free(buf);
            return -1;
        }
        *data = buf;
        return 0;
    }
    struct stat st;
    ssize_t got = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == template_size)
        got = pread(fd, buf, template_size, 0);
    close(fd);
    if (got != (ssize_t)template_size) {
        free(buf);
        return error_set(err, EX_DATAERR,
                         "%s: not an OVMF variable store of %zu bytes (delete it to start from "
                         "the firmware's template)",
                         path, template_size);
    }
    *data = buf;
    return 0;
}
