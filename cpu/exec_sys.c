/*
 * System instructions of the software core: the descriptor-table groups
 * (0F 00, 0F 01), LAR/LSL, control and debug registers, CPUID for an
 * Atom (Bonnell) class model (family 6, model 28) that advertises only what
 * the core implements, RDTSC from the machine clock at a nominal 1 GHz, the
 * MSRs P6 guests touch (unknown ones raise #GP(0)) with the machine-check
 * banks, SYSENTER/SYSEXIT.
 */
#include "cpu/exec.h"
#include "cpu/model.h"
#include "cpu/sse4.h"

#include <string.h>

#define TSC_HZ 1000000000ull
/*
 * An Atom of the Bonnell family (family 6, model 28, stepping 10): the
 * first Intel model with SSSE3 that may also lack long mode, and one Linux
 * knows as free of speculative-execution bugs (no PTI). Stepping 10, not 2:
 * Linux disables PSE on steppings <= 2 with old microcode (erratum AAE44).
 * The 64-bit parts of that family (Atom 330, D510) have LM, SYSCALL, NX,
 * LAHF/SAHF and CMPXCHG16B; this model adds 1 GiB pages, which the core's
 * MMU implements, MOVBE, which Bonnell introduced, and x86-64-v2's SSE4.1,
 * SSE4.2 and POPCNT (cpu/exec_sse4.c) where the host has them (the core runs
 * them on the host's SSE unit). Only what the core implements is advertised:
 * not MONITOR/MWAIT (which the part has); the part has none of RDTSCP, XSAVE,
 * SMAP, UMIP, CLFLUSHOPT, CLWB, and they are #UD here (tests/cpu/features.asm
 * walks the bits, reading CPUID for POPCNT and SSE4.x).
 */
#define CPUID_SIGNATURE 0x106CAu
/* FPU DE PSE TSC MSR PAE MCE CX8 APIC SEP MTRR PGE MCA CMOV PAT CLFSH MMX FXSR SSE SSE2 */
#define CPUID_EDX 0x0789FBFDu
#define CPUID_ECX 0x00402201u /* SSE3 (0), SSSE3 (9), CX16 (13), MOVBE (22) */
#define CPUID_ECX_V2 0x00980000u /* SSE4.1 (19), SSE4.2 (20), POPCNT (23): sse4_host_ok() */
/* 0x80000001: SYSCALL (11), NX (20), 1 GiB pages (26), LM (29); ECX LAHF/SAHF in 64-bit mode (0) */
#define CPUID_EXT_EDX 0x24100800u
#define CPUID_EXT_ECX 0x00000001u
/* 0x80000008: 36 physical and 48 linear address bits, as the model's parts had */
#define CPUID_ADDR_SIZES 0x00003024u
#define CPUID_EBX 0x00000800u /* CLFLUSH line size 8 * 8 = 64 bytes; one logical CPU, APIC ID 0 */

enum {
    MSR_TSC = 0x10, MSR_PLATFORM_ID = 0x17, MSR_APIC_BASE = 0x1B, MSR_UCODE_WRITE = 0x79,
    MSR_BIOS_SIGN_ID = 0x8B, MSR_MTRRCAP = 0xFE, MSR_SYSENTER_CS = 0x174,
    MSR_SYSENTER_ESP = 0x175, MSR_SYSENTER_EIP = 0x176, MSR_MISC_ENABLE = 0x1A0,
    MSR_MTRR_PHYS = 0x200, MSR_MTRR_FIX64K = 0x250, MSR_MTRR_FIX16K = 0x258,
    MSR_MTRR_FIX4K = 0x268, MSR_PAT = 0x277, MSR_MTRR_DEF_TYPE = 0x2FF, MSR_EFER = 0xC0000080,
    MSR_STAR = 0xC0000081, MSR_LSTAR = 0xC0000082, MSR_CSTAR = 0xC0000083, MSR_FMASK = 0xC0000084,
    MSR_FS_BASE = 0xC0000100, MSR_GS_BASE = 0xC0000101, MSR_KERNEL_GS_BASE = 0xC0000102,
    MSR_PERFCTR0 = 0xC1, MSR_PERFCTR1 = 0xC2, MSR_EVNTSEL0 = 0x186, MSR_EVNTSEL1 = 0x187,
    MSR_MCG_CAP = 0x179, MSR_MCG_STATUS = 0x17A, MSR_MCG_CTL = 0x17B, MSR_MC0_CTL = 0x400,
};

