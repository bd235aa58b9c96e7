/*
 * Memory for the software core: segment limit/type checks (derived once per
 * segment load), 2-level paging with 4 MiB pages, PAE with NX, global pages,
 * CR0.WP, accessed/dirty bits as the hardware sets them, #PF error codes and
 * CR2, A20 masking, and the software TLB (per privilege class, 256 entries,
 * read/write/execute tags). Write tags are never installed for pages that
 * hold cached code, so every write to such a page takes the slow path here
 * and invalidates the page's blocks.
 */
#include "cpu/soft.h"

#include <string.h>

#define PTE_P 0x1u
#define PTE_W 0x2u
#define PTE_U 0x4u
#define PTE_A 0x20u
#define PTE_D 0x40u
#define PTE_PS 0x80u
#define PTE_G 0x100u
#define PTE_NX (1ull << 63)
#define PAE_ADDR 0x0000000FFFFFF000ull /* 36-bit physical addresses */
#define PAE_RSVD 0x7FFFFFF000000000ull

#define PF_P 0x01u
#define PF_W 0x02u
#define PF_U 0x04u
#define PF_RSVD 0x08u
#define PF_I 0x10u

void tlb_flush(struct soft *s, bool keep_global)
{
    for (int u = 0; u < 2; u++)
        for (int i = 0; i < TLB_SIZE; i++) {
            struct tlb_entry *e = &s->tlb[u][i];
            if (keep_global && e->global)
                continue;
            e->tag_r = e->tag_w = e->tag_x = TLB_NONE;
            e->global = 0;
        }
}

void tlb_flush_page(struct soft *s, uint64_t lin)
{
    for (int u = 0; u < 2; u++) {
        struct tlb_entry *e = &s->tlb[u][(lin >> 12) & (TLB_SIZE - 1)];
        e->tag_r = e->tag_w = e->tag_x = TLB_NONE;
        e->global = 0;
    }
}

/* Drops write tags for one physical page (it now holds cached code). */
void tlb_flush_phys(struct soft *s, uint64_t page)
{
    for (int u = 0; u < 2; u++)
        for (int i = 0; i < TLB_SIZE; i++)
            if (s->tlb[u][i].phys == page)
                s->tlb[u][i].tag_w = TLB_NONE;
}

uint32_t phys_read(struct soft *s, uint64_t pa, unsigned size)
{
    uint8_t *h = bus_ram_page(s->bus, pa, false);
    if (h)
        return load_le(h + (pa & 0xFFF), size);
    soft_sync_clock(s);
    return (uint32_t)bus_read(s->bus, pa, size);
}

static bool is_code_page(const struct soft *s, uint64_t pa)
{
    return pa < (1ull << 32) && s->code_pages[pa >> 12];
}

void phys_write(struct soft *s, uint64_t pa, uint32_t v, unsigned size)
{
    uint8_t *h = bus_ram_page(s->bus, pa, true);
    if (!h) {
        soft_sync_clock(s);
        bus_write(s->bus, pa, v, size);
        return;
    }
    store_le(h + (pa & 0xFFF), v, size);
    if (is_code_page(s, pa))
        soft_invalidate_phys(s, pa, size);
}

static uint64_t phys_read64(struct soft *s, uint64_t pa)
{
    return phys_read(s, pa, 4) | (uint64_t)phys_read(s, pa + 4, 4) << 32;
}

_Noreturn static void page_fault(struct soft *s, uint64_t lin, uint32_t err)
{
    s->cr2 = lin;
    soft_raise(s, EXC_PF, err);
}

/* Outcome of a page walk. */
struct walk {
    uint64_t phys;  /* page */
    bool w, x, u;   /* write (with dirty set), execute, user-accessible */
    bool global;
};

/* Checks the combined rights and sets A/D; raises #PF on a violation. */
static void walk_finish(struct soft *s, uint64_t lin, int acc, bool user, uint64_t rights,
                        uint64_t *ent, const uint64_t *ent_pa, int n, struct walk *w)
{
    bool nxe = (s->cr4 & CR4_PAE) && (s->msr.efer & EFER_NXE);
    uint32_t err = PF_P | (acc == 1 ? PF_W : 0) | (user ? PF_U : 0) | (acc == 2 && nxe ? PF_I : 0);
    bool uok = rights & PTE_U, wok = rights & PTE_W, nx = nxe && (rights & PTE_NX);
    bool wp = s->cr0 & CR0_WP;
    if (user && !uok)
        page_fault(s, lin, err);
    if (acc == 1 && !wok && (user || wp))
        page_fault(s, lin, err);
    if (acc == 2 && nx)
        page_fault(s, lin, err);
    for (int i = 0; i < n; i++) {
        uint64_t want = ent[i] | PTE_A;
        if (i == n - 1 && acc == 1)
            want |= PTE_D;
        if (want != ent[i]) {
            ent[i] = want;
            phys_write(s, ent_pa[i], (uint32_t)want, 4);
        }
    }
    w->u = uok;
    w->w = (ent[n - 1] & PTE_D) && (user ? (uok && wok) : (wok || !wp));
    w->x = !nx && (!user || uok);
}

