/*
 * formats/vmx.c: every syntax rule and every refusal, on text fixtures.
 * Oracles: the values and line numbers written into each fixture, and the
 * published windows-1252 table (0x80 EURO SIGN U+20AC, 0x93 LEFT DOUBLE
 * QUOTATION MARK U+201C, 0xE9 LATIN SMALL LETTER E WITH ACUTE U+00E9).
 */
#include "formats/vmx.h"
#include "tests/unit/test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static struct vmx *parse_ok(const char *text)
{
    struct vmx *v = NULL;
    struct error e = { 0 };
    if (vmx_parse(text, strlen(text), "t.vmx", &v, &e) < 0)
        FAIL("parse failed: %s", e.msg);
    return v;
}

/* Parses text that must be refused; returns the error. */
static struct error parse_bad(const char *text, size_t len)
{
    struct vmx *v = (struct vmx *)1;
    struct error e = { 0 };
    if (vmx_parse(text, len, "t.vmx", &v, &e) == 0)
        FAIL("accepted: %s", text);
    ASSERT(v == NULL);
    return e;
}

#define ASSERT_HAS(msg, part)                                                       \
    do {                                                                            \
        if (!strstr((msg), (part)))                                                 \
            FAIL("\"%s\" does not contain \"%s\"", (msg), (part));                  \
    } while (0)

TEST(basic_entries_keep_order_spelling_and_line)
{
    struct vmx *v = parse_ok("config.version = \"8\"\nmemSize = \"512\"\ndisplayName = \"My VM\"\n");
    ASSERT_EQ(vmx_count(v), 3);
    ASSERT_STR_EQ(vmx_entry_at(v, 1)->key, "memSize");
    ASSERT_STR_EQ(vmx_entry_at(v, 1)->value, "512");
    ASSERT_EQ(vmx_entry_at(v, 1)->line, 2);
    ASSERT_STR_EQ(vmx_entry_at(v, 2)->value, "My VM");
    ASSERT(vmx_entry_at(v, 3) == NULL);
    ASSERT_STR_EQ(vmx_name(v), "t.vmx");
    vmx_free(v);
}

TEST(keys_compare_case_insensitively)
{
    struct vmx *v = parse_ok("memSize = \"512\"\nIDE0:0.FileName = \"a.vmdk\"\n");
    ASSERT_STR_EQ(vmx_get(v, "memsize"), "512");
    ASSERT_STR_EQ(vmx_get(v, "MEMSIZE"), "512");
    ASSERT_STR_EQ(vmx_get(v, "ide0:0.fileName"), "a.vmdk");
    ASSERT(vmx_get(v, "memsize2") == NULL);
    ASSERT_EQ(vmx_index(v, "ide0:0.filename"), 1);
    vmx_free(v);
}

TEST(unquoted_values_and_missing_spaces)
{
    struct vmx *v = parse_ok("a=1\nb= \"two words\"\nc =yes   # trailing comment\n\td\t=\t\"x\"\t\n"
                             "e = \"\"\nf =\n");
    ASSERT_STR_EQ(vmx_get(v, "a"), "1");
    ASSERT_STR_EQ(vmx_get(v, "b"), "two words");
    ASSERT_STR_EQ(vmx_get(v, "c"), "yes");
    ASSERT_STR_EQ(vmx_get(v, "d"), "x");
    ASSERT_STR_EQ(vmx_get(v, "e"), "");
    ASSERT_STR_EQ(vmx_get(v, "f"), "");
    ASSERT_EQ(vmx_find(v, "d")->line, 4);
    vmx_free(v);
}

TEST(comments_shebang_and_blank_lines)
{
    struct vmx *v = parse_ok("#!/usr/bin/vmware\n\n# a comment = \"no\"\n   # indented\n"
                             "k = \"v # not a comment\" # a comment\n\n\nlast = \"1\"");
    ASSERT_EQ(vmx_count(v), 2);
    ASSERT_STR_EQ(vmx_get(v, "k"), "v # not a comment");
    ASSERT_EQ(vmx_find(v, "k")->line, 5);
    ASSERT_EQ(vmx_find(v, "last")->line, 8);
    vmx_free(v);
}

