/*
 * The identity section of a saved state (state_id.h): the .vmx and disk files
 * as they were at the suspend, compared field by field at the resume.
 */
#include "devices/state_id.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "devices/state.h"
#include "formats/error.h"

#define HEAD_BYTES 65536
#define VMX_MAX (16u << 20)

struct file_id {
    uint64_t size;
    int64_t mtime_ns;
    uint32_t crc; /* of the whole file (the .vmx) or its first HEAD_BYTES (a disk) */
};

static int file_id(const char *path, uint64_t limit, struct file_id *id, struct error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return error_set(err, error_code_for_errno(errno), "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0) {
        close(fd);
        return error_set(err, EX_IOERR, "%s: %s", path, strerror(errno));
    }
    id->size = (uint64_t)st.st_size;
    id->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    uLong crc = crc32(0, Z_NULL, 0);
    uint8_t buf[8192];
    uint64_t done = 0;
    while (done < limit) {
        size_t want = limit - done < sizeof buf ? (size_t)(limit - done) : sizeof buf;
        ssize_t k = read(fd, buf, want);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            close(fd);
            return error_set(err, EX_IOERR, "%s: %s", path, strerror(errno));
        }
        if (k == 0)
            break;
        crc = crc32(crc, buf, (uInt)k);
        done += (uint64_t)k;
    }
    close(fd);
    id->crc = (uint32_t)crc;
    return 0;
}

int state_identity_save(struct state_writer *w, const char *vmx_path, const char *const *disks,
                        int ndisks, struct error *err)
{
    struct file_id id;
    if (ndisks < 0 || ndisks > STATE_ID_MAX_DISKS)
        return error_set(err, EX_SOFTWARE, "too many disks for the saved state");
    if (file_id(vmx_path, VMX_MAX, &id, err) < 0)
        return -1;
    state_section_begin(w, "identity", 1);
    state_put_u64(w, id.size);
    state_put_u32(w, id.crc);
    state_put_u32(w, (uint32_t)ndisks);
    for (int i = 0; i < ndisks; i++) {
        size_t n = strlen(disks[i]);
        if (n > UINT16_MAX)
            return error_set(err, EX_SOFTWARE, "%.64s...: path too long for the saved state",
                             disks[i]);
        if (file_id(disks[i], HEAD_BYTES, &id, err) < 0)
            return -1;
        state_put_u16(w, (uint16_t)n);
        state_put_bytes(w, disks[i], n);
        state_put_u64(w, id.size);
        state_put_i64(w, id.mtime_ns);
        state_put_u32(w, id.crc);
    }
    state_section_end(w);
    return 0;
}

static int changed(struct error *err, const char *what)
{
    return error_set(err, EX_DATAERR,
                     "the saved state does not match %s (changed since the "
                     "suspend); not resuming (--discard-state drops it)",
                     what);
}

static int check_disk(struct state_reader *r, const char *path, struct error *err)
{
    uint16_t n;
    char saved[UINT16_MAX + 1];
    struct file_id want, id;
    state_get_u16(r, &n);
    state_get_bytes(r, saved, n);
    state_get_u64(r, &want.size);
    state_get_i64(r, &want.mtime_ns);
    if (state_get_u32(r, &want.crc) < 0)
        return error_set(err, EX_DATAERR, "the saved state's identity section is truncated");
    saved[n] = 0;
    if (strlen(path) != n || memcmp(saved, path, n) != 0)
        return changed(err, path);
    if (file_id(path, HEAD_BYTES, &id, err) < 0)
        return -1;
    if (id.size != want.size || id.mtime_ns != want.mtime_ns || id.crc != want.crc)
        return changed(err, path);
    return 0;
}

int state_identity_check(struct state_file *f, const char *vmx_path, const char *const *disks,
                         int ndisks, struct error *err)
{
    struct state_reader r;
    uint32_t version, count;
    struct file_id want, id;
    if (state_file_section(f, "identity", &r, &version) < 0 || version != 1)
        return error_set(err, EX_DATAERR, "the saved state has no identity section of version 1");
    state_get_u64(&r, &want.size);
    state_get_u32(&r, &want.crc);
    if (state_get_u32(&r, &count) < 0)
        return error_set(err, EX_DATAERR, "the saved state's identity section is truncated");
    if (file_id(vmx_path, VMX_MAX, &id, err) < 0)
        return -1;
    if (id.size != want.size || id.crc != want.crc)
        return changed(err, vmx_path);
    if (count != (uint32_t)ndisks)
        return changed(err, "the VM's disks");
    for (int i = 0; i < ndisks; i++)
        if (check_disk(&r, disks[i], err) < 0)
            return -1;
    if (!state_reader_done(&r))
        return error_set(err, EX_DATAERR,
                         "the saved state's identity section is longer than it says");
    return 0;
}
