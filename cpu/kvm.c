/*
 * The KVM backend: the guest's code runs on the host CPU through /dev/kvm,
 * one VM with one vCPU. Memory slots mirror the bus's RAM and ROM ranges
 * (ROM read-only), so every other address is a hole whose accesses exit to
 * the bus handlers (MMIO, the local APIC at 0xFEE00000 included). There is no
 * in-kernel irqchip: the board's 8259/IOAPIC/local APIC models stay in charge,
 * INTR is injected with KVM_INTERRUPT when the vCPU reports an open interrupt
 * window, and HLT comes back to userspace. Deadlines use a per-thread POSIX
 * timer whose signal is blocked outside KVM_RUN (KVM_SET_SIGNAL_MASK unblocks
 * it inside), which also carries cpu_request_stop's kick. Left out: counting
 * instructions (so no --deterministic), most of the A20 gate (KVM has none:
 * only the HMA wraps to 0 while A20 is off, by pointing its slot at the
 * first 64 KiB), the TSC rate (the host's, not 1 GHz),
 * FCS/FDS (KVM_GET_FPU has no field for them). CPUID is the software core's
 * Pentium II model, reduced to what the host supports.
 */
#include "cpu/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define KVM_TSS_ADDR 0xFFFBD000u     /* 3 pages below a 256 KiB BIOS (Intel real mode) */
#define KVM_IDENTITY_MAP 0xFFFBC000u /* one page below that */
#define KICK_SIGNAL (SIGRTMIN + 1)
#define HMA_START 0x100000u
#define HMA_END 0x110000u
#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

void kvm_trace(struct kvm *s, const char *fmt, ...)
{
    if (!s->trace)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(s->trace, "cpu: kvm: ");
    vfprintf(s->trace, fmt, ap);
    fputc('\n', s->trace);
    va_end(ap);
}

/* ---- memory slots ---- */

static bool slottable(const struct bus_range *r)
{
    uint64_t mask = BUS_PAGE_SIZE - 1;
    return (r->kind == BUS_RAM || r->kind == BUS_ROM) && r->host && !(r->base & mask) &&
           !(r->size & mask) && r->size;
}

/* What the bus map asks of a slot: guest range, host bytes, read-only. */
struct slot_want {
    uint64_t gpa, size;
    const uint8_t *src;
    bool ro;
};

static bool slot_matches(const struct kvm_slot *k, const struct slot_want *w)
{
    return k->used && k->gpa == w->gpa && k->size == w->size && k->src == w->src && k->ro == w->ro;
}

static int slot_set(struct kvm *s, int id, const struct kvm_slot *k, bool remove)
{
    struct kvm_userspace_memory_region mr = {
        .slot = (uint32_t)id,
        .flags = k->ro && s->readonly_mem ? KVM_MEM_READONLY : 0,
        .guest_phys_addr = k->gpa,
        .memory_size = remove ? 0 : k->size,
        .userspace_addr = (uintptr_t)(k->copy ? k->copy : k->src),
    };
    return ioctl(s->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr);
}

static void slot_remove(struct kvm *s, int id)
{
    struct kvm_slot *k = &s->slot[id];
    if (slot_set(s, id, k, true) < 0)
        kvm_trace(s, "removing slot %d: %s", id, strerror(errno));
    if (k->copy)
        munmap(k->copy, k->size);
    *k = (struct kvm_slot){0};
}

/*
 * A ROM whose bytes are not page aligned (or a host without read-only
 * slots) gets a private copy: the guest sees the same bytes, and without
 * KVM_MEM_READONLY its writes change only the copy.
 */