TEST(crlf_line_endings)
{
    struct vmx *v = parse_ok("a = \"1\"\r\nb = \"2\"\r\n");
    ASSERT_STR_EQ(vmx_get(v, "a"), "1");
    ASSERT_STR_EQ(vmx_get(v, "b"), "2");
    ASSERT_EQ(vmx_find(v, "b")->line, 2);
    vmx_free(v);
}

TEST(hex_escapes)
{
    struct vmx *v = parse_ok("annotation = \"say |22hi|22 a|7Cb a|7cb line1|0Aline2\"\n"
                             "odd = \"100|zz |2\"\nend = \"x|\"\n");
    ASSERT_STR_EQ(vmx_get(v, "annotation"), "say \"hi\" a|b a|b line1\nline2");
    ASSERT_STR_EQ(vmx_get(v, "odd"), "100|zz |2");
    ASSERT_STR_EQ(vmx_get(v, "end"), "x|");
    vmx_free(v);
}

TEST(escaped_nul_is_refused_with_line_and_key)
{
    const char *t = "a = \"1\"\nbad.key = \"x|00y\"\n";
    struct error e = parse_bad(t, strlen(t));
    ASSERT_EQ(e.code, EX_DATAERR);
    ASSERT_HAS(e.msg, "t.vmx:2:");
    ASSERT_HAS(e.msg, "bad.key");
}

TEST(duplicate_key_last_wins_first_position_kept)
{
    struct vmx *v = parse_ok("memsize = \"256\"\nguestOS = \"other\"\nMemSize = \"1024\"\n");
    ASSERT_EQ(vmx_count(v), 2);
    ASSERT_STR_EQ(vmx_get(v, "memsize"), "1024");
    ASSERT_EQ(vmx_find(v, "memsize")->line, 3);
    ASSERT_STR_EQ(vmx_entry_at(v, 0)->key, "memsize");
    ASSERT_STR_EQ(vmx_entry_at(v, 1)->key, "guestOS");
    vmx_free(v);
}

TEST(windows_1252_is_converted_to_utf8)
{
    const char *t = ".encoding = \"windows-1252\"\n"
                    "displayName = \"Caf\xe9 \x80 \x93q\x94\"\n";
    struct vmx *v = parse_ok(t);
    ASSERT_STR_EQ(vmx_get(v, "displayName"),
                  "Caf\xc3\xa9 \xe2\x82\xac \xe2\x80\x9cq\xe2\x80\x9d");
    ASSERT_STR_EQ(vmx_get(v, ".encoding"), "windows-1252");
    vmx_free(v);
}

TEST(no_encoding_and_not_utf8_is_read_as_windows_1252)
{
    struct vmx *v = parse_ok("displayName = \"M\xfcller\"\n");
    ASSERT_STR_EQ(vmx_get(v, "displayName"), "M\xc3\xbcller");
    vmx_free(v);
}

TEST(utf8_passes_through)
{
    struct vmx *v = parse_ok(".encoding = \"UTF-8\"\ndisplayName = \"\xc3\x9c" "ber \xe2\x82\xac\"\n");
    ASSERT_STR_EQ(vmx_get(v, "displayName"), "\xc3\x9c" "ber \xe2\x82\xac");
    vmx_free(v);
}

TEST(invalid_utf8_under_utf8_encoding_names_line_and_key)
{
    const char *t = ".encoding = \"UTF-8\"\nok = \"1\"\ndisplayName = \"M\xfcller\"\n";
    struct error e = parse_bad(t, strlen(t));
    ASSERT_EQ(e.code, EX_DATAERR);
    ASSERT_HAS(e.msg, "t.vmx:3:");
    ASSERT_HAS(e.msg, "displayName");
    ASSERT_HAS(e.msg, "UTF-8");
}

TEST(overlong_utf8_is_invalid)
{
    const char *t = ".encoding = \"UTF-8\"\nx = \"\xc0\xaf\"\n";
    struct error e = parse_bad(t, strlen(t));
    ASSERT_HAS(e.msg, "t.vmx:2:");
}

TEST(unsupported_encoding)
{
    const char *t = "a = \"1\"\n.encoding = \"Shift_JIS\"\n";
    struct error e = parse_bad(t, strlen(t));
    ASSERT_EQ(e.code, EX_DATAERR);
    ASSERT_HAS(e.msg, "t.vmx:2: .encoding");
    ASSERT_HAS(e.msg, "Shift_JIS");
}

