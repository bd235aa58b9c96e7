/*
 * The KVM backend through cpu.h: the reset state equals the software core's,
 * a whole architectural state set on the vCPU reads back unchanged, a state
 * taken from the software core moves to KVM, and cpu_run's contract (I/O
 * exits to the bus, HLT, deadline, a stop from another thread). Every case
 * SKIPs when /dev/kvm is missing or its probe VM does not run. Guests are a
 * few hand-assembled real-mode bytes (this suite also runs on KVMs that
 * only manage real mode).
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "cpu/cpu.h"
#include "test.h"

#define RAM_SIZE 0x100000

struct kvm_vm {
    struct bus *bus;
    struct clock *clock;
    struct cpu *cpu;
    uint8_t *ram;
    char out[64];
    size_t nout;
    int vector; /* what intr_ack answers (-1: none) */
    int acks;
};

static int vm_intr_ack(void *opaque)
{
    struct kvm_vm *m = opaque;
    m->acks++;
    cpu_set_intr(m->cpu, 0);
    return m->vector;
}

static uint64_t e9_read(void *opaque, uint64_t off, unsigned size)
{
    return 0xE9;
}

static void e9_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct kvm_vm *m = opaque;
    if (m->nout + 1 < sizeof m->out)
        m->out[m->nout++] = (char)v;
}

static const struct bus_ops e9_ops = {e9_read, e9_write, 1, 1};

static void vm_open(struct kvm_vm *m, enum cpu_kind kind)
{
    memset(m, 0, sizeof *m);
    m->bus = bus_new();
    m->clock = clock_new(CLOCK_REALTIME, 0);
    m->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT(m->bus && m->clock && m->ram != MAP_FAILED);
    struct error err;
    m->vector = -1;
    m->cpu = cpu_create(kind, m->bus, m->clock, &(struct cpu_hooks){.opaque = m, .intr_ack = vm_intr_ack}, &err);
    if (!m->cpu && kind == CPU_KVM)
        SKIP("no usable KVM: %s", err.msg);
    ASSERT(m->cpu);
    ASSERT_EQ(bus_map_ram(m->bus, 0, RAM_SIZE, m->ram, false, "ram"), 0);
    ASSERT_EQ(bus_map_pio(m->bus, 0xE9, 1, &e9_ops, m, "debug"), 0);
}

static void vm_close(struct kvm_vm *m)
{
    cpu_free(m->cpu);
    bus_free(m->bus);
    clock_free(m->clock);
    munmap(m->ram, RAM_SIZE);
}

/* Real mode at 0000:addr running the given bytes. */
static void vm_start(struct kvm_vm *m, uint32_t addr, const uint8_t *code, size_t n)
{
    struct cpu_state st;
    memcpy(m->ram + addr, code, n);
    ASSERT_EQ(cpu_get_state(m->cpu, &st), 0);
    st.seg[SEG_CS].selector = 0;
    st.seg[SEG_CS].base = 0;
    st.rip = addr;
    st.gpr[GPR_SP] = 0x7000;
    ASSERT_EQ(cpu_set_state(m->cpu, &st), 0);
}

static void assert_seg(const struct cpu_segment *a, const struct cpu_segment *b)
{
    ASSERT_EQ(a->selector, b->selector);
    ASSERT_EQ(a->attr, b->attr);
    ASSERT_EQ(a->limit, b->limit);
    ASSERT_EQ(a->base, b->base);
}

