/*
 * vmplay's main(): the command line, .vmx -> config -> machine, the front end
 * (SDL window or headless), and the exit status (sysexits.h, DESIGN.md).
 * Library code returns errors; only this file prints them and exits.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <sys/stat.h>
#include <libgen.h>

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>

#include "control/control.h"
#include "cpu/cpu.h"
#include "devices/firmware.h"
#include "devices/pc.h"
#include "devices/trace.h"
#include "formats/blockdev.h"
#include "formats/config.h"
#include "formats/error.h"
#include "formats/lock.h"
#include "formats/ovf.h"
#include "formats/vmdk.h"
#include "sdl/frontend.h"
#include "vnc/vnc.h"

enum on_poweroff { ON_POWEROFF_DEFAULT, ON_POWEROFF_EXIT, ON_POWEROFF_RESTART };

struct player_opts {
    const char *vmx_path;
    bool headless, fullscreen, kiosk, force, check, deterministic, debug_exit;
    enum on_poweroff on_poweroff;
    const char *screenshot, *screen_text, *control;
    enum cpu_kind cpu;
    enum blockdev_sync disk_sync;
    bool disk_write_through, snapshot;
    struct {
        enum serial_override kind;
        const char *path;
    } serial;
    double timeout_s;
    const char *firmware_dir, *bios, *kernel, *initrd, *append, *debugcon;
    int verbose;
    unsigned trace_mask;
    struct net_opts net;
    const char *vnc; /* --vnc=[ADDR:]PORT */
};

