/*
 * 16550A: the Linux 8250 driver's autoconfig probe (scratch IER test,
 * loopback MSR test, FIFO detection via IIR, EFR/16750/SuperIO checks,
 * size_fifo), its THRE re-assertion test, interrupt priorities (datasheet
 * table), FIFO trigger levels and the character timeout; and the chardev
 * back ends (file truncate/append, UNIX socket server, pty, parse).
 */
#include "devices/uart.h"
#include "tests/unit/test.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define COM1 0x3f8

struct rec {
    int level;
};

static void rec_set(void *opaque, int n, int level)
{
    ((struct rec *)opaque)->level = level;
}

struct fix {
    struct bus *bus;
    struct clock *clock;
    struct uart *uart;
    struct chardev *ch;
    struct rec irq;
};

static void setup_ch(struct fix *f, struct chardev *ch)
{
    memset(f, 0, sizeof *f);
    f->bus = bus_new();
    f->clock = clock_new(CLOCK_DETERMINISTIC, 1);
    f->ch = ch;
    f->uart = uart_new(f->bus, f->clock, COM1, irq_make(rec_set, &f->irq, 4), ch);
    ASSERT(f->uart);
}

static void setup(struct fix *f)
{
    setup_ch(f, NULL);
}

static void teardown(struct fix *f)
{
    uart_free(f->uart);
    chardev_free(f->ch);
    clock_free(f->clock);
    bus_free(f->bus);
}

static void out8(struct fix *f, int reg, uint8_t v)
{
    bus_out(f->bus, (uint16_t)(COM1 + reg), v, 1);
}

static uint8_t in8(struct fix *f, int reg)
{
    return (uint8_t)bus_in(f->bus, (uint16_t)(COM1 + reg), 1);
}

TEST(linux_autoconfig_finds_16550a)
{
    struct fix f;
    setup(&f);
    /* Scratch test on IER. */
    uint8_t scratch = in8(&f, 1);
    out8(&f, 1, 0);
    ASSERT_EQ(in8(&f, 1) & 0x0f, 0);
    out8(&f, 1, 0x0f);
    ASSERT_EQ(in8(&f, 1) & 0x0f, 0x0f);
    out8(&f, 1, scratch);
    /* Loopback test: MCR = LOOP | OUT2 | RTS gives MSR high nibble DCD | CTS. */
    uint8_t save_mcr = in8(&f, 4);
    out8(&f, 4, 0x10 | 0x0a);
    ASSERT_EQ(in8(&f, 6) & 0xf0, 0x90);
    out8(&f, 4, save_mcr);
    /* FIFO detection: IIR bits 7:6 = 11 for a 16550A. */
    out8(&f, 3, 0xbf);
    out8(&f, 2, 0);
    out8(&f, 3, 0);
    out8(&f, 2, 0x01);
    ASSERT_EQ(in8(&f, 2) >> 6, 3);
    /* Not an ST16C650 (EFR reads non-zero with LCR 0x80 / 0xBF). */
    out8(&f, 3, 0x80);
    ASSERT_NE(in8(&f, 2), 0);
    out8(&f, 3, 0xbf);
    ASSERT_NE(in8(&f, 2), 0);
    /* Not a National SuperIO: IIR bit 4 does not follow MCR LOOP. */
    out8(&f, 3, 0);
    out8(&f, 4, 0x10);
    out8(&f, 3, 0xe0);
    ASSERT_EQ(in8(&f, 2) & 0x10, 0);
    out8(&f, 3, 0);
    out8(&f, 4, 0);
    /* Not a 16750: IIR bit 5 stays clear with FCR bit 5. */
    out8(&f, 2, 0x21);
    ASSERT_EQ(in8(&f, 2) >> 5, 6);
    out8(&f, 3, 0x80);
    out8(&f, 2, 0x21);
    ASSERT_EQ(in8(&f, 2) >> 5, 6);
    out8(&f, 2, 0x01);
    out8(&f, 3, 0);
    /* Not XScale: IER bit 6 does not stick. */
    out8(&f, 1, 0x40);
    ASSERT_EQ(in8(&f, 1) & 0x40, 0);
    teardown(&f);
}

