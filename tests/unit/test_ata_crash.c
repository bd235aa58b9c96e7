/*
 * The crash test through the IDE model (the model in tests/unit/crashtest.h):
 * the child is a PIIX3 IDE controller with the sparse VMDK as its disk, and
 * writes the way a guest driver does, by ports and bus-master DMA. A write
 * command counts as durable once the drive has completed it (status read
 * back, no ERR) when the write cache is off (SET FEATURES 82h, as Linux's
 * `cache_type = write through` sends) or the command is WRITE DMA FUA EXT or
 * WRITE MULTIPLE FUA EXT; with the cache on, after a FLUSH CACHE. None of
 * those may be lost to the SIGKILL.
 */
#include "devices/bus.h"
#include "devices/ide.h"
#include "devices/pci.h"
#include "tests/unit/crashtest.h"

#define ROUNDS 60
#define DEVFN 0x09
#define BM 0xc000
#define PRD 0x1000
#define DATA 0x10000
#define SR_BSY 0x80
#define SR_DRQ 0x08
#define SR_ERR 0x01

enum mode { CACHE_OFF_DMA, CACHE_OFF_PIO, FUA_DMA, FUA_PIO, CACHE_ON_FLUSH };

struct drive {
    struct bus *bus;
    uint8_t *ram;
};

static void cfg_write(struct bus *bus, unsigned off, uint32_t v)
{
    bus_out(bus, 0xcf8, 0x80000000u | DEVFN << 8 | off, 4);
    bus_out(bus, 0xcfc, v, 4);
}

static uint8_t wait_ready(struct bus *bus)
{
    for (int i = 0; i < 1000; i++) {
        uint8_t st = (uint8_t)bus_in(bus, 0x1f7, 1);
        if (!(st & SR_BSY))
            return st;
    }
    _exit(10);
}

/* The task file of a command: LBA48 (previous bytes first) or a plain one. */
static void issue(struct bus *bus, uint8_t cmd, uint8_t feature, uint64_t lba, uint32_t count)
{
    wait_ready(bus);
    bus_out(bus, 0x1f6, 0x40, 1);
    bus_out(bus, 0x1f1, 0, 1);
    bus_out(bus, 0x1f2, count >> 8 & 0xff, 1);
    bus_out(bus, 0x1f3, lba >> 24 & 0xff, 1);
    bus_out(bus, 0x1f4, lba >> 32 & 0xff, 1);
    bus_out(bus, 0x1f5, lba >> 40 & 0xff, 1);
    bus_out(bus, 0x1f1, feature, 1);
    bus_out(bus, 0x1f2, count & 0xff, 1);
    bus_out(bus, 0x1f3, lba & 0xff, 1);
    bus_out(bus, 0x1f4, lba >> 8 & 0xff, 1);
    bus_out(bus, 0x1f5, lba >> 16 & 0xff, 1);
    bus_out(bus, 0x1f7, cmd, 1);
}

static void simple(struct bus *bus, uint8_t cmd, uint8_t feature, uint32_t count)
{
    issue(bus, cmd, feature, 0, count);
    if (wait_ready(bus) & SR_ERR)
        _exit(11);
}

static void write_dma(struct drive *d, uint8_t cmd, uint64_t lba, uint32_t len)
{
    uint32_t addr = DATA, bytes = len * 512 | 0x80000000u;
    memcpy(d->ram + PRD, &addr, 4);
    memcpy(d->ram + PRD + 4, &bytes, 4);
    bus_out(d->bus, BM + 4, PRD, 4);
    bus_out(d->bus, BM, 0x00, 1); /* direction: memory to disk */
    bus_out(d->bus, BM + 2, 0x06, 1);
    issue(d->bus, cmd, 0, lba, len);
    bus_out(d->bus, BM, 0x01, 1);
    int i = 0;
    while (!(bus_in(d->bus, BM + 2, 1) & 0x04))
        if (++i == 1000)
            _exit(12);
    bus_out(d->bus, BM, 0x00, 1);
    if (wait_ready(d->bus) & (SR_ERR | SR_DRQ))
        _exit(13);
}