/* Everything but the TSC, FCS/FDS (KVM has no field) and SSE (the soft core has none yet). */
static void assert_same_state(const struct cpu_state *a, const struct cpu_state *b)
{
    for (int i = 0; i < 16; i++)
        ASSERT_EQ(a->gpr[i], b->gpr[i]);
    ASSERT_EQ(a->rip, b->rip);
    ASSERT_EQ(a->rflags, b->rflags);
    for (int i = 0; i < 6; i++)
        assert_seg(&a->seg[i], &b->seg[i]);
    assert_seg(&a->ldt, &b->ldt);
    assert_seg(&a->tr, &b->tr);
    ASSERT_EQ(a->gdt.base, b->gdt.base);
    ASSERT_EQ(a->gdt.limit, b->gdt.limit);
    ASSERT_EQ(a->idt.base, b->idt.base);
    ASSERT_EQ(a->idt.limit, b->idt.limit);
    ASSERT_EQ(a->cr0, b->cr0);
    ASSERT_EQ(a->cr2, b->cr2);
    ASSERT_EQ(a->cr3, b->cr3);
    ASSERT_EQ(a->cr4, b->cr4);
    for (int i = 0; i < 8; i++)
        if (i != 4 && i != 5)
            ASSERT_EQ(a->dr[i], b->dr[i]);
    struct cpu_msrs ma = a->msr, mb = b->msr;
    ma.tsc = mb.tsc = 0;
    ASSERT(memcmp(&ma, &mb, sizeof ma) == 0);
    ASSERT_EQ(a->fpu.fcw, b->fpu.fcw);
    ASSERT_EQ(a->fpu.fsw, b->fpu.fsw);
    ASSERT_EQ(a->fpu.ftw, b->fpu.ftw);
    ASSERT_EQ(a->fpu.fop, b->fpu.fop);
    ASSERT_EQ(a->fpu.fip, b->fpu.fip);
    ASSERT_EQ(a->fpu.fdp, b->fpu.fdp);
    for (int i = 0; i < 8; i++)
        ASSERT(memcmp(a->fpu.st[i], b->fpu.st[i], 10) == 0);
    ASSERT_EQ(a->halted, b->halted);
    ASSERT_EQ(a->intr_shadow, b->intr_shadow);
    ASSERT_EQ(a->a20, b->a20);
}

TEST(reset_state_equals_soft)
{
    struct kvm_vm k, s;
    vm_open(&k, CPU_KVM);
    vm_open(&s, CPU_SOFT);
    struct cpu_state a, b;
    cpu_reset(k.cpu);
    cpu_reset(s.cpu);
    ASSERT_EQ(cpu_get_state(k.cpu, &a), 0);
    ASSERT_EQ(cpu_get_state(s.cpu, &b), 0);
    assert_same_state(&a, &b);
    ASSERT_EQ(a.seg[SEG_CS].base, 0xFFFF0000u);
    ASSERT_EQ(a.gpr[GPR_DX], 0x106CA); /* family 6, model 28 (0x1C), stepping 10 */
    vm_close(&k);
    vm_close(&s);
}

/* A 32-bit protected-mode state with something in every field. */
static void busy_state(struct cpu_state *st)
{
    for (int i = 0; i < 8; i++)
        st->gpr[i] = 0x11111111u * (uint32_t)(i + 1);
    st->rip = 0x1234;
    st->rflags = 0x246 | 0x200;
    for (int i = 0; i < 6; i++)
        st->seg[i] = (struct cpu_segment){0x10, 0xC093, 0xFFFFFFFF, 0};
    st->seg[SEG_CS] = (struct cpu_segment){0x08, 0xC09B, 0xFFFFFFFF, 0};
    st->seg[SEG_FS].base = 0x12340000;
    st->ldt = (struct cpu_segment){0x28, 0x0082, 0xFF, 0x5000};
    st->tr = (struct cpu_segment){0x30, 0x008B, 0x67, 0x6000};
    st->gdt = (struct cpu_dtable){0x800, 0x3F};
    st->idt = (struct cpu_dtable){0x1000, 0x7FF};
    st->cr0 = 0x60000011;
    st->cr2 = 0xDEAD000;
    st->cr3 = 0x20000;
    st->cr4 = 0x10;
    st->dr[0] = 0x1000;
    st->dr[1] = 0x2000;
    st->dr[7] = 0x405;
    st->dr[6] = 0xFFFF0FF0u;
    st->msr.sysenter_cs = 0x08;
    st->msr.sysenter_esp = 0x9000;
    st->msr.sysenter_eip = 0xC0001000u;
    st->msr.mtrr_def_type = 0xC06;
    st->msr.mtrr_fixed[0] = 0x0606060606060606ull;
    st->msr.mtrr_var[0] = 0x6;
    st->msr.mtrr_var[1] = 0xFF0000800ull;
    st->fpu.fcw = 0x27F;
    st->fpu.fsw = 0x3800; /* TOP = 7 */
    st->fpu.ftw = 0x80;   /* R7 in use */
    memcpy(st->fpu.st[7], "\x00\x00\x00\x00\x00\x00\x00\x80\xff\x3f", 10); /* 1.0 */
    st->intr_shadow = true;
    st->halted = true;
}

