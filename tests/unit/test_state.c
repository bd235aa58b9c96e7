/*
 * The suspend state format (devices/state.h) and the device lifecycle list
 * (devices/device.h): a small image's bytes against the layout state.h
 * documents (CRC from Python's zlib.crc32), round trips, a single corrupted
 * byte at every offset and every truncation refused, a mutation loop with the
 * CRC fixed up so the structural checks themselves are exercised, and the list's
 * order, refusals and section checks.
 */
#include <stdlib.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "devices/device.h"
#include "devices/state.h"
#include "devices/state_id.h"
#include "formats/error.h"
#include "tests/unit/test.h"

/* "VMPLAYSS", version 1, writer "t", one section "ab" v7 holding u16 0x1234 and u32 0xdeadbeef. */
static const uint8_t small_image[] = {
    'V', 'M', 'P', 'L', 'A', 'Y', 'S', 'S', 1, 0, 0, 0, /* magic, format version */
    1, 0, 't',                                          /* writer */
    1, 0, 0, 0,                                         /* one section */
    2, 'a', 'b', 7, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0,    /* "ab", v7, 6 bytes */
    0x34, 0x12, 0xef, 0xbe, 0xad, 0xde,                 /* the payload */
    0x2e, 0xfc, 0x11, 0xb7,                             /* CRC-32 0xb711fc2e (python3 zlib.crc32) */
};

static void build_small(struct state_writer *w)
{
    state_writer_init(w, "t");
    ASSERT_EQ(state_section_begin(w, "ab", 7), 0);
    state_put_u16(w, 0x1234);
    state_put_u32(w, 0xdeadbeef);
    state_section_end(w);
    ASSERT_EQ(state_writer_finish(w, NULL), 0);
}

TEST(small_image_bytes_match_the_documented_layout)
{
    struct state_writer w;
    build_small(&w);
    ASSERT_EQ(w.len, sizeof small_image);
    ASSERT_MEM_EQ(w.buf, small_image, sizeof small_image);
    state_writer_release(&w);
}

TEST(small_image_reads_back)
{
    struct state_file f;
    struct state_reader r;
    uint32_t version, v32;
    uint16_t v16;
    ASSERT_EQ(state_file_parse(&f, small_image, sizeof small_image, NULL), 0);
    ASSERT_STR_EQ(f.vmplay_version, "t");
    ASSERT_EQ(f.nsections, 1);
    ASSERT_STR_EQ(state_file_unclaimed(&f), "ab");
    ASSERT_EQ(state_file_section(&f, "zz", &r, &version), -1);
    ASSERT_EQ(state_file_section(&f, "ab", &r, &version), 0);
    ASSERT_EQ(version, 7);
    ASSERT_EQ(state_get_u16(&r, &v16), 0);
    ASSERT_EQ(v16, 0x1234);
    ASSERT(!state_reader_done(&r));
    ASSERT_EQ(state_get_u32(&r, &v32), 0);
    ASSERT_EQ(v32, 0xdeadbeef);
    ASSERT(state_reader_done(&r));
    ASSERT_EQ(state_get_u16(&r, &v16), -1); /* past the end: refused, zero, failed */
    ASSERT_EQ(v16, 0);
    ASSERT(!state_reader_done(&r));
    ASSERT(state_file_unclaimed(&f) == NULL);
    state_file_release(&f);
}

static void assert_refused(const uint8_t *buf, size_t len, const char *what, size_t at)
{
    struct state_file f;
    struct error err = {0};
    if (state_file_parse(&f, buf, len, &err) == 0)
        FAIL("%s at %zu: accepted", what, at);
    if (err.code != EX_DATAERR)
        FAIL("%s at %zu: status %d, not EX_DATAERR", what, at, err.code);
    if (!err.msg[0] || strchr(err.msg, '\n'))
        FAIL("%s at %zu: not one line: \"%s\"", what, at, err.msg);
}

