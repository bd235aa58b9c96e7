/*
 * Protected-mode machinery of the software core: descriptor fetch and
 * checks, segment register loads in every mode (real mode keeps the hidden
 * limit and attributes, which is what unreal mode relies on; V86 forces
 * 64 KiB ring-3 data segments), far JMP/CALL/RET through code segments,
 * call gates (parameter copy and stack switch), task gates and TSSs,
 * interrupt and exception delivery through the IVT or the IDT, IRET in
 * every form, hardware task switches (busy bits, NT, back-link, CR3, LDT),
 * the TSS I/O permission bitmap, LAR/LSL/VERR/VERW and SYSENTER/SYSEXIT.
 */
#include "cpu/soft.h"

enum ts_reason { TS_JMP, TS_CALL, TS_IRET };

bool soft_pmode(const struct soft *s)
{
    return s->cr0 & CR0_PE;
}

bool soft_v86(const struct soft *s)
{
    return s->flags & FL_VM;
}

static bool real_like(const struct soft *s)
{
    return !soft_pmode(s) || soft_v86(s);
}

void seg_set_cache(struct soft *s, int idx, uint16_t sel, uint32_t base, uint32_t limit,
                   uint16_t attr)
{
    struct seg *g = &s->seg[idx];
    g->sel = sel;
    g->base = base;
    g->limit = limit;
    g->attr = attr;
    seg_update(s, idx);
}

void seg_load_real(struct soft *s, int idx, uint16_t sel)
{
    struct seg *g = &s->seg[idx];
    if (soft_v86(s)) {
        seg_set_cache(s, idx, sel, (uint32_t)sel << 4, 0xFFFF, idx == SEG_CS ? 0xFB : 0xF3);
        return;
    }
    seg_set_cache(s, idx, sel, (uint32_t)sel << 4, g->limit, g->attr);
}

/* ---- descriptors ---- */

struct desc {
    uint32_t lo, hi;
    uint64_t addr; /* linear address of the descriptor (above 4 GiB in long mode) */
};

static uint32_t desc_base(const struct desc *d)
{
    return (d->lo >> 16) | ((d->hi & 0xFF) << 16) | (d->hi & 0xFF000000u);
}

static uint32_t desc_limit(const struct desc *d)
{
    uint32_t l = (d->lo & 0xFFFF) | (d->hi & 0xF0000);
    return (d->hi & 0x800000) ? (l << 12) | 0xFFF : l;
}

static uint16_t desc_attr(const struct desc *d)
{
    return (uint16_t)((d->hi >> 8) & 0xF0FF);
}

static unsigned desc_dpl(const struct desc *d)
{
    return (d->hi >> 13) & 3;
}

static bool desc_present(const struct desc *d)
{
    return d->hi & 0x8000;
}

static bool desc_is_code(const struct desc *d)
{
    return (d->hi & 0x1800) == 0x1800;
}

static bool desc_is_data(const struct desc *d)
{
    return (d->hi & 0x1800) == 0x1000;
}

static bool desc_conforming(const struct desc *d)
{
    return desc_is_code(d) && (d->hi & 0x400);
}

static unsigned desc_sys_type(const struct desc *d)
{
    return (d->hi & 0x1000) ? 0x10 : (d->hi >> 8) & 0xF;
}

/* Reads the descriptor of sel; false when it lies beyond the GDT/LDT limit. */
static bool desc_read(struct soft *s, uint16_t sel, struct desc *d)
{
    uint64_t base;
    uint32_t limit;
    if (sel & 4) {
        if (!(s->ldtr.attr & 0x80))
            return false;
        base = s->ldtr.base;
        limit = s->ldtr.limit;
    } else {
        base = s->gdt.base;
        limit = s->gdt.limit;
    }
    if ((uint32_t)(sel | 7) > limit)
        return false;
    d->addr = base + (sel & ~7u);
    d->lo = sys_read(s, d->addr, 4);
    d->hi = sys_read(s, d->addr + 4, 4);
    return true;
}

static void desc_set_accessed(struct soft *s, struct desc *d)
{
    if (!(d->hi & 0x100)) {
        d->hi |= 0x100;
        sys_write(s, d->addr + 4, d->hi, 4);
    }
}

static void load_from_desc(struct soft *s, int idx, uint16_t sel, struct desc *d)
{
    desc_set_accessed(s, d);
    seg_set_cache(s, idx, sel, desc_base(d), desc_limit(d), desc_attr(d));
}

static void seg_null(struct soft *s, int idx, uint16_t sel)
{
    seg_set_cache(s, idx, sel, 0, 0, 0);
}

static void set_cs(struct soft *s, uint16_t sel, struct desc *d, int cpl)
{
    load_from_desc(s, SEG_CS, (uint16_t)((sel & ~3) | cpl), d);
    soft_set_cpl(s, cpl);
}

/* Data/stack segment load with the checks of MOV Sreg (exc: #GP, or #TS in a task switch). */
static void load_data_seg(struct soft *s, int idx, uint16_t sel, int exc)
{
    struct desc d;
    uint32_t ec = sel & 0xFFFC;
    if (idx == SEG_SS) {
        /* 64-bit mode takes a null SS below CPL 3 when RPL = CPL (SDM, MOV) */
        if (!(sel & ~3) && soft_code64(s) && s->cpl < 3 && (sel & 3) == (unsigned)s->cpl) {
            seg_null(s, idx, sel);
            return;
        }
        if (!(sel & ~3))
            soft_raise(s, exc, 0);
        if (!desc_read(s, sel, &d))
            soft_raise(s, exc, ec);
        if ((sel & 3) != (unsigned)s->cpl || desc_dpl(&d) != (unsigned)s->cpl ||
            !desc_is_data(&d) || !(d.hi & 0x200))
            soft_raise(s, exc, ec);
        if (!desc_present(&d))
            soft_raise(s, EXC_SS, ec);
        load_from_desc(s, idx, sel, &d);
        return;
    }
    if (!(sel & ~3)) {
        seg_null(s, idx, sel);
        return;
    }
    if (!desc_read(s, sel, &d))
        soft_raise(s, exc, ec);
    if (!(d.hi & 0x1000) || (desc_is_code(&d) && !(d.hi & 0x200)))
        soft_raise(s, exc, ec);
    if (!desc_conforming(&d) && ((sel & 3) > desc_dpl(&d) || (unsigned)s->cpl > desc_dpl(&d)))
        soft_raise(s, exc, ec);
    if (!desc_present(&d))
        soft_raise(s, EXC_NP, ec);
    load_from_desc(s, idx, sel, &d);
}

void seg_load(struct soft *s, int idx, uint16_t sel)
{
    if (real_like(s))
        seg_load_real(s, idx, sel);
    else
        load_data_seg(s, idx, sel, EXC_GP);
}

/* ---- stacks other than the current one ---- */

struct stk {
    uint32_t base, esp, mask;
    uint32_t lo, hi; /* valid offsets of the stack segment */
    uint32_t err;    /* #SS error code when a push leaves them */
    bool user;
};

static void stk_init(struct stk *k, uint32_t base, uint32_t esp, bool b32, bool user)
{
    k->base = base;
    k->esp = esp;
    k->mask = b32 ? 0xFFFFFFFFu : 0xFFFFu;
    k->user = user;
    k->lo = 0;
    k->hi = 0xFFFFFFFFu;
    k->err = 0;
}

/* A new stack from its descriptor: limits as the segment will have them. */
static void stk_from_desc(struct stk *k, const struct desc *d, uint16_t sel, uint32_t esp,
                          bool user, uint32_t ext)
{
    bool b32 = d->hi & 0x400000;
    stk_init(k, desc_base(d), esp, b32, user);
    uint32_t limit = desc_limit(d);
    if (d->hi & 0x400) {
        k->lo = limit + 1;
        k->hi = b32 ? 0xFFFFFFFFu : 0xFFFFu;
    } else {
        k->hi = limit;
    }
    k->err = (sel & 0xFFFC) | ext;
}

static void stk_push(struct soft *s, struct stk *k, uint32_t v, unsigned size)
{
    uint32_t esp = (k->esp & ~k->mask) | ((k->esp - size) & k->mask);
    uint32_t off = esp & k->mask;
    if (off < k->lo || (uint64_t)off + size - 1 > k->hi)
        soft_raise(s, EXC_SS, k->err);
    k->esp = esp;
    lin_write(s, k->base + off, v, size, k->user);
}

static uint32_t stk_read(struct soft *s, const struct stk *k, unsigned idx, unsigned size)
{
    uint32_t off = (k->esp + idx * size) & k->mask;
    if (off < k->lo || (uint64_t)off + size - 1 > k->hi)
        soft_raise(s, EXC_SS, k->err);
    return lin_read(s, k->base + off, size, k->user);
}

