/* devices/bus.c: ranges, width splitting, unmapped behaviour, overlaps, checked DMA. */
#include "devices/bus.h"
#include "tests/unit/test.h"

#include <stdlib.h>

/* A device that records every access it sees. */
struct rec {
    int n;
    struct {
        bool write;
        uint64_t off, val;
        unsigned size;
    } log[64];
    uint8_t regs[64];
};

static uint64_t rec_read(void *opaque, uint64_t off, unsigned size)
{
    struct rec *r = opaque;
    r->log[r->n].write = false;
    r->log[r->n].off = off;
    r->log[r->n].size = size;
    r->log[r->n].val = 0;
    r->n++;
    uint64_t v = 0;
    memcpy(&v, &r->regs[off], size);
    return v;
}

static void rec_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    struct rec *r = opaque;
    r->log[r->n].write = true;
    r->log[r->n].off = off;
    r->log[r->n].size = size;
    r->log[r->n].val = val;
    r->n++;
    memcpy(&r->regs[off], &val, size);
}

static const struct bus_ops ops_any = {rec_read, rec_write, 1, 4};
static const struct bus_ops ops_byte = {rec_read, rec_write, 1, 1};
static const struct bus_ops ops_dword = {rec_read, rec_write, 4, 4};

TEST(unmapped_reads_all_ones_and_drops_writes)
{
    struct bus *bus = bus_new();
    ASSERT_EQ(bus_read(bus, 0x1000, 4), 0xffffffff);
    ASSERT_EQ(bus_read(bus, 0xfffffff0, 8), ~0ull);
    ASSERT_EQ(bus_in(bus, 0x3f8, 1), 0xff);
    ASSERT_EQ(bus_in(bus, 0xcfc, 4), 0xffffffff);
    bus_write(bus, 0x1000, 0x12345678, 4); /* dropped: nothing to crash into */
    bus_out(bus, 0x80, 0x12, 1);
    ASSERT_EQ(bus_read(bus, 0x1000, 2), 0xffff);
    bus_free(bus);
}

TEST(ram_and_rom)
{
    struct bus *bus = bus_new();
    uint8_t *ram = calloc(1, 0x10000), *rom = malloc(0x1000);
    memset(rom, 0xab, 0x1000);
    ASSERT_EQ(bus_map_ram(bus, 0, 0x10000, ram, false, "ram"), 0);
    ASSERT_EQ(bus_map_ram(bus, 0xf0000, 0x1000, rom, true, "rom"), 0);
    bus_write(bus, 0x1234, 0xdeadbeef, 4);
    ASSERT_EQ(ram[0x1234], 0xef);
    ASSERT_EQ(ram[0x1237], 0xde);
    ASSERT_EQ(bus_read(bus, 0x1235, 2), 0xadbe);
    bus_write(bus, 0xf0010, 0x11, 1); /* ROM ignores writes */
    ASSERT_EQ(bus_read(bus, 0xf0010, 1), 0xab);
    ASSERT(bus_ram_page(bus, 0x2345, true) == ram + 0x2000);
    ASSERT(bus_ram_page(bus, 0xf0000, false) == rom);
    ASSERT(bus_ram_page(bus, 0xf0000, true) == NULL);
    ASSERT(bus_ram_page(bus, 0x20000, false) == NULL);
    bus_free(bus);
    free(ram);
    free(rom);
}

TEST(access_straddling_ram_end_is_split)
{
    struct bus *bus = bus_new();
    uint8_t *ram = calloc(1, 0x1000);
    ASSERT_EQ(bus_map_ram(bus, 0, 0x1000, ram, false, "ram"), 0);
    ram[0xffe] = 0x11;
    ram[0xfff] = 0x22;
    /* two bytes of RAM, two unmapped (all ones) */
    ASSERT_EQ(bus_read(bus, 0xffe, 4), 0xffff2211);
    bus_write(bus, 0xfff, 0xaabb, 2);
    ASSERT_EQ(ram[0xfff], 0xbb);
    bus_free(bus);
    free(ram);
}

