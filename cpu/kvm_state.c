/*
 * The KVM backend's architectural state: struct cpu_state to and from
 * KVM_{GET,SET}_{REGS,SREGS,FPU,DEBUGREGS,MSRS,VCPU_EVENTS}, and the reset
 * state built as a struct cpu_state with the software core's values (so both
 * backends start alike). Halted is the backend's own flag: without an
 * in-kernel irqchip KVM leaves HLT to userspace and keeps no MP state for it.
 * Segment attributes use the VMX layout of cpu.h; an unusable segment reads
 * as attributes 0, like a null selector on the software core. Not carried:
 * FCS/FDS (KVM_GET_FPU has no field) and events KVM had queued (an exception
 * or injected interrupt not yet delivered), which setting a state drops.
 */
#include "cpu/kvm.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>

#include "cpu/model.h"

enum {
    MSR_TSC = 0x10, MSR_MTRRCAP = 0xFE, MSR_SYSENTER_CS = 0x174, MSR_SYSENTER_ESP = 0x175,
    MSR_SYSENTER_EIP = 0x176, MSR_MISC_ENABLE = 0x1A0, MSR_MTRR_PHYS = 0x200,
    MSR_MTRR_FIX64K = 0x250, MSR_MTRR_FIX16K = 0x258, MSR_MTRR_FIX4K = 0x268, MSR_PAT = 0x277,
    MSR_MTRR_DEF_TYPE = 0x2FF, MSR_STAR = 0xC0000081, MSR_LSTAR = 0xC0000082,
    MSR_CSTAR = 0xC0000083, MSR_FMASK = 0xC0000084, MSR_KERNEL_GS_BASE = 0xC0000102,
};

#define MSR_COUNT 40

/* The MSRs of struct cpu_msrs other than APIC base and EFER (those travel in the sregs). */
static size_t msr_table(struct cpu_msrs *m, uint32_t *idx, uint64_t **val)
{
    size_t n = 0;
#define ADD(i, p) (idx[n] = (i), val[n] = (p), n++)
    ADD(MSR_TSC, &m->tsc);
    ADD(MSR_PAT, &m->pat);
    ADD(MSR_MISC_ENABLE, &m->misc_enable);
    ADD(MSR_SYSENTER_CS, &m->sysenter_cs);
    ADD(MSR_SYSENTER_ESP, &m->sysenter_esp);
    ADD(MSR_SYSENTER_EIP, &m->sysenter_eip);
    ADD(MSR_STAR, &m->star);
    ADD(MSR_LSTAR, &m->lstar);
    ADD(MSR_CSTAR, &m->cstar);
    ADD(MSR_FMASK, &m->fmask);
    ADD(MSR_KERNEL_GS_BASE, &m->kernel_gs_base);
    ADD(MSR_MTRR_DEF_TYPE, &m->mtrr_def_type);
    ADD(MSR_MTRR_FIX64K, &m->mtrr_fixed[0]);
    ADD(MSR_MTRR_FIX16K, &m->mtrr_fixed[1]);
    ADD(MSR_MTRR_FIX16K + 1, &m->mtrr_fixed[2]);
    for (uint32_t i = 0; i < 8; i++)
        ADD(MSR_MTRR_FIX4K + i, &m->mtrr_fixed[3 + i]);
    for (uint32_t i = 0; i < 16; i++)
        ADD(MSR_MTRR_PHYS + i, &m->mtrr_var[i]);
    ADD(MSR_MTRRCAP, &m->mtrr_cap); /* last: read-only, never set */
#undef ADD
    return n;
}

/*
 * KVM_GET/SET_MSRS stop at the first MSR they refuse; such an MSR is
 * skipped (left as it was) and the rest are still transferred.
 */
