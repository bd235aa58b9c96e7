/*
 * The control socket (see control.h): the listening socket and its file, the
 * clients with their line and reply buffers, the request envelope (JSON via
 * json-c) and the commands. Runs only on the machine thread, from the loop's
 * service call; between turns the loop's idle wait watches our descriptors.
 */
#include "control/control.h"

#include <errno.h>
#include <json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/keys.h"
#include "devices/clock.h"
#include "devices/display.h"
#include "devices/input.h"
#include "formats/png.h"

#define CONTROL_MAX_CLIENTS 16
#define CONTROL_LINE_MAX 8192       /* a request line, newline included */
#define CONTROL_OUT_MAX (1u << 20)  /* unread replies before a client is dropped */
#define CONTROL_LINES_PER_TURN 8    /* per client, so one client cannot hold the guest up */
#define CONTROL_POLL_NS 1000000     /* how often a busy guest's loop looks at the sockets */
#define CONTROL_KEYS_MAX 40         /* keys in one send-keys: ~80 events fit the PS/2 queue */

_Static_assert(1 + 1 + CONTROL_MAX_CLIENTS <= MACHINE_SOURCE_MAX_FDS, "descriptors of one source");

struct client {
    int fd;
    size_t in_len;
    bool skipping; /* an oversized line was answered: dropping bytes up to its newline */
    bool eof;      /* the client sent its last byte: answer what is complete, then close */
    bool dead;     /* a write failed or too much is unread: close now */
    char *out;
    size_t out_len, out_cap;
    char in[CONTROL_LINE_MAX];
};

struct control {
    struct machine *m;
    char *path;
    dev_t dev; /* the socket file we made, so that exit removes only that one */
    ino_t ino;
    int listen_fd;
    int kick_fd; /* readable while complete lines wait for the next turn */
    int64_t last_turn;
    struct client *clients[CONTROL_MAX_CLIENTS];
};

struct cmd_error {
    const char *cls; /* QMP's classes: GenericError, CommandNotFound */
    char desc[512];
};

static struct json_object *fail(struct cmd_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static struct json_object *fail(struct cmd_error *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->desc, sizeof e->desc, fmt, ap);
    va_end(ap);
    if (!e->cls)
        e->cls = "GenericError";
    return NULL;
}

/* ---- replies ---- */

static void client_send(struct client *c, const char *text, size_t len)
{
    if (c->dead)
        return;
    if (c->out_len + len > CONTROL_OUT_MAX) {
        c->dead = true; /* it does not read what it asked for */
        return;
    }
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len)
            cap *= 2;
        char *p = realloc(c->out, cap);
        if (!p) {
            c->dead = true;
            return;
        }
        c->out = p;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, text, len);
    c->out_len += len;
}

static void client_flush(struct client *c)
{
    size_t done = 0;
    while (done < c->out_len && !c->dead) {
        ssize_t n = send(c->fd, c->out + done, c->out_len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0)
            done += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        else
            c->dead = true;
    }
    memmove(c->out, c->out + done, c->out_len - done);
    c->out_len -= done;
}

/* Takes obj (one line of JSON). */
static void send_json(struct client *c, struct json_object *obj)
{
    size_t len = 0;
    const char *text = obj ? json_object_to_json_string_length(
                                 obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len)
                           : NULL;
    if (text) {
        client_send(c, text, len);
        client_send(c, "\n", 1);
    } else {
        c->dead = true; /* out of memory */
    }
    json_object_put(obj);
}

/* {"return": ret} or {"error": ...}, with the request's id; takes ret. */
static void reply(struct client *c, struct json_object *ret, const struct cmd_error *e,
                  struct json_object *id)
{
    struct json_object *obj = json_object_new_object();
    if (obj && e->cls) {
        struct json_object *err = json_object_new_object();
        json_object_object_add(err, "class", json_object_new_string(e->cls));
        json_object_object_add(err, "desc", json_object_new_string(e->desc));
        json_object_object_add(obj, "error", err);
        json_object_put(ret);
    } else if (obj) {
        json_object_object_add(obj, "return", ret ? ret : json_object_new_object());
    } else {
        json_object_put(ret);
    }
    if (obj && id)
        json_object_object_add(obj, "id", json_object_get(id));
    send_json(c, obj);
}

