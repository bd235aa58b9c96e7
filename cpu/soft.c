/*
 * The software CPU backend: creation and state, the run loop, and the code
 * cache. Guest code is decoded once into blocks (struct block: a run of
 * struct insn ending at a control transfer, a state change or the end of a
 * page), cached by guest-physical address and mode, found again through a
 * jump cache keyed by linear address (checked against the TLB), and
 * invalidated per page when something writes over the bytes a block covers
 * (TLB slow path, bus slow path or DMA through the bus listener). Blocks
 * live in one arena that is reset when full or when the memory map changes.
 *
 * Faults: soft_raise() records the exception and siglongjmps to cpu_run,
 * which delivers it (with the #DF / triple-fault rules) and carries on.
 */
#include "cpu/soft.h"
#include "cpu/model.h"
#include "devices/trace.h"

#include <stdlib.h>
#include <string.h>

#define REALTIME_CHECK_INSNS 20000

_Noreturn void soft_raise(struct soft *s, int vec, uint32_t err)
{
    s->exc_vec = vec;
    s->exc_err = err;
    siglongjmp(s->jb, 1);
}

_Noreturn void soft_raise_noerr(struct soft *s, int vec)
{
    soft_raise(s, vec, 0);
}

/* ---- EFLAGS ---- */

void soft_materialize(struct soft *s)
{
    if (s->cc.op != CC_NONE) {
        s->flags = (s->flags & ~FL_ARITH) | cc_compute(&s->cc);
        s->cc.op = CC_NONE;
    }
}

uint32_t soft_get_eflags(struct soft *s)
{
    soft_materialize(s);
    return (s->flags & 0x3F7FD7u) | 2;
}

void soft_set_eflags(struct soft *s, uint32_t v, uint32_t mask)
{
    soft_materialize(s);
    uint32_t old = s->flags;
    s->flags = (((old & ~mask) | (v & mask)) & 0x3F7FD7u) | 2;
    if ((old ^ s->flags) & FL_VM) {
        if (s->flags & FL_VM)
            soft_set_cpl(s, 3);
        for (int i = 0; i < 6; i++)
            seg_update(s, i);
    }
}

/* ---- code cache ---- */

static unsigned block_hash(uint64_t phys, uint8_t mode)
{
    uint64_t h = (phys ^ (phys >> 13) ^ ((uint64_t)mode << 7)) * 0x9E3779B1u;
    return (unsigned)(h >> 7) & (BLOCK_HASH - 1);
}

static unsigned page_bucket(uint64_t page)
{
    return (unsigned)(page ^ (page >> 12)) & (PAGE_HASH - 1);
}

/* Drops every block; only called between blocks. */
static void code_flush_now(struct soft *s)
{
    memset(s->hash, 0, sizeof s->hash);
    memset(s->page_hash, 0, sizeof s->page_hash);
    memset(s->jcache, 0, sizeof s->jcache);
    memset(s->code_pages, 0, sizeof(uint16_t) << 20);
    s->arena_used = 0;
    s->arena_epoch++;
    s->flush_pending = false;
    tlb_flush(s, false);
    jit_reset(s);
}

void soft_flush_code(struct soft *s)
{
    s->jst[JST_FLUSH_REQ]++;
    s->flush_pending = true;
    s->code_gen++;
    s->block_end = true; /* the running block may be gone */
}

static void block_unlink(struct soft *s, struct block *b)
{
    struct block **pp = &s->hash[block_hash(b->phys, b->mode)];
    while (*pp && *pp != b)
        pp = &(*pp)->hash_next;
    if (*pp)
        *pp = b->hash_next;
    b->valid = 0;
    b->code = NULL;
    uint64_t page = b->phys >> 12;
    if (page < (1u << 20) && s->code_pages[page])
        s->code_pages[page]--;
}