/*
 * Machine-check architecture as a P6-family part has it (SDM vol. 3 15.3):
 * MCG_CAP announces MC_BANKS banks and MCG_CTL (bit 8, MCG_CTL_P), nothing
 * else (no extended state, CMCI, software recovery or local MCE). No error is
 * ever logged: MCG_STATUS and every MCi_STATUS, MCi_ADDR and MCi_MISC read as
 * 0. MCG_CTL and the MCi_CTL keep what is written; MCi_STATUS, MCi_ADDR and
 * MCi_MISC take only 0 (anything else is #GP(0)), and MCG_STATUS has only its
 * three flag bits (RIPV, EIPV, MCIP) writable, none of which can stay set
 * without a machine check.
 */
#define MCG_CAP_VALUE (0x100u | MC_BANKS)

#define APIC_BASE_BSP 0x100u
#define APIC_BASE_EN 0x800u
#define APIC_BASE_ADDR 0xFFFFFF000ull
#define CPUID_1_EDX_APIC (1u << 9)

uint64_t cpu_model_mcg_cap(void)
{
    return MCG_CAP_VALUE;
}

/* RDMSR of a machine-check MSR into *v; false when msr is not one. */
static bool mce_read(struct soft *s, uint32_t msr, uint64_t *v)
{
    if (msr == MSR_MCG_CAP)
        *v = MCG_CAP_VALUE;
    else if (msr == MSR_MCG_STATUS)
        *v = 0;
    else if (msr == MSR_MCG_CTL)
        *v = s->mcg_ctl;
    else if (msr >= MSR_MC0_CTL && msr < MSR_MC0_CTL + 4 * MC_BANKS)
        *v = (msr & 3) == 0 ? s->mc_ctl[(msr - MSR_MC0_CTL) / 4] : 0;
    else
        return false;
    return true;
}

/* WRMSR of a machine-check MSR; false when msr is not one. */
static bool mce_write(struct soft *s, uint32_t msr, uint64_t v)
{
    if (msr == MSR_MCG_CAP)
        soft_raise(s, EXC_GP, 0);
    else if (msr == MSR_MCG_STATUS) {
        if (v & ~(uint64_t)7)
            soft_raise(s, EXC_GP, 0);
    } else if (msr == MSR_MCG_CTL)
        s->mcg_ctl = v;
    else if (msr >= MSR_MC0_CTL && msr < MSR_MC0_CTL + 4 * MC_BANKS) {
        if ((msr & 3) == 0)
            s->mc_ctl[(msr - MSR_MC0_CTL) / 4] = v;
        else if (v != 0)
            soft_raise(s, EXC_GP, 0);
    } else
        return false;
    return true;
}

static bool privileged(const struct soft *s)
{
    return !soft_pmode(s) || (!soft_v86(s) && s->cpl == 0);
}

static void need_cpl0(struct soft *s)
{
    if (!privileged(s))
        soft_raise(s, EXC_GP, 0);
}

static void need_pmode(struct soft *s)
{
    if (!soft_pmode(s) || soft_v86(s))
        soft_raise_noerr(s, EXC_UD);
}

void soft_msr_reset(struct soft *s)
{
    struct cpu_msrs *m = &s->msr;
    *m = (struct cpu_msrs){0};
    memset(s->perf, 0, sizeof s->perf);
    s->mcg_ctl = 0;
    memset(s->mc_ctl, 0, sizeof s->mc_ctl);
    m->apic_base = 0xFEE00000u | 0x900; /* enabled, BSP */
    m->pat = 0x0007040600070406ull;
    m->mtrr_cap = 0x508; /* 8 variable ranges, fixed ranges, WC */
    m->misc_enable = 1;
}

static uint64_t tsc_now(struct soft *s)
{
    soft_sync_clock(s);
    return (uint64_t)(clock_now_ns(s->clock) * (int64_t)(TSC_HZ / 1000000000ull)) + (uint64_t)s->tsc_offset;
}

/* Index into mtrr_fixed[] for a fixed-range MSR, or -1. */
static int mtrr_fixed_index(uint32_t msr)
{
    if (msr == MSR_MTRR_FIX64K)
        return 0;
    if (msr == MSR_MTRR_FIX16K || msr == MSR_MTRR_FIX16K + 1)
        return 1 + (int)(msr - MSR_MTRR_FIX16K);
    if (msr >= MSR_MTRR_FIX4K && msr < MSR_MTRR_FIX4K + 8)
        return 3 + (int)(msr - MSR_MTRR_FIX4K);
    return -1;
}

