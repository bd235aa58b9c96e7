/*
 * 8254 PIT: count sequences of modes 0-5 against the 8254 datasheet's
 * waveforms (a count is loaded on the CLK after it is written, without
 * decrementing), latch and read-back commands, BCD, byte access state
 * machines, IRQ0 edges from counter 0, and port 0x61 (counter 2 gate and
 * output, refresh toggle) as SeaBIOS's calibrate_tsc uses it.
 */
#include "devices/pit.h"
#include "tests/unit/test.h"

struct fix {
    struct bus *bus;
    struct clock *clock;
    struct pit *pit;
    struct irq_rec irq0;
};

static void setup(struct fix *f)
{
    memset(f, 0, sizeof *f);
    f->bus = bus_new();
    f->clock = clock_new(CLOCK_DETERMINISTIC, 1);
    f->pit = pit_new(f->bus, f->clock, irq_make(irq_rec_set, &f->irq0, 0));
    ASSERT(f->pit);
}

static void teardown(struct fix *f)
{
    pit_free(f->pit);
    clock_free(f->clock);
    bus_free(f->bus);
}

/* The first nanosecond of 1.193182 MHz tick k. */
static int64_t tick_time(int64_t k)
{
    return (k * 1000000000LL + 1193181) / 1193182;
}

/* Moves to tick k, firing timers on the way like the machine loop. */
static void go(struct fix *f, int64_t k)
{
    int64_t when = tick_time(k);
    while (clock_next_deadline(f->clock) <= when) {
        clock_warp(f->clock, clock_next_deadline(f->clock));
        clock_run_timers(f->clock);
    }
    clock_warp(f->clock, when);
}

static void out8(struct fix *f, uint16_t port, uint8_t v)
{
    bus_out(f->bus, port, v, 1);
}

static uint8_t in8(struct fix *f, uint16_t port)
{
    return (uint8_t)bus_in(f->bus, port, 1);
}

/* Counter latch command, then LSB and MSB. */
static unsigned latched(struct fix *f, int n)
{
    out8(f, 0x43, (uint8_t)(n << 6));
    unsigned lo = in8(f, 0x40 + n);
    return lo | in8(f, 0x40 + n) << 8;
}

TEST(mode0_interrupt_on_terminal_count)
{
    struct fix f;
    setup(&f);
    out8(&f, 0x43, 0x30); /* counter 0, LSB then MSB, mode 0, binary */
    ASSERT_EQ(pit_out(f.pit, 0), 0); /* OUT low after the control word */
    out8(&f, 0x40, 5);
    out8(&f, 0x40, 0);
    /* Datasheet: N loaded on the next CLK, OUT high N+1 CLKs after the write. */
    static const unsigned ce[] = {5, 4, 3, 2, 1, 0, 0xffff, 0xfffe};
    for (int k = 1; k <= 8; k++) {
        go(&f, k);
        ASSERT_EQ(latched(&f, 0), ce[k - 1]);
        ASSERT_EQ(pit_out(f.pit, 0), k >= 6);
        ASSERT_EQ(f.irq0.level, k >= 6);
    }
    ASSERT_EQ(f.irq0.rises, 1);
    go(&f, 70000); /* OUT stays high: no second interrupt in mode 0 */
    ASSERT_EQ(f.irq0.rises, 1);
    teardown(&f);
}

TEST(mode2_rate_generator)
{
    struct fix f;
    setup(&f);
    out8(&f, 0x43, 0x34); /* counter 0, word, mode 2 (Linux periodic PIT, SeaBIOS timer) */
    out8(&f, 0x40, 4);
    out8(&f, 0x40, 0);
    static const unsigned ce[] = {4, 3, 2, 1, 4, 3, 2, 1, 4};
    for (int k = 1; k <= 9; k++) {
        go(&f, k);
        ASSERT_EQ(latched(&f, 0), ce[k - 1]);
        ASSERT_EQ(pit_out(f.pit, 0), ce[k - 1] != 1); /* low for one CLK at count 1 */
    }
    ASSERT_EQ(f.irq0.rises, 3); /* initial high after the write + edges at k=5 and 9 */
    teardown(&f);
}

