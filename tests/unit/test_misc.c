/*
 * Port 0x92 (A20 OR'ed with the 8042's, fast reset), POST port 0x80, the
 * debug consoles (0x402/0xE9, read-back 0xE9 as Bochs/QEMU) and debug-exit
 * (status (v << 1) | 1 as QEMU's isa-debug-exit).
 */
#include "devices/misc.h"
#include "tests/unit/test.h"

#include <fcntl.h>
#include <unistd.h>

TEST(port92_a20_and_fast_reset)
{
    struct bus *bus = bus_new();
    struct irq_rec a20 = {0}, reset = {0};
    struct port92 *p = port92_new(bus, irq_make(irq_rec_set, &a20, 0), irq_make(irq_rec_set, &reset, 0));
    ASSERT(p);
    ASSERT_EQ(a20.level, 0);
    bus_out(bus, 0x92, 0x02, 1); /* SeaBIOS set_a20(1) */
    ASSERT_EQ(a20.level, 1);
    ASSERT_EQ(bus_in(bus, 0x92, 1), 0x02);
    bus_out(bus, 0x92, 0x00, 1);
    ASSERT_EQ(a20.level, 0);
    port92_kbc_a20(p, 0, 1); /* the 8042 holds it on */
    ASSERT_EQ(a20.level, 1);
    bus_out(bus, 0x92, 0x02, 1);
    port92_kbc_a20(p, 0, 0);
    ASSERT_EQ(a20.level, 1);
    ASSERT_EQ(reset.rises, 0);
    bus_out(bus, 0x92, 0x03, 1);
    ASSERT_EQ(reset.rises, 1);
    ASSERT_EQ(bus_in(bus, 0x92, 1) & 1, 0);
    port92_free(p);
    bus_free(bus);
}

TEST(post_code)
{
    struct bus *bus = bus_new();
    struct postcode *p = postcode_new(bus);
    ASSERT_EQ(postcode_last(p), -1);
    bus_out(bus, 0x80, 0x42, 1);
    ASSERT_EQ(postcode_last(p), 0x42);
    ASSERT_EQ(bus_in(bus, 0x80, 1), 0x42);
    postcode_free(p);
    bus_free(bus);
}

TEST(debugcon_to_file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/debug.log", test_tmpdir());
    struct chardev_config cfg = {.kind = CHARDEV_FILE, .path = path};
    struct error err;
    struct chardev *ch = chardev_new(&cfg, &err);
    ASSERT(ch);
    struct bus *bus = bus_new();
    struct debugcon *d402 = debugcon_new(bus, 0x402, ch);
    struct debugcon *de9 = debugcon_new(bus, 0xe9, ch);
    ASSERT(d402 && de9);
    for (const char *s = "SeaBIOS"; *s; s++)
        bus_out(bus, 0x402, (uint8_t)*s, 1);
    bus_out(bus, 0xe9, '!', 1);
    ASSERT_EQ(bus_in(bus, 0xe9, 1), 0xe9);
    debugcon_free(d402);
    debugcon_free(de9);
    chardev_free(ch);
    bus_free(bus);
    char buf[32] = {0};
    int fd = open(path, O_RDONLY);
    ASSERT(read(fd, buf, sizeof buf - 1) == 8);
    close(fd);
    ASSERT_STR_EQ(buf, "SeaBIOS!");
}

TEST(debug_exit_status)
{
    struct bus *bus = bus_new();
    struct irq_rec ex = {0};
    struct debugexit *d = debugexit_new(bus, 0xf4, irq_make(irq_rec_set, &ex, 0));
    ASSERT_EQ(ex.sets, 0);
    bus_out(bus, 0xf4, 0x10, 1);
    ASSERT_EQ(ex.level, 0x21);
    bus_out(bus, 0xf4, 0x00, 1);
    ASSERT_EQ(ex.level, 1);
    debugexit_free(d);
    bus_free(bus);
}
