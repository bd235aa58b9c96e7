/*
 * MC146818: the date from the power-on time_t advancing with virtual time,
 * BCD/binary and 12/24-hour formats, the SET bit, UIP, periodic / update /
 * alarm interrupts with register C read-to-clear (datasheet), and the NVRAM
 * fields as SeaBIOS reads them (src/fw/paravirt.c qemu_preinit: RAM size
 * from 0x34/0x35 and 0x30/0x31, 0x5B-0x5D; smp.c: 0x5F).
 */
#include "devices/rtc.h"
#include "tests/unit/test.h"

#define SEC 1000000000LL
/* 2023-11-14 22:13:20 UTC, a Tuesday. */
#define T0 1700000000

struct fix {
    struct bus *bus;
    struct clock *clock;
    struct rtc *rtc;
    struct irq_rec irq8;
};

static void setup_info(struct fix *f, const struct rtc_cmos_info *info)
{
    memset(f, 0, sizeof *f);
    f->bus = bus_new();
    f->clock = clock_new(CLOCK_DETERMINISTIC, 1);
    f->rtc = rtc_new(f->bus, f->clock, irq_make(irq_rec_set, &f->irq8, 8), T0, info);
    ASSERT(f->rtc);
}

static void setup(struct fix *f)
{
    setup_info(f, NULL);
}

static void teardown(struct fix *f)
{
    rtc_free(f->rtc);
    clock_free(f->clock);
    bus_free(f->bus);
}

static void go(struct fix *f, int64_t when)
{
    while (clock_next_deadline(f->clock) <= when) {
        clock_warp(f->clock, clock_next_deadline(f->clock));
        clock_run_timers(f->clock);
    }
    clock_warp(f->clock, when);
}

static uint8_t cmos(struct fix *f, uint8_t idx)
{
    bus_out(f->bus, 0x70, idx, 1);
    return (uint8_t)bus_in(f->bus, 0x71, 1);
}

static void cmos_set(struct fix *f, uint8_t idx, uint8_t v)
{
    bus_out(f->bus, 0x70, idx, 1);
    bus_out(f->bus, 0x71, v, 1);
}

TEST(power_on_date_in_bcd)
{
    struct fix f;
    setup(&f);
    ASSERT_EQ(cmos(&f, 0x0a), 0x26); /* SeaBIOS rtc_setup values are the defaults */
    ASSERT_EQ(cmos(&f, 0x0b), 0x02);
    ASSERT_EQ(cmos(&f, 0x0d), 0x80); /* VRT */
    ASSERT_EQ(cmos(&f, 0x00), 0x20);
    ASSERT_EQ(cmos(&f, 0x02), 0x13);
    ASSERT_EQ(cmos(&f, 0x04), 0x22);
    ASSERT_EQ(cmos(&f, 0x06), 3); /* Tuesday, Sunday = 1 */
    ASSERT_EQ(cmos(&f, 0x07), 0x14);
    ASSERT_EQ(cmos(&f, 0x08), 0x11);
    ASSERT_EQ(cmos(&f, 0x09), 0x23);
    ASSERT_EQ(cmos(&f, 0x32), 0x20);
    teardown(&f);
}

TEST(date_advances_over_midnight)
{
    struct fix f;
    setup(&f);
    go(&f, 3600 * SEC + SEC / 2);
    ASSERT_EQ(cmos(&f, 0x04), 0x23);
    ASSERT_EQ(cmos(&f, 0x00), 0x20);
    go(&f, 7200 * SEC + 41 * SEC);
    ASSERT_EQ(cmos(&f, 0x04), 0x00);
    ASSERT_EQ(cmos(&f, 0x02), 0x14);
    ASSERT_EQ(cmos(&f, 0x00), 0x01);
    ASSERT_EQ(cmos(&f, 0x07), 0x15);
    ASSERT_EQ(cmos(&f, 0x06), 4);
    teardown(&f);
}

TEST(binary_and_12_hour_format)
{
    struct fix f;
    setup(&f);
    cmos_set(&f, 0x0b, 0x04); /* DM = binary, 12-hour */
    ASSERT_EQ(cmos(&f, 0x04), 0x80 | 10); /* 22h = 10 PM */
    ASSERT_EQ(cmos(&f, 0x00), 20);
    ASSERT_EQ(cmos(&f, 0x09), 23);
    cmos_set(&f, 0x0b, 0x00); /* BCD, 12-hour */
    ASSERT_EQ(cmos(&f, 0x04), 0x90);
    teardown(&f);
}