TEST(mode2_count_zero_is_18_2_hz)
{
    struct fix f;
    setup(&f);
    out8(&f, 0x43, 0x34);
    out8(&f, 0x40, 0);
    out8(&f, 0x40, 0);
    int before = f.irq0.rises;
    go(&f, 1193182); /* one second */
    ASSERT_EQ(f.irq0.rises - before, 1193182 / 65536);
    teardown(&f);
}

TEST(mode3_square_wave_even_and_odd)
{
    struct fix f;
    setup(&f);
    out8(&f, 0x43, 0x36); /* counter 0, word, mode 3 */
    out8(&f, 0x40, 6);
    out8(&f, 0x40, 0);
    /* Even N: CE counts by two, OUT high N/2 CLKs then low N/2. */
    static const unsigned ce[] = {6, 4, 2, 6, 4, 2, 6};
    static const int out[] = {1, 1, 1, 0, 0, 0, 1};
    for (int k = 1; k <= 7; k++) {
        go(&f, k);
        ASSERT_EQ(latched(&f, 0), ce[k - 1]);
        ASSERT_EQ(pit_out(f.pit, 0), out[k - 1]);
    }
    /* Odd N = 5: high (N+1)/2 = 3 CLKs, low (N-1)/2 = 2. */
    out8(&f, 0x43, 0x36);
    out8(&f, 0x40, 5);
    out8(&f, 0x40, 0);
    static const int out5[] = {1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1};
    for (int k = 0; k < 11; k++) {
        go(&f, 8 + k);
        ASSERT_EQ(pit_out(f.pit, 0), out5[k]);
    }
    teardown(&f);
}

TEST(mode4_software_strobe)
{
    struct fix f;
    setup(&f);
    out8(&f, 0x43, 0x18); /* counter 0, LSB only, mode 4 */
    out8(&f, 0x40, 3);
    ASSERT_EQ(pit_out(f.pit, 0), 1);
    static const int out[] = {1, 1, 1, 0, 1, 1};
    for (int k = 1; k <= 6; k++) {
        go(&f, k);
        ASSERT_EQ(pit_out(f.pit, 0), out[k - 1]); /* low for one CLK when CE reaches 0 */
    }
    teardown(&f);
}

TEST(mode1_and_mode5_gate_triggered_on_counter2)
{
    struct fix f;
    setup(&f);
    out8(&f, 0x43, 0xb2); /* counter 2, word, mode 1 */
    out8(&f, 0x42, 3);
    out8(&f, 0x42, 0);
    go(&f, 10);
    ASSERT_EQ(pit_out(f.pit, 2), 1); /* no trigger yet */
    out8(&f, 0x61, 0x01);            /* GATE rising edge */
    go(&f, 11);
    ASSERT_EQ(pit_out(f.pit, 2), 0);
    go(&f, 13);
    ASSERT_EQ(pit_out(f.pit, 2), 0);
    go(&f, 14);
    ASSERT_EQ(pit_out(f.pit, 2), 1);
    ASSERT_EQ(in8(&f, 0x61) & 0x20, 0x20);
    out8(&f, 0x61, 0x00);
    out8(&f, 0x43, 0xba); /* mode 5 */
    out8(&f, 0x42, 2);
    out8(&f, 0x42, 0);
    go(&f, 20);
    out8(&f, 0x61, 0x01);
    go(&f, 22);
    ASSERT_EQ(pit_out(f.pit, 2), 1);
    go(&f, 23);
    ASSERT_EQ(pit_out(f.pit, 2), 0);
    go(&f, 24);
    ASSERT_EQ(pit_out(f.pit, 2), 1);
    teardown(&f);
}