static void msrs_transfer(struct kvm *s, struct cpu_msrs *m, bool set)
{
    uint32_t idx[MSR_COUNT];
    uint64_t *val[MSR_COUNT];
    size_t n = msr_table(m, idx, val) - (set ? 1 : 0);
    struct {
        struct kvm_msrs h;
        struct kvm_msr_entry e[MSR_COUNT];
    } buf;
    for (size_t first = 0; first < n;) {
        memset(&buf, 0, sizeof buf);
        buf.h.nmsrs = (uint32_t)(n - first);
        for (size_t i = first; i < n; i++) {
            buf.e[i - first].index = idx[i];
            buf.e[i - first].data = *val[i];
        }
        int done = ioctl(s->vcpu_fd, set ? KVM_SET_MSRS : KVM_GET_MSRS, &buf);
        if (done < 0)
            done = 0;
        for (size_t i = 0; i < (size_t)done && !set; i++)
            *val[first + i] = buf.e[i].data;
        if (first + (size_t)done < n)
            kvm_trace(s, "%s MSR %#x refused", set ? "setting" : "reading", idx[first + (size_t)done]);
        first += (size_t)done + 1;
    }
}

/* ---- segments ---- */

static void seg_from_kvm(const struct kvm_segment *k, struct cpu_segment *o)
{
    o->selector = k->selector;
    o->base = k->base;
    o->limit = k->limit;
    o->attr = k->unusable ? 0
                          : (uint16_t)(k->type | k->s << 4 | k->dpl << 5 | k->present << 7 |
                                       k->avl << 12 | k->l << 13 | k->db << 14 | k->g << 15);
}

static void seg_to_kvm(const struct cpu_segment *o, struct kvm_segment *k)
{
    *k = (struct kvm_segment){
        .base = o->base,
        .limit = o->limit,
        .selector = o->selector,
        .type = o->attr & 15,
        .s = (o->attr >> 4) & 1,
        .dpl = (o->attr >> 5) & 3,
        .present = (o->attr >> 7) & 1,
        .avl = (o->attr >> 12) & 1,
        .l = (o->attr >> 13) & 1,
        .db = (o->attr >> 14) & 1,
        .g = (o->attr >> 15) & 1,
        .unusable = !((o->attr >> 7) & 1),
    };
}

static struct kvm_segment *sreg_seg(struct kvm_sregs *sr, int i)
{
    struct kvm_segment *t[6] = {&sr->es, &sr->cs, &sr->ss, &sr->ds, &sr->fs, &sr->gs};
    return t[i];
}

static void sregs_get(const struct kvm_sregs *csr, struct cpu_state *st)
{
    struct kvm_sregs sr = *csr;
    for (int i = 0; i < 6; i++)
        seg_from_kvm(sreg_seg(&sr, i), &st->seg[i]);
    seg_from_kvm(&sr.ldt, &st->ldt);
    seg_from_kvm(&sr.tr, &st->tr);
    st->gdt = (struct cpu_dtable){sr.gdt.base, sr.gdt.limit};
    st->idt = (struct cpu_dtable){sr.idt.base, sr.idt.limit};
    st->cr0 = sr.cr0;
    st->cr2 = sr.cr2;
    st->cr3 = sr.cr3;
    st->cr4 = sr.cr4;
    st->cr8 = sr.cr8;
    st->msr.efer = sr.efer;
    st->msr.apic_base = sr.apic_base;
}

static void sregs_put(const struct cpu_state *st, struct kvm_sregs *sr)
{
    memset(sr, 0, sizeof *sr);
    for (int i = 0; i < 6; i++)
        seg_to_kvm(&st->seg[i], sreg_seg(sr, i));
    seg_to_kvm(&st->ldt, &sr->ldt);
    seg_to_kvm(&st->tr, &sr->tr);
    sr->gdt = (struct kvm_dtable){.base = st->gdt.base, .limit = st->gdt.limit};
    sr->idt = (struct kvm_dtable){.base = st->idt.base, .limit = st->idt.limit};
    sr->cr0 = st->cr0;
    sr->cr2 = st->cr2;
    sr->cr3 = st->cr3;
    sr->cr4 = st->cr4;
    sr->cr8 = st->cr8;
    sr->efer = st->msr.efer;
    sr->apic_base = st->msr.apic_base;
}

/* ---- general registers, FPU, debug registers ---- */

