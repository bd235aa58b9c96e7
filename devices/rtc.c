/*
 * MC146818 RTC and CMOS NVRAM (see rtc.h). The time of day is not kept in
 * the registers but as a int64_t at a point of virtual time (base, base_ns);
 * the time registers are filled from it in the format register B selects
 * (BCD or binary, 12 or 24 hour) when read, and folded back into it when the
 * guest writes them or clears the SET bit. Update-ended, alarm and periodic
 * flags are computed from the time elapsed since register C was last read;
 * a timer is armed only while an enabled flag can raise IRQ8 and IRQF is
 * clear. UIP reads as 1 during the last 244 us before each update. Not
 * implemented: daylight saving (DSE), the square-wave output, divider
 * stages other than 32.768 kHz.
 */
#include "devices/rtc.h"

#include <stdlib.h>
#include <string.h>

#include "devices/trace.h"

#define NS_PER_S 1000000000LL
#define UIP_NS 244000

#define RTC_SECONDS 0x00
#define RTC_SECONDS_ALARM 0x01
#define RTC_MINUTES 0x02
#define RTC_MINUTES_ALARM 0x03
#define RTC_HOURS 0x04
#define RTC_HOURS_ALARM 0x05
#define RTC_DAY_OF_WEEK 0x06
#define RTC_DAY_OF_MONTH 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_C 0x0c
#define RTC_REG_D 0x0d
#define RTC_CENTURY 0x32

#define REG_A_UIP 0x80
#define REG_A_DV 0x70
#define REG_A_DV_NORMAL 0x20
#define REG_A_RS 0x0f
#define REG_B_SET 0x80
#define REG_B_PIE 0x40
#define REG_B_AIE 0x20
#define REG_B_UIE 0x10
#define REG_B_DM 0x04
#define REG_B_24H 0x02
#define REG_C_IRQF 0x80
#define REG_C_PF 0x40
#define REG_C_AF 0x20
#define REG_C_UF 0x10
#define REG_D_VRT 0x80

struct rtc {
    struct bus *bus;
    struct clock *clock;
    struct irq irq8;
    uint8_t ram[128];
    uint8_t index;
    bool nmi_masked;
    int64_t base;     /* seconds since 1970 at base_ns (when not SET) */
    int64_t base_ns;
    int64_t div_ns;   /* divider chain origin for the periodic interrupt */
    int64_t flags_ns; /* flags accounted up to this time */
    struct timer timer;
};

static int64_t now(struct rtc *s)
{
    return clock_now_ns(s->clock);
}

static bool binary(const struct rtc *s)
{
    return s->ram[RTC_REG_B] & REG_B_DM;
}

static uint8_t to_reg(const struct rtc *s, int v)
{
    return binary(s) ? (uint8_t)v : (uint8_t)((v / 10) << 4 | v % 10);
}

static int from_reg(const struct rtc *s, uint8_t v)
{
    return binary(s) ? v : (v >> 4) * 10 + (v & 15);
}

static uint8_t hour_reg(const struct rtc *s, int h)
{
    if (s->ram[RTC_REG_B] & REG_B_24H)
        return to_reg(s, h);
    int h12 = h % 12 ? h % 12 : 12;
    return (uint8_t)(to_reg(s, h12) | (h >= 12 ? 0x80 : 0));
}

static int hour_from_reg(const struct rtc *s, uint8_t v)
{
    if (s->ram[RTC_REG_B] & REG_B_24H)
        return from_reg(s, v);
    int h = from_reg(s, v & 0x7f) % 12;
    return v & 0x80 ? h + 12 : h;
}

static bool running(const struct rtc *s)
{
    return !(s->ram[RTC_REG_B] & REG_B_SET) && (s->ram[RTC_REG_A] & REG_A_DV) == REG_A_DV_NORMAL;
}

/* Seconds completed since base_ns at t. */
static int64_t seconds_at(const struct rtc *s, int64_t t)
{
    return t >= s->base_ns ? (t - s->base_ns) / NS_PER_S : -1 - (s->base_ns - t - 1) / NS_PER_S;
}