TEST(size_fifo_counts_16)
{
    struct fix f;
    setup(&f);
    /* Linux size_fifo(): loopback at divisor 1, 256 bytes out, count bytes back. */
    out8(&f, 3, 0);
    out8(&f, 2, 0x07);
    out8(&f, 4, 0x10);
    out8(&f, 3, 0x80);
    out8(&f, 0, 1);
    out8(&f, 1, 0);
    out8(&f, 3, 0x03);
    for (int i = 0; i < 256; i++)
        out8(&f, 0, (uint8_t)i);
    int count = 0;
    uint8_t first = 0;
    while ((in8(&f, 5) & 0x01) && count < 256) {
        uint8_t b = in8(&f, 0);
        if (!count)
            first = b;
        count++;
    }
    ASSERT_EQ(count, 16);
    ASSERT_EQ(first, 0);
    teardown(&f);
}

TEST(thre_reasserted_on_ier_write)
{
    struct fix f;
    setup(&f);
    out8(&f, 4, 0x0b); /* DTR RTS OUT2 */
    /* Linux serial8250_do_startup's UART_BUG_THRE test. */
    out8(&f, 1, 0x02);
    ASSERT_EQ(in8(&f, 2) & 0x0f, 0x02);
    out8(&f, 1, 0);
    out8(&f, 1, 0x02);
    ASSERT_EQ(f.irq.level, 1);
    ASSERT_EQ(in8(&f, 2) & 0x0f, 0x02);
    /* Reading IIR with THRE as source clears it. */
    ASSERT_EQ(in8(&f, 2) & 0x0f, 0x01);
    ASSERT_EQ(f.irq.level, 0);
    ASSERT_EQ(in8(&f, 5) & 0x60, 0x60); /* THRE | TEMT */
    teardown(&f);
}

TEST(interrupt_priorities_and_out2_gate)
{
    struct fix f;
    setup(&f);
    out8(&f, 1, 0x0f);
    ASSERT_EQ(f.irq.level, 0); /* OUT2 clear: the PC's IRQ buffer is off */
    out8(&f, 4, 0x08);
    ASSERT_EQ(f.irq.level, 1);
    ASSERT_EQ(in8(&f, 2), 0x02); /* THRE (prio 3) */
    /* Loopback: overrun (line status, prio 1) beats data (prio 2). */
    out8(&f, 4, 0x18);
    out8(&f, 0, 'a');
    ASSERT_EQ(in8(&f, 2) & 0x0f, 0x04);
    out8(&f, 0, 'b'); /* non-FIFO: RBR full, overrun */
    ASSERT_EQ(in8(&f, 2) & 0x0f, 0x06);
    ASSERT_EQ(in8(&f, 5) & 0x03, 0x03); /* OE | DR; reading LSR clears OE */
    ASSERT_EQ(in8(&f, 2) & 0x0f, 0x04);
    ASSERT_EQ(in8(&f, 0), 'a');
    /* Modem status (prio 4): OUT1 toggled in loopback gives TERI on its falling edge. */
    in8(&f, 6);
    in8(&f, 2);
    out8(&f, 4, 0x1c);
    out8(&f, 4, 0x18);
    ASSERT_EQ(in8(&f, 2) & 0x0f, 0x00);
    ASSERT_EQ(in8(&f, 6) & 0x0f, 0x04);
    ASSERT_EQ(in8(&f, 2) & 0x0f, 0x01);
    teardown(&f);
}

