/*
 * Local APIC against the Intel SDM (vol. 3, ch. 10): reset values,
 * virtual-wire ExtINT through a real 8259 (SeaBIOS's setup), fixed
 * delivery with PPR/TPR priority classes, ISR/EOI order, level-triggered
 * EOI broadcast, spurious vector, software disable, timer one-shot and
 * periodic with the divide configuration, self IPI, ESR, logical
 * destinations.
 */
#include "devices/apic.h"
#include "devices/pic.h"
#include "tests/unit/test.h"

#define REG(off) (APIC_BASE + (off))

struct fix {
    struct bus *bus;
    struct clock *clock;
    struct apic *apic;
    struct irq_rec intr, nmi;
    int eoi_vector, eois;
};

static void eoi_cb(void *opaque, int vector)
{
    struct fix *f = opaque;
    f->eoi_vector = vector;
    f->eois++;
}

static void setup(struct fix *f)
{
    memset(f, 0, sizeof *f);
    f->bus = bus_new();
    f->clock = clock_new(CLOCK_DETERMINISTIC, 1);
    f->apic = apic_new(f->bus, f->clock, 0, irq_make(irq_rec_set, &f->intr, 0),
                       irq_make(irq_rec_set, &f->nmi, 0));
    ASSERT(f->apic);
    apic_set_eoi_listener(f->apic, eoi_cb, f);
}

static void teardown(struct fix *f)
{
    apic_free(f->apic);
    clock_free(f->clock);
    bus_free(f->bus);
}

static uint32_t rd(struct fix *f, uint32_t off)
{
    return (uint32_t)bus_read(f->bus, REG(off), 4);
}

static void wr(struct fix *f, uint32_t off, uint32_t v)
{
    bus_write(f->bus, REG(off), v, 4);
}

static void fixed(struct fix *f, uint8_t vector, bool level)
{
    struct apic_msg m = {.vector = vector, .mode = APIC_DM_FIXED, .level = level};
    apic_deliver(f->apic, &m);
}

static bool isr_bit(struct fix *f, int v)
{
    return (rd(f, 0x100 + 0x10 * (v / 32)) >> (v % 32)) & 1;
}

TEST(reset_values)
{
    struct fix f;
    setup(&f);
    ASSERT_EQ(rd(&f, 0x30), 0x00050014); /* version 0x14, 6 LVT entries */
    ASSERT_EQ(rd(&f, 0x20), 0);
    ASSERT_EQ(rd(&f, 0xf0), 0xff);       /* SVR: software disabled, vector 0xFF */
    ASSERT_EQ(rd(&f, 0xe0), 0xffffffff); /* DFR flat */
    ASSERT_EQ(rd(&f, 0x320), 0x10000);
    ASSERT_EQ(rd(&f, 0x350), 0x700); /* BSP LINT0: ExtINT */
    ASSERT_EQ(rd(&f, 0x360), 0x10000);
    ASSERT_EQ(rd(&f, 0x370), 0x10000);
    teardown(&f);
}

TEST(virtual_wire_with_8259)
{
    struct fix f;
    setup(&f);
    struct pic *pic = pic_new(f.bus, irq_make(apic_set_irq, f.apic, 0));
    apic_set_extint(f.apic, pic_intr_ack, pic);
    static const uint8_t init[][2] = {{0x20, 0x11}, {0x21, 0x08}, {0x21, 0x04}, {0x21, 0x01},
                                      {0xa0, 0x11}, {0xa1, 0x70}, {0xa1, 0x02}, {0xa1, 0x01},
                                      {0x21, 0x00}, {0xa1, 0x00}};
    for (size_t i = 0; i < sizeof init / sizeof init[0]; i++)
        bus_out(f.bus, init[i][0], init[i][1], 1);
    /* SeaBIOS smp setup: enable the APIC, LINT0 ExtINT, LINT1 NMI. */
    wr(&f, 0xf0, rd(&f, 0xf0) | 0x100);
    wr(&f, 0x350, 0x8700);
    wr(&f, 0x360, 0x400);
    pic_set_irq(pic, 1, 1);
    ASSERT_EQ(f.intr.level, 1);
    ASSERT_EQ(apic_intr_ack(f.apic), 0x09);
    ASSERT_EQ(f.intr.level, 0);
    /* A fixed APIC interrupt is taken before the 8259's. */
    bus_out(f.bus, 0x20, 0x20, 1);
    pic_set_irq(pic, 1, 0);
    pic_set_irq(pic, 1, 1);
    fixed(&f, 0x40, false);
    ASSERT_EQ(apic_intr_ack(f.apic), 0x40);
    ASSERT_EQ(apic_intr_ack(f.apic), 0x09);
    /* Masked LINT0: the 8259 no longer reaches the CPU. */
    bus_out(f.bus, 0x20, 0x20, 1);
    wr(&f, 0xb0, 0);
    wr(&f, 0x350, 0x10700);
    pic_set_irq(pic, 1, 0);
    pic_set_irq(pic, 1, 1);
    ASSERT_EQ(f.intr.level, 0);
    /* LINT1 NMI */
    apic_set_irq(f.apic, 1, 1);
    ASSERT_EQ(f.nmi.rises, 1);
    pic_free(pic);
    teardown(&f);
}

