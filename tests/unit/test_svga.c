/*
 * VMware SVGA II (devices/svga.c) against what Linux's vmwgfx does with it:
 * the SVGA_ID_2 handshake, the capability and depth checks it makes before
 * binding, a mode put on the screen through the VGA's renderer, and the FIFO
 * protocol (the guest sets MIN/MAX/NEXT_CMD/STOP, writes CONFIG_DONE, commits
 * commands and writes SYNC; the device advances STOP and writes fences back).
 * The VGA BIOS it presents is compared with Debian's vgabios-vmware.bin, and
 * random FIFO contents and register writes run under the sanitizers.
 */
#include "tests/unit/test.h"

#include <stdlib.h>
#include <string.h>

#include "devices/pci.h"
#include "devices/svga.h"
#include "devices/vga.h"
#include "devices/vga_int.h"

struct rig {
    struct bus *bus;
    struct clock *clock;
    struct display *disp;
    struct pci_bus *pci;
    struct vga *vga;
    struct svga *svga;
};

static struct rig rig_new(void)
{
    struct rig r;
    r.bus = bus_new();
    r.clock = clock_new(CLOCK_DETERMINISTIC, 1);
    r.disp = display_new();
    r.pci = pci_bus_new(r.bus);
    struct error err = {0};
    r.vga = vga_new(r.bus, r.clock, r.disp, 4u << 20, &err);
    if (!r.vga)
        FAIL("vga_new: %s", err.msg);
    r.svga = svga_new(r.vga, r.pci, 2 << 3, NULL, 0, &err);
    if (!r.svga)
        FAIL("svga_new: %s", err.msg);
    return r;
}

static void rig_free(struct rig *r)
{
    svga_free(r->svga);
    vga_free(r->vga);
    pci_bus_free(r->pci);
    display_free(r->disp);
    clock_free(r->clock);
    bus_free(r->bus);
}

static void wr(struct rig *r, uint32_t reg, uint32_t v)
{
    svga_io_write(r->svga, 0, reg);
    svga_io_write(r->svga, 1, v);
}

static uint32_t rd(struct rig *r, uint32_t reg)
{
    svga_io_write(r->svga, 0, reg);
    return svga_io_read(r->svga, 1);
}

static uint32_t fifo_rd(struct rig *r, uint32_t reg)
{
    uint32_t v;
    memcpy(&v, svga_fifo(r->svga) + reg * 4, 4);
    return v;
}

static void fifo_wr(struct rig *r, uint32_t reg, uint32_t v)
{
    memcpy(svga_fifo(r->svga) + reg * 4, &v, 4);
}

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *b = malloc(1 << 20);
    *n = b ? fread(b, 1, 1 << 20, f) : 0;
    fclose(f);
    return b;
}

/* SeaBIOS builds vgabios-vmware.bin from the same code as vgabios-stdvga.bin with other PCI
 * IDs: patching the one must give the other, byte for byte. */
TEST(vgabios_patch_is_debians_vgabios_vmware)
{
    size_t ns = 0, nv = 0;
    uint8_t *std = read_all("/usr/share/seabios/vgabios-stdvga.bin", &ns);
    uint8_t *vmw = read_all("/usr/share/seabios/vgabios-vmware.bin", &nv);
    if (!std || !vmw) {
        free(std);
        free(vmw);
        SKIP("Debian's seabios package is not installed");
        return;
    }
    ASSERT_EQ(ns, nv);
    ASSERT_EQ(svga_patch_vgabios(std, ns), 0);
    ASSERT(memcmp(std, vmw, ns) == 0);
    uint8_t junk[64] = {0x55, 0xAA, 1};
    ASSERT_EQ(svga_patch_vgabios(junk, sizeof junk), -1); /* no PCIR */
    free(std);
    free(vmw);
}

/* vmw_detect_version writes SVGA_ID_2 and reads it back; vmw_driver_load needs PITCHLOCK (or
 * DISPLAY_TOPOLOGY) and vmw_kms_write_svga a DEPTH of 24 for 32 bits per pixel. */
