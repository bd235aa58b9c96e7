/*
 * System-level CPU tests: the ROMs of tests/cpu/NAME.asm (built by
 * mk/cpu-tests.mk into $BUILD/cpu/roms) run on the software core from reset
 * on a tiny machine — 640 KiB + 7 MiB of RAM, the 64 KiB ROM read-only at
 * 0xF0000 and at 0xFFFF0000, port 0xE9 collecting the output and port 0xF4
 * stopping the run (QEMU's isa-debug-exit) — and the output is compared
 * with tests/cpu/expected/<name>.txt, recorded under QEMU TCG.
 */
#include <stdlib.h>

#include "cpu/cpu.h"
#include "cpu/sse4.h"
#include "devices/apic.h"
#include "test.h"

#define ROM_SIZE 0x10000u
#define LOW_RAM 0xA0000u
#define HIGH_RAM_BASE 0x100000u
#define HIGH_RAM_SIZE 0x700000u
#define MAX_OUT 16384

struct rom_vm {
    struct bus *bus;
    struct clock *clock;
    struct cpu *cpu;
    struct apic *apic; /* longmode.asm reads CR8 through the TPR; corners.asm sends itself NMIs */
    uint8_t *low, *high, *rom;
    char out[MAX_OUT];
    size_t nout;
    bool exited;
};

static uint64_t port_read(void *opaque, uint64_t off, unsigned size)
{
    return 0xE9;
}

static void e9_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct rom_vm *m = opaque;
    if (m->nout + 1 < MAX_OUT)
        m->out[m->nout++] = (char)v;
}

static void exit_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct rom_vm *m = opaque;
    m->exited = true;
    cpu_request_stop(m->cpu);
}

static void nmi_set(void *opaque, int n, int level)
{
    struct rom_vm *m = opaque;
    if (level)
        cpu_nmi(m->cpu);
}

static void apic_base_hook(void *opaque, uint64_t msr)
{
    struct rom_vm *m = opaque;
    apic_set_base(m->apic, msr);
}

static const struct bus_ops e9_ops = {port_read, e9_write, 1, 1};
static const struct bus_ops exit_ops = {port_read, exit_write, 1, 4};

static size_t read_file(const char *path, uint8_t *buf, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, max, f);
    fclose(f);
    return n;
}

static void rom_vm_init(struct rom_vm *m, const char *rom_path)
{
    memset(m, 0, sizeof *m);
    m->bus = bus_new();
    m->clock = clock_new(CLOCK_DETERMINISTIC, 1);
    m->low = calloc(1, LOW_RAM);
    m->high = calloc(1, HIGH_RAM_SIZE);
    m->rom = malloc(ROM_SIZE);
    ASSERT(m->bus && m->clock && m->low && m->high && m->rom);
    if (read_file(rom_path, m->rom, ROM_SIZE) != ROM_SIZE)
        SKIP("%s not built (make check builds the ROMs with nasm)", rom_path);
    ASSERT_EQ(bus_map_ram(m->bus, 0, LOW_RAM, m->low, false, "ram"), 0);
    ASSERT_EQ(bus_map_ram(m->bus, HIGH_RAM_BASE, HIGH_RAM_SIZE, m->high, false, "ram-high"), 0);
    ASSERT_EQ(bus_map_ram(m->bus, 0xF0000, ROM_SIZE, m->rom, true, "rom"), 0);
    ASSERT_EQ(bus_map_ram(m->bus, 0xFFFF0000u, ROM_SIZE, m->rom, true, "rom-high"), 0);
    ASSERT_EQ(bus_map_pio(m->bus, 0xE9, 1, &e9_ops, m, "debugcon"), 0);
    ASSERT_EQ(bus_map_pio(m->bus, 0xF4, 4, &exit_ops, m, "debug-exit"), 0);
    m->apic = apic_new(m->bus, m->clock, 0, (struct irq){0}, irq_make(nmi_set, m, 0));
    ASSERT(m->apic);
    struct error err = {0};
    m->cpu = cpu_create(CPU_SOFT, m->bus, m->clock,
                        &(struct cpu_hooks){.opaque = m, .apic_base = apic_base_hook}, &err);
    if (!m->cpu)
        SKIP("%s", err.msg);
    cpu_reset(m->cpu);
    if (getenv("ROM_TRACE")) /* exceptions and interrupts to stderr */
        cpu_set_trace(m->cpu, stderr);
}