static void reply_error(struct client *c, const char *desc)
{
    struct cmd_error e = {.cls = "GenericError"};
    snprintf(e.desc, sizeof e.desc, "%s", desc);
    reply(c, NULL, &e, NULL);
}

/* ---- commands (each returns its "return" object, or NULL after fail()) ---- */

/* Seconds with millisecond digits ("12.345", not 12.345000000000001). */
static struct json_object *new_seconds(double s)
{
    char text[32];
    snprintf(text, sizeof text, "%.3f", s);
    return json_object_new_double_s(s, text);
}

static struct json_object *cmd_status(struct control *s, struct json_object *args,
                                      struct cmd_error *e)
{
    struct machine_status st;
    machine_get_status(s->m, &st);
    struct json_object *r = json_object_new_object();
    json_object_object_add(r, "status", json_object_new_string(st.paused ? "paused" : "running"));
    json_object_object_add(r, "running", json_object_new_boolean(!st.paused));
    json_object_object_add(r, "cpu", json_object_new_string(st.cpu));
    json_object_object_add(r, "uptime", new_seconds(st.uptime_s));
    json_object_object_add(r, "guest-time", new_seconds(st.guest_s));
    json_object_object_add(r, "instructions", json_object_new_int64((int64_t)st.insns));
    json_object_object_add(r, "resets", json_object_new_int64(st.resets));
    json_object_object_add(r, "acpi", json_object_new_boolean(st.acpi));
    json_object_object_add(r, "power-button",
                           json_object_new_string(st.acpi_button ? "guest" : "power-off"));
    return r;
}

static struct json_object *cmd_power_button(struct control *s, struct json_object *args,
                                            struct cmd_error *e)
{
    machine_request(s->m, MACHINE_POWER_BUTTON);
    return json_object_new_object();
}

static struct json_object *cmd_power_off(struct control *s, struct json_object *args,
                                         struct cmd_error *e)
{
    machine_request(s->m, MACHINE_POWER_OFF);
    return json_object_new_object();
}

static struct json_object *cmd_reset(struct control *s, struct json_object *args,
                                     struct cmd_error *e)
{
    machine_request(s->m, MACHINE_RESET);
    return json_object_new_object();
}

static struct json_object *cmd_pause(struct control *s, struct json_object *args,
                                     struct cmd_error *e)
{
    machine_pause(s->m, true);
    return json_object_new_object();
}

static struct json_object *cmd_continue(struct control *s, struct json_object *args,
                                        struct cmd_error *e)
{
    machine_pause(s->m, false);
    return json_object_new_object();
}

/* "keys": one chord ("ctrl-alt-delete") or an array of chords typed in turn. */
static struct json_object *cmd_send_keys(struct control *s, struct json_object *args,
                                         struct cmd_error *e)
{
    struct json_object *keys;
    if (!args || !json_object_object_get_ex(args, "keys", &keys))
        return fail(e, "send-keys needs \"keys\": a chord such as \"ctrl-alt-delete\", "
                       "or an array of them");
    bool one = json_object_is_type(keys, json_type_string);
    if (!one && !json_object_is_type(keys, json_type_array))
        return fail(e, "send-keys: \"keys\" is a string or an array of strings");
    size_t nchords = one ? 1 : json_object_array_length(keys);
    uint32_t usages[CONTROL_KEYS_MAX + KEYS_CHORD_MAX];
    int sizes[CONTROL_KEYS_MAX];
    int total = 0;
    if (nchords == 0)
        return fail(e, "send-keys: \"keys\" is empty");
    for (size_t i = 0; i < nchords; i++) {
        struct json_object *k = one ? keys : json_object_array_get_idx(keys, i);
        if (!json_object_is_type(k, json_type_string))
            return fail(e, "send-keys: \"keys\" is a string or an array of strings");
        const char *chord = json_object_get_string(k);
        const char *bad;
        size_t badlen;
        int n = keys_parse_chord(chord, usages + total, &bad, &badlen);
        int blen = (int)(badlen > 64 ? 64 : badlen);
        if (n == KEYS_ERR_NAME)
            return fail(e, "send-keys: no key named '%.*s' (in '%.64s')", blen, bad, chord);
        if (n == KEYS_ERR_TWICE)
            return fail(e, "send-keys: '%.*s' twice in one chord ('%.64s')", blen, bad, chord);
        if (n < 0)
            return fail(e, "send-keys: more than %d keys in one chord ('%.64s')", KEYS_CHORD_MAX,
                        chord);
        if (total + n > CONTROL_KEYS_MAX)
            return fail(e, "send-keys: more than %d keys in one request", CONTROL_KEYS_MAX);
        sizes[i] = n;
        total += n;
    }
    struct input_queue *q = machine_input(s->m);
    int rc = 0;
    const uint32_t *u = usages;
    for (size_t i = 0; i < nchords; u += sizes[i++]) {
        for (int k = 0; k < sizes[i]; k++)
            rc |= input_key(q, u[k], true);
        for (int k = sizes[i] - 1; k >= 0; k--)
            rc |= input_key(q, u[k], false);
    }
    if (rc < 0)
        return fail(e, "send-keys: the input queue is full; some keys were lost");
    return json_object_new_object();
}