TEST(state_round_trip)
{
    struct kvm_vm k;
    vm_open(&k, CPU_KVM);
    struct cpu_state st, got;
    ASSERT_EQ(cpu_get_state(k.cpu, &st), 0);
    busy_state(&st);
    ASSERT_EQ(cpu_set_state(k.cpu, &st), 0);
    ASSERT_EQ(cpu_get_state(k.cpu, &got), 0);
    assert_same_state(&st, &got);
    vm_close(&k);
}

/* A TSC set reads back a little later (KVM keeps the offset); some nested KVMs pass the host's through. */
TEST(tsc_set_takes_effect)
{
    struct kvm_vm k;
    vm_open(&k, CPU_KVM);
    struct cpu_state st, got;
    ASSERT_EQ(cpu_get_state(k.cpu, &st), 0);
    st.msr.tsc = 1ull << 50;
    ASSERT_EQ(cpu_set_state(k.cpu, &st), 0);
    ASSERT_EQ(cpu_get_state(k.cpu, &got), 0);
    uint64_t host = __builtin_ia32_rdtsc();
    vm_close(&k);
    if (got.msr.tsc < st.msr.tsc && host - got.msr.tsc < (1ull << 40))
        SKIP("this KVM ignores TSC writes: the vCPU reads the host's TSC (%#llx)",
             (unsigned long long)got.msr.tsc);
    ASSERT(got.msr.tsc >= st.msr.tsc && got.msr.tsc - st.msr.tsc < (1ull << 40));
}

/* 32-bit flat protected mode set through cpu_set_state runs: MOV AL, 'p'; OUT E9; HLT. */
TEST(protected_mode_state_runs)
{
    static const uint8_t prog[] = {0xB0, 'p', 0xE6, 0xE9, 0xF4};
    struct kvm_vm k;
    vm_open(&k, CPU_KVM);
    struct cpu_state st;
    ASSERT_EQ(cpu_get_state(k.cpu, &st), 0);
    busy_state(&st);
    st.halted = st.intr_shadow = false;
    st.rip = 0x2000;
    st.dr[7] = 0x400;
    memcpy(k.ram + 0x2000, prog, sizeof prog);
    ASSERT_EQ(cpu_set_state(k.cpu, &st), 0);
    ASSERT_EQ(cpu_run(k.cpu, clock_now_ns(k.clock) + 1000000000), CPU_EXIT_HALT);
    ASSERT_EQ(k.nout, 1);
    ASSERT_EQ(k.out[0], 'p');
    ASSERT_EQ(cpu_get_state(k.cpu, &st), 0);
    ASSERT_EQ(st.rip, 0x2005);
    ASSERT_EQ(st.seg[SEG_CS].attr, 0xC09B);
    vm_close(&k);
}

/*
 * STI; HLT; MOV AL, 'h'; OUT E9; CLI; HLT at 0x1000, and at vector 0x20 (IVT
 * 0x80 -> 0000:0x1100) MOV AL, 'i'; OUT E9; IRET. HLT wakes only when INTR
 * rises and intr_ack hands out a vector; both backends print the same.
 */
