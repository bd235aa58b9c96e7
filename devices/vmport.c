/*
 * The VMware backdoor (see vmport.h): commands GETVERSION, GETMEMSIZE,
 * GETTIME, GETTIMEFULL, GETHZ and GETVCPU_INFO (what Linux's VMware platform
 * code asks), the VMMouse ABSPOINTER_* commands and the low-bandwidth
 * RPC channel (command 30; the high-bandwidth port 0x5659 is not offered, so
 * guests move messages four bytes at a time). RPCI answers info-get
 * guestinfo.<key> from the .vmx and accepts tools.capability.*, log,
 * tools.set.version and tools.os.statechange.status; everything else gets
 * "0 Unknown command". On a TCLO channel the host hands the polling tools
 * OS_Halt or OS_Reboot when the player asks for a clean shutdown.
 *
 * Registers in and out follow the backdoor convention: EAX magic, EBX
 * argument, ECX command (low half) and message type (high half), EDX port
 * (low half) and channel id (high half), ESI/EDI the channel cookies.
 */
#include "devices/vmport.h"

#include "cpu/cpu.h"
#include "devices/input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { AX, CX, DX, BX, SP, BP, SI, DI };

#define MOUSE_QUEUE 1024 /* words; a multiple of 4 */

struct channel {
    bool open;
    bool tclo; /* host-to-guest: the guest's messages are replies, the host's are commands */
    uint32_t cookie1, cookie2;
    uint8_t *out;           /* the guest's message */
    uint32_t out_len, out_pos;
    char *reply;            /* the host's reply */
    uint32_t reply_len, reply_pos;
};

struct vmport {
    struct vmport_config cfg;
    struct vmport_key *keys;
    size_t nkeys;
    bool mouse_enabled, mouse_absolute;
    uint32_t queue[MOUSE_QUEUE];
    unsigned qhead, qcount;
    struct channel ch[VMPORT_CHANNELS];
    uint32_t cookie_seed;
    bool tools;               /* the guest's tools announced themselves over RPCI */
    bool resolution_set;      /* ... and can set the guest's screen size (resolutionSet) */
    const char *tclo_pending; /* the next TCLO command for the tools, or NULL */
    char tclo_text[40];       /* a command made up on request: "Resolution_Set W H" */
};

/* ---- VMMouse ---- */

static void queue_push(struct vmport *s, uint32_t w)
{
    if (s->qcount < MOUSE_QUEUE)
        s->queue[(s->qhead + s->qcount++) % MOUSE_QUEUE] = w;
}

static uint32_t queue_pop(struct vmport *s)
{
    if (!s->qcount)
        return 0;
    uint32_t w = s->queue[s->qhead];
    s->qhead = (s->qhead + 1) % MOUSE_QUEUE;
    s->qcount--;
    return w;
}

static void set_absolute(struct vmport *s, bool on)
{
    if (s->mouse_absolute == on)
        return;
    s->mouse_absolute = on;
    if (s->cfg.absolute)
        s->cfg.absolute(s->cfg.opaque, on);
}

static void mouse_command(struct vmport *s, uint32_t cmd)
{
    switch (cmd) {
    case VMMOUSE_CMD_ENABLE:
        s->mouse_enabled = true;
        s->qhead = s->qcount = 0;
        queue_push(s, VMMOUSE_VERSION_ID);
        break;
    case VMMOUSE_CMD_DISABLE:
        s->mouse_enabled = false;
        s->qhead = s->qcount = 0;
        set_absolute(s, false);
        break;
    case VMMOUSE_CMD_REQUEST_ABSOLUTE:
        set_absolute(s, s->mouse_enabled);
        break;
    case VMMOUSE_CMD_REQUEST_RELATIVE:
        set_absolute(s, false);
        break;
    default:
        break;
    }
}

/* ABSPOINTER_DATA: EBX words (at most 4) come out in EAX, EBX, ECX, EDX. */
static void mouse_data(struct vmport *s, uint32_t *r)
{
    uint32_t n = r[BX];
    if (n > 4 || n > s->qcount) {
        r[AX] = VMMOUSE_ERROR; /* the guest asked for more than is queued */
        return;
    }
    static const int order[4] = {AX, BX, CX, DX};
    for (uint32_t i = 0; i < n; i++)
        r[order[i]] = queue_pop(s);
}