/* Broken-down UTC time (proleptic Gregorian calendar). */
struct date {
    int year, mon, mday, wday, hour, min, sec; /* mon 1..12, wday 0 = Sunday */
};

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Days since 1970-01-01 of a civil date (the era-based algorithm: 400-year cycles of 146097 days). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static struct date date_of(int64_t t)
{
    struct date dt;
    int64_t days = floor_div(t, 86400), secs = t - days * 86400;
    dt.hour = (int)(secs / 3600);
    dt.min = (int)(secs / 60 % 60);
    dt.sec = (int)(secs % 60);
    dt.wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
    int64_t z = days + 719468, era = floor_div(z, 146097), doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    dt.mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    dt.mon = (int)(mp < 10 ? mp + 3 : mp - 9);
    dt.year = (int)(yoe + era * 400 + (dt.mon <= 2));
    return dt;
}

static void fill_time(struct rtc *s, int64_t t)
{
    struct date tm = date_of(t);
    s->ram[RTC_SECONDS] = to_reg(s, tm.sec);
    s->ram[RTC_MINUTES] = to_reg(s, tm.min);
    s->ram[RTC_HOURS] = hour_reg(s, tm.hour);
    s->ram[RTC_DAY_OF_WEEK] = to_reg(s, tm.wday + 1);
    s->ram[RTC_DAY_OF_MONTH] = to_reg(s, tm.mday);
    s->ram[RTC_MONTH] = to_reg(s, tm.mon);
    s->ram[RTC_YEAR] = to_reg(s, tm.year % 100);
    s->ram[RTC_CENTURY] = to_reg(s, tm.year / 100);
}

static int64_t time_from_regs(const struct rtc *s)
{
    int year = from_reg(s, s->ram[RTC_CENTURY]) * 100 + from_reg(s, s->ram[RTC_YEAR]);
    int64_t days = days_from_civil(year, from_reg(s, s->ram[RTC_MONTH]),
                                   from_reg(s, s->ram[RTC_DAY_OF_MONTH]));
    return days * 86400 + hour_from_reg(s, s->ram[RTC_HOURS]) * 3600 +
           from_reg(s, s->ram[RTC_MINUTES]) * 60 + from_reg(s, s->ram[RTC_SECONDS]);
}

static int64_t time_at(const struct rtc *s, int64_t t)
{
    return s->base + (int64_t)seconds_at(s, t);
}

/* Periodic interval in 32.768 kHz cycles (register A RS), 0 = off. */
static int64_t period_cycles(const struct rtc *s)
{
    int rs = s->ram[RTC_REG_A] & REG_A_RS;
    if (!rs)
        return 0;
    return rs <= 2 ? 1 << (rs + 6) : 1 << (rs - 1);
}

static int64_t cycles_at(const struct rtc *s, int64_t t)
{
    int64_t d = t - s->div_ns;
    if (d < 0)
        return -1;
    return d / NS_PER_S * 32768 + d % NS_PER_S * 32768 / NS_PER_S;
}

static int64_t cycle_time(const struct rtc *s, int64_t cycles)
{
    return s->div_ns + cycles / 32768 * NS_PER_S + (cycles % 32768 * NS_PER_S + 32767) / 32768;
}

static bool alarm_matches(struct rtc *s, int64_t t)
{
    struct date tm = date_of(t);
    uint8_t now_regs[3] = {to_reg(s, tm.sec), to_reg(s, tm.min), hour_reg(s, tm.hour)};
    static const uint8_t alarm_regs[3] = {RTC_SECONDS_ALARM, RTC_MINUTES_ALARM, RTC_HOURS_ALARM};
    for (int i = 0; i < 3; i++) {
        uint8_t a = s->ram[alarm_regs[i]];
        if ((a & 0xc0) != 0xc0 && a != now_regs[i])
            return false;
    }
    return true;
}