static void rom_vm_free(struct rom_vm *m)
{
    apic_free(m->apic);
    cpu_free(m->cpu);
    bus_free(m->bus);
    clock_free(m->clock);
    free(m->low);
    free(m->high);
    free(m->rom);
}

/* Runs ROM name from reset until it writes port 0xF4, and compares its 0xE9 output. */
static void run_rom(const char *name)
{
    char rom[512], exp_path[512];
    snprintf(rom, sizeof rom, "%s/cpu/roms/%s.bin", test_build_dir(), name);
    snprintf(exp_path, sizeof exp_path, "tests/cpu/expected/%s.txt", name);
    static char expected[MAX_OUT];
    size_t nexp = read_file(exp_path, (uint8_t *)expected, MAX_OUT - 1);
    ASSERT(nexp > 0);
    expected[nexp] = 0;
    /* The model has SSE4.1, SSE4.2 and POPCNT only where the host has them (cpu/sse4.h): the
     * feature walk's expectation is written for such a host and loses the three elsewhere. */
    if (!strcmp(name, "features") && !sse4_host_ok()) {
        static const char *const gone[] = {" sse4.1", " sse4.2", " popcnt"};
        for (size_t g = 0; g < 3; g++) {
            char *p = strstr(expected, gone[g]);
            if (p)
                memmove(p, p + strlen(gone[g]), strlen(p + strlen(gone[g])) + 1);
        }
    }
    struct rom_vm m;
    rom_vm_init(&m, rom);
    enum cpu_exit e = CPU_EXIT_DEADLINE;
    for (int slice = 0; slice < 200 && !m.exited; slice++) {
        e = cpu_run(m.cpu, clock_now_ns(m.clock) + 1000000);
        if (e == CPU_EXIT_SHUTDOWN || e == CPU_EXIT_ERROR || e == CPU_EXIT_HALT)
            break;
    }
    m.out[m.nout] = 0;
    const char *dump = getenv("ROM_OUT"); /* a directory: the whole output as <name>.txt */
    if (dump) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s.txt", dump, name);
        FILE *f = fopen(path, "w");
        if (f) {
            fputs(m.out, f);
            fclose(f);
        }
    }
    if (!m.exited || strcmp(m.out, expected) != 0) {
        size_t i = 0;
        while (m.out[i] && m.out[i] == expected[i])
            i++;
        size_t line = i;
        while (line > 0 && m.out[line - 1] != '\n')
            line--;
        FAIL("%s: %s after %zu bytes of output (exit %d); expected from \"%.60s\", got \"%.60s\"",
             name, m.exited ? "output differs" : "no debug-exit", i, (int)e, expected + line,
             m.out + line);
    }
    rom_vm_free(&m);
}

TEST(system)
{
    run_rom("system");
}

TEST(paging)
{
    run_rom("paging");
}

TEST(modes)
{
    run_rom("modes");
}

TEST(descriptors)
{
    run_rom("descriptors");
}

TEST(exceptions)
{
    run_rom("exceptions");
}

TEST(sse)
{
    run_rom("sse");
}

TEST(longmode)
{
    run_rom("longmode");
}

TEST(compat)
{
    run_rom("compat");
}

TEST(corners)
{
    run_rom("corners");
}

TEST(corners64)
{
    run_rom("corners64");
}

TEST(features)
{
    run_rom("features");
}