bool vmport_mouse_abs(struct vmport *s, unsigned x, unsigned y, int dz, unsigned buttons)
{
    if (!s->mouse_enabled || !s->mouse_absolute)
        return false;
    if (s->qcount + 4 > MOUSE_QUEUE)
        return true; /* the guest stopped reading: drop the event, not the protocol */
    uint32_t status = 0;
    if (buttons & INPUT_BUTTON_LEFT)
        status |= VMMOUSE_LEFT;
    if (buttons & INPUT_BUTTON_RIGHT)
        status |= VMMOUSE_RIGHT;
    if (buttons & INPUT_BUTTON_MIDDLE)
        status |= VMMOUSE_MIDDLE;
    queue_push(s, status);
    queue_push(s, x > 0xFFFF ? 0xFFFF : x);
    queue_push(s, y > 0xFFFF ? 0xFFFF : y);
    queue_push(s, (uint32_t)(dz < -127 ? -127 : dz > 127 ? 127 : dz));
    if (s->cfg.kick)
        s->cfg.kick(s->cfg.opaque);
    return true;
}

bool vmport_absolute(const struct vmport *s)
{
    return s->mouse_enabled && s->mouse_absolute;
}

/* ---- RPC ---- */

static void channel_close(struct channel *c)
{
    free(c->out);
    free(c->reply);
    *c = (struct channel){0};
}

static int set_reply(struct channel *c, const char *text, const char *extra)
{
    size_t a = strlen(text), b = extra ? strlen(extra) : 0;
    if (a + b > VMPORT_MSG_MAX)
        b = VMPORT_MSG_MAX - a;
    char *p = malloc(a + b + 1);
    if (!p)
        return -1;
    memcpy(p, text, a);
    if (b)
        memcpy(p + a, extra, b);
    p[a + b] = 0;
    free(c->reply);
    c->reply = p;
    c->reply_len = (uint32_t)(a + b);
    c->reply_pos = 0;
    return 0;
}

static bool starts_with(const uint8_t *msg, uint32_t len, const char *word)
{
    size_t n = strlen(word);
    return len >= n && !memcmp(msg, word, n) && (len == n || msg[n] == ' ' || msg[n] == '.');
}

static const char *guestinfo(const struct vmport *s, const uint8_t *name, uint32_t len)
{
    for (size_t i = 0; i < s->nkeys; i++)
        if (strlen(s->keys[i].name) == len && !strncasecmp(s->keys[i].name, (const char *)name, len))
            return s->keys[i].value;
    return NULL;
}

/* Answers one complete message: on TCLO the guest's reply to the last command, answered with
 * the next command (none: no reply, the tools poll again); on RPCI a request. */
static void rpc_answer(struct vmport *s, struct channel *c)
{
    const uint8_t *m = c->out;
    uint32_t n = c->out_len;
    if (c->tclo) {
        if (s->tclo_pending) {
            set_reply(c, s->tclo_pending, NULL);
            s->tclo_pending = NULL;
        }
        return;
    }
    static const char get[] = "info-get guestinfo.";
    if (n >= sizeof get - 1 && !memcmp(m, get, sizeof get - 1)) {
        const uint8_t *key = m + sizeof get - 1;
        uint32_t klen = n - (uint32_t)(sizeof get - 1);
        while (klen && (key[klen - 1] == 0 || key[klen - 1] == ' '))
            klen--;
        const char *v = guestinfo(s, key, klen);
        set_reply(c, v ? "1 " : "0 No value found", v);
    } else if (starts_with(m, n, "tools.capability") || starts_with(m, n, "tools.set.version")) {
        static const char res[] = "tools.capability.resolution_set ";
        s->tools = true;
        if (n >= sizeof res && !memcmp(m, res, sizeof res - 1))
            s->resolution_set = m[sizeof res - 1] == '1';
        set_reply(c, "1 ", NULL);
    } else if (starts_with(m, n, "log") || starts_with(m, n, "tools.os.statechange.status")) {
        set_reply(c, "1 ", NULL);
    } else {
        set_reply(c, "0 Unknown command", NULL);
    }
}

static void rpc_open(struct vmport *s, uint32_t *r)
{
    uint32_t proto = r[BX] & 0x7FFFFFFF;
    if (proto != VMPORT_RPCI_MAGIC && proto != VMPORT_TCLO_MAGIC)
        return;
    for (int id = 0; id < VMPORT_CHANNELS; id++) {
        struct channel *c = &s->ch[id];
        if (c->open)
            continue;
        c->open = true;
        c->tclo = proto == VMPORT_TCLO_MAGIC;
        c->cookie1 = s->cookie_seed = s->cookie_seed * 1103515245u + 12345u;
        c->cookie2 = s->cookie_seed = s->cookie_seed * 1103515245u + 12345u;
        r[CX] = VMPORT_MSG_SUCCESS << 16;
        r[DX] = (uint32_t)id << 16 | (r[DX] & 0xFFFF);
        r[SI] = c->cookie1;
        r[DI] = c->cookie2;
        return;
    }
}