TEST(every_corrupted_byte_is_refused)
{
    static const uint8_t flips[] = {0x01, 0x80, 0xff, 0x5a};
    uint8_t b[sizeof small_image];
    for (size_t at = 0; at < sizeof small_image; at++)
        for (size_t k = 0; k < sizeof flips; k++) {
            memcpy(b, small_image, sizeof b);
            b[at] ^= flips[k];
            assert_refused(b, sizeof b, "corrupted byte", at);
        }
}

TEST(every_truncation_and_extension_is_refused)
{
    uint8_t b[sizeof small_image + 1];
    memcpy(b, small_image, sizeof small_image);
    for (size_t len = 0; len < sizeof small_image; len++)
        assert_refused(b, len, "truncated to", len);
    b[sizeof small_image] = 0;
    assert_refused(b, sizeof b, "one byte appended", sizeof small_image);
}

static void fix_crc(uint8_t *b, size_t len)
{
    uint32_t crc = (uint32_t)crc32(crc32(0, Z_NULL, 0), b, (uInt)(len - 4));
    for (int i = 0; i < 4; i++)
        b[len - 4 + i] = (uint8_t)(crc >> (8 * i));
}

TEST(another_format_version_is_refused_by_name)
{
    uint8_t b[sizeof small_image];
    memcpy(b, small_image, sizeof b);
    b[8] = 2;
    fix_crc(b, sizeof b);
    struct state_file f;
    struct error err = {0};
    ASSERT_EQ(state_file_parse(&f, b, sizeof b, &err), -1);
    ASSERT_EQ(err.code, EX_DATAERR);
    ASSERT(strstr(err.msg, "format version 2"));
}

/* A bigger image: three sections of assorted fields. */
static void build_big(struct state_writer *w)
{
    state_writer_init(w, "0.1.0");
    state_section_begin(w, "pic", 1);
    for (int i = 0; i < 20; i++)
        state_put_u8(w, (uint8_t)(i * 7));
    state_section_end(w);
    state_section_begin(w, "cpu0", 3);
    state_put_u64(w, 0x0123456789abcdefull);
    state_put_i64(w, -5);
    state_section_end(w);
    state_section_begin(w, "empty", 1);
    state_section_end(w);
    ASSERT_EQ(state_writer_finish(w, NULL), 0);
}

/* Every section claimed and read to its end with the getters; never past the buffer. */
static void read_everything(struct state_file *f)
{
    for (uint32_t i = 0; i < f->nsections; i++) {
        struct state_reader r;
        uint32_t version;
        uint8_t byte;
        ASSERT(f->sec[i].off + f->sec[i].len <= f->len - 4);
        ASSERT_EQ(state_file_section(f, f->sec[i].name, &r, &version), 0);
        while (state_reader_left(&r))
            ASSERT_EQ(state_get_u8(&r, &byte), 0);
        ASSERT(state_reader_done(&r));
    }
}

TEST(mutations_with_a_fixed_crc_never_misread)
{
    struct state_writer w;
    build_big(&w);
    uint8_t *b = malloc(w.len);
    ASSERT(b);
    unsigned seed = 12345, accepted = 0, refused = 0;
    for (int round = 0; round < 20000; round++) {
        memcpy(b, w.buf, w.len);
        int n = 1 + (int)(rand_r(&seed) % 4);
        for (int k = 0; k < n; k++)
            b[rand_r(&seed) % (w.len - 4)] = (uint8_t)rand_r(&seed);
        size_t len = w.len - (round % 3 == 0 ? rand_r(&seed) % 8 : 0);
        if (len < 4)
            len = w.len;
        fix_crc(b, len);
        struct state_file f;
        struct error err = {0};
        if (state_file_parse(&f, b, len, &err) < 0) {
            ASSERT_EQ(err.code, EX_DATAERR);
            ASSERT(err.msg[0] && !strchr(err.msg, '\n'));
            refused++;
            continue;
        }
        accepted++;
        read_everything(&f);
        state_file_release(&f);
    }
    ASSERT(accepted > 0 && refused > 0); /* both paths were exercised */
    free(b);
    state_writer_release(&w);
}

