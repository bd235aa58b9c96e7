/*
 * The VNC server (see vnc.h): libvncserver driven from one thread of ours,
 * which alone calls into it (rfbProcessEvents, then the frame update), so
 * none of libvncserver's own threads run. The server's framebuffer is in
 * libvncserver's default 32-bit format (red in the low byte: 0x00BBGGRR), so
 * each changed row of the display's XRGB8888 is converted on the way in;
 * clients get their own pixel format from libvncserver's translation.
 */
#include "vnc/vnc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <rfb/rfb.h>

struct vnc {
    struct display *display;
    struct input_queue *input;
    rfbScreenInfoPtr screen;
    char *fb;                  /* the server's framebuffer (width * height * 4) */
    unsigned width, height;
    struct framebuffer snap;   /* the display's frame, copied */
    uint32_t *row;             /* one row converted to the server's format */
    uint64_t generation;       /* of the frame last copied */
    char *passwords[2];        /* for rfbCheckPasswordByList */
    char name[128];
    int last_x, last_y, last_mask;
    pthread_t thread;
    atomic_bool stop;
    int port;
};

int vnc_parse_listen(const char *spec, struct vnc_opts *o, struct error *err)
{
    const char *colon = strrchr(spec, ':');
    const char *port = colon ? colon + 1 : spec;
    char *end;
    errno = 0;
    long p = strtol(port, &end, 10);
    if (!*port || *end || errno || p < 1 || p > 65535)
        return error_set(err, EX_USAGE, "--vnc: '%s' is not [ADDR:]PORT with PORT 1..65535", spec);
    o->port = (int)p;
    o->addr[0] = 0;
    if (colon) {
        size_t n = (size_t)(colon - spec);
        struct in_addr a;
        if (n == 0 || n >= sizeof o->addr)
            return error_set(err, EX_USAGE, "--vnc: '%s': the address is empty or too long", spec);
        memcpy(o->addr, spec, n);
        o->addr[n] = 0;
        if (inet_pton(AF_INET, o->addr, &a) != 1)
            return error_set(err, EX_USAGE, "--vnc: '%s' is not an IPv4 address", o->addr);
    }
    return 0;
}

/* ---- input (called from rfbProcessEvents, on our thread) ---- */

static void on_key(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
    struct vnc *v = cl->screen->screenData;
    uint32_t usage = vnc_keysym_to_usage((uint32_t)keysym);
    if (usage)
        input_key(v->input, usage, down != 0);
}

static void on_pointer(int mask, int x, int y, rfbClientPtr cl)
{
    struct vnc *v = cl->screen->screenData;
    /* Bits 3 and 4 are the wheel: a press is one step up (away) or down. */
    int dz = ((mask & 16) && !(v->last_mask & 16)) - ((mask & 8) && !(v->last_mask & 8));
    unsigned buttons = vnc_buttons(mask);
    if (x < 0)
        x = 0;
    if (y < 0)
        y = 0;
    if ((unsigned)x >= v->width)
        x = (int)v->width - 1;
    if ((unsigned)y >= v->height)
        y = (int)v->height - 1;
    if (input_pointer_absolute(v->input)) {
        unsigned ax = v->width > 1 ? (unsigned)((uint64_t)x * INPUT_ABS_MAX / (v->width - 1)) : 0;
        unsigned ay = v->height > 1 ? (unsigned)((uint64_t)y * INPUT_ABS_MAX / (v->height - 1)) : 0;
        input_mouse_abs(v->input, ax, ay, dz, buttons);
    } else if (x != v->last_x || y != v->last_y || dz || mask != v->last_mask) {
        input_mouse_rel(v->input, x - v->last_x, y - v->last_y, dz, buttons);
    }
    v->last_x = x;
    v->last_y = y;
    v->last_mask = mask;
}

static void on_client_gone(rfbClientPtr cl)
{
    struct vnc *v = cl->screen->screenData;
    input_release_all(v->input); /* keys it held stay held otherwise */
}

static enum rfbNewClientAction on_new_client(rfbClientPtr cl)
{
    cl->clientGoneHook = on_client_gone;
    return RFB_CLIENT_ACCEPT;
}

/* ---- the frame ---- */

static int resize(struct vnc *v, unsigned w, unsigned h)
{
    char *fb = calloc((size_t)w * h, 4);
    uint32_t *row = calloc(w, 4);
    if (!fb || !row) {
        free(fb);
        free(row);
        return -1;
    }
    v->width = w;
    v->height = h;
    if (v->screen)
        rfbNewFramebuffer(v->screen, fb, (int)w, (int)h, 8, 3, 4);
    free(v->fb);
    free(v->row);
    v->fb = fb;
    v->row = row;
    return 0;
}