TEST(set_bit_and_new_time)
{
    struct fix f;
    setup(&f);
    go(&f, SEC / 4);
    cmos_set(&f, 0x0b, 0x82); /* SET: updates stop */
    cmos_set(&f, 0x00, 0x58);
    cmos_set(&f, 0x02, 0x59);
    cmos_set(&f, 0x04, 0x23);
    cmos_set(&f, 0x07, 0x31);
    cmos_set(&f, 0x08, 0x12);
    cmos_set(&f, 0x09, 0x99);
    cmos_set(&f, 0x32, 0x19);
    go(&f, 5 * SEC);
    ASSERT_EQ(cmos(&f, 0x00), 0x58); /* frozen while SET */
    cmos_set(&f, 0x0b, 0x02);
    go(&f, 7 * SEC + SEC / 2);
    ASSERT_EQ(cmos(&f, 0x00), 0x00);
    ASSERT_EQ(cmos(&f, 0x02), 0x00);
    ASSERT_EQ(cmos(&f, 0x04), 0x00);
    ASSERT_EQ(cmos(&f, 0x07), 0x01);
    ASSERT_EQ(cmos(&f, 0x08), 0x01);
    ASSERT_EQ(cmos(&f, 0x09), 0x00);
    ASSERT_EQ(cmos(&f, 0x32), 0x20);
    ASSERT_EQ(cmos(&f, 0x06), 7); /* 2000-01-01 was a Saturday */
    teardown(&f);
}

TEST(update_in_progress_window)
{
    struct fix f;
    setup(&f);
    go(&f, SEC / 2);
    ASSERT_EQ(cmos(&f, 0x0a) & 0x80, 0);
    go(&f, SEC - 200000); /* within 244 us of the update */
    ASSERT_EQ(cmos(&f, 0x0a) & 0x80, 0x80);
    ASSERT_EQ(cmos(&f, 0x00), 0x20);
    go(&f, SEC + 1000);
    ASSERT_EQ(cmos(&f, 0x0a) & 0x80, 0);
    ASSERT_EQ(cmos(&f, 0x00), 0x21);
    teardown(&f);
}

TEST(periodic_interrupt_1024hz)
{
    struct fix f;
    setup(&f);
    cmos_set(&f, 0x0b, 0x42); /* PIE */
    ASSERT_EQ(f.irq8.level, 0);
    int handled = 0;
    for (int i = 0; i < 4096 && clock_next_deadline(f.clock) <= SEC; i++) {
        go(&f, clock_next_deadline(f.clock));
        if (f.irq8.level) {
            ASSERT_EQ(cmos(&f, 0x0c) & 0xc0, 0xc0); /* IRQF | PF */
            ASSERT_EQ(f.irq8.level, 0);            /* reading C drops IRQ8 */
            handled++;
        }
    }
    ASSERT_EQ(handled, 1024);
    /* Without the C read, no further edge. */
    go(&f, 2 * SEC);
    int r = f.irq8.rises;
    go(&f, 3 * SEC);
    ASSERT_EQ(f.irq8.rises, r);
    ASSERT_EQ(cmos(&f, 0x0c), 0xd0); /* flags set whatever the enables: PF and UF */
    ASSERT_EQ(cmos(&f, 0x0c), 0x00); /* cleared by the read */
    teardown(&f);
}

TEST(periodic_flag_without_enable)
{
    struct fix f;
    setup(&f);
    cmos_set(&f, 0x0a, 0x2f); /* 2 Hz */
    ASSERT_EQ(cmos(&f, 0x0c), 0x00);
    go(&f, SEC / 4);
    ASSERT_EQ(cmos(&f, 0x0c) & 0x40, 0);
    go(&f, SEC / 2 + 1);
    ASSERT_EQ(cmos(&f, 0x0c), 0x40); /* PF without IRQF */
    ASSERT_EQ(f.irq8.rises, 0);
    teardown(&f);
}

TEST(update_ended_and_alarm)
{
    struct fix f;
    setup(&f);
    cmos_set(&f, 0x0a, 0x20); /* no periodic rate: PF stays clear */
    cmos_set(&f, 0x0b, 0x12); /* UIE */
    go(&f, SEC);
    ASSERT_EQ(f.irq8.level, 1);
    ASSERT_EQ(cmos(&f, 0x0c), 0x90);
    cmos_set(&f, 0x0b, 0x22); /* AIE only; alarm at 22:13:25 */
    cmos_set(&f, 0x01, 0x25);
    cmos_set(&f, 0x03, 0x13);
    cmos_set(&f, 0x05, 0x22);
    cmos(&f, 0x0c);
    go(&f, 4 * SEC + SEC / 2);
    ASSERT_EQ(f.irq8.level, 0);
    go(&f, 5 * SEC);
    ASSERT_EQ(f.irq8.level, 1);
    ASSERT_EQ(cmos(&f, 0x0c), 0x80 | 0x20 | 0x10);
    /* Don't-care hours and minutes (0xC0-0xFF): once a minute at second 25. */
    cmos_set(&f, 0x03, 0xff);
    cmos_set(&f, 0x05, 0xff);
    go(&f, 64 * SEC + SEC / 2);
    ASSERT_EQ(f.irq8.level, 0);
    go(&f, 65 * SEC);
    ASSERT_EQ(f.irq8.level, 1);
    teardown(&f);
}