/* Sets the flags of every event in (flags_ns, t]. */
static void account_flags(struct rtc *s, int64_t t)
{
    int64_t from = s->flags_ns;
    if (t <= from)
        return;
    s->flags_ns = t;
    int64_t p = period_cycles(s);
    if (p && (s->ram[RTC_REG_A] & REG_A_DV) == REG_A_DV_NORMAL &&
        cycles_at(s, t) / p > cycles_at(s, from) / p)
        s->ram[RTC_REG_C] |= REG_C_PF;
    if (!running(s))
        return;
    int64_t a = seconds_at(s, from), b = seconds_at(s, t);
    if (b > a) {
        s->ram[RTC_REG_C] |= REG_C_UF;
        /* Alarm: check each update, at most a day's worth (the alarm repeats daily). */
        for (int64_t k = b; k > a && k > b - 86400; k--) {
            if (alarm_matches(s, s->base + (int64_t)k)) {
                s->ram[RTC_REG_C] |= REG_C_AF;
                break;
            }
        }
    }
}

static void update_irq(struct rtc *s)
{
    uint8_t c = s->ram[RTC_REG_C];
    if (!(c & REG_C_IRQF) && (c & s->ram[RTC_REG_B] & (REG_C_PF | REG_C_AF | REG_C_UF))) {
        s->ram[RTC_REG_C] |= REG_C_IRQF;
        irq_raise(s->irq8);
    }
}

/* The next time an enabled flag sets, while IRQF is clear. */
static void arm(struct rtc *s)
{
    int64_t t = now(s), when = CLOCK_NEVER;
    uint8_t b = s->ram[RTC_REG_B];
    if (s->ram[RTC_REG_C] & REG_C_IRQF) {
        timer_cancel(&s->timer);
        return;
    }
    int64_t p = period_cycles(s);
    if ((b & REG_B_PIE) && p && (s->ram[RTC_REG_A] & REG_A_DV) == REG_A_DV_NORMAL)
        when = cycle_time(s, (cycles_at(s, t) / p + 1) * p);
    if ((b & (REG_B_UIE | REG_B_AIE)) && running(s)) {
        int64_t next = s->base_ns + (seconds_at(s, t) + 1) * NS_PER_S;
        if (next < when)
            when = next;
    }
    if (when == CLOCK_NEVER)
        timer_cancel(&s->timer);
    else
        timer_arm(&s->timer, when);
}

static void timer_cb(void *opaque)
{
    struct rtc *s = opaque;
    account_flags(s, now(s));
    update_irq(s);
    arm(s);
}

static uint8_t read_reg(struct rtc *s, uint8_t idx)
{
    int64_t t = now(s);
    switch (idx) {
    case RTC_SECONDS: case RTC_MINUTES: case RTC_HOURS: case RTC_DAY_OF_WEEK:
    case RTC_DAY_OF_MONTH: case RTC_MONTH: case RTC_YEAR: case RTC_CENTURY:
        if (running(s))
            fill_time(s, time_at(s, t));
        return s->ram[idx];
    case RTC_REG_A: {
        int64_t phase = t - s->base_ns - seconds_at(s, t) * NS_PER_S;
        uint8_t uip = running(s) && phase >= NS_PER_S - UIP_NS ? REG_A_UIP : 0;
        return (uint8_t)((s->ram[RTC_REG_A] & ~REG_A_UIP) | uip);
    }
    case RTC_REG_C: {
        account_flags(s, t);
        update_irq(s);
        uint8_t v = s->ram[RTC_REG_C];
        s->ram[RTC_REG_C] = 0;
        irq_lower(s->irq8);
        arm(s);
        return v;
    }
    default:
        return s->ram[idx];
    }
}

/* Re-bases the clock on the time registers, keeping the phase of the second. */
static void rebase(struct rtc *s, int64_t t, bool keep_phase)
{
    int64_t phase = keep_phase ? t - s->base_ns - seconds_at(s, t) * NS_PER_S : 0;
    s->base = time_from_regs(s);
    s->base_ns = t - phase;
}

