/*
 * 82077AA floppy controller (devices/fdc.c) and the 8237 DMA pair
 * (devices/dma8237.c), driven in SeaBIOS's and Linux's order: DOR reset,
 * four SENSE INTERRUPT STATUS, SPECIFY, RECALIBRATE, SEEK, READ DATA through
 * DMA channel 2 programmed at ports 0x0A/0x0B/0x0C/0x04/0x05/0x81.
 * Oracle: the Intel 82077AA data sheet (MSR bits, command and result
 * formats, ST0 values, VERSION 0x90, DUMPREG layout), the 8237A data sheet
 * (flip-flop, mode, mask, TC status) and the image's own bytes.
 */
#include <stdlib.h>

#include "devices/bus.h"
#include "devices/dma8237.h"
#include "devices/fdc.h"
#include "tests/unit/test.h"

#define RAM_SIZE (1u << 20)

struct memdisk {
    struct blockdev bd;
    uint8_t *data;
};

static int md_read(struct blockdev *bd, uint64_t s, uint32_t n, void *buf)
{
    memcpy(buf, ((struct memdisk *)bd)->data + s * 512, n * 512u);
    return 0;
}

static int md_write(struct blockdev *bd, uint64_t s, uint32_t n, const void *buf)
{
    memcpy(((struct memdisk *)bd)->data + s * 512, buf, n * 512u);
    return 0;
}

static int md_flush(struct blockdev *bd)
{
    (void)bd;
    return 0;
}

static void md_close(struct blockdev *bd)
{
    (void)bd;
}

static const struct blockdev_ops md_ops = {.read = md_read, .write = md_write, .flush = md_flush, .close = md_close};

struct rig {
    struct bus *bus;
    struct dma8237 *dma;
    struct fdc *fdc;
    struct irq_rec irq;
    struct memdisk disk;
    uint8_t *ram;
};

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof *r);
    ASSERT(r);
    r->ram = calloc(1, RAM_SIZE);
    r->bus = bus_new();
    ASSERT_EQ(bus_map_ram(r->bus, 0, RAM_SIZE, r->ram, false, "ram"), 0);
    r->dma = dma8237_new(r->bus);
    r->fdc = fdc_new(r->bus, irq_make(irq_rec_set, &r->irq, 6), r->dma);
    ASSERT(r->dma && r->fdc);
    r->disk.bd.ops = &md_ops;
    r->disk.bd.sectors = 2880;
    r->disk.data = malloc(2880 * 512);
    for (uint32_t i = 0; i < 2880 * 512; i++)
        r->disk.data[i] = (uint8_t)(i / 512 * 3 + i);
    fdc_insert(r->fdc, 0, &r->disk.bd);
    return r;
}

static void rig_free(struct rig *r)
{
    fdc_free(r->fdc);
    dma8237_free(r->dma);
    bus_free(r->bus);
    free(r->disk.data);
    free(r->ram);
    free(r);
}

static uint8_t msr(struct rig *r)
{
    return (uint8_t)bus_in(r->bus, 0x3f4, 1);
}

static void send(struct rig *r, const uint8_t *b, int n)
{
    for (int i = 0; i < n; i++) {
        ASSERT_EQ(msr(r) & 0xc0, 0x80); /* RQM, DIO = host to controller */
        bus_out(r->bus, 0x3f5, b[i], 1);
    }
}

static int results(struct rig *r, uint8_t *out, int max)
{
    int n = 0;
    while ((msr(r) & 0xc0) == 0xc0 && n < max)
        out[n++] = (uint8_t)bus_in(r->bus, 0x3f5, 1);
    ASSERT_EQ(msr(r) & 0xd0, 0x80); /* idle again */
    return n;
}

/* Channel 2, single mode, write to memory (0x46) or read from memory (0x4a). */
static void dma_setup(struct rig *r, uint32_t addr, uint16_t len, bool to_memory)
{
    bus_out(r->bus, 0x0a, 0x06, 1); /* mask channel 2 */
    bus_out(r->bus, 0x0c, 0, 1);    /* clear flip-flop */
    bus_out(r->bus, 0x04, addr & 0xff, 1);
    bus_out(r->bus, 0x04, (addr >> 8) & 0xff, 1);
    bus_out(r->bus, 0x81, (addr >> 16) & 0xff, 1);
    bus_out(r->bus, 0x0c, 0, 1);
    bus_out(r->bus, 0x05, (len - 1) & 0xff, 1);
    bus_out(r->bus, 0x05, (len - 1) >> 8, 1);
    bus_out(r->bus, 0x0b, to_memory ? 0x46 : 0x4a, 1);
    bus_out(r->bus, 0x0a, 0x02, 1); /* unmask */
}