static void cur_stk(struct soft *s, struct stk *k)
{
    const struct seg *g = &s->seg[SEG_SS];
    stk_init(k, g->base, s->r[GPR_SP], stack32(s), s->cpl == 3);
    k->lo = g->ok ? g->lo : 1; /* no valid offset when lo > hi */
    k->hi = g->ok ? g->lo + g->span : 0;
}

static void set_esp(struct soft *s, uint32_t esp, bool b32)
{
    s->r[GPR_SP] = b32 ? esp : reg_merge16(s->r[GPR_SP], esp);
}

void push_v(struct soft *s, uint32_t v, bool op32)
{
    unsigned size = op32 ? 4 : 2;
    uint32_t sp = s->r[GPR_SP];
    uint32_t nsp = stack32(s) ? sp - size : (sp & 0xFFFF0000u) | ((sp - size) & 0xFFFF);
    mwrite(s, SEG_SS, stack32(s) ? nsp : nsp & 0xFFFF, v, size);
    s->r[GPR_SP] = stack32(s) ? nsp : reg_merge16(s->r[GPR_SP], nsp);
}

uint32_t pop_v(struct soft *s, bool op32)
{
    unsigned size = op32 ? 4 : 2;
    uint32_t sp = s->r[GPR_SP];
    uint32_t v = mread(s, SEG_SS, stack32(s) ? sp : sp & 0xFFFF, size);
    s->r[GPR_SP] = stack32(s) ? sp + size : reg_merge16(s->r[GPR_SP], sp + size);
    return v;
}

/* New SS:ESP for privilege level dpl from the current TSS. */
static void tss_stack(struct soft *s, unsigned dpl, uint16_t *ss, uint32_t *esp)
{
    bool t32 = (s->tr.attr & 0xF) >= 9;
    uint32_t off = t32 ? 4 + dpl * 8 : 2 + dpl * 4;
    uint32_t need = t32 ? off + 7 : off + 3;
    if (need > s->tr.limit)
        soft_raise(s, EXC_TS, s->tr.sel & 0xFFFC);
    if (t32) {
        *esp = sys_read(s, s->tr.base + off, 4);
        *ss = (uint16_t)sys_read(s, s->tr.base + off + 4, 2);
    } else {
        *esp = sys_read(s, s->tr.base + off, 2);
        *ss = (uint16_t)sys_read(s, s->tr.base + off + 2, 2);
    }
}

/* Checks the stack segment of an inner-level transfer; exc_sel_bits adds EXT. */
static void check_new_ss(struct soft *s, uint16_t ss, unsigned dpl, struct desc *d, uint32_t ext)
{
    uint32_t ec = (ss & 0xFFFC) | ext;
    if (!(ss & ~3))
        soft_raise(s, EXC_TS, ext);
    if (!desc_read(s, ss, d))
        soft_raise(s, EXC_TS, ec);
    if ((ss & 3) != dpl || desc_dpl(d) != dpl || !desc_is_data(d) || !(d->hi & 0x200))
        soft_raise(s, EXC_TS, ec);
    if (!desc_present(d))
        soft_raise(s, EXC_SS, ec);
}

/*
 * Data segments the new (outer) level may not use become null: the selector
 * 0 and the segment unusable, the hidden base and limit kept as they were
 * (as Intel parts, Bochs and QEMU do), so a 64-bit FS/GS base set through
 * the MSRs survives an IRET or RET to ring 3. A null FS/GS stays as it is.
 */
static void null_outer_segs(struct soft *s)
{
    static const int idx[4] = {SEG_ES, SEG_DS, SEG_FS, SEG_GS};
    for (int i = 0; i < 4; i++) {
        struct seg *g = &s->seg[idx[i]];
        if ((idx[i] == SEG_FS || idx[i] == SEG_GS) && !(g->sel & ~3))
            continue;
        bool code = (g->attr & 0x18) == 0x18, conf = code && (g->attr & 4);
        unsigned dpl = (g->attr >> 5) & 3;
        if (!(g->attr & 0x80) || (!conf && dpl < (unsigned)s->cpl)) {
            g->sel = 0;
            g->attr = 0;
            seg_update(s, idx[i]);
        }
    }
}

/* ---- task switch ---- */

static void tss_save(struct soft *s, uint32_t save_eip, bool clear_nt)
{
    uint32_t b = s->tr.base;
    uint32_t fl = soft_get_eflags(s) & ~(clear_nt ? FL_NT : 0);
    if ((s->tr.attr & 0xF) >= 9) {
        sys_write(s, b + 0x20, save_eip, 4);
        sys_write(s, b + 0x24, fl, 4);
        for (int i = 0; i < 8; i++)
            sys_write(s, b + 0x28 + i * 4, s->r[i], 4);
        for (int i = 0; i < 6; i++)
            sys_write(s, b + 0x48 + i * 4, s->seg[i].sel, 2);
    } else {
        sys_write(s, b + 0x0E, save_eip, 2);
        sys_write(s, b + 0x10, fl, 2);
        for (int i = 0; i < 8; i++)
            sys_write(s, b + 0x12 + i * 2, s->r[i], 2);
        for (int i = 0; i < 4; i++)
            sys_write(s, b + 0x22 + i * 2, s->seg[i].sel, 2);
    }
}

static void set_busy(struct soft *s, struct desc *d, bool busy)
{
    d->hi = busy ? d->hi | 0x200 : d->hi & ~0x200u;
    sys_write(s, d->addr + 4, d->hi, 4);
}

/* Loads the segment registers of the new task; faults here are #TS in the new context. */
static void task_load_segs(struct soft *s, const uint16_t sel[6], uint16_t ldt)
{
    struct desc d;
    if (ldt & 4)
        soft_raise(s, EXC_TS, ldt & 0xFFFC);
    if (ldt & ~3) {
        if (!desc_read(s, ldt, &d) || desc_sys_type(&d) != 2)
            soft_raise(s, EXC_TS, ldt & 0xFFFC);
        if (!desc_present(&d))
            soft_raise(s, EXC_TS, ldt & 0xFFFC);
        s->ldtr.sel = ldt;
        s->ldtr.base = desc_base(&d);
        s->ldtr.limit = desc_limit(&d);
        s->ldtr.attr = desc_attr(&d);
    }
    if (soft_v86(s)) {
        soft_set_cpl(s, 3);
        for (int i = 0; i < 6; i++)
            seg_load_real(s, i, sel[i]);
        return;
    }
    uint16_t cs = sel[SEG_CS];
    if (!(cs & ~3) || !desc_read(s, cs, &d) || !desc_is_code(&d))
        soft_raise(s, EXC_TS, cs & 0xFFFC);
    if (desc_conforming(&d) ? desc_dpl(&d) > (cs & 3u) : desc_dpl(&d) != (cs & 3u))
        soft_raise(s, EXC_TS, cs & 0xFFFC);
    if (!desc_present(&d))
        soft_raise(s, EXC_NP, cs & 0xFFFC);
    set_cs(s, cs, &d, cs & 3);
    load_data_seg(s, SEG_SS, sel[SEG_SS], EXC_TS);
    static const int rest[4] = {SEG_ES, SEG_DS, SEG_FS, SEG_GS};
    for (int i = 0; i < 4; i++)
        load_data_seg(s, rest[i], sel[rest[i]], EXC_TS);
}