/* "position": [x, y], each 0..65535 across the screen: the absolute pointer's position
 * (the VMware VMMouse while the guest has it in absolute mode; dropped otherwise). */
static struct json_object *cmd_pointer(struct control *s, struct json_object *args,
                                       struct cmd_error *e)
{
    struct json_object *pos;
    if (!args || !json_object_object_get_ex(args, "position", &pos) ||
        !json_object_is_type(pos, json_type_array) || json_object_array_length(pos) != 2)
        return fail(e, "pointer needs \"position\": [x, y], each 0..65535");
    int64_t xy[2];
    for (int i = 0; i < 2; i++) {
        struct json_object *v = json_object_array_get_idx(pos, (size_t)i);
        if (!json_object_is_type(v, json_type_int) || (xy[i] = json_object_get_int64(v)) < 0 ||
            xy[i] > 65535)
            return fail(e, "pointer: \"position\" holds two integers 0..65535");
    }
    struct input_queue *q = machine_input(s->m);
    if (input_mouse_abs(q, (unsigned)xy[0], (unsigned)xy[1], 0, 0) < 0)
        return fail(e, "pointer: the input queue is full");
    struct json_object *r = json_object_new_object();
    json_object_object_add(r, "absolute", json_object_new_boolean(input_pointer_absolute(q)));
    return r;
}

static struct json_object *cmd_screenshot(struct control *s, struct json_object *args,
                                          struct cmd_error *e)
{
    struct json_object *file;
    if (!args || !json_object_object_get_ex(args, "file", &file) ||
        !json_object_is_type(file, json_type_string))
        return fail(e, "screenshot needs \"file\": the PNG's path (as the player sees it)");
    const char *path = json_object_get_string(file);
    struct framebuffer fb = {0};
    if (display_snapshot(machine_display(s->m), &fb) < 0)
        return fail(e, "screenshot: the guest has shown no picture yet");
    struct error err;
    int rc = png_write_xrgb(path, fb.pixels, fb.width, fb.height, fb.stride, &err);
    unsigned w = fb.width, h = fb.height;
    framebuffer_release(&fb);
    if (rc < 0)
        return fail(e, "screenshot: %s", err.msg);
    struct json_object *r = json_object_new_object();
    json_object_object_add(r, "file", json_object_new_string(path));
    json_object_object_add(r, "width", json_object_new_int(w));
    json_object_object_add(r, "height", json_object_new_int(h));
    return r;
}

static struct json_object *cmd_screen_text(struct control *s, struct json_object *args,
                                           struct cmd_error *e)
{
    char *text = display_text_utf8(machine_display(s->m));
    if (!text)
        return fail(e, "screen-text: out of memory");
    struct json_object *r = json_object_new_object();
    json_object_object_add(r, "text", json_object_new_string(text));
    free(text);
    return r;
}

struct command {
    const char *name;
    const char *args[2]; /* the argument names it takes */
    struct json_object *(*run)(struct control *s, struct json_object *args, struct cmd_error *e);
};

