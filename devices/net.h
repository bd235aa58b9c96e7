/*
 * The network seam: a card (e1000, later vmxnet3, pcnet) sends Ethernet frames
 * to a back end and receives frames from it; any card meets any back end.
 *
 * Back ends: user-mode NAT through libslirp (net_slirp.c), a host tap device
 * (net_tap.c); every back end can tee both directions into a pcap file
 * (--net-dump). Everything runs on the machine thread: the card calls
 * net_send from its register handlers; the machine loop serves the back ends
 * through one host event source (net_group), which polls their descriptors,
 * moves host frames in and runs their timers on the machine clock.
 *
 * Flow control: a frame for the guest goes to the card only when its
 * can_receive says there is room. Otherwise it waits in the back end's queue,
 * which is bounded (NET_QUEUE_MAX_FRAMES / NET_QUEUE_MAX_BYTES); while it
 * holds frames the back end reads nothing more from the host (the host's
 * socket buffers and TCP windows hold the rest), and only frames a back end
 * makes up by itself (ARP, DHCP answers) can overflow it, and are dropped
 * and counted. The card calls net_rx_ready when it has room again.
 */
#ifndef VMPLAY_NET_H
#define VMPLAY_NET_H

#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "devices/clock.h"
#include "formats/config.h"
#include "formats/error.h"

#define NET_FRAME_MAX 65536      /* the largest frame either way (a TSO batch is cut before) */
#define NET_QUEUE_MAX_FRAMES 512
#define NET_QUEUE_MAX_BYTES (2u << 20)
#define NET_MAX_FORWARDS 32

/* The card's side, set by net_attach. */
struct net_client {
    bool (*can_receive)(void *opaque);
    void (*receive)(void *opaque, const uint8_t *frame, size_t len);
    void *opaque;
};

struct net_backend;

struct net_backend_ops {
    const char *name;
    /* A frame from the guest (link up, already in the dump). */
    void (*send)(struct net_backend *be, const uint8_t *frame, size_t len);
    /* Descriptors the idle wait watches (at most max); may be NULL. */
    int (*poll_fds)(struct net_backend *be, struct pollfd *fds, int max);
    /* Moves host traffic in (net_deliver) when the queue is empty; runs every loop turn. */
    void (*service)(struct net_backend *be, bool ready);
    void (*free)(struct net_backend *be);
};

struct net_qframe {
    struct net_qframe *next;
    size_t len;
    uint8_t data[];
};

struct net_backend {
    const struct net_backend_ops *ops;
    struct net_client client;
    struct clock *clock;
    bool link_up;
    FILE *dump;                 /* --net-dump, or NULL */
    struct net_qframe *qhead, *qtail;
    size_t qframes, qbytes;
    uint64_t dropped;           /* frames for the guest the full queue refused */
    uint64_t sent, delivered;   /* frames guest -> back end, back end -> card */
};

/* ---- what the options say (player.c fills it) ---- */

struct net_forward {
    bool udp;
    struct in_addr host_addr;  /* 127.0.0.1 unless given */
    uint16_t host_port, guest_port;
};

struct net_opts {
    bool none;                 /* --net=none: no card at all */
    const char *dump;          /* --net-dump=FILE */
    const char *tap;           /* --net-tap=IFNAME */
    const char *tftp;          /* --net-tftp=DIR: slirp's TFTP server serves DIR */
    const char *bootfile;      /* --net-bootfile=NAME: the boot file slirp's DHCP names */
    struct net_forward fwd[NET_MAX_FORWARDS];
    int nfwd;
    bool deterministic;
    FILE *log;                 /* one-line notices */
};

/* --forward=tcp:[HOSTADDR:]HOSTPORT:GUESTPORT (or udp:...). EX_USAGE on a bad spec. */
int net_parse_forward(const char *spec, struct net_forward *f, struct error *err);

/* ---- the contract ---- */

void net_backend_init(struct net_backend *be, const struct net_backend_ops *ops, struct clock *clock);
void net_backend_free(struct net_backend *be);
/* The card connects itself; frames are delivered to it from then on. */
void net_attach(struct net_backend *be, const struct net_client *client);
/* Cable in or out (startConnected): while down nothing moves either way. */
void net_set_link(struct net_backend *be, bool up);
/* A frame from the card (guest -> network). */
void net_send(struct net_backend *be, const uint8_t *frame, size_t len);
/* A frame from the back end (network -> guest): to the card now, or queued. */
void net_deliver(struct net_backend *be, const uint8_t *frame, size_t len);
/* The card has room again: hands it what is queued, as long as it takes it. */
void net_rx_ready(struct net_backend *be);
/* Frames waiting for the card. */
static inline size_t net_queued(const struct net_backend *be)
{
    return be->qframes;
}

/* --net-dump: a pcap file (LINKTYPE_ETHERNET); every frame both ways, flushed. */
int net_dump_open(struct net_backend *be, const char *path, struct error *err);

/* ---- the back ends ---- */

/* NAT through libslirp: 10.0.2.0/24, gateway 10.0.2.2, DNS 10.0.2.3, DHCP from 10.0.2.15.
 * restricted: host-only (no way out); fwd: host -> guest forwards (binds them now: EX_UNAVAILABLE). */
struct net_backend *net_slirp_new(struct clock *clock, bool restricted, const struct net_forward *fwd,
                                  int nfwd, struct error *err);
/* The same with a TFTP root and a DHCP boot file name (either NULL: none), for network boot. */
struct net_backend *net_slirp_new_boot(struct clock *clock, bool restricted, const struct net_forward *fwd,
                                       int nfwd, const char *tftp, const char *bootfile, struct error *err);
/* A host tap device (/dev/net/tun, IFF_TAP | IFF_NO_PI): EX_UNAVAILABLE when it cannot be opened. */
struct net_backend *net_tap_new(struct clock *clock, const char *ifname, struct error *err);

/* The back end a NIC of the .vmx gets under these options (index: ethernetN), with the notice
 * a fallback deserves on o->log; NULL with err on failure. */
struct net_backend *net_backend_for_nic(const struct net_opts *o, const struct vm_nic *nic, int index,
                                        struct clock *clock, struct error *err);

/* ---- the machine loop's view: one host event source for every back end ---- */

#define NET_GROUP_MAX VM_MAX_NICS
struct net_group {
    struct net_backend *be[NET_GROUP_MAX];
    int n;
};
int net_group_poll_fds(void *opaque, struct pollfd *fds, int max);
void net_group_service(void *opaque, bool ready);

#endif