TEST(id_caps_depth)
{
    struct rig r = rig_new();
    wr(&r, SVGA_REG_ID, SVGA_ID_2);
    ASSERT_EQ(rd(&r, SVGA_REG_ID), SVGA_ID_2);
    wr(&r, SVGA_REG_ID, SVGA_MAGIC << 8 | 3); /* SVGA 3 is another device: refused */
    ASSERT_EQ(rd(&r, SVGA_REG_ID), SVGA_ID_2);
    wr(&r, SVGA_REG_ID, SVGA_ID_0);
    ASSERT_EQ(rd(&r, SVGA_REG_ID), SVGA_ID_0);
    uint32_t caps = rd(&r, SVGA_REG_CAPABILITIES);
    ASSERT(caps & SVGA_CAP_PITCHLOCK);
    ASSERT(caps & SVGA_CAP_EXTENDED_FIFO);
    ASSERT_EQ(caps & 0x00004000u, 0); /* no 3D */
    ASSERT_EQ(rd(&r, SVGA_REG_BITS_PER_PIXEL), 32);
    ASSERT_EQ(rd(&r, SVGA_REG_DEPTH), 24);
    ASSERT_EQ(rd(&r, SVGA_REG_VRAM_SIZE), 4u << 20);
    ASSERT_EQ(rd(&r, SVGA_REG_MEM_SIZE), SVGA_FIFO_SIZE);
    ASSERT_EQ(rd(&r, SVGA_REG_MEM_REGS), SVGA_FIFO_NUM_REGS);
    wr(&r, SVGA_SCRATCH_BASE + 3, 0xABCD);
    ASSERT_EQ(rd(&r, SVGA_SCRATCH_BASE + 3), 0xABCD);
    ASSERT_EQ(rd(&r, 0xFFFFFF), 0);
    rig_free(&r);
}

/* The mode the guest enables is what the display shows, pitch and all; HIDE gives the VGA back. */
TEST(mode_on_screen_and_hidden)
{
    struct rig r = rig_new();
    uint16_t before[VBE_DISPI_INDEX_NB];
    memcpy(before, r.vga->vbe, sizeof before);
    wr(&r, SVGA_REG_WIDTH, 640);
    wr(&r, SVGA_REG_HEIGHT, 480);
    wr(&r, SVGA_REG_PITCHLOCK, 4096);
    ASSERT_EQ(rd(&r, SVGA_REG_BYTES_PER_LINE), 4096);
    ASSERT_EQ(rd(&r, SVGA_REG_FB_SIZE), 4096 * 480);
    uint32_t px = 0x00123456;
    memcpy(r.vga->vram + 7 * 4096 + 9 * 4, &px, 4);
    wr(&r, SVGA_REG_ENABLE, SVGA_REG_ENABLE_ENABLE);
    vga_refresh(r.vga);
    struct framebuffer fb = {0};
    ASSERT_EQ(display_snapshot(r.disp, &fb), 0);
    ASSERT_EQ(fb.width, 640);
    ASSERT_EQ(fb.height, 480);
    ASSERT_EQ(framebuffer_row(&fb, 7)[9] & 0xFFFFFF, px);
    ASSERT_EQ(framebuffer_row(&fb, 7)[10] & 0xFFFFFF, 0);
    framebuffer_release(&fb);
    wr(&r, SVGA_REG_ENABLE, SVGA_REG_ENABLE_ENABLE | SVGA_REG_ENABLE_HIDE);
    ASSERT(memcmp(before, r.vga->vbe, sizeof before) == 0);
    /* A mode larger than the VRAM is never shown. */
    wr(&r, SVGA_REG_PITCHLOCK, 0);
    wr(&r, SVGA_REG_WIDTH, 2560);
    wr(&r, SVGA_REG_HEIGHT, 1600);
    wr(&r, SVGA_REG_ENABLE, SVGA_REG_ENABLE_ENABLE);
    ASSERT(!vga_vbe_enabled(r.vga));
    rig_free(&r);
}