TEST(seabios_calibrate_counter2_on_port61)
{
    struct fix f;
    setup(&f);
    /* SeaBIOS calibrate_tsc: gate 2 on, speaker off, counter 2 mode 0, count 1193182/20. */
    out8(&f, 0x61, (uint8_t)((in8(&f, 0x61) & ~0x02) | 0x01));
    out8(&f, 0x43, 0xb0);
    unsigned n = 1193182 / 20;
    out8(&f, 0x42, (uint8_t)n);
    out8(&f, 0x42, (uint8_t)(n >> 8));
    ASSERT_EQ(in8(&f, 0x61) & 0x21, 0x01);
    go(&f, n);
    ASSERT_EQ(in8(&f, 0x61) & 0x20, 0);
    go(&f, n + 1);
    ASSERT_EQ(in8(&f, 0x61) & 0x20, 0x20);
    ASSERT_EQ(f.irq0.rises, 0); /* counter 2 has no interrupt */
    teardown(&f);
}

TEST(gate_low_suspends_mode0)
{
    struct fix f;
    setup(&f);
    out8(&f, 0x61, 0x01);
    out8(&f, 0x43, 0xb0);
    out8(&f, 0x42, 100);
    out8(&f, 0x42, 0);
    go(&f, 11);
    ASSERT_EQ(latched(&f, 2), 90);
    out8(&f, 0x61, 0x00);
    go(&f, 500);
    ASSERT_EQ(latched(&f, 2), 90);
    out8(&f, 0x61, 0x01);
    go(&f, 510);
    ASSERT_EQ(latched(&f, 2), 80);
    teardown(&f);
}

TEST(refresh_toggle)
{
    struct fix f;
    setup(&f);
    int changes = 0;
    uint8_t last = in8(&f, 0x61) & 0x10;
    for (int i = 1; i <= 100; i++) {
        clock_warp(f.clock, i * 15085LL);
        uint8_t v = in8(&f, 0x61) & 0x10;
        changes += v != last;
        last = v;
    }
    ASSERT_EQ(changes, 100); /* toggles every 15.085 us */
    teardown(&f);
}

TEST(readback_status_and_count)
{
    struct fix f;
    setup(&f);
    out8(&f, 0x43, 0x34);
    /* Read-back, status only, counter 0: null count set before the count is written. */
    out8(&f, 0x43, 0xe2);
    ASSERT_EQ(in8(&f, 0x40), 0x80 | 0x40 | 0x30 | 0x04);
    out8(&f, 0x40, 0x00);
    out8(&f, 0x40, 0x10);
    /* Null count stays set until the next CLK moves CR into CE. */
    out8(&f, 0x43, 0xe2);
    ASSERT_EQ(in8(&f, 0x40) & 0x40, 0x40);
    go(&f, 1);
    out8(&f, 0x43, 0xe2);
    ASSERT_EQ(in8(&f, 0x40) & 0x40, 0);
    go(&f, 3);
    /* Status and count latched together: status first, then LSB, MSB. */
    out8(&f, 0x43, 0xc2);
    go(&f, 50);
    ASSERT_EQ(in8(&f, 0x40), 0x80 | 0x30 | 0x04);
    ASSERT_EQ(in8(&f, 0x40), 0xfe);
    ASSERT_EQ(in8(&f, 0x40), 0x0f);
    /* A second latch before the first is read is ignored. */
    out8(&f, 0x43, 0x00);
    go(&f, 60);
    out8(&f, 0x43, 0x00);
    ASSERT_EQ(latched(&f, 0), 0x1000 - (50 - 1)); /* the value at tick 50 */
    teardown(&f);
}

TEST(bcd_counting)
{
    struct fix f;
    setup(&f);
    out8(&f, 0x43, 0x31); /* mode 0, BCD */
    out8(&f, 0x40, 0x00);
    out8(&f, 0x40, 0x01); /* 0100 = 100 decimal */
    go(&f, 11);
    ASSERT_EQ(latched(&f, 0), 0x0090);
    go(&f, 102);
    ASSERT_EQ(latched(&f, 0), 0x9999); /* wraps through 0 to 9999 */
    teardown(&f);
}

