/*
 * A stand-in machine for testing the SDL front end under Xvfb before the
 * player boots guests: the real VGA in text mode 3 (programmed with the VGA
 * BIOS table values, the VGA BIOS's 8x16 font when installed), driven by a
 * machine thread that drains the input queue, logs every event to a file,
 * echoes typed letters onto the text screen and treats the power button as
 * a guest shutting down. The main thread runs the front end.
 *
 *   fe_driver LOG [--kiosk] [--force] [--screenshot=FILE] [--text=FILE] [--absolute]
 *                 [--ignore-power-button] [--title=NAME]
 *
 * SIGUSR1 writes the screenshot; at exit the text screen goes to --text.
 */
/* First: devices/clock.h's CLOCK_REALTIME must be declared before <time.h> defines its macro. */
#include "devices/input.h"
#include "devices/vga.h"
#include "sdl/frontend.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct machine {
    struct bus *bus;
    struct clock *clock;
    struct display *display;
    struct vga *vga;
    struct input_queue *input;
    FILE *log;
    unsigned row, col;
    bool ignore_power_button; /* a guest that does not shut down on ACPI */
    atomic_bool stop;
};

static volatile sig_atomic_t screenshot_request;

static void on_usr1(int sig)
{
    (void)sig;
    screenshot_request = 1;
}

static void outb(struct machine *m, uint16_t port, uint8_t v)
{
    bus_out(m->bus, port, v, 1);
}

static void mode3(struct machine *m)
{
    static const uint8_t sr[4] = {0x00, 0x03, 0x00, 0x02};
    static const uint8_t cr[25] = {0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00,
                                   0x4F, 0x0D, 0x0E, 0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E,
                                   0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF};
    static const uint8_t ar[20] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39,
                                   0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x0C, 0x00, 0x0F, 0x08};
    static const uint8_t gr[9] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x0F, 0xFF};
    for (int i = 0; i < 4; i++)
        outb(m, 0x3C4, (uint8_t)(i + 1)), outb(m, 0x3C5, sr[i]);
    outb(m, 0x3C2, 0x67);
    for (int i = 0; i < 25; i++)
        outb(m, 0x3D4, (uint8_t)i), outb(m, 0x3D5, cr[i]);
    bus_in(m->bus, 0x3DA, 1);
    for (int i = 0; i < 20; i++)
        outb(m, 0x3C0, (uint8_t)i), outb(m, 0x3C0, ar[i]);
    for (int i = 0; i < 9; i++)
        outb(m, 0x3CE, (uint8_t)i), outb(m, 0x3CF, gr[i]);
    outb(m, 0x3C0, 0x20);
    outb(m, 0x3C8, 0);
    for (int i = 0; i < 64; i++) {
        outb(m, 0x3C9, (uint8_t)(((i >> 2) & 1) * 0x2A + ((i >> 5) & 1) * 0x15));
        outb(m, 0x3C9, (uint8_t)(((i >> 1) & 1) * 0x2A + ((i >> 4) & 1) * 0x15));
        outb(m, 0x3C9, (uint8_t)((i & 1) * 0x2A + ((i >> 3) & 1) * 0x15));
    }
}

/* The VGA BIOS's 8x16 font (found by its 'A'), or a block font. */
static void load_font(struct machine *m)
{
    static uint8_t rom[65536];
    static const uint8_t glyph_a[16] = {0x00, 0x00, 0x10, 0x38, 0x6C, 0xC6, 0xC6, 0xFE,
                                        0xC6, 0xC6, 0xC6, 0xC6, 0x00, 0x00, 0x00, 0x00};
    FILE *f = fopen("/usr/share/seabios/vgabios-stdvga.bin", "rb");
    size_t n = f ? fread(rom, 1, sizeof rom, f) : 0, at = 0;
    if (f)
        fclose(f);
    while (at + 16 <= n && memcmp(rom + at, glyph_a, 16) != 0)
        at++;
    const uint8_t *font = at + 16 <= n && at >= 0x410 ? rom + at - 0x410 : NULL;
    outb(m, 0x3C4, 2), outb(m, 0x3C5, 4);
    outb(m, 0x3C4, 4), outb(m, 0x3C5, 7);
    outb(m, 0x3CE, 4), outb(m, 0x3CF, 2);
    outb(m, 0x3CE, 5), outb(m, 0x3CF, 0);
    outb(m, 0x3CE, 6), outb(m, 0x3CF, 4);
    for (unsigned c = 0; c < 256; c++)
        for (unsigned l = 0; l < 16; l++)
            bus_write(m->bus, 0xA0000 + c * 32 + l,
                      font ? font[c * 16 + l] : (c > ' ' && l > 1 && l < 14 ? 0x7E : 0), 1);
    outb(m, 0x3C4, 2), outb(m, 0x3C5, 3);
    outb(m, 0x3C4, 4), outb(m, 0x3C5, 2);
    outb(m, 0x3CE, 4), outb(m, 0x3CF, 0);
    outb(m, 0x3CE, 5), outb(m, 0x3CF, 0x10);
    outb(m, 0x3CE, 6), outb(m, 0x3CF, 0x0E);
}

