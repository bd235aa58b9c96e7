/*
 * A network back end for the NIC unit tests (test_e1000, test_e1000e,
 * test_pcnet): it keeps the last frame a card sent and counts them.
 * Included once per test program.
 */
#ifndef VMPLAY_TESTS_NETFAKE_H
#define VMPLAY_TESTS_NETFAKE_H

#include <string.h>

#include "devices/net.h"

struct fake_be {
    struct net_backend be; /* first */
    uint8_t last[NET_FRAME_MAX];
    size_t last_len;
    int frames;
};

static void fake_send(struct net_backend *be, const uint8_t *f, size_t len)
{
    struct fake_be *fb = (struct fake_be *)be;
    if (len > sizeof fb->last)
        len = sizeof fb->last;
    memcpy(fb->last, f, len);
    fb->last_len = len;
    fb->frames++;
}

static const struct net_backend_ops fake_ops = {.name = "fake", .send = fake_send};

#endif
