/*
 * Devices' suspend state (devices/state.h): a device programmed through its
 * ports as the datasheet describes, saved, and loaded into a fresh instance
 * (on a clock at another time, for timed devices) behaves the same from then
 * on: the 8259A pair's IRR/ISR/IMR reads, INTR and vectors; the 8254's counts,
 * status and IRQ0 edges; the 16550A's registers, receive FIFO and character
 * timeout; port 0x92 and the A20 line it drives; the I/O APIC's redirection table
 * and a level interrupt in service across the suspend. Damaged sections are refused.
 */
#include <stdlib.h>

#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "devices/ioapic.h"
#include "devices/misc.h"
#include "devices/state.h"
#include "devices/uart.h"
#include "formats/error.h"
#include "tests/unit/test.h"

/* One section's payload from save, as a reader. */
struct blob {
    struct state_writer w;
    size_t off;
};

static struct state_reader blob_reader(struct blob *b)
{
    return (struct state_reader){.p = b->w.buf + b->off, .len = b->w.len - b->off};
}

static void blob_begin(struct blob *b)
{
    memset(b, 0, sizeof *b);
    state_writer_init(&b->w, "t");
    b->off = b->w.len;
}

/* ---- 8259A ---- */

struct pic_fix {
    struct bus *bus;
    struct pic *pic;
    struct irq_rec intr;
};

static void pic_fix_new(struct pic_fix *f)
{
    memset(f, 0, sizeof *f);
    f->bus = bus_new();
    f->pic = pic_new(f->bus, irq_make(irq_rec_set, &f->intr, 0));
    ASSERT(f->pic);
}

static void pic_fix_free(struct pic_fix *f)
{
    pic_free(f->pic);
    bus_free(f->bus);
}

/* Linux's init_8259A: edge, cascade, vectors 0x20/0x28, 8086 mode. */
static void pic_program(struct pic_fix *f)
{
    static const uint8_t seq[][2] = {{0x20, 0x11}, {0x21, 0x20}, {0x21, 0x04}, {0x21, 0x01},
                                     {0xa0, 0x11}, {0xa1, 0x28}, {0xa1, 0x02}, {0xa1, 0x01},
                                     {0x21, 0xe1}, {0xa1, 0xfe}};
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++)
        bus_out(f->bus, seq[i][0], seq[i][1], 1);
}

static void pic_snapshot(struct pic_fix *f, uint8_t out[6])
{
    bus_out(f->bus, 0x20, 0x0a, 1); /* OCW3: read IRR */
    out[0] = (uint8_t)bus_in(f->bus, 0x20, 1);
    bus_out(f->bus, 0x20, 0x0b, 1); /* OCW3: read ISR */
    out[1] = (uint8_t)bus_in(f->bus, 0x20, 1);
    out[2] = (uint8_t)bus_in(f->bus, 0x21, 1);
    bus_out(f->bus, 0xa0, 0x0a, 1);
    out[3] = (uint8_t)bus_in(f->bus, 0xa0, 1);
    out[4] = (uint8_t)bus_in(f->bus, 0xa1, 1);
    out[5] = (uint8_t)f->intr.level;
}

TEST(pic_resumes_with_the_same_registers_and_vectors)
{
    struct pic_fix a, b;
    struct blob blob;
    pic_fix_new(&a);
    pic_fix_new(&b);
    pic_program(&a);
    pic_set_irq(a.pic, 1, 1);             /* keyboard */
    pic_set_irq(a.pic, 3, 1);             /* COM2, lower priority */
    pic_set_irq(a.pic, 8, 1);             /* RTC on the slave */
    ASSERT_EQ(pic_intr_ack(a.pic), 0x21); /* IR1 in service now */
    blob_begin(&blob);
    ASSERT_EQ(pic_save(a.pic, &blob.w), 0);
    struct state_reader r = blob_reader(&blob);
    ASSERT_EQ(pic_load(b.pic, &r, NULL), 0);
    ASSERT(state_reader_done(&r));
    uint8_t sa[6], sb[6];
    pic_snapshot(&a, sa);
    pic_snapshot(&b, sb);
    /* IRR: IR3 and IR2 (the slave's INT); ISR: IR1; IMR 0xe1; slave IRR: IR0; INTR: high? */
    ASSERT_EQ(sa[0], 0x0c);
    ASSERT_EQ(sa[1], 0x02);
    ASSERT_EQ(sa[2], 0xe1);
    ASSERT_EQ(sa[3], 0x01);
    ASSERT_MEM_EQ(sa, sb, sizeof sa);
    ASSERT_EQ(b.intr.level, a.intr.level);
    /* Non-specific EOI ends IR1; the slave's IR0 (IR2 on the master) outranks IR3. */
    bus_out(a.bus, 0x20, 0x20, 1);
    bus_out(b.bus, 0x20, 0x20, 1);
    ASSERT_EQ(pic_intr_ack(a.pic), 0x28);
    ASSERT_EQ(pic_intr_ack(b.pic), 0x28);
    state_writer_release(&blob.w);
    pic_fix_free(&a);
    pic_fix_free(&b);
}

