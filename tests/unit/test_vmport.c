/*
 * The VMware backdoor (devices/vmport.c): the commands as open-vm-tools'
 * backdoor_def.h numbers them and Linux's vmmouse and vmware.c drive them,
 * the RPCI exchange as open-vm-tools' message layer speaks it (low bandwidth,
 * four bytes per SENDPAYLOAD/RECVPAYLOAD), and hostile register values.
 */
#include "devices/vmport.h"
#include "cpu/cpu.h"
#include "devices/input.h"
#include "tests/unit/test.h"

#include <stdlib.h>

enum { AX, CX, DX, BX, SP, BP, SI, DI };

struct host {
    int kicks;
    bool absolute;
};

static int64_t fixed_time(void *opaque)
{
    (void)opaque;
    return INT64_C(0x123456789) * 1000000 + 654321;
}

static void kick(void *opaque)
{
    ((struct host *)opaque)->kicks++;
}

static void absolute(void *opaque, bool on)
{
    ((struct host *)opaque)->absolute = on;
}

static struct vmport *make(struct host *h)
{
    static const struct vmport_key keys[] = {{"ci.marker", "hello-guest"}, {"empty", ""}};
    struct vmport_config c = {.memsize_mib = 256, .guestinfo = keys, .nguestinfo = 2,
                              .time_us = fixed_time, .kick = kick, .absolute = absolute,
                              .opaque = h};
    struct vmport *s = vmport_new(&c);
    ASSERT(s);
    return s;
}

/* One backdoor IN: eax magic, ecx command, ebx argument; returns whether it was taken. */
static bool call(struct vmport *s, uint32_t cmd, uint32_t ebx, uint32_t r[8])
{
    uint32_t dx = r[DX] & 0xFFFF0000u;
    memset(r, 0, 8 * sizeof *r);
    r[AX] = VMPORT_MAGIC;
    r[CX] = cmd;
    r[BX] = ebx;
    r[DX] = dx | CPU_BACKDOOR_PORT;
    return vmport_backdoor(s, CPU_BACKDOOR_PORT, true, 4, r);
}

TEST(getversion_memsize_time)
{
    struct host h = {0};
    struct vmport *s = make(&h);
    uint32_t r[8] = {0};
    ASSERT(call(s, VMPORT_CMD_GETVERSION, ~0u, r));
    ASSERT_EQ(r[AX], 6);
    ASSERT_EQ(r[BX], VMPORT_MAGIC);
    ASSERT(call(s, VMPORT_CMD_GETMEMSIZE, 0, r));
    ASSERT_EQ(r[AX], 256);
    ASSERT(call(s, VMPORT_CMD_GETTIME, 0, r));
    ASSERT_EQ(r[AX], 0x23456789); /* seconds, low 32 bits */
    ASSERT_EQ(r[BX], 654321);
    ASSERT(call(s, VMPORT_CMD_GETTIMEFULL, 0, r));
    ASSERT_EQ(r[AX], VMPORT_MAGIC);
    ASSERT_EQ(r[SI], 1);
    ASSERT_EQ(r[DX], 0x23456789);
    ASSERT_EQ(r[BX], 654321);
    ASSERT(r[CX] > 0); /* max lag */
    /* Not the backdoor: wrong magic, port, width or direction go to the bus. */
    r[AX] = 0;
    r[CX] = VMPORT_CMD_GETVERSION;
    ASSERT(!vmport_backdoor(s, CPU_BACKDOOR_PORT, true, 4, r));
    r[AX] = VMPORT_MAGIC;
    ASSERT(!vmport_backdoor(s, CPU_BACKDOOR_PORT, true, 1, r));
    ASSERT(!vmport_backdoor(s, CPU_BACKDOOR_PORT, false, 4, r));
    ASSERT(!vmport_backdoor(s, CPU_BACKDOOR_PORT + 1, true, 4, r));
    ASSERT(!call(s, 0xFFFF, 0, r));
    vmport_free(s);
}