/* Returns a pointer to the stored value of a simple MSR, or NULL. */
static uint64_t *msr_slot(struct soft *s, uint32_t msr)
{
    struct cpu_msrs *m = &s->msr;
    int fx = mtrr_fixed_index(msr);
    if (fx >= 0)
        return &m->mtrr_fixed[fx];
    if (msr >= MSR_MTRR_PHYS && msr < MSR_MTRR_PHYS + 16)
        return &m->mtrr_var[msr - MSR_MTRR_PHYS];
    switch (msr) {
    case MSR_PERFCTR0: return &s->perf[0];
    case MSR_PERFCTR1: return &s->perf[1];
    case MSR_EVNTSEL0: return &s->perf[2];
    case MSR_EVNTSEL1: return &s->perf[3];
    case MSR_APIC_BASE: return &m->apic_base;
    case MSR_SYSENTER_CS: return &m->sysenter_cs;
    case MSR_SYSENTER_ESP: return &m->sysenter_esp;
    case MSR_SYSENTER_EIP: return &m->sysenter_eip;
    case MSR_MISC_ENABLE: return &m->misc_enable;
    case MSR_PAT: return &m->pat;
    case MSR_MTRR_DEF_TYPE: return &m->mtrr_def_type;
    case MSR_EFER: return &m->efer;
    case MSR_STAR: return &m->star;
    case MSR_LSTAR: return &m->lstar;
    case MSR_CSTAR: return &m->cstar;
    case MSR_FMASK: return &m->fmask;
    case MSR_KERNEL_GS_BASE: return &m->kernel_gs_base;
    case MSR_FS_BASE: return &s->seg[SEG_FS].base;
    case MSR_GS_BASE: return &s->seg[SEG_GS].base;
    default: return NULL;
    }
}

void soft_rdmsr(struct soft *s)
{
    need_cpl0(s);
    uint32_t msr = s->r[GPR_CX];
    uint64_t v;
    uint64_t *slot = msr_slot(s, msr);
    if (slot)
        v = *slot;
    else if (msr == MSR_TSC)
        v = tsc_now(s);
    else if (msr == MSR_PLATFORM_ID || msr == MSR_BIOS_SIGN_ID)
        v = 0;
    else if (msr == MSR_MTRRCAP)
        v = s->msr.mtrr_cap;
    else if (!mce_read(s, msr, &v))
        soft_raise(s, EXC_GP, 0);
    s->r[GPR_AX] = (uint32_t)v;
    s->r[GPR_DX] = (uint32_t)(v >> 32);
}

void soft_wrmsr(struct soft *s)
{
    need_cpl0(s);
    uint32_t msr = s->r[GPR_CX];
    uint64_t v = ((uint64_t)s->r[GPR_DX] << 32) | s->r[GPR_AX];
    if (msr == MSR_TSC) {
        s->tsc_offset = (int64_t)(v - tsc_now(s) + (uint64_t)s->tsc_offset);
        return;
    }
    if (msr == MSR_EFER) {
        /* LMA is read-only; LME cannot change while paging is on */
        if (v & ~(uint64_t)(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE))
            soft_raise(s, EXC_GP, 0);
        if ((s->cr0 & CR0_PG) && ((v ^ s->msr.efer) & EFER_LME))
            soft_raise(s, EXC_GP, 0);
        s->msr.efer = (v & ~(uint64_t)EFER_LMA) | (s->msr.efer & EFER_LMA);
        tlb_flush(s, false);
        return;
    }
    if (msr == MSR_UCODE_WRITE || msr == MSR_BIOS_SIGN_ID || mce_write(s, msr, v))
        return;
    uint64_t *slot = msr_slot(s, msr);
    if (!slot)
        soft_raise(s, EXC_GP, 0);
    if ((msr == MSR_FS_BASE || msr == MSR_GS_BASE || msr == MSR_KERNEL_GS_BASE ||
         msr == MSR_LSTAR || msr == MSR_CSTAR) && !canonical64(v))
        soft_raise(s, EXC_GP, 0);
    if (msr == MSR_APIC_BASE) {
        /* base (36 physical address bits) and global enable; BSP (8) is read-only; EXTD
         * (10) is reserved, as the model has no x2APIC (CPUID.1:ECX.x2APIC clear) */
        if (v & ~(APIC_BASE_ADDR | APIC_BASE_EN | APIC_BASE_BSP))
            soft_raise(s, EXC_GP, 0);
        v = (v & ~(uint64_t)APIC_BASE_BSP) | (s->msr.apic_base & APIC_BASE_BSP);
        *slot = v;
        if (s->hooks.apic_base)
            s->hooks.apic_base(s->hooks.opaque, v);
        return;
    }
    *slot = v;
}