static const struct command commands[] = {
    {"status", {NULL}, cmd_status},
    {"power-button", {NULL}, cmd_power_button},
    {"power-off", {NULL}, cmd_power_off},
    {"reset", {NULL}, cmd_reset},
    {"send-keys", {"keys", NULL}, cmd_send_keys},
    {"pointer", {"position", NULL}, cmd_pointer},
    {"screenshot", {"file", NULL}, cmd_screenshot},
    {"screen-text", {NULL}, cmd_screen_text},
    {"pause", {NULL}, cmd_pause},
    {"continue", {NULL}, cmd_continue},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static bool takes_arg(const struct command *cmd, const char *name)
{
    for (size_t i = 0; i < sizeof cmd->args / sizeof cmd->args[0] && cmd->args[i]; i++)
        if (strcmp(cmd->args[i], name) == 0)
            return true;
    return false;
}

/* ---- the request envelope ---- */

/* One line -> the JSON value on it, or NULL after fail(). */
static struct json_object *parse_line(const char *line, size_t len, struct cmd_error *e)
{
    struct json_tokener *tok = json_tokener_new();
    if (!tok)
        return fail(e, "out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *obj = json_tokener_parse_ex(tok, line, (int)len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (je == json_tokener_continue)
        return fail(e, "invalid JSON: the line ends inside a value (one request per line)");
    if (je != json_tokener_success)
        return fail(e, "invalid JSON at byte %zu: %s", end, json_tokener_error_desc(je));
    for (; end < len; end++) {
        if (line[end] != ' ' && line[end] != '\t') {
            json_object_put(obj);
            return fail(e, "invalid JSON: something follows the request at byte %zu "
                           "(one request per line)", end);
        }
    }
    return obj;
}

static struct json_object *execute(struct control *s, struct json_object *req, struct cmd_error *e)
{
    if (!json_object_is_type(req, json_type_object))
        return fail(e, "a request is a JSON object: {\"execute\":\"status\"}");
    struct json_object *exe, *args = NULL;
    if (!json_object_object_get_ex(req, "execute", &exe) ||
        !json_object_is_type(exe, json_type_string))
        return fail(e, "a request names its command in \"execute\" (a string)");
    json_object_object_foreach(req, key, val) {
        (void)val;
        if (strcmp(key, "execute") && strcmp(key, "arguments") && strcmp(key, "id"))
            return fail(e, "a request has no member '%.64s' (only execute, arguments, id)", key);
    }
    const char *name = json_object_get_string(exe);
    const struct command *cmd = find_command(name);
    if (!cmd) {
        e->cls = "CommandNotFound";
        return fail(e, "no command '%.64s'", name);
    }
    if (json_object_object_get_ex(req, "arguments", &args)) {
        if (!json_object_is_type(args, json_type_object))
            return fail(e, "\"arguments\" is a JSON object");
        json_object_object_foreach(args, key, val) {
            (void)val;
            if (!takes_arg(cmd, key))
                return fail(e, "%s takes no argument '%.64s'", cmd->name, key);
        }
    }
    return cmd->run(s, args, e);
}

static void handle_line(struct control *s, struct client *c, char *line, size_t len)
{
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    size_t start = 0;
    while (start < len && (line[start] == ' ' || line[start] == '\t'))
        start++;
    if (start == len)
        return; /* an empty line asks nothing */
    struct cmd_error e = {0};
    struct json_object *id = NULL, *ret = NULL;
    struct json_object *req = parse_line(line + start, len - start, &e);
    if (req) {
        if (json_object_is_type(req, json_type_object))
            json_object_object_get_ex(req, "id", &id);
        ret = execute(s, req, &e);
    }
    reply(c, ret, &e, id);
    json_object_put(req);
}

/* ---- clients ---- */

static void greet(struct client *c)
{
    struct json_object *names = json_object_new_array();
    for (size_t i = 0; i < NCOMMANDS; i++)
        json_object_array_add(names, json_object_new_string(commands[i].name));
    struct json_object *hello = json_object_new_object();
    json_object_object_add(hello, "version", json_object_new_string(VMPLAY_VERSION));
    json_object_object_add(hello, "commands", names);
    struct json_object *obj = json_object_new_object();
    json_object_object_add(obj, "vmplay", hello);
    send_json(c, obj);
}

static void accept_clients(struct control *s)
{
    for (int tries = 0; tries < CONTROL_MAX_CLIENTS; tries++) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int slot = 0;
        while (slot < CONTROL_MAX_CLIENTS && s->clients[slot])
            slot++;
        struct client *c = slot < CONTROL_MAX_CLIENTS ? calloc(1, sizeof *c) : NULL;
        if (!c) {
            static const char busy[] =
                "{\"error\":{\"class\":\"GenericError\",\"desc\":\"too many clients\"}}\n";
            if (send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
                /* it is being turned away anyway */
            }
            close(fd);
            continue;
        }
        c->fd = fd;
        s->clients[slot] = c;
        greet(c);
    }
}

static void client_read(struct client *c)
{
    if (c->eof || c->dead || c->in_len == CONTROL_LINE_MAX)
        return;
    ssize_t n = read(c->fd, c->in + c->in_len, CONTROL_LINE_MAX - c->in_len);
    if (n > 0)
        c->in_len += (size_t)n;
    else if (n == 0)
        c->eof = true;
    else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        c->dead = true;
}

/* Answers up to CONTROL_LINES_PER_TURN complete lines; returns true when more are waiting. */
static bool client_lines(struct control *s, struct client *c)
{
    for (int done = 0; !c->dead; done++) {
        char *nl = memchr(c->in, '\n', c->in_len);
        if (!nl) {
            if (c->in_len == CONTROL_LINE_MAX) {
                if (!c->skipping) {
                    char desc[96];
                    snprintf(desc, sizeof desc, "a request line is longer than %d bytes",
                             CONTROL_LINE_MAX - 1);
                    reply_error(c, desc);
                }
                c->skipping = true;
                c->in_len = 0;
            }
            return false;
        }
        if (done == CONTROL_LINES_PER_TURN)
            return true;
        size_t len = (size_t)(nl - c->in);
        *nl = 0;
        if (c->skipping)
            c->skipping = false; /* the end of the oversized line */
        else
            handle_line(s, c, c->in, len);
        c->in_len -= len + 1;
        memmove(c->in, nl + 1, c->in_len);
    }
    return false;
}

static void client_close(struct control *s, int slot)
{
    struct client *c = s->clients[slot];
    close(c->fd);
    free(c->out);
    free(c);
    s->clients[slot] = NULL;
}

static short client_events(const struct client *c)
{
    short ev = 0;
    if (!c->eof && c->in_len < CONTROL_LINE_MAX)
        ev |= POLLIN;
    if (c->out_len)
        ev |= POLLOUT;
    return ev;
}

/* The listening socket, the kick fd and every client; slot[i] says whose fds[i] is (-1: ours). */
static int fill_fds(struct control *s, struct pollfd *fds, int *slot)
{
    int n = 0;
    fds[n] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
    slot[n++] = -1;
    fds[n] = (struct pollfd){.fd = s->kick_fd, .events = POLLIN};
    slot[n++] = -1;
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        if (!s->clients[i])
            continue;
        fds[n] = (struct pollfd){.fd = s->clients[i]->fd, .events = client_events(s->clients[i])};
        slot[n++] = i;
    }
    return n;
}