static void walk_legacy(struct soft *s, uint32_t lin, int acc, bool user, struct walk *w)
{
    uint32_t err = (acc == 1 ? PF_W : 0) | (user ? PF_U : 0);
    uint64_t ent[2], pa[2];
    pa[0] = ((s->cr3 & ~0xFFFu) + (lin >> 22) * 4) & s->a20_mask;
    ent[0] = phys_read(s, pa[0], 4);
    if (!(ent[0] & PTE_P))
        page_fault(s, lin, err);
    if ((ent[0] & PTE_PS) && (s->cr4 & CR4_PSE)) {
        walk_finish(s, lin, acc, user, ent[0], ent, pa, 1, w);
        w->phys = (ent[0] & 0xFFC00000u) | (lin & 0x3FF000u);
        w->global = (ent[0] & PTE_G) && (s->cr4 & CR4_PGE);
        return;
    }
    pa[1] = ((ent[0] & 0xFFFFF000u) + ((lin >> 12) & 0x3FF) * 4) & s->a20_mask;
    ent[1] = phys_read(s, pa[1], 4);
    if (!(ent[1] & PTE_P))
        page_fault(s, lin, err);
    walk_finish(s, lin, acc, user, ent[0] & ent[1], ent, pa, 2, w);
    w->phys = ent[1] & 0xFFFFF000u;
    w->global = (ent[1] & PTE_G) && (s->cr4 & CR4_PGE);
}

static void walk_pae(struct soft *s, uint32_t lin, int acc, bool user, struct walk *w)
{
    bool nxe = s->msr.efer & EFER_NXE;
    uint32_t err = (acc == 1 ? PF_W : 0) | (user ? PF_U : 0) | (acc == 2 && nxe ? PF_I : 0);
    uint64_t rsvd = PAE_RSVD | (nxe ? 0 : PTE_NX);
    uint64_t pdpte = phys_read64(s, ((s->cr3 & ~0x1Fu) + (lin >> 30) * 8) & s->a20_mask);
    if (!(pdpte & PTE_P))
        page_fault(s, lin, err);
    uint64_t ent[2], pa[2];
    pa[0] = ((pdpte & PAE_ADDR) + ((lin >> 21) & 511) * 8) & s->a20_mask;
    ent[0] = phys_read64(s, pa[0]);
    if (!(ent[0] & PTE_P))
        page_fault(s, lin, err);
    if (ent[0] & rsvd)
        page_fault(s, lin, err | PF_P | PF_RSVD);
    if (ent[0] & PTE_PS) {
        if (ent[0] & 0x1FE000u)
            page_fault(s, lin, err | PF_P | PF_RSVD);
        walk_finish(s, lin, acc, user, ent[0], ent, pa, 1, w);
        w->phys = (ent[0] & 0xFFFE00000ull) | (lin & 0x1FF000u);
        w->global = (ent[0] & PTE_G) && (s->cr4 & CR4_PGE);
        return;
    }
    pa[1] = ((ent[0] & PAE_ADDR) + ((lin >> 12) & 511) * 8) & s->a20_mask;
    ent[1] = phys_read64(s, pa[1]);
    if (!(ent[1] & PTE_P))
        page_fault(s, lin, err);
    if (ent[1] & rsvd)
        page_fault(s, lin, err | PF_P | PF_RSVD);
    uint64_t rights = (ent[0] & ent[1] & (PTE_U | PTE_W)) | ((ent[0] | ent[1]) & PTE_NX);
    walk_finish(s, lin, acc, user, rights, ent, pa, 2, w);
    w->phys = ent[1] & PAE_ADDR;
    w->global = (ent[1] & PTE_G) && (s->cr4 & CR4_PGE);
}