TEST(fifo_trigger_and_char_timeout)
{
    struct fix f;
    setup(&f);
    out8(&f, 3, 0x80); /* 115200 baud */
    out8(&f, 0, 1);
    out8(&f, 1, 0);
    out8(&f, 3, 0x03);
    out8(&f, 2, 0x81); /* FIFO, trigger 8 (Linux's 16550A setting) */
    out8(&f, 4, 0x18);
    out8(&f, 1, 0x01);
    for (int i = 0; i < 7; i++)
        out8(&f, 0, (uint8_t)('0' + i));
    ASSERT_EQ(in8(&f, 2), 0xc1); /* below trigger, no timeout yet */
    out8(&f, 0, '7');
    ASSERT_EQ(in8(&f, 2), 0xc4);
    for (int i = 0; i < 6; i++)
        in8(&f, 0);
    ASSERT_EQ(in8(&f, 2), 0xc1);
    /* Timeout: 4 characters of 10 bits at 115200 baud = 347 us. */
    int64_t t = clock_next_deadline(f.clock);
    ASSERT_EQ(t, 4 * 10 * 16 * 1000000000LL / 1843200);
    clock_warp(f.clock, t);
    clock_run_timers(f.clock);
    ASSERT_EQ(in8(&f, 2), 0xcc);
    ASSERT_EQ(in8(&f, 0), '6');
    ASSERT_EQ(in8(&f, 2), 0xc1); /* reading RBR clears the timeout */
    teardown(&f);
}

