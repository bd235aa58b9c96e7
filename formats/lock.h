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

#endif