static void slot_add(struct kvm *s, const struct slot_want *w)
{
    int id = 0;
    while (id < KVM_MAX_SLOTS && s->slot[id].used)
        id++;
    if (id == KVM_MAX_SLOTS) {
        kvm_trace(s, "range %#llx+%#llx: out of slots (left to MMIO exits)",
                  (unsigned long long)w->gpa, (unsigned long long)w->size);
        return;
    }
    struct kvm_slot k = {true, w->gpa, w->size, w->src, w->ro, NULL};
    if (((uintptr_t)w->src & (BUS_PAGE_SIZE - 1)) || (k.ro && !s->readonly_mem)) {
        if (!k.ro)
            return; /* unaligned writable RAM: reached through MMIO exits */
        k.copy = mmap(NULL, w->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (k.copy == MAP_FAILED)
            return;
        memcpy(k.copy, w->src, w->size);
    }
    if (slot_set(s, id, &k, false) < 0) {
        kvm_trace(s, "slot at %#llx: %s", (unsigned long long)w->gpa, strerror(errno));
        if (k.copy)
            munmap(k.copy, k.size);
        return;
    }
    s->slot[id] = k;
}

/* Host bytes of RAM at [gpa, gpa + len) when one aligned RAM range holds them, else NULL. */
static const uint8_t *low_ram(struct kvm *s, uint64_t gpa, uint64_t len)
{
    const struct bus_range *r = bus_find(s->bus, gpa);
    if (!r || r->kind != BUS_RAM || !r->host || gpa + len > r->base + r->size ||
        ((uintptr_t)(r->host + (gpa - r->base)) & (BUS_PAGE_SIZE - 1)))
        return NULL;
    return r->host + (gpa - r->base);
}

/*
 * The slots one bus range asks for (at most 3 in w). A range over the HMA
 * (1 MiB to 1 MiB + 64 KiB) is cut around it, and while A20 is off the HMA
 * slot shows the first 64 KiB instead: real mode's FFFF:0010 wraps to 0.
 * Other odd megabytes are not masked (KVM has no A20 gate).
 */
static size_t range_wants(struct kvm *s, const struct bus_range *r, struct slot_want *w)
{
    if (!slottable(r))
        return 0;
    uint64_t end = r->base + r->size;
    uint64_t cut[4] = {r->base, r->base > HMA_START ? r->base : HMA_START,
                       end < HMA_END ? end : HMA_END, end};
    if (r->base >= HMA_END || end <= HMA_START)
        cut[1] = cut[2] = end;
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        if (cut[i + 1] <= cut[i])
            continue;
        const uint8_t *src = r->host + (cut[i] - r->base);
        const uint8_t *low = i == 1 && !s->a20 ? low_ram(s, cut[1] - HMA_START, cut[2] - cut[1]) : NULL;
        w[n++] = (struct slot_want){cut[i], cut[i + 1] - cut[i], low ? low : src, r->kind == BUS_ROM};
    }
    return n;
}

/* Brings the slot table in line with the bus and A20: drops stale slots first (KVM refuses overlaps). */
void kvm_slots_sync(struct kvm *s)
{
    struct slot_want want[KVM_MAX_SLOTS];
    size_t nwant = 0, n = bus_range_count(s->bus);
    for (size_t i = 0; i < n && nwant + 3 <= KVM_MAX_SLOTS; i++)
        nwant += range_wants(s, bus_range_at(s->bus, i), want + nwant);
    for (int id = 0; id < KVM_MAX_SLOTS; id++) {
        bool keep = false;
        for (size_t i = 0; i < nwant && !keep; i++)
            keep = slot_matches(&s->slot[id], &want[i]);
        if (s->slot[id].used && !keep)
            slot_remove(s, id);
    }
    for (size_t i = 0; i < nwant; i++) {
        bool have = false;
        for (int id = 0; id < KVM_MAX_SLOTS && !have; id++)
            have = slot_matches(&s->slot[id], &want[i]);
        if (!have)
            slot_add(s, &want[i]);
    }
}

static void listener_map_changed(void *opaque, uint64_t gpa, uint64_t size)
{
    kvm_slots_sync(opaque);
}

