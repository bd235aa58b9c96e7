/*
 * cpu.h dispatch: picks a backend at creation and forwards every call to it.
 * --cpu=auto takes KVM when its probe (cpu_backend.probe) passes and the VM
 * can be created (not in deterministic mode), else the software core.
 */
#include "cpu/backend.h"
#include "cpu/model.h"

#include <stddef.h>

/* Creates the backend for kind; why (when given) says which one and why. */
static struct cpu *create(enum cpu_kind kind, struct bus *bus, struct clock *clock,
                          const struct cpu_hooks *hooks, struct error *why, struct error *err)
{
    const struct cpu_backend *kvm = &cpu_kvm_backend;
    struct error kerr = {0, ""};
    if (kind == CPU_KVM && !kvm) {
        error_set(err, EX_UNAVAILABLE, "--cpu=kvm: this vmplay has no KVM backend");
        return NULL;
    }
    if (kind == CPU_KVM || (kind == CPU_AUTO && kvm && (!kvm->probe || kvm->probe(&kerr) == 0))) {
        struct cpu *c = kvm->create(bus, clock, hooks, kind == CPU_KVM ? err : &kerr);
        if (c || kind == CPU_KVM) {
            if (c && why)
                error_set(why, 0, "%s", kind == CPU_KVM ? "--cpu=kvm" : kerr.msg);
            return c;
        }
    }
    const struct cpu_backend *soft = &cpu_soft_backend;
    if (!soft) {
        error_set(err, EX_UNAVAILABLE, "this vmplay was built without the software CPU core");
        return NULL;
    }
    if (why)
        error_set(why, 0, "%s", kind == CPU_SOFT ? "--cpu=soft"
                                : kvm ? kerr.msg : "this vmplay has no KVM backend");
    return soft->create(bus, clock, hooks, err);
}

struct cpu *cpu_create(enum cpu_kind kind, struct bus *bus, struct clock *clock,
                       const struct cpu_hooks *hooks, struct error *err)
{
    return create(kind, bus, clock, hooks, NULL, err);
}

const char *cpu_probe(enum cpu_kind kind, struct error *err)
{
    struct bus *bus = bus_new();
    struct clock *clock = clock_new(CLOCK_REALTIME, 0);
    struct cpu_hooks hooks = {0};
    struct cpu *cpu = NULL;
    struct error why = {0, ""};
    if (!bus || !clock)
        error_set(err, EX_OSERR, "out of memory");
    else
        cpu = create(kind, bus, clock, &hooks, &why, err);
    const char *name = cpu ? cpu_backend_name(cpu) : NULL;
    if (cpu && err)
        *err = why;
    cpu_free(cpu);
    clock_free(clock);
    bus_free(bus);
    return name;
}

void cpu_free(struct cpu *cpu)
{
    if (cpu)
        cpu->be->free(cpu);
}

const char *cpu_backend_name(const struct cpu *cpu)
{
    return cpu->be->name;
}

void cpu_reset(struct cpu *cpu)
{
    cpu->be->reset(cpu);
}

enum cpu_exit cpu_run(struct cpu *cpu, int64_t deadline_ns)
{
    return cpu->be->run(cpu, deadline_ns);
}

void cpu_set_intr(struct cpu *cpu, int level)
{
    cpu->be->set_intr(cpu, level);
}

void cpu_nmi(struct cpu *cpu)
{
    cpu->be->nmi(cpu);
}

void cpu_set_a20(struct cpu *cpu, bool enabled)
{
    cpu->be->set_a20(cpu, enabled);
}

void cpu_request_stop(struct cpu *cpu)
{
    cpu->be->request_stop(cpu);
}

int cpu_get_state(struct cpu *cpu, struct cpu_state *st)
{
    return cpu->be->get_state(cpu, st);
}

int cpu_set_state(struct cpu *cpu, const struct cpu_state *st)
{
    return cpu->be->set_state(cpu, st);
}

uint32_t cpu_tsc_khz(const struct cpu *cpu)
{
    return cpu->be->tsc_khz ? cpu->be->tsc_khz(cpu) : CPU_MODEL_TSC_KHZ;
}

uint64_t cpu_insn_count(const struct cpu *cpu)
{
    return cpu->be->insn_count(cpu);
}

void cpu_set_trace(struct cpu *cpu, void *file)
{
    if (cpu->be->set_trace)
        cpu->be->set_trace(cpu, file);
}