static void task_switch(struct soft *s, uint16_t sel, enum ts_reason why, uint32_t save_eip)
{
    struct desc nd, od;
    uint32_t ec = sel & 0xFFFC;
    if ((sel & 4) || !desc_read(s, sel, &nd))
        soft_raise(s, EXC_GP, ec);
    unsigned type = desc_sys_type(&nd);
    bool want_busy = why == TS_IRET;
    if ((type & ~8u) != (want_busy ? 3u : 1u))
        soft_raise(s, why == TS_IRET ? EXC_TS : EXC_GP, ec);
    if (!desc_present(&nd))
        soft_raise(s, EXC_NP, ec);
    bool n32 = type & 8;
    uint32_t nbase = desc_base(&nd), nlimit = desc_limit(&nd);
    if (nlimit < (n32 ? 0x67u : 0x2Bu))
        soft_raise(s, EXC_TS, ec);
    /* touch both ends of the new TSS first: a page fault there leaves the old task intact */
    sys_read(s, nbase, 2);
    sys_read(s, nbase + (n32 ? 0x64 : 0x2A), 2);
    tss_save(s, save_eip, why == TS_IRET);
    if (why != TS_CALL && desc_read(s, s->tr.sel, &od))
        set_busy(s, &od, false);
    if (why == TS_CALL)
        sys_write(s, nbase, s->tr.sel, 2);
    if (why != TS_IRET)
        set_busy(s, &nd, true);
    uint32_t fl, eip, cr3 = 0;
    uint64_t r[8];
    uint16_t sl[6] = {0}, ldt;
    if (n32) {
        cr3 = sys_read(s, nbase + 0x1C, 4);
        eip = sys_read(s, nbase + 0x20, 4);
        fl = sys_read(s, nbase + 0x24, 4);
        for (int i = 0; i < 8; i++)
            r[i] = sys_read(s, nbase + 0x28 + i * 4, 4);
        for (int i = 0; i < 6; i++)
            sl[i] = (uint16_t)sys_read(s, nbase + 0x48 + i * 4, 2);
        ldt = (uint16_t)sys_read(s, nbase + 0x60, 2);
    } else {
        eip = sys_read(s, nbase + 0x0E, 2);
        fl = sys_read(s, nbase + 0x10, 2) | (soft_get_eflags(s) & 0xFFFF0000u & ~FL_VM);
        /* the SDM leaves the upper halves to the part: a 386 sets them to 0xFFFF
         * (QEMU TCG keeps them); this core does what the 386 does (issue 25) */
        for (int i = 0; i < 8; i++)
            r[i] = 0xFFFF0000u | sys_read(s, nbase + 0x12 + i * 2, 2);
        for (int i = 0; i < 4; i++)
            sl[i] = (uint16_t)sys_read(s, nbase + 0x22 + i * 2, 2);
        ldt = (uint16_t)sys_read(s, nbase + 0x2A, 2);
    }
    if (why == TS_CALL)
        fl |= FL_NT;
    s->tr.sel = sel;
    s->tr.base = nbase;
    s->tr.limit = nlimit;
    s->tr.attr = (uint16_t)(desc_attr(&nd) | (why != TS_IRET ? 0x2 : 0));
    if (n32 && (s->cr0 & CR0_PG) && cr3 != s->cr3) {
        s->cr3 = cr3;
        tlb_flush(s, true);
    }
    for (int i = 0; i < 8; i++)
        s->r[i] = r[i];
    soft_set_eflags(s, fl, 0xFFFFFFFFu);
    s->eip = s->next_eip = eip;
    s->cr0 |= CR0_TS;
    s->ldtr.sel = 0;
    s->ldtr.attr = 0;
    /* segment caches are made harmless before the checked loads */
    for (int i = 0; i < 6; i++)
        s->seg[i].sel = sl[i];
    task_load_segs(s, sl, ldt);
    if (eip > s->seg[SEG_CS].limit)
        soft_raise(s, EXC_GP, 0);
}

/* ---- far transfers ---- */

static void check_code_target(struct soft *s, uint16_t sel, struct desc *d, uint32_t ext)
{
    uint32_t ec = (sel & 0xFFFC) | ext;
    if (!(sel & ~3))
        soft_raise(s, EXC_GP, ext);
    if (!desc_read(s, sel, d) || !desc_is_code(d))
        soft_raise(s, EXC_GP, ec);
}

/* A code segment a far JMP/CALL goes to directly: conforming at or inside CPL, else at CPL
 * with RPL <= CPL; present. */
static void check_code_rights(struct soft *s, uint16_t sel, struct desc *d)
{
    uint32_t ec = sel & 0xFFFC;
    if (desc_conforming(d) ? desc_dpl(d) > (unsigned)s->cpl
                           : ((sel & 3u) > (unsigned)s->cpl || desc_dpl(d) != (unsigned)s->cpl))
        soft_raise(s, EXC_GP, ec);
    if (!desc_present(d))
        soft_raise(s, EXC_NP, ec);
}

static void check_code_jump(struct soft *s, uint16_t sel, uint32_t off, struct desc *d)
{
    check_code_rights(s, sel, d);
    if (off > desc_limit(d))
        soft_raise(s, EXC_GP, 0);
}

static void real_far(struct soft *s, uint16_t sel, uint32_t off)
{
    if (off > s->seg[SEG_CS].limit && !soft_v86(s) && off > 0xFFFF)
        soft_raise(s, EXC_GP, 0);
    seg_load_real(s, SEG_CS, sel);
    s->next_eip = off;
}

/* Gate checks shared by JMP and CALL through a call gate; returns the target descriptor. */
static void gate_target(struct soft *s, uint16_t gsel, struct desc *g, struct desc *t)
{
    uint32_t ec = gsel & 0xFFFC;
    if (desc_dpl(g) < (unsigned)s->cpl || desc_dpl(g) < (gsel & 3u))
        soft_raise(s, EXC_GP, ec);
    if (!desc_present(g))
        soft_raise(s, EXC_NP, ec);
    uint16_t tsel = (uint16_t)(g->lo >> 16);
    check_code_target(s, tsel, t, 0);
    if (desc_dpl(t) > (unsigned)s->cpl)
        soft_raise(s, EXC_GP, tsel & 0xFFFC);
    if (!desc_present(t))
        soft_raise(s, EXC_NP, tsel & 0xFFFC);
}

static uint32_t gate_offset(const struct desc *g)
{
    uint32_t off = g->lo & 0xFFFF;
    if (desc_sys_type(g) & 8)
        off |= g->hi & 0xFFFF0000u;
    return off;
}

static bool system_target(struct soft *s, uint16_t sel, struct desc *d, bool call)
{
    uint32_t ec = sel & 0xFFFC;
    unsigned type = desc_sys_type(d);
    if (type == 1 || type == 9 || type == 5) {
        if (desc_dpl(d) < (unsigned)s->cpl || desc_dpl(d) < (sel & 3u))
            soft_raise(s, EXC_GP, ec);
        if (!desc_present(d))
            soft_raise(s, EXC_NP, ec);
        uint16_t tss = type == 5 ? (uint16_t)(d->lo >> 16) : sel;
        task_switch(s, tss, call ? TS_CALL : TS_JMP, s->next_eip);
        return true;
    }
    return false;
}

/* The descriptor a far JMP/CALL names: #GP(0) for a null selector, #GP(sel) outside its table. */
static void far_desc(struct soft *s, uint16_t sel, struct desc *d)
{
    if (!(sel & ~3))
        soft_raise(s, EXC_GP, 0);
    if (!desc_read(s, sel, d))
        soft_raise(s, EXC_GP, sel & 0xFFFC);
}

void far_jmp(struct soft *s, uint16_t sel, uint32_t off, bool op32)
{
    if (real_like(s)) {
        real_far(s, sel, off);
        return;
    }
    struct desc d, t;
    far_desc(s, sel, &d);
    if (desc_is_code(&d)) {
        check_code_jump(s, sel, off, &d);
        set_cs(s, sel, &d, s->cpl);
        s->next_eip = off;
        return;
    }
    if (s->msr.efer & EFER_LMA) { /* compatibility mode: 16-byte gates to 64-bit code */
        far_jmp64(s, sel, off);
        return;
    }
    if (system_target(s, sel, &d, false))
        return;
    unsigned type = desc_sys_type(&d);
    if (type != 4 && type != 0xC)
        soft_raise(s, EXC_GP, sel & 0xFFFC);
    gate_target(s, sel, &d, &t);
    uint16_t tsel = (uint16_t)(d.lo >> 16);
    if (!desc_conforming(&t) && desc_dpl(&t) != (unsigned)s->cpl)
        soft_raise(s, EXC_GP, tsel & 0xFFFC);
    uint32_t goff = gate_offset(&d);
    if (goff > desc_limit(&t))
        soft_raise(s, EXC_GP, 0);
    set_cs(s, tsel, &t, s->cpl);
    s->next_eip = goff;
}

static void call_gate_inner(struct soft *s, struct desc *g, struct desc *t, uint16_t tsel)
{
    unsigned dpl = desc_dpl(t);
    bool g32 = desc_sys_type(g) & 8;
    unsigned size = g32 ? 4 : 2, count = g->hi & 0x1F;
    uint16_t nss;
    uint32_t nesp;
    struct desc sd;
    tss_stack(s, dpl, &nss, &nesp);
    check_new_ss(s, nss, dpl, &sd, 0);
    struct stk old, k;
    cur_stk(s, &old);
    stk_from_desc(&k, &sd, nss, nesp, dpl == 3, 0);
    stk_push(s, &k, s->seg[SEG_SS].sel, size);
    stk_push(s, &k, s->r[GPR_SP], size);
    for (unsigned i = count; i-- > 0;)
        stk_push(s, &k, stk_read(s, &old, i, size), size);
    stk_push(s, &k, s->seg[SEG_CS].sel, size);
    stk_push(s, &k, s->next_eip, size);
    set_cs(s, tsel, t, (int)dpl);
    load_from_desc(s, SEG_SS, (uint16_t)((nss & ~3) | dpl), &sd);
    set_esp(s, k.esp, sd.hi & 0x400000);
    s->next_eip = gate_offset(g);
}