static int control_poll_fds(void *opaque, struct pollfd *fds, int max)
{
    struct pollfd all[2 + CONTROL_MAX_CLIENTS];
    int slot[2 + CONTROL_MAX_CLIENTS];
    int n = fill_fds(opaque, all, slot);
    if (n > max)
        n = max;
    memcpy(fds, all, (size_t)n * sizeof *fds);
    return n;
}

static void control_service(void *opaque, bool ready)
{
    struct control *s = opaque;
    int64_t now = clock_host_ns();
    if (!ready && now - s->last_turn < CONTROL_POLL_NS)
        return;
    s->last_turn = now;
    struct pollfd fds[2 + CONTROL_MAX_CLIENTS];
    int slot[2 + CONTROL_MAX_CLIENTS];
    int n = fill_fds(s, fds, slot);
    if (poll(fds, (nfds_t)n, 0) < 0)
        return;
    uint64_t v;
    if ((fds[1].revents & POLLIN) && read(s->kick_fd, &v, sizeof v) < 0) {
        /* already drained */
    }
    for (int i = 2; i < n; i++) {
        struct client *c = s->clients[slot[i]];
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR))
            client_read(c);
    }
    if (fds[0].revents & POLLIN)
        accept_clients(s);
    bool more = false;
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        struct client *c = s->clients[i];
        if (!c)
            continue;
        more |= client_lines(s, c);
        client_flush(c);
        bool waiting = memchr(c->in, '\n', c->in_len) != NULL;
        if (c->dead || (c->eof && !waiting && !c->out_len))
            client_close(s, i);
    }
    v = 1;
    if (more && write(s->kick_fd, &v, sizeof v) < 0) {
        /* the counter is saturated: a kick is pending anyway */
    }
}