TEST(pic_refuses_out_of_range_and_truncated_state)
{
    struct pic_fix a;
    struct blob blob;
    pic_fix_new(&a);
    pic_program(&a);
    blob_begin(&blob);
    pic_save(a.pic, &blob.w);
    size_t len = blob.w.len - blob.off;
    for (size_t cut = 0; cut < len; cut++) {
        struct state_reader r = blob_reader(&blob);
        r.len = cut;
        struct error err = {0};
        ASSERT_EQ(pic_load(a.pic, &r, &err), -1);
        ASSERT_EQ(err.code, EX_DATAERR);
    }
    blob.w.buf[blob.off + 5] = 8; /* master "lowest" priority 8 */
    struct state_reader r = blob_reader(&blob);
    struct error err = {0};
    ASSERT_EQ(pic_load(a.pic, &r, &err), -1);
    ASSERT(strstr(err.msg, "out of range"));
    /* the refused loads left the programmed chip alone: IMR still 0xe1 */
    ASSERT_EQ(bus_in(a.bus, 0x21, 1), 0xe1);
    state_writer_release(&blob.w);
    pic_fix_free(&a);
}

/* ---- 8254 ---- */

struct pit_fix {
    struct bus *bus;
    struct clock *clock;
    struct pit *pit;
    struct irq_rec irq0;
};

static void pit_fix_new(struct pit_fix *f)
{
    memset(f, 0, sizeof *f);
    f->bus = bus_new();
    f->clock = clock_new(CLOCK_DETERMINISTIC, 1);
    f->pit = pit_new(f->bus, f->clock, irq_make(irq_rec_set, &f->irq0, 0));
    ASSERT(f->pit);
}

static void pit_fix_free(struct pit_fix *f)
{
    pit_free(f->pit);
    clock_free(f->clock);
    bus_free(f->bus);
}

static int64_t tick_time(int64_t k)
{
    return (k * 1000000000LL + 1193181) / 1193182;
}

/* Runs the clock to ns, firing timers like the machine loop. */
static void run_to(struct pit_fix *f, int64_t when)
{
    while (clock_next_deadline(f->clock) <= when) {
        clock_warp(f->clock, clock_next_deadline(f->clock));
        clock_run_timers(f->clock);
    }
    clock_warp(f->clock, when);
}

static unsigned pit_count0(struct pit_fix *f)
{
    bus_out(f->bus, 0x43, 0x00, 1); /* counter latch, counter 0 */
    unsigned lo = (unsigned)bus_in(f->bus, 0x40, 1);
    return lo | (unsigned)bus_in(f->bus, 0x40, 1) << 8;
}

