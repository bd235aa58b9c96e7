/*
 * 8259A pair: the initialisation Linux's init_8259A and SeaBIOS's pic_setup
 * perform, then vectors, priorities, EOI forms, rotation, special mask, poll,
 * spurious IR7 and the ELCR, against the 8259A datasheet.
 */
#include "devices/pic.h"
#include "tests/unit/test.h"

struct rec {
    int level, edges;
};

static void rec_set(void *opaque, int n, int level)
{
    struct rec *r = opaque;
    if (level && !r->level)
        r->edges++;
    r->level = level;
}

struct fix {
    struct bus *bus;
    struct pic *pic;
    struct rec intr;
};

static void setup(struct fix *f)
{
    memset(f, 0, sizeof *f);
    f->bus = bus_new();
    f->pic = pic_new(f->bus, irq_make(rec_set, &f->intr, 0));
    ASSERT(f->pic);
}

static void teardown(struct fix *f)
{
    pic_free(f->pic);
    bus_free(f->bus);
}

static void out8(struct fix *f, uint16_t port, uint8_t v)
{
    bus_out(f->bus, port, v, 1);
}

static uint8_t in8(struct fix *f, uint16_t port)
{
    return (uint8_t)bus_in(f->bus, port, 1);
}

/* Linux arch/x86/kernel/i8259.c init_8259A(auto_eoi): vectors 0x30 / 0x38. */
static void linux_init(struct fix *f, int aeoi)
{
    out8(f, 0x21, 0xff);
    out8(f, 0xa1, 0xff);
    out8(f, 0x20, 0x11);              /* ICW1: edge, cascade, ICW4 needed */
    out8(f, 0x21, 0x30);              /* ICW2: vector base */
    out8(f, 0x21, 0x04);              /* ICW3: slave on IR2 */
    out8(f, 0x21, aeoi ? 0x03 : 0x01); /* ICW4: 8086 mode (+AEOI) */
    out8(f, 0xa0, 0x11);
    out8(f, 0xa1, 0x38);
    out8(f, 0xa1, 0x02); /* ICW3: slave id 2 */
    out8(f, 0xa1, 0x01);
    out8(f, 0x21, 0x00);
    out8(f, 0xa1, 0x00);
}

TEST(linux_init_vectors_and_specific_eoi)
{
    struct fix f;
    setup(&f);
    linux_init(&f, 0);
    ASSERT_EQ(f.intr.level, 0);
    pic_set_irq(f.pic, 0, 1);
    ASSERT_EQ(f.intr.level, 1);
    ASSERT_EQ(pic_intr_ack(f.pic), 0x30);
    ASSERT_EQ(f.intr.level, 0);
    /* OCW3 0x0B selects ISR for reading (Linux i8259A_irq_real). */
    out8(&f, 0x20, 0x0b);
    ASSERT_EQ(in8(&f, 0x20), 0x01);
    out8(&f, 0x20, 0x0a);
    ASSERT_EQ(in8(&f, 0x20), 0x00); /* edge IRR cleared by INTA */
    out8(&f, 0x20, 0x60);           /* specific EOI IR0 (Linux mask_and_ack) */
    out8(&f, 0x20, 0x0b);
    ASSERT_EQ(in8(&f, 0x20), 0x00);
    /* Edge input: no new request until the line falls and rises again. */
    ASSERT_EQ(f.intr.level, 0);
    pic_set_irq(f.pic, 0, 0);
    pic_set_irq(f.pic, 0, 1);
    ASSERT_EQ(f.intr.level, 1);
    teardown(&f);
}

TEST(slave_irq_through_cascade)
{
    struct fix f;
    setup(&f);
    linux_init(&f, 0);
    pic_set_irq(f.pic, 14, 1);
    ASSERT_EQ(f.intr.level, 1);
    ASSERT_EQ(pic_intr_ack(f.pic), 0x38 + 6);
    out8(&f, 0x20, 0x0b);
    out8(&f, 0xa0, 0x0b);
    ASSERT_EQ(in8(&f, 0x20), 0x04); /* master IR2 in service */
    ASSERT_EQ(in8(&f, 0xa0), 0x40); /* slave IR6 in service */
    out8(&f, 0xa0, 0x66);           /* specific EOI slave IR6 */
    out8(&f, 0x20, 0x62);           /* specific EOI master IR2 */
    ASSERT_EQ(in8(&f, 0x20), 0x00);
    ASSERT_EQ(in8(&f, 0xa0), 0x00);
    teardown(&f);
}

