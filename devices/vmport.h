/*
 * The VMware backdoor (I/O port 0x5658, "VMXh" in EAX, command in CX): the
 * host's version, time and memory size, the VMMouse absolute pointer, and
 * the RPCI channel over which guest tools ask for guestinfo.* keys.
 *
 * The CPU hands every IN/OUT on the backdoor ports to vmport_backdoor with
 * the guest's registers (cpu.h's backdoor hook), from any CPL. The board
 * feeds absolute pointer positions with vmport_mouse_abs; while the guest
 * has absolute mode on, each one queues a VMMouse packet and calls kick()
 * so that the PS/2 mouse raises the interrupt the guest driver waits for.
 */
#ifndef VMPLAY_VMPORT_H
#define VMPLAY_VMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMPORT_MAGIC 0x564D5868u /* "VMXh" */
#define VMPORT_VERSION 6

/* Backdoor commands (CX). */
#define VMPORT_CMD_GETVERSION 10
#define VMPORT_CMD_GETMEMSIZE 20
#define VMPORT_CMD_GETTIME 23
#define VMPORT_CMD_MESSAGE 30
#define VMPORT_CMD_ABSPOINTER_DATA 39
#define VMPORT_CMD_ABSPOINTER_STATUS 40
#define VMPORT_CMD_ABSPOINTER_COMMAND 41
#define VMPORT_CMD_GETHZ 45
#define VMPORT_CMD_GETTIMEFULL 46
#define VMPORT_CMD_GETVCPU_INFO 68
#define VMPORT_CMD_ABSPOINTER_RESTRICT 86

/* ABSPOINTER_COMMAND subcommands (EBX) and the version word ENABLE queues. */
#define VMMOUSE_CMD_ENABLE 0x45414552u
#define VMMOUSE_CMD_DISABLE 0x000000F5u
#define VMMOUSE_CMD_REQUEST_RELATIVE 0x4C455252u
#define VMMOUSE_CMD_REQUEST_ABSOLUTE 0x53424152u
#define VMMOUSE_VERSION_ID 0x3442554Au
#define VMMOUSE_ERROR 0xFFFF0000u
/* Button bits in a packet's status word. */
#define VMMOUSE_LEFT 0x20
#define VMMOUSE_RIGHT 0x10
#define VMMOUSE_MIDDLE 0x08

/* RPC message types (ECX high half) and status bits (reply ECX high half). */
#define VMPORT_MSG_OPEN 0
#define VMPORT_MSG_SENDSIZE 1
#define VMPORT_MSG_SENDPAYLOAD 2
#define VMPORT_MSG_RECVSIZE 3
#define VMPORT_MSG_RECVPAYLOAD 4
#define VMPORT_MSG_RECVSTATUS 5
#define VMPORT_MSG_CLOSE 6
#define VMPORT_MSG_SUCCESS 0x0001
#define VMPORT_MSG_DORECV 0x0002
#define VMPORT_RPCI_MAGIC 0x49435052u /* "RPCI": guest-to-host commands */
#define VMPORT_TCLO_MAGIC 0x4F4C4354u /* "TCLO": host-to-guest commands */

#define VMPORT_CHANNELS 8
#define VMPORT_MSG_MAX 65536

struct vmport_key {
    const char *name; /* without the "guestinfo." prefix */
    const char *value;
};

struct vmport_config {
    uint64_t memsize_mib;
    /* GETHZ: the guest's TSC rate and its local APIC timer's input clock, in Hz (0: unknown) */
    uint64_t tsc_hz, bus_hz;
    const struct vmport_key *guestinfo; /* copied */
    size_t nguestinfo;
    /* The host's wall clock in microseconds since the epoch (tests give their own). */
    int64_t (*time_us)(void *opaque);
    /* Raise the PS/2 mouse interrupt (one empty packet). */
    void (*kick)(void *opaque);
    /* Told when the guest switches absolute mode on or off. */
    void (*absolute)(void *opaque, bool on);
    void *opaque;
};

struct vmport;

struct vmport *vmport_new(const struct vmport_config *cfg);
void vmport_free(struct vmport *s);
void vmport_reset(struct vmport *s);
/* The CPU's backdoor hook (cpu.h struct cpu_hooks.backdoor); opaque is the vmport. */
bool vmport_backdoor(void *opaque, uint16_t port, bool in, unsigned size, uint32_t regs[8]);
/* A pointer position 0..0xFFFF each way; returns false when the guest has no absolute mode on
 * (the caller then uses the relative path). dz > 0 is a wheel click towards the user. */
bool vmport_mouse_abs(struct vmport *s, unsigned x, unsigned y, int dz, unsigned buttons);
bool vmport_absolute(const struct vmport *s);
/* A clean shutdown (or reboot) through the guest's tools: true when tools announced themselves
 * (tools.set.version or tools.capability.* over RPCI) and poll a TCLO channel, which then gets
 * "OS_Halt" ("OS_Reboot") as its next command; false when the guest has no tools. */
bool vmport_request_halt(struct vmport *s, bool reboot);
/* The window's new size for the guest to take, as VMware's "fit guest to window": true when
 * the tools said "tools.capability.resolution_set 1" and poll TCLO, which then gets
 * "Resolution_Set W H" (a shutdown asked before it goes first; a newer size replaces it). */
bool vmport_request_resolution(struct vmport *s, unsigned w, unsigned h);
bool vmport_tools(const struct vmport *s);
/* GETHZ's answer once the CPU is made (the TSC rate is the backend's). */
void vmport_set_rates(struct vmport *s, uint64_t tsc_hz, uint64_t bus_hz);

#endif
