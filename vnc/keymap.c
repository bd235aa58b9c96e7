/*
 * X11 keysyms (the RFB KeyEvent's key, X Window System Protocol appendix A
 * and keysymdef.h) to USB HID Keyboard/Keypad usages (HID Usage Tables,
 * page 0x07). A keysym names a symbol, not a key: both cases of a letter and
 * a digit with its US shifted symbol are the same key, and the client sends
 * Shift itself, so the guest sees the key the user pressed on a US layout.
 * The media keys (XF86 keysyms) go through the window's SDL scancode table.
 */
#include "vnc/vnc.h"

#include "sdl/ui.h"

/* Printable ASCII 0x20..0x7E: the key of a US layout. */
static const uint8_t ascii_usage[95] = {
    0x2C, 0x1E, 0x34, 0x20, 0x21, 0x22, 0x24, 0x34, /* space ! " # $ % & ' */
    0x26, 0x27, 0x25, 0x2E, 0x36, 0x2D, 0x37, 0x38, /* ( ) * + , - . / */
    0x27, 0x1E, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x24, /* 0 .. 7 */
    0x25, 0x26, 0x33, 0x33, 0x36, 0x2E, 0x37, 0x38, /* 8 9 : ; < = > ? */
    0x1F,                                           /* @ */
    0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, /* A..M */
    0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, /* N..Z */
    0x2F, 0x31, 0x30, 0x23, 0x2D, 0x35,             /* [ \ ] ^ _ ` */
    0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, /* a..m */
    0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, /* n..z */
    0x2F, 0x31, 0x30, 0x35,                         /* { | } ~ */
};

struct keysym_usage {
    uint32_t keysym;
    uint32_t usage;
};

/* Function, editing, keypad and modifier keysyms (0xFExx, 0xFFxx). */
static const struct keysym_usage special[] = {
    {0xFF08, 0x2A}, /* BackSpace */
    {0xFF09, 0x2B}, /* Tab */
    {0xFE20, 0x2B}, /* ISO_Left_Tab (Shift+Tab) */
    {0xFF0D, 0x28}, /* Return */
    {0xFF13, 0x48}, /* Pause */
    {0xFF6B, 0x48}, /* Break */
    {0xFF14, 0x47}, /* Scroll_Lock */
    {0xFF15, 0x46}, /* Sys_Req */
    {0xFF1B, 0x29}, /* Escape */
    {0xFF50, 0x4A}, /* Home */
    {0xFF51, 0x50}, /* Left */
    {0xFF52, 0x52}, /* Up */
    {0xFF53, 0x4F}, /* Right */
    {0xFF54, 0x51}, /* Down */
    {0xFF55, 0x4B}, /* Page_Up */
    {0xFF56, 0x4E}, /* Page_Down */
    {0xFF57, 0x4D}, /* End */
    {0xFF61, 0x46}, /* Print */
    {0xFF63, 0x49}, /* Insert */
    {0xFF67, 0x65}, /* Menu: Application */
    {0xFF7F, 0x53}, /* Num_Lock */
    {0xFF8D, 0x58}, /* KP_Enter */
    {0xFF95, 0x5F}, /* KP_Home */
    {0xFF96, 0x5C}, /* KP_Left */
    {0xFF97, 0x60}, /* KP_Up */
    {0xFF98, 0x5E}, /* KP_Right */
    {0xFF99, 0x5A}, /* KP_Down */
    {0xFF9A, 0x61}, /* KP_Page_Up */
    {0xFF9B, 0x5B}, /* KP_Page_Down */
    {0xFF9C, 0x59}, /* KP_End */
    {0xFF9D, 0x5D}, /* KP_Begin */
    {0xFF9E, 0x62}, /* KP_Insert */
    {0xFF9F, 0x63}, /* KP_Delete */
    {0xFFAA, 0x55}, /* KP_Multiply */
    {0xFFAB, 0x57}, /* KP_Add */
    {0xFFAC, 0x85}, /* KP_Separator: Keypad Comma */
    {0xFFAD, 0x56}, /* KP_Subtract */
    {0xFFAE, 0x63}, /* KP_Decimal */
    {0xFFAF, 0x54}, /* KP_Divide */
    {0xFFBD, 0x67}, /* KP_Equal */
    {0xFFE1, 0xE1}, /* Shift_L */
    {0xFFE2, 0xE5}, /* Shift_R */
    {0xFFE3, 0xE0}, /* Control_L */
    {0xFFE4, 0xE4}, /* Control_R */
    {0xFFE5, 0x39}, /* Caps_Lock */
    {0xFFE7, 0xE3}, /* Meta_L */
    {0xFFE8, 0xE7}, /* Meta_R */
    {0xFFE9, 0xE2}, /* Alt_L */
    {0xFFEA, 0xE6}, /* Alt_R */
    {0xFE03, 0xE6}, /* ISO_Level3_Shift (AltGr) */
    {0xFFEB, 0xE3}, /* Super_L */
    {0xFFEC, 0xE7}, /* Super_R */
    {0xFFFF, 0x4C}, /* Delete */
};

/* XF86 media keysyms -> SDL scancodes, which ui_scancode_to_usage turns into usages. */
static const struct keysym_usage media[] = {
    {0x1008FF11, 129}, /* XF86AudioLowerVolume: SDL_SCANCODE_VOLUMEDOWN */
    {0x1008FF12, 262}, /* XF86AudioMute: SDL_SCANCODE_AUDIOMUTE */
    {0x1008FF13, 128}, /* XF86AudioRaiseVolume: SDL_SCANCODE_VOLUMEUP */
    {0x1008FF14, 261}, /* XF86AudioPlay */
    {0x1008FF15, 260}, /* XF86AudioStop */
    {0x1008FF16, 259}, /* XF86AudioPrev */
    {0x1008FF17, 258}, /* XF86AudioNext */
    {0x1008FF2F, 282}, /* XF86Sleep: SDL_SCANCODE_SLEEP */
};

uint32_t vnc_keysym_to_usage(uint32_t keysym)
{
    if (keysym >= 0x20 && keysym <= 0x7E)
        return ascii_usage[keysym - 0x20];
    if (keysym >= 0xFFBE && keysym <= 0xFFC9) /* F1..F12 */
        return 0x3A + (keysym - 0xFFBE);
    if (keysym >= 0xFFCA && keysym <= 0xFFD5) /* F13..F24 */
        return 0x68 + (keysym - 0xFFCA);
    if (keysym >= 0xFFB0 && keysym <= 0xFFB9) /* KP_0..KP_9 */
        return keysym == 0xFFB0 ? 0x62 : 0x59 + (keysym - 0xFFB1);
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        if (special[i].keysym == keysym)
            return special[i].usage;
    for (size_t i = 0; i < sizeof media / sizeof media[0]; i++)
        if (media[i].keysym == keysym)
            return ui_scancode_to_usage((int)media[i].usage);
    return 0;
}

unsigned vnc_buttons(int mask)
{
    return (mask & 1 ? INPUT_BUTTON_LEFT : 0) | (mask & 2 ? INPUT_BUTTON_MIDDLE : 0) |
           (mask & 4 ? INPUT_BUTTON_RIGHT : 0);
}