void soft_invalidate_phys(struct soft *s, uint64_t gpa, uint64_t len)
{
    uint64_t end = gpa + len;
    for (uint64_t page = gpa >> 12; page <= (end - 1) >> 12 && page < (1u << 20); page++) {
        if (!s->code_pages[page])
            continue;
        struct block **pp = &s->page_hash[page_bucket(page)];
        while (*pp) {
            struct block *b = *pp;
            if (b->valid && (b->phys >> 12) == page && b->phys < end && b->phys + b->bytes > gpa) {
                *pp = b->page_next;
                s->jst[JST_INVAL_CPU]++;
                s->jst[JST_INVAL_JIT] += b->code != NULL;
                block_unlink(s, b);
                s->code_gen++;
                s->block_end = true;
                continue;
            }
            if (!b->valid && (b->phys >> 12) == page) {
                *pp = b->page_next;
                continue;
            }
            pp = &b->page_next;
        }
    }
}

static void listener_map_changed(void *opaque, uint64_t gpa, uint64_t size)
{
    struct soft *s = opaque;
    (void)gpa;
    (void)size;
    tlb_flush(s, false);
    soft_flush_code(s);
}

static void listener_ram_written(void *opaque, uint64_t gpa, uint64_t len)
{
    struct soft *s = opaque;
    if (len) {
        uint64_t before = s->jst[JST_INVAL_CPU];
        soft_invalidate_phys(s, gpa, len);
        s->jst[JST_INVAL_DMA] += s->jst[JST_INVAL_CPU] - before;
        s->jst[JST_INVAL_CPU] = before;
    }
}

static struct block *block_lookup(struct soft *s, uint64_t phys, uint8_t mode)
{
    for (struct block *b = s->hash[block_hash(phys, mode)]; b; b = b->hash_next)
        if (b->phys == phys && b->mode == mode)
            return b;
    return NULL;
}

static struct block *arena_block(struct soft *s)
{
    size_t max = sizeof(struct block) + (BLOCK_MAX_INSNS + 1) * sizeof(struct insn);
    if (s->arena_used + max > ARENA_BYTES) {
        s->jst[JST_FLUSH_ARENA]++;
        code_flush_now(s);
    }
    struct block *b = (struct block *)(s->arena + s->arena_used);
    b->link[0] = b->link[1] = NULL;
    b->link_next = 0;
    b->execs = 0;
    b->code = NULL;
    b->jit_chain = NULL;
    return b;
}

static void block_insert(struct soft *s, struct block *b)
{
    size_t sz = sizeof(struct block) + (b->n + 1u) * sizeof(struct insn);
    s->arena_used += (sz + 15) & ~(size_t)15;
    b->valid = 1;
    unsigned h = block_hash(b->phys, b->mode);
    b->hash_next = s->hash[h];
    s->hash[h] = b;
    uint64_t page = b->phys >> 12;
    unsigned pb = page_bucket(page);
    b->page_next = s->page_hash[pb];
    s->page_hash[pb] = b;
    if (page < (1u << 20)) {
        if (!s->code_pages[page])
            tlb_flush_phys(s, page << 12);
        s->code_pages[page]++;
    }
}

/* Bytes of code readable at eip without passing the CS limit (at most 15). */
/* 64-bit code: CS.L while EFER.LMA (decode_insn64, no CS limit). */
static bool mode64(const struct soft *s, uint8_t mode)
{
    return (mode & BLOCK_LONG) && (s->msr.efer & EFER_LMA);
}

static unsigned decode_in_mode(struct soft *s, const uint8_t *p, unsigned avail, uint8_t mode,
                               struct insn *in)
{
    if (mode64(s, mode))
        return decode_insn64(p, avail, in);
    return decode_insn(p, avail, mode & BLOCK_CODE32, in);
}