static void write_b(struct rtc *s, uint8_t v, int64_t t)
{
    bool was_running = running(s);
    if (v & REG_B_SET)
        v &= (uint8_t)~REG_B_UIE; /* datasheet: setting SET clears UIE */
    s->ram[RTC_REG_B] = v;
    if (was_running)
        fill_time(s, time_at(s, t)); /* new format, or frozen for the guest to overwrite */
    else if (running(s))
        rebase(s, t, false); /* SET cleared: the clock starts from the registers */
}

static void write_reg(struct rtc *s, uint8_t idx, uint8_t v)
{
    int64_t t = now(s);
    account_flags(s, t);
    switch (idx) {
    case RTC_SECONDS: case RTC_MINUTES: case RTC_HOURS: case RTC_DAY_OF_WEEK:
    case RTC_DAY_OF_MONTH: case RTC_MONTH: case RTC_YEAR: case RTC_CENTURY:
        if (running(s))
            fill_time(s, time_at(s, t));
        s->ram[idx] = v;
        if (running(s))
            rebase(s, t, true);
        break;
    case RTC_REG_A:
        if ((v & REG_A_DV) == REG_A_DV_NORMAL && (s->ram[RTC_REG_A] & REG_A_DV) != REG_A_DV_NORMAL) {
            if (!(s->ram[RTC_REG_B] & REG_B_SET))
                rebase(s, t, false);
            s->div_ns = t;
        } else if ((v & REG_A_DV) != REG_A_DV_NORMAL && running(s)) {
            fill_time(s, time_at(s, t));
        }
        s->ram[RTC_REG_A] = (uint8_t)((v & ~REG_A_UIP) | (s->ram[RTC_REG_A] & REG_A_UIP));
        break;
    case RTC_REG_B:
        write_b(s, v, t);
        break;
    case RTC_REG_C:
    case RTC_REG_D:
        break; /* read-only */
    default:
        s->ram[idx] = v;
    }
    update_irq(s);
    arm(s);
}

static uint64_t rtc_read(void *opaque, uint64_t offset, unsigned size)
{
    struct rtc *s = opaque;
    if (offset == 0)
        return 0xff; /* the index register is write-only */
    uint8_t v = read_reg(s, s->index);
    if (trace_on(TRACE_RTC))
        trace_printf(TRACE_RTC, "cmos[0x%02x] -> 0x%02x\n", s->index, v);
    return v;
}

static void rtc_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct rtc *s = opaque;
    if (offset == 0) {
        s->index = value & 0x7f;
        s->nmi_masked = value & 0x80;
        return;
    }
    if (trace_on(TRACE_RTC))
        trace_printf(TRACE_RTC, "cmos[0x%02x] <- 0x%02x\n", s->index, (unsigned)(value & 0xff));
    write_reg(s, s->index, (uint8_t)value);
}

static const struct bus_ops rtc_ops = {rtc_read, rtc_write, 1, 1};

bool rtc_nmi_masked(const struct rtc *rtc)
{
    return rtc->nmi_masked;
}

uint8_t rtc_cmos_read(struct rtc *rtc, unsigned index)
{
    return read_reg(rtc, index & 0x7f);
}

