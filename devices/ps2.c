/*
 * PS/2 keyboard and mouse (see ps2.h). Both answer host commands with ACK
 * (0xFA), or RESEND (0xFE) for unknown ones, and keep their replies and
 * input in a byte queue. Keyboard: reset (BAT 0xAA), set/get scancode set
 * (1 and 2; a request for set 3 is acknowledged and ignored), LEDs,
 * typematic rate (stored; repeats come from the front end's repeated key
 * downs), enable/disable, defaults, echo, ID, resend. Mouse: reset (AA 00),
 * defaults, stream/remote/wrap modes, sample rate, resolution, scaling
 * (2:1 applied to stream packets), status request, read data, and the
 * sample-rate knocks 200-100-80 (ID 3, wheel in a fourth byte) and
 * 200-200-80 after it (ID 4, wheel and buttons 4/5).
 */
#include "devices/ps2.h"

#include <stdlib.h>

#define PS2_ACK 0xfa
#define PS2_RESEND 0xfe
#define PS2_BAT_OK 0xaa
#define PS2_ECHO 0xee

#define QUEUE_SIZE 256

struct ps2_queue {
    uint8_t data[QUEUE_SIZE];
    unsigned head, count;
};

static unsigned q_room(const struct ps2_queue *q)
{
    return QUEUE_SIZE - q->count;
}

static void q_put(struct ps2_queue *q, uint8_t v)
{
    if (q->count < QUEUE_SIZE)
        q->data[(q->head + q->count++) % QUEUE_SIZE] = v;
}

static int q_get(struct ps2_queue *q)
{
    if (!q->count)
        return -1;
    uint8_t v = q->data[q->head];
    q->head = (q->head + 1) % QUEUE_SIZE;
    q->count--;
    return v;
}

/* ---- keymap: USB HID usage -> set 2 (Microsoft Keyboard Scan Code Specification) ---- */

struct keymap_entry {
    uint32_t usage;
    uint16_t set2;
};