static unsigned cs_room(const struct soft *s, uint64_t rip)
{
    if (mode64(s, block_mode(s)))
        return 15;
    uint32_t eip = (uint32_t)rip;
    uint64_t room = (uint64_t)s->seg[SEG_CS].limit + 1 - eip;
    if (eip > s->seg[SEG_CS].limit)
        return 0;
    return room > 15 ? 15 : (unsigned)room;
}

/* An instruction that crosses into the next page: decoded each time, never cached. */
static struct block *block_cross(struct soft *s, const uint8_t *host, uint64_t lin, uint8_t mode)
{
    uint8_t buf[15];
    unsigned first = 0x1000 - (lin & 0xFFF), room = cs_room(s, s->eip);
    unsigned n = room < 15 ? room : 15;
    for (unsigned i = 0; i < n && i < first; i++)
        buf[i] = host[(lin & 0xFFF) + i];
    if (n > first) {
        uint64_t p2;
        const uint8_t *h2 = code_page(s, lin + first, &p2);
        for (unsigned i = first; i < n; i++)
            buf[i] = h2 ? h2[i - first] : (uint8_t)phys_read(s, p2 + i - first, 1);
    }
    struct block *b = arena_block(s);
    b->n = 1;
    b->valid = 0;
    b->mode = mode;
    if (!decode_in_mode(s, buf, n, mode, &b->insn[0]))
        soft_raise(s, EXC_GP, 0);
    b->insn[0].props |= I_CROSS;
    block_seal(b);
    return b;
}

static struct block *block_build(struct soft *s, const uint8_t *host, uint64_t phys, uint64_t lin,
                                 uint8_t mode)
{
    struct block *b = arena_block(s);
    unsigned off = phys & 0xFFF;
    uint64_t eip = s->eip;
    b->phys = phys;
    b->lin = lin;
    b->eip = eip;
    b->mode = mode;
    b->n = 0;
    while (b->n < BLOCK_MAX_INSNS && off < 0x1000) {
        unsigned avail = 0x1000 - off, room = cs_room(s, eip);
        if (avail > room)
            avail = room;
        struct insn *in = &b->insn[b->n];
        unsigned len = avail ? decode_in_mode(s, host + off, avail, mode, in) : 0;
        if (!len) {
            if (b->n)
                break;
            if (!room)
                soft_raise(s, EXC_GP, 0);
            return block_cross(s, host, lin, mode);
        }
        in->xop = fast_form(in);
        b->n++;
        off += len;
        eip += len;
        if (in->props & I_END)
            break;
    }
    b->bytes = (uint16_t)(off - (phys & 0xFFF));
    block_seal(b);
    if (phys >= (1ull << 32)) {
        b->valid = 0; /* no SMC tracking above 4 GiB: run once, never cached */
        return b;
    }
    block_insert(s, b);
    return b;
}

/* Decoding from MMIO: one instruction at a time through the bus, never cached. */
static struct block *block_mmio(struct soft *s, uint64_t phys, uint64_t lin, uint8_t mode)
{
    uint8_t buf[15];
    unsigned room = cs_room(s, s->eip), first = 0x1000 - (lin & 0xFFF);
    unsigned n = room < first ? room : first;
    if (n > 15)
        n = 15;
    for (unsigned i = 0; i < n; i++)
        buf[i] = (uint8_t)bus_read(s->bus, phys + i, 1);
    struct block *b = arena_block(s);
    b->n = 1;
    b->valid = 0;
    b->mode = mode;
    if (!decode_in_mode(s, buf, n, mode, &b->insn[0]))
        soft_raise(s, EXC_GP, 0);
    block_seal(b);
    return b;
}

/*
 * The block at CS:EIP. prev, the block that just ran (NULL when the run loop
 * was left in between), remembers its last two successors, which are tried
 * before the jump cache; every candidate is checked against the current
 * mapping, so a stale link only costs the lookup.
 */