void cpu_model_cpuid(uint32_t leaf, uint32_t out[4])
{
    uint32_t a = 0, b = 0, c = 0, d = 0;
    switch (leaf) {
    case 0:
        a = 2;
        b = 0x756E6547; /* "Genu" */
        d = 0x49656E69; /* "ineI" */
        c = 0x6C65746E; /* "ntel" */
        break;
    case 1:
        a = CPUID_SIGNATURE;
        b = CPUID_EBX;
        c = CPUID_ECX | (sse4_host_ok() ? CPUID_ECX_V2 : 0);
        d = CPUID_EDX;
        break;
    case 2:
        /* descriptors with 64-byte lines like CLFLUSH's: 2C L1d 32 KiB, 30 L1i 32 KiB,
         * B0 ITLB 128 x 4 KiB, B3 DTLB 128 x 4 KiB, 87 L2 1 MiB */
        a = 0xB0302C01;
        b = 0x000087B3;
        break;
    case 0x80000000u:
        a = 0x80000008u;
        break;
    case 0x80000001u:
        c = CPUID_EXT_ECX;
        d = CPUID_EXT_EDX;
        break;
    case 0x80000008u:
        a = CPUID_ADDR_SIZES;
        break;
    default:
        break;
    }
    out[0] = a;
    out[1] = b;
    out[2] = c;
    out[3] = d;
}

void cpu_model_cpuid_vmware(uint32_t leaf, uint32_t tsc_khz, uint32_t out[4])
{
    cpu_model_cpuid(leaf, out);
    if (leaf == 1) {
        out[2] |= CPU_MODEL_1_ECX_HYPERVISOR;
    } else if (leaf == CPU_MODEL_HV_LEAF) {
        out[0] = CPU_MODEL_HV_TIMING;
        out[1] = 0x61774D56; /* "VMwa" */
        out[2] = 0x4D566572; /* "reVM" */
        out[3] = 0x65726177; /* "ware" */
    } else if (leaf == CPU_MODEL_HV_TIMING) {
        out[0] = tsc_khz;
        out[1] = CPU_MODEL_BUS_KHZ;
        out[2] = 0; /* no VMCALL/VMMCALL hypercalls: the guest uses the backdoor port */
    }
}

void soft_cpuid(struct soft *s)
{
    uint32_t v[4];
    if (s->hooks.vmware_platform)
        cpu_model_cpuid_vmware(s->r[GPR_AX], CPU_MODEL_TSC_KHZ, v);
    else
        cpu_model_cpuid(s->r[GPR_AX], v);
    if ((uint32_t)s->r[GPR_AX] == 1 && !(s->msr.apic_base & APIC_BASE_EN))
        v[3] &= ~CPUID_1_EDX_APIC; /* the local APIC is globally disabled (SDM vol. 3 11.4.3) */
    s->r[GPR_AX] = v[0];
    s->r[GPR_BX] = v[1];
    s->r[GPR_CX] = v[2];
    s->r[GPR_DX] = v[3];
}

/* DRn = v (n: 0..3, 6, 7), the fixed bits of DR6 and DR7 forced as a P6 has them. */
void soft_set_dr(struct soft *s, unsigned n, uint64_t v)
{
    if (n == 6)
        v = (v & 0xE00F) | 0xFFFF0FF0u;
    else if (n == 7)
        v = (v & 0xFFFF2BFFu) | 0x400;
    s->dr[n] = v;
    soft_update_breakpoints(s);
}

/*
 * Long mode is active (EFER.LMA) while paging is on with EFER.LME: enabling
 * paging with LME needs CR4.PAE and a CS without L, and paging can be turned
 * off again only from compatibility mode (SDM vol. 3 9.8.5, MOV CR0).
 */
