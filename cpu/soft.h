/*
 * The software x86 core's internal state and the calls between its files:
 * soft.c (backend glue, run loop, block cache), decode.c (decoded form),
 * mmu.c (segments, paging, software TLB, memory access), seg.c (descriptor
 * loads, far transfers, interrupts, task switches), exec_fast.c (the inner
 * loop and its inline fast forms), exec.c, exec_0f.c, exec_str.c,
 * exec_sse.c, exec_sys.c and exec64.c (64-bit mode) (instruction semantics). Faults go through one function, soft_raise(),
 * which records the exception and unwinds to the run loop (siglongjmp);
 * nothing else in the core changes control flow behind the caller's back.
 */
#ifndef VMPLAY_CPU_SOFT_H
#define VMPLAY_CPU_SOFT_H

#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>

#include "cpu/backend.h"
#include "cpu/decode.h"
#include "cpu/fpu.h"
#include "cpu/sse.h"

/* EFLAGS bits. */
#define FL_CF 0x0001u
#define FL_PF 0x0004u
#define FL_AF 0x0010u
#define FL_ZF 0x0040u
#define FL_SF 0x0080u
#define FL_TF 0x0100u
#define FL_IF 0x0200u
#define FL_DF 0x0400u
#define FL_OF 0x0800u
#define FL_IOPL 0x3000u
#define FL_NT 0x4000u
#define FL_RF 0x10000u
#define FL_VM 0x20000u
#define FL_AC 0x40000u
#define FL_VIF 0x80000u
#define FL_VIP 0x100000u
#define FL_ID 0x200000u
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

#define CR0_PE 0x1u
#define CR0_MP 0x2u
#define CR0_EM 0x4u
#define CR0_TS 0x8u
#define CR0_ET 0x10u
#define CR0_NE 0x20u
#define CR0_WP 0x10000u
#define CR0_AM 0x40000u
#define CR0_NW 0x20000000u
#define CR0_CD 0x40000000u
#define CR0_PG 0x80000000u

#define CR4_VME 0x1u
#define CR4_PVI 0x2u
#define CR4_TSD 0x4u
#define CR4_DE 0x8u
#define CR4_PSE 0x10u
#define CR4_PAE 0x20u
#define CR4_MCE 0x40u
#define CR4_PGE 0x80u
#define CR4_PCE 0x100u
#define CR4_OSFXSR 0x200u
#define CR4_OSXMMEXCPT 0x400u

#define EFER_SCE 0x1u
#define EFER_LME 0x100u
#define EFER_LMA 0x400u
#define EFER_NXE 0x800u

/* Exception vectors. */
enum {
    EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5, EXC_UD = 6,
    EXC_NM = 7, EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12, EXC_GP = 13, EXC_PF = 14,
    EXC_MF = 16, EXC_AC = 17, EXC_MC = 18, EXC_XM = 19,
};

/* Lazy flags: the last flag-setting operation, its operands and result. 64-bit
 * ADD and SUB/CMP have ops of their own, so the 32-bit fast paths never see them. */
enum cc_op { CC_NONE, CC_ADD, CC_ADC, CC_SUB, CC_SBB, CC_LOGIC, CC_INC, CC_DEC, CC_MUL, CC_ADD64, CC_SUB64 };

struct lazy_cc {
    uint32_t res, src1, src2;
    uint8_t op;   /* enum cc_op; CC_NONE: the arithmetic flags are in s->flags */
    uint8_t size; /* operand bytes 1, 2, 4, 8 */
    uint8_t cin;  /* ADC/SBB carry in; INC/DEC: the CF they keep */
    uint32_t res_hi, src1_hi, src2_hi; /* size 8: the upper halves */
};

/* A segment register with its hidden part and derived access checks. */
#define SEG_R 1u
#define SEG_W 2u
struct seg {
    uint64_t base; /* 64 bits for FS/GS in long mode; legacy loads fill the low half */
    uint32_t limit;
    uint16_t sel, attr; /* attr in the cpu.h (VMX) layout */
    uint32_t lo, span;  /* valid offsets: lo..lo+span, inclusive */
    uint8_t ok;         /* SEG_R | SEG_W */
};