TEST(binary_garbage_is_one_clear_line)
{
    const char t[] = "a = \"1\"\nb = \"2\"\n\x7f" "ELF\x02\x01\x01\x00\x00";
    struct error e = parse_bad(t, sizeof t - 1);
    ASSERT_EQ(e.code, EX_DATAERR);
    ASSERT_HAS(e.msg, "t.vmx:3: not a .vmx file");
    ASSERT(!strchr(e.msg, '\n'));
}

TEST(absurdly_long_text_is_refused)
{
    size_t n = VMX_MAX_FILE_SIZE + 1;
    char *t = malloc(n);
    memset(t, '#', n);
    struct error e = parse_bad(t, n);
    free(t);
    ASSERT_EQ(e.code, EX_DATAERR);
    ASSERT_HAS(e.msg, "not a .vmx file");
}

TEST(syntax_errors_name_line_and_key)
{
    static const struct {
        const char *text, *where, *what;
    } cases[] = {
        { "a = \"1\"\njust some words\n", "t.vmx:2:", "expected key" },
        { "a = \"1\"\n\nb = \"unterminated\n", "t.vmx:3: b:", "missing closing quote" },
        { "b = \"x\" y\n", "t.vmx:1: b:", "after the closing quote" },
        { "a key = \"1\"\n", "t.vmx:1:", "bad key" },
        { " = \"1\"\n", "t.vmx:1:", "bad key" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct error e = parse_bad(cases[i].text, strlen(cases[i].text));
        ASSERT_EQ(e.code, EX_DATAERR);
        ASSERT_HAS(e.msg, cases[i].where);
        ASSERT_HAS(e.msg, cases[i].what);
    }
}

TEST(booleans_any_case_and_bad_boolean_error)
{
    struct vmx *v = parse_ok("a = \"TRUE\"\nb = \"false\"\nc = \"Yes\"\nd = \"NO\"\ne = \"maybe\"\n");
    struct error e = { 0 };
    bool x;
    ASSERT_EQ(vmx_get_bool(v, "a", false, &x, &e), 0);
    ASSERT(x);
    ASSERT_EQ(vmx_get_bool(v, "B", true, &x, &e), 0);
    ASSERT(!x);
    ASSERT_EQ(vmx_get_bool(v, "c", false, &x, &e), 0);
    ASSERT(x);
    ASSERT_EQ(vmx_get_bool(v, "d", true, &x, &e), 0);
    ASSERT(!x);
    ASSERT_EQ(vmx_get_bool(v, "absent", true, &x, &e), 0);
    ASSERT(x);
    ASSERT_EQ(vmx_get_bool(v, "e", false, &x, &e), -1);
    ASSERT_EQ(e.code, EX_DATAERR);
    ASSERT_STR_EQ(e.msg, "t.vmx:5: e: \"maybe\" is not a boolean (TRUE or FALSE)");
    vmx_free(v);
}

TEST(integers_ranges_and_errors)
{
    struct vmx *v = parse_ok("m = \"512\"\nn = \"-3\"\nbad = \"12abc\"\nbig = \"99999999999999999999\"\n"
                             "empty = \"\"\n");
    struct error e = { 0 };
    int64_t x;
    ASSERT_EQ(vmx_get_int(v, "m", 0, 1, 1024, &x, &e), 0);
    ASSERT_EQ(x, 512);
    ASSERT_EQ(vmx_get_int(v, "n", 0, -10, 10, &x, &e), 0);
    ASSERT_EQ(x, (uint64_t)-3);
    ASSERT_EQ(vmx_get_int(v, "absent", 32, 1, 64, &x, &e), 0);
    ASSERT_EQ(x, 32);
    ASSERT_EQ(vmx_get_int(v, "m", 0, 1, 100, &x, &e), -1);
    ASSERT_STR_EQ(e.msg, "t.vmx:1: m: 512 is out of range (1 to 100)");
    ASSERT_EQ(vmx_get_int(v, "bad", 0, 0, 100, &x, &e), -1);
    ASSERT_STR_EQ(e.msg, "t.vmx:3: bad: \"12abc\" is not a number");
    ASSERT_EQ(vmx_get_int(v, "big", 0, 0, 100, &x, &e), -1);
    ASSERT_HAS(e.msg, "t.vmx:4: big");
    ASSERT_EQ(vmx_get_int(v, "empty", 0, 0, 100, &x, &e), -1);
    ASSERT_HAS(e.msg, "t.vmx:5: empty");
    vmx_free(v);
}

TEST(many_keys_stay_findable)
{
    size_t n = 20000, cap = n * 32;
    char *t = malloc(cap), *p = t;
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "key%zu.X = \"%zu\"\n", i, i * 7);
    struct vmx *v = parse_ok(t);
    free(t);
    ASSERT_EQ(vmx_count(v), n);
    char k[32], want[32];
    for (size_t i = 0; i < n; i += 997) {
        snprintf(k, sizeof k, "KEY%zu.x", i);
        snprintf(want, sizeof want, "%zu", i * 7);
        ASSERT_STR_EQ(vmx_get(v, k), want);
        ASSERT_EQ(vmx_find(v, k)->line, i + 1);
    }
    vmx_free(v);
}