TEST(pit_resumes_its_count_and_edges_on_a_clock_at_another_time)
{
    struct pit_fix a, b;
    struct blob blob;
    pit_fix_new(&a);
    pit_fix_new(&b);
    /* counter 0: mode 2, LSB then MSB, count 1000; counter 2: mode 0, count 5000 */
    bus_out(a.bus, 0x43, 0x34, 1);
    bus_out(a.bus, 0x40, 1000 & 0xff, 1);
    bus_out(a.bus, 0x40, 1000 >> 8, 1);
    bus_out(a.bus, 0x61, 0x01, 1); /* gate 2 high */
    bus_out(a.bus, 0x43, 0xb0, 1);
    bus_out(a.bus, 0x42, 5000 & 0xff, 1);
    bus_out(a.bus, 0x42, 5000 >> 8, 1);
    run_to(&a, tick_time(2500));
    int rises_a = a.irq0.rises;
    /* The control word sets OUT high (a rise from reset's low), then once a period of 1000. */
    ASSERT_EQ(rises_a, 3);
    blob_begin(&blob);
    ASSERT_EQ(pit_save(a.pit, &blob.w), 0);
    run_to(&b, tick_time(7000333)); /* the resumed clock is elsewhere, not a whole period on */
    int64_t base = clock_now_ns(b.clock) - clock_now_ns(a.clock);
    struct state_reader r = blob_reader(&blob);
    ASSERT_EQ(pit_load(b.pit, &r, NULL), 0);
    ASSERT(state_reader_done(&r));
    ASSERT_EQ(pit_count0(&a), pit_count0(&b));
    bus_out(a.bus, 0x43, 0xe8, 1); /* read-back: status of counter 2 */
    bus_out(b.bus, 0x43, 0xe8, 1);
    ASSERT_EQ(bus_in(a.bus, 0x42, 1), bus_in(b.bus, 0x42, 1));
    int rises_b = b.irq0.rises;
    run_to(&a, tick_time(4600));
    run_to(&b, base + tick_time(4600));
    ASSERT_EQ(a.irq0.rises - rises_a, 2); /* the edges at ticks 3000 and 4000 */
    ASSERT_EQ(b.irq0.rises - rises_b, 2);
    ASSERT_EQ(pit_count0(&a), pit_count0(&b));
    ASSERT_EQ(pit_out(a.pit, 2), pit_out(b.pit, 2));
    state_writer_release(&blob.w);
    pit_fix_free(&a);
    pit_fix_free(&b);
}

TEST(pit_refuses_out_of_range_and_truncated_state)
{
    struct pit_fix a;
    struct blob blob;
    pit_fix_new(&a);
    blob_begin(&blob);
    pit_save(a.pit, &blob.w);
    size_t len = blob.w.len - blob.off;
    for (size_t cut = 0; cut < len; cut++) {
        struct state_reader r = blob_reader(&blob);
        r.len = cut;
        struct error err = {0};
        ASSERT_EQ(pit_load(a.pit, &r, &err), -1);
        ASSERT_EQ(err.code, EX_DATAERR);
    }
    blob.w.buf[blob.off] = 6; /* counter 0 mode 6 */
    struct state_reader r = blob_reader(&blob);
    struct error err = {0};
    ASSERT_EQ(pit_load(a.pit, &r, &err), -1);
    ASSERT(strstr(err.msg, "out of range"));
    state_writer_release(&blob.w);
    pit_fix_free(&a);
}

/* ---- 16550A ---- */

struct uart_fix {
    struct bus *bus;
    struct clock *clock;
    struct uart *uart;
    struct irq_rec irq;
};

static void uart_fix_new(struct uart_fix *f)
{
    memset(f, 0, sizeof *f);
    f->bus = bus_new();
    f->clock = clock_new(CLOCK_DETERMINISTIC, 1);
    f->uart = uart_new(f->bus, f->clock, 0x3f8, irq_make(irq_rec_set, &f->irq, 0), NULL);
    ASSERT(f->uart);
}

static void uart_fix_free(struct uart_fix *f)
{
    uart_free(f->uart);
    clock_free(f->clock);
    bus_free(f->bus);
}

static void uart_run_to(struct uart_fix *f, int64_t when)
{
    while (clock_next_deadline(f->clock) <= when) {
        clock_warp(f->clock, clock_next_deadline(f->clock));
        clock_run_timers(f->clock);
    }
    clock_warp(f->clock, when);
}