static void rpc_send(struct vmport *s, struct channel *c, uint32_t type, uint32_t *r)
{
    if (type == VMPORT_MSG_SENDSIZE) {
        if (r[BX] > VMPORT_MSG_MAX)
            return;
        free(c->out);
        c->out = malloc(r[BX] ? r[BX] : 1);
        if (!c->out)
            return;
        c->out_len = r[BX];
        c->out_pos = 0;
    } else {
        if (!c->out || c->out_pos >= c->out_len)
            return;
        uint32_t take = c->out_len - c->out_pos < 4 ? c->out_len - c->out_pos : 4;
        for (uint32_t i = 0; i < take; i++)
            c->out[c->out_pos++] = (uint8_t)(r[BX] >> (8 * i));
    }
    r[CX] = VMPORT_MSG_SUCCESS << 16;
    if (c->out_pos == c->out_len)
        rpc_answer(s, c);
}

static void rpc_recv(struct channel *c, uint32_t type, uint32_t *r)
{
    if (type == VMPORT_MSG_RECVSIZE) {
        r[CX] = VMPORT_MSG_SUCCESS << 16;
        if (c->reply) {
            r[CX] |= VMPORT_MSG_DORECV << 16;
            r[BX] = c->reply_len;
        }
        return;
    }
    if (type == VMPORT_MSG_RECVPAYLOAD) {
        if (!c->reply)
            return;
        uint32_t w = 0;
        for (uint32_t i = 0; i < 4 && c->reply_pos < c->reply_len; i++)
            w |= (uint32_t)(uint8_t)c->reply[c->reply_pos++] << (8 * i);
        r[BX] = w;
        r[CX] = VMPORT_MSG_SUCCESS << 16;
        return;
    }
    free(c->reply); /* RECVSTATUS: the guest has the whole reply */
    c->reply = NULL;
    c->reply_len = c->reply_pos = 0;
    r[CX] = VMPORT_MSG_SUCCESS << 16;
}

/* Command 30: the reply's ECX is 0 (failure) unless a step below succeeds. */
static void rpc(struct vmport *s, uint32_t *r)
{
    uint32_t type = r[CX] >> 16, id = r[DX] >> 16;
    r[CX] = 0;
    if (type == VMPORT_MSG_OPEN) {
        rpc_open(s, r);
        return;
    }
    if (id >= VMPORT_CHANNELS || !s->ch[id].open)
        return;
    struct channel *c = &s->ch[id];
    if (r[SI] != c->cookie1 || r[DI] != c->cookie2)
        return;
    switch (type) {
    case VMPORT_MSG_SENDSIZE:
    case VMPORT_MSG_SENDPAYLOAD:
        rpc_send(s, c, type, r);
        break;
    case VMPORT_MSG_RECVSIZE:
    case VMPORT_MSG_RECVPAYLOAD:
    case VMPORT_MSG_RECVSTATUS:
        rpc_recv(c, type, r);
        break;
    case VMPORT_MSG_CLOSE:
        channel_close(c);
        r[CX] = VMPORT_MSG_SUCCESS << 16;
        break;
    default:
        break;
    }
}

/* ---- the port ---- */

static void get_time(struct vmport *s, uint32_t *r, bool full)
{
    int64_t us = s->cfg.time_us ? s->cfg.time_us(s->cfg.opaque) : 0;
    uint64_t sec = (uint64_t)(us / 1000000);
    r[BX] = (uint32_t)(us % 1000000);
    r[CX] = 1000000; /* the largest lag the guest should accept, in microseconds */
    if (full) {
        r[AX] = VMPORT_MAGIC;
        r[SI] = (uint32_t)(sec >> 32);
        r[DX] = (uint32_t)sec;
    } else {
        r[AX] = (uint32_t)sec;
        r[DX] = 0; /* the host's offset from UTC, minutes */
    }
}

