/*
 * A parallel NOR flash with the Intel/Sharp CFI command set, enough of it
 * for OVMF's variable store (read array, read/clear status, byte or word
 * program, block erase with confirm, read identifier, CFI query), mapped as
 * MMIO below OVMF's code ROM at the top of 4 GiB. The store can be backed
 * by a file: programming and erasing mark it dirty and a timer writes the
 * whole store some milliseconds later (and pflash_free writes what is left),
 * each time as a temporary file, fsync and rename, so the file is always
 * either the old or the new store, never half of one.
 */
#ifndef VMPLAY_PFLASH_H
#define VMPLAY_PFLASH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "devices/bus.h"
#include "devices/clock.h"
#include "formats/error.h"

#define PFLASH_BLOCK 4096u /* OVMF's PcdOvmfFirmwareBlockSize; QEMU's sector length for pc */

struct pflash;

/*
 * data: size bytes (a multiple of PFLASH_BLOCK), taken over (freed by pflash_free).
 * path: the file the store is written to (NULL: volatile). log: where a failed save is said.
 */
struct pflash *pflash_new(struct bus *bus, struct clock *clock, uint64_t gpa, uint8_t *data,
                          size_t size, const char *path, FILE *log);
/* Writes a dirty store and frees; the range stays mapped (the bus goes with the machine). */
void pflash_free(struct pflash *s);
/* Machine reset: read-array mode, no command pending. */
void pflash_reset(struct pflash *s);
/* Writes the store to its file now (temp + fsync + rename). 0, or -1 with err (EX_CANTCREAT). */
int pflash_save(struct pflash *s, struct error *err);
/* The store's bytes (for tests). */
const uint8_t *pflash_data(const struct pflash *s);

/*
 * The per-VM store: reads path when it exists (it must be exactly template_size bytes),
 * else copies the template and writes it to path (crash-safely). *data is malloc'd.
 * EX_DATAERR for a file of another size, EX_CANTCREAT when it cannot be written.
 */
int pflash_store_open(const char *path, const uint8_t *template_data, size_t template_size,
                      uint8_t **data, struct error *err);
/* Writes len bytes to path as path.tmp, fsync, rename, fsync of the folder. 0 or -1 with err. */
int pflash_write_file(const char *path, const uint8_t *data, size_t len, struct error *err);

#endif
