/*
 * Inside the KVM backend (cpu/kvm*.c): the backend's state and what its
 * files share. kvm.c runs the vCPU (memory slots, exits, interrupts,
 * deadlines), kvm_state.c moves struct cpu_state in and out and builds the
 * reset state, kvm_cpuid.c sets the CPUID model and runs the probe VM.
 */
#ifndef VMPLAY_CPU_KVM_H
#define VMPLAY_CPU_KVM_H

#include <linux/kvm.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "cpu/backend.h"

#define KVM_MAX_SLOTS 64

/* A memory slot: one bus RAM/ROM range, or a page-aligned copy of a ROM. */
struct kvm_slot {
    bool used;
    uint64_t gpa, size;
    const uint8_t *src; /* the bus range's host bytes */
    bool ro;
    uint8_t *copy; /* mmap'ed copy when src cannot be slotted directly */
};

struct kvm {
    struct cpu cpu;
    struct bus *bus;
    struct clock *clock;
    struct cpu_hooks hooks;
    int sys_fd, vm_fd, vcpu_fd;
    struct kvm_run *run;
    size_t run_size;
    bool readonly_mem;
    struct kvm_slot slot[KVM_MAX_SLOTS];
    bool intr_line, halted, shutdown, failed, a20;
    bool window_known; /* run->if_flag and ready_for_interrupt_injection describe the vCPU */
    bool io_pending;   /* the last exit was I/O or MMIO: KVM completes it on the next KVM_RUN */
    uint64_t apic_base; /* IA32_APIC_BASE as last reported (KVM handles the WRMSR itself) */
    atomic_bool stop;
    atomic_int vcpu_tid; /* the thread that runs the vCPU (0 before the first cpu_run) */
    timer_t timer;
    bool timer_ok;
    FILE *trace;
};

static inline struct kvm *kvm_of(struct cpu *c)
{
    return (struct kvm *)c;
}

/* --trace=cpu lines ("cpu: kvm: ..."); nothing when tracing is off. */
void kvm_trace(struct kvm *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Memory slots after a change of the bus map or of A20. */
void kvm_slots_sync(struct kvm *s);
/* Lets KVM finish an I/O or MMIO instruction without running further guest code. */
void kvm_complete_pending(struct kvm *s);

void kvm_reset(struct cpu *c);
int kvm_get_state(struct cpu *c, struct cpu_state *st);
int kvm_set_state(struct cpu *c, const struct cpu_state *st);

/* The software core's CPUID model, as far as the host supports it, on the vCPU; with
 * vmware, the VMware platform's hypervisor bit and leaves (cpu/model.h). */
int kvm_cpuid_setup(int sys_fd, int vcpu_fd, bool vmware, struct error *err);
/* The vCPU's TSC rate in kHz (KVM_GET_TSC_KHZ; CPU_MODEL_TSC_KHZ where KVM cannot say). */
uint32_t kvm_vcpu_tsc_khz(int vcpu_fd);
/* Runs a tiny guest in a VM of its own (real-mode HLT, or paged protected mode
 * IRETD + HLT): 0 when it exits with KVM_EXIT_HLT. */
int kvm_probe(int sys_fd, bool paged, struct error *err);
/* Both probes on a fresh /dev/kvm; why says what ran or what failed (cpu_backend.probe). */
int kvm_probe_full(struct error *why);

#endif