static const char usage_text[] =
    "Usage: vmplay [OPTION]... FILE.vmx\n"
    "Run the VMware virtual machine described by FILE.vmx (or an OVF package:\n"
    "FILE.ova, FILE.ovf; its disks are never written, guest writes persist in\n"
    "FILE.ova.overlay/).\n"
    "\n"
    "Display and input:\n"
    "  -H, --headless          no window; serial console and screenshots still work\n"
    "      --fullscreen        start in full screen (Ctrl+Alt+Enter toggles)\n"
    "      --kiosk             full screen, input grabbed for good, no hotkeys,\n"
    "                          close ignored, guest restarted when it powers off\n"
    "      --on-poweroff=WHAT  exit or restart when the guest powers off\n"
    "                          (default exit; restart under --kiosk)\n"
    "      --force             closing the window powers off at once; and run a VM\n"
    "                          whose boot disk is on a controller not presented yet\n"
    "      --screenshot=FILE   write the last frame to FILE (PNG) at exit\n"
    "      --screen-text=FILE  write the guest's text screen to FILE at exit\n"
    "      --vnc=[ADDR:]PORT   serve the screen, keyboard and pointer over VNC on\n"
    "                          ADDR (default 127.0.0.1), beside the window or\n"
    "                          headless; the .vmx's RemoteDisplay.vnc.* keys too\n"
    "      --control=PATH      serve a control socket at PATH (JSON lines: status,\n"
    "                          power-button, send-keys, screenshot, pause...)\n"
    "\n"
    "Machine:\n"
    "      --cpu=KIND          auto, soft or kvm (default auto)\n"
    "      --jit=on|off        software core: translate hot blocks to host code (default off)\n"
    "      --serial=WHERE      serial0 goes to stdio, file:PATH, pty or none\n"
    "                          (overrides the .vmx's serial0); stdio on a terminal\n"
    "                          is a console: every key goes to the guest, Ctrl-A x\n"
    "                          quits, Ctrl-A h lists the keys, Ctrl-A Ctrl-A sends\n"
    "                          Ctrl-A; pty prints the pseudo-terminal's path\n"
    "      --timeout=SECONDS   power the guest off after SECONDS of guest and of host\n"
    "                          time, whichever ends first (exit status 124)\n"
    "      --deterministic     virtual time follows executed instructions:\n"
    "                          every run of the same guest is identical\n"
    "      --firmware-dir=DIR  where bios-256k.bin and vgabios-stdvga.bin are\n"
    "                          (default /usr/share/seabios)\n"
    "      --bios=FILE         run this ROM image instead of SeaBIOS\n"
    "      --kernel=FILE       boot this Linux bzImage or multiboot kernel directly\n"
    "                          (SeaBIOS with QEMU's linuxboot_dma/multiboot_dma.bin)\n"
    "      --initrd=FILE       initial ramdisk for --kernel (multiboot: MOD ARGS,MOD...)\n"
    "      --append=CMDLINE    kernel command line for --kernel\n"
    "      --debugcon=FILE     port 0xE9 debug console output to FILE\n"
    "      --debug-exit        a guest write of V to port 0xF4 exits with status (V<<1)|1\n"
    "      --snapshot          every disk through a copy-on-write overlay in memory:\n"
    "                          the guest's writes are lost at exit, no file is written\n"
    "      --forward=SPEC      tcp:[HOSTADDR:]HOSTPORT:GUESTPORT or udp:...: forward\n"
    "                          a host port to the guest (10.0.2.15) through NAT;\n"
    "                          repeatable; HOSTADDR is 127.0.0.1 unless given\n"
    "      --net=none          no network card at all\n"
    "      --net-tap=IFNAME    every card on the host tap device IFNAME (bridged)\n"
    "      --net-dump=FILE     every frame both ways to FILE (pcap, for tshark)\n"
    "      --net-tftp=DIR      NAT's TFTP server serves DIR (network boot)\n"
    "      --net-bootfile=NAME the boot file NAT's DHCP offers (with --net-tftp)\n"
    "      --disk-sync=WHEN    fdatasync the disks at the guest's flushes and stable\n"
    "                          writes (flush, the default), never (writes still reach\n"
    "                          the files: safe if vmplay dies, not if the host does),\n"
    "                          or after every write (always)\n"
    "\n"
    "Checking and debugging:\n"
    "      --check             validate the VM and print what would run; run nothing\n"
    "  -v, --verbose           say more (with --check: unknown .vmx keys too)\n"
    "      --trace=LIST        trace areas to stderr: %s\n"
    "  -h, --help              show this help\n"
    "  -V, --version           show the version\n"
    "\n"
    "Signals: INT, TERM and HUP press the guest's ACPI power button, or ask its VMware\n"
    "tools to shut it down (a second one powers off at once); USR1 writes the\n"
    "--screenshot file now.\n"
    "\n"
    "Exit status: 0 guest powered off, 64 usage, 65 bad .vmx/.vmdk content,\n"
    "66 a file is missing, 69 firmware, KVM or a display unavailable, 70 internal\n"
    "error, 73 a disk cannot be written, 75 the VM is in use by another player,\n"
    "124 --timeout ran out.\n";

enum {
    OPT_FULLSCREEN = 256,
    OPT_KIOSK,
    OPT_ON_POWEROFF,
    OPT_FORCE,
    OPT_SCREENSHOT,
    OPT_SCREEN_TEXT,
    OPT_CONTROL,
    OPT_CPU,
    OPT_JIT,
    OPT_SERIAL,
    OPT_TIMEOUT,
    OPT_DETERMINISTIC,
    OPT_FIRMWARE_DIR,
    OPT_BIOS,
    OPT_KERNEL,
    OPT_INITRD,
    OPT_APPEND,
    OPT_DEBUGCON,
    OPT_DEBUG_EXIT,
    OPT_CHECK,
    OPT_TRACE,
    OPT_DISK_SYNC,
    OPT_SNAPSHOT,
    OPT_FORWARD,
    OPT_NET,
    OPT_NET_TAP,
    OPT_NET_DUMP,
    OPT_NET_TFTP,
    OPT_NET_BOOTFILE,
    OPT_VNC,
};