/* Linux's vmware_platform_setup: GETHZ gives the TSC in Hz as EBX:EAX and the APIC bus
 * in Hz in ECX, EBX all ones meaning "unknown"; GETVCPU_INFO bit 31 clear means valid. */
TEST(gethz_and_vcpu_info)
{
    struct host h = {0};
    struct vmport *s = make(&h);
    uint32_t r[8] = {0};
    ASSERT(!call(s, VMPORT_CMD_GETHZ, ~0u, r)); /* before the CPU says: the bus's all ones */
    vmport_set_rates(s, UINT64_C(5000000000), 1000000000);
    ASSERT(call(s, VMPORT_CMD_GETHZ, ~0u, r));
    ASSERT_EQ(r[AX], (uint32_t)UINT64_C(5000000000));
    ASSERT_EQ(r[BX], 1);
    ASSERT_EQ(r[CX], 1000000000);
    ASSERT(call(s, VMPORT_CMD_GETVCPU_INFO, 0, r));
    ASSERT_EQ(r[AX] & 0x80000008u, 0); /* valid, no legacy x2APIC */
    ASSERT(call(s, VMPORT_CMD_ABSPOINTER_RESTRICT, 1, r));
    vmport_free(s);
}

/* Linux vmmouse_enable: ENABLE, STATUS says 1 word, DATA(1) is "JUB4"; then absolute. */
TEST(vmmouse_enable_absolute_packets)
{
    struct host h = {0};
    struct vmport *s = make(&h);
    uint32_t r[8] = {0};
    ASSERT(!vmport_mouse_abs(s, 1, 1, 0, 0)); /* off: the caller keeps the relative path */
    call(s, VMPORT_CMD_ABSPOINTER_STATUS, 0, r);
    ASSERT_EQ(r[AX], VMMOUSE_ERROR);
    call(s, VMPORT_CMD_ABSPOINTER_COMMAND, VMMOUSE_CMD_ENABLE, r);
    call(s, VMPORT_CMD_ABSPOINTER_STATUS, 0, r);
    ASSERT_EQ(r[AX] & 0xFFFF, 1);
    call(s, VMPORT_CMD_ABSPOINTER_DATA, 1, r);
    ASSERT_EQ(r[AX], VMMOUSE_VERSION_ID);
    ASSERT(!h.absolute);
    call(s, VMPORT_CMD_ABSPOINTER_COMMAND, VMMOUSE_CMD_REQUEST_ABSOLUTE, r);
    ASSERT(h.absolute);
    ASSERT(vmport_absolute(s));
    ASSERT(vmport_mouse_abs(s, 0x8000, 0xFFFF, 1, INPUT_BUTTON_LEFT | INPUT_BUTTON_MIDDLE));
    ASSERT_EQ(h.kicks, 1);
    call(s, VMPORT_CMD_ABSPOINTER_STATUS, 0, r);
    ASSERT_EQ(r[AX], 4);
    call(s, VMPORT_CMD_ABSPOINTER_DATA, 4, r);
    ASSERT_EQ(r[AX], VMMOUSE_LEFT | VMMOUSE_MIDDLE); /* no VMMOUSE_RELATIVE_PACKET bit */
    ASSERT_EQ(r[BX], 0x8000);
    ASSERT_EQ(r[CX], 0xFFFF);
    ASSERT_EQ(r[DX], 1); /* towards the user: Linux reports REL_WHEEL -1 */
    call(s, VMPORT_CMD_ABSPOINTER_STATUS, 0, r);
    ASSERT_EQ(r[AX], 0);
    /* Asking for more than is queued is an error, not stale words. */
    call(s, VMPORT_CMD_ABSPOINTER_DATA, 4, r);
    ASSERT_EQ(r[AX], VMMOUSE_ERROR);
    /* A guest that never reads: the queue stays bounded and whole packets. */
    for (int i = 0; i < 5000; i++)
        vmport_mouse_abs(s, (unsigned)i, 7, -300, INPUT_BUTTON_RIGHT);
    call(s, VMPORT_CMD_ABSPOINTER_STATUS, 0, r);
    ASSERT(r[AX] <= 1024 && r[AX] % 4 == 0 && r[AX] > 0);
    call(s, VMPORT_CMD_ABSPOINTER_DATA, 4, r);
    ASSERT_EQ(r[AX], VMMOUSE_RIGHT);
    ASSERT_EQ(r[BX], 0);
    ASSERT_EQ((int32_t)r[DX], -127);
    call(s, VMPORT_CMD_ABSPOINTER_COMMAND, VMMOUSE_CMD_DISABLE, r);
    ASSERT(!h.absolute);
    ASSERT(!vmport_mouse_abs(s, 1, 1, 0, 0));
    vmport_free(s);
}