void rtc_cmos_write(struct rtc *rtc, unsigned index, uint8_t value)
{
    write_reg(rtc, index & 0x7f, value);
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static unsigned cap16(uint64_t v)
{
    return v > 0xffff ? 0xffff : (unsigned)v;
}

/* The old "user-defined type 47" fixed-disk parameter table. */
static void fill_disk(uint8_t *ram, int i, uint16_t cyls, uint8_t heads, uint8_t spt)
{
    uint8_t *p = ram + (i ? 0x24 : 0x1b);
    ram[0x12] |= (uint8_t)(0xf0 >> (4 * i));
    ram[0x19 + i] = 47;
    put16(p, cyls);
    p[2] = heads;
    put16(p + 3, 0xffff); /* write precompensation: none */
    p[5] = (uint8_t)(0xc0 | (heads > 8 ? 0x08 : 0));
    put16(p + 6, cyls); /* landing zone */
    p[8] = spt;
}

static void fill_nvram(uint8_t *ram, const struct rtc_cmos_info *in)
{
    uint64_t ram_size = in->ram_below_4g;
    put16(ram + 0x15, 640);
    unsigned ext = ram_size > (1 << 20) ? cap16((ram_size - (1 << 20)) / 1024) : 0;
    put16(ram + 0x17, ext);
    put16(ram + 0x30, ext);
    put16(ram + 0x34, ram_size > (16 << 20) ? cap16((ram_size - (16 << 20)) >> 16) : 0);
    uint64_t hi = in->ram_above_4g >> 16;
    ram[0x5b] = (uint8_t)hi;
    ram[0x5c] = (uint8_t)(hi >> 8);
    ram[0x5d] = (uint8_t)(hi >> 16);
    ram[0x5f] = (uint8_t)(in->cpus ? in->cpus - 1 : 0);
    ram[0x10] = (uint8_t)((in->floppy[0] & 15) << 4 | (in->floppy[1] & 15));
    int floppies = (in->floppy[0] != 0) + (in->floppy[1] != 0);
    /* Equipment: diskettes present and count, math coprocessor, PS/2 mouse; VGA (00). */
    ram[0x14] = (uint8_t)((floppies ? 0x01 | (floppies - 1) << 6 : 0) | 0x02 | 0x04);
    for (int i = 0; i < 2; i++)
        if (in->disk[i].cylinders)
            fill_disk(ram, i, in->disk[i].cylinders, in->disk[i].heads, in->disk[i].sectors);
    ram[0x3d] = (uint8_t)((in->boot[0] & 15) | (in->boot[1] & 15) << 4);
    ram[0x38] = (uint8_t)((in->boot[2] & 15) << 4 | (in->no_floppy_sig_check ? 1 : 0));
    unsigned sum = 0;
    for (int i = 0x10; i <= 0x2d; i++)
        sum += ram[i];
    ram[0x2e] = (uint8_t)(sum >> 8);
    ram[0x2f] = (uint8_t)sum;
}

void rtc_reset(struct rtc *rtc)
{
    /* Datasheet: RESET clears PIE, AIE, UIE, SQWE and the IRQF, PF, AF, UF flags. */
    rtc->ram[RTC_REG_B] &= (uint8_t)~(REG_B_PIE | REG_B_AIE | REG_B_UIE | 0x08);
    rtc->ram[RTC_REG_C] = 0;
    rtc->flags_ns = now(rtc);
    irq_lower(rtc->irq8);
    timer_cancel(&rtc->timer);
}

struct rtc *rtc_new(struct bus *bus, struct clock *clock, struct irq irq8, int64_t power_on,
                    const struct rtc_cmos_info *info)
{
    struct rtc *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->bus = bus;
    s->clock = clock;
    s->irq8 = irq8;
    timer_init(&s->timer, clock, timer_cb, s);
    s->ram[RTC_REG_A] = REG_A_DV_NORMAL | 0x06; /* 32.768 kHz, 1024 Hz periodic rate */
    s->ram[RTC_REG_B] = REG_B_24H;
    s->ram[RTC_REG_D] = REG_D_VRT;
    s->base = power_on;
    s->base_ns = s->div_ns = s->flags_ns = now(s);
    fill_time(s, power_on);
    if (info)
        fill_nvram(s->ram, info);
    if (bus_map_pio(bus, 0x70, 2, &rtc_ops, s, "rtc") < 0) {
        free(s);
        return NULL;
    }
    return s;
}

void rtc_free(struct rtc *rtc)
{
    if (!rtc)
        return;
    timer_cancel(&rtc->timer);
    bus_unmap_pio(rtc->bus, 0x70);
    free(rtc);
}