static struct block *block_fetch(struct soft *s, struct block *prev)
{
    uint8_t mode = block_mode(s);
    uint64_t lin = mode64(s, mode) ? s->eip : (uint32_t)(s->seg[SEG_CS].base + s->eip);
    struct tlb_entry *e = &s->tlb_cur[(lin >> 12) & (TLB_SIZE - 1)];
    if (prev) {
        struct block *next = block_linked(prev, lin, mode, e);
        if (next)
            return next;
    }
    struct block **jc = &s->jcache[(lin ^ (lin >> 10)) & (JCACHE - 1)];
    struct block *b = *jc;
    if (!block_usable(b, lin, mode, e)) {
        uint32_t epoch = s->arena_epoch;
        uint64_t phys;
        const uint8_t *host = code_page(s, lin, &phys);
        phys |= lin & 0xFFF;
        if (!host)
            return block_mmio(s, phys, lin, mode);
        b = block_lookup(s, phys, mode);
        if (!b)
            b = block_build(s, host, phys, lin, mode);
        if (!b->valid)
            return b;
        b->lin = lin;
        *jc = b;
        if (s->arena_epoch != epoch)
            return b; /* the arena was emptied: prev is gone */
    }
    if (prev && prev->valid) {
        prev->link[prev->link_next] = b;
        prev->link_next ^= 1;
    }
    return b;
}

/* ---- exceptions and interrupts ---- */

static bool contributory(int v)
{
    return v == EXC_DE || (v >= EXC_TS && v <= EXC_GP);
}

/* Exceptions of the fault class (SDM vol. 3 6.5) but #DB, whose instruction
 * breakpoints leave RF to the handler: their frames push EFLAGS with RF set. */
static bool fault_class(int v)
{
    return v == EXC_DE || v == EXC_BR || v == EXC_UD || v == EXC_NM ||
           (v >= EXC_TS && v <= EXC_PF) || v == EXC_MF || v == EXC_AC || v == EXC_XM;
}

static bool has_error_code(int v)
{
    return v == EXC_DF || (v >= EXC_TS && v <= EXC_PF) || v == EXC_AC;
}

static void deliver_exception(struct soft *s)
{
    int vec = s->exc_vec, prev = s->delivering;
    uint32_t err = s->exc_err;
    if (s->trace) {
        fprintf(s->trace, "cpu: exception %d err %#x at %04x:%08llx", vec, err,
                s->seg[SEG_CS].sel, (unsigned long long)s->eip);
        /* the code bytes, when the TLB still maps them (no walk, no fault) */
        uint64_t lin = s->seg[SEG_CS].base + s->eip;
        const struct tlb_entry *e = &s->tlb_cur[(lin >> 12) & (TLB_SIZE - 1)];
        if (e->tag_x == (lin & ~0xFFFull) && e->host && (lin & 0xFFF) <= 0x1000 - 8)
            for (unsigned i = 0; i < 8; i++)
                fprintf(s->trace, "%s%02x", i ? " " : " code ", e->host[(lin & 0xFFF) + i]);
        fputc('\n', s->trace);
    }
    if (prev == EXC_DF) {
        s->shutdown = true;
        return;
    }
    if (prev >= 0 && ((contributory(prev) && contributory(vec)) ||
                      (prev == EXC_PF && (contributory(vec) || vec == EXC_PF)))) {
        vec = EXC_DF;
        err = 0;
    }
    s->delivering = vec;
    s->shadow = s->ss_shadow = false;
    if (fault_class(vec))
        s->flags |= FL_RF; /* in the image pushed: IRET resumes past the instruction breakpoint */
    s->icount++; /* a delivery costs time, so fault loops still reach the deadline */
    soft_interrupt(s, vec, false, soft_pmode(s) && has_error_code(vec), err, s->eip);
    s->delivering = -1;
}