TEST(nvram_fields_as_seabios_reads_them)
{
    struct rtc_cmos_info info = {
        .ram_below_4g = 256u << 20,
        .ram_above_4g = 2ull << 30,
        .cpus = 2,
        .floppy = {RTC_FLOPPY_1M44, RTC_FLOPPY_NONE},
        .disk = {{1024, 16, 63}, {0, 0, 0}},
        .boot = {RTC_BOOT_CDROM, RTC_BOOT_DISK, RTC_BOOT_FLOPPY},
    };
    struct fix f;
    setup_info(&f, &info);
    /* qemu_preinit: RamSize = (0x34 | 0x35 << 8) << 16 + 16 MiB. */
    uint64_t ram = ((uint64_t)(cmos(&f, 0x34) | cmos(&f, 0x35) << 8) << 16) + (16 << 20);
    ASSERT_EQ(ram, 256u << 20);
    uint64_t hi = (uint64_t)(cmos(&f, 0x5b) | cmos(&f, 0x5c) << 8 | cmos(&f, 0x5d) << 16) << 16;
    ASSERT_EQ(hi, 2ull << 30);
    ASSERT_EQ(cmos(&f, 0x5f) + 1, 2);
    ASSERT_EQ(cmos(&f, 0x15) | cmos(&f, 0x16) << 8, 640);
    ASSERT_EQ(cmos(&f, 0x30) | cmos(&f, 0x31) << 8, 0xffff); /* 255 MiB in KiB, capped */
    ASSERT_EQ(cmos(&f, 0x17) | cmos(&f, 0x18) << 8, 0xffff);
    ASSERT_EQ(cmos(&f, 0x10), 0x40);
    ASSERT_EQ(cmos(&f, 0x14), 0x07); /* one diskette, coprocessor, mouse, VGA */
    ASSERT_EQ(cmos(&f, 0x12), 0xf0);
    ASSERT_EQ(cmos(&f, 0x19), 47);
    ASSERT_EQ(cmos(&f, 0x1b) | cmos(&f, 0x1c) << 8, 1024);
    ASSERT_EQ(cmos(&f, 0x1d), 16);
    ASSERT_EQ(cmos(&f, 0x23), 63);
    ASSERT_EQ(cmos(&f, 0x3d), 0x23);
    ASSERT_EQ(cmos(&f, 0x38), 0x10);
    unsigned sum = 0;
    for (int i = 0x10; i <= 0x2d; i++)
        sum += cmos(&f, (uint8_t)i);
    ASSERT_EQ(cmos(&f, 0x2e) << 8 | cmos(&f, 0x2f), sum);
    teardown(&f);
}

TEST(small_ram_uses_extended_fields)
{
    struct rtc_cmos_info info = {.ram_below_4g = 8u << 20, .cpus = 1};
    struct fix f;
    setup_info(&f, &info);
    ASSERT_EQ(cmos(&f, 0x34) | cmos(&f, 0x35) << 8, 0);
    ASSERT_EQ((cmos(&f, 0x30) | cmos(&f, 0x31) << 8) * 1024 + (1 << 20), 8u << 20);
    ASSERT_EQ(cmos(&f, 0x14), 0x06);
    teardown(&f);
}

TEST(nmi_mask_and_nvram_bytes)
{
    struct fix f;
    setup(&f);
    bus_out(f.bus, 0x70, 0x80 | 0x40, 1);
    ASSERT(rtc_nmi_masked(f.rtc));
    bus_out(f.bus, 0x71, 0x5a, 1);
    bus_out(f.bus, 0x70, 0x40, 1);
    ASSERT(!rtc_nmi_masked(f.rtc));
    ASSERT_EQ(bus_in(f.bus, 0x71, 1), 0x5a);
    cmos_set(&f, 0x0d, 0x00); /* read-only */
    ASSERT_EQ(cmos(&f, 0x0d), 0x80);
    cmos_set(&f, 0x0f, 0x05); /* shutdown status survives a machine reset */
    rtc_reset(f.rtc);
    ASSERT_EQ(cmos(&f, 0x0f), 0x05);
    teardown(&f);
}
