/*
 * vCPU and RAM sections (state_cpu.h): struct cpu_state written field by
 * field, RAM as its non-zero pages.
 */
#include "devices/state_cpu.h"

#include <stdio.h>
#include <string.h>

#include "devices/state.h"
#include "formats/error.h"

#define PAGE 4096u
#define RAM_END UINT64_MAX

static void put_seg(struct state_writer *w, const struct cpu_segment *s)
{
    state_put_u16(w, s->selector);
    state_put_u16(w, s->attr);
    state_put_u32(w, s->limit);
    state_put_u64(w, s->base);
}

static void get_seg(struct state_reader *r, struct cpu_segment *s)
{
    state_get_u16(r, &s->selector);
    state_get_u16(r, &s->attr);
    state_get_u32(r, &s->limit);
    state_get_u64(r, &s->base);
}

static void put_u64s(struct state_writer *w, const uint64_t *v, int n)
{
    for (int i = 0; i < n; i++)
        state_put_u64(w, v[i]);
}

static void get_u64s(struct state_reader *r, uint64_t *v, int n)
{
    for (int i = 0; i < n; i++)
        state_get_u64(r, &v[i]);
}

static void put_msrs(struct state_writer *w, const struct cpu_msrs *m)
{
    const uint64_t v[] = {m->tsc,
                          m->apic_base,
                          m->pat,
                          m->misc_enable,
                          m->efer,
                          m->sysenter_cs,
                          m->sysenter_esp,
                          m->sysenter_eip,
                          m->star,
                          m->lstar,
                          m->cstar,
                          m->fmask,
                          m->kernel_gs_base,
                          m->mtrr_cap,
                          m->mtrr_def_type};
    put_u64s(w, v, (int)(sizeof v / sizeof v[0]));
    put_u64s(w, m->mtrr_fixed, 11);
    put_u64s(w, m->mtrr_var, 16);
}

static void get_msrs(struct state_reader *r, struct cpu_msrs *m)
{
    uint64_t *const v[] = {&m->tsc,
                           &m->apic_base,
                           &m->pat,
                           &m->misc_enable,
                           &m->efer,
                           &m->sysenter_cs,
                           &m->sysenter_esp,
                           &m->sysenter_eip,
                           &m->star,
                           &m->lstar,
                           &m->cstar,
                           &m->fmask,
                           &m->kernel_gs_base,
                           &m->mtrr_cap,
                           &m->mtrr_def_type};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        state_get_u64(r, v[i]);
    get_u64s(r, m->mtrr_fixed, 11);
    get_u64s(r, m->mtrr_var, 16);
}

static void put_fpu(struct state_writer *w, const struct cpu_fpu_state *f)
{
    state_put_u16(w, f->fcw);
    state_put_u16(w, f->fsw);
    state_put_u16(w, f->fop);
    state_put_u8(w, f->ftw);
    state_put_u64(w, f->fip);
    state_put_u64(w, f->fdp);
    state_put_u16(w, f->fcs);
    state_put_u16(w, f->fds);
    state_put_bytes(w, f->st, sizeof f->st);
    state_put_bytes(w, f->xmm, sizeof f->xmm);
    state_put_u32(w, f->mxcsr);
}

static void get_fpu(struct state_reader *r, struct cpu_fpu_state *f)
{
    state_get_u16(r, &f->fcw);
    state_get_u16(r, &f->fsw);
    state_get_u16(r, &f->fop);
    state_get_u8(r, &f->ftw);
    state_get_u64(r, &f->fip);
    state_get_u64(r, &f->fdp);
    state_get_u16(r, &f->fcs);
    state_get_u16(r, &f->fds);
    state_get_bytes(r, f->st, sizeof f->st);
    state_get_bytes(r, f->xmm, sizeof f->xmm);
    state_get_u32(r, &f->mxcsr);
}

static void put_cpu(struct state_writer *w, const struct cpu_state *s)
{
    put_u64s(w, s->gpr, 16);
    state_put_u64(w, s->rip);
    state_put_u64(w, s->rflags);
    for (int i = 0; i < 6; i++)
        put_seg(w, &s->seg[i]);
    put_seg(w, &s->ldt);
    put_seg(w, &s->tr);
    state_put_u64(w, s->gdt.base);
    state_put_u16(w, s->gdt.limit);
    state_put_u64(w, s->idt.base);
    state_put_u16(w, s->idt.limit);
    const uint64_t cr[] = {s->cr0, s->cr2, s->cr3, s->cr4, s->cr8};
    put_u64s(w, cr, 5);
    put_u64s(w, s->dr, 8);
    put_msrs(w, &s->msr);
    put_fpu(w, &s->fpu);
    state_put_u8(w, s->halted);
    state_put_u8(w, s->intr_shadow);
    state_put_u8(w, s->a20);
}