/* WRITE MULTIPLE (FUA) EXT with 16 sectors per DRQ block. */
static void write_pio(struct drive *d, uint8_t cmd, uint64_t lba, uint32_t len)
{
    issue(d->bus, cmd, 0, lba, len);
    const uint8_t *p = d->ram + DATA;
    for (uint32_t left = len; left;) {
        uint32_t n = left < 16 ? left : 16;
        if ((wait_ready(d->bus) & (SR_DRQ | SR_ERR)) != SR_DRQ)
            _exit(14);
        for (uint32_t i = 0; i < n * 512; i += 2, p += 2)
            bus_out(d->bus, 0x1f0, p[0] | p[1] << 8, 2);
        left -= n;
    }
    if (wait_ready(d->bus) & (SR_ERR | SR_DRQ))
        _exit(15);
}

static void child(const char *path, int fd, uint64_t seed, uint64_t first_id, int mode)
{
    struct blockdev_open_opts o = {.media = MEDIA_DISK};
    struct blockdev *bd;
    struct error err;
    struct drive d = {.bus = bus_new(), .ram = calloc(1, 0x100000)};
    struct pci_bus *pb = pci_bus_new(d.bus);
    struct ide *ide = pb ? ide_new(d.bus, pb, DEVFN, (struct irq){0}, (struct irq){0}) : NULL;
    if (!ide || bus_map_ram(d.bus, 0, 0x100000, d.ram, false, "ram") ||
        pci_bus_map_conf_ports(pb) || blockdev_open(path, &o, &bd, &err) ||
        ide_attach(ide, 0, 0, IDE_DISK, bd, &err))
        _exit(3);
    cfg_write(d.bus, 0x20, BM);
    cfg_write(d.bus, 0x04, 0x0005);
    simple(d.bus, 0xc6, 0, 16); /* SET MULTIPLE 16 */
    if (mode == CACHE_OFF_DMA || mode == CACHE_OFF_PIO)
        simple(d.bus, 0xef, 0x82, 0);
    send_msg(fd, (struct msg){MSG_READY, 0, 0, 0});
    for (uint64_t id = first_id;; id++) {
        uint32_t len = 1 + (uint32_t)(rng_next(&seed) % 64);
        uint64_t s = rng_next(&seed) % (AREA - len);
        for (uint32_t i = 0; i < len; i++)
            fill_sector(d.ram + DATA + i * 512, id, s + i);
        send_msg(fd, (struct msg){MSG_INTENT, len, id, s});
        if (mode == FUA_DMA)
            write_dma(&d, 0x3d, s, len);
        else if (mode == FUA_PIO)
            write_pio(&d, 0xce, s, len);
        else if (mode == CACHE_OFF_PIO)
            write_pio(&d, 0x39, s, len);
        else
            write_dma(&d, 0x35, s, len);
        if (mode == CACHE_ON_FLUSH && rng_next(&seed) % 3)
            continue;
        if (mode == CACHE_ON_FLUSH)
            simple(d.bus, 0xea, 0, 0); /* FLUSH CACHE EXT */
        send_msg(fd, (struct msg){MSG_FLUSHED, 0, id, 0});
    }
}

TEST(sigkill_with_the_write_cache_off)
{
    static const int modes[] = {CACHE_OFF_DMA, CACHE_OFF_PIO};
    crash_rounds(ROUNDS, child, modes, 2);
}

TEST(sigkill_among_fua_writes)
{
    static const int modes[] = {FUA_DMA, FUA_PIO};
    crash_rounds(ROUNDS, child, modes, 2);
}

TEST(sigkill_with_the_write_cache_on_and_flushes)
{
    static const int modes[] = {CACHE_ON_FLUSH};
    crash_rounds(ROUNDS / 2, child, modes, 1);
}