/* Software TLB: linear page -> guest-physical page and host pointer (RAM only). */
#define TLB_SIZE 256
#define TLB_NONE 1u /* tag that matches no page */
struct tlb_entry {
    uint64_t tag_r, tag_w, tag_x; /* linear page when that access is allowed, else TLB_NONE */
    uint8_t *host;                /* NULL: not RAM (tags stay NONE for r/w) */
    uint64_t phys;
    uint8_t global;
} __attribute__((aligned(64))); /* a power of two: the index is one shift */

/* A block of decoded instructions, keyed by guest-physical address and mode. */
struct block {
    uint64_t phys;           /* of the first instruction */
    uint64_t lin;            /* CS.base + RIP at decode time (jump cache key) */
    uint64_t eip;
    uint8_t mode;            /* BLOCK_LONG | BLOCK_CODE32 (block_mode) */
    uint8_t valid;
    uint16_t n;              /* instructions */
    uint16_t bytes;          /* code bytes covered */
    struct block *hash_next; /* same hash bucket */
    struct block *page_next; /* same page bucket */
    struct block *link[2];   /* the last two blocks that followed this one (checked before use) */
    uint8_t link_next;       /* which link[] the next new successor replaces */
    uint32_t execs;          /* entries through run_blocks while the JIT is on (jit.c) */
    void *code;              /* host code of the block (jit.c), or NULL */
    uint8_t jit_segs;        /* segments its inline accesses assume flat (bit per SEG_*) */
    void *jit_chain;         /* the entry other translated blocks jump to (checks first), or NULL */
    struct insn insn[]; /* n instructions, then the end marker (block_seal) */
};
#define BLOCK_LONG 1u   /* CS.L (64-bit code while EFER.LMA; ignored outside long mode) */
#define BLOCK_CODE32 2u /* CS.D */
#define BLOCK_MAX_INSNS 48
#define BLOCK_HASH 8192
#define PAGE_HASH 4096
#define JCACHE 4096
#define ARENA_BYTES (16u << 20)
/* Code-cache events, counted always (cheap) and printed by VMPLAY_JIT_STATS (jit.c). */
enum jit_stat {
    JST_INVAL_CPU,    /* blocks dropped by guest stores to their bytes */
    JST_INVAL_DMA,    /* blocks dropped by device writes (bus listener) */
    JST_INVAL_JIT,    /* of them, blocks that had host code */
    JST_FLUSH_ARENA,  /* whole-cache flushes: the block arena was full */
    JST_FLUSH_REQ,    /* whole-cache flush requests (JIT cache full, A20, memory map, reset) */
    JST_COUNT
};
#define MC_BANKS 5 /* machine-check banks that MCG_CAP announces (cpu/exec_sys.c) */