static const struct keymap_entry keymap[] = {
    {0x000004, 0x001c}, /* A */
    {0x000005, 0x0032}, /* B */
    {0x000006, 0x0021}, /* C */
    {0x000007, 0x0023}, /* D */
    {0x000008, 0x0024}, /* E */
    {0x000009, 0x002b}, /* F */
    {0x00000a, 0x0034}, /* G */
    {0x00000b, 0x0033}, /* H */
    {0x00000c, 0x0043}, /* I */
    {0x00000d, 0x003b}, /* J */
    {0x00000e, 0x0042}, /* K */
    {0x00000f, 0x004b}, /* L */
    {0x000010, 0x003a}, /* M */
    {0x000011, 0x0031}, /* N */
    {0x000012, 0x0044}, /* O */
    {0x000013, 0x004d}, /* P */
    {0x000014, 0x0015}, /* Q */
    {0x000015, 0x002d}, /* R */
    {0x000016, 0x001b}, /* S */
    {0x000017, 0x002c}, /* T */
    {0x000018, 0x003c}, /* U */
    {0x000019, 0x002a}, /* V */
    {0x00001a, 0x001d}, /* W */
    {0x00001b, 0x0022}, /* X */
    {0x00001c, 0x0035}, /* Y */
    {0x00001d, 0x001a}, /* Z */
    {0x00001e, 0x0016}, /* 1 */
    {0x00001f, 0x001e}, /* 2 */
    {0x000020, 0x0026}, /* 3 */
    {0x000021, 0x0025}, /* 4 */
    {0x000022, 0x002e}, /* 5 */
    {0x000023, 0x0036}, /* 6 */
    {0x000024, 0x003d}, /* 7 */
    {0x000025, 0x003e}, /* 8 */
    {0x000026, 0x0046}, /* 9 */
    {0x000027, 0x0045}, /* 0 */
    {0x000028, 0x005a}, /* Enter */
    {0x000029, 0x0076}, /* Esc */
    {0x00002a, 0x0066}, /* Backspace */
    {0x00002b, 0x000d}, /* Tab */
    {0x00002c, 0x0029}, /* Space */
    {0x00002d, 0x004e}, /* Minus */
    {0x00002e, 0x0055}, /* Equal */
    {0x00002f, 0x0054}, /* LeftBracket */
    {0x000030, 0x005b}, /* RightBracket */
    {0x000031, 0x005d}, /* Backslash */
    {0x000032, 0x005d}, /* NonUSHash */
    {0x000033, 0x004c}, /* Semicolon */
    {0x000034, 0x0052}, /* Apostrophe */
    {0x000035, 0x000e}, /* Grave */
    {0x000036, 0x0041}, /* Comma */
    {0x000037, 0x0049}, /* Period */
    {0x000038, 0x004a}, /* Slash */
    {0x000039, 0x0058}, /* CapsLock */
    {0x00003a, 0x0005}, /* F1 */
    {0x00003b, 0x0006}, /* F2 */
    {0x00003c, 0x0004}, /* F3 */
    {0x00003d, 0x000c}, /* F4 */
    {0x00003e, 0x0003}, /* F5 */
    {0x00003f, 0x000b}, /* F6 */
    {0x000040, 0x0083}, /* F7 */
    {0x000041, 0x000a}, /* F8 */
    {0x000042, 0x0001}, /* F9 */
    {0x000043, 0x0009}, /* F10 */
    {0x000044, 0x0078}, /* F11 */
    {0x000045, 0x0007}, /* F12 */
    {0x000047, 0x007e}, /* ScrollLock */
    {0x000049, 0xe070}, /* Insert */
    {0x00004a, 0xe06c}, /* Home */
    {0x00004b, 0xe07d}, /* PageUp */
    {0x00004c, 0xe071}, /* Delete */
    {0x00004d, 0xe069}, /* End */
    {0x00004e, 0xe07a}, /* PageDown */
    {0x00004f, 0xe074}, /* Right */
    {0x000050, 0xe06b}, /* Left */
    {0x000051, 0xe072}, /* Down */
    {0x000052, 0xe075}, /* Up */
    {0x000053, 0x0077}, /* NumLock */
    {0x000054, 0xe04a}, /* KPDivide */
    {0x000055, 0x007c}, /* KPMultiply */
    {0x000056, 0x007b}, /* KPMinus */
    {0x000057, 0x0079}, /* KPPlus */
    {0x000058, 0xe05a}, /* KPEnter */
    {0x000059, 0x0069}, /* KP1 */
    {0x00005a, 0x0072}, /* KP2 */
    {0x00005b, 0x007a}, /* KP3 */
    {0x00005c, 0x006b}, /* KP4 */
    {0x00005d, 0x0073}, /* KP5 */
    {0x00005e, 0x0074}, /* KP6 */
    {0x00005f, 0x006c}, /* KP7 */
    {0x000060, 0x0075}, /* KP8 */
    {0x000061, 0x007d}, /* KP9 */
    {0x000062, 0x0070}, /* KP0 */
    {0x000063, 0x0071}, /* KPPeriod */
    {0x000064, 0x0061}, /* NonUSBackslash */
    {0x000065, 0xe02f}, /* Application */
    {0x000066, 0xe037}, /* Power */
    {0x000067, 0x000f}, /* KPEqual */
    {0x000068, 0x0008}, /* F13 */
    {0x000069, 0x0010}, /* F14 */
    {0x00006a, 0x0018}, /* F15 */
    {0x00006b, 0x0020}, /* F16 */
    {0x00006c, 0x0028}, /* F17 */
    {0x00006d, 0x0030}, /* F18 */
    {0x00006e, 0x0038}, /* F19 */
    {0x00006f, 0x0040}, /* F20 */
    {0x000070, 0x0048}, /* F21 */
    {0x000071, 0x0050}, /* F22 */
    {0x000072, 0x0057}, /* F23 */
    {0x000073, 0x005f}, /* F24 */
    {0x00007f, 0xe023}, /* Mute */
    {0x000080, 0xe032}, /* VolumeUp */
    {0x000081, 0xe021}, /* VolumeDown */
    {0x000085, 0x006d}, /* KPComma */
    {0x000087, 0x0051}, /* Ro */
    {0x000088, 0x0013}, /* KatakanaHiragana */
    {0x000089, 0x006a}, /* Yen */
    {0x00008a, 0x0064}, /* Henkan */
    {0x00008b, 0x0067}, /* Muhenkan */
    {0x0000e0, 0x0014}, /* LeftCtrl */
    {0x0000e1, 0x0012}, /* LeftShift */
    {0x0000e2, 0x0011}, /* LeftAlt */
    {0x0000e3, 0xe01f}, /* LeftGUI */
    {0x0000e4, 0xe014}, /* RightCtrl */
    {0x0000e5, 0x0059}, /* RightShift */
    {0x0000e6, 0xe011}, /* RightAlt */
    {0x0000e7, 0xe027}, /* RightGUI */
    {0x010081, 0xe037}, /* SystemPowerDown */
    {0x010082, 0xe03f}, /* SystemSleep */
    {0x010083, 0xe05e}, /* SystemWake */
    {0x0c00b5, 0xe04d}, /* ScanNextTrack */
    {0x0c00b6, 0xe015}, /* ScanPreviousTrack */
    {0x0c00b7, 0xe03b}, /* Stop */
    {0x0c00cd, 0xe034}, /* PlayPause */
    {0x0c00e2, 0xe023}, /* CMute */
    {0x0c00e9, 0xe032}, /* CVolumeUp */
    {0x0c00ea, 0xe021}, /* CVolumeDown */
    {0x0c0183, 0xe050}, /* MediaSelect */
    {0x0c018a, 0xe048}, /* Mail */
    {0x0c0192, 0xe02b}, /* Calculator */
    {0x0c0194, 0xe040}, /* MyComputer */
    {0x0c0221, 0xe010}, /* WWWSearch */
    {0x0c0223, 0xe03a}, /* WWWHome */
    {0x0c0224, 0xe038}, /* WWWBack */
    {0x0c0225, 0xe030}, /* WWWForward */
    {0x0c0226, 0xe028}, /* WWWStop */
    {0x0c0227, 0xe020}, /* WWWRefresh */
    {0x0c022a, 0xe018}, /* WWWFavorites */
};