TEST(imr_readback_and_masking)
{
    struct fix f;
    setup(&f);
    linux_init(&f, 0);
    /* Linux probe_8259A writes a mask and reads it back. */
    out8(&f, 0x21, 0xfb);
    ASSERT_EQ(in8(&f, 0x21), 0xfb);
    pic_set_irq(f.pic, 1, 1);
    ASSERT_EQ(f.intr.level, 0);
    out8(&f, 0x21, 0xf9);
    ASSERT_EQ(f.intr.level, 1);
    ASSERT_EQ(pic_intr_ack(f.pic), 0x31);
    /* Masking the slave's IR2 on the master hides slave requests. */
    out8(&f, 0x21, 0xfd);
    out8(&f, 0x20, 0x20);
    pic_set_irq(f.pic, 8, 1);
    ASSERT_EQ(f.intr.level, 0);
    out8(&f, 0x21, 0xf9);
    ASSERT_EQ(f.intr.level, 1);
    ASSERT_EQ(pic_intr_ack(f.pic), 0x38);
    teardown(&f);
}

TEST(fixed_priority_and_nonspecific_eoi)
{
    struct fix f;
    setup(&f);
    linux_init(&f, 0);
    pic_set_irq(f.pic, 4, 1);
    pic_set_irq(f.pic, 1, 1);
    ASSERT_EQ(pic_intr_ack(f.pic), 0x31); /* IR1 beats IR4 */
    ASSERT_EQ(f.intr.level, 0);           /* IR4 waits: lower than IR1 in service */
    pic_set_irq(f.pic, 0, 1);
    ASSERT_EQ(f.intr.level, 1); /* IR0 nests above IR1 */
    ASSERT_EQ(pic_intr_ack(f.pic), 0x30);
    out8(&f, 0x20, 0x20); /* non-specific EOI clears the highest ISR: IR0 */
    out8(&f, 0x20, 0x0b);
    ASSERT_EQ(in8(&f, 0x20), 0x02);
    out8(&f, 0x20, 0x20);
    ASSERT_EQ(f.intr.level, 1);
    ASSERT_EQ(pic_intr_ack(f.pic), 0x34);
    teardown(&f);
}

TEST(rotation_and_set_priority)
{
    struct fix f;
    setup(&f);
    linux_init(&f, 0);
    pic_set_irq(f.pic, 3, 1);
    ASSERT_EQ(pic_intr_ack(f.pic), 0x33);
    out8(&f, 0x20, 0xa0); /* rotate on non-specific EOI: IR3 becomes lowest */
    pic_set_irq(f.pic, 3, 0);
    pic_set_irq(f.pic, 3, 1);
    pic_set_irq(f.pic, 5, 1);
    ASSERT_EQ(pic_intr_ack(f.pic), 0x35); /* IR4 highest now, so IR5 beats IR3 */
    out8(&f, 0x20, 0x20);
    ASSERT_EQ(pic_intr_ack(f.pic), 0x33);
    out8(&f, 0x20, 0x20);
    /* Set priority command: IR6 lowest, IR7 highest. */
    out8(&f, 0x20, 0xc6);
    pic_set_irq(f.pic, 0, 1);
    pic_set_irq(f.pic, 7, 1);
    ASSERT_EQ(pic_intr_ack(f.pic), 0x37);
    teardown(&f);
}

TEST(auto_eoi)
{
    struct fix f;
    setup(&f);
    linux_init(&f, 1);
    pic_set_irq(f.pic, 1, 1);
    ASSERT_EQ(pic_intr_ack(f.pic), 0x31);
    out8(&f, 0x20, 0x0b);
    ASSERT_EQ(in8(&f, 0x20), 0x00); /* AEOI: ISR not left set */
    pic_set_irq(f.pic, 3, 1);
    ASSERT_EQ(f.intr.level, 1);
    teardown(&f);
}

TEST(spurious_ir7)
{
    struct fix f;
    setup(&f);
    linux_init(&f, 0);
    /* Request withdrawn before INTA: the master answers with its IR7 vector, ISR clear. */
    ASSERT_EQ(pic_intr_ack(f.pic), 0x37);
    out8(&f, 0x20, 0x0b);
    ASSERT_EQ(in8(&f, 0x20), 0x00);
    /* A level-triggered request that goes away takes INT down and IRR with it. */
    pic_set_elcr(f.pic, 1u << 10);
    pic_set_irq(f.pic, 10, 1);
    ASSERT_EQ(f.intr.level, 1);
    pic_set_irq(f.pic, 10, 0);
    ASSERT_EQ(f.intr.level, 0);
    ASSERT_EQ(pic_intr_ack(f.pic), 0x37);
    pic_set_irq(f.pic, 10, 1);
    ASSERT_EQ(pic_intr_ack(f.pic), 0x3a);
    teardown(&f);
}