static const struct option long_options[] = {
    {"headless", no_argument, NULL, 'H'},
    {"fullscreen", no_argument, NULL, OPT_FULLSCREEN},
    {"kiosk", no_argument, NULL, OPT_KIOSK},
    {"on-poweroff", required_argument, NULL, OPT_ON_POWEROFF},
    {"force", no_argument, NULL, OPT_FORCE},
    {"screenshot", required_argument, NULL, OPT_SCREENSHOT},
    {"screen-text", required_argument, NULL, OPT_SCREEN_TEXT},
    {"control", required_argument, NULL, OPT_CONTROL},
    {"cpu", required_argument, NULL, OPT_CPU},
    {"jit", required_argument, NULL, OPT_JIT},
    {"serial", required_argument, NULL, OPT_SERIAL},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"deterministic", no_argument, NULL, OPT_DETERMINISTIC},
    {"firmware-dir", required_argument, NULL, OPT_FIRMWARE_DIR},
    {"bios", required_argument, NULL, OPT_BIOS},
    {"kernel", required_argument, NULL, OPT_KERNEL},
    {"initrd", required_argument, NULL, OPT_INITRD},
    {"append", required_argument, NULL, OPT_APPEND},
    {"debugcon", required_argument, NULL, OPT_DEBUGCON},
    {"debug-exit", no_argument, NULL, OPT_DEBUG_EXIT},
    {"disk-sync", required_argument, NULL, OPT_DISK_SYNC},
    {"snapshot", no_argument, NULL, OPT_SNAPSHOT},
    {"forward", required_argument, NULL, OPT_FORWARD},
    {"net", required_argument, NULL, OPT_NET},
    {"net-tap", required_argument, NULL, OPT_NET_TAP},
    {"net-dump", required_argument, NULL, OPT_NET_DUMP},
    {"net-tftp", required_argument, NULL, OPT_NET_TFTP},
    {"net-bootfile", required_argument, NULL, OPT_NET_BOOTFILE},
    {"vnc", required_argument, NULL, OPT_VNC},
    {"check", no_argument, NULL, OPT_CHECK},
    {"verbose", no_argument, NULL, 'v'},
    {"trace", required_argument, NULL, OPT_TRACE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static _Noreturn void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vmplay: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vmplay: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see vmplay --help)\n", stderr);
    exit(EX_USAGE);
}

static double parse_seconds(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > 1e9)
        usage_error("--timeout: '%s' is not a positive number of seconds", s);
    return v;
}

static void parse_serial(const char *s, struct player_opts *o)
{
    if (strcmp(s, "stdio") == 0) {
        o->serial.kind = SERIAL_TO_STDIO;
    } else if (strcmp(s, "pty") == 0) {
        o->serial.kind = SERIAL_TO_PTY;
    } else if (strncmp(s, "file:", 5) == 0 && s[5]) {
        o->serial.kind = SERIAL_TO_FILE;
        o->serial.path = s + 5;
    } else if (strcmp(s, "none") == 0) {
        o->serial.kind = SERIAL_TO_NONE;
    } else {
        usage_error("--serial: '%s' is not stdio, file:PATH, pty or none", s);
    }
}

