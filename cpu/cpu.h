/*
 * The CPU contract. Two backends implement it — the software core (interpreter
 * over cached decoded blocks, later a translator) and direct execution on
 * /dev/kvm — and the board and the tests use nothing else.
 *
 * The machine thread calls cpu_run(cpu, deadline) in a loop; it returns when
 * virtual time reaches the deadline, when the guest halts with no interrupt
 * pending, when someone called cpu_request_stop (a device asking the loop for
 * a reset or power-off, another thread), or on shutdown (triple fault).
 * Devices are reached through the bus; interrupts arrive as the INTR level
 * (cpu_set_intr) and are acknowledged through hooks->intr_ack (INTA cycle).
 */
#ifndef VMPLAY_CPU_H
#define VMPLAY_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/clock.h"
#include "formats/error.h"

enum cpu_kind { CPU_AUTO, CPU_SOFT, CPU_KVM };

enum cpu_exit {
    CPU_EXIT_DEADLINE, /* virtual time reached the deadline */
    CPU_EXIT_HALT,     /* HLT with interrupts unable to wake it before the deadline */
    CPU_EXIT_STOP,     /* cpu_request_stop() was called */
    CPU_EXIT_SHUTDOWN, /* triple fault (or a shutdown cycle) */
    CPU_EXIT_ERROR,    /* the backend failed (KVM ioctl error); guest state is unknown */
};

struct cpu_hooks {
    void *opaque;
    /* INTA: the vector of the interrupt being delivered (PIC / local APIC), or -1 if none. */
    int (*intr_ack)(void *opaque);
    /* Optional: told every value the guest gives IA32_APIC_BASE (its bit 11 enables the
     * local APIC globally; the local APIC model answers only while it is set). */
    void (*apic_base)(void *opaque, uint64_t value);
    /* Optional: the VMware backdoor. IN and OUT (not the string forms) on ports
     * CPU_BACKDOOR_PORT and CPU_BACKDOOR_PORT + 1 come here instead of the bus with all
     * eight GPRs (low 32 bits, encoding order AX CX DX BX SP BP SI DI), which the hook may
     * change; returns false to let the access go to the bus as usual. Both ports pass the
     * I/O-permission check (IOPL, TSS bitmap) from any CPL, as on VMware. */
    bool (*backdoor)(void *opaque, uint16_t port, bool in, unsigned size, uint32_t regs[8]);
    /* CPUID presents the VMware platform (cpu/model.h cpu_model_cpuid_vmware). */
    bool vmware_platform;
};

#define CPU_BACKDOOR_PORT 0x5658
/* The ports VMware exempts from the I/O-permission check. */
static inline bool cpu_backdoor_port(uint16_t port)
{
    return port == CPU_BACKDOOR_PORT || port == CPU_BACKDOOR_PORT + 1;
}

/* Segment register with its hidden part; attr holds descriptor bits 40..47 and 52..55
 * as (type | S<<4 | DPL<<5 | P<<7 | AVL<<12 | L<<13 | DB<<14 | G<<15), the VMX layout. */
struct cpu_segment {
    uint16_t selector;
    uint16_t attr;
    uint32_t limit; /* byte granular (already scaled by G) */
    uint64_t base;
};

struct cpu_dtable {
    uint64_t base;
    uint16_t limit;
};

enum cpu_seg_index { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS };
enum cpu_gpr_index { GPR_AX, GPR_CX, GPR_DX, GPR_BX, GPR_SP, GPR_BP, GPR_SI, GPR_DI };

/* x87/MMX/SSE state in FXSAVE terms. */
struct cpu_fpu_state {
    uint16_t fcw, fsw, fop;
    uint8_t ftw; /* abridged: bit i set = register i not empty */
    uint64_t fip, fdp;
    uint16_t fcs, fds;
    uint8_t st[8][16]; /* ST(i)... in physical register order R0..R7, 80-bit values */
    uint8_t xmm[16][16];
    uint32_t mxcsr;
};

struct cpu_msrs {
    uint64_t tsc, apic_base, pat, misc_enable, efer;
    uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
    uint64_t star, lstar, cstar, fmask, kernel_gs_base;
    uint64_t mtrr_cap, mtrr_def_type, mtrr_fixed[11], mtrr_var[16]; /* var: base/mask pairs */
};

/* The whole architectural state (tests, debugging, moving between backends, suspend). */
struct cpu_state {
    uint64_t gpr[16]; /* encoding order: AX CX DX BX SP BP SI DI R8..R15 */
    uint64_t rip, rflags;
    struct cpu_segment seg[6], ldt, tr;
    struct cpu_dtable gdt, idt;
    uint64_t cr0, cr2, cr3, cr4, cr8;
    uint64_t dr[8];
    struct cpu_msrs msr;
    struct cpu_fpu_state fpu;
    bool halted;
    bool intr_shadow; /* one-instruction interrupt inhibit after STI / MOV SS */
    bool a20;         /* A20 gate enabled */
};

struct cpu;

/* kind CPU_AUTO picks KVM when /dev/kvm opens and probe VMs run real-mode and paged
 * protected-mode code (and the clock is not deterministic), else the software core. */
/* --jit: the software core's translator (cpu/jit.c): -1 the VMPLAY_JIT environment
 * variable decides ("on"; default off), 0 off, 1 on. Read when a soft CPU is created. */
extern int soft_jit_mode;

struct cpu *cpu_create(enum cpu_kind kind, struct bus *bus, struct clock *clock,
                       const struct cpu_hooks *hooks, struct error *err);
void cpu_free(struct cpu *cpu);
/* Which backend cpu_create(kind) would use here ("soft", "kvm"), or NULL with err (--check).
 * On success err (when given) gets code 0 and why that backend was chosen. */
const char *cpu_probe(enum cpu_kind kind, struct error *err);
/* "soft" or "kvm". */
const char *cpu_backend_name(const struct cpu *cpu);

/* Power-on / RESET state (CS:IP = F000:FFF0 with CS base FFFF0000). */
void cpu_reset(struct cpu *cpu);
enum cpu_exit cpu_run(struct cpu *cpu, int64_t deadline_ns);
void cpu_set_intr(struct cpu *cpu, int level);
/* An NMI (an edge, from the local APIC): taken at the next instruction boundary unless
 * NMIs are blocked, as they are from an NMI's delivery until the next IRET. */
void cpu_nmi(struct cpu *cpu);
void cpu_set_a20(struct cpu *cpu, bool enabled);
/* Thread-safe: makes the current or next cpu_run return CPU_EXIT_STOP promptly. */
void cpu_request_stop(struct cpu *cpu);
int cpu_get_state(struct cpu *cpu, struct cpu_state *st);
int cpu_set_state(struct cpu *cpu, const struct cpu_state *st);
/* The rate of the guest's TSC in kHz (the software core's nominal 1 GHz, KVM's vCPU rate). */
uint32_t cpu_tsc_khz(const struct cpu *cpu);
/* Instructions retired since creation (software core; KVM reports 0). */
uint64_t cpu_insn_count(const struct cpu *cpu);
/* --trace=cpu: one line per executed block/exception to the given stream (NULL: off). */
void cpu_set_trace(struct cpu *cpu, void *file);

#endif