static void regs_get(const struct kvm_regs *r, struct cpu_state *st)
{
    const uint64_t v[16] = {r->rax, r->rcx, r->rdx, r->rbx, r->rsp, r->rbp, r->rsi, r->rdi,
                            r->r8,  r->r9,  r->r10, r->r11, r->r12, r->r13, r->r14, r->r15};
    memcpy(st->gpr, v, sizeof v);
    st->rip = r->rip;
    st->rflags = r->rflags;
}

static void regs_put(const struct cpu_state *st, struct kvm_regs *r)
{
    const uint64_t *g = st->gpr;
    *r = (struct kvm_regs){
        .rax = g[0], .rcx = g[1], .rdx = g[2], .rbx = g[3], .rsp = g[4], .rbp = g[5],
        .rsi = g[6], .rdi = g[7], .r8 = g[8], .r9 = g[9], .r10 = g[10], .r11 = g[11],
        .r12 = g[12], .r13 = g[13], .r14 = g[14], .r15 = g[15], .rip = st->rip,
        .rflags = st->rflags | 2,
    };
}

/* KVM's fpr[] is in stack order ST(0)..ST(7); cpu_state keeps physical R0..R7. */
static void fpu_get(const struct kvm_fpu *f, struct cpu_fpu_state *o)
{
    unsigned top = (f->fsw >> 11) & 7;
    o->fcw = f->fcw;
    o->fsw = f->fsw;
    o->fop = f->last_opcode;
    o->ftw = f->ftwx;
    o->fip = f->last_ip;
    o->fdp = f->last_dp;
    o->fcs = o->fds = 0;
    for (unsigned i = 0; i < 8; i++)
        memcpy(o->st[(top + i) & 7], f->fpr[i], 16);
    memcpy(o->xmm, f->xmm, sizeof o->xmm);
    o->mxcsr = f->mxcsr;
}

static void fpu_put(const struct cpu_fpu_state *o, struct kvm_fpu *f)
{
    unsigned top = (o->fsw >> 11) & 7;
    memset(f, 0, sizeof *f);
    f->fcw = o->fcw;
    f->fsw = o->fsw;
    f->last_opcode = o->fop;
    f->ftwx = o->ftw;
    f->last_ip = o->fip;
    f->last_dp = o->fdp;
    for (unsigned i = 0; i < 8; i++)
        memcpy(f->fpr[i], o->st[(top + i) & 7], 10);
    memcpy(f->xmm, o->xmm, sizeof f->xmm);
    f->mxcsr = o->mxcsr;
}

static void debugregs_get(const struct kvm_debugregs *d, struct cpu_state *st)
{
    for (int i = 0; i < 4; i++)
        st->dr[i] = d->db[i];
    st->dr[6] = d->dr6;
    st->dr[7] = d->dr7;
}

/* ---- get / set ---- */

int kvm_get_state(struct cpu *c, struct cpu_state *st)
{
    struct kvm *s = kvm_of(c);
    struct kvm_regs regs;
    struct kvm_sregs sr;
    struct kvm_fpu fpu;
    struct kvm_debugregs dbg;
    struct kvm_vcpu_events ev;
    kvm_complete_pending(s);
    memset(st, 0, sizeof *st);
    if (ioctl(s->vcpu_fd, KVM_GET_REGS, &regs) < 0 || ioctl(s->vcpu_fd, KVM_GET_SREGS, &sr) < 0 ||
        ioctl(s->vcpu_fd, KVM_GET_FPU, &fpu) < 0 || ioctl(s->vcpu_fd, KVM_GET_DEBUGREGS, &dbg) < 0 ||
        ioctl(s->vcpu_fd, KVM_GET_VCPU_EVENTS, &ev) < 0) {
        kvm_trace(s, "reading the vCPU state: %s", strerror(errno));
        return -1;
    }
    regs_get(&regs, st);
    sregs_get(&sr, st);
    fpu_get(&fpu, &st->fpu);
    debugregs_get(&dbg, st);
    msrs_transfer(s, &st->msr, false);
    st->halted = s->halted;
    st->intr_shadow = ev.interrupt.shadow != 0;
    st->a20 = s->a20;
    return 0;
}