TEST(empty_text_is_an_empty_dictionary)
{
    struct vmx *v = parse_ok("");
    ASSERT_EQ(vmx_count(v), 0);
    ASSERT(vmx_get(v, "a") == NULL);
    vmx_free(v);
}

TEST(load_missing_file_is_noinput_naming_path)
{
    char path[512];
    snprintf(path, sizeof path, "%s/nothere.vmx", test_tmpdir());
    struct vmx *v;
    struct error e = { 0 };
    ASSERT_EQ(vmx_load(path, &v, &e), -1);
    ASSERT_EQ(e.code, EX_NOINPUT);
    ASSERT_HAS(e.msg, path);
}

TEST(load_reads_a_file_and_refuses_a_huge_one)
{
    char path[512];
    snprintf(path, sizeof path, "%s/a.vmx", test_tmpdir());
    FILE *f = fopen(path, "w");
    fputs("#!/usr/bin/vmware\nmemsize = \"64\"\n", f);
    fclose(f);
    struct vmx *v;
    struct error e = { 0 };
    ASSERT_EQ(vmx_load(path, &v, &e), 0);
    ASSERT_STR_EQ(vmx_get(v, "memsize"), "64");
    ASSERT_STR_EQ(vmx_name(v), path);
    vmx_free(v);

    int fd = open(path, O_WRONLY);
    ASSERT(ftruncate(fd, 64 << 20) == 0);
    close(fd);
    ASSERT_EQ(vmx_load(path, &v, &e), -1);
    ASSERT_EQ(e.code, EX_DATAERR);
    ASSERT_HAS(e.msg, path);
    ASSERT_HAS(e.msg, "not a .vmx file");
}

TEST(load_refuses_a_folder)
{
    struct vmx *v;
    struct error e = { 0 };
    ASSERT_EQ(vmx_load(test_tmpdir(), &v, &e), -1);
    ASSERT_HAS(e.msg, "not a regular file");
}

TEST(error_messages_stay_one_printable_line)
{
    struct vmx *v = parse_ok("b = \"line1|0Aline2\"\nn = \"0123456789012345678901234567890123456789XYZ\"\n");
    struct error e = { 0 };
    bool x;
    int64_t i;
    ASSERT_EQ(vmx_get_bool(v, "b", false, &x, &e), -1);
    ASSERT_STR_EQ(e.msg, "t.vmx:1: b: \"line1?line2\" is not a boolean (TRUE or FALSE)");
    ASSERT_EQ(vmx_get_int(v, "n", 0, 0, 1, &i, &e), -1);
    ASSERT_STR_EQ(e.msg, "t.vmx:2: n: \"0123456789012345678901234567890123456789...\" is not a number");
    vmx_free(v);
}

TEST(utf8_byte_order_mark_is_skipped)
{
    struct vmx *v = parse_ok("\xef\xbb\xbf.encoding = \"UTF-8\"\nmemsize = \"8\"\n");
    ASSERT_STR_EQ(vmx_entry_at(v, 0)->key, ".encoding");
    ASSERT_STR_EQ(vmx_get(v, "memsize"), "8");
    vmx_free(v);
}