void far_call(struct soft *s, uint16_t sel, uint32_t off, bool op32)
{
    if (real_like(s)) {
        uint16_t cs = s->seg[SEG_CS].sel;
        uint32_t ret = s->next_eip;
        push_v(s, cs, op32);
        push_v(s, ret, op32);
        real_far(s, sel, off);
        return;
    }
    struct desc d, t;
    far_desc(s, sel, &d);
    if (desc_is_code(&d)) {
        check_code_jump(s, sel, off, &d);
        struct stk k;
        cur_stk(s, &k);
        stk_push(s, &k, s->seg[SEG_CS].sel, op32 ? 4 : 2);
        stk_push(s, &k, s->next_eip, op32 ? 4 : 2);
        set_cs(s, sel, &d, s->cpl);
        set_esp(s, k.esp, stack32(s));
        s->next_eip = off;
        return;
    }
    if (s->msr.efer & EFER_LMA) { /* compatibility mode: 16-byte gates, 8-byte pushes */
        far_call64(s, sel, off, op32 ? 4 : 2);
        return;
    }
    if (system_target(s, sel, &d, true))
        return;
    unsigned type = desc_sys_type(&d);
    if (type != 4 && type != 0xC)
        soft_raise(s, EXC_GP, sel & 0xFFFC);
    gate_target(s, sel, &d, &t);
    uint16_t tsel = (uint16_t)(d.lo >> 16);
    if (gate_offset(&d) > desc_limit(&t))
        soft_raise(s, EXC_GP, 0);
    if (!desc_conforming(&t) && desc_dpl(&t) < (unsigned)s->cpl) {
        call_gate_inner(s, &d, &t, tsel);
        return;
    }
    bool g32 = desc_sys_type(&d) & 8;
    struct stk k;
    cur_stk(s, &k);
    stk_push(s, &k, s->seg[SEG_CS].sel, g32 ? 4 : 2);
    stk_push(s, &k, s->next_eip, g32 ? 4 : 2);
    set_cs(s, tsel, &t, s->cpl);
    set_esp(s, k.esp, stack32(s));
    s->next_eip = gate_offset(&d);
}

void far_ret(struct soft *s, bool op32, uint16_t imm)
{
    unsigned size = op32 ? 4 : 2;
    struct stk k;
    cur_stk(s, &k);
    uint32_t eip = stk_read(s, &k, 0, size);
    uint16_t cs = (uint16_t)stk_read(s, &k, 1, size);
    if (real_like(s)) {
        real_far(s, cs, eip);
        set_esp(s, s->r[GPR_SP] + 2 * size + imm, stack32(s));
        return;
    }
    struct desc d, sd;
    check_code_target(s, cs, &d, 0);
    uint32_t ec = cs & 0xFFFC;
    unsigned rpl = cs & 3;
    if (rpl < (unsigned)s->cpl || (desc_conforming(&d) ? desc_dpl(&d) > rpl : desc_dpl(&d) != rpl))
        soft_raise(s, EXC_GP, ec);
    if (!desc_present(&d))
        soft_raise(s, EXC_NP, ec);
    if (eip > desc_limit(&d))
        soft_raise(s, EXC_GP, 0);
    if (rpl == (unsigned)s->cpl) {
        set_cs(s, cs, &d, s->cpl);
        set_esp(s, s->r[GPR_SP] + 2 * size + imm, stack32(s));
        s->next_eip = eip;
        return;
    }
    k.esp += 2 * size + imm;
    uint32_t nesp = stk_read(s, &k, 0, size);
    uint16_t ss = (uint16_t)stk_read(s, &k, 1, size);
    if (!(ss & ~3))
        soft_raise(s, EXC_GP, 0);
    if (!desc_read(s, ss, &sd) || (ss & 3) != rpl || desc_dpl(&sd) != rpl || !desc_is_data(&sd) ||
        !(sd.hi & 0x200))
        soft_raise(s, EXC_GP, ss & 0xFFFC);
    if (!desc_present(&sd))
        soft_raise(s, EXC_SS, ss & 0xFFFC);
    set_cs(s, cs, &d, (int)rpl);
    load_from_desc(s, SEG_SS, ss, &sd);
    set_esp(s, nesp + imm, sd.hi & 0x400000);
    s->next_eip = eip;
    null_outer_segs(s);
}

/* ---- interrupts and exceptions ---- */

static void int_real(struct soft *s, int vec, uint32_t ret_eip)
{
    uint32_t ent = (uint32_t)vec * 4;
    if (ent + 3 > s->idt.limit)
        soft_raise(s, EXC_GP, 0);
    uint32_t v = lin_read(s, (uint32_t)s->idt.base + ent, 4, false);
    struct stk k;
    cur_stk(s, &k);
    stk_push(s, &k, soft_get_eflags(s), 2);
    stk_push(s, &k, s->seg[SEG_CS].sel, 2);
    stk_push(s, &k, ret_eip, 2);
    set_esp(s, k.esp, stack32(s));
    seg_load_real(s, SEG_CS, (uint16_t)(v >> 16));
    s->eip = s->next_eip = v & 0xFFFF;
    s->flags &= ~(FL_IF | FL_TF | FL_AC | FL_RF);
}

struct gate_ctx {
    struct desc g, t;
    uint16_t tsel;
    uint32_t ext;
};

static void int_gate_fetch(struct soft *s, int vec, bool sw, struct gate_ctx *c)
{
    uint32_t gec = (uint32_t)vec * 8 + 2 + c->ext;
    if ((uint32_t)vec * 8 + 7 > s->idt.limit)
        soft_raise(s, EXC_GP, gec);
    c->g.addr = (uint32_t)s->idt.base + (uint32_t)vec * 8;
    c->g.lo = sys_read(s, c->g.addr, 4);
    c->g.hi = sys_read(s, c->g.addr + 4, 4);
    unsigned type = desc_sys_type(&c->g);
    if (type != 5 && type != 6 && type != 7 && type != 0xE && type != 0xF)
        soft_raise(s, EXC_GP, gec);
    if (sw && desc_dpl(&c->g) < (unsigned)s->cpl)
        soft_raise(s, EXC_GP, gec);
    if (!desc_present(&c->g))
        soft_raise(s, EXC_NP, gec);
}

static void int_pmode(struct soft *s, int vec, bool sw, bool has_err, uint32_t err, uint32_t ret)
{
    struct gate_ctx c = {.ext = sw ? 0 : 1};
    int_gate_fetch(s, vec, sw, &c);
    unsigned type = desc_sys_type(&c.g);
    if (type == 5) {
        task_switch(s, (uint16_t)(c.g.lo >> 16), TS_CALL, ret);
        if (has_err) {
            unsigned size = (s->tr.attr & 0xF) >= 9 ? 4 : 2;
            push_v(s, err, size == 4);
        }
        return;
    }
    c.tsel = (uint16_t)(c.g.lo >> 16);
    check_code_target(s, c.tsel, &c.t, c.ext);
    uint32_t tec = (c.tsel & 0xFFFC) | c.ext;
    unsigned dpl = desc_dpl(&c.t);
    if (dpl > (unsigned)s->cpl)
        soft_raise(s, EXC_GP, tec);
    if (!desc_present(&c.t))
        soft_raise(s, EXC_NP, tec);
    bool g32 = type & 8;
    unsigned size = g32 ? 4 : 2;
    uint32_t fl = soft_get_eflags(s);
    bool v86 = soft_v86(s);
    bool inner = !desc_conforming(&c.t) && dpl < (unsigned)s->cpl;
    struct stk k;
    struct desc sd;
    uint16_t nss = 0;
    if (inner) {
        if (v86 && dpl != 0)
            soft_raise(s, EXC_GP, tec);
        uint32_t nesp;
        tss_stack(s, dpl, &nss, &nesp);
        check_new_ss(s, nss, dpl, &sd, c.ext);
        stk_from_desc(&k, &sd, nss, nesp, dpl == 3, c.ext);
        if (v86) {
            stk_push(s, &k, s->seg[SEG_GS].sel, size);
            stk_push(s, &k, s->seg[SEG_FS].sel, size);
            stk_push(s, &k, s->seg[SEG_DS].sel, size);
            stk_push(s, &k, s->seg[SEG_ES].sel, size);
        }
        stk_push(s, &k, s->seg[SEG_SS].sel, size);
        stk_push(s, &k, s->r[GPR_SP], size);
    } else {
        if (v86)
            soft_raise(s, EXC_GP, tec);
        cur_stk(s, &k);
        dpl = (unsigned)s->cpl;
    }
    stk_push(s, &k, fl, size);
    stk_push(s, &k, s->seg[SEG_CS].sel, size);
    stk_push(s, &k, ret, size);
    if (has_err)
        stk_push(s, &k, err, size);
    uint32_t off = gate_offset(&c.g);
    if (off > desc_limit(&c.t))
        soft_raise(s, EXC_GP, 0);
    s->flags &= ~(FL_TF | FL_NT | FL_RF | FL_VM);
    if (!(type & 1))
        s->flags &= ~FL_IF;
    if (v86) {
        seg_null(s, SEG_ES, 0);
        seg_null(s, SEG_DS, 0);
        seg_null(s, SEG_FS, 0);
        seg_null(s, SEG_GS, 0);
    }
    set_cs(s, c.tsel, &c.t, (int)dpl);
    if (inner) {
        load_from_desc(s, SEG_SS, (uint16_t)((nss & ~3) | dpl), &sd);
        set_esp(s, k.esp, sd.hi & 0x400000);
    } else {
        set_esp(s, k.esp, stack32(s));
    }
    s->eip = s->next_eip = off;
}