static void parse_option(int c, struct player_opts *o)
{
    switch (c) {
    case 'H': o->headless = true; break;
    case OPT_FULLSCREEN: o->fullscreen = true; break;
    case OPT_KIOSK: o->kiosk = true; break;
    case OPT_ON_POWEROFF:
        if (strcmp(optarg, "exit") == 0)
            o->on_poweroff = ON_POWEROFF_EXIT;
        else if (strcmp(optarg, "restart") == 0)
            o->on_poweroff = ON_POWEROFF_RESTART;
        else
            usage_error("--on-poweroff: '%s' is not exit or restart", optarg);
        break;
    case OPT_FORCE: o->force = true; break;
    case OPT_SCREENSHOT: o->screenshot = optarg; break;
    case OPT_SCREEN_TEXT: o->screen_text = optarg; break;
    case OPT_CONTROL: o->control = optarg; break;
    case OPT_VNC: {
        struct vnc_opts vo;
        struct error e;
        if (vnc_parse_listen(optarg, &vo, &e) < 0)
            usage_error("%s", e.msg);
        o->vnc = optarg;
        break;
    }
    case OPT_CPU:
        if (strcmp(optarg, "auto") == 0)
            o->cpu = CPU_AUTO;
        else if (strcmp(optarg, "soft") == 0)
            o->cpu = CPU_SOFT;
        else if (strcmp(optarg, "kvm") == 0)
            o->cpu = CPU_KVM;
        else
            usage_error("--cpu: '%s' is not auto, soft or kvm", optarg);
        break;
    case OPT_JIT:
        if (strcmp(optarg, "on") == 0)
            soft_jit_mode = 1;
        else if (strcmp(optarg, "off") == 0)
            soft_jit_mode = 0;
        else
            usage_error("--jit: '%s' is not on or off", optarg);
        break;
    case OPT_SERIAL: parse_serial(optarg, o); break;
    case OPT_SNAPSHOT: o->snapshot = true; break;
    case OPT_FORWARD: {
        struct error e;
        if (o->net.nfwd == NET_MAX_FORWARDS)
            usage_error("--forward: at most %d forwards", NET_MAX_FORWARDS);
        if (net_parse_forward(optarg, &o->net.fwd[o->net.nfwd++], &e) < 0)
            usage_error("%s", e.msg);
        break;
    }
    case OPT_NET:
        if (strcmp(optarg, "none") != 0)
            usage_error("--net: '%s' is not none", optarg);
        o->net.none = true;
        break;
    case OPT_NET_TAP: o->net.tap = optarg; break;
    case OPT_NET_DUMP: o->net.dump = optarg; break;
    case OPT_NET_TFTP: o->net.tftp = optarg; break;
    case OPT_NET_BOOTFILE: o->net.bootfile = optarg; break;
    case OPT_DISK_SYNC:
        o->disk_sync = BLOCKDEV_SYNC_MEDIA;
        o->disk_write_through = false;
        if (strcmp(optarg, "never") == 0)
            o->disk_sync = BLOCKDEV_SYNC_FILE;
        else if (strcmp(optarg, "always") == 0)
            o->disk_write_through = true;
        else if (strcmp(optarg, "flush") != 0)
            usage_error("--disk-sync: '%s' is not flush, never or always", optarg);
        break;
    case OPT_TIMEOUT: o->timeout_s = parse_seconds(optarg); break;
    case OPT_DETERMINISTIC: o->deterministic = true; break;
    case OPT_FIRMWARE_DIR: o->firmware_dir = optarg; break;
    case OPT_BIOS: o->bios = optarg; break;
    case OPT_KERNEL: o->kernel = optarg; break;
    case OPT_INITRD: o->initrd = optarg; break;
    case OPT_APPEND: o->append = optarg; break;
    case OPT_DEBUGCON: o->debugcon = optarg; break;
    case OPT_DEBUG_EXIT: o->debug_exit = true; break;
    case OPT_CHECK: o->check = true; break;
    case 'v': o->verbose++; break;
    case OPT_TRACE: {
        const char *bad;
        size_t badlen;
        if (trace_parse(optarg, &o->trace_mask, &bad, &badlen) < 0)
            usage_error("--trace: unknown area '%.*s' (areas: %s)", (int)badlen, bad,
                        trace_area_names());
        break;
    }
    case 'h': printf(usage_text, trace_area_names()); exit(0);
    case 'V': printf("vmplay %s\n", VMPLAY_VERSION); exit(0);
    default: usage_error("unknown option");
    }
}