struct chan {
    uint32_t id, c1, c2;
};

static uint32_t msg(struct vmport *s, const struct chan *c, uint32_t type, uint32_t ebx, uint32_t r[8])
{
    memset(r, 0, 8 * sizeof *r);
    r[AX] = VMPORT_MAGIC;
    r[BX] = ebx;
    r[CX] = type << 16 | VMPORT_CMD_MESSAGE;
    r[DX] = c->id << 16 | CPU_BACKDOOR_PORT;
    r[SI] = c->c1;
    r[DI] = c->c2;
    ASSERT(vmport_backdoor(s, CPU_BACKDOOR_PORT, true, 4, r));
    return r[CX] >> 16;
}

static struct chan chan_open(struct vmport *s, uint32_t proto)
{
    struct chan c = {0};
    uint32_t r[8];
    ASSERT_EQ(msg(s, &c, VMPORT_MSG_OPEN, proto | 0x80000000u, r), VMPORT_MSG_SUCCESS);
    c.id = r[DX] >> 16;
    c.c1 = r[SI];
    c.c2 = r[DI];
    return c;
}

static struct chan rpc_open(struct vmport *s)
{
    return chan_open(s, VMPORT_RPCI_MAGIC);
}

/* The guest side of one RPCI round trip; returns the reply (static buffer). */
static const char *rpc(struct vmport *s, const struct chan *c, const char *text)
{
    static char reply[256];
    uint32_t r[8], n = (uint32_t)strlen(text);
    ASSERT_EQ(msg(s, c, VMPORT_MSG_SENDSIZE, n, r), VMPORT_MSG_SUCCESS);
    for (uint32_t i = 0; i < n; i += 4) {
        uint32_t w = 0;
        memcpy(&w, text + i, n - i < 4 ? n - i : 4);
        ASSERT_EQ(msg(s, c, VMPORT_MSG_SENDPAYLOAD, w, r), VMPORT_MSG_SUCCESS);
    }
    ASSERT_EQ(msg(s, c, VMPORT_MSG_RECVSIZE, 0, r), VMPORT_MSG_SUCCESS | VMPORT_MSG_DORECV);
    uint32_t len = r[BX];
    ASSERT(len < sizeof reply);
    for (uint32_t i = 0; i < len; i += 4) {
        ASSERT_EQ(msg(s, c, VMPORT_MSG_RECVPAYLOAD, VMPORT_MSG_SUCCESS, r), VMPORT_MSG_SUCCESS);
        memcpy(reply + i, &r[BX], len - i < 4 ? len - i : 4);
    }
    reply[len] = 0;
    ASSERT_EQ(msg(s, c, VMPORT_MSG_RECVSTATUS, VMPORT_MSG_SUCCESS, r), VMPORT_MSG_SUCCESS);
    return reply;
}

/* open-vm-tools' TCLO loop: the tools send their reply to the last command (empty at first)
 * and receive the next one; no command is a reply without DORECV, so they poll again. The host
 * asks for OS_Halt only of a guest whose tools announced themselves and poll. */
/* The window's size reaches tools that can set the resolution as "Resolution_Set W H" on
 * TCLO (open-vm-tools' resolutionSet plugin's command); tools without the capability, or a
 * shutdown asked first, keep it out; a newer size replaces one not yet taken. */