/* Reserved bits of a 4-level entry at level lvl (4 PML4E .. 1 PTE) that maps a page (PS). */
static uint64_t long_rsvd(int lvl, bool leaf, bool nxe)
{
    uint64_t r = PAE_RSVD | (nxe ? 0 : PTE_NX);
    if (lvl == 4)
        r |= PTE_PS;
    if (leaf && lvl == 3)
        r |= 0x3FFFE000ull; /* 1 GiB page: bits 29:13 */
    if (leaf && lvl == 2)
        r |= 0x1FE000ull; /* 2 MiB page: bits 20:13 */
    return r;
}

/*
 * IA-32e paging: PML4 -> PDPT (PS: 1 GiB page) -> PD (PS: 2 MiB page) -> PT,
 * 9 bits of the linear address per level from bit 39 down; U/S and R/W are
 * the AND of every level, NX the OR (SDM vol. 3 4.5).
 */
static void walk_long(struct soft *s, uint64_t lin, int acc, bool user, struct walk *w)
{
    bool nxe = s->msr.efer & EFER_NXE;
    uint32_t err = (acc == 1 ? PF_W : 0) | (user ? PF_U : 0) | (acc == 2 && nxe ? PF_I : 0);
    uint64_t ent[4], pa[4], table = s->cr3 & PAE_ADDR;
    uint64_t rights = PTE_U | PTE_W, nx = 0;
    int n = 0;
    for (int lvl = 4; lvl >= 1; lvl--, n++) {
        pa[n] = (table + ((lin >> (12 + 9 * (lvl - 1))) & 511) * 8) & s->a20_mask;
        ent[n] = phys_read64(s, pa[n]);
        if (!(ent[n] & PTE_P))
            page_fault(s, lin, err);
        bool leaf = lvl == 1 || (lvl <= 3 && (ent[n] & PTE_PS));
        if (ent[n] & long_rsvd(lvl, leaf, nxe))
            page_fault(s, lin, err | PF_P | PF_RSVD);
        rights &= ent[n];
        nx |= ent[n] & PTE_NX;
        if (leaf) {
            uint64_t span = (1ull << (12 + 9 * (lvl - 1))) - 1;
            walk_finish(s, lin, acc, user, rights | nx, ent, pa, n + 1, w);
            w->phys = (ent[n] & PAE_ADDR & ~span) | (lin & span & ~0xFFFull);
            w->global = (ent[n] & PTE_G) && (s->cr4 & CR4_PGE);
            return;
        }
        table = ent[n] & PAE_ADDR;
    }
}

/* Outside long mode a linear address wraps at 4 GiB. */
static inline uint64_t lin_wrap(const struct soft *s, uint64_t lin)
{
    return (s->msr.efer & EFER_LMA) ? lin : (uint32_t)lin;
}

/* Translates lin for an access (0 read, 1 write, 2 execute) and fills the TLB entry. */
uint64_t mmu_translate(struct soft *s, uint64_t lin, int acc, bool user)
{
    struct walk w = {.w = true, .x = true, .u = true};
    lin = lin_wrap(s, lin);
    if (!(s->cr0 & CR0_PG))
        w.phys = lin & ~0xFFFull;
    else if (s->msr.efer & EFER_LMA)
        walk_long(s, lin, acc, user, &w);
    else if (s->cr4 & CR4_PAE)
        walk_pae(s, (uint32_t)lin, acc, user, &w);
    else
        walk_legacy(s, (uint32_t)lin, acc, user, &w);
    w.phys &= s->a20_mask;
    struct tlb_entry *e = &s->tlb[user][(lin >> 12) & (TLB_SIZE - 1)];
    uint64_t page = lin & ~0xFFFull;
    e->phys = w.phys;
    e->global = w.global;
    e->host = bus_ram_page(s->bus, w.phys, false);
    e->tag_x = w.x ? page : TLB_NONE;
    e->tag_r = e->host ? page : TLB_NONE;
    bool wram = e->host && bus_ram_page(s->bus, w.phys, true) && !is_code_page(s, w.phys);
    e->tag_w = (w.w && wram) ? page : TLB_NONE;
    return w.phys | (lin & 0xFFF);
}

static uint64_t xlate(struct soft *s, uint64_t lin, int acc, bool user)
{
    lin = lin_wrap(s, lin);
    struct tlb_entry *e = &s->tlb[user][(lin >> 12) & (TLB_SIZE - 1)];
    uint64_t page = lin & ~0xFFFull;
    if ((acc == 0 && e->tag_r == page) || (acc == 1 && e->tag_w == page))
        return e->phys | (lin & 0xFFF);
    return mmu_translate(s, lin, acc, user);
}