/* Options that cannot be combined, each one line and EX_USAGE. */
static void check_conflicts(const struct player_opts *o)
{
    if (o->headless && (o->fullscreen || o->kiosk))
        usage_error("--headless cannot be combined with %s", o->kiosk ? "--kiosk" : "--fullscreen");
    if (o->kiosk && o->force)
        usage_error("--kiosk ignores the close button; --force makes no sense with it");
    if (o->bios && o->firmware_dir)
        usage_error("--bios replaces the firmware; --firmware-dir makes no sense with it");
    if ((o->initrd || o->append) && !o->kernel)
        usage_error("%s needs --kernel", o->initrd ? "--initrd" : "--append");
    if (o->kernel && o->bios)
        usage_error("--kernel boots through SeaBIOS; it cannot be combined with --bios");
    if (o->check && (o->screenshot || o->screen_text || o->control || o->timeout_s > 0))
        usage_error("--check runs nothing, so %s makes no sense with it",
                    o->screenshot    ? "--screenshot"
                    : o->screen_text ? "--screen-text"
                    : o->control     ? "--control"
                                     : "--timeout");
}

/* ---- --check: what would run ---- */

static void print_disk(const struct vm_disk *d, struct blockdev *bd)
{
    char desc[1024] = "";
    if (bd->ops->describe)
        bd->ops->describe(bd, desc, sizeof desc);
    else
        snprintf(desc, sizeof desc, "%s, %.1f MiB", bd->format, bd->sectors / 2048.0);
    printf("  %-9s %s\n", d->slot, desc);
}

/* Every disk the run would attach, opened as the run opens it (writable where it
 * would write, with the same locks and refusals); closed unwritten. */
static int check_disks(const struct player_opts *o, const struct vm_config *cfg,
                       struct error *err)
{
    if (cfg->ndisks)
        printf("disk images (opened as the run opens them; nothing is written):\n");
    /* All held open until the end, as in the run: a file two disks share is refused alike. */
    struct blockdev **open_bd = calloc(cfg->ndisks, sizeof *open_bd);
    if (cfg->ndisks && !open_bd)
        return error_set(err, EX_SOFTWARE, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < cfg->ndisks && rc == 0; i++) {
        const struct vm_disk *d = &cfg->disks[i];
        if (!d->path || !d->start_connected || !config_disk_presented(d, NULL))
            continue;
        bool cd = d->type == VM_DISK_CDROM_IMAGE;
        struct blockdev_open_opts bo = {
            .media = cd ? MEDIA_CDROM : MEDIA_DISK,
            .read_only = cd,
            .snapshot = o->snapshot || config_disk_nonpersistent(d),
            .window_off = d->window_off, .window_len = d->window_len, /* no overlay written */
        };
        struct blockdev *bd;
        if (blockdev_open(d->path, &bo, &bd, err) < 0) {
            rc = error_prefix(err, "%s", d->slot);
            break;
        }
        print_disk(d, bd);
        if (bd->warning)
            printf("  %-9s note: %s\n", "", bd->warning);
        open_bd[i] = bd;
    }
    for (size_t i = 0; i < cfg->ndisks; i++)
        if (open_bd[i])
            blockdev_close(open_bd[i]);
    free(open_bd);
    return rc;
}