/* ---- long mode: the 64-bit IDT, IRETQ, far RET (SDM vol. 3 6.14) ---- */

static uint32_t iret_flag_mask(const struct soft *s, bool op32);

static uint64_t stk_rd64(struct soft *s, uint64_t a, unsigned size)
{
    if (!canonical64(a))
        soft_raise(s, EXC_SS, 0);
    return size == 8 ? lin_read64(s, a, s->cpl == 3) : lin_read(s, a, size, s->cpl == 3);
}

/* The 16-byte gate of vec: its target descriptor in *t, the handler's RIP returned. */
static uint64_t int_gate64(struct soft *s, int vec, bool sw, struct desc *g, struct desc *t)
{
    uint32_t ext = sw ? 0 : 1, gec = (uint32_t)vec * 16 + 2 + ext;
    if ((uint32_t)vec * 16 + 15 > s->idt.limit)
        soft_raise(s, EXC_GP, gec);
    uint64_t ga = s->idt.base + (uint64_t)vec * 16;
    g->lo = (uint32_t)lin_read(s, ga, 4, false);
    g->hi = (uint32_t)lin_read(s, ga + 4, 4, false);
    uint64_t off = (g->lo & 0xFFFF) | (g->hi & 0xFFFF0000u) | lin_read(s, ga + 8, 4, false) << 32;
    unsigned type = desc_sys_type(g);
    if ((type != 0xE && type != 0xF) || (sw && desc_dpl(g) < (unsigned)s->cpl))
        soft_raise(s, EXC_GP, gec);
    if (!desc_present(g))
        soft_raise(s, EXC_NP, gec);
    uint16_t tsel = (uint16_t)(g->lo >> 16);
    uint32_t tec = (tsel & 0xFFFC) | ext;
    check_code_target(s, tsel, t, ext);
    if (!(t->hi & 0x200000) || (t->hi & 0x400000) || desc_dpl(t) > (unsigned)s->cpl)
        soft_raise(s, EXC_GP, tec); /* the handler must be 64-bit code (L=1, D=0) */
    if (!desc_present(t))
        soft_raise(s, EXC_NP, tec);
    if (!canonical64(off))
        soft_raise(s, EXC_GP, ext);
    return off;
}

/* Long-mode delivery: SS:RSP always pushed, the stack aligned to 16, IST or TSS.RSPn. */
static void int_long(struct soft *s, int vec, bool sw, bool has_err, uint32_t err, uint64_t ret)
{
    struct desc g, t;
    uint64_t off = int_gate64(s, vec, sw, &g, &t);
    unsigned cpl = (unsigned)s->cpl, dpl = desc_conforming(&t) ? cpl : desc_dpl(&t), ist = g.hi & 7;
    uint64_t rsp = s->r[GPR_SP];
    if (dpl < cpl || ist) {
        uint32_t o = ist ? 0x24 + (ist - 1) * 8 : 4 + dpl * 8;
        if (o + 7 > s->tr.limit)
            soft_raise(s, EXC_TS, (s->tr.sel & 0xFFFC) | (sw ? 0 : 1));
        rsp = lin_read64(s, s->tr.base + o, false);
    }
    uint64_t frame[6] = {err, ret, s->seg[SEG_CS].sel, soft_get_eflags(s), s->r[GPR_SP],
                         s->seg[SEG_SS].sel};
    unsigned first = has_err ? 0 : 1;
    rsp = (rsp & ~0xFull) - 8 * (6 - first);
    if (!canonical64(rsp) || !canonical64(rsp + 47))
        soft_raise(s, EXC_SS, sw ? 0 : 1);
    for (unsigned i = first; i < 6; i++)
        lin_write64(s, rsp + 8 * (i - first), frame[i], dpl == 3);
    s->flags &= ~(FL_TF | FL_NT | FL_RF | FL_VM);
    if (!(desc_sys_type(&g) & 1))
        s->flags &= ~FL_IF;
    set_cs(s, (uint16_t)(g.lo >> 16), &t, (int)dpl);
    if (dpl < cpl)
        seg_set_cache(s, SEG_SS, (uint16_t)dpl, 0, 0, 0);
    s->r[GPR_SP] = rsp;
    s->eip = s->next_eip = off;
}

/* The SS an IRET in long mode returns with (null allowed for 64-bit code below ring 3). */
static bool iret64_ss(struct soft *s, uint16_t ss, unsigned rpl, bool to64, struct desc *sd)
{
    if (!(ss & ~3) && to64 && rpl != 3)
        return false;
    if (!(ss & ~3) || !desc_read(s, ss, sd) || (ss & 3) != rpl || desc_dpl(sd) != rpl ||
        !desc_is_data(sd) || !(sd->hi & 0x200))
        soft_raise(s, EXC_GP, ss & 0xFFFC);
    if (!desc_present(sd))
        soft_raise(s, EXC_SS, ss & 0xFFFC);
    return true;
}

/*
 * IRET in IA-32e mode (size 8: IRETQ): RIP, CS, RFLAGS, then RSP and SS when
 * it began in 64-bit mode or returns outward; an IRET from compatibility code
 * to the same privilege pops three values only (SDM vol. 2 IRET, IA-32e-MODE).
 */
void soft_iret64(struct soft *s, unsigned size)
{
    s->nmi_blocked = false; /* every IRET ends the NMI block, even one that faults */
    if (s->flags & FL_NT)
        soft_raise(s, EXC_GP, 0);
    bool began64 = soft_code64(s);
    uint64_t sp = s->r[GPR_SP], v[5];
    if (!began64) /* IRETD/IRET from compatibility code: SS:ESP */
        sp = s->seg[SEG_SS].base + (uint32_t)sp;
    for (unsigned i = 0; i < 3; i++)
        v[i] = stk_rd64(s, sp + i * size, size);
    uint16_t cs = (uint16_t)v[1];
    struct desc d, sd;
    check_code_target(s, cs, &d, 0);
    unsigned rpl = cs & 3, cpl = (unsigned)s->cpl;
    bool to64 = d.hi & 0x200000;
    if (rpl < cpl || (desc_conforming(&d) ? desc_dpl(&d) > rpl : desc_dpl(&d) != rpl) ||
        (to64 && (d.hi & 0x400000)))
        soft_raise(s, EXC_GP, cs & 0xFFFC);
    if (!desc_present(&d))
        soft_raise(s, EXC_NP, cs & 0xFFFC);
    if (!began64 && rpl == cpl) {
        if (to64 ? !canonical64(v[0]) : v[0] > desc_limit(&d))
            soft_raise(s, EXC_GP, 0);
        soft_set_eflags(s, (uint32_t)v[2], iret_flag_mask(s, size != 2) & ~FL_VM);
        set_cs(s, cs, &d, (int)rpl);
        set_esp(s, (uint32_t)s->r[GPR_SP] + 3 * size, stack32(s));
        s->next_eip = to64 ? v[0] : (uint32_t)v[0];
        return;
    }
    for (unsigned i = 3; i < 5; i++)
        v[i] = stk_rd64(s, sp + i * size, size);
    uint16_t ss = (uint16_t)v[4];
    bool ss_loaded = iret64_ss(s, ss, rpl, to64, &sd);
    if (to64 ? !canonical64(v[0]) : v[0] > desc_limit(&d))
        soft_raise(s, EXC_GP, 0);
    soft_set_eflags(s, (uint32_t)v[2], iret_flag_mask(s, size != 2) & ~FL_VM);
    set_cs(s, cs, &d, (int)rpl);
    if (ss_loaded)
        load_from_desc(s, SEG_SS, ss, &sd);
    else
        seg_set_cache(s, SEG_SS, ss, 0, 0, 0);
    s->r[GPR_SP] = to64 ? v[3] : (uint32_t)v[3];
    s->next_eip = to64 ? v[0] : (uint32_t)v[0];
    if (rpl > cpl)
        null_outer_segs(s);
}