struct soft {
    struct cpu cpu;
    /* architectural state */
    /* GPRs in encoding order (RAX..R15); r[NOREG] stays 0 (an absent base or index).
     * 32-bit writes zero-extend to 64 bits, 8/16-bit writes merge. */
    uint64_t r[NOREG + 1];
    uint64_t eip, next_eip; /* RIP; outside long mode the upper half is not architectural */
    uint32_t flags; /* all of EFLAGS but the arithmetic bits while cc.op != CC_NONE */
    struct lazy_cc cc;
    struct seg seg[6], ldtr, tr;
    struct cpu_dtable gdt, idt;
    uint32_t cr0, cr4;
    uint64_t cr2, cr3; /* 64-bit linear fault address, PML4 base in long mode */
    uint32_t cr8;      /* TPR[7:4]; with the local APIC enabled, read from and written to it */
    uint64_t dr[8];
    uint8_t bp_exec; /* bit n: DR7 enables DRn as an instruction breakpoint (R/W = 00) */
    struct cpu_msrs msr;
    int64_t tsc_offset;
    uint64_t perf[4]; /* P6 PERFCTR0/1 (0xC1, 0xC2) and EVNTSEL0/1 (0x186, 0x187): stored only */
    /* machine check: MCG_CTL and the banks' MCi_CTL (no error is ever logged) */
    uint64_t mcg_ctl, mc_ctl[MC_BANKS];
    int cpl;
    bool halted, shadow, a20;
    bool ss_shadow; /* after MOV SS / POP SS the shadow also holds back breakpoints and TF traps */
    bool intr_line;
    bool nmi_pending, nmi_blocked; /* an NMI edge not yet taken; blocked until IRET */
    /* units */
    struct fpu *fpu;
    struct sse_state sse; /* XMM registers and MXCSR */
    struct bus *bus;
    struct clock *clock;
    struct cpu_hooks hooks;
    FILE *trace;       /* exceptions and interrupts (--trace=cpu or exc) */
    bool trace_blocks; /* and every block run (--trace=cpu): the careful path */
    atomic_bool stop;
    /* faults */
    sigjmp_buf jb;
    int exc_vec;        /* pending exception being raised */
    uint32_t exc_err;
    bool exc_has_err;
    int delivering;     /* vector being delivered, or -1 */
    bool shutdown;
    bool block_end;     /* the current instruction ends the block early */
    /* memory */
    uint64_t a20_mask;
    struct tlb_entry tlb[2][TLB_SIZE]; /* [user] */
    struct tlb_entry *tlb_cur;         /* tlb[cpl == 3] (soft_set_cpl keeps it) */
    uint16_t *code_pages;              /* per 4 KiB page below 4 GiB: blocks cached there */
    /* code cache */
    uint8_t *arena;
    size_t arena_used;
    struct block *hash[BLOCK_HASH];
    struct block *page_hash[PAGE_HASH];
    struct block *jcache[JCACHE];
    uint32_t code_gen; /* bumped when blocks are invalidated */
    uint32_t arena_epoch; /* bumped when the arena is emptied (every block pointer dies) */
    bool flush_pending;
    /* accounting */
    uint64_t icount, icount_clocked;
    int64_t deadline;
    int64_t ns_per_insn; /* learnt from the deterministic clock (0: not yet) */
    /* translator (jit.c): NULL while off */
    struct jit *jit;
    uint32_t jit_val;    /* a slow-path load's value */
    uint64_t jit_icount; /* instructions run in translated blocks */
    uint64_t jit_helped; /* of them, through soft_exec (jit_exec) */
    uint64_t jit_limit;  /* run_blocks' instruction limit, for chained entries (jit.c) */
    void *jit_exit;      /* the unlinked exit translated code last left by (jit.c), or NULL */
    uint64_t jit_chained; /* block entries through a chained jump */
    uint8_t jit_nonflat;  /* segments not flat when the running chain was entered (jit.c) */
    uint64_t jst[JST_COUNT]; /* code-cache counters for VMPLAY_JIT_STATS (enum jit_stat) */
};

static inline struct soft *soft_of(struct cpu *c)
{
    return (struct soft *)c;
}

/* Every change of the current privilege level goes through here. */
static inline void soft_set_cpl(struct soft *s, int cpl)
{
    s->cpl = cpl;
    s->tlb_cur = s->tlb[cpl == 3];
}

/* soft.c */
_Noreturn void soft_raise(struct soft *s, int vec, uint32_t err);
_Noreturn void soft_raise_noerr(struct soft *s, int vec);
void soft_invalidate_phys(struct soft *s, uint64_t gpa, uint64_t len);
void soft_flush_code(struct soft *s);
uint32_t soft_get_eflags(struct soft *s);
void soft_set_eflags(struct soft *s, uint32_t v, uint32_t mask);
void soft_materialize(struct soft *s);
/* Brings virtual time up to the instructions retired so far (before device access). */
void soft_sync_clock(struct soft *s);
uint32_t cc_compute(const struct lazy_cc *cc);

/* exec_fast.c: the inner loop over a block's instructions */
uint8_t fast_form(const struct insn *in);
/* Ends b's instruction array after its b->n instructions with the marker the inner loop stops at. */
void block_seal(struct block *b);
/* Runs at most max instructions of b and, while fewer than limit instructions
 * have retired and nothing needs attention, the blocks linked after it; returns
 * the last block it ran. */
struct block *block_run(struct soft *s, struct block *b, unsigned max, uint64_t limit);

/* The decoding mode of CS: its L and D bits. */
static inline uint8_t block_mode(const struct soft *s)
{
    return (uint8_t)((s->seg[SEG_CS].attr >> 13) & 3);
}