static void long_mode_switch(struct soft *s, uint32_t old, uint32_t v)
{
    bool to_pg = (v & CR0_PG) && !(old & CR0_PG), from_pg = !(v & CR0_PG) && (old & CR0_PG);
    if (to_pg && (s->msr.efer & EFER_LME)) {
        if (!(s->cr4 & CR4_PAE) || (s->seg[SEG_CS].attr & 0x2000))
            soft_raise(s, EXC_GP, 0);
        s->msr.efer |= EFER_LMA;
    }
    if (from_pg && (s->msr.efer & EFER_LMA)) {
        if (s->seg[SEG_CS].attr & 0x2000)
            soft_raise(s, EXC_GP, 0);
        s->msr.efer &= ~(uint64_t)EFER_LMA;
    }
}

void soft_write_cr(struct soft *s, int n, uint32_t v)
{
    switch (n) {
    case 0: {
        if ((v & CR0_PG) && !(v & CR0_PE))
            soft_raise(s, EXC_GP, 0);
        if ((v & CR0_NW) && !(v & CR0_CD))
            soft_raise(s, EXC_GP, 0);
        uint32_t old = s->cr0;
        long_mode_switch(s, old, v);
        s->cr0 = v | CR0_ET;
        if ((old ^ s->cr0) & (CR0_PG | CR0_WP | CR0_PE))
            tlb_flush(s, false);
        if ((old ^ s->cr0) & CR0_PE) {
            if (!(s->cr0 & CR0_PE))
                soft_set_cpl(s, 0);
            for (int i = 0; i < 6; i++)
                seg_update(s, i);
        }
        return;
    }
    case 2: s->cr2 = v; return;
    case 3:
        s->cr3 = v;
        tlb_flush(s, true);
        return;
    case 4:
        if (v & ~(uint32_t)(CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_PGE | CR4_PCE | CR4_MCE |
                            CR4_OSFXSR | CR4_OSXMMEXCPT))
            soft_raise(s, EXC_GP, 0);
        if ((s->msr.efer & EFER_LMA) && !(v & CR4_PAE))
            soft_raise(s, EXC_GP, 0);
        s->cr4 = v;
        tlb_flush(s, false);
        return;
    default:
        soft_raise_noerr(s, EXC_UD);
    }
}

static void mov_cr(struct soft *s, const struct insn *in)
{
    need_cpl0(s);
    unsigned n = insn_reg(in);
    if (n == 1 || n > 4)
        soft_raise_noerr(s, EXC_UD);
    if (in->op == 0x122) {
        soft_write_cr(s, (int)n, s->r[insn_rm(in)]);
        return;
    }
    uint32_t v = n == 0 ? s->cr0 : n == 2 ? s->cr2 : n == 3 ? s->cr3 : s->cr4;
    s->r[insn_rm(in)] = v;
}

static void mov_dr(struct soft *s, const struct insn *in)
{
    need_cpl0(s);
    unsigned n = insn_reg(in);
    if ((n == 4 || n == 5) && (s->cr4 & CR4_DE))
        soft_raise_noerr(s, EXC_UD);
    if (n == 4 || n == 5)
        n += 2;
    if (in->op == 0x123) {
        soft_set_dr(s, n, (uint32_t)s->r[insn_rm(in)]);
        return;
    }
    s->r[insn_rm(in)] = s->dr[n];
}

void soft_update_breakpoints(struct soft *s)
{
    uint32_t dr7 = s->dr[7];
    s->bp_exec = 0;
    for (int i = 0; i < 4; i++)
        if (((dr7 >> (2 * i)) & 3) && ((dr7 >> (16 + 4 * i)) & 3) == 0)
            s->bp_exec |= (uint8_t)(1u << i);
    s->block_end = true; /* the next instruction may be a breakpoint: leave the block */
}

static void dtable_store(struct soft *s, const struct insn *in, const struct cpu_dtable *t)
{
    uint32_t ea = insn_ea(s, in);
    uint32_t amask = (in->pfx & P_ADDR32) ? 0xFFFFFFFFu : 0xFFFF;
    seg_lin(s, in->seg, ea, 2, SEG_W);
    seg_lin(s, in->seg, (ea + 2) & amask, 4, SEG_W);
    mwrite(s, in->seg, ea, t->limit, 2);
    uint32_t base = (uint32_t)t->base;
    if (!(in->pfx & P_OP32))
        base &= 0xFFFFFF;
    mwrite(s, in->seg, (ea + 2) & amask, base, 4);
}

static void dtable_load(struct soft *s, const struct insn *in, struct cpu_dtable *t)
{
    need_cpl0(s);
    uint32_t ea = insn_ea(s, in);
    uint32_t amask = (in->pfx & P_ADDR32) ? 0xFFFFFFFFu : 0xFFFF;
    uint16_t limit = (uint16_t)mread(s, in->seg, ea, 2);
    uint32_t base = mread(s, in->seg, (ea + 2) & amask, 4);
    if (!(in->pfx & P_OP32))
        base &= 0xFFFFFF;
    t->limit = limit;
    t->base = base;
}