static void interrupt_wakes_halt(enum cpu_kind kind)
{
    static const uint8_t main_prog[] = {0xFB, 0xF4, 0xB0, 'h', 0xE6, 0xE9, 0xFA, 0xF4};
    static const uint8_t isr[] = {0xB0, 'i', 0xE6, 0xE9, 0xCF};
    struct kvm_vm k;
    vm_open(&k, kind);
    memcpy(k.ram + 0x1100, isr, sizeof isr);
    k.ram[0x80] = 0x00;
    k.ram[0x81] = 0x11;
    vm_start(&k, 0x1000, main_prog, sizeof main_prog);
    ASSERT_EQ(cpu_run(k.cpu, clock_now_ns(k.clock) + 1000000000), CPU_EXIT_HALT);
    ASSERT_EQ(k.nout, 0);
    cpu_set_intr(k.cpu, 1); /* the controller has nothing after all: stays halted */
    ASSERT_EQ(cpu_run(k.cpu, clock_now_ns(k.clock) + 1000000000), CPU_EXIT_HALT);
    ASSERT_EQ(k.acks, 1);
    ASSERT_EQ(k.nout, 0);
    k.vector = 0x20;
    cpu_set_intr(k.cpu, 1);
    ASSERT_EQ(cpu_run(k.cpu, clock_now_ns(k.clock) + 1000000000), CPU_EXIT_HALT);
    ASSERT_EQ(k.acks, 2);
    ASSERT_EQ(k.nout, 2);
    ASSERT(memcmp(k.out, "ih", 2) == 0);
    vm_close(&k);
}

TEST(interrupt_wakes_halt_kvm)
{
    interrupt_wakes_halt(CPU_KVM);
}

TEST(interrupt_wakes_halt_soft)
{
    interrupt_wakes_halt(CPU_SOFT);
}

/* MOV AL, imm; OUT E9; INC AX; OUT E9; HLT */
static const uint8_t prog_out[] = {0xB0, 'k', 0xE6, 0xE9, 0x40, 0xE6, 0xE9, 0xF4};

TEST(soft_state_moves_to_kvm)
{
    struct kvm_vm k, s;
    vm_open(&s, CPU_SOFT);
    vm_open(&k, CPU_KVM);
    vm_start(&s, 0x1000, prog_out, 4); /* runs only MOV and OUT, then the bytes end */
    s.ram[0x1004] = 0xF4;
    ASSERT_EQ(cpu_run(s.cpu, clock_now_ns(s.clock) + 1000000000), CPU_EXIT_HALT);
    struct cpu_state st, got;
    ASSERT_EQ(cpu_get_state(s.cpu, &st), 0);
    st.halted = false;
    memcpy(k.ram + 0x1000, prog_out, sizeof prog_out);
    st.rip = 0x1004;
    ASSERT_EQ(cpu_set_state(k.cpu, &st), 0);
    ASSERT_EQ(cpu_get_state(k.cpu, &got), 0);
    assert_same_state(&st, &got);
    ASSERT_EQ(cpu_run(k.cpu, clock_now_ns(k.clock) + 1000000000), CPU_EXIT_HALT);
    ASSERT_EQ(k.nout, 1);
    ASSERT_EQ(k.out[0], 'l'); /* AL came over from the soft core */
    vm_close(&k);
    vm_close(&s);
}

TEST(run_io_and_halt)
{
    struct kvm_vm k;
    vm_open(&k, CPU_KVM);
    vm_start(&k, 0x1000, prog_out, sizeof prog_out);
    ASSERT_EQ(cpu_run(k.cpu, clock_now_ns(k.clock) + 1000000000), CPU_EXIT_HALT);
    ASSERT_EQ(k.nout, 2);
    ASSERT(memcmp(k.out, "kl", 2) == 0);
    struct cpu_state st;
    ASSERT_EQ(cpu_get_state(k.cpu, &st), 0);
    ASSERT(st.halted);
    ASSERT_EQ(st.rip, 0x1008);
    /* halted with IF clear: stays halted */
    ASSERT_EQ(cpu_run(k.cpu, clock_now_ns(k.clock) + 1000000), CPU_EXIT_HALT);
    ASSERT_EQ(cpu_insn_count(k.cpu), 0);
    vm_close(&k);
}

/* JMP $ */
static const uint8_t prog_spin[] = {0xEB, 0xFE};