/* 64-bit mode: EFER.LMA with CS.L (compatibility mode is LMA without it). */
static inline bool soft_code64(const struct soft *s)
{
    return (s->msr.efer & EFER_LMA) && (s->seg[SEG_CS].attr & 0x2000);
}

/* Nothing but instruction execution needs attention. */
static inline bool soft_quiet(struct soft *s)
{
    return !s->halted && !s->shadow && !(s->flags & FL_TF) && !s->bp_exec && !s->flush_pending &&
           !s->nmi_pending &&
           !(s->intr_line && (s->flags & FL_IF)) &&
           !atomic_load_explicit(&s->stop, memory_order_relaxed);
}

/* b can run for lin in this mode: cached, still valid, and its page still mapped there. */
static inline bool block_usable(const struct block *b, uint64_t lin, uint8_t mode,
                                const struct tlb_entry *e)
{
    return b && b->lin == lin && b->valid && b->mode == mode && e->tag_x == (lin & ~(uint64_t)0xFFF) &&
           e->phys == (b->phys & ~0xFFFull);
}

/* The successor of prev remembered in its links that can run at lin, or NULL. */
static inline struct block *block_linked(const struct block *prev, uint64_t lin, uint8_t mode,
                                         const struct tlb_entry *e)
{
    if (block_usable(prev->link[0], lin, mode, e))
        return prev->link[0];
    if (block_usable(prev->link[1], lin, mode, e))
        return prev->link[1];
    return NULL;
}

/* jit.c: --jit (soft_jit_mode: -1 VMPLAY_JIT=on decides, 0 off, 1 on) */
extern int soft_jit_mode;
extern unsigned jit_threshold; /* entries before a block is translated */
extern bool jit_helpers;       /* other instructions become soft_exec calls (else: block refused) */
bool jit_wanted(void);
bool jit_init(struct soft *s); /* false: no executable memory, the interpreter alone */
void jit_free(struct soft *s);
void jit_reset(struct soft *s); /* with the block arena */
bool jit_translate(struct soft *s, struct block *b);
/* Runs b once (translated when hot and the segments are flat, else interpreted). */
struct block *jit_run(struct soft *s, struct block *b, uint64_t limit);

/* mmu.c */
void tlb_flush(struct soft *s, bool keep_global);
void tlb_flush_page(struct soft *s, uint64_t lin);
void tlb_flush_phys(struct soft *s, uint64_t page);
/* Linear addresses are 64-bit; outside long mode they wrap at 4 GiB. */
uint64_t mmu_translate(struct soft *s, uint64_t lin, int acc, bool user); /* acc: 0 r, 1 w, 2 x */
uint64_t lin_read(struct soft *s, uint64_t lin, unsigned size, bool user); /* zero-extended */
void lin_write(struct soft *s, uint64_t lin, uint32_t v, unsigned size, bool user);
void lin_probe_write(struct soft *s, uint64_t lin, unsigned size, bool user);
uint64_t lin_read64(struct soft *s, uint64_t lin, bool user);
void lin_write64(struct soft *s, uint64_t lin, uint64_t v, bool user);
uint32_t phys_read(struct soft *s, uint64_t pa, unsigned size);
void phys_write(struct soft *s, uint64_t pa, uint32_t v, unsigned size);
const uint8_t *code_page(struct soft *s, uint64_t lin, uint64_t *phys);
_Noreturn void seg_fault(struct soft *s, int seg);
void seg_update(struct soft *s, int idx);

/* Fast-path memory access through the TLB (RAM pages, no page crossing). */
static inline bool soft_user(const struct soft *s)
{
    return s->cpl == 3;
}

static inline uint32_t load_le(const uint8_t *p, unsigned size)
{
    uint32_t v4;
    uint16_t v2;
    if (size == 4) {
        __builtin_memcpy(&v4, p, 4);
        return v4;
    }
    if (size == 2) {
        __builtin_memcpy(&v2, p, 2);
        return v2;
    }
    return *p;
}

static inline void store_le(uint8_t *p, uint32_t v, unsigned size)
{
    uint16_t v2 = (uint16_t)v;
    if (size == 4)
        __builtin_memcpy(p, &v, 4);
    else if (size == 2)
        __builtin_memcpy(p, &v2, 2);
    else
        *p = (uint8_t)v;
}