/* What the run refuses before it powers on; --check refuses the same, with the same line. */
static int refusals(const struct player_opts *o, const struct vm_config *cfg, struct error *err)
{
    if (cfg->checkpoint_vmstate)
        return error_set(err, EX_UNAVAILABLE,
                         "%s is suspended (checkpoint.vmState = \"%s\"); vmplay cannot resume a "
                         "suspended VM: discard the suspended state in VMware first",
                         o->vmx_path, cfg->checkpoint_vmstate);
    if (cfg->firmware == VM_FW_EFI && cfg->secure_boot && !o->bios)
        return error_set(err, EX_UNAVAILABLE,
                         "%s: uefi.secureBoot.enabled = \"TRUE\": vmplay runs OVMF without Secure "
                         "Boot; set it to \"FALSE\" to boot this VM",
                         o->vmx_path);
    for (int x = 0; x < VM_MAX_SCSI; x++)
        if (cfg->scsi_present[x] && cfg->scsi_model[x] == VM_SCSI_BUSLOGIC)
            return error_set(err, EX_UNAVAILABLE,
                             "%s: scsi%d is a BusLogic controller (scsi%d.virtualDev = \"buslogic\"), "
                             "which vmplay does not emulate: VMware's lsilogic and pvscsi are",
                             o->vmx_path, x, x);
    const struct vm_disk *left = NULL;
    const char *why = NULL;
    for (size_t i = 0; i < cfg->ndisks && !left; i++)
        if (cfg->disks[i].path && !config_disk_presented(&cfg->disks[i], &why))
            left = &cfg->disks[i];
    if (left && !o->bios && !o->force && !config_has_boot_disk(cfg))
        return error_set(err, EX_UNAVAILABLE,
                         "%s: no disk to boot from is left: %s is on a controller vmplay does "
                         "not present (%s); --force runs the VM anyway", o->vmx_path,
                         left->slot, why);
    return 0;
}

/* An output file the run writes at its end: can it be written there? */
static int check_output(const char *path, const char *opt, struct error *err)
{
    if (!path)
        return 0;
    struct stat st;
    char *dup = strdup(path);
    const char *dir = dup ? dirname(dup) : ".";
    int rc = 0;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        rc = error_set(err, EX_CANTCREAT, "%s %s: is a directory", opt, path);
    else if (stat(path, &st) == 0 ? access(path, W_OK) != 0 : access(dir, W_OK) != 0)
        rc = error_set(err, EX_CANTCREAT, "%s %s: cannot be written (%s)", opt, path,
                       strerror(errno));
    free(dup);
    return rc;
}

/* A disk image given where a .vmx belongs. */
static int not_a_disk(const char *path, struct error *err)
{
    uint8_t head[64] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0; /* config_load says why */
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (vmdk_probe(head, n))
        return error_set(err, EX_USAGE, "%s is a disk image; give its .vmx", path);
    return 0;
}

static int run_check(const struct player_opts *o, const struct vm_config *cfg, struct error *err)
{
    config_print(cfg, stdout, o->verbose > 0);
    struct vm_lock *lock = NULL;
    int rc = refusals(o, cfg, err) < 0 || config_check_files(cfg, err) < 0 ||
                     vm_lock(o->vmx_path, cfg, &lock, err) < 0 || check_disks(o, cfg, err) < 0
                 ? -1 : 0;
    vm_unlock(lock);
    if (rc < 0)
        return -1;
    struct firmware fw;
    bool efi = cfg->firmware == VM_FW_EFI && !o->bios;
    if ((efi ? firmware_load_efi(o->firmware_dir, &fw, err) : firmware_load(o->firmware_dir, o->bios, &fw, err)) < 0)
        return -1;
    printf("firmware: %s\n", fw.source);
    firmware_free(&fw);
    const char *backend = cpu_probe(o->cpu, err);
    if (!backend)
        return -1;
    if (o->verbose && err->msg[0])
        printf("cpu backend: %s (%s)\n", backend, err->msg);
    else
        printf("cpu backend: %s\n", backend);
    if (cfg->checkpoint_vmstate)
        printf("note: the VM is suspended (checkpoint.vmState); vmplay cannot resume it\n");
    return 0;
}

/* ---- running ---- */

static struct machine *signal_machine;
static volatile sig_atomic_t signal_count, screenshot_request;

static void on_signal(int sig)
{
    if (!signal_machine)
        _exit(128 + sig);
    if (sig == SIGUSR1) {
        screenshot_request = 1;
        machine_request(signal_machine, MACHINE_SCREENSHOT);
        return;
    }
    /* First INT/TERM/HUP: a clean ACPI shutdown; a second one pulls the plug. */
    const char *who = sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "SIGTERM";
    machine_request_from(signal_machine, signal_count++ ? MACHINE_POWER_OFF : MACHINE_POWER_BUTTON,
                         who);
    machine_set_exit_on_poweroff(signal_machine);
}