static char *slurp(const char *path)
{
    static char buf[256];
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

TEST(file_backend_truncates_or_appends)
{
    char path[512];
    snprintf(path, sizeof path, "%s/serial.txt", test_tmpdir());
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    ASSERT(write(fd, "old\n", 4) == 4);
    close(fd);
    struct chardev_config cfg = {.kind = CHARDEV_FILE, .path = path};
    struct error err;
    struct fix f;
    setup_ch(&f, chardev_new(&cfg, &err));
    ASSERT(f.ch);
    for (const char *p = "hi\n"; *p; p++)
        out8(&f, 0, (uint8_t)*p);
    teardown(&f);
    ASSERT_STR_EQ(slurp(path), "hi\n");
    ASSERT_EQ(chardev_parse("append:x", &cfg, &err), 0);
    cfg.path = path;
    setup_ch(&f, chardev_new(&cfg, &err));
    out8(&f, 0, '!');
    teardown(&f);
    ASSERT_STR_EQ(slurp(path), "hi\n!");
}

TEST(socket_server_input_and_output)
{
    char path[512];
    snprintf(path, sizeof path, "%s/com1.sock", test_tmpdir());
    if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        SKIP("temporary folder path too long for a UNIX socket");
    char spec[600];
    snprintf(spec, sizeof spec, "unix-server:%s", path);
    struct chardev_config cfg;
    struct error err;
    ASSERT_EQ(chardev_parse(spec, &cfg, &err), 0);
    ASSERT(cfg.server);
    struct fix f;
    setup_ch(&f, chardev_new(&cfg, &err));
    ASSERT(f.ch);
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    ASSERT_EQ(connect(c, (struct sockaddr *)&sa, sizeof sa), 0);
    ASSERT(write(c, "login\n", 6) == 6);
    out8(&f, 2, 0x01); /* FIFO on so all six fit */
    uart_poll(f.uart); /* a UNIX stream delivers at once: accept and read in one go */
    char got[8] = {0};
    for (int i = 0; i < 6; i++) {
        ASSERT(in8(&f, 5) & 0x01);
        got[i] = (char)in8(&f, 0);
    }
    ASSERT_STR_EQ(got, "login\n");
    ASSERT_EQ(in8(&f, 5) & 0x01, 0);
    out8(&f, 0, 'Z');
    char r = 0;
    ASSERT(read(c, &r, 1) == 1);
    ASSERT_EQ(r, 'Z');
    close(c);
    teardown(&f);
}

TEST(pty_backend_and_parse_errors)
{
    struct chardev_config cfg = {.kind = CHARDEV_PTY};
    struct error err;
    struct fix f;
    struct chardev *ch = chardev_new(&cfg, &err);
    if (!ch)
        SKIP("no pseudo-terminals: %s", err.msg);
    setup_ch(&f, ch);
    ASSERT(chardev_name(ch));
    /* Nobody attached: the descriptor the loop polls must stay quiet (no hang-up). */
    struct pollfd pfd = {.fd = chardev_fd(ch), .events = POLLIN};
    ASSERT_EQ(poll(&pfd, 1, 0), 0);
    out8(&f, 0, 'z'); /* output with nobody attached is buffered or dropped, never blocks */
    int s = open(chardev_name(ch), O_RDWR | O_NOCTTY);
    ASSERT(s >= 0);
    ASSERT(write(s, "q", 1) == 1);
    for (int tries = 0; !(in8(&f, 5) & 0x01) && tries < 100; tries++) {
        usleep(1000);
        uart_poll(f.uart);
    }
    ASSERT_EQ(in8(&f, 0), 'q');
    out8(&f, 0, '\n'); /* raw slave: no CR added */
    char b[4] = {0};
    size_t got = 0;
    for (int tries = 0; got < 2 && tries < 100; tries++) { /* the tty layer forwards asynchronously */
        struct pollfd sp = {.fd = s, .events = POLLIN};
        if (poll(&sp, 1, 10) == 1) {
            ssize_t n = read(s, b + got, sizeof b - got);
            got += n > 0 ? (size_t)n : 0;
        }
    }
    ASSERT_EQ(got, 2);
    ASSERT_MEM_EQ(b, "z\n", 2);
    close(s);
    teardown(&f);
    ASSERT_EQ(chardev_parse("tcp:1", &cfg, &err), -1);
    ASSERT_EQ(err.code, EX_USAGE);
    ASSERT_EQ(chardev_parse("file:", &cfg, &err), -1);
    ASSERT_EQ(chardev_parse("stdio", &cfg, &err), 0);
    ASSERT_EQ(cfg.kind, CHARDEV_STDIO);
}

TEST(device_backend_on_a_tty)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
        SKIP("no pseudo-terminals");
    char spec[128];
    snprintf(spec, sizeof spec, "device:%s", ptsname(master));
    struct chardev_config cfg;
    struct error err;
    ASSERT_EQ(chardev_parse(spec, &cfg, &err), 0);
    ASSERT_EQ(cfg.kind, CHARDEV_DEVICE);
    struct fix f;
    setup_ch(&f, chardev_new(&cfg, &err));
    ASSERT(f.ch);
    out8(&f, 0, 'x');
    char b = 0;
    ASSERT(read(master, &b, 1) == 1);
    ASSERT_EQ(b, 'x');
    ASSERT(write(master, "y", 1) == 1);
    for (int tries = 0; !(in8(&f, 5) & 0x01) && tries < 100; tries++) {
        usleep(1000);
        uart_poll(f.uart);
    }
    ASSERT_EQ(in8(&f, 0), 'y');
    teardown(&f);
    close(master);
}

TEST(stdio_restores_stdin_flags)
{
    int before = fcntl(STDIN_FILENO, F_GETFL);
    if (before < 0)
        SKIP("stdin is closed");
    struct chardev_config cfg = {.kind = CHARDEV_STDIO};
    struct error err;
    struct chardev *ch = chardev_new(&cfg, &err);
    ASSERT(ch);
    ASSERT(fcntl(STDIN_FILENO, F_GETFL) & O_NONBLOCK);
    chardev_free(ch);
    ASSERT_EQ(fcntl(STDIN_FILENO, F_GETFL), before);
}

TEST(seabios_detect_serial)
{
    struct fix f;
    setup(&f);
    /* src/serial.c detect_serial: IER 0x02 reads back, IIR shows the THRE interrupt. */
    out8(&f, 1, 0x02);
    ASSERT_EQ(in8(&f, 1), 0x02);
    ASSERT_EQ(in8(&f, 2) & 0x3f, 0x02);
    out8(&f, 1, 0x00);
    /* Nothing at COM2: the unmapped port reads all ones and fails the same test. */
    bus_out(f.bus, 0x2f9, 0x02, 1);
    ASSERT_NE(bus_in(f.bus, 0x2f9, 1), 0x02);
    teardown(&f);
}