/* The interrupt shadow; events KVM had queued (an exception, an injected INTR, NMI) are dropped. */
static int put_events(struct kvm *s, bool shadow)
{
    struct kvm_vcpu_events ev;
    if (ioctl(s->vcpu_fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
        return -1;
    memset(&ev.exception, 0, sizeof ev.exception);
    memset(&ev.interrupt, 0, sizeof ev.interrupt);
    ev.nmi.injected = ev.nmi.pending = 0;
    ev.interrupt.shadow = shadow ? KVM_X86_SHADOW_INT_STI : 0;
    ev.flags = KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_NMI_PENDING;
    return ioctl(s->vcpu_fd, KVM_SET_VCPU_EVENTS, &ev);
}

int kvm_set_state(struct cpu *c, const struct cpu_state *st)
{
    struct kvm *s = kvm_of(c);
    struct kvm_regs regs;
    struct kvm_sregs sr;
    struct kvm_fpu fpu;
    struct kvm_debugregs dbg = {.db = {st->dr[0], st->dr[1], st->dr[2], st->dr[3]},
                                .dr6 = st->dr[6], .dr7 = st->dr[7]};
    struct cpu_msrs msrs = st->msr;
    kvm_complete_pending(s);
    regs_put(st, &regs);
    sregs_put(st, &sr);
    fpu_put(&st->fpu, &fpu);
    if (ioctl(s->vcpu_fd, KVM_SET_SREGS, &sr) < 0 || ioctl(s->vcpu_fd, KVM_SET_REGS, &regs) < 0 ||
        ioctl(s->vcpu_fd, KVM_SET_FPU, &fpu) < 0 || ioctl(s->vcpu_fd, KVM_SET_DEBUGREGS, &dbg) < 0 ||
        put_events(s, st->intr_shadow) < 0) {
        kvm_trace(s, "writing the vCPU state: %s", strerror(errno));
        return -1;
    }
    msrs_transfer(s, &msrs, true);
    s->halted = st->halted;
    if (s->a20 != st->a20) {
        s->a20 = st->a20;
        kvm_slots_sync(s);
    }
    s->shutdown = false;
    s->window_known = false;
    return 0;
}

/* ---- reset ---- */

static struct cpu_segment seg_make(uint16_t sel, uint32_t base, uint16_t attr)
{
    return (struct cpu_segment){.selector = sel, .attr = attr, .limit = 0xFFFF, .base = base};
}

/* Power-on state, the software core's values (cpu/soft.c soft_reset, soft_msr_reset, fninit). */
void kvm_reset(struct cpu *c)
{
    struct kvm *s = kvm_of(c);
    struct cpu_state st;
    uint32_t sig[4];
    memset(&st, 0, sizeof st);
    cpu_model_cpuid(1, sig);
    st.gpr[GPR_DX] = sig[0];
    st.rip = 0xFFF0;
    st.rflags = 2;
    for (int i = 0; i < 6; i++)
        st.seg[i] = seg_make(0, 0, 0x93);
    st.seg[SEG_CS] = seg_make(0xF000, 0xFFFF0000u, 0x9B);
    st.ldt = seg_make(0, 0, 0x82);
    st.tr = seg_make(0, 0, 0x8B);
    st.gdt = (struct cpu_dtable){0, 0xFFFF};
    st.idt = (struct cpu_dtable){0, 0xFFFF};
    st.cr0 = 0x60000010;
    st.dr[6] = 0xFFFF0FF0u;
    st.dr[7] = 0x400;
    st.msr.apic_base = 0xFEE00000u | 0x900; /* enabled, BSP */
    st.msr.pat = 0x0007040600070406ull;
    st.msr.misc_enable = 1;
    st.fpu.fcw = 0x37F;
    st.fpu.mxcsr = 0x1F80;
    st.a20 = true;
    s->apic_base = st.msr.apic_base;
    if (kvm_set_state(c, &st) < 0)
        s->failed = true; /* the next cpu_run reports CPU_EXIT_ERROR */
    else
        s->failed = false;
}