/* vmw_fifo_create's set-up, then commands as vmw_fifo_commit leaves them. */
static void fifo_setup(struct rig *r, uint32_t min, uint32_t max, uint32_t at)
{
    fifo_wr(r, SVGA_FIFO_MIN, min);
    fifo_wr(r, SVGA_FIFO_MAX, max);
    fifo_wr(r, SVGA_FIFO_NEXT_CMD, at);
    fifo_wr(r, SVGA_FIFO_STOP, at);
    fifo_wr(r, SVGA_FIFO_BUSY, 0);
    wr(r, SVGA_REG_CONFIG_DONE, 1);
}

static void push(struct rig *r, const uint32_t *w, unsigned n)
{
    uint32_t min = fifo_rd(r, SVGA_FIFO_MIN), max = fifo_rd(r, SVGA_FIFO_MAX);
    uint32_t next = fifo_rd(r, SVGA_FIFO_NEXT_CMD);
    for (unsigned i = 0; i < n; i++) {
        memcpy(svga_fifo(r->svga) + next, &w[i], 4);
        next += 4;
        if (next == max)
            next = min;
    }
    fifo_wr(r, SVGA_FIFO_NEXT_CMD, next);
}

TEST(fifo_commands_fence_and_wrap)
{
    struct rig r = rig_new();
    ASSERT_EQ(fifo_rd(&r, SVGA_FIFO_CAPABILITIES) & SVGA_FIFO_CAP_FENCE, SVGA_FIFO_CAP_FENCE);
    wr(&r, SVGA_REG_WIDTH, 320);
    wr(&r, SVGA_REG_HEIGHT, 200);
    wr(&r, SVGA_REG_ENABLE, SVGA_REG_ENABLE_ENABLE);
    /* a ring 32 words long whose commands run over its end */
    uint32_t min = 4096, max = 4096 + 128;
    fifo_setup(&r, min, max, max - 8);
    const uint32_t cmds[] = {SVGA_CMD_UPDATE, 0, 0, 320, 200,
                             SVGA_CMD_FRONT_ROP_FILL, 0x00FF00, 10, 20, 3, 2, 3,
                             SVGA_CMD_FENCE, 77};
    push(&r, cmds, sizeof cmds / 4);
    fifo_wr(&r, SVGA_FIFO_BUSY, 1); /* vmw_fifo_ping_host's cmpxchg */
    wr(&r, SVGA_REG_SYNC, 1);
    ASSERT_EQ(fifo_rd(&r, SVGA_FIFO_STOP), fifo_rd(&r, SVGA_FIFO_NEXT_CMD));
    ASSERT_EQ(fifo_rd(&r, SVGA_FIFO_FENCE), 77);
    ASSERT_EQ(fifo_rd(&r, SVGA_FIFO_BUSY), 0);
    const struct svga_stats *st = svga_stats(r.svga);
    ASSERT_EQ(st->updates, 1);
    ASSERT_EQ(st->fills, 1);
    ASSERT_EQ(st->fences, 1);
    ASSERT_EQ(st->bad, 0);
    uint32_t px;
    memcpy(&px, r.vga->vram + 21 * 320 * 4 + 12 * 4, 4);
    ASSERT_EQ(px, 0x00FF00);
    memcpy(&px, r.vga->vram + 22 * 320 * 4 + 12 * 4, 4);
    ASSERT_EQ(px, 0);
    /* An alpha cursor (5 words + 4x4 pixels), then half a fence: the fence waits. */
    uint32_t cur[6 + 16] = {SVGA_CMD_DEFINE_ALPHA_CURSOR, 0, 1, 1, 4, 4};
    push(&r, cur, 22);
    push(&r, (const uint32_t[]){SVGA_CMD_FENCE}, 1);
    ASSERT_EQ(rd(&r, SVGA_REG_BUSY), 0);
    ASSERT_EQ(st->cursors, 1);
    ASSERT_EQ(st->cursor_width, 4);
    ASSERT_EQ(fifo_rd(&r, SVGA_FIFO_FENCE), 77);
    push(&r, (const uint32_t[]){78}, 1);
    wr(&r, SVGA_REG_SYNC, 1);
    ASSERT_EQ(fifo_rd(&r, SVGA_FIFO_FENCE), 78);
    /* An unknown command discards what is committed instead of stalling the guest. */
    push(&r, (const uint32_t[]){0xDEAD, 1, 2}, 3);
    wr(&r, SVGA_REG_SYNC, 1);
    ASSERT_EQ(fifo_rd(&r, SVGA_FIFO_STOP), fifo_rd(&r, SVGA_FIFO_NEXT_CMD));
    ASSERT_EQ(st->bad, 1);
    rig_free(&r);
}