/*
 * The tag a TLB hit for lin..lin+size-1 must find in the entry of lin's page:
 * that of the access's last byte. An access that crosses into the next page
 * names a page that cannot sit in lin's entry (its index differs by one), so
 * it misses and takes the slow path, which splits it.
 */
static inline uint64_t tlb_tag(uint64_t lin, unsigned size)
{
    return (lin + size - 1) & ~(uint64_t)0xFFF;
}

/* Reads return the value zero-extended to 64 bits (stores into a GPR need no extension). */
static inline uint64_t vread(struct soft *s, uint64_t lin, unsigned size)
{
    struct tlb_entry *e = &s->tlb_cur[(lin >> 12) & (TLB_SIZE - 1)];
    if (e->tag_r == tlb_tag(lin, size))
        return load_le(e->host + (lin & 0xFFF), size);
    return lin_read(s, lin, size, s->cpl == 3);
}

static inline void vwrite(struct soft *s, uint64_t lin, uint32_t v, unsigned size)
{
    struct tlb_entry *e = &s->tlb_cur[(lin >> 12) & (TLB_SIZE - 1)];
    if (e->tag_w == tlb_tag(lin, size)) {
        store_le(e->host + (lin & 0xFFF), v, size);
        return;
    }
    lin_write(s, lin, v, size, s->cpl == 3);
}

/* 8-byte accesses at a 64-bit linear address (64-bit mode), the same way. */
static inline uint64_t vread64(struct soft *s, uint64_t lin)
{
    struct tlb_entry *e = &s->tlb_cur[(lin >> 12) & (TLB_SIZE - 1)];
    uint64_t v;
    if (e->tag_r == tlb_tag(lin, 8)) {
        __builtin_memcpy(&v, e->host + (lin & 0xFFF), 8);
        return v;
    }
    return lin_read64(s, lin, s->cpl == 3);
}

static inline void vwrite64(struct soft *s, uint64_t lin, uint64_t v)
{
    struct tlb_entry *e = &s->tlb_cur[(lin >> 12) & (TLB_SIZE - 1)];
    if (e->tag_w == tlb_tag(lin, 8)) {
        __builtin_memcpy(e->host + (lin & 0xFFF), &v, 8);
        return;
    }
    lin_write64(s, lin, v, s->cpl == 3);
}

/* Segment-checked linear address of seg:off for an access of size bytes. */
static inline uint32_t seg_lin(struct soft *s, int seg, uint32_t off, unsigned size, unsigned need)
{
    const struct seg *g = &s->seg[seg];
    if (__builtin_expect(!(g->ok & need) || (uint64_t)(uint32_t)(off - g->lo) + size - 1 > g->span, 0))
        seg_fault(s, seg);
    return (uint32_t)g->base + off;
}

static inline uint64_t mread(struct soft *s, int seg, uint32_t off, unsigned size)
{
    return vread(s, seg_lin(s, seg, off, size, SEG_R), size);
}

static inline void mwrite(struct soft *s, int seg, uint32_t off, uint32_t v, unsigned size)
{
    vwrite(s, seg_lin(s, seg, off, size, SEG_W), v, size);
}

/* Read for a read-modify-write: the write is checked (and the page made writable) first. */
static inline uint64_t mread_rmw(struct soft *s, int seg, uint32_t off, unsigned size)
{
    uint32_t lin = seg_lin(s, seg, off, size, SEG_W);
    struct tlb_entry *e = &s->tlb_cur[(lin >> 12) & (TLB_SIZE - 1)];
    if (e->tag_w == tlb_tag(lin, size))
        return load_le(e->host + (lin & 0xFFF), size);
    lin_probe_write(s, lin, size, s->cpl == 3);
    return lin_read(s, lin, size, s->cpl == 3);
}

/* Supervisor (system) accesses: descriptor tables, TSS, IDT. */
static inline uint32_t sys_read(struct soft *s, uint64_t lin, unsigned size)
{
    return lin_read(s, lin, size, false);
}

static inline void sys_write(struct soft *s, uint64_t lin, uint32_t v, unsigned size)
{
    lin_write(s, lin, v, size, false);
}