static int get_flag(struct state_reader *r, bool *b)
{
    uint8_t v;
    if (state_get_u8(r, &v) < 0 || v > 1)
        return -1;
    *b = v;
    return 0;
}

static int get_cpu(struct state_reader *r, struct cpu_state *s)
{
    memset(s, 0, sizeof *s);
    get_u64s(r, s->gpr, 16);
    state_get_u64(r, &s->rip);
    state_get_u64(r, &s->rflags);
    for (int i = 0; i < 6; i++)
        get_seg(r, &s->seg[i]);
    get_seg(r, &s->ldt);
    get_seg(r, &s->tr);
    state_get_u64(r, &s->gdt.base);
    state_get_u16(r, &s->gdt.limit);
    state_get_u64(r, &s->idt.base);
    state_get_u16(r, &s->idt.limit);
    uint64_t *const cr[] = {&s->cr0, &s->cr2, &s->cr3, &s->cr4, &s->cr8};
    for (int i = 0; i < 5; i++)
        state_get_u64(r, cr[i]);
    get_u64s(r, s->dr, 8);
    get_msrs(r, &s->msr);
    get_fpu(r, &s->fpu);
    if (get_flag(r, &s->halted) < 0 || get_flag(r, &s->intr_shadow) < 0 || get_flag(r, &s->a20) < 0)
        return -1;
    return state_reader_done(r) ? 0 : -1;
}

int state_cpus_save(struct state_writer *w, const struct cpu_state *st, int n)
{
    if (n < 1 || n > STATE_MAX_VCPUS)
        return -1;
    state_section_begin(w, "cpus", 1);
    state_put_u32(w, (uint32_t)n);
    state_section_end(w);
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "cpu%d", i);
        state_section_begin(w, name, 1);
        put_cpu(w, &st[i]);
        state_section_end(w);
    }
    return w->failed ? -1 : 0;
}

int state_cpus_load(struct state_file *f, struct cpu_state *st, int n, struct error *err)
{
    struct state_reader r;
    uint32_t version, count;
    if (state_file_section(f, "cpus", &r, &version) < 0 || version != 1 ||
        state_get_u32(&r, &count) < 0 || !state_reader_done(&r))
        return error_set(err, EX_DATAERR, "the saved state has no vCPU count of version 1");
    if (count != (uint32_t)n)
        return error_set(err, EX_DATAERR, "the saved state has %u vCPUs; this VM runs %d", count,
                         n);
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "cpu%d", i);
        if (state_file_section(f, name, &r, &version) < 0 || version != 1 ||
            get_cpu(&r, &st[i]) < 0)
            return error_set(err, EX_DATAERR, "the saved state's %s section is missing or damaged",
                             name);
    }
    return 0;
}

static bool page_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

int state_ram_save(struct state_writer *w, const uint8_t *ram, uint64_t size)
{
    state_section_begin(w, "ram", 1);
    state_put_u64(w, size);
    for (uint64_t off = 0; off < size && !w->failed; off += PAGE) {
        size_t n = size - off < PAGE ? (size_t)(size - off) : PAGE;
        if (page_zero(ram + off, n))
            continue;
        state_put_u64(w, off / PAGE);
        state_put_bytes(w, ram + off, n);
    }
    state_put_u64(w, RAM_END);
    state_section_end(w);
    return w->failed ? -1 : 0;
}

int state_ram_load(struct state_file *f, uint8_t *ram, uint64_t size, struct error *err)
{
    struct state_reader r;
    uint32_t version;
    uint64_t saved, page, next = 0, pages = (size + PAGE - 1) / PAGE;
    if (state_file_section(f, "ram", &r, &version) < 0 || version != 1 ||
        state_get_u64(&r, &saved) < 0)
        return error_set(err, EX_DATAERR, "the saved state has no RAM section of version 1");
    if (saved != size)
        return error_set(err, EX_DATAERR,
                         "the saved state holds %llu MiB of RAM; this VM has %llu MiB",
                         (unsigned long long)(saved >> 20), (unsigned long long)(size >> 20));
    memset(ram, 0, size);
    while (state_get_u64(&r, &page) == 0 && page != RAM_END) {
        if (page < next || page >= pages)
            return error_set(err, EX_DATAERR, "the saved state's RAM pages are out of order");
        uint64_t off = page * PAGE;
        size_t n = size - off < PAGE ? (size_t)(size - off) : PAGE;
        if (state_get_bytes(&r, ram + off, n) < 0)
            break;
        next = page + 1;
    }
    if (!state_reader_done(&r) || page != RAM_END)
        return error_set(err, EX_DATAERR, "the saved state's RAM section is truncated or too long");
    return 0;
}