/* ---- exits ---- */

/* The VMware backdoor hook (cpu.h) for a single IN/OUT; true when it took the access.
 * KVM has done the I/O-permission check already (the host's kvm.enable_vmware_backdoor
 * exempts these ports at CPL 3). An IN's data is written to EAX after the next KVM_RUN. */
static bool exit_backdoor(struct kvm *s, uint8_t *data)
{
    struct kvm_run *r = s->run;
    struct kvm_regs regs;
    if (!s->hooks.backdoor || !cpu_backdoor_port(r->io.port) || r->io.count != 1 ||
        ioctl(s->vcpu_fd, KVM_GET_REGS, &regs) < 0)
        return false;
    __u64 *g[8] = {&regs.rax, &regs.rcx, &regs.rdx, &regs.rbx,
                      &regs.rsp, &regs.rbp, &regs.rsi, &regs.rdi};
    uint32_t v[8];
    for (int i = 0; i < 8; i++)
        v[i] = (uint32_t)*g[i];
    bool in = r->io.direction == KVM_EXIT_IO_IN;
    if (!s->hooks.backdoor(s->hooks.opaque, r->io.port, in, r->io.size, v))
        return false;
    for (int i = 0; i < 8; i++)
        if (v[i] != (uint32_t)*g[i])
            *g[i] = v[i];
    if (in)
        memcpy(data, &v[0], r->io.size <= 4 ? r->io.size : 4);
    ioctl(s->vcpu_fd, KVM_SET_REGS, &regs);
    return true;
}

static void exit_io(struct kvm *s)
{
    struct kvm_run *r = s->run;
    uint8_t *data = (uint8_t *)r + r->io.data_offset;
    unsigned size = r->io.size;
    if (exit_backdoor(s, data))
        return;
    for (uint32_t i = 0; i < r->io.count; i++, data += size) {
        if (r->io.direction == KVM_EXIT_IO_OUT) {
            uint32_t v = 0;
            memcpy(&v, data, size);
            bus_out(s->bus, r->io.port, v, size);
        } else {
            uint32_t v = bus_in(s->bus, r->io.port, size);
            memcpy(data, &v, size);
        }
    }
}

static void exit_mmio(struct kvm *s)
{
    struct kvm_run *r = s->run;
    unsigned len = r->mmio.len;
    bool whole = len == 1 || len == 2 || len == 4 || len == 8;
    for (unsigned off = 0; off < len && off < 8; off += whole ? len : 1) {
        unsigned size = whole ? len : 1;
        uint64_t gpa = r->mmio.phys_addr + off, v = 0;
        if (r->mmio.is_write) {
            memcpy(&v, r->mmio.data + off, size);
            bus_write(s->bus, gpa, v, size);
        } else {
            v = bus_read(s->bus, gpa, size);
            memcpy(r->mmio.data + off, &v, size);
        }
    }
}

__attribute__((format(printf, 2, 3))) static enum cpu_exit backend_failed(struct kvm *s,
                                                                          const char *fmt, ...)
{
    s->failed = true;
    if (s->trace) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(s->trace, "cpu: kvm: ");
        vfprintf(s->trace, fmt, ap);
        fprintf(s->trace, "; the guest is stopped\n");
        va_end(ap);
    }
    return CPU_EXIT_ERROR;
}

