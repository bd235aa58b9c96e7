/*
 * A tiny machine for the CPU unit tests: RAM at 0 on a fresh bus, a
 * deterministic clock (1 ns per instruction), the software core, a debug
 * port at 0xE9 that collects bytes, and guest code assembled with nasm at
 * test time (tests SKIP when nasm is missing).
 */
#ifndef VMPLAY_TEST_CPU_VM_H
#define VMPLAY_TEST_CPU_VM_H

#include <stdio.h>
#include <stdlib.h>

#include "cpu/cpu.h"
#include "test.h"

struct vm {
    struct bus *bus;
    struct clock *clock;
    struct cpu *cpu;
    uint8_t *ram;
    size_t ram_size;
    char out[4096];
    size_t nout;
    int next_vector; /* what intr_ack answers (-1: none) */
    int acks;
};

static inline uint64_t vm_e9_read(void *opaque, uint64_t off, unsigned size)
{
    (void)opaque;
    (void)off;
    (void)size;
    return 0xE9;
}

static inline void vm_e9_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct vm *m = opaque;
    (void)off;
    (void)size;
    if (m->nout + 1 < sizeof m->out)
        m->out[m->nout++] = (char)v;
}

static const struct bus_ops vm_e9_ops = {vm_e9_read, vm_e9_write, 1, 1};

static inline int vm_intr_ack(void *opaque)
{
    struct vm *m = opaque;
    m->acks++;
    int v = m->next_vector;
    cpu_set_intr(m->cpu, 0);
    return v;
}

static inline void vm_init(struct vm *m, size_t ram_size)
{
    memset(m, 0, sizeof *m);
    m->bus = bus_new();
    m->clock = clock_new(CLOCK_DETERMINISTIC, 1);
    m->ram = calloc(1, ram_size);
    m->ram_size = ram_size;
    ASSERT(m->bus && m->clock && m->ram);
    ASSERT_EQ(bus_map_ram(m->bus, 0, ram_size, m->ram, false, "ram"), 0);
    ASSERT_EQ(bus_map_pio(m->bus, 0xE9, 1, &vm_e9_ops, m, "debug"), 0);
    m->next_vector = -1;
    struct cpu_hooks hooks = {.opaque = m, .intr_ack = vm_intr_ack};
    struct error err;
    m->cpu = cpu_create(CPU_SOFT, m->bus, m->clock, &hooks, &err);
    ASSERT(m->cpu);
}

static inline void vm_free(struct vm *m)
{
    cpu_free(m->cpu);
    bus_free(m->bus);
    clock_free(m->clock);
    free(m->ram);
}

/* Assembles src (nasm, flat binary) and copies it into RAM at addr. */
static inline size_t vm_asm(struct vm *m, uint32_t addr, const char *src)
{
    char in[512], out[512], cmd[1200];
    snprintf(in, sizeof in, "%s/t.asm", test_tmpdir());
    snprintf(out, sizeof out, "%s/t.bin", test_tmpdir());
    FILE *f = fopen(in, "w");
    ASSERT(f);
    fprintf(f, "org 0x%x\n%s\n", addr, src);
    fclose(f);
    if (system("command -v nasm >/dev/null 2>&1") != 0)
        SKIP("nasm is not installed");
    snprintf(cmd, sizeof cmd, "nasm -f bin -o %s %s", out, in);
    if (system(cmd) != 0)
        FAIL("nasm failed on the test program");
    f = fopen(out, "rb");
    ASSERT(f);
    size_t n = fread(m->ram + addr, 1, m->ram_size - addr, f);
    fclose(f);
    return n;
}

/* Real mode at 0000:addr with SS:SP = 0000:7000. */
static inline void vm_start_real(struct vm *m, uint32_t addr)
{
    struct cpu_state st;
    cpu_get_state(m->cpu, &st);
    st.seg[SEG_CS].selector = 0;
    st.seg[SEG_CS].base = 0;
    st.rip = addr;
    st.gpr[GPR_SP] = 0x7000;
    st.halted = false;
    cpu_set_state(m->cpu, &st);
}

/* Runs until the CPU halts (or gives up after budget ns of virtual time). */
static inline enum cpu_exit vm_run(struct vm *m, int64_t budget)
{
    enum cpu_exit e = cpu_run(m->cpu, clock_now_ns(m->clock) + budget);
    return e;
}

static inline uint32_t vm_reg(struct vm *m, int r)
{
    struct cpu_state st;
    cpu_get_state(m->cpu, &st);
    return (uint32_t)st.gpr[r];
}

static inline uint32_t vm_rd32(struct vm *m, uint32_t a)
{
    uint32_t v;
    memcpy(&v, m->ram + a, 4);
    return v;
}

static inline void vm_wr32(struct vm *m, uint32_t a, uint32_t v)
{
    memcpy(m->ram + a, &v, 4);
}

#endif