/*
 * The target of a far JMP/CALL through a 16-byte long-mode call gate (type C):
 * the gate's DPL admits CPL and RPL, the target is present 64-bit code at or
 * inside CPL (JMP: conforming or at CPL), the 64-bit offset canonical.
 */
static uint64_t gate64_target(struct soft *s, uint16_t sel, const struct desc *g, struct desc *t,
                              bool call)
{
    uint32_t ec = sel & 0xFFFC;
    unsigned cpl = (unsigned)s->cpl;
    uint32_t limit = (sel & 4) ? s->ldtr.limit : s->gdt.limit;
    if (desc_sys_type(g) != 0xC || desc_dpl(g) < cpl || desc_dpl(g) < (sel & 3u))
        soft_raise(s, EXC_GP, ec);
    if (!desc_present(g))
        soft_raise(s, EXC_NP, ec);
    if ((uint32_t)(sel & ~7u) + 15 > limit || (sys_read(s, g->addr + 12, 4) & 0x1F00))
        soft_raise(s, EXC_GP, ec);
    uint64_t off = (g->lo & 0xFFFF) | (g->hi & 0xFFFF0000u) | (uint64_t)sys_read(s, g->addr + 8, 4) << 32;
    uint16_t tsel = (uint16_t)(g->lo >> 16);
    if (!(tsel & ~3))
        soft_raise(s, EXC_GP, 0);
    if (!desc_read(s, tsel, t) || !desc_is_code(t) || !(t->hi & 0x200000) || (t->hi & 0x400000) ||
        desc_dpl(t) > cpl || (!call && !desc_conforming(t) && desc_dpl(t) != cpl))
        soft_raise(s, EXC_GP, tsel & 0xFFFC);
    if (!desc_present(t))
        soft_raise(s, EXC_NP, tsel & 0xFFFC);
    if (!canonical64(off))
        soft_raise(s, EXC_GP, 0);
    return off;
}

/* A code segment a far JMP/CALL in 64-bit mode goes to directly: the privilege checks of
 * protected mode, then a canonical offset (64-bit code) or one within the limit. */
static void code64_target(struct soft *s, uint16_t sel, struct desc *d, uint64_t off)
{
    uint32_t ec = sel & 0xFFFC;
    check_code_rights(s, sel, d);
    bool to64 = d->hi & 0x200000;
    if (to64 ? (d->hi & 0x400000) || !canonical64(off) : off > desc_limit(d))
        soft_raise(s, EXC_GP, to64 && (d->hi & 0x400000) ? ec : 0);
}

/* Pushes of n values of size bytes below RSP, probed first; returns the new RSP. */
static uint64_t push_frame64(struct soft *s, uint64_t rsp, const uint64_t *v, unsigned n,
                             unsigned size, bool user)
{
    uint64_t at = rsp - (uint64_t)n * size;
    if (!canonical64(at) || !canonical64(rsp - 1))
        soft_raise(s, EXC_SS, 0);
    lin_probe_write(s, at, n * size, user);
    for (unsigned i = 0; i < n; i++) {
        uint64_t a = at + (uint64_t)i * size;
        if (size == 8)
            lin_write64(s, a, v[i], user);
        else
            lin_write(s, a, (uint32_t)v[i], size, user);
    }
    return at;
}

/*
 * Far JMP and CALL in 64-bit mode (FF /5 and /3 with m16:16, m16:32 or, REX.W,
 * m16:64 as Intel reads it): to a code segment at the current privilege, or
 * through a call gate to 64-bit code; CALL through a gate to an inner ring
 * takes RSP from the TSS, a null SS with RPL = the new CPL, and pushes the old
 * SS and RSP (no parameters are copied in long mode). Task gates and TSSs
 * raise #GP, as long mode has no task switch.
 */
void far_jmp64(struct soft *s, uint16_t sel, uint64_t off)
{
    struct desc d, t;
    far_desc(s, sel, &d);
    if (desc_is_code(&d)) {
        code64_target(s, sel, &d, off);
        set_cs(s, sel, &d, s->cpl);
        s->next_eip = (d.hi & 0x200000) ? off : (uint32_t)off;
        return;
    }
    uint64_t goff = gate64_target(s, sel, &d, &t, false);
    set_cs(s, (uint16_t)(d.lo >> 16), &t, s->cpl);
    s->next_eip = goff;
}

void far_call64(struct soft *s, uint16_t sel, uint64_t off, unsigned size)
{
    struct desc d, t;
    bool user = s->cpl == 3;
    far_desc(s, sel, &d);
    if (desc_is_code(&d)) {
        code64_target(s, sel, &d, off);
        uint64_t v[2] = {s->next_eip, s->seg[SEG_CS].sel};
        uint64_t rsp = push_frame64(s, s->r[GPR_SP], v, 2, size, user);
        set_cs(s, sel, &d, s->cpl);
        s->r[GPR_SP] = rsp;
        s->next_eip = (d.hi & 0x200000) ? off : (uint32_t)off;
        return;
    }
    uint64_t goff = gate64_target(s, sel, &d, &t, true);
    unsigned cpl = (unsigned)s->cpl, dpl = desc_conforming(&t) ? cpl : desc_dpl(&t);
    uint64_t rsp = s->r[GPR_SP];
    if (dpl < cpl) {
        uint32_t o = 4 + dpl * 8;
        if (o + 7 > s->tr.limit)
            soft_raise(s, EXC_TS, s->tr.sel & 0xFFFC);
        rsp = lin_read64(s, s->tr.base + o, false);
        uint64_t v[4] = {s->next_eip, s->seg[SEG_CS].sel, s->r[GPR_SP], s->seg[SEG_SS].sel};
        rsp = push_frame64(s, rsp, v, 4, 8, dpl == 3);
    } else {
        uint64_t v[2] = {s->next_eip, s->seg[SEG_CS].sel};
        rsp = push_frame64(s, rsp, v, 2, 8, user);
    }
    set_cs(s, (uint16_t)(d.lo >> 16), &t, (int)dpl);
    if (dpl < cpl)
        seg_set_cache(s, SEG_SS, (uint16_t)dpl, 0, 0, 0);
    s->r[GPR_SP] = rsp;
    s->next_eip = goff;
}

/*
 * RETF in 64-bit mode: to the same privilege level, or outward (RPL > CPL)
 * with RSP and SS popped after CS (+ the immediate on both stacks), SS checked
 * as IRET checks it (null for 64-bit code below ring 3), the data segments
 * the outer ring may not use nulled (SDM vol. 2 RET, IA-32e mode).
 */
void far_ret64(struct soft *s, unsigned size, uint16_t imm)
{
    uint64_t sp = s->r[GPR_SP], rip = stk_rd64(s, sp, size);
    uint16_t cs = (uint16_t)stk_rd64(s, sp + size, size);
    struct desc d;
    check_code_target(s, cs, &d, 0);
    unsigned rpl = cs & 3, cpl = (unsigned)s->cpl;
    if (rpl < cpl || (desc_conforming(&d) ? desc_dpl(&d) > rpl : desc_dpl(&d) != rpl))
        soft_raise(s, EXC_GP, cs & 0xFFFC);
    if (!desc_present(&d))
        soft_raise(s, EXC_NP, cs & 0xFFFC);
    bool to64 = d.hi & 0x200000;
    if (to64 ? !canonical64(rip) || (d.hi & 0x400000) : rip > desc_limit(&d))
        soft_raise(s, EXC_GP, 0);
    if (rpl == cpl) {
        set_cs(s, cs, &d, s->cpl);
        s->r[GPR_SP] = sp + 2 * size + imm;
        s->next_eip = to64 ? rip : (uint32_t)rip;
        return;
    }
    uint64_t osp = sp + 2 * size + imm, nrsp = stk_rd64(s, osp, size);
    uint16_t ss = (uint16_t)stk_rd64(s, osp + size, size);
    struct desc sd;
    bool ss_loaded = iret64_ss(s, ss, rpl, to64, &sd);
    set_cs(s, cs, &d, (int)rpl);
    if (ss_loaded)
        load_from_desc(s, SEG_SS, ss, &sd);
    else
        seg_set_cache(s, SEG_SS, ss, 0, 0, 0);
    s->r[GPR_SP] = to64 ? nrsp + imm : (uint32_t)(nrsp + imm);
    s->next_eip = to64 ? rip : (uint32_t)rip;
    null_outer_segs(s);
}