/* KVM_EXIT_INTERNAL_ERROR: suberror 1 is an instruction KVM could not emulate. */
static enum cpu_exit internal_error(struct kvm *s)
{
    struct kvm_run *r = s->run;
    struct kvm_regs regs;
    struct kvm_sregs sr;
    uint8_t b[8] = {0};
    if (s->trace && ioctl(s->vcpu_fd, KVM_GET_REGS, &regs) == 0 &&
        ioctl(s->vcpu_fd, KVM_GET_SREGS, &sr) == 0) {
        if (!(sr.cr0 & 0x80000000u)) /* unpaged: the linear address is the physical one */
            bus_dma_read(s->bus, sr.cs.base + regs.rip, b, sizeof b);
        kvm_trace(s, "internal error at %04x:%08llx (cr0 %#llx), bytes %02x %02x %02x %02x %02x %02x",
                  sr.cs.selector, (unsigned long long)regs.rip, (unsigned long long)sr.cr0, b[0], b[1],
                  b[2], b[3], b[4], b[5]);
    }
    return backend_failed(s, "internal error, suberror %u (%u data words, first %#llx)",
                          r->internal.suberror, r->internal.ndata,
                          (unsigned long long)(r->internal.ndata ? r->internal.data[0] : 0));
}

/* Handles one KVM_RUN exit; returns true with *ex when cpu_run must return. */
static bool handle_exit(struct kvm *s, enum cpu_exit *ex)
{
    struct kvm_run *r = s->run;
    switch (r->exit_reason) {
    case KVM_EXIT_IO:
        exit_io(s);
        s->io_pending = true;
        return false;
    case KVM_EXIT_MMIO:
        exit_mmio(s);
        s->io_pending = true;
        return false;
    case KVM_EXIT_HLT:
        s->halted = true; /* the loop wakes it if INTR can be taken */
        return false;
    case KVM_EXIT_IRQ_WINDOW_OPEN:
    case KVM_EXIT_INTR:
        return false;
    case KVM_EXIT_SHUTDOWN:
        kvm_trace(s, "shutdown (triple fault)");
        s->shutdown = true;
        *ex = CPU_EXIT_SHUTDOWN;
        return true;
    case KVM_EXIT_FAIL_ENTRY:
        *ex = backend_failed(s, "entry failed, hardware reason %#llx",
                             (unsigned long long)r->fail_entry.hardware_entry_failure_reason);
        return true;
    case KVM_EXIT_INTERNAL_ERROR:
        *ex = internal_error(s);
        return true;
    default:
        *ex = backend_failed(s, "unexpected exit reason %u", r->exit_reason);
        return true;
    }
}

/* ---- interrupts ---- */

static int intr_ack(struct kvm *s)
{
    return s->hooks.intr_ack ? s->hooks.intr_ack(s->hooks.opaque) : -1;
}

static void inject(struct kvm *s, int vec)
{
    struct kvm_interrupt irq = {.irq = (uint32_t)vec & 0xFF};
    if (ioctl(s->vcpu_fd, KVM_INTERRUPT, &irq) < 0)
        kvm_trace(s, "KVM_INTERRUPT %#x: %s", vec, strerror(errno));
    else if (s->trace)
        fprintf(s->trace, "cpu: interrupt %#x\n", (unsigned)vec & 0xFF);
    s->window_known = false;
}