TEST(tclo_resolution_set)
{
    struct host h = {0};
    struct vmport *s = make(&h);
    uint32_t r[8];
    struct chan t = chan_open(s, VMPORT_TCLO_MAGIC);
    struct chan c = rpc_open(s);
    ASSERT(!strcmp(rpc(s, &c, "tools.set.version 12389"), "1 "));
    ASSERT(!vmport_request_resolution(s, 800, 600)); /* no capability announced */
    ASSERT(!strcmp(rpc(s, &c, "tools.capability.resolution_set 1"), "1 "));
    ASSERT(!vmport_request_resolution(s, 0, 600));
    ASSERT(!vmport_request_resolution(s, 800, 100000));
    ASSERT(vmport_request_resolution(s, 800, 600));
    ASSERT(vmport_request_resolution(s, 1280, 720));
    ASSERT(!strcmp(rpc(s, &t, ""), "Resolution_Set 1280 720"));
    ASSERT_EQ(msg(s, &t, VMPORT_MSG_SENDSIZE, 0, r), VMPORT_MSG_SUCCESS); /* taken once only */
    ASSERT_EQ(msg(s, &t, VMPORT_MSG_RECVSIZE, 0, r), VMPORT_MSG_SUCCESS);
    ASSERT(vmport_request_halt(s, false));
    ASSERT(!vmport_request_resolution(s, 640, 480)); /* the halt goes first */
    ASSERT(!strcmp(rpc(s, &t, "OK "), "OS_Halt"));
    ASSERT(!strcmp(rpc(s, &c, "tools.capability.resolution_set 0"), "1 "));
    ASSERT(!vmport_request_resolution(s, 640, 480)); /* withdrawn */
    ASSERT(!strcmp(rpc(s, &c, "tools.capability.resolution_set 1"), "1 "));
    vmport_reset(s);
    ASSERT(!vmport_request_resolution(s, 640, 480)); /* a reset forgets the tools */
    vmport_free(s);
}

TEST(tclo_os_halt_for_tools)
{
    struct host h = {0};
    struct vmport *s = make(&h);
    uint32_t r[8];
    ASSERT(!vmport_request_halt(s, false)); /* no tools */
    struct chan t = chan_open(s, VMPORT_TCLO_MAGIC);
    ASSERT(!vmport_request_halt(s, false)); /* a channel, but nothing announced */
    struct chan c = rpc_open(s);
    ASSERT(!strcmp(rpc(s, &c, "tools.set.version 12389"), "1 "));
    ASSERT(vmport_tools(s));
    ASSERT_EQ(msg(s, &t, VMPORT_MSG_SENDSIZE, 0, r), VMPORT_MSG_SUCCESS);
    ASSERT_EQ(msg(s, &t, VMPORT_MSG_RECVSIZE, 0, r), VMPORT_MSG_SUCCESS); /* nothing to do */
    ASSERT(vmport_request_halt(s, false));
    ASSERT(!strcmp(rpc(s, &t, ""), "OS_Halt"));
    ASSERT_EQ(msg(s, &t, VMPORT_MSG_SENDSIZE, 0, r), VMPORT_MSG_SUCCESS); /* asked once only */
    ASSERT_EQ(msg(s, &t, VMPORT_MSG_RECVSIZE, 0, r), VMPORT_MSG_SUCCESS);
    ASSERT(vmport_request_halt(s, true));
    ASSERT(!strcmp(rpc(s, &t, "OK "), "OS_Reboot"));
    ASSERT(!strcmp(rpc(s, &c, "tools.os.statechange.status 1 2"), "1 "));
    ASSERT_EQ(msg(s, &t, VMPORT_MSG_CLOSE, 0, r), VMPORT_MSG_SUCCESS);
    ASSERT(!vmport_request_halt(s, false)); /* the tools stopped polling */
    vmport_reset(s);
    ASSERT(!vmport_tools(s));
    vmport_free(s);
}

