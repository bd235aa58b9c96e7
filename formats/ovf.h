/*
 * OVF packages (DMTF DSP0243 1.x/2.0): `vmplay foo.ova` (a POSIX tar holding the
 * .ovf envelope first, then its manifest and disks) and `vmplay foo.ovf` (the
 * same files unpacked in one folder). ovf_load reads the envelope with expat,
 * checks the manifest's SHA-1/SHA-256/SHA-512 digests, turns the virtual
 * hardware into .vmx lines and builds the struct vm_config from them through
 * config_build, so a package runs exactly as the .vmx VMware would write for it.
 * Disks are read in place (formats/ovf_disk.c): never written; guest writes go
 * to copy-on-write files in the folder "<package>.overlay" beside the package,
 * or to memory with --snapshot.
 */
#ifndef VMPLAY_OVF_H
#define VMPLAY_OVF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "formats/blockdev.h"
#include "formats/config.h"
#include "formats/error.h"

#define OVF_MAX_ENVELOPE (4u << 20) /* bytes of .ovf text */
#define OVF_MAX_DEPTH 64            /* element nesting */
#define OVF_MAX_ITEMS 512           /* hardware items, files, disks, config entries each */
#define OVF_MAX_MEMBERS 10000       /* tar members */

/* Whether path names a package (.ova or .ovf, any case). */
bool ovf_is_package(const char *path);
/*
 * Reads the package into a config. Damaged envelope, tar or manifest mismatch:
 * EX_DATAERR, one line; hardware vmplay cannot present where VMware would stop:
 * EX_UNAVAILABLE. Where VMware would go on, one line per item goes to warn
 * (may be NULL) as "vmplay: <path>: <text>".
 */
int ovf_load(const char *path, struct vm_config **out, FILE *warn, struct error *err);
/* The envelope text alone -> the .vmx lines it stands for (malloc'd, NUL-terminated);
 * disk fileNames are the File hrefs. For tests and the fuzz target. */
int ovf_to_vmx(const char *xml, size_t len, const char *name, char **vmx, FILE *warn,
               struct error *err);

/* formats/ovf_disk.c: the disk of opts->window_* inside path (blockdev_open calls it). */
int ovf_disk_open(const char *path, const struct blockdev_open_opts *opts,
                  struct blockdev **out, struct error *err);

#endif
