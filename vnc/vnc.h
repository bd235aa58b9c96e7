/*
 * The VNC display (issue 22): a second front end beside the SDL window or
 * headless, through libvncserver. Like sdl/, it sees the machine only through
 * struct display (frames) and struct input_queue (events), on a thread of its
 * own: it polls the display's generation, copies a changed frame, and tells
 * the clients the rows that differ from what they were last sent. Keys arrive
 * as X11 keysyms and go to the guest as the same HID usages the window sends
 * (vnc_keysym_to_usage); the pointer is absolute (relative while the guest has
 * no absolute pointer).
 *
 * It listens on 127.0.0.1 unless given an address, with RFB's VNC
 * authentication when a password is set (RFB uses its first 8 characters).
 */
#ifndef VMPLAY_VNC_H
#define VMPLAY_VNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "devices/display.h"
#include "devices/input.h"
#include "formats/error.h"

#define VNC_DEFAULT_ADDR "127.0.0.1"

struct vnc_opts {
    char addr[64];         /* IPv4 address to listen on ("" = VNC_DEFAULT_ADDR) */
    int port;              /* TCP port, 1..65535 */
    const char *password;  /* NULL or "": no authentication */
    const char *name;      /* the desktop name clients show (displayName) */
    FILE *log;             /* libvncserver's messages with verbose, else NULL */
};

struct vnc;

/* Parses --vnc=[ADDR:]PORT into o->addr and o->port. Returns 0, or -1 with err (EX_USAGE). */
int vnc_parse_listen(const char *spec, struct vnc_opts *o, struct error *err);
/* Listens and starts the server thread. Returns NULL with err (EX_UNAVAILABLE: port in use). */
struct vnc *vnc_new(const struct vnc_opts *o, struct display *display, struct input_queue *input,
                    struct error *err);
/* Stops the thread, closes every connection. NULL is fine. */
void vnc_free(struct vnc *v);
/* The listening port (tests, and --verbose). */
int vnc_port(const struct vnc *v);

/* X11 keysym -> HID usage (input.h encoding, US layout for the symbols), 0 for none. */
uint32_t vnc_keysym_to_usage(uint32_t keysym);
/* RFB button mask (bit 0 left, 1 middle, 2 right) -> INPUT_BUTTON_* */
unsigned vnc_buttons(int mask);

#endif
