/*
 * 82093AA IOAPIC against its datasheet: ID/version registers, redirection
 * table access through IOREGSEL/IOWIN, edge delivery, masking, level
 * delivery with remote IRR cleared by the local APIC's EOI broadcast
 * (wired to a real local APIC as pc.c does), and unmasking an asserted
 * level input.
 */
#include "devices/ioapic.h"
#include "tests/unit/test.h"

struct fix {
    struct bus *bus;
    struct clock *clock;
    struct ioapic *io;
    struct apic *apic;
    int intr;
    struct apic_msg last;
    int sent;
};

static void intr_set(void *opaque, int n, int level)
{
    *(int *)opaque = level;
}

/* Records the message and passes it on to the local APIC. */
static void deliver(void *opaque, const struct apic_msg *m)
{
    struct fix *f = opaque;
    f->last = *m;
    f->sent++;
    apic_deliver(f->apic, m);
}

static void setup(struct fix *f)
{
    memset(f, 0, sizeof *f);
    f->bus = bus_new();
    f->clock = clock_new(CLOCK_DETERMINISTIC, 1);
    f->apic = apic_new(f->bus, f->clock, 0, irq_make(intr_set, &f->intr, 0), (struct irq){0});
    f->io = ioapic_new(f->bus, 0, deliver, f);
    ASSERT(f->apic && f->io);
    apic_set_eoi_listener(f->apic, ioapic_eoi, f->io);
    bus_write(f->bus, APIC_BASE + 0xf0, 0x1ff, 4);
}

static void teardown(struct fix *f)
{
    ioapic_free(f->io);
    apic_free(f->apic);
    clock_free(f->clock);
    bus_free(f->bus);
}

static uint32_t rd(struct fix *f, uint8_t reg)
{
    bus_write(f->bus, IOAPIC_BASE, reg, 4);
    return (uint32_t)bus_read(f->bus, IOAPIC_BASE + 0x10, 4);
}

static void wr(struct fix *f, uint8_t reg, uint32_t v)
{
    bus_write(f->bus, IOAPIC_BASE, reg, 4);
    bus_write(f->bus, IOAPIC_BASE + 0x10, v, 4);
}

static void eoi(struct fix *f)
{
    bus_write(f->bus, APIC_BASE + 0xb0, 0, 4);
}

TEST(id_version_and_reset_masks)
{
    struct fix f;
    setup(&f);
    ASSERT_EQ(rd(&f, 0x01), 0x00170020);
    wr(&f, 0x00, 0x02000000);
    ASSERT_EQ(rd(&f, 0x00), 0x02000000);
    for (int pin = 0; pin < 24; pin++)
        ASSERT_EQ(rd(&f, (uint8_t)(0x10 + 2 * pin)), 0x10000); /* masked */
    wr(&f, 0x11, 0xff000000);
    ASSERT_EQ(rd(&f, 0x11), 0xff000000);
    teardown(&f);
}

TEST(edge_pin_delivery_and_mask)
{
    struct fix f;
    setup(&f);
    /* ISA IRQ0 on pin 2 (QEMU pc's override), vector 0x30, physical dest 0. */
    wr(&f, 0x10 + 4, 0x30);
    wr(&f, 0x11 + 4, 0);
    ioapic_set_irq(f.io, 2, 1);
    ASSERT_EQ(f.sent, 1);
    ASSERT_EQ(f.last.vector, 0x30);
    ASSERT(!f.last.level);
    ASSERT_EQ(f.intr, 1);
    ASSERT_EQ(apic_intr_ack(f.apic), 0x30);
    eoi(&f);
    ioapic_set_irq(f.io, 2, 1); /* no edge */
    ASSERT_EQ(f.sent, 1);
    ioapic_set_irq(f.io, 2, 0);
    wr(&f, 0x10 + 4, 0x10030);
    ioapic_set_irq(f.io, 2, 1); /* masked edge is lost */
    wr(&f, 0x10 + 4, 0x30);
    ASSERT_EQ(f.sent, 1);
    teardown(&f);
}

TEST(level_remote_irr_and_eoi)
{
    struct fix f;
    setup(&f);
    wr(&f, 0x10 + 22, 0x8000 | 0x2000 | 0x41); /* pin 11: level, active low, vector 0x41 */
    ioapic_set_irq(f.io, 11, 1);
    ASSERT_EQ(f.sent, 1);
    ASSERT(f.last.level);
    ASSERT_EQ(rd(&f, 0x10 + 22) & 0x4000, 0x4000); /* remote IRR */
    ioapic_set_irq(f.io, 11, 1);
    ASSERT_EQ(f.sent, 1);
    ASSERT_EQ(apic_intr_ack(f.apic), 0x41);
    eoi(&f); /* line still asserted: delivered again */
    ASSERT_EQ(f.sent, 2);
    ASSERT_EQ(apic_intr_ack(f.apic), 0x41);
    ioapic_set_irq(f.io, 11, 0);
    eoi(&f);
    ASSERT_EQ(f.sent, 2);
    ASSERT_EQ(rd(&f, 0x10 + 22) & 0x4000, 0);

    /* The EOI register (+0x40) clears remote IRR without the local APIC. */
    ioapic_set_irq(f.io, 11, 1);
    ASSERT_EQ(f.sent, 3);
    ioapic_set_irq(f.io, 11, 0);
    bus_write(f.bus, IOAPIC_BASE + 0x40, 0x41, 4);
    ASSERT_EQ(rd(&f, 0x10 + 22) & 0x4000, 0);
    apic_intr_ack(f.apic);
    eoi(&f);
    /* Remote IRR and delivery status are read-only. */
    wr(&f, 0x10 + 22, 0x8000 | 0x4000 | 0x1000 | 0x41);
    ASSERT_EQ(rd(&f, 0x10 + 22), 0x8000 | 0x41);
    teardown(&f);
}

TEST(unmask_asserted_level_pin)
{
    struct fix f;
    setup(&f);
    wr(&f, 0x10 + 20, 0x18000 | 0x45); /* pin 10 level, masked */
    ioapic_set_irq(f.io, 10, 1);
    ASSERT_EQ(f.sent, 0);
    wr(&f, 0x10 + 20, 0x8000 | 0x45);
    ASSERT_EQ(f.sent, 1);
    ASSERT_EQ(f.last.vector, 0x45);
    /* Logical destination and lowest priority pass through as a message. */
    wr(&f, 0x10 + 2, 0x900 | 0x50);
    wr(&f, 0x11 + 2, 0x01000000);
    ioapic_set_irq(f.io, 1, 1);
    ASSERT(f.last.logical);
    ASSERT_EQ(f.last.mode, APIC_DM_LOWEST);
    ASSERT_EQ(f.last.dest, 1);
    teardown(&f);
}
