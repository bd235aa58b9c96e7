/*
 * One file in two slots of one VM (issue 14). VMware refuses such a VM (the
 * second open finds its own lock); vmplay used to report it as "in use by
 * another vmplay", which sends the user looking for a process that does not
 * exist. Here the slots' files are compared by device and inode (so a
 * symbolic link or a second spelling of the path is caught too) before
 * anything is opened. Two read-only images (CD-ROM ISOs) may share a file, as
 * they do on VMware; anything written (a hard disk, a floppy image) may not.
 * The disks of an .ova are members of one file: only overlapping members clash.
 */
#include "formats/config.h"

#include <stdio.h>
#include <sys/stat.h>

/* Every disk slot the families hold: ide 2x2, scsi 4x15 (unit 7 is the controller), sata 4x30,
 * nvme 4x15. */
#define VM_MAX_DISK_SLOTS (4 + VM_MAX_SCSI * 15 + VM_MAX_SATA * 30 + VM_MAX_NVME * 15)

struct slot_file {
    char key[48];   /* "scsi0:1.fileName" */
    int line;
    bool written;   /* opened for writing: a hard disk or a floppy image */
    dev_t dev;
    ino_t ino;
    uint64_t off, len; /* the bytes of the file the slot uses: an OVF package member, or all (len 0) */
};

/* Whether two slots' byte ranges of one file meet (len 0: the whole file). */
static bool ranges_meet(const struct slot_file *a, const struct slot_file *b)
{
    if (!a->len || !b->len)
        return true;
    return a->off < b->off + b->len && b->off < a->off + a->len;
}

/* Fills f from the slot's resolved path; 0 when the file cannot be stat'ed (reported elsewhere). */
static int slot_stat(struct slot_file *f, const char *path)
{
    struct stat st;
    if (!path || stat(path, &st) < 0)
        return 0;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    return 1;
}

/* The first earlier file in t[0..n) that is the same as t[n] where one of the two is written. */
static const struct slot_file *earlier_twin(const struct slot_file *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].dev == t[n].dev && t[i].ino == t[n].ino && (t[i].written || t[n].written) &&
            ranges_meet(&t[i], &t[n]))
            return &t[i];
    return NULL;
}

static int report(const struct vm_config *c, const struct slot_file *a, const struct slot_file *b,
                  const char *path, struct error *err)
{
    return error_set(err, EX_DATAERR,
                     "%s:%d: %s names the same file as %s (line %d), %s; a VM can hold a disk "
                     "only once", c->vmx_path, b->line, b->key, a->key, a->line, path);
}

int config_check_twice(const struct vm_config *c, struct error *err)
{
    struct slot_file t[VM_MAX_DISK_SLOTS + VM_MAX_FLOPPIES];
    size_t n = 0;
    for (size_t i = 0; i < c->ndisks && n < VM_MAX_DISK_SLOTS; i++) {
        const struct vm_disk *d = &c->disks[i];
        bool hard = d->type == VM_DISK_HDD || d->type == VM_DISK_RAWDISK;
        if (!hard && !d->start_connected)
            continue; /* a disconnected CD-ROM is not opened */
        if (!slot_stat(&t[n], d->path))
            continue;
        snprintf(t[n].key, sizeof t[n].key, "%s.fileName", d->slot);
        t[n].line = d->line;
        t[n].written = hard;
        t[n].off = d->window_off;
        t[n].len = d->window_len;
        const struct slot_file *twin = earlier_twin(t, n);
        if (twin)
            return report(c, twin, &t[n], d->path, err);
        n++;
    }
    for (int i = 0; i < VM_MAX_FLOPPIES; i++) {
        const struct vm_floppy *f = &c->floppy[i];
        if (!f->present || !f->start_connected || !slot_stat(&t[n], f->path))
            continue;
        snprintf(t[n].key, sizeof t[n].key, "floppy%d.fileName", i);
        t[n].line = f->line;
        t[n].written = true;
        t[n].off = t[n].len = 0;
        const struct slot_file *twin = earlier_twin(t, n);
        if (twin)
            return report(c, twin, &t[n], f->path, err);
        n++;
    }
    return 0;
}