uint64_t lin_read(struct soft *s, uint64_t lin, unsigned size, bool user)
{
    lin = lin_wrap(s, lin);
    unsigned off = lin & 0xFFF;
    if (off + size > 0x1000) {
        uint64_t p1 = xlate(s, lin, 0, user);
        uint64_t p2 = xlate(s, lin + size - 1, 0, user) & ~0xFFFull;
        uint32_t v = 0;
        for (unsigned i = 0; i < size; i++) {
            uint64_t pa = off + i < 0x1000 ? p1 + i : p2 + (off + i - 0x1000);
            v |= phys_read(s, pa, 1) << (8 * i);
        }
        return v;
    }
    uint64_t pa = xlate(s, lin, 0, user);
    struct tlb_entry *e = &s->tlb[user][(lin >> 12) & (TLB_SIZE - 1)];
    if (e->tag_r == (lin & ~0xFFFull))
        return load_le(e->host + off, size);
    return phys_read(s, pa, size);
}

void lin_probe_write(struct soft *s, uint64_t lin, unsigned size, bool user)
{
    xlate(s, lin, 1, user);
    if ((lin & 0xFFF) + size > 0x1000)
        xlate(s, lin + size - 1, 1, user);
}

void lin_write(struct soft *s, uint64_t lin, uint32_t v, unsigned size, bool user)
{
    lin = lin_wrap(s, lin);
    unsigned off = lin & 0xFFF;
    if (off + size > 0x1000) {
        uint64_t p1 = xlate(s, lin, 1, user);
        uint64_t p2 = xlate(s, lin + size - 1, 1, user) & ~0xFFFull;
        for (unsigned i = 0; i < size; i++) {
            uint64_t pa = off + i < 0x1000 ? p1 + i : p2 + (off + i - 0x1000);
            phys_write(s, pa, (v >> (8 * i)) & 0xFF, 1);
        }
        return;
    }
    uint64_t pa = xlate(s, lin, 1, user);
    struct tlb_entry *e = &s->tlb[user][(lin >> 12) & (TLB_SIZE - 1)];
    if (e->tag_w == (lin & ~0xFFFull)) {
        store_le(e->host + off, v, size);
        return;
    }
    phys_write(s, pa, v, size);
}

uint64_t lin_read64(struct soft *s, uint64_t lin, bool user)
{
    if ((lin & 0xFFF) > 0xFF8)
        xlate(s, lin + 7, 0, user);
    uint32_t lo = lin_read(s, lin, 4, user);
    return lo | (uint64_t)lin_read(s, lin + 4, 4, user) << 32;
}

void lin_write64(struct soft *s, uint64_t lin, uint64_t v, bool user)
{
    lin_probe_write(s, lin, 8, user);
    lin_write(s, lin, (uint32_t)v, 4, user);
    lin_write(s, lin + 4, (uint32_t)(v >> 32), 4, user);
}

/* Host pointer to the code page holding lin (NULL when not RAM/ROM); *phys gets its address. */
const uint8_t *code_page(struct soft *s, uint64_t lin, uint64_t *phys)
{
    bool user = s->cpl == 3;
    lin = lin_wrap(s, lin);
    struct tlb_entry *e = &s->tlb[user][(lin >> 12) & (TLB_SIZE - 1)];
    if (e->tag_x != (lin & ~0xFFFull))
        mmu_translate(s, lin, 2, user);
    *phys = e->phys;
    return bus_ram_page(s->bus, e->phys, false);
}

_Noreturn void seg_fault(struct soft *s, int seg)
{
    soft_raise(s, seg == SEG_SS ? EXC_SS : EXC_GP, 0);
}

/* Derives the access checks of a segment register from its hidden part. */
void seg_update(struct soft *s, int idx)
{
    struct seg *g = &s->seg[idx];
    unsigned type = g->attr & 0xF;
    bool code = (g->attr & 0x18) == 0x18;
    bool present = g->attr & 0x80;
    uint32_t lo = 0, hi = g->limit;
    g->ok = 0;
    if (!soft_pmode(s) || soft_v86(s)) {
        g->ok = SEG_R | SEG_W;
    } else if (present && (g->attr & 0x10)) {
        if (!code || (type & 2))
            g->ok |= SEG_R;
        if (!code && (type & 2))
            g->ok |= SEG_W;
        if (!code && (type & 4)) { /* expand-down: above the limit */
            lo = g->limit + 1;
            hi = (g->attr & 0x4000) ? 0xFFFFFFFFu : 0xFFFFu;
            if (g->limit == 0xFFFFFFFFu || lo > hi)
                g->ok = 0;
        }
    }
    g->lo = lo;
    g->span = g->ok ? hi - lo : 0;
}