/* Copies a new frame in and marks the runs of rows that differ from the last one. */
static void update_frame(struct vnc *v)
{
    uint64_t gen = display_generation(v->display);
    if (gen == v->generation)
        return;
    if (display_snapshot(v->display, &v->snap) < 0)
        return; /* no picture yet */
    v->generation = gen;
    bool all = false;
    if (v->snap.width != v->width || v->snap.height != v->height) {
        if (resize(v, v->snap.width, v->snap.height) < 0)
            return;
        all = true;
    }
    size_t row = (size_t)v->width * 4;
    int first = -1;
    for (unsigned y = 0; y <= v->height; y++) {
        bool changed = false;
        if (y < v->height) {
            char *dst = v->fb + y * row;
            const uint32_t *src = framebuffer_row(&v->snap, y);
            for (unsigned x = 0; x < v->width; x++) {
                uint32_t p = src[x];
                v->row[x] = (p >> 16 & 0xFF) | (p & 0xFF00) | (p & 0xFF) << 16;
            }
            changed = all || memcmp(dst, v->row, row) != 0;
            if (changed)
                memcpy(dst, v->row, row);
        }
        if (changed && first < 0)
            first = (int)y;
        if (!changed && first >= 0) {
            rfbMarkRectAsModified(v->screen, 0, first, (int)v->width, (int)y);
            first = -1;
        }
    }
}

static void *vnc_thread(void *opaque)
{
    struct vnc *v = opaque;
    while (!atomic_load(&v->stop)) {
        rfbProcessEvents(v->screen, 20000); /* up to 20 ms waiting for clients */
        update_frame(v);
    }
    return NULL;
}

/* ---- libvncserver's messages ---- */

static FILE *vnc_log;
static void log_quiet(const char *fmt, ...)
{
    (void)fmt;
}
static void log_verbose(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vmplay: vnc: ", vnc_log);
    vfprintf(vnc_log, fmt, ap);
    va_end(ap);
}

struct vnc *vnc_new(const struct vnc_opts *o, struct display *display, struct input_queue *input,
                    struct error *err)
{
    struct vnc *v = calloc(1, sizeof *v);
    if (!v) {
        error_set(err, EX_OSERR, "out of memory");
        return NULL;
    }
    v->display = display;
    v->input = input;
    v->generation = (uint64_t)-1;
    vnc_log = o->log;
    rfbLog = rfbErr = o->log ? log_verbose : log_quiet;
    if (resize(v, 640, 480) < 0)
        goto oom;
    v->screen = rfbGetScreen(NULL, NULL, 640, 480, 8, 3, 4);
    if (!v->screen)
        goto oom;
    rfbScreenInfoPtr s = v->screen;
    s->frameBuffer = v->fb;
    s->screenData = v;
    snprintf(v->name, sizeof v->name, "%s", o->name && *o->name ? o->name : "vmplay");
    s->desktopName = v->name;
    s->port = o->port;
    s->autoPort = FALSE;
    s->ipv6port = 0; /* IPv4 only: the address below is the only one listened on */
    s->listen6Interface = NULL;
    s->httpPort = 0;
    s->httpDir = NULL;
    s->listenInterface = inet_addr(o->addr[0] ? o->addr : VNC_DEFAULT_ADDR);
    s->alwaysShared = TRUE;
    s->cursor = NULL; /* the guest draws its own pointer; none is drawn into the frame */
    s->kbdAddEvent = on_key;
    s->ptrAddEvent = on_pointer;
    s->newClientHook = on_new_client;
    if (o->password && *o->password) {
        v->passwords[0] = strdup(o->password);
        if (!v->passwords[0])
            goto oom;
        s->authPasswdData = v->passwords;
        s->passwordCheck = rfbCheckPasswordByList;
    }
    rfbInitServer(s);
    if (s->listenSock == RFB_INVALID_SOCKET) {
        error_set(err, EX_UNAVAILABLE, "--vnc: cannot listen on %s:%d (in use?)",
                  o->addr[0] ? o->addr : VNC_DEFAULT_ADDR, o->port);
        vnc_free(v);
        return NULL;
    }
    v->port = o->port;
    if (pthread_create(&v->thread, NULL, vnc_thread, v) != 0) {
        error_set(err, EX_OSERR, "cannot start the VNC thread");
        v->thread = 0;
        vnc_free(v);
        return NULL;
    }
    return v;
oom:
    error_set(err, EX_OSERR, "out of memory");
    vnc_free(v);
    return NULL;
}

int vnc_port(const struct vnc *v)
{
    return v->port;
}

void vnc_free(struct vnc *v)
{
    if (!v)
        return;
    if (v->thread) {
        atomic_store(&v->stop, true);
        pthread_join(v->thread, NULL);
    }
    if (v->screen) {
        rfbShutdownServer(v->screen, TRUE);
        rfbScreenCleanup(v->screen);
    }
    free(v->passwords[0]);
    framebuffer_release(&v->snap);
    free(v->fb);
    free(v->row);
    free(v);
}
