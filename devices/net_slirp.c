/*
 * User-mode NAT through libslirp, laid out as QEMU's "-nic user": guest
 * network 10.0.2.0/24, gateway and host at 10.0.2.2 (the host's loopback is
 * reached there), DNS at 10.0.2.3, DHCP leases from 10.0.2.15; IPv4 only.
 * Host -> guest forwards are bound when the back end is made, so a port that
 * is taken fails the run before power-on.
 *
 * Slirp runs on the machine thread: its timers are machine-clock timers, its
 * clock is the machine's virtual clock (it stands still while paused and, with
 * --deterministic, follows the guest's instructions), and its sockets are polled
 * on every turn of the machine loop without waiting, and watched by the idle
 * wait. While frames wait for the card, slirp's sockets are not read.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <slirp/libslirp.h>
#include <stdlib.h>
#include <string.h>

#include "devices/net.h"
#include "devices/trace.h"

#define SLIRP_MAX_POLL 1024

struct net_slirp {
    struct net_backend be; /* first: the contract's view */
    Slirp *slirp;
    struct pollfd fds[SLIRP_MAX_POLL];
    int nfds;
};

struct slirp_timer {
    struct timer t;
    struct net_slirp *s;
    SlirpTimerId id;
    void *cb_opaque;
    SlirpTimerCb cb; /* the older interface */
};

static ssize_t slirp_send_packet(const void *buf, size_t len, void *opaque)
{
    struct net_slirp *s = opaque;
    net_deliver(&s->be, buf, len);
    return (ssize_t)len;
}

static void slirp_guest_error(const char *msg, void *opaque)
{
    if (trace_on(TRACE_IO))
        trace_printf(TRACE_IO, "net slirp: guest error: %s", msg);
}

static int64_t slirp_clock_ns(void *opaque)
{
    struct net_slirp *s = opaque;
    return clock_now_ns(s->be.clock);
}

static void slirp_timer_fire(void *opaque)
{
    struct slirp_timer *t = opaque;
    if (t->cb)
        t->cb(t->cb_opaque);
    else
        slirp_handle_timer(t->s->slirp, t->id, t->cb_opaque);
}

static struct slirp_timer *timer_make(struct net_slirp *s)
{
    struct slirp_timer *t = calloc(1, sizeof *t);
    if (!t)
        abort(); /* libslirp has no way to hear of it either */
    t->s = s;
    timer_init(&t->t, s->be.clock, slirp_timer_fire, t);
    return t;
}

static void *slirp_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
    struct slirp_timer *t = timer_make(opaque);
    t->id = id;
    t->cb_opaque = cb_opaque;
    return t;
}

static void *slirp_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    struct slirp_timer *t = timer_make(opaque);
    t->cb = cb;
    t->cb_opaque = cb_opaque;
    return t;
}

static void slirp_timer_free(void *timer, void *opaque)
{
    struct slirp_timer *t = timer;
    timer_cancel(&t->t);
    free(t);
}

static void slirp_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    struct slirp_timer *t = timer;
    timer_arm(&t->t, expire_ms * 1000000);
}

static void slirp_fd_noop(int fd, void *opaque)
{
}

static void slirp_notify(void *opaque)
{
    /* the loop serves slirp on every turn anyway */
}

static const SlirpCb slirp_callbacks = {
    .send_packet = slirp_send_packet,
    .guest_error = slirp_guest_error,
    .clock_get_ns = slirp_clock_ns,
    .timer_new = slirp_timer_new,
    .timer_free = slirp_timer_free,
    .timer_mod = slirp_timer_mod,
    .register_poll_fd = slirp_fd_noop,
    .unregister_poll_fd = slirp_fd_noop,
    .notify = slirp_notify,
    .timer_new_opaque = slirp_timer_new_opaque,
};

static int add_poll(int fd, int events, void *opaque)
{
    struct net_slirp *s = opaque;
    if (s->nfds == SLIRP_MAX_POLL)
        return -1; /* slirp treats it as not ready this turn */
    short ev = 0;
    if (events & SLIRP_POLL_IN)
        ev |= POLLIN;
    if (events & SLIRP_POLL_OUT)
        ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI)
        ev |= POLLPRI;
    s->fds[s->nfds] = (struct pollfd){.fd = fd, .events = ev};
    return s->nfds++;
}

static int get_revents(int idx, void *opaque)
{
    struct net_slirp *s = opaque;
    if (idx < 0 || idx >= s->nfds)
        return 0;
    short r = s->fds[idx].revents;
    int out = 0;
    if (r & POLLIN)
        out |= SLIRP_POLL_IN;
    if (r & POLLOUT)
        out |= SLIRP_POLL_OUT;
    if (r & POLLPRI)
        out |= SLIRP_POLL_PRI;
    if (r & POLLERR)
        out |= SLIRP_POLL_ERR;
    if (r & POLLHUP)
        out |= SLIRP_POLL_HUP;
    return out;
}