TEST(run_returns_at_deadline)
{
    struct kvm_vm k;
    vm_open(&k, CPU_KVM);
    vm_start(&k, 0x1000, prog_spin, sizeof prog_spin);
    int64_t deadline = clock_now_ns(k.clock) + 20000000;
    ASSERT_EQ(cpu_run(k.cpu, deadline), CPU_EXIT_DEADLINE);
    ASSERT(clock_now_ns(k.clock) >= deadline);
    vm_close(&k);
}

static void *stop_later(void *opaque)
{
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    cpu_request_stop(opaque);
    return NULL;
}

TEST(stop_from_another_thread)
{
    struct kvm_vm k;
    vm_open(&k, CPU_KVM);
    vm_start(&k, 0x1000, prog_spin, sizeof prog_spin);
    ASSERT_EQ(cpu_run(k.cpu, clock_now_ns(k.clock) + 1000000), CPU_EXIT_DEADLINE); /* adopt this thread */
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, stop_later, k.cpu), 0);
    enum cpu_exit e = cpu_run(k.cpu, CLOCK_NEVER);
    pthread_join(t, NULL);
    ASSERT_EQ(e, CPU_EXIT_STOP);
    vm_close(&k);
}

TEST(deterministic_clock_refused)
{
    struct bus *bus = bus_new();
    struct clock *clock = clock_new(CLOCK_DETERMINISTIC, 4);
    struct error err;
    struct cpu *c = cpu_create(CPU_KVM, bus, clock, &(struct cpu_hooks){0}, &err);
    ASSERT(!c);
    ASSERT_EQ(err.code, EX_USAGE);
    c = cpu_create(CPU_AUTO, bus, clock, &(struct cpu_hooks){0}, &err);
    ASSERT(c);
    ASSERT(strcmp(cpu_backend_name(c), "soft") == 0);
    cpu_free(c);
    clock_free(clock);
    bus_free(bus);
}

/*
 * FNINIT; FLD1; FLDPI; HLT on both backends: the same stack (TOP 6, R6 = pi,
 * R7 = 1.0), tags and control word. FIP/FDP/FOP are left out: AMD CPUs save
 * them only while an exception is pending.
 */
TEST(fpu_registers_match_soft)
{
    static const uint8_t prog[] = {0xDB, 0xE3, 0xD9, 0xE8, 0xD9, 0xEB, 0xF4};
    struct kvm_vm k, s;
    vm_open(&k, CPU_KVM);
    vm_open(&s, CPU_SOFT);
    vm_start(&k, 0x1000, prog, sizeof prog);
    vm_start(&s, 0x1000, prog, sizeof prog);
    enum cpu_exit e = cpu_run(k.cpu, clock_now_ns(k.clock) + 1000000000);
    if (e == CPU_EXIT_ERROR) {
        vm_close(&k);
        vm_close(&s);
        SKIP("this KVM cannot run x87 code in real mode (it emulates real mode and stops on FLD1)");
    }
    ASSERT_EQ(e, CPU_EXIT_HALT);
    ASSERT_EQ(cpu_run(s.cpu, clock_now_ns(s.clock) + 1000000000), CPU_EXIT_HALT);
    struct cpu_state a, b;
    ASSERT_EQ(cpu_get_state(k.cpu, &a), 0);
    ASSERT_EQ(cpu_get_state(s.cpu, &b), 0);
    ASSERT_EQ(a.fpu.fcw, b.fpu.fcw);
    ASSERT_EQ(a.fpu.fsw, b.fpu.fsw);
    ASSERT_EQ((a.fpu.fsw >> 11) & 7, 6);
    ASSERT_EQ(a.fpu.ftw, b.fpu.ftw);
    ASSERT_EQ(a.fpu.ftw, 0xC0);
    for (int i = 0; i < 8; i++)
        ASSERT(memcmp(a.fpu.st[i], b.fpu.st[i], 10) == 0);
    ASSERT_EQ(a.rip, b.rip);
    vm_close(&k);
    vm_close(&s);
}