static void reset_and_sense(struct rig *r)
{
    uint8_t b[4];
    bus_out(r->bus, 0x3f2, 0x08, 1); /* nRESET low, DMA gate on */
    ASSERT_EQ(r->irq.level, 0);
    bus_out(r->bus, 0x3f2, 0x1c, 1); /* out of reset, motor A */
    ASSERT_EQ(r->irq.level, 1);
    for (int d = 0; d < 4; d++) {
        uint8_t c = 0x08;
        send(r, &c, 1);
        ASSERT_EQ(results(r, b, 4), 2);
        ASSERT_EQ(b[0], 0xc0 | d);
    }
    ASSERT_EQ(r->irq.level, 0);
}

TEST(reset_specify_recalibrate_seek)
{
    struct rig *r = rig_new();
    uint8_t b[10];
    reset_and_sense(r);
    uint8_t spec[] = {0x03, 0xaf, 0x02};
    send(r, spec, 3);
    ASSERT_EQ(results(r, b, 10), 0);
    ASSERT_EQ(bus_in(r->bus, 0x3f7, 1) & 0x80, 0x80); /* disk change after power-on */
    uint8_t recal[] = {0x07, 0x00};
    send(r, recal, 2);
    ASSERT_EQ(r->irq.level, 1);
    uint8_t si = 0x08;
    send(r, &si, 1);
    ASSERT_EQ(results(r, b, 10), 2);
    ASSERT_EQ(b[0], 0x20); /* seek end, drive 0 */
    ASSERT_EQ(b[1], 0);
    ASSERT_EQ(r->irq.level, 0);
    ASSERT_EQ(bus_in(r->bus, 0x3f7, 1) & 0x80, 0); /* the step cleared it */
    uint8_t seek[] = {0x0f, 0x04, 33};
    send(r, seek, 3);
    send(r, &si, 1);
    ASSERT_EQ(results(r, b, 10), 2);
    ASSERT_EQ(b[0], 0x24);
    ASSERT_EQ(b[1], 33);
    /* Nothing pending: invalid, one byte. */
    send(r, &si, 1);
    ASSERT_EQ(results(r, b, 10), 1);
    ASSERT_EQ(b[0], 0x80);
    /* VERSION, LOCK, DUMPREG, PERPENDICULAR, CONFIGURE, an unknown command. */
    uint8_t v = 0x10;
    send(r, &v, 1);
    ASSERT_EQ(results(r, b, 10), 1);
    ASSERT_EQ(b[0], 0x90);
    v = 0x94;
    send(r, &v, 1);
    ASSERT_EQ(results(r, b, 10), 1);
    ASSERT_EQ(b[0], 0x10);
    uint8_t perp[] = {0x12, 0x00}, conf[] = {0x13, 0x00, 0x1a, 0x00};
    send(r, perp, 2);
    ASSERT_EQ(results(r, b, 10), 0);
    send(r, conf, 4);
    ASSERT_EQ(results(r, b, 10), 0);
    v = 0x0e;
    send(r, &v, 1);
    ASSERT_EQ(results(r, b, 10), 10);
    ASSERT_EQ(b[0], 33);   /* PCN drive 0 */
    ASSERT_EQ(b[4], 0xaf); /* SRT/HUT */
    ASSERT_EQ(b[7] & 0x80, 0x80); /* locked */
    ASSERT_EQ(b[8], 0x1a);
    v = 0x1d;
    send(r, &v, 1);
    ASSERT_EQ(results(r, b, 10), 1);
    ASSERT_EQ(b[0], 0x80);
    uint8_t sds[] = {0x04, 0x00};
    send(r, sds, 2);
    ASSERT_EQ(results(r, b, 10), 1);
    ASSERT_EQ(b[0] & 0x20, 0x20); /* ready */
    rig_free(r);
}

static uint8_t rw(struct rig *r, uint8_t op, uint8_t c, uint8_t h, uint8_t s, uint8_t eot, uint8_t *res)
{
    uint8_t cmd[] = {op, (uint8_t)(h << 2), c, h, s, 2, eot, 0x1b, 0xff};
    send(r, cmd, 9);
    ASSERT_EQ(r->irq.level, 1);
    ASSERT_EQ(results(r, res, 10), 7);
    ASSERT_EQ(r->irq.level, 0);
    return res[0];
}