static void install_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

struct machine_thread {
    struct machine *m;
    struct error err;
    int status;
};

static void *machine_thread_main(void *opaque)
{
    struct machine_thread *t = opaque;
    t->status = machine_run(t->m, &t->err);
    return NULL;
}

static int run_windowed(const struct player_opts *o, const struct vm_config *cfg,
                        struct machine *m, struct error *err)
{
    struct frontend_opts fo = {
        .title = cfg->display_name,
        .fullscreen = o->fullscreen || o->kiosk,
        .kiosk = o->kiosk,
        .force_close = o->force,
        .screenshot_request = &screenshot_request,
        .screenshot_path = o->screenshot,
    };
    struct frontend *fe = sdl_frontend_new(&fo, machine_display(m), machine_input(m), err);
    if (!fe)
        return -1;
    struct machine_thread t = {.m = m};
    pthread_t th;
    if (pthread_create(&th, NULL, machine_thread_main, &t) != 0) {
        sdl_frontend_free(fe);
        return error_set(err, EX_OSERR, "cannot start the machine thread");
    }
    int rc = sdl_frontend_run(fe, err);
    if (rc < 0)
        machine_request(m, MACHINE_POWER_OFF);
    pthread_join(th, NULL);
    sdl_frontend_free(fe);
    if (rc < 0)
        return -1;
    if (t.status < 0)
        *err = t.err;
    return t.status;
}

static int write_screen_text(struct machine *m, const char *path, struct error *err)
{
    char *text = display_text_utf8(machine_display(m));
    FILE *f = fopen(path, "w");
    if (!f) {
        free(text);
        return error_set(err, EX_CANTCREAT, "--screen-text %s: %s", path, strerror(errno));
    }
    fputs(text ? text : "", f);
    free(text);
    if (fclose(f) != 0)
        return error_set(err, EX_IOERR, "--screen-text %s: write failed", path);
    return 0;
}

/* --vnc, else the .vmx's RemoteDisplay.vnc.enabled/.port/.password (on loopback). */
static int start_vnc(const struct player_opts *o, const struct vm_config *cfg, struct machine *m,
                     struct vnc **out, struct error *err)
{
    struct vnc_opts vo = {.port = cfg->vnc_port, .password = cfg->vnc_password,
                          .name = cfg->display_name, .log = o->verbose ? stderr : NULL};
    if (!o->vnc && !cfg->vnc_enabled)
        return 0;
    if (o->vnc && vnc_parse_listen(o->vnc, &vo, err) < 0)
        return -1;
    *out = vnc_new(&vo, machine_display(m), machine_input(m), err);
    if (!*out)
        return -1;
    if (o->verbose)
        fprintf(stderr, "vmplay: VNC on %s:%d%s\n", vo.addr[0] ? vo.addr : VNC_DEFAULT_ADDR,
                vnc_port(*out), vo.password && *vo.password ? " (password)" : "");
    return 0;
}