/* seg.c */
bool soft_pmode(const struct soft *s);
bool soft_v86(const struct soft *s);
void seg_load(struct soft *s, int idx, uint16_t sel);          /* MOV/POP/LDS... checks */
void seg_load_real(struct soft *s, int idx, uint16_t sel);     /* real/V86 semantics */
void seg_set_cache(struct soft *s, int idx, uint16_t sel, uint32_t base, uint32_t limit,
                   uint16_t attr);
void far_jmp(struct soft *s, uint16_t sel, uint32_t off, bool op32);
void far_call(struct soft *s, uint16_t sel, uint32_t off, bool op32);
void far_ret(struct soft *s, bool op32, uint16_t imm);
void soft_iret(struct soft *s, bool op32);
void soft_interrupt(struct soft *s, int vec, bool sw, bool has_err, uint32_t err, uint64_t ret_eip);
void soft_iret64(struct soft *s, unsigned size);
void far_ret64(struct soft *s, unsigned size, uint16_t imm);
void far_jmp64(struct soft *s, uint16_t sel, uint64_t off);
void far_call64(struct soft *s, uint16_t sel, uint64_t off, unsigned size);
void soft_syscall(struct soft *s);
void soft_sysret(struct soft *s, bool to64);
void soft_lldt(struct soft *s, uint16_t sel);
void soft_ltr(struct soft *s, uint16_t sel);
bool soft_io_allowed(struct soft *s, uint16_t port, unsigned size);
uint32_t soft_lar_lsl(struct soft *s, uint16_t sel, int which, bool *ok); /* 0 lar 1 lsl 2 verr 3 verw */
void soft_sysenter(struct soft *s);
void soft_sysexit(struct soft *s, bool to64);
void push_v(struct soft *s, uint32_t v, bool op32);
uint32_t pop_v(struct soft *s, bool op32);

/* exec64.c: 64-bit mode; false when the legacy implementation of in applies */
bool exec64(struct soft *s, const struct insn *in);
/* A 64-bit address whose bits 63:47 are all equal (48-bit linear addresses). */
static inline bool canonical64(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* exec.c / exec_sys.c */
void soft_exec(struct soft *s, const struct insn *in);
void exec_0f(struct soft *s, const struct insn *in);
void exec_sys(struct soft *s, const struct insn *in);
void soft_cpuid(struct soft *s);
/* Recomputes bp_exec after DR7 changes. */
void soft_update_breakpoints(struct soft *s);
void soft_rdmsr(struct soft *s);
void soft_wrmsr(struct soft *s);
void soft_write_cr(struct soft *s, int n, uint32_t v);
void soft_msr_reset(struct soft *s);
void exec_fpu(struct soft *s, const struct insn *in);
void exec_mmx(struct soft *s, const struct insn *in);
bool is_mmx_op(unsigned op); /* a 0F-map opcode of the P6 MMX set */
void soft_set_dr(struct soft *s, unsigned n, uint64_t v); /* MOV DRn, with DR6/DR7 fixed bits */
/* exec_sse.c */
bool sse_claims(const struct insn *in);
void exec_sse(struct soft *s, const struct insn *in);
void exec_sse_group(struct soft *s, const struct insn *in); /* 0F AE /2../7 */
void sse_fxsave(struct soft *s, uint8_t out[512], unsigned nxmm);
void sse_fxrstor(struct soft *s, const uint8_t in[512], unsigned nxmm);

/* Effective address (offset in its segment) of a ModRM memory operand. */
static inline uint32_t insn_ea(const struct soft *s, const struct insn *in)
{
    uint32_t ea = in->disp + s->r[in->base] + (s->r[in->index] << in->scale);
    return (in->pfx & P_ADDR32) ? ea : ea & 0xFFFF;
}

/* A 16-bit register write: the upper 48 bits stay. */
static inline uint64_t reg_merge16(uint64_t old, uint32_t v)
{
    return (old & ~(uint64_t)0xFFFF) | (v & 0xFFFF);
}

/* Stack width from SS.B. */
static inline bool stack32(const struct soft *s)
{
    return (s->seg[SEG_SS].attr >> 14) & 1;
}

#endif