TEST(read_and_write_through_dma)
{
    struct rig *r = rig_new();
    uint8_t res[10];
    reset_and_sense(r);
    /* SeaBIOS reads 18 sectors from C 1 H 1 S 1 (MT, MFM): LBA (1*2+1)*18 = 54. */
    dma_setup(r, 0x17000, 18 * 512, true);
    ASSERT_EQ(rw(r, 0xe6, 1, 1, 1, 18, res) & 0xc0, 0);
    ASSERT(memcmp(r->ram + 0x17000, r->disk.data + 54 * 512, 18 * 512) == 0);
    ASSERT_EQ(res[3], 2); /* C: the next track */
    ASSERT_EQ(res[5], 1); /* R */
    ASSERT_EQ(bus_in(r->bus, 0x08, 1) & 0x04, 0x04); /* TC on channel 2 */
    /* Multi-track: 24 sectors from C 0 H 0 S 10 cross to head 1. */
    dma_setup(r, 0x20000, 24 * 512, true);
    ASSERT_EQ(rw(r, 0xe6, 0, 0, 10, 18, res) & 0xc0, 0);
    ASSERT(memcmp(r->ram + 0x20000, r->disk.data + 9 * 512, 24 * 512) == 0);
    ASSERT_EQ(res[4], 1); /* H */
    ASSERT_EQ(res[5], 16); /* R: 9 on head 0, 15 on head 1 */
    /* Write 2 sectors at C 5 H 0 S 3. */
    for (int i = 0; i < 1024; i++)
        r->ram[0x30000 + i] = (uint8_t)(0x5a ^ i);
    dma_setup(r, 0x30000, 1024, false);
    ASSERT_EQ(rw(r, 0xc5, 5, 0, 3, 18, res) & 0xc0, 0);
    ASSERT(memcmp(r->disk.data + (5 * 36 + 2) * 512, r->ram + 0x30000, 1024) == 0);
    /* A DMA channel pointed outside RAM (0xF00000 is not mapped): overrun, nothing written. */
    dma_setup(r, 0xf00000, 512, true);
    ASSERT_EQ(rw(r, 0xe6, 0, 0, 1, 18, res) & 0xc0, 0x40);
    /* Masked channel: the controller cannot move data. */
    bus_out(r->bus, 0x0a, 0x06, 1);
    ASSERT_EQ(rw(r, 0xe6, 0, 0, 1, 18, res) & 0xc0, 0x40);
    /* Out-of-range cylinder, sector 0, wrong size code. */
    dma_setup(r, 0x17000, 512, true);
    ASSERT_EQ(rw(r, 0xe6, 200, 0, 1, 18, res) & 0xc0, 0x40);
    ASSERT_EQ(rw(r, 0xe6, 0, 0, 0, 18, res) & 0xc0, 0x40);
    uint8_t bad[] = {0xe6, 0, 0, 0, 1, 7, 18, 0x1b, 0xff};
    send(r, bad, 9);
    ASSERT_EQ(results(r, res, 10), 7);
    ASSERT_EQ(res[0] & 0xc0, 0x40);
    /* READ ID. */
    uint8_t rid[] = {0x4a, 0x00};
    send(r, rid, 2);
    ASSERT_EQ(results(r, res, 10), 7);
    ASSERT_EQ(res[0] & 0xc0, 0);
    ASSERT_EQ(res[6], 2);
    /* No disk: drive 1. */
    uint8_t nod[] = {0xe6, 0x01, 0, 0, 1, 2, 18, 0x1b, 0xff};
    send(r, nod, 9);
    ASSERT_EQ(results(r, res, 10), 7);
    ASSERT_EQ(res[0] & 0xc3, 0x41);
    rig_free(r);
}

TEST(random_port_writes)
{
    struct rig *r = rig_new();
    uint64_t seed = 12345;
    static const uint16_t ports[] = {0x3f2, 0x3f4, 0x3f5, 0x3f5, 0x3f5, 0x3f7, 0x04, 0x05, 0x0a, 0x0b, 0x0c, 0x81};
    for (int i = 0; i < 200000; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        uint16_t p = ports[seed % (sizeof ports / sizeof ports[0])];
        if ((seed >> 20) & 1)
            bus_out(r->bus, p, (uint8_t)(seed >> 32), 1);
        else
            bus_in(r->bus, p, 1);
    }
    rig_free(r);
}