TEST(level_triggered_elcr)
{
    struct fix f;
    setup(&f);
    linux_init(&f, 0);
    /* ELCR at 0x4D0/0x4D1; IRQ0-2, 8, 13 stay edge (PIIX3). */
    out8(&f, 0x4d0, 0xff);
    out8(&f, 0x4d1, 0xff);
    ASSERT_EQ(in8(&f, 0x4d0), 0xf8);
    ASSERT_EQ(in8(&f, 0x4d1), 0xde);
    ASSERT_EQ(pic_get_elcr(f.pic), 0xdef8);
    pic_set_irq(f.pic, 11, 1);
    ASSERT_EQ(pic_intr_ack(f.pic), 0x3b);
    out8(&f, 0xa0, 0x20);
    out8(&f, 0x20, 0x20);
    /* Line still high: a level input requests again after EOI. */
    ASSERT_EQ(f.intr.level, 1);
    ASSERT_EQ(pic_intr_ack(f.pic), 0x3b);
    out8(&f, 0xa0, 0x20);
    out8(&f, 0x20, 0x20);
    pic_set_irq(f.pic, 11, 0);
    ASSERT_EQ(f.intr.level, 0);
    out8(&f, 0xa0, 0x0a);
    ASSERT_EQ(in8(&f, 0xa0), 0x00);
    teardown(&f);
}

TEST(poll_mode)
{
    struct fix f;
    setup(&f);
    linux_init(&f, 0);
    out8(&f, 0x20, 0x0c); /* OCW3 poll */
    ASSERT_EQ(in8(&f, 0x20), 0x00);
    pic_set_irq(f.pic, 5, 1);
    out8(&f, 0x20, 0x0c);
    ASSERT_EQ(in8(&f, 0x20), 0x85); /* I=1, level 5; acknowledged */
    out8(&f, 0x20, 0x0b);
    ASSERT_EQ(in8(&f, 0x20), 0x20);
    ASSERT_EQ(f.intr.level, 0);
    teardown(&f);
}

TEST(special_mask_mode)
{
    struct fix f;
    setup(&f);
    linux_init(&f, 0);
    pic_set_irq(f.pic, 2 + 1, 1);
    ASSERT_EQ(pic_intr_ack(f.pic), 0x33);
    pic_set_irq(f.pic, 6, 1);
    ASSERT_EQ(f.intr.level, 0); /* lower priority than IR3 in service */
    out8(&f, 0x21, 0x08);       /* mask IR3 */
    out8(&f, 0x20, 0x68);       /* OCW3: set special mask */
    ASSERT_EQ(f.intr.level, 1); /* now IR6 may interrupt the IR3 routine */
    ASSERT_EQ(pic_intr_ack(f.pic), 0x36);
    out8(&f, 0x20, 0x48); /* reset special mask */
    teardown(&f);
}

TEST(seabios_setup_and_reinit_clears_imr)
{
    struct fix f;
    setup(&f);
    /* SeaBIOS src/hw/pic.c: vectors 0x08 and 0x70, then masks. */
    out8(&f, 0x20, 0x11);
    out8(&f, 0x21, 0x08);
    out8(&f, 0x21, 0x04);
    out8(&f, 0x21, 0x01);
    out8(&f, 0xa0, 0x11);
    out8(&f, 0xa1, 0x70);
    out8(&f, 0xa1, 0x02);
    out8(&f, 0xa1, 0x01);
    out8(&f, 0x21, 0xfb);
    out8(&f, 0xa1, 0xff);
    pic_set_irq(f.pic, 8, 1);
    ASSERT_EQ(f.intr.level, 0);
    out8(&f, 0xa1, 0xfe);
    ASSERT_EQ(pic_intr_ack(f.pic), 0x70);
    /* ICW1 clears the IMR (datasheet, initialization sequence b). */
    out8(&f, 0x20, 0x11);
    ASSERT_EQ(in8(&f, 0x21), 0x00);
    teardown(&f);
}

TEST(special_fully_nested_mode)
{
    struct fix f;
    setup(&f);
    out8(&f, 0x20, 0x11);
    out8(&f, 0x21, 0x30);
    out8(&f, 0x21, 0x04);
    out8(&f, 0x21, 0x11); /* ICW4: 8086, SFNM */
    out8(&f, 0xa0, 0x11);
    out8(&f, 0xa1, 0x38);
    out8(&f, 0xa1, 0x02);
    out8(&f, 0xa1, 0x01);
    out8(&f, 0x21, 0x00);
    out8(&f, 0xa1, 0x00);
    pic_set_irq(f.pic, 12, 1);
    ASSERT_EQ(pic_intr_ack(f.pic), 0x3c);
    /* A higher slave request nests although master IR2 is in service. */
    pic_set_irq(f.pic, 9, 1);
    ASSERT_EQ(f.intr.level, 1);
    ASSERT_EQ(pic_intr_ack(f.pic), 0x39);
    /* A lower master request does not. */
    pic_set_irq(f.pic, 5, 1);
    ASSERT_EQ(f.intr.level, 0);
    teardown(&f);
}
