/*
 * The CFI flash as OVMF's QemuFlashFvbServicesRuntimeDxe drives it (QemuFlash.c):
 * the probe (clear status 0x50, then read status 0x70 must read 0x00, which is
 * how OVMF tells flash from RAM and ROM), byte program (0x10 then the data),
 * block erase (0x20, 0xD0) and read array (0xFF); the CFI query answer ("QRY"
 * at byte offsets 0x10-0x12 in x8 mode, JEDEC JESD68); and the store's file:
 * created from the template, written after changes as a whole (no temporary
 * file left), a file of the wrong size refused.
 */
#include "devices/pflash.h"
#include "tests/unit/test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define BASE 0xffc00000ull
#define SIZE (8 * PFLASH_BLOCK)

struct fix {
    struct bus *bus;
    struct clock *clock;
    struct pflash *pf;
    char path[512];
};

static void setup(struct fix *f, bool file)
{
    f->bus = bus_new();
    f->clock = clock_new(CLOCK_DETERMINISTIC, 1);
    uint8_t *data = malloc(SIZE);
    ASSERT(f->bus && f->clock && data);
    for (size_t i = 0; i < SIZE; i++)
        data[i] = (uint8_t)(i * 7 + 1);
    snprintf(f->path, sizeof f->path, "%s/vm.ovmfvars", test_tmpdir());
    f->pf = pflash_new(f->bus, f->clock, BASE, data, SIZE, file ? f->path : NULL, NULL);
    ASSERT(f->pf);
}

static void teardown(struct fix *f)
{
    pflash_free(f->pf);
    clock_free(f->clock);
    bus_free(f->bus);
}

static uint8_t rd(struct fix *f, uint64_t off)
{
    return (uint8_t)bus_read(f->bus, BASE + off, 1);
}

static void wr(struct fix *f, uint64_t off, uint8_t v)
{
    bus_write(f->bus, BASE + off, v, 1);
}

TEST(ovmf_probe_sees_flash)
{
    struct fix f;
    setup(&f, false);
    uint8_t orig = rd(&f, 0);
    wr(&f, 0, 0x50);
    ASSERT_EQ(rd(&f, 0), orig); /* clear status leaves read-array mode */
    wr(&f, 0, 0x70);
    ASSERT_EQ(rd(&f, 0), 0x00); /* CLEARED_ARRAY_STATUS: "FD behaves as FLASH" */
    wr(&f, 0, 0xff);
    ASSERT_EQ(rd(&f, 0), orig);
    teardown(&f);
}

TEST(program_ands_and_erase_sets_ones)
{
    struct fix f;
    setup(&f, false);
    uint64_t off = PFLASH_BLOCK + 5;
    wr(&f, off, 0x20);
    wr(&f, off, 0xd0);
    ASSERT_EQ(rd(&f, off) & 0x80, 0x80); /* status, ready */
    wr(&f, off, 0xff);
    for (uint64_t i = 0; i < PFLASH_BLOCK; i++)
        ASSERT_EQ(rd(&f, PFLASH_BLOCK + i), 0xff);
    ASSERT_EQ(rd(&f, 2 * PFLASH_BLOCK), (uint8_t)(2 * PFLASH_BLOCK * 7 + 1)); /* next block kept */
    ASSERT_EQ(rd(&f, PFLASH_BLOCK - 1), (uint8_t)((PFLASH_BLOCK - 1) * 7 + 1));
    wr(&f, off, 0x10);
    wr(&f, off, 0x5a);
    wr(&f, off, 0x10);
    wr(&f, off, 0xf0); /* a second program can only clear bits */
    wr(&f, off, 0xff);
    ASSERT_EQ(rd(&f, off), 0x50);
    ASSERT_EQ(pflash_data(f.pf)[off], 0x50);
    ASSERT_EQ(bus_read(f.bus, BASE + PFLASH_BLOCK, 8), 0xffff50ffffffffffull); /* wide reads, little-endian */
    teardown(&f);
}

TEST(erase_without_confirm_is_an_error)
{
    struct fix f;
    setup(&f, false);
    uint8_t orig = rd(&f, 3);
    wr(&f, 3, 0x20);
    wr(&f, 3, 0x00);
    ASSERT_EQ(rd(&f, 3) & 0x30, 0x30);
    wr(&f, 3, 0x50);
    wr(&f, 3, 0xff);
    ASSERT_EQ(rd(&f, 3), orig);
    teardown(&f);
}

TEST(cfi_query_and_id)
{
    struct fix f;
    setup(&f, false);
    wr(&f, 0x55, 0x98);
    ASSERT_EQ(rd(&f, 0x10), 'Q');
    ASSERT_EQ(rd(&f, 0x11), 'R');
    ASSERT_EQ(rd(&f, 0x12), 'Y');
    ASSERT_EQ(1u << rd(&f, 0x27), SIZE);
    ASSERT_EQ(rd(&f, 0x2d) + 256 * rd(&f, 0x2e) + 1, SIZE / PFLASH_BLOCK);
    ASSERT_EQ((rd(&f, 0x2f) + 256 * rd(&f, 0x30)) * 256, PFLASH_BLOCK);
    wr(&f, 0, 0x90);
    ASSERT_EQ(rd(&f, 0), 0x89);
    wr(&f, 0, 0xff);
    ASSERT_EQ(rd(&f, 0x10), (uint8_t)(0x10 * 7 + 1));
    teardown(&f);
}

TEST(store_file_written_after_changes)
{
    struct fix f;
    setup(&f, true);
    wr(&f, 9, 0x10);
    wr(&f, 9, 0x00);
    wr(&f, 9, 0xff);
    ASSERT(clock_next_deadline(f.clock) != CLOCK_NEVER); /* the save is pending */
    clock_warp(f.clock, clock_next_deadline(f.clock));
    ASSERT(clock_run_timers(f.clock) == 1);
    FILE *fp = fopen(f.path, "rb");
    ASSERT(fp);
    uint8_t buf[16];
    ASSERT(fread(buf, 1, sizeof buf, fp) == sizeof buf);
    fclose(fp);
    ASSERT_EQ(buf[9], 0x00);
    ASSERT_EQ(buf[8], (uint8_t)(8 * 7 + 1));
    struct stat st;
    ASSERT(stat(f.path, &st) == 0 && st.st_size == SIZE);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", f.path);
    ASSERT(access(tmp, F_OK) < 0);
    teardown(&f);
}

TEST(store_open_template_then_file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/a.ovmfvars", test_tmpdir());
    uint8_t tpl[PFLASH_BLOCK];
    memset(tpl, 0xab, sizeof tpl);
    uint8_t *data;
    struct error err = {0};
    ASSERT(pflash_store_open(path, tpl, sizeof tpl, &data, &err) == 0);
    ASSERT_EQ(data[100], 0xab);
    data[100] = 1;
    ASSERT(pflash_write_file(path, data, sizeof tpl, &err) == 0);
    free(data);
    ASSERT(pflash_store_open(path, tpl, sizeof tpl, &data, &err) == 0);
    ASSERT_EQ(data[100], 1); /* the VM's file wins over the template */
    free(data);
    ASSERT(truncate(path, 100) == 0);
    ASSERT(pflash_store_open(path, tpl, sizeof tpl, &data, &err) < 0);
    ASSERT_EQ(err.code, EX_DATAERR);
    ASSERT(data == NULL);
}