TEST(wider_access_split_to_device_width)
{
    struct bus *bus = bus_new();
    struct rec r = {0};
    ASSERT_EQ(bus_map_pio(bus, 0x3f8, 8, &ops_byte, &r, "uart"), 0);
    bus_out(bus, 0x3f9, 0x0201, 2);
    ASSERT_EQ(r.n, 2);
    ASSERT_EQ(r.log[0].off, 1);
    ASSERT_EQ(r.log[0].val, 0x01);
    ASSERT_EQ(r.log[0].size, 1);
    ASSERT_EQ(r.log[1].off, 2);
    ASSERT_EQ(r.log[1].val, 0x02);
    r.regs[4] = 0x44;
    r.regs[5] = 0x55;
    ASSERT_EQ(bus_in(bus, 0x3fc, 2), 0x5544);
    bus_free(bus);
}

TEST(narrower_access_widened)
{
    struct bus *bus = bus_new();
    struct rec r = {0};
    ASSERT_EQ(bus_map_mmio(bus, 0xfec00000, 0x1000, &ops_dword, &r, "ioapic"), 0);
    memcpy(r.regs, "\x11\x22\x33\x44", 4);
    ASSERT_EQ(bus_read(bus, 0xfec00002, 1), 0x33);
    ASSERT_EQ(r.log[0].off, 0);
    ASSERT_EQ(r.log[0].size, 4);
    r.n = 0;
    bus_write(bus, 0xfec00001, 0xaa, 1); /* read-modify-write of the dword */
    ASSERT_EQ(r.n, 2);
    ASSERT(r.log[1].write);
    ASSERT_EQ(r.log[1].size, 4);
    ASSERT_EQ(r.log[1].val, 0x4433aa11);
    bus_free(bus);
}

TEST(handler_gets_offset_into_its_range)
{
    struct bus *bus = bus_new();
    struct rec r = {0};
    ASSERT_EQ(bus_map_mmio(bus, 0xfebf0000, 0x40, &ops_any, &r, "dev"), 0);
    bus_write(bus, 0xfebf0010, 0x1234, 2);
    ASSERT_EQ(r.log[0].off, 0x10);
    ASSERT_EQ(r.log[0].size, 2);
    ASSERT_EQ(bus_read(bus, 0xfebf0040, 1), 0xff); /* just past the range */
    bus_free(bus);
}

TEST(overlapping_ranges_refused)
{
    struct bus *bus = bus_new();
    struct rec r = {0};
    uint8_t *ram = calloc(1, 0x10000);
    ASSERT_EQ(bus_map_ram(bus, 0x10000, 0x10000, ram, false, "ram"), 0);
    ASSERT_EQ(bus_map_mmio(bus, 0x1f000, 0x2000, &ops_any, &r, "x"), -1);
    ASSERT_EQ(bus_map_mmio(bus, 0xf000, 0x1001, &ops_any, &r, "x"), -1);
    ASSERT_EQ(bus_map_mmio(bus, 0x12000, 0x10, &ops_any, &r, "x"), -1);
    ASSERT_EQ(bus_map_mmio(bus, 0x20000, 0x10, &ops_any, &r, "x"), 0); /* adjacent is fine */
    ASSERT_EQ(bus_map_mmio(bus, 0, 0, &ops_any, &r, "x"), -1);         /* empty */
    ASSERT_EQ(bus_map_mmio(bus, ~0ull - 0xf, 0x20, &ops_any, &r, "x"), -1); /* wraps */
    ASSERT_EQ(bus_map_pio(bus, 0x60, 1, &ops_any, &r, "kbd"), 0);
    ASSERT_EQ(bus_map_pio(bus, 0x5f, 2, &ops_any, &r, "x"), -1);
    ASSERT_EQ(bus_map_pio(bus, 0xffff, 2, &ops_any, &r, "x"), -1);
    /* unmap then map again (a PCI BAR moving) */
    ASSERT_EQ(bus_unmap(bus, 0x20000), 0);
    ASSERT_EQ(bus_unmap(bus, 0x20000), -1);
    ASSERT_EQ(bus_map_mmio(bus, 0x20008, 0x10, &ops_any, &r, "x"), 0);
    bus_free(bus);
    free(ram);
}

TEST(sub_page_ranges_share_a_page)
{
    struct bus *bus = bus_new();
    struct rec a = {0}, b = {0};
    ASSERT_EQ(bus_map_mmio(bus, 0xfed00000, 0x400, &ops_any, &a, "a"), 0);
    ASSERT_EQ(bus_map_mmio(bus, 0xfed00800, 0x20, &ops_any, &b, "b"), 0);
    bus_write(bus, 0xfed00804, 7, 1);
    bus_write(bus, 0xfed00004, 9, 1);
    ASSERT_EQ(a.n, 1);
    ASSERT_EQ(b.n, 1);
    ASSERT_EQ(b.log[0].off, 4);
    ASSERT_EQ(bus_read(bus, 0xfed00500, 4), 0xffffffff);
    bus_free(bus);
}