/* ---- the socket file ---- */

/* Is somebody listening on the socket at sa? */
static bool socket_alive(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return false;
    int rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
    bool alive = rc == 0 || errno == EAGAIN || errno == EINPROGRESS;
    close(fd);
    return alive;
}

static int listen_at(struct control *s, const char *path, struct error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!*path || strlen(path) >= sizeof sa.sun_path)
        return error_set(err, EX_USAGE, "--control: a socket path is 1 to %zu bytes long",
                         sizeof sa.sun_path - 1);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->listen_fd < 0)
        return error_set(err, EX_OSERR, "--control: socket: %s", strerror(errno));
    if (bind(s->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        struct stat st;
        if (errno != EADDRINUSE)
            return error_set(err, EX_CANTCREAT, "--control %s: %s", path, strerror(errno));
        if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
            return error_set(err, EX_CANTCREAT, "--control %s: the file exists and is not a socket",
                             path);
        if (socket_alive(&sa))
            return error_set(err, EX_TEMPFAIL, "--control %s: another player is listening there",
                             path);
        /* left behind by a player that was killed */
        if (unlink(path) < 0 || bind(s->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            return error_set(err, EX_CANTCREAT, "--control %s: %s", path, strerror(errno));
    }
    /* Not listening yet, so nobody can connect before the mode is 0600. */
    struct stat st;
    if (chmod(path, 0600) < 0 || lstat(path, &st) < 0) {
        error_set(err, EX_CANTCREAT, "--control %s: %s", path, strerror(errno));
        unlink(path);
        return -1;
    }
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->path = strdup(path);
    if (!s->path || listen(s->listen_fd, 8) < 0) {
        error_set(err, EX_OSERR, "--control %s: listen: %s", path, strerror(errno));
        unlink(path);
        free(s->path);
        s->path = NULL;
        return -1;
    }
    return 0;
}

/* Removes the socket file if it is still the one we made. */
static void remove_socket(struct control *s)
{
    struct stat st;
    if (s->path && lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
        unlink(s->path);
}

struct control *control_new(const char *path, struct machine *m, struct error *err)
{
    struct control *s = calloc(1, sizeof *s);
    if (!s) {
        error_set(err, EX_OSERR, "out of memory");
        return NULL;
    }
    s->m = m;
    s->listen_fd = -1;
    s->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->kick_fd < 0) {
        error_set(err, EX_OSERR, "--control: eventfd: %s", strerror(errno));
        control_free(s);
        return NULL;
    }
    struct machine_source src = {
        .poll_fds = control_poll_fds,
        .service = control_service,
        .opaque = s,
    };
    if (listen_at(s, path, err) < 0 || machine_add_source(m, &src, err) < 0) {
        control_free(s);
        return NULL;
    }
    return s;
}

void control_free(struct control *s)
{
    if (!s)
        return;
    machine_remove_source(s->m, s);
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        if (!s->clients[i])
            continue;
        client_flush(s->clients[i]);
        client_close(s, i);
    }
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    remove_socket(s);
    if (s->kick_fd >= 0)
        close(s->kick_fd);
    free(s->path);
    free(s);
}
