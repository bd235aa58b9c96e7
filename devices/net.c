/*
 * The network seam (net.h): frames between a card and a back end, the bounded
 * queue of frames waiting for the card, the pcap tee, the --forward syntax,
 * the choice of back end for a NIC, and the machine loop's event source.
 */
#include "devices/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/trace.h"

void net_backend_init(struct net_backend *be, const struct net_backend_ops *ops, struct clock *clock)
{
    memset(be, 0, sizeof *be);
    be->ops = ops;
    be->clock = clock;
    be->link_up = true;
}

static void queue_clear(struct net_backend *be)
{
    while (be->qhead) {
        struct net_qframe *f = be->qhead;
        be->qhead = f->next;
        free(f);
    }
    be->qtail = NULL;
    be->qframes = be->qbytes = 0;
}

void net_backend_free(struct net_backend *be)
{
    if (!be)
        return;
    queue_clear(be);
    if (be->dump)
        fclose(be->dump);
    be->dump = NULL;
    if (be->ops && be->ops->free)
        be->ops->free(be);
}

void net_attach(struct net_backend *be, const struct net_client *client)
{
    be->client = *client;
}

void net_set_link(struct net_backend *be, bool up)
{
    be->link_up = up;
    if (!up)
        queue_clear(be);
}

/* ---- pcap ---- */

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4); /* pcap is written in host order; the magic tells readers which */
}

static void dump_frame(struct net_backend *be, const uint8_t *frame, size_t len)
{
    if (!be->dump)
        return;
    int64_t ns = clock_now_ns(be->clock);
    uint8_t rec[16];
    put32(rec, (uint32_t)(ns / 1000000000));
    put32(rec + 4, (uint32_t)(ns % 1000000000 / 1000));
    put32(rec + 8, (uint32_t)len);
    put32(rec + 12, (uint32_t)len);
    fwrite(rec, 1, sizeof rec, be->dump);
    fwrite(frame, 1, len, be->dump);
    fflush(be->dump);
}

int net_dump_open(struct net_backend *be, const char *path, struct error *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return error_set(err, EX_CANTCREAT, "--net-dump %s: %s", path, strerror(errno));
    uint8_t hdr[24];
    put32(hdr, 0xa1b2c3d4);      /* microsecond timestamps */
    uint16_t maj = 2, min = 4;   /* version 2.4, in host order like the rest */
    memcpy(hdr + 4, &maj, 2);
    memcpy(hdr + 6, &min, 2);
    put32(hdr + 8, 0);           /* thiszone */
    put32(hdr + 12, 0);          /* sigfigs */
    put32(hdr + 16, NET_FRAME_MAX);
    put32(hdr + 20, 1);          /* LINKTYPE_ETHERNET */
    if (fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr || fflush(f) != 0) {
        fclose(f);
        return error_set(err, EX_IOERR, "--net-dump %s: write failed", path);
    }
    be->dump = f;
    return 0;
}

/* ---- frames ---- */

void net_send(struct net_backend *be, const uint8_t *frame, size_t len)
{
    if (!be->link_up || len < 14 || len > NET_FRAME_MAX)
        return;
    be->sent++;
    dump_frame(be, frame, len);
    if (trace_on(TRACE_IO))
        trace_printf(TRACE_IO, "net %s: guest sent %zu bytes", be->ops->name, len);
    be->ops->send(be, frame, len);
}

static bool card_takes(struct net_backend *be)
{
    return be->client.receive && (!be->client.can_receive || be->client.can_receive(be->client.opaque));
}

static void hand_to_card(struct net_backend *be, const uint8_t *frame, size_t len)
{
    be->delivered++;
    dump_frame(be, frame, len);
    be->client.receive(be->client.opaque, frame, len);
}

void net_deliver(struct net_backend *be, const uint8_t *frame, size_t len)
{
    if (!be->link_up || len < 14 || len > NET_FRAME_MAX)
        return;
    if (!be->qhead && card_takes(be)) {
        hand_to_card(be, frame, len);
        return;
    }
    struct net_qframe *f = NULL;
    if (be->qframes < NET_QUEUE_MAX_FRAMES && be->qbytes + len <= NET_QUEUE_MAX_BYTES)
        f = malloc(sizeof *f + len);
    if (!f) {
        be->dropped++;
        return;
    }
    f->next = NULL;
    f->len = len;
    memcpy(f->data, frame, len);
    if (be->qtail)
        be->qtail->next = f;
    else
        be->qhead = f;
    be->qtail = f;
    be->qframes++;
    be->qbytes += len;
}

