/*
 * Character back ends for serial ports and debug consoles: a file
 * (truncated at power-on unless appending, as VMware does), a host
 * character device such as a serial port (raw mode), the player's
 * stdin/stdout (raw terminal mode while open, restored by chardev_free), a
 * pseudo-terminal (its slave path in chardev_name for the player to print),
 * a UNIX socket (VMware's fileType = "pipe" on Linux hosts; server or client)
 * and null. Everything is non-blocking on the guest side: input is pulled by
 * the machine thread with chardev_read (chardev_fd gives the descriptor to
 * poll() while idle), output that a pty or socket cannot take at once is
 * dropped rather than stalling the guest. Files and stdout are written
 * completely.
 *
 * stdio on a terminal is a console, as QEMU's: the terminal is raw (Ctrl-C
 * and every other key go to the guest) and Ctrl-A is the escape key: Ctrl-A x
 * asks the player to quit (chardev_take_escape), Ctrl-A h prints the keys,
 * Ctrl-A Ctrl-A sends one Ctrl-A. Input is taken from the terminal as soon as
 * it arrives (chardev_pump), so the escape works while the guest reads
 * nothing. The terminal's settings come back on every way out: chardev_free,
 * exit(), and a fatal signal.
 */
#ifndef VMPLAY_CHARDEV_H
#define VMPLAY_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>

#include "formats/error.h"

enum chardev_kind {
    CHARDEV_NULL,
    CHARDEV_FILE,
    CHARDEV_STDIO,
    CHARDEV_PTY,
    CHARDEV_SOCKET, /* UNIX stream socket */
    CHARDEV_DEVICE, /* a host character device (VMware fileType = "device", e.g. /dev/ttyS0) */
};

struct chardev_config {
    enum chardev_kind kind;
    const char *path; /* FILE, SOCKET, DEVICE */
    bool append;      /* FILE: keep the old contents */
    bool server;      /* SOCKET: listen on path (else connect to it) */
};

struct chardev;

struct chardev *chardev_new(const struct chardev_config *cfg, struct error *err);
void chardev_free(struct chardev *ch);

/*
 * Parses a --serial style spec: "null", "stdio", "pty", "file:PATH",
 * "append:PATH", "unix:PATH" (client), "unix-server:PATH" or "device:PATH". The path
 * points into spec. Returns 0 or -1 with EX_USAGE.
 */
int chardev_parse(const char *spec, struct chardev_config *cfg, struct error *err);

/* Writes len bytes (or drops them, see above). */
void chardev_write(struct chardev *ch, const void *buf, size_t len);
/* Reads up to len bytes of pending input without blocking; returns the count (0 when none). */
size_t chardev_read(struct chardev *ch, void *buf, size_t len);
/* Descriptor that becomes readable when input (or a connection) arrives, or -1. */
int chardev_fd(const struct chardev *ch);
/* The pty's slave path or the socket path; NULL for the others. */
const char *chardev_name(const struct chardev *ch);
/* Takes what the host has sent so far (a console reads eagerly; others do nothing). */
void chardev_pump(struct chardev *ch);
/* An escape command the console user gave ('x': quit), once; 0 when none. */
int chardev_take_escape(struct chardev *ch);
/* Whether this is a console on a terminal (the escape keys work). */
bool chardev_is_console(const struct chardev *ch);

#endif
