/*
 * What a CPU backend provides to cpu/cpu.c, which dispatches the cpu.h calls.
 * Every backend's state struct starts with `struct cpu` (its .be pointer).
 */
#ifndef VMPLAY_CPU_BACKEND_H
#define VMPLAY_CPU_BACKEND_H

#include "cpu/cpu.h"

struct cpu_backend {
    const char *name;
    /* Optional: 0 when --cpu=auto should pick this backend; why says why or why not. */
    int (*probe)(struct error *why);
    struct cpu *(*create)(struct bus *bus, struct clock *clock, const struct cpu_hooks *hooks,
                          struct error *err);
    void (*free)(struct cpu *cpu);
    void (*reset)(struct cpu *cpu);
    enum cpu_exit (*run)(struct cpu *cpu, int64_t deadline_ns);
    void (*set_intr)(struct cpu *cpu, int level);
    void (*nmi)(struct cpu *cpu);
    void (*set_a20)(struct cpu *cpu, bool enabled);
    void (*request_stop)(struct cpu *cpu);
    int (*get_state)(struct cpu *cpu, struct cpu_state *st);
    int (*set_state)(struct cpu *cpu, const struct cpu_state *st);
    uint64_t (*insn_count)(const struct cpu *cpu);
    void (*set_trace)(struct cpu *cpu, void *file);
    /* Optional: the guest's TSC rate in kHz; absent, CPU_MODEL_TSC_KHZ. */
    uint32_t (*tsc_khz)(const struct cpu *cpu);
};

struct cpu {
    const struct cpu_backend *be;
};

/* Defined by each backend that is built (weak: NULL when a backend is absent). */
extern const struct cpu_backend cpu_soft_backend __attribute__((weak));
extern const struct cpu_backend cpu_kvm_backend __attribute__((weak));

#endif