TEST(priority_classes_tpr_and_eoi)
{
    struct fix f;
    setup(&f);
    fixed(&f, 0x31, false);
    ASSERT_EQ(f.intr.level, 0); /* software disabled */
    wr(&f, 0xf0, 0x1ff);
    ASSERT_EQ(f.intr.level, 1);
    ASSERT_EQ(apic_intr_ack(f.apic), 0x31);
    ASSERT(isr_bit(&f, 0x31));
    ASSERT_EQ(rd(&f, 0xa0), 0x30); /* PPR = ISR class */
    fixed(&f, 0x32, false);
    ASSERT_EQ(f.intr.level, 0); /* same class as the one in service */
    fixed(&f, 0x41, false);
    ASSERT_EQ(f.intr.level, 1);
    ASSERT_EQ(apic_intr_ack(f.apic), 0x41);
    wr(&f, 0xb0, 0); /* EOI clears the highest ISR bit: 0x41 */
    ASSERT(!isr_bit(&f, 0x41));
    ASSERT(isr_bit(&f, 0x31));
    wr(&f, 0xb0, 0);
    ASSERT_EQ(f.intr.level, 1);
    /* TPR 0x50 blocks classes 5 and below. */
    wr(&f, 0x80, 0x50);
    ASSERT_EQ(rd(&f, 0xa0), 0x50);
    ASSERT_EQ(f.intr.level, 0);
    ASSERT_EQ(apic_intr_ack(f.apic), 0xff); /* spurious, ISR untouched */
    ASSERT(!isr_bit(&f, 0xff));
    wr(&f, 0x80, 0x00);
    ASSERT_EQ(apic_intr_ack(f.apic), 0x32);
    ASSERT_EQ(f.eois, 0);
    wr(&f, 0xb0, 0);
    ASSERT_EQ(f.eois, 0); /* edge: no broadcast */
    teardown(&f);
}

TEST(level_eoi_broadcast_and_tmr)
{
    struct fix f;
    setup(&f);
    wr(&f, 0xf0, 0x1ff);
    fixed(&f, 0x61, true);
    ASSERT_EQ((rd(&f, 0x180 + 0x30) >> 1) & 1, 1); /* TMR bit 0x61 */
    ASSERT_EQ(apic_intr_ack(f.apic), 0x61);
    wr(&f, 0xb0, 0);
    ASSERT_EQ(f.eois, 1);
    ASSERT_EQ(f.eoi_vector, 0x61);
    teardown(&f);
}

TEST(software_disable_masks_lvt)
{
    struct fix f;
    setup(&f);
    wr(&f, 0x320, 0x20);
    ASSERT_EQ(rd(&f, 0x320), 0x10020);
    wr(&f, 0xf0, 0x1ff);
    wr(&f, 0x320, 0x20);
    ASSERT_EQ(rd(&f, 0x320), 0x20);
    wr(&f, 0xf0, 0x0ff);
    ASSERT_EQ(rd(&f, 0x320), 0x10020);
    teardown(&f);
}