TEST(high_memory_above_4g)
{
    struct bus *bus = bus_new();
    uint8_t *ram = calloc(1, 0x2000);
    ASSERT_EQ(bus_map_ram(bus, 0x100000000ull, 0x2000, ram, false, "high"), 0);
    bus_write(bus, 0x100001000ull, 0x55, 1);
    ASSERT_EQ(ram[0x1000], 0x55);
    ASSERT(bus_ram_page(bus, 0x100001fffull, true) == ram + 0x1000);
    bus_free(bus);
    free(ram);
}

struct notes {
    int maps, writes;
    uint64_t gpa, len;
};

static void note_map(void *opaque, uint64_t gpa, uint64_t size)
{
    ((struct notes *)opaque)->maps++;
}

static void note_write(void *opaque, uint64_t gpa, uint64_t len)
{
    struct notes *n = opaque;
    n->writes++;
    n->gpa = gpa;
    n->len = len;
}

TEST(dma_checked_page_by_page)
{
    struct bus *bus = bus_new();
    struct rec r = {0};
    struct notes notes = {0};
    struct bus_listener l = {note_map, note_write, &notes};
    ASSERT_EQ(bus_add_listener(bus, &l), 0);
    uint8_t *ram = calloc(1, 0x3000), *rom = calloc(1, 0x1000);
    ASSERT_EQ(bus_map_ram(bus, 0, 0x2000, ram, false, "ram"), 0);
    ASSERT_EQ(bus_map_mmio(bus, 0x2000, 0x1000, &ops_any, &r, "mmio"), 0);
    ASSERT_EQ(bus_map_ram(bus, 0x3000, 0x1000, ram + 0x2000, false, "ram2"), 0);
    ASSERT_EQ(bus_map_ram(bus, 0x5000, 0x1000, rom, true, "rom"), 0);
    ASSERT_EQ(notes.maps, 4);
    uint8_t buf[0x2000];
    memset(buf, 0x5a, sizeof buf);
    /* RAM only: fine, and listeners hear of it */
    ASSERT_EQ(bus_dma_write(bus, 0x100, buf, 0x1000), 0);
    ASSERT_EQ(ram[0x100], 0x5a);
    ASSERT_EQ(notes.writes, 1);
    ASSERT_EQ(notes.gpa, 0x100);
    ASSERT_EQ(notes.len, 0x1000);
    /* crossing from RAM into MMIO: refused, nothing written, device untouched */
    memset(buf, 0x77, sizeof buf);
    ASSERT_EQ(bus_dma_write(bus, 0x1800, buf, 0x1000), -1);
    ASSERT_EQ(ram[0x1800], 0);
    ASSERT_EQ(r.n, 0);
    ASSERT_EQ(notes.writes, 1);
    ASSERT_EQ(bus_dma_read(bus, 0x1f00, buf, 0x200), -1);
    ASSERT_EQ(r.n, 0);
    /* into a hole */
    ASSERT_EQ(bus_dma_read(bus, 0x3f00, buf, 0x200), -1);
    /* ROM is readable, not writable */
    ASSERT_EQ(bus_dma_read(bus, 0x5000, buf, 0x10), 0);
    ASSERT_EQ(bus_dma_write(bus, 0x5000, buf, 0x10), -1);
    /* address wrap */
    ASSERT_EQ(bus_dma_read(bus, ~0ull - 4, buf, 16), -1);
    bus_free(bus);
    free(ram);
    free(rom);
}

TEST(many_ports_lookup)
{
    struct bus *bus = bus_new();
    static struct rec r[64];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 64; i++)
        ASSERT_EQ(bus_map_pio(bus, (uint16_t)(0x1000 + i * 16), 8, &ops_any, &r[i], "p"), 0);
    for (int i = 63; i >= 0; i--)
        bus_out(bus, (uint16_t)(0x1000 + i * 16 + 3), (uint32_t)i, 1);
    for (int i = 0; i < 64; i++) {
        ASSERT_EQ(r[i].n, 1);
        ASSERT_EQ(r[i].log[0].val, (uint64_t)i);
        ASSERT_EQ(r[i].log[0].off, 3);
    }
    ASSERT_EQ(bus_in(bus, 0x1009, 1), 0xff); /* gap between ranges */
    bus_free(bus);
}