TEST(writer_refuses_bad_names_and_unclosed_sections)
{
    struct state_writer w;
    state_writer_init(&w, "x");
    ASSERT_EQ(state_section_begin(&w, "", 1), -1);
    state_writer_release(&w);
    state_writer_init(&w, "x");
    ASSERT_EQ(state_section_begin(&w, "has space", 1), -1);
    state_writer_release(&w);
    state_writer_init(&w, "x");
    ASSERT_EQ(state_section_begin(&w, "a-name-that-is-longer-than-31-bytes", 1), -1);
    state_writer_release(&w);
    state_writer_init(&w, "x");
    ASSERT_EQ(state_section_begin(&w, "open", 1), 0);
    struct error err = {0};
    ASSERT_EQ(state_writer_finish(&w, &err), -1);
    state_writer_release(&w);
}

TEST(duplicate_section_names_are_refused)
{
    struct state_writer w;
    state_writer_init(&w, "x");
    state_section_begin(&w, "a", 1);
    state_section_end(&w);
    state_section_begin(&w, "a", 1);
    state_section_end(&w);
    ASSERT_EQ(state_writer_finish(&w, NULL), 0);
    assert_refused(w.buf, w.len, "duplicate", 0);
    state_writer_release(&w);
}

TEST(file_write_replaces_whole_and_leaves_no_temporary)
{
    char path[512], tmp[520];
    snprintf(path, sizeof path, "%s/vm.vmplay-state", test_tmpdir());
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    struct state_writer w;
    build_big(&w);
    ASSERT_EQ(state_file_write(path, small_image, sizeof small_image, NULL), 0);
    ASSERT_EQ(state_file_write(path, w.buf, w.len, NULL), 0);
    uint8_t *b;
    size_t len;
    ASSERT_EQ(state_file_read(path, 1 << 20, &b, &len, NULL), 0);
    ASSERT_EQ(len, w.len);
    ASSERT_MEM_EQ(b, w.buf, len);
    ASSERT(access(tmp, F_OK) != 0);
    struct stat st;
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600);
    free(b);
    struct error err = {0};
    ASSERT_EQ(state_file_read(path, 10, &b, &len, &err), -1); /* larger than allowed */
    ASSERT_EQ(err.code, EX_DATAERR);
    state_writer_release(&w);
}

/* ---- the device list ---- */

struct fake {
    int id;
    uint32_t reg32;
    uint8_t reg8;
    int *log, *nlog; /* the order of calls: +id reset, -id free */
    int extra;       /* bytes load leaves unread (to test the exact-length check) */
};

static void fake_reset(void *o)
{
    struct fake *f = o;
    f->log[(*f->nlog)++] = f->id;
}

static void fake_free(void *o)
{
    struct fake *f = o;
    f->log[(*f->nlog)++] = -f->id;
}

static int fake_save(void *o, struct state_writer *w)
{
    struct fake *f = o;
    state_put_u32(w, f->reg32);
    state_put_u8(w, f->reg8);
    return 0;
}

static int fake_load(void *o, struct state_reader *r, struct error *err)
{
    struct fake *f = o;
    uint8_t v8;
    uint32_t v32;
    if (state_get_u32(r, &v32) < 0 || state_get_u8(r, &v8) < 0)
        return error_set(err, EX_DATAERR, "truncated");
    if (v8 > 3)
        return error_set(err, EX_DATAERR, "reg8 out of range");
    f->reg32 = v32;
    f->reg8 = v8;
    return 0;
}