/* An NMI edge: vector 2, and NMIs blocked until the next IRET (SDM vol. 3 6.7.1). */
static void deliver_nmi(struct soft *s)
{
    s->nmi_pending = false;
    s->nmi_blocked = true;
    if (s->trace)
        fprintf(s->trace, "cpu: NMI at %04x:%08llx\n", s->seg[SEG_CS].sel,
                (unsigned long long)s->eip);
    s->delivering = -2;
    soft_interrupt(s, EXC_NMI, false, false, 0, s->eip);
    s->delivering = -1;
}

static void deliver_intr(struct soft *s)
{
    int vec = s->hooks.intr_ack ? s->hooks.intr_ack(s->hooks.opaque) : -1;
    if (vec < 0)
        return;
    if (s->trace)
        fprintf(s->trace, "cpu: interrupt %#x at %04x:%08llx\n", vec, s->seg[SEG_CS].sel,
                (unsigned long long)s->eip);
    s->delivering = -2;
    soft_interrupt(s, vec & 0xFF, false, false, 0, s->eip);
    s->delivering = -1;
}

void soft_sync_clock(struct soft *s)
{
    uint64_t k = s->icount - s->icount_clocked;
    if (!k)
        return;
    if (!s->ns_per_insn && clock_mode(s->clock) == CLOCK_DETERMINISTIC) {
        int64_t t0 = clock_now_ns(s->clock);
        clock_add_insns(s->clock, k);
        s->ns_per_insn = (clock_now_ns(s->clock) - t0) / (int64_t)k;
    } else {
        clock_add_insns(s->clock, k);
    }
    s->icount_clocked = s->icount;
}

/* Instructions that may run before the clock must be looked at again. */
static uint64_t insn_budget(struct soft *s, int64_t now)
{
    if (clock_mode(s->clock) != CLOCK_DETERMINISTIC)
        return REALTIME_CHECK_INSNS;
    if (!s->ns_per_insn)
        return 1;
    int64_t left = (s->deadline - now + s->ns_per_insn - 1) / s->ns_per_insn;
    return left < 1 ? 1 : (uint64_t)left;
}

/*
 * DR0-DR3 instruction breakpoints (checked one instruction at a time while any
 * is enabled): a fault before the instruction, with DR6.Bn set; RF in EFLAGS
 * suppresses it for one instruction so the handler's IRET can resume.
 */
static bool instruction_breakpoint(struct soft *s)
{
    if (s->flags & FL_RF)
        return false;
    uint64_t lin = s->seg[SEG_CS].base + s->eip;
    if (!(s->msr.efer & EFER_LMA))
        lin = (uint32_t)lin;
    uint32_t hits = 0;
    for (int i = 0; i < 4; i++)
        if (((s->bp_exec >> i) & 1) && s->dr[i] == lin)
            hits |= 1u << i;
    if (!hits)
        return false;
    s->dr[6] = (s->dr[6] & ~0xFu) | hits;
    s->delivering = -2;
    soft_interrupt(s, EXC_DB, false, false, 0, s->eip);
    s->delivering = -1;
    return true;
}

/* One block while tracing, single-stepping (TF, an interrupt shadow) or with breakpoints armed. */
static void run_block_careful(struct soft *s, struct block *b)
{
    if (s->trace_blocks)
        fprintf(s->trace, "cpu: block %04x:%08llx phys %#llx n %u\n", s->seg[SEG_CS].sel,
                (unsigned long long)s->eip,
                (unsigned long long)b->phys, b->n);
    bool single = s->shadow || (s->flags & FL_TF) || s->bp_exec;
    bool tf = s->flags & FL_TF, ss_shadow = s->ss_shadow;
    /* the instruction after MOV SS / POP SS: no breakpoint, and the trap of
     * TF waits until it completes (SDM vol. 3 6.8.3, as Intel parts do) */
    if (s->bp_exec && !ss_shadow && instruction_breakpoint(s))
        return;
    s->shadow = s->ss_shadow = false;
    bool rf = s->flags & FL_RF;
    block_run(s, b, single ? 1 : BLOCK_MAX_INSNS, 0);
    if (rf)
        s->flags &= ~FL_RF; /* it suppressed breakpoints for the instruction that completed */
    if (tf && !s->halted && !s->ss_shadow) {
        s->dr[6] |= 0x4000;
        s->delivering = -2;
        soft_interrupt(s, EXC_DB, false, false, 0, s->eip);
        s->delivering = -1;
    }
}

