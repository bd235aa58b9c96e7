/*
 * The control socket (--control=PATH) for headless and kiosk use, in the
 * manner of QEMU's QMP: a Unix stream socket, mode 0600, one JSON object per
 * line each way. A client gets a greeting line, sends
 * {"execute":"status"} (with "arguments":{...} where a command takes some,
 * and an optional "id" that the reply repeats) and gets {"return":{...}} or
 * {"error":{"class":"...","desc":"..."}} back. README.md lists the commands.
 *
 * Served from the machine loop as a host event source (devices/pc.h), so
 * every command runs on the machine thread and no lock is needed; client
 * sockets are non-blocking and buffered both ways, so no client can stall
 * the guest, the player or another client: an oversized line, bad JSON or an
 * unknown command gets an error reply, a client that stops reading its
 * replies is dropped.
 */
#ifndef VMPLAY_CONTROL_H
#define VMPLAY_CONTROL_H

#include "devices/pc.h"
#include "formats/error.h"

struct control;

/*
 * Listens on path and registers with m's loop. A stale socket file (nobody
 * listening) is replaced; a live one is refused with EX_TEMPFAIL, anything
 * else at path with EX_CANTCREAT.
 */
struct control *control_new(const char *path, struct machine *m, struct error *err);
/* Sends what is buffered (as far as it goes at once), closes the clients, removes the socket. */
void control_free(struct control *s);

#endif