static const struct device_ops fake_ops = {"fake", 2, false, fake_reset, fake_free, fake_save, fake_load};
static const struct device_ops mute_ops = {"mute", 1, true, NULL, fake_free, NULL, NULL};
static const struct device_ops nosave_ops = {"nosave", 1, false, fake_reset, fake_free, NULL, NULL};

TEST(reset_in_creation_order_free_in_reverse)
{
    int log[16], n = 0;
    struct fake a = {1, 0, 0, log, &n, 0}, b = {2, 0, 0, log, &n, 0}, c = {3, 0, 0, log, &n, 0};
    struct device_list l = {0};
    ASSERT(device_add(&l, &fake_ops, 0, &a) == &a);
    ASSERT(device_add(&l, &fake_ops, 1, NULL) == NULL); /* a failed _new is not registered */
    ASSERT(device_add(&l, &mute_ops, -1, &b) == &b);
    ASSERT(device_add(&l, &fake_ops, 1, &c) == &c);
    ASSERT_EQ(l.n, 3);
    ASSERT_STR_EQ(l.v[0].name, "fake0");
    ASSERT_STR_EQ(l.v[1].name, "mute");
    ASSERT_STR_EQ(l.v[2].name, "fake1");
    device_list_reset(&l);
    device_list_free(&l);
    static const int want[] = {1, 3, -3, -2, -1};
    ASSERT_EQ(n, 5);
    ASSERT_MEM_EQ(log, want, sizeof want);
    ASSERT_EQ(l.n, 0);
}

TEST(a_device_without_save_refuses_the_suspend_by_name)
{
    int log[8], n = 0;
    struct fake a = {1, 0, 0, log, &n, 0}, b = {2, 0, 0, log, &n, 0};
    struct device_list l = {0};
    device_add(&l, &fake_ops, -1, &a);
    device_add(&l, &nosave_ops, 3, &b);
    struct state_writer w;
    struct error err = {0};
    state_writer_init(&w, "x");
    ASSERT_EQ(device_list_save(&l, &w, &err), -1);
    ASSERT(strstr(err.msg, "nosave3"));
    ASSERT(!strchr(err.msg, '\n'));
    state_writer_release(&w);
    device_list_free(&l);
}

/* Saves two fakes (and a stateless one, which writes nothing) into an image. */
static void save_two(struct state_writer *w, uint32_t r0, uint32_t r1)
{
    int log[8], n = 0;
    struct fake a = {1, r0, 1, log, &n, 0}, m = {9, 0, 0, log, &n, 0}, b = {2, r1, 3, log, &n, 0};
    struct device_list l = {0};
    device_add(&l, &fake_ops, 0, &a);
    device_add(&l, &mute_ops, -1, &m);
    device_add(&l, &fake_ops, 1, &b);
    state_writer_init(w, "x");
    ASSERT_EQ(device_list_save(&l, w, NULL), 0);
    ASSERT_EQ(state_writer_finish(w, NULL), 0);
    ASSERT_EQ(w->nsections, 2);
    device_list_free(&l);
}

static int load_two(const uint8_t *buf, size_t len, struct fake *a, struct fake *b, struct error *err)
{
    struct device_list l = {0};
    struct state_file f;
    device_add(&l, &fake_ops, 0, a);
    device_add(&l, &fake_ops, 1, b);
    int rc = state_file_parse(&f, buf, len, err);
    if (rc == 0) {
        rc = device_list_load(&l, &f, err);
        if (rc == 0 && state_file_unclaimed(&f))
            rc = error_set(err, EX_DATAERR, "unclaimed %s", state_file_unclaimed(&f));
        state_file_release(&f);
    }
    free(l.v); /* the fakes live on the caller's stack */
    return rc;
}

