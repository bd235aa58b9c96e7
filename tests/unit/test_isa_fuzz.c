/*
 * Guest-controlled garbage must not crash or wedge the ISA chips: random
 * port and MMIO traffic (and random fw_cfg DMA descriptors) with time
 * moving, then each chip is reset and must again behave per datasheet
 * (the PIC's Linux init gives vector 0x30+n, the PIT's mode 2 ticks, the
 * UART passes the scratch test, the i8042 self-test answers 0x55, the RTC
 * reads a valid BCD second, fw_cfg still reads its signature). Run under
 * make SAN=1 this catches out-of-bounds and undefined behaviour.
 */
#include "devices/apic.h"
#include "devices/fwcfg.h"
#include "devices/i8042.h"
#include "devices/ioapic.h"
#include "devices/misc.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "devices/rtc.h"
#include "devices/uart.h"
#include "tests/unit/test.h"

#include <stdlib.h>

#define RAM (1u << 20)

struct rec {
    int level;
};

static void rec_set(void *opaque, int n, int level)
{
    ((struct rec *)opaque)->level = level;
}

struct board {
    struct bus *bus;
    struct clock *clock;
    uint8_t *ram;
    struct pic *pic;
    struct pit *pit;
    struct rtc *rtc;
    struct uart *uart;
    struct i8042 *kbc;
    struct port92 *p92;
    struct fwcfg *fw;
    struct apic *apic;
    struct ioapic *ioapic;
    struct rec intr, sink;
};

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
    b->ram = calloc(1, RAM);
    ASSERT(bus_map_ram(b->bus, 0, RAM, b->ram, false, "ram") == 0);
    struct irq sink = irq_make(rec_set, &b->sink, 0);
    b->apic = apic_new(b->bus, b->clock, 0, irq_make(rec_set, &b->intr, 0), sink);
    b->pic = pic_new(b->bus, irq_make(apic_set_irq, b->apic, 0));
    b->ioapic = ioapic_new(b->bus, 0, apic_deliver, b->apic);
    apic_set_extint(b->apic, pic_intr_ack, b->pic);
    apic_set_eoi_listener(b->apic, ioapic_eoi, b->ioapic);
    b->pit = pit_new(b->bus, b->clock, irq_make(isa_irq, b, 0));
    struct rtc_cmos_info info = {.ram_below_4g = RAM, .cpus = 1};
    b->rtc = rtc_new(b->bus, b->clock, irq_make(isa_irq, b, 8), 1700000000, &info);
    b->uart = uart_new(b->bus, b->clock, 0x3f8, irq_make(isa_irq, b, 4), NULL);
    b->p92 = port92_new(b->bus, sink, sink);
    b->kbc = i8042_new(b->bus, irq_make(isa_irq, b, 1), irq_make(isa_irq, b, 12),
                       irq_make(port92_kbc_a20, b->p92, 0), sink);
    b->fw = fwcfg_new(b->bus);
    ASSERT(b->pit && b->rtc && b->uart && b->kbc && b->p92 && b->fw && b->pic && b->ioapic);
    fwcfg_add_file(b->fw, "etc/e820", b->ram, 40);
}

static void teardown(struct board *b)
{
    fwcfg_free(b->fw);
    i8042_free(b->kbc);
    port92_free(b->p92);
    uart_free(b->uart);
    rtc_free(b->rtc);
    pit_free(b->pit);
    ioapic_free(b->ioapic);
    pic_free(b->pic);
    apic_free(b->apic);
    clock_free(b->clock);
    bus_free(b->bus);
    free(b->ram);
}

static uint32_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)(*s >> 11);
}

static const uint16_t ports[] = {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x40, 0x41, 0x42, 0x43,
                                 0x61, 0x70, 0x71, 0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd,
                                 0x3fe, 0x3ff, 0x60, 0x64, 0x92, 0x510, 0x511, 0x514, 0x518};