static void group7(struct soft *s, const struct insn *in)
{
    uint32_t v;
    switch (insn_reg(in)) {
    case 0: dtable_store(s, in, &s->gdt); return;
    case 1: dtable_store(s, in, &s->idt); return;
    case 2: dtable_load(s, in, &s->gdt); return;
    case 3: dtable_load(s, in, &s->idt); return;
    case 4:
        if (is_mem(in))
            rm_write(s, in, s->cr0 & 0xFFFF, 2);
        else
            reg_set(s, insn_rm(in), s->cr0, osize(in));
        return;
    case 6:
        need_cpl0(s);
        v = rm_read(s, in, 2);
        v = (s->cr0 & ~0xEu) | (v & 0xF) | (s->cr0 & CR0_PE);
        soft_write_cr(s, 0, v);
        return;
    default:
        need_cpl0(s);
        tlb_flush_page(s, (uint32_t)(s->seg[in->seg].base + insn_ea(s, in)));
        return;
    }
}

static void group6(struct soft *s, const struct insn *in)
{
    need_pmode(s);
    bool ok;
    switch (insn_reg(in)) {
    case 0:
        if (is_mem(in))
            rm_write(s, in, s->ldtr.sel, 2);
        else
            reg_set(s, insn_rm(in), s->ldtr.sel, osize(in));
        return;
    case 1:
        if (is_mem(in))
            rm_write(s, in, s->tr.sel, 2);
        else
            reg_set(s, insn_rm(in), s->tr.sel, osize(in));
        return;
    case 2:
        need_cpl0(s);
        soft_lldt(s, (uint16_t)rm_read(s, in, 2));
        return;
    case 3:
        need_cpl0(s);
        soft_ltr(s, (uint16_t)rm_read(s, in, 2));
        return;
    default:
        soft_lar_lsl(s, (uint16_t)rm_read(s, in, 2), insn_reg(in) == 4 ? 2 : 3, &ok);
        flags_set_arith(s, (arith_flags(s) & ~FL_ZF) | (ok ? FL_ZF : 0));
        return;
    }
}

static void lar_lsl(struct soft *s, const struct insn *in)
{
    need_pmode(s);
    bool ok;
    uint32_t v = soft_lar_lsl(s, (uint16_t)rm_read(s, in, 2), in->op == 0x102 ? 0 : 1, &ok);
    flags_set_arith(s, (arith_flags(s) & ~FL_ZF) | (ok ? FL_ZF : 0));
    if (ok)
        reg_set(s, insn_reg(in), v, osize(in));
}

void exec_sys(struct soft *s, const struct insn *in)
{
    uint64_t t;
    switch (in->op) {
    case 0x100: group6(s, in); return;
    case 0x101: group7(s, in); return;
    case 0x102: case 0x103: lar_lsl(s, in); return;
    case 0x106:
        need_cpl0(s);
        s->cr0 &= ~CR0_TS;
        return;
    case 0x108: case 0x109: need_cpl0(s); return;
    case 0x120: case 0x122: mov_cr(s, in); return;
    case 0x121: case 0x123: mov_dr(s, in); return;
    case 0x130: soft_wrmsr(s); return;
    case 0x131:
        if ((s->cr4 & CR4_TSD) && !privileged(s))
            soft_raise(s, EXC_GP, 0);
        t = tsc_now(s);
        s->r[GPR_AX] = (uint32_t)t;
        s->r[GPR_DX] = (uint32_t)(t >> 32);
        return;
    case 0x132: soft_rdmsr(s); return;
    case 0x133:
        if ((!(s->cr4 & CR4_PCE) && !privileged(s)) || s->r[GPR_CX] > 1)
            soft_raise(s, EXC_GP, 0);
        s->r[GPR_AX] = (uint32_t)s->perf[s->r[GPR_CX] & 1];
        s->r[GPR_DX] = (uint32_t)(s->perf[s->r[GPR_CX] & 1] >> 32) & 0xFF;
        return;
    case 0x134: soft_sysenter(s); return;
    case 0x135: soft_sysexit(s, in->pfx & P_OP64); return;
    case 0x1A2: soft_cpuid(s); return;
    default: soft_raise_noerr(s, EXC_UD);
    }
}
