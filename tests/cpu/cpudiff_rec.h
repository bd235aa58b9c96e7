/*
 * Recorded host answers for the 32-bit differential suite (cpudiff.c), for
 * hosts that cannot execute the 32-bit runner (a kernel without IA32
 * emulation): what the host CPU answered for every case, reduced to the
 * fields the comparison treats as defined (cd_rec_normalize), kept in a
 * gzip file (tests/cpu/recorded/diff32.rec.gz, written by `make cpu-record`).
 *
 * The file: a text header ("vmplay cpudiff record 2", then "key: value"
 * lines: seed, scale, host, source; an empty line ends it), then per group
 * a line "group NAME COUNT INPUTHASH" (a hash of every case's input, so a
 * group whose generator changed is known to be stale, not compared against
 * old answers) and COUNT binary case records. A record keeps the outcome,
 * EIP, error code, GPRs, EFLAGS, selectors, FCW/FSW and MXCSR exactly, and
 * XMM0..7 with the memory window as a 32-bit hash: their bytes are random
 * data that would make the file ten times larger.
 */
#ifndef VMPLAY_TESTS_CPUDIFF_REC_H
#define VMPLAY_TESTS_CPUDIFF_REC_H

#include <stdbool.h>
#include <stdio.h>

#include "cpudiff_gen.h"

struct cd_rec;

/* What the comparison reads of an answer, and nothing else: undefined flags and
 * results, unused FPU/SSE state, ignored window bytes and error codes of
 * vectors without one are set to fixed values. */
void cd_rec_normalize(const struct gen *g, const struct cd_in *in, struct cd_out *o);
/* Whether a case's answer can be recorded at all (not an approximation). */
bool cd_rec_recordable(const struct gen *g);

/* Running hash of a group's inputs (start from CD_REC_HASH0). */
#define CD_REC_HASH0 2166136261u
uint32_t cd_rec_input_hash(uint32_t h, const struct cd_in *in);
/* The hash a record keeps of XMM0..7 (SSE cases) and the window of a normalised answer. */
uint32_t cd_rec_xm_hash(const struct cd_out *o);

/* Writing: header lines are "key: value" text without newlines. */
struct cd_rec *cd_rec_create(const char *path, uint32_t seed, int scale, const char *host,
                             const char *source);
void cd_rec_group(struct cd_rec *r, const char *name, int count, uint32_t input_hash);
/* normalized NULL: a case deliberately not recorded (!cd_rec_recordable). */
void cd_rec_put(struct cd_rec *r, const struct cd_in *in, const struct cd_out *normalized);
int cd_rec_close(struct cd_rec *r); /* 0, or -1 when anything failed to write */

/* Reading: the whole file at open. NULL with why[] filled when it cannot be read. */
struct cd_rec *cd_rec_open(const char *path, char *why, size_t n);
const char *cd_rec_header(const struct cd_rec *r, const char *key); /* NULL when absent */
/* Whether group name is recorded with count cases of these inputs (input_hash). */
bool cd_rec_has_group(const struct cd_rec *r, const char *group, int count, uint32_t input_hash);
/* The recorded answer of case index of group name: the exact fields in out (XMM and
 * the window left zero) and the hash of the others in xm_hash; 1 found, 0 not recorded. */
int cd_rec_get(const struct cd_rec *r, const char *group, int index, const struct cd_in *in,
               struct cd_out *out, uint32_t *xm_hash);
void cd_rec_free(struct cd_rec *r);

#endif