static void run_blocks(struct soft *s, uint64_t limit)
{
    struct block *b = NULL;
    do {
        b = block_fetch(s, b);
        if (__builtin_expect(s->trace_blocks || s->shadow || s->bp_exec || (s->flags & (FL_TF | FL_RF)), 0))
            run_block_careful(s, b);
        else if (s->jit)
            b = jit_run(s, b, limit);
        else
            b = block_run(s, b, BLOCK_MAX_INSNS, limit);
        if (!b->valid)
            b = NULL; /* uncached (MMIO, page-crossing): its memory is reused at once */
    } while (s->icount < limit && soft_quiet(s));
}

static enum cpu_exit run_loop(struct soft *s)
{
    bool det = clock_mode(s->clock) == CLOCK_DETERMINISTIC;
    for (;;) {
        if (atomic_exchange_explicit(&s->stop, false, memory_order_acq_rel)) {
            soft_sync_clock(s);
            return CPU_EXIT_STOP;
        }
        if (s->flush_pending)
            code_flush_now(s);
        if (s->nmi_pending && !s->nmi_blocked && !s->shadow)
            deliver_nmi(s);
        else if (s->intr_line && (s->flags & FL_IF) && !s->shadow)
            deliver_intr(s);
        soft_sync_clock(s);
        if (s->halted) {
            if (det)
                clock_warp(s->clock, s->deadline);
            return CPU_EXIT_HALT;
        }
        int64_t now = clock_now_ns(s->clock);
        if (now >= s->deadline)
            return CPU_EXIT_DEADLINE;
        run_blocks(s, s->icount + insn_budget(s, now));
    }
}

static enum cpu_exit soft_run(struct cpu *c, int64_t deadline)
{
    struct soft *s = soft_of(c);
    s->deadline = deadline;
    if (s->shutdown)
        return CPU_EXIT_SHUTDOWN;
    if (sigsetjmp(s->jb, 0)) {
        s->block_end = false;
        deliver_exception(s);
        if (s->shutdown) {
            soft_sync_clock(s);
            return CPU_EXIT_SHUTDOWN;
        }
    }
    return run_loop(s);
}

/* ---- backend ---- */

static void soft_reset(struct cpu *c)
{
    struct soft *s = soft_of(c);
    memset(s->r, 0, sizeof s->r);
    uint32_t sig[4];
    cpu_model_cpuid(1, sig);
    s->r[GPR_DX] = sig[0]; /* the processor signature, as CPUID leaf 1 reports it */
    s->eip = s->next_eip = 0xFFF0;
    s->flags = 2;
    s->cc.op = CC_NONE;
    s->cr0 = 0x60000010;
    s->cr2 = s->cr3 = 0;
    s->cr4 = s->cr8 = 0;
    memset(s->dr, 0, sizeof s->dr);
    s->dr[6] = 0xFFFF0FF0u;
    s->dr[7] = 0x400;
    soft_update_breakpoints(s);
    soft_set_cpl(s, 0);
    s->halted = s->shadow = s->ss_shadow = s->shutdown = false;
    s->nmi_pending = s->nmi_blocked = false;
    s->delivering = -1;
    for (int i = 0; i < 6; i++)
        seg_set_cache(s, i, 0, 0, 0xFFFF, 0x93);
    seg_set_cache(s, SEG_CS, 0xF000, 0xFFFF0000u, 0xFFFF, 0x9B);
    s->gdt = (struct cpu_dtable){0, 0xFFFF};
    s->idt = (struct cpu_dtable){0, 0xFFFF};
    s->ldtr = (struct seg){.limit = 0xFFFF, .attr = 0x82};
    s->tr = (struct seg){.limit = 0xFFFF, .attr = 0x8B};
    soft_msr_reset(s);
    s->tsc_offset = -clock_now_ns(s->clock);
    fpu_reset(s->fpu);
    memset(&s->sse, 0, sizeof s->sse);
    s->sse.mxcsr = MXCSR_RESET;
    tlb_flush(s, false);
    soft_flush_code(s);
}