/* The 8042's set 2 -> set 1 translation for codes below 0x80 (0x83, F7, is special-cased). */
static const uint8_t xlate[128] = {
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
    0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
    0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
    0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
    0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
    0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
};

#define HID_PRINTSCREEN 0x46
#define HID_PAUSE 0x48

uint8_t ps2_translate(uint8_t set2)
{
    if (set2 == 0x83)
        return 0x41;
    return set2 < 0x80 ? xlate[set2] : set2;
}

uint16_t ps2_hid_to_set2(uint32_t hid_usage)
{
    size_t lo = 0, hi = sizeof keymap / sizeof keymap[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (keymap[mid].usage == hid_usage)
            return keymap[mid].set2;
        if (keymap[mid].usage < hid_usage)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* ---- keyboard ---- */

enum kbd_arg { ARG_NONE, ARG_LEDS, ARG_SET, ARG_TYPEMATIC };

struct ps2_kbd {
    struct ps2_queue q;
    void (*notify)(void *opaque);
    void *opaque;
    uint8_t set, leds, typematic, last;
    enum kbd_arg arg;
    bool scanning;
};

static void kbd_defaults(struct ps2_kbd *k)
{
    k->set = 2;
    k->typematic = 0x2b; /* 10.9 characters/s, 500 ms */
    k->leds = 0;
}

void ps2_kbd_reset(struct ps2_kbd *kbd)
{
    kbd->q.head = kbd->q.count = 0;
    kbd_defaults(kbd);
    kbd->arg = ARG_NONE;
    kbd->scanning = true;
    kbd->last = 0;
}

struct ps2_kbd *ps2_kbd_new(void (*notify)(void *opaque), void *opaque)
{
    struct ps2_kbd *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->notify = notify;
    k->opaque = opaque;
    ps2_kbd_reset(k);
    return k;
}

void ps2_kbd_free(struct ps2_kbd *kbd)
{
    free(kbd);
}

static void kbd_put(struct ps2_kbd *k, uint8_t v)
{
    q_put(&k->q, v);
    k->last = v;
}

static void kbd_done(struct ps2_kbd *k)
{
    if (k->notify && k->q.count)
        k->notify(k->opaque);
}

static void kbd_argument(struct ps2_kbd *k, uint8_t v)
{
    enum kbd_arg arg = k->arg;
    k->arg = ARG_NONE;
    switch (arg) {
    case ARG_LEDS:
        k->leds = v & 7;
        kbd_put(k, PS2_ACK);
        break;
    case ARG_TYPEMATIC:
        k->typematic = v & 0x7f;
        kbd_put(k, PS2_ACK);
        break;
    default: /* ARG_SET */
        kbd_put(k, PS2_ACK);
        if (v == 0)
            kbd_put(k, k->set);
        else if (v <= 2)
            k->set = v;
        break;
    }
}

static void kbd_command(struct ps2_kbd *k, uint8_t v)
{
    switch (v) {
    case 0xff: /* reset: ACK, then the basic assurance test result */
        ps2_kbd_reset(k);
        kbd_put(k, PS2_ACK);
        kbd_put(k, PS2_BAT_OK);
        break;
    case 0xfe: /* resend */
        q_put(&k->q, k->last);
        break;
    case 0xf6: /* set default */
        kbd_defaults(k);
        kbd_put(k, PS2_ACK);
        break;
    case 0xf5: /* default and disable */
        kbd_defaults(k);
        k->scanning = false;
        kbd_put(k, PS2_ACK);
        break;
    case 0xf4: /* enable: clears the output buffer */
        k->q.count = 0;
        k->scanning = true;
        kbd_put(k, PS2_ACK);
        break;
    case 0xf3:
        k->arg = ARG_TYPEMATIC;
        kbd_put(k, PS2_ACK);
        break;
    case 0xf2: /* identify: MF2 keyboard */
        kbd_put(k, PS2_ACK);
        kbd_put(k, 0xab);
        kbd_put(k, 0x83);
        break;
    case 0xf0:
        k->arg = ARG_SET;
        kbd_put(k, PS2_ACK);
        break;
    case 0xee:
        kbd_put(k, PS2_ECHO);
        break;
    case 0xed:
        k->arg = ARG_LEDS;
        kbd_put(k, PS2_ACK);
        break;
    case 0xf7: case 0xf8: case 0xf9: case 0xfa: case 0xfb: case 0xfc: case 0xfd:
        kbd_put(k, PS2_ACK); /* set 3 key types: accepted, no effect in sets 1/2 */
        break;
    default:
        kbd_put(k, PS2_RESEND);
    }
}

void ps2_kbd_write(struct ps2_kbd *kbd, uint8_t v)
{
    /* A command byte (0xED and up) ends a pending argument wait, except as the set/typematic value. */
    if (kbd->arg != ARG_NONE && (v < 0xed || kbd->arg == ARG_TYPEMATIC))
        kbd_argument(kbd, v);
    else {
        kbd->arg = ARG_NONE;
        kbd_command(kbd, v);
    }
    kbd_done(kbd);
}

int ps2_kbd_read(struct ps2_kbd *kbd)
{
    return q_get(&kbd->q);
}

uint8_t ps2_kbd_leds(const struct ps2_kbd *kbd)
{
    return kbd->leds;
}

/* Set 2 sequence of a key event; returns its length. */
static unsigned key_sequence(uint32_t usage, bool down, uint8_t *out)
{
    static const uint8_t pause[8] = {0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77};
    static const uint8_t prtsc_make[4] = {0xe0, 0x12, 0xe0, 0x7c};
    static const uint8_t prtsc_break[6] = {0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12};
    unsigned n = 0;
    if (usage == HID_PAUSE) {
        if (!down)
            return 0;
        for (; n < sizeof pause; n++)
            out[n] = pause[n];
        return n;
    }
    if (usage == HID_PRINTSCREEN) {
        const uint8_t *s = down ? prtsc_make : prtsc_break;
        unsigned len = down ? sizeof prtsc_make : sizeof prtsc_break;
        for (; n < len; n++)
            out[n] = s[n];
        return n;
    }
    uint16_t code = ps2_hid_to_set2(usage);
    if (!code)
        return 0;
    if (code & 0xe000)
        out[n++] = 0xe0;
    if (!down)
        out[n++] = 0xf0;
    out[n++] = (uint8_t)code;
    return n;
}

/* Set 1 from set 2, as the 8042 would translate it: F0 x -> x' | 0x80. */
static unsigned to_set1(const uint8_t *in, unsigned n, uint8_t *out)
{
    unsigned m = 0;
    bool brk = false;
    for (unsigned i = 0; i < n; i++) {
        if (in[i] == 0xf0) {
            brk = true;
            continue;
        }
        out[m++] = (uint8_t)(ps2_translate(in[i]) | (brk ? 0x80 : 0));
        brk = false;
    }
    return m;
}

void ps2_kbd_key(struct ps2_kbd *kbd, uint32_t hid_usage, bool down)
{
    uint8_t seq[8], set1[8];
    if (!kbd->scanning)
        return;
    unsigned n = key_sequence(hid_usage, down, seq);
    const uint8_t *bytes = seq;
    if (kbd->set == 1) {
        n = to_set1(seq, n, set1);
        bytes = set1;
    }
    if (!n)
        return;
    if (q_room(&kbd->q) < n + 1) { /* overrun: one overflow code (set 1: FF, set 2: 00) */
        if (q_room(&kbd->q) > 0 && kbd->q.count &&
            kbd->q.data[(kbd->q.head + kbd->q.count - 1) % QUEUE_SIZE] != (kbd->set == 1 ? 0xff : 0))
            q_put(&kbd->q, kbd->set == 1 ? 0xff : 0x00);
        return;
    }
    for (unsigned i = 0; i < n; i++)
        q_put(&kbd->q, bytes[i]);
    kbd_done(kbd);
}

/* ---- mouse ---- */

enum mouse_arg { MARG_NONE, MARG_RATE, MARG_RESOLUTION };

struct ps2_mouse {
    struct ps2_queue q;
    void (*notify)(void *opaque);
    void *opaque;
    uint8_t rate, resolution, id, last;
    uint8_t knock[3]; /* the last three sample rates set */
    enum mouse_arg arg;
    bool enabled, remote, wrap, scale21;
    int dx, dy, dz;    /* accumulated, PS/2 directions (y up, z towards the user) */
    unsigned buttons;
    bool buttons_changed;
};

static void mouse_defaults(struct ps2_mouse *m)
{
    m->rate = 100;
    m->resolution = 2; /* 4 counts/mm */
    m->scale21 = false;
    m->enabled = false;
}

void ps2_mouse_reset(struct ps2_mouse *m)
{
    m->q.head = m->q.count = 0;
    mouse_defaults(m);
    m->remote = m->wrap = false;
    m->id = 0;
    m->arg = MARG_NONE;
    m->dx = m->dy = m->dz = 0;
    m->buttons_changed = false;
    for (int i = 0; i < 3; i++)
        m->knock[i] = 0;
}

struct ps2_mouse *ps2_mouse_new(void (*notify)(void *opaque), void *opaque)
{
    struct ps2_mouse *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->notify = notify;
    m->opaque = opaque;
    ps2_mouse_reset(m);
    return m;
}

void ps2_mouse_free(struct ps2_mouse *m)
{
    free(m);
}

static void mouse_put(struct ps2_mouse *m, uint8_t v)
{
    q_put(&m->q, v);
    m->last = v;
}

static int clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* 2:1 scaling (stream mode only): 1->1, 2->1, 3->3, 4->6, 5->9, n->2n. */
static int scale21(int v)
{
    static const int small[6] = {0, 1, 1, 3, 6, 9};
    int a = abs(v), r = a <= 5 ? small[a] : 2 * a;
    return v < 0 ? -r : r;
}

static unsigned packet_size(const struct ps2_mouse *m)
{
    return m->id == 3 || m->id == 4 ? 4 : 3;
}

/* Takes one packet's worth of the accumulated motion and queues it. */
static void mouse_packet(struct ps2_mouse *m, bool stream)
{
    int dx = clamp(m->dx, -256, 255), dy = clamp(m->dy, -256, 255);
    int dz = clamp(m->dz, -8, 7);
    m->dx -= dx;
    m->dy -= dy;
    m->dz -= dz;
    if (stream && m->scale21) {
        dx = scale21(dx);
        dy = scale21(dy);
    }
    uint8_t b0 = (uint8_t)(0x08 | (m->buttons & 7));
    if (dx < -256 || dx > 255)
        b0 |= 0x40;
    if (dy < -256 || dy > 255)
        b0 |= 0x80;
    dx = clamp(dx, -256, 255);
    dy = clamp(dy, -256, 255);
    b0 |= (uint8_t)((dx < 0 ? 0x10 : 0) | (dy < 0 ? 0x20 : 0));
    mouse_put(m, b0);
    mouse_put(m, (uint8_t)dx);
    mouse_put(m, (uint8_t)dy);
    if (m->id == 3)
        mouse_put(m, (uint8_t)dz);
    else if (m->id == 4)
        mouse_put(m, (uint8_t)((dz & 0x0f) | (m->buttons & 0x18) << 1));
    m->buttons_changed = false;
}

/* Stream mode: queue packets while there is motion and room. */
static void mouse_flush(struct ps2_mouse *m)
{
    if (!m->enabled || m->remote || m->wrap)
        return;
    while ((m->dx || m->dy || m->dz || m->buttons_changed) && q_room(&m->q) >= packet_size(m))
        mouse_packet(m, true);
}

static void mouse_done(struct ps2_mouse *m)
{
    if (m->notify && m->q.count)
        m->notify(m->opaque);
}

void ps2_mouse_event(struct ps2_mouse *m, int dx, int dy, int dz, unsigned buttons)
{
    if (!m->enabled && !m->remote) { /* stream mode, reporting off: the motion is lost */
        m->buttons = buttons & 0x1f;
        return;
    }
    /* Accumulate at most a few packets' worth; beyond that the motion is lost. */
    m->dx = clamp(m->dx + dx, -4096, 4096);
    m->dy = clamp(m->dy - dy, -4096, 4096);
    if (m->id == 3 || m->id == 4)
        m->dz = clamp(m->dz + dz, -64, 64);
    buttons &= m->id == 4 ? 0x1f : 0x07;
    if (buttons != m->buttons)
        m->buttons_changed = true;
    m->buttons = buttons;
    mouse_flush(m);
    mouse_done(m);
}

void ps2_mouse_kick(struct ps2_mouse *m)
{
    if (!m->enabled || m->remote || m->wrap)
        return;
    if (q_room(&m->q) >= packet_size(m) && m->q.count == 0)
        mouse_packet(m, true);
    mouse_done(m);
}

/* IntelliMouse detection by sample-rate sequence. */
static void mouse_knock(struct ps2_mouse *m, uint8_t rate)
{
    m->knock[0] = m->knock[1];
    m->knock[1] = m->knock[2];
    m->knock[2] = rate;
    if (m->knock[0] == 200 && m->knock[1] == 100 && m->knock[2] == 80)
        m->id = 3;
    else if (m->id == 3 && m->knock[0] == 200 && m->knock[1] == 200 && m->knock[2] == 80)
        m->id = 4;
}

static void mouse_status(struct ps2_mouse *m)
{
    mouse_put(m, PS2_ACK);
    mouse_put(m, (uint8_t)((m->remote ? 0x40 : 0) | (m->enabled ? 0x20 : 0) |
                           (m->scale21 ? 0x10 : 0) | (m->buttons & 1 ? 0x04 : 0) |
                           (m->buttons & 4 ? 0x02 : 0) | (m->buttons & 2 ? 0x01 : 0)));
    mouse_put(m, m->resolution);
    mouse_put(m, m->rate);
}

static void mouse_command(struct ps2_mouse *m, uint8_t v)
{
    switch (v) {
    case 0xff:
        ps2_mouse_reset(m);
        mouse_put(m, PS2_ACK);
        mouse_put(m, PS2_BAT_OK);
        mouse_put(m, 0x00);
        return;
    case 0xfe:
        q_put(&m->q, m->last);
        return;
    case 0xf6: mouse_defaults(m); break;
    case 0xf5: m->enabled = false; break;
    case 0xf4: /* enable data reporting, movement counters reset */
        m->enabled = true;
        m->dx = m->dy = m->dz = 0;
        break;
    case 0xf3: m->arg = MARG_RATE; break;
    case 0xf0: m->remote = true; break;
    case 0xee: m->wrap = true; break;
    case 0xec: m->wrap = false; break;
    case 0xea: m->remote = false; break;
    case 0xe8: m->arg = MARG_RESOLUTION; break;
    case 0xe7: m->scale21 = true; break;
    case 0xe6: m->scale21 = false; break;
    case 0xf2:
        mouse_put(m, PS2_ACK);
        mouse_put(m, m->id);
        return;
    case 0xe9:
        mouse_status(m);
        return;
    case 0xeb: /* read data: one packet even without motion */
        mouse_put(m, PS2_ACK);
        mouse_packet(m, false);
        return;
    default:
        mouse_put(m, PS2_RESEND);
        return;
    }
    mouse_put(m, PS2_ACK);
}

void ps2_mouse_write(struct ps2_mouse *m, uint8_t v)
{
    if (m->arg != MARG_NONE) {
        if (m->arg == MARG_RATE) {
            m->rate = v;
            mouse_knock(m, v);
        } else {
            m->resolution = v & 3;
        }
        m->arg = MARG_NONE;
        mouse_put(m, PS2_ACK);
    } else if (m->wrap && v != 0xec && v != 0xff) {
        mouse_put(m, v); /* wrap mode echoes */
    } else {
        mouse_command(m, v);
    }
    mouse_done(m);
}

int ps2_mouse_read(struct ps2_mouse *m)
{
    int v = q_get(&m->q);
    if (v >= 0 && !m->q.count)
        mouse_flush(m);
    return v;
}