bool vmport_backdoor(void *opaque, uint16_t port, bool in, unsigned size, uint32_t regs[8])
{
    struct vmport *s = opaque;
    if (port != CPU_BACKDOOR_PORT || !in || size != 4 || regs[AX] != VMPORT_MAGIC)
        return false; /* the bus answers all ones, as an absent backdoor does */
    switch (regs[CX] & 0xFFFF) {
    case VMPORT_CMD_GETVERSION:
        regs[AX] = VMPORT_VERSION;
        regs[BX] = VMPORT_MAGIC;
        regs[CX] = 2; /* the product: a VMware workstation-class host */
        break;
    case VMPORT_CMD_GETMEMSIZE:
        regs[AX] = (uint32_t)s->cfg.memsize_mib;
        break;
    case VMPORT_CMD_GETTIME:
        get_time(s, regs, false);
        break;
    case VMPORT_CMD_GETTIMEFULL:
        get_time(s, regs, true);
        break;
    case VMPORT_CMD_GETHZ:
        if (!s->cfg.tsc_hz)
            return false; /* all ones: the guest calibrates for itself */
        regs[AX] = (uint32_t)s->cfg.tsc_hz;
        regs[BX] = (uint32_t)(s->cfg.tsc_hz >> 32);
        regs[CX] = (uint32_t)s->cfg.bus_hz;
        break;
    case VMPORT_CMD_GETVCPU_INFO:
        regs[AX] = 0; /* valid (bit 31 clear), no legacy x2APIC (bit 3), no SLC64 */
        break;
    case VMPORT_CMD_ABSPOINTER_RESTRICT:
        break; /* the guest limits the VMMouse to CPL 0: nothing to enforce for its own driver */
    case VMPORT_CMD_MESSAGE:
        rpc(s, regs);
        break;
    case VMPORT_CMD_ABSPOINTER_DATA:
        mouse_data(s, regs);
        break;
    case VMPORT_CMD_ABSPOINTER_STATUS:
        regs[AX] = s->mouse_enabled ? s->qcount : VMMOUSE_ERROR;
        break;
    case VMPORT_CMD_ABSPOINTER_COMMAND:
        mouse_command(s, regs[BX]);
        break;
    default:
        return false;
    }
    return true;
}

/* ---- lifecycle ---- */

bool vmport_request_halt(struct vmport *s, bool reboot)
{
    bool polling = false;
    for (int i = 0; i < VMPORT_CHANNELS; i++)
        polling |= s->ch[i].open && s->ch[i].tclo;
    if (!s->tools || !polling)
        return false;
    s->tclo_pending = reboot ? "OS_Reboot" : "OS_Halt";
    return true;
}

bool vmport_request_resolution(struct vmport *s, unsigned w, unsigned h)
{
    bool polling = false;
    for (int i = 0; i < VMPORT_CHANNELS; i++)
        polling |= s->ch[i].open && s->ch[i].tclo;
    if (!s->tools || !s->resolution_set || !polling || w < 1 || h < 1 || w > 16384 || h > 16384)
        return false;
    if (s->tclo_pending && s->tclo_pending != s->tclo_text)
        return false; /* a shutdown is asked for: it goes first, the size no longer matters */
    snprintf(s->tclo_text, sizeof s->tclo_text, "Resolution_Set %u %u", w, h);
    s->tclo_pending = s->tclo_text; /* a newer size replaces one not yet taken */
    return true;
}

bool vmport_tools(const struct vmport *s)
{
    return s->tools;
}

void vmport_set_rates(struct vmport *s, uint64_t tsc_hz, uint64_t bus_hz)
{
    s->cfg.tsc_hz = tsc_hz;
    s->cfg.bus_hz = bus_hz > 0xFFFFFFFFu ? 0xFFFFFFFFu : bus_hz;
}

void vmport_reset(struct vmport *s)
{
    for (int i = 0; i < VMPORT_CHANNELS; i++)
        channel_close(&s->ch[i]);
    s->mouse_enabled = false;
    s->qhead = s->qcount = 0;
    set_absolute(s, false);
    s->tools = false;
    s->resolution_set = false;
    s->tclo_pending = NULL;
}

static void free_keys(struct vmport *s)
{
    for (size_t i = 0; i < s->nkeys; i++) {
        free((char *)s->keys[i].name);
        free((char *)s->keys[i].value);
    }
    free(s->keys);
}

struct vmport *vmport_new(const struct vmport_config *cfg)
{
    struct vmport *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = *cfg;
    s->cfg.guestinfo = NULL;
    s->cookie_seed = 0x12345678u ^ (uint32_t)cfg->memsize_mib;
    if (cfg->nguestinfo && !(s->keys = calloc(cfg->nguestinfo, sizeof *s->keys)))
        goto fail;
    for (size_t i = 0; i < cfg->nguestinfo; i++, s->nkeys++) {
        s->keys[i].name = strdup(cfg->guestinfo[i].name);
        s->keys[i].value = strdup(cfg->guestinfo[i].value);
        if (!s->keys[i].name || !s->keys[i].value) {
            s->nkeys++;
            goto fail;
        }
    }
    return s;
fail:
    free_keys(s);
    free(s);
    return NULL;
}

void vmport_free(struct vmport *s)
{
    if (!s)
        return;
    for (int i = 0; i < VMPORT_CHANNELS; i++)
        channel_close(&s->ch[i]);
    free_keys(s);
    free(s);
}