TEST(rpci_guestinfo)
{
    struct host h = {0};
    struct vmport *s = make(&h);
    struct chan c = rpc_open(s);
    ASSERT(!strcmp(rpc(s, &c, "info-get guestinfo.ci.marker"), "1 hello-guest"));
    ASSERT(!strcmp(rpc(s, &c, "info-get guestinfo.CI.Marker"), "1 hello-guest"));
    ASSERT(!strcmp(rpc(s, &c, "info-get guestinfo.empty"), "1 "));
    ASSERT(!strcmp(rpc(s, &c, "info-get guestinfo.absent"), "0 No value found"));
    ASSERT(!strcmp(rpc(s, &c, "info-get guestinfo.ci.marke"), "0 No value found"));
    ASSERT(!strcmp(rpc(s, &c, "tools.capability.hgfs_server toolbox 1"), "1 "));
    ASSERT(!strcmp(rpc(s, &c, "log hello"), "1 "));
    ASSERT(!strcmp(rpc(s, &c, "machine.id.get"), "0 Unknown command"));
    /* Another channel at the same time, then the first one's cookies are checked. */
    struct chan d = rpc_open(s);
    ASSERT(d.id != c.id);
    uint32_t r[8];
    struct chan bad = c;
    bad.c1 ^= 1;
    ASSERT_EQ(msg(s, &bad, VMPORT_MSG_SENDSIZE, 4, r), 0);
    ASSERT_EQ(msg(s, &c, VMPORT_MSG_CLOSE, 0, r), VMPORT_MSG_SUCCESS);
    ASSERT_EQ(msg(s, &c, VMPORT_MSG_SENDSIZE, 4, r), 0); /* closed */
    ASSERT(!strcmp(rpc(s, &d, "info-get guestinfo.ci.marker"), "1 hello-guest"));
    /* A message longer than the channel takes is refused before any allocation. */
    ASSERT_EQ(msg(s, &d, VMPORT_MSG_SENDSIZE, 0xFFFFFFFFu, r), 0);
    /* Reset closes every channel. */
    vmport_reset(s);
    ASSERT_EQ(msg(s, &d, VMPORT_MSG_SENDSIZE, 4, r), 0);
    vmport_free(s);
}

TEST(rpci_channels_run_out)
{
    struct host h = {0};
    struct vmport *s = make(&h);
    struct chan none = {0};
    uint32_t r[8];
    for (int i = 0; i < VMPORT_CHANNELS; i++)
        rpc_open(s);
    ASSERT_EQ(msg(s, &none, VMPORT_MSG_OPEN, VMPORT_RPCI_MAGIC, r), 0);
    ASSERT_EQ(msg(s, &none, VMPORT_MSG_OPEN, 0x12345678, r), 0); /* unknown protocol */
    vmport_free(s);
}

/* Random registers on every command: nothing may crash, leak or read out of bounds (SAN=1). */
TEST(hostile_registers)
{
    struct host h = {0};
    struct vmport *s = make(&h);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    uint32_t r[8];
    for (int i = 0; i < 200000; i++) {
        for (int j = 0; j < 8; j++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            r[j] = (uint32_t)x;
        }
        r[AX] = VMPORT_MAGIC;
        static const uint16_t cmds[] = {10, 20, 23, 30, 30, 30, 30, 39, 40, 41, 46, 45, 68, 86};
        r[CX] = (r[CX] & 0x00070000u) | cmds[(x >> 40) % 14];
        r[DX] = (r[DX] & 0x000F0000u) | CPU_BACKDOOR_PORT;
        if ((x >> 50) & 1)
            r[BX] &= 0x3F; /* small SENDSIZE values so messages complete */
        if ((x >> 52) % 4 == 0)
            r[BX] = (uint32_t)((x >> 54) % 3 == 0 ? VMMOUSE_CMD_ENABLE : VMMOUSE_CMD_REQUEST_ABSOLUTE);
        vmport_backdoor(s, CPU_BACKDOOR_PORT, true, 4, r);
        if (i % 7 == 0)
            vmport_mouse_abs(s, (unsigned)x, (unsigned)(x >> 16), (int)(x >> 32), (unsigned)x);
    }
    vmport_free(s);
}