TEST(save_and_load_round_trip)
{
    struct state_writer w;
    save_two(&w, 0x11111111, 0x22222222);
    int log[8], n = 0;
    struct fake a = {1, 0, 0, log, &n, 0}, b = {2, 0, 0, log, &n, 0};
    ASSERT_EQ(load_two(w.buf, w.len, &a, &b, NULL), 0);
    ASSERT_EQ(a.reg32, 0x11111111);
    ASSERT_EQ(a.reg8, 1);
    ASSERT_EQ(b.reg32, 0x22222222);
    ASSERT_EQ(b.reg8, 3);
    state_writer_release(&w);
}

TEST(load_refuses_missing_versioned_long_and_unclaimed_sections)
{
    int log[8], n = 0;
    struct fake a = {1, 0, 0, log, &n, 0}, b = {2, 0, 0, log, &n, 0};
    struct error err = {0};
    struct state_writer w;
    /* only fake0 */
    state_writer_init(&w, "x");
    state_section_begin(&w, "fake0", 2);
    fake_save(&a, &w);
    state_section_end(&w);
    state_writer_finish(&w, NULL);
    ASSERT_EQ(load_two(w.buf, w.len, &a, &b, &err), -1);
    ASSERT(strstr(err.msg, "fake1"));
    state_writer_release(&w);
    /* fake1 at section version 1 */
    state_writer_init(&w, "x");
    state_section_begin(&w, "fake0", 2);
    fake_save(&a, &w);
    state_section_end(&w);
    state_section_begin(&w, "fake1", 1);
    fake_save(&b, &w);
    state_section_end(&w);
    state_writer_finish(&w, NULL);
    ASSERT_EQ(load_two(w.buf, w.len, &a, &b, &err), -1);
    ASSERT(strstr(err.msg, "version 1"));
    state_writer_release(&w);
    /* fake1 one byte longer than its loader reads, then a section nobody owns */
    for (int k = 0; k < 3; k++) {
        state_writer_init(&w, "x");
        state_section_begin(&w, "fake0", 2);
        fake_save(&a, &w);
        state_section_end(&w);
        state_section_begin(&w, "fake1", 2);
        if (k == 2) {
            state_put_u8(&w, 0); /* truncated */
        } else {
            fake_save(&b, &w);
            if (k == 0)
                state_put_u8(&w, 0);
        }
        state_section_end(&w);
        if (k == 1) {
            state_section_begin(&w, "stranger", 1);
            state_section_end(&w);
        }
        state_writer_finish(&w, NULL);
        memset(&err, 0, sizeof err);
        ASSERT_EQ(load_two(w.buf, w.len, &a, &b, &err), -1);
        ASSERT_EQ(err.code, EX_DATAERR);
        ASSERT(strstr(err.msg, k == 1 ? "stranger" : "fake1"));
        state_writer_release(&w);
    }
}

TEST(a_loader_refuses_a_value_out_of_range)
{
    int log[8], n = 0;
    struct fake a = {1, 5, 200, log, &n, 0}, b = {2, 0, 0, log, &n, 0};
    struct state_writer w;
    struct error err = {0};
    state_writer_init(&w, "x");
    state_section_begin(&w, "fake0", 2);
    fake_save(&a, &w);
    state_section_end(&w);
    state_section_begin(&w, "fake1", 2);
    fake_save(&b, &w);
    state_section_end(&w);
    state_writer_finish(&w, NULL);
    a.reg32 = 0;
    ASSERT_EQ(load_two(w.buf, w.len, &a, &b, &err), -1);
    ASSERT(strstr(err.msg, "fake0"));
    ASSERT(strstr(err.msg, "out of range"));
    state_writer_release(&w);
}

/* ---- the identity section ---- */

static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ASSERT(f);
    fputs(text, f);
    fclose(f);
}

/* Saves the identity of vmx and the disks, then checks it against the files as they are now. */
struct id_fix {
    char vmx[512], disk[2][512];
    const char *disks[2];
    struct state_writer w;
};