TEST(timer_one_shot_and_periodic)
{
    struct fix f;
    setup(&f);
    wr(&f, 0xf0, 0x1ff);
    wr(&f, 0x3e0, 0x3);   /* divide by 16 */
    wr(&f, 0x320, 0xec);  /* one-shot, vector 0xEC (Linux LOCAL_TIMER_VECTOR) */
    wr(&f, 0x380, 1000);
    clock_warp(f.clock, 8000);
    ASSERT_EQ(rd(&f, 0x390), 500);
    ASSERT_EQ(clock_next_deadline(f.clock), 16000);
    clock_warp(f.clock, 16000);
    clock_run_timers(f.clock);
    ASSERT_EQ(f.intr.level, 1);
    ASSERT_EQ(rd(&f, 0x390), 0);
    ASSERT_EQ(apic_intr_ack(f.apic), 0xec);
    wr(&f, 0xb0, 0);
    ASSERT_EQ(clock_next_deadline(f.clock), CLOCK_NEVER);
    /* Periodic, divide by 1 (TDCR 0xB), 250 counts. */
    wr(&f, 0x3e0, 0xb);
    wr(&f, 0x320, 0x200ec);
    wr(&f, 0x380, 250);
    int count = 0;
    int64_t end = 16000 + 10 * 250;
    while (clock_next_deadline(f.clock) <= end) {
        clock_warp(f.clock, clock_next_deadline(f.clock));
        clock_run_timers(f.clock);
        if (f.intr.level) {
            ASSERT_EQ(apic_intr_ack(f.apic), 0xec);
            wr(&f, 0xb0, 0);
            count++;
        }
    }
    ASSERT_EQ(count, 10);
    clock_warp(f.clock, end + 100);
    ASSERT_EQ(rd(&f, 0x390), 150);
    /* Masked: no timer armed; initial count 0 stops it. */
    wr(&f, 0x320, 0x300ec);
    ASSERT_EQ(clock_next_deadline(f.clock), CLOCK_NEVER);
    wr(&f, 0x380, 0);
    ASSERT_EQ(rd(&f, 0x390), 0);
    teardown(&f);
}

TEST(self_ipi_esr_and_logical_destination)
{
    struct fix f;
    setup(&f);
    wr(&f, 0xf0, 0x1ff);
    wr(&f, 0x300, 0x40000 | 0x50); /* shorthand self, fixed 0x50 */
    ASSERT_EQ(apic_intr_ack(f.apic), 0x50);
    wr(&f, 0xb0, 0);
    wr(&f, 0x310, 0x01000000); /* physical destination 1: not us */
    wr(&f, 0x300, 0x51);
    ASSERT_EQ(f.intr.level, 0);
    wr(&f, 0x310, 0x00000000);
    wr(&f, 0x300, 0x52);
    ASSERT_EQ(apic_intr_ack(f.apic), 0x52);
    wr(&f, 0xb0, 0);
    /* Illegal vector: ESR "send illegal vector" after the write-then-read. */
    wr(&f, 0x300, 0x40000 | 0x05);
    wr(&f, 0x280, 0);
    ASSERT_EQ(rd(&f, 0x280), 0x20);
    wr(&f, 0x280, 0);
    ASSERT_EQ(rd(&f, 0x280), 0);
    /* Logical flat: LDR bit 0. */
    wr(&f, 0xd0, 0x01000000);
    struct apic_msg m = {.vector = 0x60, .mode = APIC_DM_FIXED, .logical = true, .dest = 0x02};
    apic_deliver(f.apic, &m);
    ASSERT_EQ(f.intr.level, 0);
    m.dest = 0x03;
    apic_deliver(f.apic, &m);
    ASSERT_EQ(apic_intr_ack(f.apic), 0x60);
    teardown(&f);
}

TEST(self_nmi_pulses_the_nmi_line)
{
    struct fix f;
    setup(&f);
    wr(&f, 0x300, 0x40000 | 0x400); /* shorthand self, delivery mode NMI */
    ASSERT_EQ(f.nmi.rises, 1);
    ASSERT_EQ(f.nmi.level, 0);
    ASSERT_EQ(f.intr.level, 0); /* not an IRR vector */
    teardown(&f);
}

TEST(global_disable_through_apic_base)
{
    struct fix f;
    setup(&f);
    wr(&f, 0xf0, 0x1ff);
    wr(&f, 0x80, 0x20);
    apic_set_base(f.apic, 0xfee00100); /* bit 11 clear: no APIC */
    ASSERT_EQ(rd(&f, 0x30), 0xffffffffu);
    wr(&f, 0x80, 0x40); /* dropped */
    fixed(&f, 0x50, false);
    ASSERT_EQ(f.intr.level, 0);
    apic_set_irq(f.apic, 0, 1); /* the 8259's INT reaches INTR directly */
    ASSERT_EQ(f.intr.level, 1);
    apic_set_irq(f.apic, 0, 0);
    ASSERT_EQ(f.intr.level, 0);
    apic_set_base(f.apic, 0xfee00900); /* enabled again, in its reset state */
    ASSERT_EQ(rd(&f, 0x30), 0x00050014u);
    ASSERT_EQ(rd(&f, 0x80), 0);
    ASSERT_EQ(rd(&f, 0xf0), 0xff);
    ASSERT_EQ(rd(&f, 0x200 + 0x50 / 32 * 0x10), 0);
    teardown(&f);
}