/*
 * SYSCALL (64-bit mode, EFER.SCE): RCX = the next RIP, R11 = RFLAGS, CS/SS
 * from STAR[47:32] as flat ring-0 64-bit code and data, RFLAGS &= ~FMASK,
 * RIP = LSTAR. SYSRET: back to ring 3 at RCX (REX.W: 64-bit code from
 * STAR[63:48] + 16) or ECX (compatibility code from STAR[63:48]), RFLAGS
 * from R11, SS from STAR[63:48] + 8 (SDM vol. 2 SYSCALL, SYSRET).
 */
void soft_syscall(struct soft *s)
{
    if (!(s->msr.efer & EFER_SCE))
        soft_raise_noerr(s, EXC_UD);
    uint16_t sel = (uint16_t)(s->msr.star >> 32);
    s->r[GPR_CX] = s->next_eip;
    s->r[11] = soft_get_eflags(s);
    seg_set_cache(s, SEG_CS, sel & 0xFFFC, 0, 0xFFFFFFFFu, 0xA09B);
    seg_set_cache(s, SEG_SS, (uint16_t)((sel + 8) & 0xFFFC), 0, 0xFFFFFFFFu, 0xC093);
    soft_set_cpl(s, 0);
    soft_set_eflags(s, soft_get_eflags(s) & ~((uint32_t)s->msr.fmask | FL_RF), 0x3F7FD7u);
    s->next_eip = s->msr.lstar;
}

void soft_sysret(struct soft *s, bool to64)
{
    if (!(s->msr.efer & EFER_SCE))
        soft_raise_noerr(s, EXC_UD);
    if (s->cpl != 0 || (to64 && !canonical64(s->r[GPR_CX])))
        soft_raise(s, EXC_GP, 0);
    uint16_t sel = (uint16_t)(s->msr.star >> 48);
    if (to64)
        seg_set_cache(s, SEG_CS, (uint16_t)((sel + 16) | 3), 0, 0xFFFFFFFFu, 0xA0FB);
    else
        seg_set_cache(s, SEG_CS, sel | 3, 0, 0xFFFFFFFFu, 0xC0FB);
    seg_set_cache(s, SEG_SS, (uint16_t)((sel + 8) | 3), 0, 0xFFFFFFFFu, 0xC0F3);
    soft_set_cpl(s, 3);
    soft_set_eflags(s, ((uint32_t)s->r[11] & 0x3C7FD7u) | 2, 0x3F7FD7u);
    s->next_eip = to64 ? s->r[GPR_CX] : (uint32_t)s->r[GPR_CX];
}

void soft_interrupt(struct soft *s, int vec, bool sw, bool has_err, uint32_t err, uint64_t ret_eip)
{
    s->halted = false;
    if (s->msr.efer & EFER_LMA)
        int_long(s, vec, sw, has_err, err, ret_eip);
    else if (!soft_pmode(s))
        int_real(s, vec, ret_eip);
    else
        int_pmode(s, vec, sw, has_err, err, ret_eip);
}

/* ---- IRET ---- */

static void iret_to_v86(struct soft *s, struct stk *k, uint32_t eip, uint16_t cs, uint32_t fl)
{
    uint32_t esp = stk_read(s, k, 3, 4);
    uint16_t sel[6];
    sel[SEG_SS] = (uint16_t)stk_read(s, k, 4, 4);
    sel[SEG_ES] = (uint16_t)stk_read(s, k, 5, 4);
    sel[SEG_DS] = (uint16_t)stk_read(s, k, 6, 4);
    sel[SEG_FS] = (uint16_t)stk_read(s, k, 7, 4);
    sel[SEG_GS] = (uint16_t)stk_read(s, k, 8, 4);
    sel[SEG_CS] = cs;
    soft_set_eflags(s, fl, 0xFFFFFFFFu);
    soft_set_cpl(s, 3);
    for (int i = 0; i < 6; i++)
        seg_load_real(s, i, sel[i]);
    s->r[GPR_SP] = esp;
    s->next_eip = eip & 0xFFFF;
}

static uint32_t iret_flag_mask(const struct soft *s, bool op32)
{
    uint32_t m = FL_ARITH | FL_TF | FL_DF | FL_NT;
    if (op32)
        m |= FL_AC | FL_ID | FL_RF;
    if (s->cpl <= (int)((s->flags & FL_IOPL) >> 12))
        m |= FL_IF;
    if (s->cpl == 0) {
        m |= FL_IOPL;
        if (op32)
            m |= FL_VIF | FL_VIP;
    }
    return op32 ? m : m & 0xFFFF;
}

static void iret_pmode(struct soft *s, bool op32)
{
    unsigned size = op32 ? 4 : 2;
    struct stk k;
    cur_stk(s, &k);
    uint32_t eip = stk_read(s, &k, 0, size);
    uint16_t cs = (uint16_t)stk_read(s, &k, 1, size);
    uint32_t fl = stk_read(s, &k, 2, size);
    if (op32 && (fl & FL_VM) && s->cpl == 0) {
        iret_to_v86(s, &k, eip, cs, fl);
        return;
    }
    struct desc d, sd;
    check_code_target(s, cs, &d, 0);
    uint32_t ec = cs & 0xFFFC;
    unsigned rpl = cs & 3;
    if (rpl < (unsigned)s->cpl || (desc_conforming(&d) ? desc_dpl(&d) > rpl : desc_dpl(&d) != rpl))
        soft_raise(s, EXC_GP, ec);
    if (!desc_present(&d))
        soft_raise(s, EXC_NP, ec);
    uint32_t mask = iret_flag_mask(s, op32);
    if (rpl == (unsigned)s->cpl) {
        if (eip > desc_limit(&d))
            soft_raise(s, EXC_GP, 0);
        set_cs(s, cs, &d, s->cpl);
        set_esp(s, k.esp + 3 * size, stack32(s));
        soft_set_eflags(s, fl, mask);
        s->next_eip = eip;
        return;
    }
    uint32_t nesp = stk_read(s, &k, 3, size);
    uint16_t ss = (uint16_t)stk_read(s, &k, 4, size);
    if (!(ss & ~3))
        soft_raise(s, EXC_GP, 0);
    if (!desc_read(s, ss, &sd) || (ss & 3) != rpl || desc_dpl(&sd) != rpl || !desc_is_data(&sd) ||
        !(sd.hi & 0x200))
        soft_raise(s, EXC_GP, ss & 0xFFFC);
    if (!desc_present(&sd))
        soft_raise(s, EXC_SS, ss & 0xFFFC);
    if (eip > desc_limit(&d))
        soft_raise(s, EXC_GP, 0);
    soft_set_eflags(s, fl, mask);
    set_cs(s, cs, &d, (int)rpl);
    load_from_desc(s, SEG_SS, ss, &sd);
    set_esp(s, nesp, sd.hi & 0x400000);
    s->next_eip = eip;
    null_outer_segs(s);
}

void soft_iret(struct soft *s, bool op32)
{
    s->nmi_blocked = false; /* every IRET ends the NMI block, even one that faults */
    unsigned size = op32 ? 4 : 2;
    if (!soft_pmode(s) || soft_v86(s)) {
        if (soft_v86(s) && (s->flags & FL_IOPL) != FL_IOPL)
            soft_raise(s, EXC_GP, 0);
        struct stk k;
        cur_stk(s, &k);
        uint32_t eip = stk_read(s, &k, 0, size);
        uint16_t cs = (uint16_t)stk_read(s, &k, 1, size);
        uint32_t fl = stk_read(s, &k, 2, size);
        if (eip > s->seg[SEG_CS].limit && !soft_v86(s))
            soft_raise(s, EXC_GP, 0);
        uint32_t mask = op32 ? 0x257FD5u : 0x7FD5u;
        if (soft_v86(s))
            mask &= ~FL_IOPL;
        set_esp(s, k.esp + 3 * size, stack32(s));
        seg_load_real(s, SEG_CS, cs);
        soft_set_eflags(s, fl, mask);
        s->next_eip = eip;
        return;
    }
    if (s->msr.efer & EFER_LMA) { /* compatibility mode: the IA-32e IRET, SS:ESP always popped */
        soft_iret64(s, size);
        return;
    }
    if (s->flags & FL_NT) {
        uint16_t link = (uint16_t)sys_read(s, s->tr.base, 2);
        task_switch(s, link, TS_IRET, s->next_eip);
        return;
    }
    iret_pmode(s, op32);
}

