/*
 * A host tap device as a back end (bridged networking the user sets up):
 * /dev/net/tun with IFF_TAP | IFF_NO_PI, so each read and write is one
 * Ethernet frame. Non-blocking; at most TAP_BURST frames are read per loop
 * turn, and none while frames wait for the card (the kernel's queue holds them).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/net.h"

#define TAP_BURST 64

struct net_tap {
    struct net_backend be; /* first */
    int fd;
    uint8_t buf[NET_FRAME_MAX];
};

static void tap_send(struct net_backend *be, const uint8_t *frame, size_t len)
{
    struct net_tap *t = (struct net_tap *)be;
    if (write(t->fd, frame, len) < 0) {
        /* the interface is down or its queue full: the frame is lost, as on a wire */
    }
}

static int tap_poll_fds(struct net_backend *be, struct pollfd *fds, int max)
{
    struct net_tap *t = (struct net_tap *)be;
    if (max < 1)
        return 0;
    fds[0] = (struct pollfd){.fd = t->fd, .events = POLLIN};
    return 1;
}

static void tap_service(struct net_backend *be, bool ready)
{
    struct net_tap *t = (struct net_tap *)be;
    for (int i = 0; i < TAP_BURST && !net_queued(be); i++) {
        ssize_t n = read(t->fd, t->buf, sizeof t->buf);
        if (n <= 0)
            break;
        net_deliver(be, t->buf, (size_t)n);
    }
}

static void tap_free(struct net_backend *be)
{
    struct net_tap *t = (struct net_tap *)be;
    if (t->fd >= 0)
        close(t->fd);
    free(t);
}

static const struct net_backend_ops tap_ops = {
    .name = "tap",
    .send = tap_send,
    .poll_fds = tap_poll_fds,
    .service = tap_service,
    .free = tap_free,
};

struct net_backend *net_tap_new(struct clock *clock, const char *ifname, struct error *err)
{
    struct ifreq ifr = {0};
    if (!ifname[0] || strlen(ifname) >= sizeof ifr.ifr_name) {
        error_set(err, EX_USAGE, "--net-tap=%s: not an interface name", ifname);
        return NULL;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        error_set(err, EX_UNAVAILABLE, "--net-tap=%s: cannot open /dev/net/tun: %s", ifname,
                  strerror(errno));
        return NULL;
    }
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    memcpy(ifr.ifr_name, ifname, strlen(ifname));
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        error_set(err, EX_UNAVAILABLE, "--net-tap=%s: cannot attach to the tap device: %s "
                  "(create it with 'ip tuntap add %s mode tap user $USER')", ifname, strerror(errno),
                  ifname);
        close(fd);
        return NULL;
    }
    struct net_tap *t = calloc(1, sizeof *t);
    if (!t) {
        close(fd);
        error_set(err, EX_OSERR, "out of memory");
        return NULL;
    }
    net_backend_init(&t->be, &tap_ops, clock);
    t->fd = fd;
    return &t->be;
}
