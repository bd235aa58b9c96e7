/*
 * The vCPU and RAM sections (devices/state_cpu.h): every field of struct
 * cpu_state survives save and load (random bytes in every field, compared
 * member by member), the section is the length the field list adds up to, a
 * vCPU count other than the VM's is refused; RAM keeps its non-zero pages only
 * and refuses another size or pages out of order.
 */
#include <stdlib.h>

#include "devices/state.h"
#include "devices/state_cpu.h"
#include "formats/error.h"
#include "tests/unit/test.h"

/* Adding a field to struct cpu_state means adding it to state_cpu.c and here. */
_Static_assert(sizeof(struct cpu_state) == 1168, "struct cpu_state changed: update state_cpu.c");

static void random_fill(void *p, size_t n, unsigned *seed)
{
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)rand_r(seed);
}

static void random_cpu(struct cpu_state *s, unsigned seed)
{
    random_fill(s, sizeof *s, &seed);
    s->halted = seed & 1;
    s->intr_shadow = (seed >> 1) & 1;
    s->a20 = (seed >> 2) & 1;
}

#define SAME(field) ASSERT_MEM_EQ(&a->field, &b->field, sizeof a->field)

static void assert_same_cpu(const struct cpu_state *a, const struct cpu_state *b)
{
    SAME(gpr);
    SAME(rip);
    SAME(rflags);
    SAME(seg);
    SAME(ldt);
    SAME(tr);
    SAME(gdt.base);
    SAME(gdt.limit);
    SAME(idt.base);
    SAME(idt.limit);
    SAME(cr0);
    SAME(cr2);
    SAME(cr3);
    SAME(cr4);
    SAME(cr8);
    SAME(dr);
    SAME(msr);
    SAME(fpu.fcw);
    SAME(fpu.fsw);
    SAME(fpu.fop);
    SAME(fpu.ftw);
    SAME(fpu.fip);
    SAME(fpu.fdp);
    SAME(fpu.fcs);
    SAME(fpu.fds);
    SAME(fpu.st);
    SAME(fpu.xmm);
    SAME(fpu.mxcsr);
    SAME(halted);
    SAME(intr_shadow);
    SAME(a20);
}

static void parse(struct state_writer *w, struct state_file *f)
{
    ASSERT_EQ(state_writer_finish(w, NULL), 0);
    ASSERT_EQ(state_file_parse(f, w->buf, w->len, NULL), 0);
}

TEST(every_cpu_field_round_trips_for_two_vcpus)
{
    struct cpu_state a[2], b[2];
    random_cpu(&a[0], 1);
    random_cpu(&a[1], 2);
    struct state_writer w;
    struct state_file f;
    state_writer_init(&w, "t");
    ASSERT_EQ(state_cpus_save(&w, a, 2), 0);
    parse(&w, &f);
    ASSERT_EQ(f.nsections, 3);
    ASSERT_STR_EQ(f.sec[1].name, "cpu0");
    /* gpr 128, rip+rflags 16, 8 segments 128, gdt+idt 20, cr 40, dr 64, MSRs 42*8, FPU 415,
     * three flags */
    ASSERT_EQ(f.sec[1].len, 128 + 16 + 128 + 20 + 40 + 64 + 336 + 415 + 3);
    ASSERT_EQ(state_cpus_load(&f, b, 2, NULL), 0);
    assert_same_cpu(&a[0], &b[0]);
    assert_same_cpu(&a[1], &b[1]);
    struct error err = {0};
    ASSERT_EQ(state_cpus_load(&f, b, 1, &err), -1);
    ASSERT(strstr(err.msg, "2 vCPUs"));
    state_file_release(&f);
    state_writer_release(&w);
}

TEST(a_cpu_flag_other_than_0_or_1_is_refused)
{
    struct cpu_state a, b;
    random_cpu(&a, 3);
    struct state_writer w;
    struct state_file f;
    state_writer_init(&w, "t");
    state_cpus_save(&w, &a, 1);
    parse(&w, &f);
    /* the last byte of cpu0 is a20 */
    w.buf[f.sec[1].off + f.sec[1].len - 1] = 2;
    struct error err = {0};
    ASSERT_EQ(state_cpus_load(&f, &b, 1, &err), -1);
    ASSERT_EQ(err.code, EX_DATAERR);
    state_file_release(&f);
    state_writer_release(&w);
}

TEST(ram_keeps_nonzero_pages_only)
{
    enum { SIZE = 4 * 4096 + 100 };
    uint8_t *ram = calloc(1, SIZE), *back = malloc(SIZE);
    ASSERT(ram && back);
    memset(ram + 4096 + 17, 0xab, 3);
    ram[SIZE - 1] = 0x5a;
    struct state_writer w;
    struct state_file f;
    state_writer_init(&w, "t");
    ASSERT_EQ(state_ram_save(&w, ram, SIZE), 0);
    parse(&w, &f);
    ASSERT_EQ(f.sec[0].len, 8 + (8 + 4096) + (8 + 100) + 8);
    memset(back, 0xff, SIZE);
    ASSERT_EQ(state_ram_load(&f, back, SIZE, NULL), 0);
    ASSERT_MEM_EQ(back, ram, SIZE);
    struct error err = {0};
    ASSERT_EQ(state_ram_load(&f, back, SIZE - 4096, &err), -1);
    ASSERT(strstr(err.msg, "RAM"));
    state_file_release(&f);
    state_writer_release(&w);
    free(ram);
    free(back);
}

TEST(ram_pages_out_of_order_or_past_the_end_are_refused)
{
    static const uint64_t bad_pages[] = {3, 1};
    uint8_t page[4096] = {1};
    for (size_t k = 0; k < 2; k++) {
        struct state_writer w;
        struct state_file f;
        uint8_t ram[2 * 4096];
        state_writer_init(&w, "t");
        state_section_begin(&w, "ram", 1);
        state_put_u64(&w, sizeof ram);
        if (k == 0) {
            state_put_u64(&w, bad_pages[0]); /* past the end of 2 pages */
            state_put_bytes(&w, page, sizeof page);
        } else {
            state_put_u64(&w, bad_pages[1]);
            state_put_bytes(&w, page, sizeof page);
            state_put_u64(&w, 0); /* backwards */
            state_put_bytes(&w, page, sizeof page);
        }
        state_put_u64(&w, UINT64_MAX);
        state_section_end(&w);
        parse(&w, &f);
        struct error err = {0};
        ASSERT_EQ(state_ram_load(&f, ram, sizeof ram, &err), -1);
        ASSERT(strstr(err.msg, "out of order"));
        state_file_release(&f);
        state_writer_release(&w);
    }
}