TEST(uart_resumes_its_fifo_and_character_timeout)
{
    struct uart_fix a, b;
    struct blob blob;
    uart_fix_new(&a);
    uart_fix_new(&b);
    /* 115200 8N1, FIFO on with trigger 14, loopback with OUT2, receive interrupts on */
    static const uint8_t prog[][2] = {{3, 0x80}, {0, 1},    {1, 0},    {3, 0x03},
                                      {2, 0xc7}, {4, 0x18}, {1, 0x01}, {7, 0x5a}};
    for (size_t i = 0; i < sizeof prog / sizeof prog[0]; i++)
        bus_out(a.bus, (uint16_t)(0x3f8 + prog[i][0]), prog[i][1], 1);
    uart_run_to(&a, 1000000);
    for (const char *p = "abc"; *p; p++)
        bus_out(a.bus, 0x3f8, (uint8_t)*p, 1); /* looped back into the receive FIFO */
    uart_run_to(&a, 1100000);                  /* 100 us: less than 4 characters' time */
    blob_begin(&blob);
    ASSERT_EQ(uart_save(a.uart, &blob.w), 0);
    uart_run_to(&b, 5555555555);
    int64_t base = clock_now_ns(b.clock) - clock_now_ns(a.clock);
    struct state_reader r = blob_reader(&blob);
    ASSERT_EQ(uart_load(b.uart, &r, NULL), 0);
    ASSERT(state_reader_done(&r));
    /* LSR: data ready, THR and TSR empty; IIR: no interrupt yet, FIFOs enabled; scratch */
    ASSERT_EQ(bus_in(a.bus, 0x3fd, 1) & 0x61, 0x61);
    ASSERT_EQ(bus_in(b.bus, 0x3fd, 1), bus_in(a.bus, 0x3fd, 1));
    ASSERT_EQ(bus_in(a.bus, 0x3fa, 1), 0xc1);
    ASSERT_EQ(bus_in(b.bus, 0x3fa, 1), 0xc1);
    ASSERT_EQ(bus_in(b.bus, 0x3ff, 1), 0x5a);
    /* the character timeout (4 characters at 115200: 347 us after the last byte) */
    uart_run_to(&a, 1500000);
    uart_run_to(&b, base + 1500000);
    ASSERT_EQ(bus_in(a.bus, 0x3fa, 1), 0xcc);
    ASSERT_EQ(bus_in(b.bus, 0x3fa, 1), 0xcc);
    for (const char *p = "abc"; *p; p++) {
        ASSERT_EQ(bus_in(a.bus, 0x3f8, 1), (uint8_t)*p);
        ASSERT_EQ(bus_in(b.bus, 0x3f8, 1), (uint8_t)*p);
    }
    ASSERT_EQ(bus_in(b.bus, 0x3fd, 1) & 1, 0);
    state_writer_release(&blob.w);
    uart_fix_free(&a);
    uart_fix_free(&b);
}

TEST(uart_refuses_out_of_range_and_truncated_state)
{
    struct uart_fix a;
    struct blob blob;
    uart_fix_new(&a);
    blob_begin(&blob);
    uart_save(a.uart, &blob.w);
    size_t len = blob.w.len - blob.off;
    for (size_t cut = 0; cut < len; cut++) {
        struct state_reader r = blob_reader(&blob);
        r.len = cut;
        struct error err = {0};
        ASSERT_EQ(uart_load(a.uart, &r, &err), -1);
        ASSERT_EQ(err.code, EX_DATAERR);
    }
    blob.w.buf[blob.off + 8] = 3; /* FIFO trigger 3 */
    struct state_reader r = blob_reader(&blob);
    struct error err = {0};
    ASSERT_EQ(uart_load(a.uart, &r, &err), -1);
    blob.w.buf[blob.off + 8] = 1;
    blob.w.buf[blob.off + 18] = 17; /* 17 bytes in a 16-byte FIFO */
    r = blob_reader(&blob);
    ASSERT_EQ(uart_load(a.uart, &r, &err), -1);
    state_writer_release(&blob.w);
    uart_fix_free(&a);
}

/* ---- port 0x92 ---- */

TEST(port92_resumes_and_drives_a20_again)
{
    struct bus *bus = bus_new();
    struct irq_rec a20a = {0}, a20b = {0}, rst = {0};
    struct port92 *a =
        port92_new(bus, irq_make(irq_rec_set, &a20a, 0), irq_make(irq_rec_set, &rst, 0));
    struct blob blob;
    ASSERT(a);
    bus_out(bus, 0x92, 0x02, 1); /* fast A20 on */
    ASSERT_EQ(a20a.level, 1);
    blob_begin(&blob);
    ASSERT_EQ(port92_save(a, &blob.w), 0);
    port92_free(a);
    struct port92 *b =
        port92_new(bus, irq_make(irq_rec_set, &a20b, 0), irq_make(irq_rec_set, &rst, 0));
    ASSERT(b);
    ASSERT_EQ(a20b.level, 0);
    struct state_reader r = blob_reader(&blob);
    ASSERT_EQ(port92_load(b, &r, NULL), 0);
    ASSERT(state_reader_done(&r));
    ASSERT_EQ(a20b.level, 1);
    ASSERT_EQ(bus_in(bus, 0x92, 1), 0x02);
    ASSERT_EQ(rst.rises, 0);
    blob.w.buf[blob.off] = 0x03; /* the reset bit cannot be a saved value */
    r = blob_reader(&blob);
    struct error err = {0};
    ASSERT_EQ(port92_load(b, &r, &err), -1);
    ASSERT_EQ(err.code, EX_DATAERR);
    state_writer_release(&blob.w);
    port92_free(b);
    bus_free(bus);
}