static void fill(struct net_slirp *s)
{
    uint32_t timeout = UINT32_MAX;
    s->nfds = 0;
    slirp_pollfds_fill(s->slirp, &timeout, add_poll, s);
}

static void slirp_send(struct net_backend *be, const uint8_t *frame, size_t len)
{
    struct net_slirp *s = (struct net_slirp *)be;
    slirp_input(s->slirp, frame, (int)len);
}

static int slirp_poll_fds(struct net_backend *be, struct pollfd *fds, int max)
{
    struct net_slirp *s = (struct net_slirp *)be;
    fill(s);
    int n = s->nfds < max ? s->nfds : max;
    memcpy(fds, s->fds, (size_t)n * sizeof fds[0]);
    return n;
}

static void slirp_service(struct net_backend *be, bool ready)
{
    struct net_slirp *s = (struct net_slirp *)be;
    if (net_queued(be))
        return; /* the card is full: leave the host's data in its sockets */
    fill(s);
    int rc = s->nfds ? poll(s->fds, (nfds_t)s->nfds, 0) : 0;
    if (rc < 0 && errno == EINTR)
        rc = 0;
    slirp_pollfds_poll(s->slirp, rc < 0, get_revents, s);
}

static void slirp_free(struct net_backend *be)
{
    struct net_slirp *s = (struct net_slirp *)be;
    if (s->slirp)
        slirp_cleanup(s->slirp);
    free(s);
}

static const struct net_backend_ops slirp_ops = {
    .name = "slirp",
    .send = slirp_send,
    .poll_fds = slirp_poll_fds,
    .service = slirp_service,
    .free = slirp_free,
};

static struct in_addr ip4(const char *s)
{
    struct in_addr a;
    inet_pton(AF_INET, s, &a);
    return a;
}

static struct in6_addr ip6(const char *s)
{
    struct in6_addr a;
    inet_pton(AF_INET6, s, &a);
    return a;
}

struct net_backend *net_slirp_new(struct clock *clock, bool restricted, const struct net_forward *fwd,
                                  int nfwd, struct error *err)
{
    return net_slirp_new_boot(clock, restricted, fwd, nfwd, NULL, NULL, err);
}

struct net_backend *net_slirp_new_boot(struct clock *clock, bool restricted, const struct net_forward *fwd,
                                       int nfwd, const char *tftp, const char *bootfile, struct error *err)
{
    struct net_slirp *s = calloc(1, sizeof *s);
    if (!s) {
        error_set(err, EX_OSERR, "out of memory");
        return NULL;
    }
    net_backend_init(&s->be, &slirp_ops, clock);
    SlirpConfig cfg = {
        .version = 4,
        .restricted = restricted,
        .in_enabled = true,
        .vnetwork = ip4("10.0.2.0"),
        .vnetmask = ip4("255.255.255.0"),
        .vhost = ip4("10.0.2.2"),
        .vdhcp_start = ip4("10.0.2.15"),
        .vnameserver = ip4("10.0.2.3"),
        /* IPv6 as QEMU's user network has it (router advertisements for fec0::/64, the
         * gateway fec0::2, DNS fec0::3), for NAT only: host-only stays IPv4, whose
         * restriction libslirp applies. */
        .in6_enabled = !restricted,
        .vprefix_addr6 = ip6("fec0::"),
        .vprefix_len = 64,
        .vhost6 = ip6("fec0::2"),
        .vnameserver6 = ip6("fec0::3"),
        .vhostname = "vmplay",
        .tftp_path = tftp,
        .bootfile = bootfile,
    };
    s->slirp = slirp_new(&cfg, &slirp_callbacks, s);
    if (!s->slirp) {
        free(s);
        error_set(err, EX_UNAVAILABLE, "libslirp cannot start its NAT");
        return NULL;
    }
    for (int i = 0; i < nfwd; i++) {
        const struct net_forward *f = &fwd[i];
        if (slirp_add_hostfwd(s->slirp, f->udp, f->host_addr, f->host_port, cfg.vdhcp_start,
                              f->guest_port) < 0) {
            char a[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &f->host_addr, a, sizeof a);
            error_set(err, EX_UNAVAILABLE, "--forward=%s:%s:%u:%u: cannot listen on %s port %u "
                      "(in use, or not an address of this host)", f->udp ? "udp" : "tcp", a,
                      f->host_port, f->guest_port, a, f->host_port);
            net_backend_free(&s->be);
            return NULL;
        }
    }
    return &s->be;
}