/* IF set and no STI/MOV SS shadow, asked of the vCPU (after a state change). */
static bool window_open_now(struct kvm *s)
{
    struct kvm_regs regs;
    struct kvm_vcpu_events ev;
    if (ioctl(s->vcpu_fd, KVM_GET_REGS, &regs) < 0 || ioctl(s->vcpu_fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
        return false;
    return (regs.rflags & 0x200) && !ev.interrupt.shadow && !ev.interrupt.injected;
}

/* A halted vCPU wakes when INTR is high, IF is set and the controllers hand out a vector. */
static bool wake_from_halt(struct kvm *s)
{
    if (!s->intr_line)
        return false;
    bool open = s->window_known ? s->run->ready_for_interrupt_injection && s->run->if_flag
                                : window_open_now(s);
    if (!open)
        return false;
    int vec = intr_ack(s);
    if (vec < 0)
        return false;
    s->halted = false;
    inject(s, vec);
    return true;
}

/* Before KVM_RUN: inject INTR when the vCPU can take it, else ask for the window. */
static void prepare_intr(struct kvm *s)
{
    struct kvm_run *r = s->run;
    if (s->intr_line && s->window_known && r->ready_for_interrupt_injection && r->if_flag) {
        int vec = intr_ack(s);
        if (vec >= 0)
            inject(s, vec);
    }
    r->request_interrupt_window = s->intr_line ? 1 : 0;
}

/* ---- deadline and stop: the kick signal ---- */

static void kick_handler(int sig)
{
    (void)sig; /* only there so the signal is not ignored: it makes KVM_RUN return */
}

static void drain_kicks(void)
{
    sigset_t set;
    struct timespec zero = {0, 0};
    sigemptyset(&set);
    sigaddset(&set, KICK_SIGNAL);
    while (sigtimedwait(&set, NULL, &zero) > 0) {
    }
}

/* First cpu_run on a thread: block the kick there, let KVM_RUN unblock it, aim the timer at it. */
static int adopt_thread(struct kvm *s)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, KICK_SIGNAL);
    if (pthread_sigmask(SIG_BLOCK, &set, &old) != 0)
        return -1;
    sigdelset(&old, KICK_SIGNAL);
    struct {
        struct kvm_signal_mask m;
        uint8_t bits[8];
    } mask = {{.len = 8}, {0}};
    memcpy(mask.bits, &old, 8); /* the kernel's sigset is the first 64 bits of glibc's */
    if (ioctl(s->vcpu_fd, KVM_SET_SIGNAL_MASK, &mask) < 0)
        return -1;
    if (s->timer_ok)
        timer_delete(s->timer);
    struct sigevent ev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = KICK_SIGNAL};
    ev.sigev_notify_thread_id = gettid();
    s->timer_ok = timer_create(CLOCK_MONOTONIC, &ev, &s->timer) == 0;
    atomic_store(&s->vcpu_tid, gettid());
    return s->timer_ok ? 0 : -1;
}

static void arm_deadline(struct kvm *s, int64_t deadline)
{
    int64_t left = deadline - clock_now_ns(s->clock);
    struct itimerspec its = {{0, 0}, {0, 0}};
    if (deadline != CLOCK_NEVER && left > 0) {
        its.it_value.tv_sec = left / 1000000000;
        its.it_value.tv_nsec = left % 1000000000;
    }
    timer_settime(s->timer, 0, &its, NULL);
}

/* ---- run ---- */

static enum cpu_exit run_loop(struct kvm *s, int64_t deadline)
{
    for (;;) {
        if (atomic_exchange(&s->stop, false))
            return CPU_EXIT_STOP;
        if (s->halted && !wake_from_halt(s))
            return CPU_EXIT_HALT;
        if (clock_now_ns(s->clock) >= deadline)
            return CPU_EXIT_DEADLINE;
        if (!s->halted)
            prepare_intr(s);
        int rc = ioctl(s->vcpu_fd, KVM_RUN, 0);
        int e = errno;
        s->io_pending = false;
        s->window_known = true;
        if (rc < 0) {
            if (e == EINTR || e == EAGAIN) {
                drain_kicks();
                continue;
            }
            return backend_failed(s, "KVM_RUN: %s", strerror(e));
        }
        if (s->run->apic_base != s->apic_base) { /* the guest wrote IA32_APIC_BASE */
            s->apic_base = s->run->apic_base;
            if (s->hooks.apic_base)
                s->hooks.apic_base(s->hooks.opaque, s->apic_base);
        }
        enum cpu_exit ex;
        if (handle_exit(s, &ex))
            return ex;
    }
}

static enum cpu_exit kvm_run(struct cpu *c, int64_t deadline)
{
    struct kvm *s = kvm_of(c);
    if (s->failed)
        return CPU_EXIT_ERROR;
    if (s->shutdown)
        return CPU_EXIT_SHUTDOWN;
    if (atomic_load(&s->vcpu_tid) != gettid() && adopt_thread(s) < 0)
        return backend_failed(s, "cannot set up the vCPU thread's timer: %s", strerror(errno));
    arm_deadline(s, deadline);
    enum cpu_exit ex = run_loop(s, deadline);
    arm_deadline(s, CLOCK_NEVER);
    return ex;
}

