/*
 * send-keys names (control/keys.c): letters, digits, f-keys, keypad and the
 * named keys map to the USB HID usages of their positions (HID Usage Tables,
 * Keyboard/Keypad page), case-blind; a chord keeps press order and refuses
 * an unknown or empty name, a key twice and a ninth key.
 */
#include "tests/unit/test.h"

#include "control/keys.h"

static uint32_t usage(const char *name)
{
    return keys_usage(name, strlen(name));
}

TEST(letters_digits_fkeys)
{
    ASSERT_EQ(usage("a"), 0x04);
    ASSERT_EQ(usage("Z"), 0x1D);
    ASSERT_EQ(usage("1"), 0x1E);
    ASSERT_EQ(usage("9"), 0x26);
    ASSERT_EQ(usage("0"), 0x27);
    ASSERT_EQ(usage("f1"), 0x3A);
    ASSERT_EQ(usage("F12"), 0x45);
    ASSERT_EQ(usage("f13"), 0);
    ASSERT_EQ(usage("f0"), 0);
    ASSERT_EQ(usage("f01"), 0);
    ASSERT_EQ(usage("kp_0"), 0x62);
    ASSERT_EQ(usage("kp_9"), 0x61);
    ASSERT_EQ(usage("kp_10"), 0);
}

TEST(named_keys)
{
    ASSERT_EQ(usage("enter"), 0x28);
    ASSERT_EQ(usage("ret"), 0x28);
    ASSERT_EQ(usage("esc"), 0x29);
    ASSERT_EQ(usage("tab"), 0x2B);
    ASSERT_EQ(usage("space"), 0x2C);
    ASSERT_EQ(usage("backspace"), 0x2A);
    ASSERT_EQ(usage("minus"), 0x2D);
    ASSERT_EQ(usage("delete"), 0x4C);
    ASSERT_EQ(usage("DEL"), 0x4C);
    ASSERT_EQ(usage("up"), 0x52);
    ASSERT_EQ(usage("ctrl"), 0xE0);
    ASSERT_EQ(usage("shift"), 0xE1);
    ASSERT_EQ(usage("alt"), 0xE2);
    ASSERT_EQ(usage("meta"), 0xE3);
    ASSERT_EQ(usage("alt_r"), 0xE6);
    ASSERT_EQ(usage("altgr"), 0xE6);
    ASSERT_EQ(usage(""), 0);
    ASSERT_EQ(usage("ctr"), 0);
    ASSERT_EQ(usage("ctrlx"), 0);
    ASSERT_EQ(keys_usage("ctrl-alt", 4), 0xE0); /* a name is len bytes, not up to a NUL */
}

TEST(chord_order)
{
    uint32_t u[KEYS_CHORD_MAX];
    const char *bad;
    size_t badlen;
    ASSERT_EQ(keys_parse_chord("ctrl-alt-del", u, &bad, &badlen), 3);
    ASSERT_EQ(u[0], 0xE0);
    ASSERT_EQ(u[1], 0xE2);
    ASSERT_EQ(u[2], 0x4C);
    ASSERT_EQ(keys_parse_chord("shift-4", u, &bad, &badlen), 2);
    ASSERT_EQ(u[1], 0x21);
    ASSERT_EQ(keys_parse_chord("x", u, &bad, &badlen), 1);
}

TEST(chord_errors)
{
    uint32_t u[KEYS_CHORD_MAX];
    const char *bad = NULL;
    size_t badlen = 0;
    const char *c = "ctrl-alt-nokey";
    ASSERT_EQ(keys_parse_chord(c, u, &bad, &badlen), KEYS_ERR_NAME);
    ASSERT(bad == c + 9 && badlen == 5);
    ASSERT_EQ(keys_parse_chord("ctrl--a", u, &bad, &badlen), KEYS_ERR_NAME);
    ASSERT_EQ(badlen, 0);
    ASSERT_EQ(keys_parse_chord("", u, &bad, &badlen), KEYS_ERR_NAME);
    ASSERT_EQ(keys_parse_chord("a-", u, &bad, &badlen), KEYS_ERR_NAME);
    ASSERT_EQ(keys_parse_chord("a-b-A", u, &bad, &badlen), KEYS_ERR_TWICE);
    ASSERT_EQ(keys_parse_chord("a-b-c-d-e-f-g-h", u, &bad, &badlen), 8);
    ASSERT_EQ(keys_parse_chord("a-b-c-d-e-f-g-h-i", u, &bad, &badlen), KEYS_ERR_TOO_MANY);
    ASSERT(bad[0] == 'i');
}