static void chaos(struct board *b, uint64_t seed, int steps)
{
    for (int i = 0; i < steps; i++) {
        uint32_t r = rnd(&seed), v = rnd(&seed);
        uint16_t port = ports[r % (sizeof ports / sizeof ports[0])];
        switch ((r >> 8) % 8) {
        case 0: case 1: case 2:
            if (port == 0x92 || (port == 0x64 && (v & 0xf0) == 0xf0))
                v &= ~1u; /* no resets: the sink ignores them anyway */
            bus_out(b->bus, port, v & 0xff, 1);
            break;
        case 3:
            bus_in(b->bus, port, (r >> 12) % 2 ? 2 : 1);
            break;
        case 4: /* APIC / IOAPIC registers */
            bus_write(b->bus, (r & 1 ? APIC_BASE : IOAPIC_BASE) + ((r >> 12) & 0xff0), v, 4);
            bus_read(b->bus, (r & 2 ? APIC_BASE : IOAPIC_BASE) + ((v >> 4) & 0xff0), 4);
            break;
        case 5: /* fw_cfg DMA descriptor, in or out of RAM */
            memcpy(b->ram + 0x1000, &v, 4);
            memcpy(b->ram + 0x1004, &r, 4);
            bus_out(b->bus, 0x518, (r & 4) ? __builtin_bswap32(0x1000) : v, 4);
            break;
        case 6:
            clock_warp(b->clock, clock_now_ns(b->clock) + (v % 5000000));
            clock_run_timers(b->clock);
            break;
        default:
            isa_irq(b, (int)(v % 16), (int)(r >> 20) & 1);
            if (b->intr.level)
                apic_intr_ack(b->apic);
            ps2_kbd_key(i8042_kbd(b->kbc), (uint16_t)(v & 0xff), r & 0x100);
            ps2_mouse_event(i8042_mouse(b->kbc), (int)(v % 2000) - 1000, (int)(r % 2000) - 1000,
                            (int)(v % 9) - 4, r & 7);
        }
    }
}

static void check_recovered(struct board *b)
{
    pic_reset(b->pic);
    pit_reset(b->pit);
    rtc_reset(b->rtc);
    uart_reset(b->uart);
    i8042_reset(b->kbc);
    fwcfg_reset(b->fw);
    apic_reset(b->apic);
    ioapic_reset(b->ioapic);
    for (int i = 0; i < 16; i++)
        isa_irq(b, i, 0);
    static const uint16_t init[][2] = {{0x20, 0x11}, {0x21, 0x30}, {0x21, 0x04}, {0x21, 0x01},
                                      {0xa0, 0x11}, {0xa1, 0x38}, {0xa1, 0x02}, {0xa1, 0x01},
                                      {0x21, 0x00}, {0xa1, 0x00}, {0x4d0, 0}, {0x4d1, 0}};
    for (size_t i = 0; i < sizeof init / sizeof init[0]; i++)
        bus_out(b->bus, init[i][0], init[i][1], 1);
    isa_irq(b, 5, 1);
    ASSERT_EQ(b->intr.level, 1);
    ASSERT_EQ(apic_intr_ack(b->apic), 0x35);
    bus_out(b->bus, 0x20, 0x20, 1);
    isa_irq(b, 5, 0);
    /* UART scratch test, i8042 self-test, RTC seconds, fw_cfg signature. */
    bus_out(b->bus, 0x3f9, 0x0f, 1);
    ASSERT_EQ(bus_in(b->bus, 0x3f9, 1), 0x0f);
    bus_out(b->bus, 0x3f9, 0x00, 1);
    bus_out(b->bus, 0x64, 0xaa, 1);
    ASSERT_EQ(bus_in(b->bus, 0x60, 1), 0x55);
    bus_out(b->bus, 0x70, 0x0a, 1); /* SeaBIOS rtc_setup */
    bus_out(b->bus, 0x71, 0x26, 1);
    bus_out(b->bus, 0x70, 0x0b, 1);
    bus_out(b->bus, 0x71, 0x02, 1);
    bus_out(b->bus, 0x70, 0x00, 1);
    uint8_t sec = (uint8_t)bus_in(b->bus, 0x71, 1);
    ASSERT((sec & 0x0f) <= 9 && (sec >> 4) <= 5);
    bus_out(b->bus, 0x510, 0, 2);
    ASSERT_EQ(bus_in(b->bus, 0x511, 1), 'Q');
}

TEST(random_traffic_then_recovery)
{
    for (uint64_t seed = 1; seed <= 40; seed++) {
        struct board b;
        setup(&b);
        chaos(&b, seed * 0x9e3779b97f4a7c15ull, 20000);
        check_recovered(&b);
        teardown(&b);
    }
}