static void kvm_request_stop(struct cpu *c)
{
    struct kvm *s = kvm_of(c);
    atomic_store(&s->stop, true);
    int tid = atomic_load(&s->vcpu_tid);
    if (tid)
        tgkill(getpid(), tid, KICK_SIGNAL);
}

/* Lets KVM finish an I/O or MMIO instruction without running further (before get/set). */
void kvm_complete_pending(struct kvm *s)
{
    if (!s->io_pending)
        return;
    s->run->immediate_exit = 1;
    if (ioctl(s->vcpu_fd, KVM_RUN, 0) < 0 && errno != EINTR)
        kvm_trace(s, "KVM_RUN completing I/O: %s", strerror(errno));
    s->run->immediate_exit = 0;
    s->io_pending = false;
}

/* ---- state ---- */


/* ---- creation ---- */

static int kvm_open(struct kvm *s, struct error *err)
{
    s->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (s->sys_fd < 0)
        return error_set(err, EX_UNAVAILABLE, "--cpu=kvm: /dev/kvm: %s", strerror(errno));
    int api = ioctl(s->sys_fd, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION)
        return error_set(err, EX_UNAVAILABLE, "--cpu=kvm: /dev/kvm speaks API %d, not %d", api,
                         KVM_API_VERSION);
    if (ioctl(s->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0 ||
        ioctl(s->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) <= 0)
        return error_set(err, EX_UNAVAILABLE, "--cpu=kvm: this KVM lacks user memory or immediate exit");
    s->readonly_mem = ioctl(s->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0;
    return 0;
}

static int kvm_make_vcpu(struct kvm *s, struct error *err)
{
    s->vm_fd = ioctl(s->sys_fd, KVM_CREATE_VM, 0);
    if (s->vm_fd < 0)
        return error_set(err, EX_UNAVAILABLE, "--cpu=kvm: KVM_CREATE_VM: %s", strerror(errno));
    if (ioctl(s->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0 &&
        ioctl(s->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
        return error_set(err, EX_UNAVAILABLE, "--cpu=kvm: KVM_SET_TSS_ADDR: %s", strerror(errno));
    uint64_t ident = KVM_IDENTITY_MAP;
    if (ioctl(s->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0)
        (void)ioctl(s->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident);
    s->vcpu_fd = ioctl(s->vm_fd, KVM_CREATE_VCPU, 0);
    if (s->vcpu_fd < 0)
        return error_set(err, EX_UNAVAILABLE, "--cpu=kvm: KVM_CREATE_VCPU: %s", strerror(errno));
    int size = ioctl(s->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size < (int)sizeof(struct kvm_run))
        return error_set(err, EX_UNAVAILABLE, "--cpu=kvm: KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
    s->run_size = (size_t)size;
    s->run = mmap(NULL, s->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, s->vcpu_fd, 0);
    if (s->run == MAP_FAILED) {
        s->run = NULL;
        return error_set(err, EX_UNAVAILABLE, "--cpu=kvm: mapping kvm_run: %s", strerror(errno));
    }
    return kvm_cpuid_setup(s->sys_fd, s->vcpu_fd, s->hooks.vmware_platform, err);
}

static void kvm_close(struct kvm *s)
{
    for (int id = 0; id < KVM_MAX_SLOTS; id++)
        if (s->slot[id].copy)
            munmap(s->slot[id].copy, s->slot[id].size);
    if (s->timer_ok)
        timer_delete(s->timer);
    if (s->run)
        munmap(s->run, s->run_size);
    if (s->vcpu_fd >= 0)
        close(s->vcpu_fd);
    if (s->vm_fd >= 0)
        close(s->vm_fd);
    if (s->sys_fd >= 0)
        close(s->sys_fd);
    free(s);
}

static int install_kick_handler(struct error *err)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = kick_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(KICK_SIGNAL, &sa, NULL) < 0)
        return error_set(err, EX_OSERR, "--cpu=kvm: sigaction: %s", strerror(errno));
    return 0;
}

static struct cpu *kvm_create(struct bus *bus, struct clock *clock, const struct cpu_hooks *hooks,
                              struct error *err)
{
    if (clock_mode(clock) == CLOCK_DETERMINISTIC) {
        error_set(err, EX_USAGE, "--deterministic needs --cpu=soft: KVM cannot count guest instructions");
        return NULL;
    }
    struct kvm *s = calloc(1, sizeof *s);
    if (!s) {
        error_set(err, EX_OSERR, "out of memory for the CPU");
        return NULL;
    }
    s->cpu.be = &cpu_kvm_backend;
    s->sys_fd = s->vm_fd = s->vcpu_fd = -1;
    s->bus = bus;
    s->clock = clock;
    if (hooks)
        s->hooks = *hooks;
    s->a20 = true;
    atomic_init(&s->stop, false);
    atomic_init(&s->vcpu_tid, 0);
    struct bus_listener l = {listener_map_changed, NULL, s};
    if (kvm_open(s, err) < 0 || kvm_probe(s->sys_fd, false, err) < 0 || kvm_make_vcpu(s, err) < 0 ||
        install_kick_handler(err) < 0) {
        kvm_close(s);
        return NULL;
    }
    if (bus_add_listener(bus, &l) != 0) {
        error_set(err, EX_SOFTWARE, "--cpu=kvm: too many bus listeners");
        kvm_close(s);
        return NULL;
    }
    kvm_slots_sync(s);
    kvm_reset(&s->cpu);
    return &s->cpu;
}

static void kvm_free(struct cpu *c)
{
    kvm_close(kvm_of(c));
}

static void kvm_set_intr(struct cpu *c, int level)
{
    kvm_of(c)->intr_line = level != 0;
}

/* KVM queues the NMI and blocks further ones until the guest's IRET itself. */
static void kvm_nmi(struct cpu *c)
{
    struct kvm *s = kvm_of(c);
    if (ioctl(s->vcpu_fd, KVM_NMI) < 0)
        kvm_trace(s, "KVM_NMI: %s", strerror(errno));
    s->halted = false; /* HLT is ours (no in-kernel irqchip): the next KVM_RUN takes the NMI */
}

/* KVM has no A20 gate: the HMA slot follows it (range_wants). */
static void kvm_set_a20(struct cpu *c, bool enabled)
{
    struct kvm *s = kvm_of(c);
    if (s->a20 != enabled) {
        s->a20 = enabled;
        kvm_slots_sync(s);
    }
}

static uint64_t kvm_insn_count(const struct cpu *c)
{
    (void)c;
    return 0;
}

static uint32_t kvm_tsc_khz(const struct cpu *c)
{
    return kvm_vcpu_tsc_khz(((const struct kvm *)c)->vcpu_fd);
}

static void kvm_set_trace(struct cpu *c, void *file)
{
    kvm_of(c)->trace = file;
}

const struct cpu_backend cpu_kvm_backend = {
    .name = "kvm",
    .probe = kvm_probe_full,
    .create = kvm_create,
    .free = kvm_free,
    .reset = kvm_reset,
    .run = kvm_run,
    .set_intr = kvm_set_intr,
    .nmi = kvm_nmi,
    .set_a20 = kvm_set_a20,
    .request_stop = kvm_request_stop,
    .get_state = kvm_get_state,
    .set_state = kvm_set_state,
    .insn_count = kvm_insn_count,
    .set_trace = kvm_set_trace,
    .tsc_khz = kvm_tsc_khz,
};