TEST(byte_access_modes)
{
    struct fix f;
    setup(&f);
    out8(&f, 0x43, 0x10); /* LSB only */
    out8(&f, 0x40, 0x40);
    go(&f, 1);
    ASSERT_EQ(in8(&f, 0x40), 0x40);
    ASSERT_EQ(in8(&f, 0x40), 0x40);
    out8(&f, 0x43, 0x20); /* MSB only: count 0x0200 */
    out8(&f, 0x40, 0x02);
    go(&f, 2);
    ASSERT_EQ(in8(&f, 0x40), 0x02);
    go(&f, 2 + 0x100);
    ASSERT_EQ(in8(&f, 0x40), 0x01); /* CE 0x0100 */
    go(&f, 3 + 0x100);
    ASSERT_EQ(in8(&f, 0x40), 0x00); /* CE 0x00ff */
    /* Word: reads alternate LSB, MSB. */
    out8(&f, 0x43, 0x30);
    out8(&f, 0x40, 0x34);
    out8(&f, 0x40, 0x12);
    go(&f, 0x200);
    unsigned v = in8(&f, 0x40);
    v |= in8(&f, 0x40) << 8;
    ASSERT_EQ(v, 0x1234 - (0x200 - (4 + 0x100))); /* loaded at tick 0x104 */
    teardown(&f);
}

TEST(mode2_new_count_waits_for_period_end)
{
    struct fix f;
    setup(&f);
    out8(&f, 0x43, 0x34);
    out8(&f, 0x40, 10);
    out8(&f, 0x40, 0);
    go(&f, 4);
    /* Datasheet mode 2: a new count written during counting takes effect at the next period. */
    out8(&f, 0x40, 3);
    out8(&f, 0x40, 0);
    go(&f, 5);
    ASSERT_EQ(latched(&f, 0), 10 - 4);
    go(&f, 10);
    ASSERT_EQ(latched(&f, 0), 1);
    int r = f.irq0.rises;
    go(&f, 11);
    ASSERT_EQ(latched(&f, 0), 3); /* reloaded with the new count */
    ASSERT_EQ(f.irq0.rises, r + 1);
    go(&f, 14);
    ASSERT_EQ(latched(&f, 0), 3);
    ASSERT_EQ(f.irq0.rises, r + 2);
    teardown(&f);
}

TEST(mode1_new_count_waits_for_next_trigger)
{
    struct fix f;
    setup(&f);
    out8(&f, 0x43, 0xb2); /* counter 2, mode 1 */
    out8(&f, 0x42, 4);
    out8(&f, 0x42, 0);
    out8(&f, 0x61, 0x01); /* trigger at tick 0: OUT low from tick 1 to 4 */
    go(&f, 2);
    out8(&f, 0x42, 8); /* new count during the one-shot: no effect on it */
    out8(&f, 0x42, 0);
    go(&f, 4);
    ASSERT_EQ(pit_out(f.pit, 2), 0);
    go(&f, 5);
    ASSERT_EQ(pit_out(f.pit, 2), 1);
    out8(&f, 0x61, 0x00);
    out8(&f, 0x61, 0x01); /* retrigger at tick 5 with the new count 8 */
    go(&f, 13);
    ASSERT_EQ(pit_out(f.pit, 2), 0);
    go(&f, 14);
    ASSERT_EQ(pit_out(f.pit, 2), 1);
    teardown(&f);
}

TEST(seabios_timer_read_via_readback)
{
    struct fix f;
    setup(&f);
    /* src/hw/timer.c: pit_setup (mode 2, count 0), then timer_read's read-back of counter 0. */
    out8(&f, 0x43, 0x34);
    out8(&f, 0x40, 0);
    out8(&f, 0x40, 0);
    go(&f, 1001);
    out8(&f, 0x43, 0xc0 | 0x10 | 0x02); /* read-back, value only, counter 0 */
    unsigned v = in8(&f, 0x40);
    v |= in8(&f, 0x40) << 8;
    ASSERT_EQ(v, (65536 - 1000) & 0xffff);
    /* A status-only read-back (PM_READ_STATUS) returns the status byte. */
    out8(&f, 0x43, 0xc0 | 0x20 | 0x02);
    ASSERT_EQ(in8(&f, 0x40), 0x80 | 0x34);
    teardown(&f);
}
