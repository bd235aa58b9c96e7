/*
 * The vCPU and RAM sections of a saved state (devices/state.h).
 *
 * "cpus" v1: u32 count of vCPUs; then a "cpuN" v1 section per vCPU: struct
 * cpu_state (cpu/cpu.h) field by field, little-endian, in the struct's order
 * (booleans as one byte 0/1), so SMP adds sections, not a new format.
 * "ram" v1: u64 size, then per non-zero 4 KiB page in rising order u64 page
 * index and the page's bytes (the last page may be short), then u64 all ones.
 */
#ifndef VMPLAY_STATE_CPU_H
#define VMPLAY_STATE_CPU_H

#include <stdint.h>

#include "cpu/cpu.h"

struct error;
struct state_writer;
struct state_file;

#define STATE_MAX_VCPUS 256

int state_cpus_save(struct state_writer *w, const struct cpu_state *st, int n);
/* Reads n vCPUs (the count saved must be n). -1 with err (EX_DATAERR). */
int state_cpus_load(struct state_file *f, struct cpu_state *st, int n, struct error *err);
int state_ram_save(struct state_writer *w, const uint8_t *ram, uint64_t size);
/* Fills ram (of size bytes, which the state must match): zero where nothing was saved. */
int state_ram_load(struct state_file *f, uint8_t *ram, uint64_t size, struct error *err);

#endif