/* ---- 82093AA ---- */

struct msg_rec {
    int n;
    struct apic_msg last;
};

static void msg_rec(void *opaque, const struct apic_msg *m)
{
    struct msg_rec *r = opaque;
    r->n++;
    r->last = *m;
}

static void ioapic_w(struct bus *bus, uint8_t reg, uint32_t v)
{
    bus_write(bus, IOAPIC_BASE, reg, 4);
    bus_write(bus, IOAPIC_BASE + 0x10, v, 4);
}

static uint32_t ioapic_r(struct bus *bus, uint8_t reg)
{
    bus_write(bus, IOAPIC_BASE, reg, 4);
    return (uint32_t)bus_read(bus, IOAPIC_BASE + 0x10, 4);
}

TEST(ioapic_resumes_with_a_level_interrupt_in_service)
{
    struct bus *ba = bus_new(), *bb = bus_new();
    struct msg_rec ma = {0}, mb = {0};
    struct ioapic *a = ioapic_new(ba, 1, msg_rec, &ma), *b = ioapic_new(bb, 1, msg_rec, &mb);
    struct blob blob;
    ASSERT(a && b);
    ioapic_w(ba, 0x00, 0x05000000);          /* ID 5 */
    ioapic_w(ba, 0x10 + 2 * 11, 0x0000a041); /* pin 11: vector 0x41, level, fixed */
    ioapic_w(ba, 0x10 + 2 * 11 + 1, 0x01000000);
    ioapic_set_irq(a, 11, 1);
    ASSERT_EQ(ma.n, 1);
    ASSERT_EQ(ma.last.vector, 0x41);
    ASSERT(ioapic_r(ba, 0x10 + 2 * 11) & (1u << 14)); /* remote IRR */
    bus_write(ba, IOAPIC_BASE, 0x12, 4);              /* IOREGSEL left at an entry */
    blob_begin(&blob);
    ASSERT_EQ(ioapic_save(a, &blob.w), 0);
    struct state_reader r = blob_reader(&blob);
    ASSERT_EQ(ioapic_load(b, &r, NULL), 0);
    ASSERT(state_reader_done(&r));
    ASSERT_EQ(mb.n, 0); /* loading delivers nothing */
    ASSERT_EQ(bus_read(bb, IOAPIC_BASE, 4), 0x12);
    for (uint8_t reg = 0; reg < 0x10 + 2 * IOAPIC_PINS; reg++)
        ASSERT_EQ(ioapic_r(bb, reg), ioapic_r(ba, reg));
    ASSERT_EQ(ioapic_r(bb, 0x00), 0x05000000);
    /* the EOI with the line still high delivers again, on both */
    ioapic_eoi(a, 0x41);
    ioapic_eoi(b, 0x41);
    ASSERT_EQ(ma.n, 2);
    ASSERT_EQ(mb.n, 1);
    ASSERT_EQ(mb.last.vector, 0x41);
    ASSERT_EQ(mb.last.dest, 1);
    ASSERT(mb.last.level);
    blob.w.buf[blob.off + 6 + 8 * 3 + 2] |= 0x02; /* pin 3's bit 17: reserved */
    r = blob_reader(&blob);
    struct error err = {0};
    ASSERT_EQ(ioapic_load(b, &r, &err), -1);
    ASSERT(strstr(err.msg, "entry 3"));
    state_writer_release(&blob.w);
    ioapic_free(a);
    ioapic_free(b);
    bus_free(ba);
    bus_free(bb);
}