static void id_fix_new(struct id_fix *f)
{
    snprintf(f->vmx, sizeof f->vmx, "%s/vm.vmx", test_tmpdir());
    put_file(f->vmx, "config.version = \"8\"\nmemsize = \"64\"\n");
    for (int i = 0; i < 2; i++) {
        snprintf(f->disk[i], sizeof f->disk[i], "%s/d%d.vmdk", test_tmpdir(), i);
        put_file(f->disk[i], i ? "second disk" : "# Disk DescriptorFile\nCID=12345678\n");
        f->disks[i] = f->disk[i];
    }
    state_writer_init(&f->w, "t");
    ASSERT_EQ(state_identity_save(&f->w, f->vmx, f->disks, 2, NULL), 0);
    ASSERT_EQ(state_writer_finish(&f->w, NULL), 0);
}

static int id_check(struct id_fix *f, int ndisks, struct error *err)
{
    struct state_file sf;
    memset(err, 0, sizeof *err);
    ASSERT_EQ(state_file_parse(&sf, f->w.buf, f->w.len, NULL), 0);
    int rc = state_identity_check(&sf, f->vmx, f->disks, ndisks, err);
    state_file_release(&sf);
    return rc;
}

static void set_mtime(const char *path, const struct stat *st)
{
    struct timespec t[2] = {st->st_atim, st->st_mtim};
    ASSERT_EQ(utimensat(AT_FDCWD, path, t, 0), 0);
}

TEST(identity_matches_unchanged_files_and_refuses_changed_ones)
{
    struct id_fix f;
    struct error err;
    struct stat st;
    id_fix_new(&f);
    ASSERT_EQ(id_check(&f, 2, &err), 0);
    /* the .vmx: its bytes count, not its time */
    put_file(f.vmx, "config.version = \"8\"\nmemsize = \"128\"\n");
    ASSERT_EQ(id_check(&f, 2, &err), -1);
    ASSERT_EQ(err.code, EX_DATAERR);
    ASSERT(strstr(err.msg, "vm.vmx") && !strchr(err.msg, '\n'));
    put_file(f.vmx, "config.version = \"8\"\nmemsize = \"64\"\n");
    ASSERT_EQ(id_check(&f, 2, &err), 0);
    /* a disk's head rewritten at the same size and time (a new CID) */
    ASSERT_EQ(stat(f.disk[0], &st), 0);
    put_file(f.disk[0], "# Disk DescriptorFile\nCID=87654321\n");
    set_mtime(f.disk[0], &st);
    ASSERT_EQ(id_check(&f, 2, &err), -1);
    ASSERT(strstr(err.msg, "d0.vmdk"));
    put_file(f.disk[0], "# Disk DescriptorFile\nCID=12345678\n");
    set_mtime(f.disk[0], &st);
    ASSERT_EQ(id_check(&f, 2, &err), 0);
    /* a disk touched, or grown */
    ASSERT_EQ(stat(f.disk[1], &st), 0);
    struct stat later = st;
    later.st_mtim.tv_sec += 10;
    set_mtime(f.disk[1], &later);
    ASSERT_EQ(id_check(&f, 2, &err), -1);
    ASSERT(strstr(err.msg, "d1.vmdk"));
    put_file(f.disk[1], "second disk, longer");
    set_mtime(f.disk[1], &st);
    ASSERT_EQ(id_check(&f, 2, &err), -1);
    /* another disk list */
    put_file(f.disk[1], "second disk");
    set_mtime(f.disk[1], &st);
    ASSERT_EQ(id_check(&f, 2, &err), 0);
    ASSERT_EQ(id_check(&f, 1, &err), -1);
    f.disks[1] = f.disk[0];
    ASSERT_EQ(id_check(&f, 2, &err), -1);
    /* a disk gone */
    f.disks[1] = f.disk[1];
    ASSERT_EQ(unlink(f.disk[1]), 0);
    ASSERT_EQ(id_check(&f, 2, &err), -1);
    ASSERT_EQ(err.code, EX_NOINPUT);
    state_writer_release(&f.w);
}