static struct cpu *soft_create(struct bus *bus, struct clock *clock, const struct cpu_hooks *hooks,
                               struct error *err)
{
    struct soft *s = calloc(1, sizeof *s);
    if (!s) {
        error_set(err, EX_OSERR, "out of memory for the CPU");
        return NULL;
    }
    s->cpu.be = &cpu_soft_backend;
    s->bus = bus;
    s->clock = clock;
    if (hooks)
        s->hooks = *hooks;
    s->a20 = true;
    s->a20_mask = ~0ull;
    s->fpu = fpu_new();
    s->arena = malloc(ARENA_BYTES);
    s->code_pages = calloc(1u << 20, sizeof(uint16_t));
    struct bus_listener l = {listener_map_changed, listener_ram_written, s};
    if (!s->fpu || !s->arena || !s->code_pages || bus_add_listener(bus, &l) != 0) {
        error_set(err, EX_OSERR, "cannot set up the software CPU");
        fpu_free(s->fpu);
        free(s->arena);
        free(s->code_pages);
        free(s);
        return NULL;
    }
    atomic_init(&s->stop, false);
    if (jit_wanted())
        jit_init(s); /* without executable memory the interpreter runs alone */
    soft_reset(&s->cpu);
    code_flush_now(s);
    return &s->cpu;
}

static void soft_free(struct cpu *c)
{
    struct soft *s = soft_of(c);
    jit_free(s);
    fpu_free(s->fpu);
    free(s->arena);
    free(s->code_pages);
    free(s);
}

static void soft_set_intr(struct cpu *c, int level)
{
    soft_of(c)->intr_line = level != 0;
}

static void soft_nmi(struct cpu *c)
{
    soft_of(c)->nmi_pending = true;
}

static void soft_set_a20(struct cpu *c, bool enabled)
{
    struct soft *s = soft_of(c);
    if (s->a20 == enabled)
        return;
    s->a20 = enabled;
    s->a20_mask = enabled ? ~0ull : ~(1ull << 20);
    tlb_flush(s, false);
    soft_flush_code(s);
}

static void soft_request_stop(struct cpu *c)
{
    atomic_store_explicit(&soft_of(c)->stop, true, memory_order_release);
}

static void seg_to_state(const struct seg *g, struct cpu_segment *o)
{
    o->selector = g->sel;
    o->attr = g->attr;
    o->limit = g->limit;
    o->base = g->base;
}

static void seg_from_state(struct seg *g, const struct cpu_segment *o)
{
    g->sel = o->selector;
    g->attr = o->attr;
    g->limit = o->limit;
    g->base = o->base;
}

static int soft_get_state(struct cpu *c, struct cpu_state *st)
{
    struct soft *s = soft_of(c);
    memset(st, 0, sizeof *st);
    for (int i = 0; i < 16; i++)
        st->gpr[i] = s->r[i];
    st->rip = (s->msr.efer & EFER_LMA) ? s->eip : (uint32_t)s->eip;
    st->rflags = soft_get_eflags(s);
    for (int i = 0; i < 6; i++)
        seg_to_state(&s->seg[i], &st->seg[i]);
    seg_to_state(&s->ldtr, &st->ldt);
    seg_to_state(&s->tr, &st->tr);
    st->gdt = s->gdt;
    st->idt = s->idt;
    st->cr0 = s->cr0;
    st->cr2 = s->cr2;
    st->cr3 = s->cr3;
    st->cr4 = s->cr4;
    st->cr8 = s->cr8;
    for (int i = 0; i < 8; i++)
        st->dr[i] = s->dr[i];
    st->msr = s->msr;
    st->msr.tsc = (uint64_t)clock_now_ns(s->clock) + (uint64_t)s->tsc_offset;
    fpu_get_state(s->fpu, &st->fpu);
    memcpy(st->fpu.xmm, s->sse.xmm, sizeof st->fpu.xmm);
    st->fpu.mxcsr = s->sse.mxcsr;
    st->halted = s->halted;
    st->intr_shadow = s->shadow;
    st->a20 = s->a20;
    return 0;
}

