/*
 * The PC the guest sees, built from a struct vm_config: the board (pc.c)
 * wires bus, clock, interrupt lines, CPU, chipset, devices and disks, loads
 * the firmware, and runs the machine loop. The front end talks to a running
 * machine only through its display, its input queue and machine_request().
 */
#ifndef VMPLAY_PC_H
#define VMPLAY_PC_H

#include <poll.h>
#include <stdbool.h>
#include <stdio.h>

#include "cpu/cpu.h"
#include "devices/display.h"
#include "devices/input.h"
#include "devices/net.h"
#include "formats/blockdev.h"
#include "formats/config.h"
#include "formats/error.h"

enum serial_override { SERIAL_FROM_VMX, SERIAL_TO_STDIO, SERIAL_TO_FILE, SERIAL_TO_PTY, SERIAL_TO_NONE };

struct machine_opts {
    const struct vm_config *cfg;
    enum cpu_kind cpu;
    const char *firmware_dir; /* NULL: /usr/share/seabios */
    const char *bios;         /* --bios: a raw ROM instead of SeaBIOS */
    const char *kernel, *initrd, *append;
    const char *debugcon;     /* ports 0xE9 and 0x402 to this file */
    bool debug_exit;          /* port 0xF4 ends the run with (v<<1)|1 */
    bool deterministic;
    bool restart_on_poweroff; /* kiosk */
    double timeout_s;         /* > 0: power off after this much guest time */
    enum serial_override serial;
    const char *serial_path;
    /* --disk-sync: how deep the guest's flushes and stable writes go (never: BLOCKDEV_SYNC_FILE),
     * and (always) every disk write-through, as <slot>.writeThrough makes one. */
    enum blockdev_sync disk_sync;
    bool disk_write_through;
    bool snapshot;            /* --snapshot: every disk on a copy-on-write overlay */
    const char *screenshot;   /* --screenshot: written at exit and on MACHINE_SCREENSHOT */
    int verbose;
    FILE *log;                /* one-line notices (the player passes stderr) */
    const struct net_opts *net; /* --net, --forward, --net-dump, --net-tap (NULL: defaults) */
};

struct machine;

struct machine *machine_new(const struct machine_opts *o, struct error *err);
void machine_free(struct machine *m);

/*
 * Runs the guest until it powers off (returns 0), the debug-exit port is
 * written (returns (v<<1)|1), or an error (returns -1 with err set). Call it on
 * the machine thread; it owns every device while it runs.
 */
int machine_run(struct machine *m, struct error *err);

enum machine_request {
    MACHINE_POWER_BUTTON, /* ACPI power button: the guest shuts down cleanly */
    MACHINE_POWER_OFF,    /* pull the plug */
    MACHINE_RESET,
    MACHINE_SCREENSHOT,   /* write the screenshot file now (SIGUSR1) */
};
/* Thread- and signal-safe. */
void machine_request(struct machine *m, enum machine_request r);
/* The same, saying on the log what came of it (who: a string constant, e.g. "SIGTERM"). */
void machine_request_from(struct machine *m, enum machine_request r, const char *who);
/* machine_run's status when --timeout ended the run (as timeout(1)). */
#define MACHINE_EXIT_TIMEOUT 124

/* A guest power-off now ends the run even in kiosk mode (SIGTERM, the window closed). */
void machine_set_exit_on_poweroff(struct machine *m);
/* Which backend --cpu=kind would use ("soft", "kvm"), or NULL with err (for --check). */
const char *machine_probe_cpu(enum cpu_kind kind, struct error *err);

struct display *machine_display(struct machine *m);
struct input_queue *machine_input(struct machine *m);
const char *machine_cpu_name(struct machine *m);
/* Guest instructions retired so far (software core; 0 on KVM). */
uint64_t machine_insn_count(struct machine *m);

/*
 * A host event source the machine loop serves on its own thread, beside the
 * serial ports (the control socket). poll_fds fills the descriptors the idle
 * wait watches (at most max; returns how many); service runs on every turn of
 * the loop, running or paused, with ready set when the idle wait saw one of
 * them ready. Add sources before machine_run; remove one before freeing it.
 */
#define MACHINE_SOURCE_MAX_FDS 32
struct machine_source {
    int (*poll_fds)(void *opaque, struct pollfd *fds, int max);
    void (*service)(void *opaque, bool ready);
    void *opaque;
};
int machine_add_source(struct machine *m, const struct machine_source *src, struct error *err);
void machine_remove_source(struct machine *m, void *opaque);

/* ---- on the machine thread only (a source's service) ---- */

/* Stops or restarts the guest: no instruction runs and guest time stands still while paused. */
void machine_pause(struct machine *m, bool paused);

struct machine_status {
    bool paused;
    bool acpi;            /* the guest switched ACPI on (SCI_EN) */
    bool acpi_button;     /* ... and listens to the power button (else pressing it powers off) */
    const char *cpu;      /* the backend: "soft", "kvm" */
    double uptime_s;      /* host seconds since machine_run started */
    double guest_s;       /* guest (virtual) seconds since power-on */
    uint64_t insns;       /* as machine_insn_count */
    unsigned resets;      /* since power-on: guest reboots, reset requests, kiosk restarts */
};
void machine_get_status(struct machine *m, struct machine_status *st);

#endif