static uint64_t xs(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Random rings, random words, random commands with random sizes, random register writes:
 * nothing reads or writes outside the FIFO and the VRAM (ASan/UBSan in make SAN=1). */
TEST(hostile_fifo_and_registers)
{
    struct rig r = rig_new();
    uint64_t x = 0x9E3779B97F4A7C15ull;
    static const uint32_t known[] = {SVGA_CMD_UPDATE, SVGA_CMD_RECT_COPY, SVGA_CMD_DEFINE_CURSOR,
                                     SVGA_CMD_DEFINE_ALPHA_CURSOR, SVGA_CMD_UPDATE_VERBOSE,
                                     SVGA_CMD_FRONT_ROP_FILL, SVGA_CMD_FENCE, SVGA_CMD_ESCAPE};
    for (int round = 0; round < 3000; round++) {
        if (round % 50 == 0) {
            wr(&r, SVGA_REG_WIDTH, (uint32_t)(xs(&x) % 3000));
            wr(&r, SVGA_REG_HEIGHT, (uint32_t)(xs(&x) % 2000));
            wr(&r, SVGA_REG_PITCHLOCK, (xs(&x) & 1) ? (uint32_t)xs(&x) % (8u << 20) : 0);
            wr(&r, SVGA_REG_ENABLE, (uint32_t)xs(&x) & 3);
        }
        uint32_t min, max;
        if (xs(&x) % 4 == 0) { /* nonsense ring registers */
            min = (uint32_t)xs(&x);
            max = (uint32_t)xs(&x);
        } else {
            min = 16 + (uint32_t)(xs(&x) % 2048) * 4;
            max = min + 4 + (uint32_t)(xs(&x) % ((SVGA_FIFO_SIZE - min) / 4)) * 4;
        }
        uint32_t len = max > min ? max - min : 4;
        uint32_t stop = min + (uint32_t)(xs(&x) % (len / 4 ? len / 4 : 1)) * 4;
        fifo_setup(&r, min, max, stop);
        if (max <= SVGA_FIFO_SIZE && min < max && min >= 16) {
            for (unsigned i = 0; i < 64; i++) {
                uint32_t w = (uint32_t)xs(&x);
                if (i % 8 == 0 && (xs(&x) & 1))
                    w = known[xs(&x) % 8];
                else if (xs(&x) & 1)
                    w %= 64;
                push(&r, &w, 1);
            }
        }
        if (xs(&x) % 8 == 0)
            fifo_wr(&r, SVGA_FIFO_NEXT_CMD, (uint32_t)xs(&x));
        if (xs(&x) & 1)
            wr(&r, SVGA_REG_SYNC, 1);
        else
            (void)rd(&r, SVGA_REG_BUSY);
        uint32_t st = fifo_rd(&r, SVGA_FIFO_STOP);
        if (min >= 16 && min < max && max <= SVGA_FIFO_SIZE)
            ASSERT(st >= min && st < max);
        wr(&r, (uint32_t)xs(&x) % 0x800, (uint32_t)xs(&x));
        if (round % 100 == 0)
            vga_refresh(r.vga);
    }
    svga_reset(r.svga);
    ASSERT_EQ(rd(&r, SVGA_REG_ID), SVGA_ID_2);
    rig_free(&r);
}