static void put(struct machine *m, char c)
{
    if (c == '\n' || m->col == 80) {
        m->row = (m->row + 1) % 25;
        m->col = 0;
        if (c == '\n')
            return;
    }
    bus_write(m->bus, 0xB8000 + (m->row * 80 + m->col) * 2, 0x0700u | (uint8_t)c, 2);
    m->col++;
    outb(m, 0x3D4, 0x0E), outb(m, 0x3D5, (uint8_t)((m->row * 80 + m->col) >> 8));
    outb(m, 0x3D4, 0x0F), outb(m, 0x3D5, (uint8_t)(m->row * 80 + m->col));
}

static void puts_screen(struct machine *m, const char *s)
{
    while (*s)
        put(m, *s++);
}

static void on_key(void *opaque, uint32_t usage, bool down)
{
    struct machine *m = opaque;
    fprintf(m->log, "key 0x%x %s\n", usage, down ? "down" : "up");
    if (!down)
        return;
    if (usage >= 0x04 && usage <= 0x1D)
        put(m, (char)('a' + usage - 0x04));
    else if (usage >= 0x1E && usage <= 0x27)
        put(m, usage == 0x27 ? '0' : (char)('1' + usage - 0x1E));
    else if (usage == 0x2C)
        put(m, ' ');
    else if (usage == 0x28)
        put(m, '\n');
}

static void on_rel(void *opaque, int dx, int dy, int dz, unsigned buttons)
{
    struct machine *m = opaque;
    fprintf(m->log, "rel %d %d %d %u\n", dx, dy, dz, buttons);
}

static void on_abs(void *opaque, unsigned x, unsigned y, int dz, unsigned buttons)
{
    struct machine *m = opaque;
    fprintf(m->log, "abs %u %u %d %u\n", x, y, dz, buttons);
}

static void on_power_button(void *opaque)
{
    struct machine *m = opaque;
    fprintf(m->log, "power-button\n");
    if (!m->ignore_power_button)
        m->stop = true;
}

static void on_power_off(void *opaque)
{
    struct machine *m = opaque;
    fprintf(m->log, "power-off\n");
    m->stop = true;
}

static void *machine_thread(void *arg)
{
    struct machine *m = arg;
    struct input_sink sink = {.key = on_key, .mouse_rel = on_rel, .mouse_abs = on_abs,
                              .power_button = on_power_button, .power_off = on_power_off,
                              .opaque = m};
    mode3(m);
    load_font(m);
    for (unsigned i = 0; i < 80 * 25; i++)
        bus_write(m->bus, 0xB8000 + i * 2, 0x0720, 2);
    puts_screen(m, "vmplay front-end test\n\xC9\xCD\xCD\xBB box \x01 smile\n> ");
    fprintf(m->log, "ready\n");
    fflush(m->log);
    while (!m->stop) {
        if (input_drain(m->input, &sink))
            fflush(m->log);
        clock_run_timers(m->clock);
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    fflush(m->log);
    display_set_state(m->display, DISPLAY_EXITED);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: fe_driver LOG [--kiosk] [--force] [--screenshot=FILE] [--text=FILE] [--absolute] [--ignore-power-button] [--title=NAME]\n");
        return 64;
    }
    struct frontend_opts o = {.title = "Front-end test", .screenshot_request = &screenshot_request};
    const char *text = NULL;
    bool absolute = false, ignore_pb = false;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--kiosk"))
            o.kiosk = true;
        else if (!strcmp(argv[i], "--force"))
            o.force_close = true;
        else if (!strcmp(argv[i], "--absolute"))
            absolute = true;
        else if (!strcmp(argv[i], "--ignore-power-button"))
            ignore_pb = true;
        else if (!strncmp(argv[i], "--screenshot=", 13))
            o.screenshot_path = argv[i] + 13;
        else if (!strncmp(argv[i], "--text=", 7))
            text = argv[i] + 7;
        else if (!strncmp(argv[i], "--title=", 8))
            o.title = argv[i] + 8;
    }
    signal(SIGUSR1, on_usr1);
    struct machine m = {0};
    struct error err = {0};
    m.log = fopen(argv[1], "w");
    m.ignore_power_button = ignore_pb;
    m.bus = bus_new();
    m.clock = clock_new(CLOCK_REALTIME, 1);
    m.display = display_new();
    m.input = input_queue_new();
    input_set_pointer_absolute(m.input, absolute);
    m.vga = vga_new(m.bus, m.clock, m.display, 0, &err);
    struct frontend *fe = m.vga && m.log ? sdl_frontend_new(&o, m.display, m.input, &err) : NULL;
    if (!fe) {
        fprintf(stderr, "fe_driver: %s\n", err.msg);
        return err.code ? err.code : 70;
    }
    pthread_t t;
    pthread_create(&t, NULL, machine_thread, &m);
    int rc = sdl_frontend_run(fe, &err);
    pthread_join(t, NULL);
    sdl_frontend_free(fe);
    if (text) {
        char *s = display_text_utf8(m.display);
        FILE *f = fopen(text, "w");
        if (f && s)
            fputs(s, f);
        if (f)
            fclose(f);
        free(s);
    }
    vga_free(m.vga);
    input_queue_free(m.input);
    display_free(m.display);
    clock_free(m.clock);
    bus_free(m.bus);
    fclose(m.log);
    return rc == 0 ? 0 : 70;
}