/* ---- LDTR, TR, I/O permissions, LAR/LSL ---- */

/*
 * In long mode LDT and TSS descriptors take 16 bytes (SDM vol. 3 8.2.3):
 * bits 63:32 of the base follow, then a dword whose type field must be 0.
 */
static uint64_t desc_base_hi(struct soft *s, uint16_t sel, const struct desc *d)
{
    if (!(s->msr.efer & EFER_LMA))
        return 0;
    if ((uint32_t)(sel & ~7u) + 15 > s->gdt.limit)
        soft_raise(s, EXC_GP, sel & 0xFFFC);
    uint32_t hi = sys_read(s, d->addr + 8, 4);
    if (sys_read(s, d->addr + 12, 4) & 0x1F00)
        soft_raise(s, EXC_GP, sel & 0xFFFC);
    uint64_t base = desc_base(d) | (uint64_t)hi << 32;
    if (!canonical64(base))
        soft_raise(s, EXC_GP, sel & 0xFFFC);
    return (uint64_t)hi << 32;
}

void soft_lldt(struct soft *s, uint16_t sel)
{
    struct desc d;
    if (!(sel & ~3)) {
        s->ldtr.sel = sel;
        s->ldtr.attr = 0;
        s->ldtr.base = 0;
        s->ldtr.limit = 0;
        return;
    }
    if ((sel & 4) || !desc_read(s, sel, &d) || desc_sys_type(&d) != 2)
        soft_raise(s, EXC_GP, sel & 0xFFFC);
    if (!desc_present(&d))
        soft_raise(s, EXC_NP, sel & 0xFFFC);
    uint64_t hi = desc_base_hi(s, sel, &d);
    s->ldtr.sel = sel;
    s->ldtr.base = desc_base(&d) | hi;
    s->ldtr.limit = desc_limit(&d);
    s->ldtr.attr = desc_attr(&d);
}

void soft_ltr(struct soft *s, uint16_t sel)
{
    struct desc d;
    if (!(sel & ~3))
        soft_raise(s, EXC_GP, 0);
    unsigned type = 0;
    bool lma = s->msr.efer & EFER_LMA; /* long mode: only the 64-bit TSS (type 9) */
    if ((sel & 4) || !desc_read(s, sel, &d) ||
        ((type = desc_sys_type(&d)) != 9 && (type != 1 || lma)))
        soft_raise(s, EXC_GP, sel & 0xFFFC);
    if (!desc_present(&d))
        soft_raise(s, EXC_NP, sel & 0xFFFC);
    uint64_t hi = desc_base_hi(s, sel, &d);
    set_busy(s, &d, true);
    s->tr.sel = sel;
    s->tr.base = desc_base(&d) | hi;
    s->tr.limit = desc_limit(&d);
    s->tr.attr = desc_attr(&d);
}

bool soft_io_allowed(struct soft *s, uint16_t port, unsigned size)
{
    if (!soft_pmode(s) || cpu_backdoor_port(port))
        return true;
    if (!soft_v86(s) && s->cpl <= (int)((s->flags & FL_IOPL) >> 12))
        return true;
    if ((s->tr.attr & 0xF) != 0xB && (s->tr.attr & 0xF) != 0x9)
        return false;
    if (s->tr.limit < 0x67)
        return false;
    uint32_t base = sys_read(s, s->tr.base + 0x66, 2);
    uint32_t at = base + port / 8;
    if (at + 1 > s->tr.limit)
        return false;
    uint32_t bits = sys_read(s, s->tr.base + at, 2);
    uint32_t want = ((1u << size) - 1) << (port & 7);
    return !(bits & want);
}

/* LAR (0), LSL (1), VERR (2), VERW (3): *ok becomes ZF. */
uint32_t soft_lar_lsl(struct soft *s, uint16_t sel, int which, bool *ok)
{
    struct desc d;
    *ok = false;
    if (!(sel & ~3) || !desc_read(s, sel, &d))
        return 0;
    unsigned type = desc_sys_type(&d);
    bool sys = type < 0x10;
    if (sys && (s->msr.efer & EFER_LMA)) { /* long mode: LDT, 64-bit TSS, 64-bit call gate */
        if (!(type == 2 || type == 9 || type == 0xB || (type == 0xC && which == 0)))
            return 0;
    } else if (sys) {
        bool valid = which == 0 ? (type == 1 || type == 2 || type == 3 || type == 4 || type == 5 ||
                                   type == 9 || type == 0xB || type == 0xC)
                   : which == 1 ? (type == 1 || type == 2 || type == 3 || type == 9 || type == 0xB)
                                : false;
        if (!valid)
            return 0;
    }
    bool conf = desc_conforming(&d);
    if (!conf && (desc_dpl(&d) < (unsigned)s->cpl || desc_dpl(&d) < (sel & 3u)))
        return 0;
    if (which == 2 && !(desc_is_data(&d) || (desc_is_code(&d) && (d.hi & 0x200))))
        return 0;
    if (which == 3 && !(desc_is_data(&d) && (d.hi & 0x200)))
        return 0;
    *ok = true;
    return which == 0 ? d.hi & 0x00FFFF00u : desc_limit(&d);
}

/*
 * SYSENTER and SYSEXIT (SDM vol. 2): flat ring-0 code and data from
 * IA32_SYSENTER_CS and CS + 8. In IA-32e mode, from 64-bit or compatibility
 * code, the entry is 64-bit code (CS.L) at the full 64-bit SYSENTER_EIP with
 * the full SYSENTER_ESP; a 64-bit kernel's IA-32 entry depends on it.
 * SYSEXIT returns to ring 3: compatibility/32-bit code at CS + 16 (EIP = EDX,
 * ESP = ECX), or with REX.W 64-bit code at CS + 32 (RIP = RDX, RSP = RCX,
 * both canonical), SS 8 above the new CS.
 */
void soft_sysenter(struct soft *s)
{
    uint16_t cs = (uint16_t)s->msr.sysenter_cs;
    if (!soft_pmode(s) || !(cs & 0xFFFC))
        soft_raise(s, EXC_GP, 0);
    bool lma = s->msr.efer & EFER_LMA;
    s->flags &= ~(FL_VM | FL_IF | FL_RF);
    soft_set_cpl(s, 0);
    seg_set_cache(s, SEG_CS, cs & 0xFFFC, 0, 0xFFFFFFFFu, lma ? 0xA09B : 0xC09B);
    seg_set_cache(s, SEG_SS, (uint16_t)((cs & 0xFFFC) + 8), 0, 0xFFFFFFFFu, 0xC093);
    for (int i = 0; i < 6; i++)
        seg_update(s, i);
    s->r[GPR_SP] = lma ? s->msr.sysenter_esp : (uint32_t)s->msr.sysenter_esp;
    s->next_eip = lma ? s->msr.sysenter_eip : (uint32_t)s->msr.sysenter_eip;
}

void soft_sysexit(struct soft *s, bool to64)
{
    uint16_t cs = (uint16_t)s->msr.sysenter_cs;
    if (!soft_pmode(s) || s->cpl != 0 || !(cs & 0xFFFC))
        soft_raise(s, EXC_GP, 0);
    if (to64 && (!canonical64(s->r[GPR_CX]) || !canonical64(s->r[GPR_DX])))
        soft_raise(s, EXC_GP, 0);
    soft_set_cpl(s, 3);
    if (to64) {
        seg_set_cache(s, SEG_CS, (uint16_t)((cs + 32) | 3), 0, 0xFFFFFFFFu, 0xA0FB);
        seg_set_cache(s, SEG_SS, (uint16_t)((cs + 40) | 3), 0, 0xFFFFFFFFu, 0xC0F3);
        s->r[GPR_SP] = s->r[GPR_CX];
        s->next_eip = s->r[GPR_DX];
        return;
    }
    seg_set_cache(s, SEG_CS, (uint16_t)((cs + 16) | 3), 0, 0xFFFFFFFFu, 0xC0FB);
    seg_set_cache(s, SEG_SS, (uint16_t)((cs + 24) | 3), 0, 0xFFFFFFFFu, 0xC0F3);
    s->r[GPR_SP] = (uint32_t)s->r[GPR_CX];
    s->next_eip = (uint32_t)s->r[GPR_DX];
}