static int player_main(const struct player_opts *o, struct error *err)
{
    struct vm_config *cfg;
    if (not_a_disk(o->vmx_path, err) < 0 ||
        (ovf_is_package(o->vmx_path) ? ovf_load(o->vmx_path, &cfg, stderr, err)
                                     : config_load(o->vmx_path, &cfg, err)) < 0)
        return -1;
    int status = -1;
    struct vm_lock *lock = NULL;
    struct machine *m = NULL;
    struct control *ctl = NULL;
    struct vnc *vnc = NULL;
    if (o->check) {
        status = run_check(o, cfg, err) < 0 ? -1 : 0;
        goto out;
    }
    if (refusals(o, cfg, err) < 0 || check_output(o->screenshot, "--screenshot", err) < 0 ||
        check_output(o->screen_text, "--screen-text", err) < 0 ||
        check_output(o->net.dump, "--net-dump", err) < 0)
        goto out;
    for (size_t i = 0; o->verbose && i < cfg->ndups; i++)
        fprintf(stderr, "vmplay: %s:%d: %s is defined again (the earlier line %d is ignored, as "
                "VMware does)\n", o->vmx_path, cfg->dups[i].line, cfg->dups[i].key,
                cfg->dups[i].earlier);
    if (config_check_files(cfg, err) < 0 || vm_lock(o->vmx_path, cfg, &lock, err) < 0)
        goto out;
    struct machine_opts mo = {
        .cfg = cfg,
        .cpu = o->cpu,
        .firmware_dir = o->firmware_dir,
        .bios = o->bios,
        .kernel = o->kernel,
        .initrd = o->initrd,
        .append = o->append,
        .debugcon = o->debugcon,
        .debug_exit = o->debug_exit,
        .deterministic = o->deterministic,
        .restart_on_poweroff = o->on_poweroff == ON_POWEROFF_RESTART ||
                               (o->kiosk && o->on_poweroff == ON_POWEROFF_DEFAULT),
        .timeout_s = o->timeout_s,
        .serial = o->serial.kind,
        .serial_path = o->serial.path,
        .disk_sync = o->disk_sync,
        .disk_write_through = o->disk_write_through,
        .snapshot = o->snapshot,
        .screenshot = o->screenshot,
        .verbose = o->verbose,
        .log = stderr,
        .net = &o->net,
    };
    m = machine_new(&mo, err);
    if (!m || (o->control && !(ctl = control_new(o->control, m, err))) ||
        start_vnc(o, cfg, m, &vnc, err) < 0)
        goto out;
    if (o->verbose)
        fprintf(stderr, "vmplay: %s on the %s CPU backend\n", cfg->display_name, machine_cpu_name(m));
    signal_machine = m;
    install_signals();
    int64_t t0 = clock_host_ns();
    status = o->headless ? machine_run(m, err) : run_windowed(o, cfg, m, err);
    if (o->verbose) {
        double secs = (clock_host_ns() - t0) / 1e9;
        uint64_t n = machine_insn_count(m);
        fprintf(stderr, "vmplay: ran %.1f s; %llu guest instructions (%.1f MIPS)\n", secs,
                (unsigned long long)n, secs > 0 ? n / secs / 1e6 : 0.0);
    }
    if (o->screen_text && write_screen_text(m, o->screen_text, status < 0 ? NULL : err) < 0)
        status = -1;
out:
    signal_machine = NULL;
    vnc_free(vnc);
    control_free(ctl);
    machine_free(m);
    vm_unlock(lock);
    config_free(cfg);
    return status;
}

int main(int argc, char **argv)
{
    struct player_opts o = {.cpu = CPU_AUTO, .on_poweroff = ON_POWEROFF_DEFAULT};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":HvhV", long_options, NULL)) != -1) {
        if (c == '?') {
            if (optopt)
                usage_error("unknown option '-%c'", optopt);
            usage_error("unknown option '%s'", argv[optind - 1]);
        }
        if (c == ':')
            usage_error("option '%s' needs a value", argv[optind - 1]);
        parse_option(c, &o);
    }
    if (optind >= argc)
        usage_error("no .vmx file given");
    if (optind + 1 < argc)
        usage_error("one .vmx file at a time (got '%s' and '%s')", argv[optind], argv[optind + 1]);
    o.vmx_path = argv[optind];
    check_conflicts(&o);
    trace_mask = o.trace_mask;
    o.net.deterministic = o.deterministic;
    o.net.log = stderr;

    struct error err = {0};
    int status = player_main(&o, &err);
    if (status < 0)
        die(err.code ? err.code : EX_SOFTWARE, "%s", err.msg);
    return status;
}
