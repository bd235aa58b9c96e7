/*
 * One player per VM. vm_lock takes an exclusive, non-blocking flock() on
 * the .vmx itself (opened read-only; nothing is written), so a second vmplay
 * on the same VM is refused, and the kernel drops the lock when the process
 * dies, so it is never stale. It also refuses a VM that VMware appears to be
 * running: a `<name>.vmx.lck` folder next to the .vmx, or a `.lck` folder
 * next to one of its disks (and the older `.WRITELOCK` files). Both refusals
 * are EX_TEMPFAIL.
 */
#ifndef VMPLAY_LOCK_H
#define VMPLAY_LOCK_H

#include "formats/config.h"
#include "formats/error.h"

struct vm_lock;

/* cfg may be NULL (then only the .vmx's own VMware lock is looked for). */
int vm_lock(const char *vmx_path, const struct vm_config *cfg, struct vm_lock **out,
            struct error *err);
/* Releases the lock (NULL is fine). */
void vm_unlock(struct vm_lock *l);

/*
 * A disk image file opened on fd: refused (EX_TEMPFAIL, one line) when VMware
 * holds it (`<path>.lck`) or another player does. writing takes an exclusive
 * flock(), else a shared one, so players may share a parent or an ISO they only
 * read but never a file one of them writes. The lock lives as long as fd.
 */
int image_lock(int fd, const char *path, bool writing, struct error *err);

#endif
