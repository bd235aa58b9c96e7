/*
 * The VM lock (see lock.h). VMware's own lock is a folder `<file>.lck`
 * holding one `M<id>.lck` file per holder; when VMware crashes the folder
 * stays behind, so the message gives its age and says how to clear it.
 */
#include "formats/lock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct vm_lock {
    int fd;
};

/* A VMware lock next to file: <file>.lck (folder) or <file>.WRITELOCK (older products). */
static int vmware_lock(const char *file, const char *what, struct error *err)
{
    static const char *const suffix[] = { ".lck", ".WRITELOCK" };
    char p[4096], when[64];
    struct stat st;
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s%s", file, suffix[i]);
        if (stat(p, &st) < 0 || (i == 0 && !S_ISDIR(st.st_mode)))
            continue;
        struct tm tm;
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime_r(&st.st_mtime, &tm));
        return error_set(err, EX_TEMPFAIL,
                         "%s: VMware appears to be running this VM: %s %s exists (since %s);"
                         " if no VMware program on any host has it open, the lock is stale: remove %s",
                         file, what, p, when, p);
    }
    return 0;
}

static int vmware_locks(const char *vmx_path, const struct vm_config *cfg, struct error *err)
{
    if (vmware_lock(vmx_path, "lock", err) < 0)
        return -1;
    for (size_t i = 0; cfg && i < cfg->ndisks; i++)
        if (cfg->disks[i].path && vmware_lock(cfg->disks[i].path, "disk lock", err) < 0)
            return -1;
    return 0;
}

int vm_lock(const char *vmx_path, const struct vm_config *cfg, struct vm_lock **out,
            struct error *err)
{
    *out = NULL;
    if (vmware_locks(vmx_path, cfg, err) < 0)
        return -1;
    int fd = open(vmx_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, error_code_for_errno(errno), "%s: %s", vmx_path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return error_set(err, EX_TEMPFAIL, "%s is in use by another vmplay (pid unknown)",
                             vmx_path);
        return error_set(err, EX_IOERR, "%s: cannot lock: %s", vmx_path, strerror(e));
    }
    struct vm_lock *l = malloc(sizeof *l);
    if (!l) {
        close(fd);
        return error_set(err, EX_SOFTWARE, "out of memory");
    }
    l->fd = fd;
    *out = l;
    return 0;
}

/* Whether another descriptor of this process has the file of fd open with a flock on it:
 * then the lock that refused us is our own (/proc/self/fdinfo lists each descriptor's locks). */
static bool locked_by_us(int fd)
{
    struct stat me, st;
    DIR *d = fstat(fd, &me) < 0 ? NULL : opendir("/proc/self/fd");
    if (!d)
        return false;
    bool ours = false;
    for (struct dirent *e; !ours && (e = readdir(d));) {
        int n = atoi(e->d_name);
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || n == fd || n == dirfd(d) ||
            fstat(n, &st) < 0 || st.st_dev != me.st_dev || st.st_ino != me.st_ino)
            continue;
        char p[64], line[256];
        snprintf(p, sizeof p, "/proc/self/fdinfo/%d", n);
        FILE *f = fopen(p, "re");
        while (f && !ours && fgets(line, sizeof line, f))
            ours = !strncmp(line, "lock:", 5) && strstr(line, "FLOCK");
        if (f)
            fclose(f);
    }
    closedir(d);
    return ours;
}

int image_lock(int fd, const char *path, bool writing, struct error *err)
{
    if (vmware_lock(path, "disk lock", err) < 0)
        return -1;
    if (flock(fd, (writing ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 || errno != EWOULDBLOCK)
        return 0; /* a file system without locks (ENOLCK) is not a reason to refuse */
    if (locked_by_us(fd)) /* two disks of this VM share the file, as an extent or a parent */
        return error_set(err, EX_DATAERR, "%s is opened twice by this VM: two of its disks name it "
                         "(as an extent or a parent); a VM can hold a disk only once", path);
    return error_set(err, EX_TEMPFAIL, "%s is in use by another vmplay, which %s it", path,
                     writing ? "has it open (this VM would write to it)" : "writes to");
}

void vm_unlock(struct vm_lock *l)
{
    if (!l)
        return;
    close(l->fd);
    free(l);
}
