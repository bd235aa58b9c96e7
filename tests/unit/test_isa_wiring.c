/*
 * The ISA interrupt wiring pc.c is to do, end to end: every ISA IRQ goes to
 * the 8259 pair and to the IOAPIC (IRQ0 on pin 2), the 8259's INT to the
 * local APIC's LINT0, the APIC's INTR to the CPU (here a recorder) and its
 * INTA to apic_intr_ack; level EOIs go back to the IOAPIC. Checked: the
 * PIT's 18.2 Hz IRQ0 as SeaBIOS sees it (8259, virtual wire) and as Linux
 * sees it after switching to the IOAPIC (vector from redirection entry 2).
 */
#include "devices/apic.h"
#include "devices/ioapic.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "tests/unit/test.h"

struct board {
    struct bus *bus;
    struct clock *clock;
    struct pic *pic;
    struct apic *apic;
    struct ioapic *ioapic;
    struct pit *pit;
    int cpu_intr;
};

static void cpu_intr(void *opaque, int n, int level)
{
    ((struct board *)opaque)->cpu_intr = level;
}

/* pc.c's ISA IRQ fan-out. */
static void isa_irq(void *opaque, int n, int level)
{
    struct board *b = opaque;
    pic_set_irq(b->pic, n, level);
    ioapic_set_irq(b->ioapic, n == 0 ? 2 : n, level);
}

static void setup(struct board *b)
{
    memset(b, 0, sizeof *b);
    b->bus = bus_new();
    b->clock = clock_new(CLOCK_DETERMINISTIC, 1);
    b->apic = apic_new(b->bus, b->clock, 0, irq_make(cpu_intr, b, 0), (struct irq){0});
    b->pic = pic_new(b->bus, irq_make(apic_set_irq, b->apic, 0));
    b->ioapic = ioapic_new(b->bus, 0, apic_deliver, b->apic);
    apic_set_extint(b->apic, pic_intr_ack, b->pic);
    apic_set_eoi_listener(b->apic, ioapic_eoi, b->ioapic);
    b->pit = pit_new(b->bus, b->clock, irq_make(isa_irq, b, 0));
    ASSERT(b->apic && b->pic && b->ioapic && b->pit);
}

static void teardown(struct board *b)
{
    pit_free(b->pit);
    ioapic_free(b->ioapic);
    pic_free(b->pic);
    apic_free(b->apic);
    clock_free(b->clock);
    bus_free(b->bus);
}

/* Runs the clock for ns, taking each interrupt like a CPU with IF=1; returns the vectors seen. */
static int run(struct board *b, int64_t ns, int *vectors, int max, bool pic_eoi)
{
    int n = 0;
    int64_t end = clock_now_ns(b->clock) + ns;
    while (clock_next_deadline(b->clock) <= end) {
        clock_warp(b->clock, clock_next_deadline(b->clock));
        clock_run_timers(b->clock);
        while (b->cpu_intr && n < max) {
            vectors[n++] = apic_intr_ack(b->apic);
            if (pic_eoi)
                bus_out(b->bus, 0x20, 0x20, 1);
            else
                bus_write(b->bus, APIC_BASE + 0xb0, 0, 4);
        }
    }
    clock_warp(b->clock, end);
    return n;
}

TEST(pit_irq0_through_8259_virtual_wire)
{
    struct board b;
    setup(&b);
    static const uint8_t init[][2] = {{0x20, 0x11}, {0x21, 0x08}, {0x21, 0x04}, {0x21, 0x01},
                                      {0xa0, 0x11}, {0xa1, 0x70}, {0xa1, 0x02}, {0xa1, 0x01},
                                      {0x21, 0xfe}, {0xa1, 0xff}, {0x43, 0x34}, {0x40, 0x00},
                                      {0x40, 0x00}};
    for (size_t i = 0; i < sizeof init / sizeof init[0]; i++)
        bus_out(b.bus, init[i][0], init[i][1], 1);
    int v[64];
    int n = run(&b, 1000000000, v, 64, true);
    ASSERT_EQ(n, 18);
    for (int i = 0; i < n; i++)
        ASSERT_EQ(v[i], 0x08);
    teardown(&b);
}

TEST(pit_irq0_through_ioapic_pin2)
{
    struct board b;
    setup(&b);
    /* Linux: 8259 fully masked, LINT0 masked, IOAPIC pin 2 edge vector 0x30 to APIC 0. */
    bus_out(b.bus, 0x21, 0xff, 1);
    bus_out(b.bus, 0xa1, 0xff, 1);
    bus_write(b.bus, APIC_BASE + 0xf0, 0x1ff, 4);
    bus_write(b.bus, APIC_BASE + 0x350, 0x10700, 4);
    bus_write(b.bus, IOAPIC_BASE, 0x14, 4);
    bus_write(b.bus, IOAPIC_BASE + 0x10, 0x30, 4);
    bus_write(b.bus, IOAPIC_BASE, 0x15, 4);
    bus_write(b.bus, IOAPIC_BASE + 0x10, 0, 4);
    /* PIT at HZ=250: count 1193182 / 250 = 4773. */
    bus_out(b.bus, 0x43, 0x34, 1);
    bus_out(b.bus, 0x40, 4773 & 0xff, 1);
    bus_out(b.bus, 0x40, 4773 >> 8, 1);
    int v[300];
    int n = run(&b, 1000000000, v, 300, false);
    ASSERT(n >= 249 && n <= 251);
    for (int i = 0; i < n; i++)
        ASSERT_EQ(v[i], 0x30);
    teardown(&b);
}
