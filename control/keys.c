/*
 * send-keys names -> USB HID usages (see keys.h). Letters, digits and
 * f1-f12 are computed; every other name is in one table, with QEMU's
 * sendkey spelling where it has one (ret, spc, kp_*).
 */
#include "control/keys.h"

#include <ctype.h>
#include <stdbool.h>
#include <strings.h>

#include "devices/input.h"

struct key_name {
    const char *name;
    uint32_t usage;
};

static const struct key_name key_names[] = {
    {"enter", HID_KEY_ENTER}, {"ret", HID_KEY_ENTER}, {"return", HID_KEY_ENTER},
    {"esc", 0x29}, {"escape", 0x29}, {"backspace", 0x2A}, {"tab", 0x2B},
    {"space", 0x2C}, {"spc", 0x2C}, {"minus", 0x2D}, {"equal", 0x2E},
    {"bracket_left", 0x2F}, {"bracket_right", 0x30}, {"backslash", 0x31},
    {"semicolon", 0x33}, {"apostrophe", 0x34}, {"grave", 0x35}, {"grave_accent", 0x35},
    {"comma", 0x36}, {"dot", 0x37}, {"slash", 0x38}, {"caps_lock", 0x39},
    {"print", 0x46}, {"sysrq", 0x46}, {"scroll_lock", 0x47}, {"pause", 0x48},
    {"insert", HID_KEY_INSERT}, {"home", 0x4A}, {"pgup", 0x4B}, {"delete", HID_KEY_DELETE},
    {"del", HID_KEY_DELETE}, {"end", 0x4D}, {"pgdn", 0x4E}, {"right", 0x4F},
    {"left", 0x50}, {"down", 0x51}, {"up", 0x52}, {"num_lock", 0x53},
    {"kp_divide", 0x54}, {"kp_multiply", 0x55}, {"kp_subtract", 0x56}, {"kp_add", 0x57},
    {"kp_enter", 0x58}, {"kp_decimal", 0x63}, {"menu", 0x65},
    {"ctrl", HID_KEY_LEFTCTRL}, {"shift", 0xE1}, {"alt", HID_KEY_LEFTALT}, {"meta", 0xE3},
    {"ctrl_r", HID_KEY_RIGHTCTRL}, {"shift_r", 0xE5}, {"alt_r", HID_KEY_RIGHTALT},
    {"altgr", HID_KEY_RIGHTALT}, {"meta_r", 0xE7},
};

static bool name_is(const char *name, size_t len, const char *want)
{
    return strncasecmp(name, want, len) == 0 && want[len] == 0;
}

/* "f1".."f12", "kp_0".."kp_9": the number after prefix, or -1. */
static int numbered(const char *name, size_t len, const char *prefix)
{
    size_t p = 0;
    while (prefix[p]) {
        if (p >= len || tolower((unsigned char)name[p]) != prefix[p])
            return -1;
        p++;
    }
    if (p == len || len - p > 2 || (len - p == 2 && name[p] == '0'))
        return -1;
    int v = 0;
    for (; p < len; p++) {
        if (name[p] < '0' || name[p] > '9')
            return -1;
        v = v * 10 + (name[p] - '0');
    }
    return v;
}

uint32_t keys_usage(const char *name, size_t len)
{
    if (len == 1) {
        char c = name[0] | 0x20;
        if (c >= 'a' && c <= 'z')
            return 0x04 + (uint32_t)(c - 'a');
        if (name[0] >= '1' && name[0] <= '9')
            return 0x1E + (uint32_t)(name[0] - '1');
        if (name[0] == '0')
            return 0x27;
        return 0;
    }
    int f = numbered(name, len, "f");
    if (f >= 1 && f <= 12)
        return 0x3A + (uint32_t)(f - 1);
    int kp = numbered(name, len, "kp_");
    if (kp >= 1 && kp <= 9)
        return 0x59 + (uint32_t)(kp - 1);
    if (kp == 0)
        return 0x62;
    for (size_t i = 0; i < sizeof key_names / sizeof key_names[0]; i++)
        if (name_is(name, len, key_names[i].name))
            return key_names[i].usage;
    return 0;
}

int keys_parse_chord(const char *chord, uint32_t usages[KEYS_CHORD_MAX], const char **bad,
                     size_t *badlen)
{
    int n = 0;
    const char *p = chord;
    for (;;) {
        const char *end = p;
        while (*end && *end != '-')
            end++;
        size_t len = (size_t)(end - p);
        uint32_t u = keys_usage(p, len);
        bool twice = false;
        for (int i = 0; i < n; i++)
            twice |= usages[i] == u;
        if (!u || twice || n == KEYS_CHORD_MAX) {
            *bad = p;
            *badlen = len;
            return !u ? KEYS_ERR_NAME : twice ? KEYS_ERR_TWICE : KEYS_ERR_TOO_MANY;
        }
        usages[n++] = u;
        if (!*end)
            return n;
        p = end + 1;
    }
}