static int soft_set_state(struct cpu *c, const struct cpu_state *st)
{
    struct soft *s = soft_of(c);
    for (int i = 0; i < 16; i++)
        s->r[i] = st->gpr[i];
    s->r[NOREG] = 0;
    s->eip = s->next_eip = st->rip;
    s->cr0 = (uint32_t)st->cr0 | CR0_ET;
    s->cr2 = st->cr2;
    s->cr3 = st->cr3;
    s->cr4 = (uint32_t)st->cr4;
    s->cr8 = (uint32_t)st->cr8 & 0xF;
    s->cc.op = CC_NONE;
    s->flags = ((uint32_t)st->rflags & 0x3F7FD7u) | 2;
    for (int i = 0; i < 6; i++)
        seg_from_state(&s->seg[i], &st->seg[i]);
    seg_from_state(&s->ldtr, &st->ldt);
    seg_from_state(&s->tr, &st->tr);
    s->gdt = st->gdt;
    s->idt = st->idt;
    for (int i = 0; i < 8; i++)
        s->dr[i] = st->dr[i];
    soft_update_breakpoints(s);
    s->msr = st->msr;
    if (s->hooks.apic_base) /* the local APIC follows the MSR's global enable, as on WRMSR */
        s->hooks.apic_base(s->hooks.opaque, s->msr.apic_base);
    s->tsc_offset = (int64_t)(st->msr.tsc - (uint64_t)clock_now_ns(s->clock));
    fpu_set_state(s->fpu, &st->fpu);
    memcpy(s->sse.xmm, st->fpu.xmm, sizeof s->sse.xmm);
    s->sse.mxcsr = st->fpu.mxcsr & MXCSR_MASK;
    if (!(s->cr0 & CR0_PE))
        soft_set_cpl(s, 0);
    else if (s->flags & FL_VM)
        soft_set_cpl(s, 3);
    else
        soft_set_cpl(s, s->seg[SEG_CS].sel & 3);
    for (int i = 0; i < 6; i++)
        seg_update(s, i);
    s->halted = st->halted;
    s->shadow = st->intr_shadow;
    s->ss_shadow = false;
    s->shutdown = false;
    s->delivering = -1;
    s->a20 = !st->a20;
    soft_set_a20(c, st->a20);
    tlb_flush(s, false);
    soft_flush_code(s);
    return 0;
}

static uint64_t soft_insn_count(const struct cpu *c)
{
    return ((const struct soft *)c)->icount;
}

static void soft_set_trace(struct cpu *c, void *file)
{
    soft_of(c)->trace = file;
    soft_of(c)->trace_blocks = file && trace_on(TRACE_CPU);
}

const struct cpu_backend cpu_soft_backend = {
    .name = "soft",
    .create = soft_create,
    .free = soft_free,
    .reset = soft_reset,
    .run = soft_run,
    .set_intr = soft_set_intr,
    .nmi = soft_nmi,
    .set_a20 = soft_set_a20,
    .request_stop = soft_request_stop,
    .get_state = soft_get_state,
    .set_state = soft_set_state,
    .insn_count = soft_insn_count,
    .set_trace = soft_set_trace,
};