void net_rx_ready(struct net_backend *be)
{
    while (be->qhead && card_takes(be)) {
        struct net_qframe *f = be->qhead;
        be->qhead = f->next;
        if (!be->qhead)
            be->qtail = NULL;
        be->qframes--;
        be->qbytes -= f->len;
        hand_to_card(be, f->data, f->len);
        free(f);
    }
}

/* ---- --forward ---- */

static int parse_port(const char *s, size_t n, uint16_t *port)
{
    unsigned v = 0;
    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

int net_parse_forward(const char *spec, struct net_forward *f, struct error *err)
{
    memset(f, 0, sizeof *f);
    const char *p;
    if (strncmp(spec, "tcp:", 4) == 0) {
        p = spec + 4;
    } else if (strncmp(spec, "udp:", 4) == 0) {
        f->udp = true;
        p = spec + 4;
    } else {
        return error_set(err, EX_USAGE, "--forward=%s: not tcp:[HOSTADDR:]HOSTPORT:GUESTPORT or udp:...",
                         spec);
    }
    const char *last = strrchr(p, ':');
    if (!last)
        return error_set(err, EX_USAGE, "--forward=%s: no guest port (tcp:[HOSTADDR:]HOSTPORT:GUESTPORT)",
                         spec);
    const char *mid = last;
    while (mid > p && mid[-1] != ':')
        mid--;
    /* p..mid-1 is "HOSTADDR:" or empty; mid..last the host port; last+1.. the guest port */
    char addr[64] = "127.0.0.1";
    if (mid > p) {
        size_t n = (size_t)(mid - 1 - p);
        if (n == 0 || n >= sizeof addr)
            return error_set(err, EX_USAGE, "--forward=%s: bad host address", spec);
        memcpy(addr, p, n);
        addr[n] = 0;
    }
    if (inet_pton(AF_INET, addr, &f->host_addr) != 1)
        return error_set(err, EX_USAGE, "--forward=%s: '%s' is not an IPv4 address", spec, addr);
    if (parse_port(mid, (size_t)(last - mid), &f->host_port) < 0 ||
        parse_port(last + 1, strlen(last + 1), &f->guest_port) < 0)
        return error_set(err, EX_USAGE, "--forward=%s: ports are 1..65535", spec);
    return 0;
}

/* ---- which back end ---- */

struct net_backend *net_backend_for_nic(const struct net_opts *o, const struct vm_nic *nic, int index,
                                        struct clock *clock, struct error *err)
{
    struct net_backend *be;
    /* Forwards go to the first card's NAT: one host port cannot be bound twice. */
    const struct net_forward *fwd = index == 0 ? o->fwd : NULL;
    int nfwd = index == 0 ? o->nfwd : 0;
    if (o->tap) {
        be = net_tap_new(clock, o->tap, err);
    } else {
        if (nic->conn == VM_NET_BRIDGED && o->log)
            fprintf(o->log, "vmplay: ethernet%d: bridged networking needs --net-tap=IFNAME; using NAT "
                    "instead\n", index);
        else if (nic->conn == VM_NET_CUSTOM && o->log)
            fprintf(o->log, "vmplay: ethernet%d: custom network%s%s is not available; using NAT "
                    "instead\n", index, nic->network_name ? " " : "",
                    nic->network_name ? nic->network_name : "");
        be = net_slirp_new_boot(clock, nic->conn == VM_NET_HOSTONLY, fwd, nfwd, o->tftp, o->bootfile, err);
    }
    if (!be)
        return NULL;
    if (o->dump && index == 0 && net_dump_open(be, o->dump, err) < 0) {
        net_backend_free(be);
        return NULL;
    }
    return be;
}

/* ---- the machine loop's event source ---- */

int net_group_poll_fds(void *opaque, struct pollfd *fds, int max)
{
    struct net_group *g = opaque;
    int n = 0;
    for (int i = 0; i < g->n && n < max; i++)
        if (g->be[i]->ops->poll_fds && !g->be[i]->qhead)
            n += g->be[i]->ops->poll_fds(g->be[i], fds + n, max - n);
    return n;
}

void net_group_service(void *opaque, bool ready)
{
    struct net_group *g = opaque;
    for (int i = 0; i < g->n; i++) {
        struct net_backend *be = g->be[i];
        net_rx_ready(be);
        if (be->ops->service)
            be->ops->service(be, ready);
    }
}
