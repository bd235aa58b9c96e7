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

#include <stdarg.h>

#include "cpu/cpu.h"
#include "devices/trace.h"
#include "formats/error.h"

enum serial_kind { SERIAL_VMX, SERIAL_STDIO, SERIAL_FILE, SERIAL_PTY, SERIAL_NONE };
enum on_poweroff { ON_POWEROFF_DEFAULT, ON_POWEROFF_EXIT, ON_POWEROFF_RESTART };

struct player_opts {
    const char *vmx_path;
    bool headless, fullscreen, kiosk, force, check, deterministic, debug_exit;
    enum on_poweroff on_poweroff;
    const char *screenshot, *screen_text;
    enum cpu_kind cpu;
    struct {
        enum serial_kind kind;
        const char *path;
    } serial;
    double timeout_s;
    const char *firmware_dir, *bios, *kernel, *initrd, *append, *debugcon;
    int verbose;
    unsigned trace_mask;
};

static const char usage_text[] =
    "Usage: vmplay [OPTION]... FILE.vmx\n"
    "Run the VMware virtual machine described by FILE.vmx.\n"
    "\n"
    "Display and input:\n"
    "  -H, --headless          no window; serial console and screenshots still work\n"
    "      --fullscreen        start in full screen (Ctrl+Alt+Enter toggles)\n"
    "      --kiosk             full screen, input grabbed for good, no hotkeys,\n"
    "                          close ignored, guest restarted when it powers off\n"
    "      --on-poweroff=WHAT  exit or restart when the guest powers off\n"
    "                          (default exit; restart under --kiosk)\n"
    "      --force             closing the window powers off at once\n"
    "      --screenshot=FILE   write the last frame to FILE (PNG) at exit\n"
    "      --screen-text=FILE  write the guest's text screen to FILE at exit\n"
    "\n"
    "Machine:\n"
    "      --cpu=KIND          auto, soft or kvm (default auto)\n"
    "      --serial=WHERE      serial0 goes to stdio, file:PATH or pty\n"
    "                          (overrides the .vmx's serial0)\n"
    "      --timeout=SECONDS   power the guest off after SECONDS (exit status 0)\n"
    "      --deterministic     virtual time follows executed instructions:\n"
    "                          every run of the same guest is identical\n"
    "      --firmware-dir=DIR  where bios-256k.bin and vgabios-stdvga.bin are\n"
    "                          (default /usr/share/seabios)\n"
    "      --bios=FILE         run this ROM image instead of SeaBIOS\n"
    "      --kernel=FILE       boot this Linux bzImage or multiboot ELF directly\n"
    "      --initrd=FILE       initial ramdisk for --kernel\n"
    "      --append=CMDLINE    kernel command line for --kernel\n"
    "      --debugcon=FILE     port 0xE9 debug console output to FILE\n"
    "      --debug-exit        a guest write of V to port 0xF4 exits with status (V<<1)|1\n"
    "\n"
    "Checking and debugging:\n"
    "      --check             validate the VM and print what would run; run nothing\n"
    "  -v, --verbose           say more (with --check: unknown .vmx keys too)\n"
    "      --trace=LIST        trace areas to stderr: %s\n"
    "  -h, --help              show this help\n"
    "  -V, --version           show the version\n"
    "\n"
    "Exit status: 0 guest powered off, 64 usage, 65 bad .vmx/.vmdk content,\n"
    "66 a file is missing, 69 firmware or KVM unavailable, 70 internal error,\n"
    "73 a disk cannot be written, 75 the VM is in use by another player.\n";

enum {
    OPT_FULLSCREEN = 256,
    OPT_KIOSK,
    OPT_ON_POWEROFF,
    OPT_FORCE,
    OPT_SCREENSHOT,
    OPT_SCREEN_TEXT,
    OPT_CPU,
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
};

static const struct option long_options[] = {
    {"headless", no_argument, NULL, 'H'},
    {"fullscreen", no_argument, NULL, OPT_FULLSCREEN},
    {"kiosk", no_argument, NULL, OPT_KIOSK},
    {"on-poweroff", required_argument, NULL, OPT_ON_POWEROFF},
    {"force", no_argument, NULL, OPT_FORCE},
    {"screenshot", required_argument, NULL, OPT_SCREENSHOT},
    {"screen-text", required_argument, NULL, OPT_SCREEN_TEXT},
    {"cpu", required_argument, NULL, OPT_CPU},
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
        o->serial.kind = SERIAL_STDIO;
    } else if (strcmp(s, "pty") == 0) {
        o->serial.kind = SERIAL_PTY;
    } else if (strncmp(s, "file:", 5) == 0 && s[5]) {
        o->serial.kind = SERIAL_FILE;
        o->serial.path = s + 5;
    } else if (strcmp(s, "none") == 0) {
        o->serial.kind = SERIAL_NONE;
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
    case OPT_SERIAL: parse_serial(optarg, o); break;
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
    if (o->check && (o->screenshot || o->screen_text || o->timeout_s > 0))
        usage_error("--check runs nothing, so %s makes no sense with it",
                    o->screenshot ? "--screenshot" : o->screen_text ? "--screen-text" : "--timeout");
}

static int player_main(const struct player_opts *o, struct error *err)
{
    return error_set(err, EX_UNAVAILABLE, "%s: running a virtual machine needs the PC board, which is not built yet",
                     o->vmx_path);
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

    struct error err = {0};
    int status = player_main(&o, &err);
    if (status < 0)
        die(err.code ? err.code : EX_SOFTWARE, "%s", err.msg);
    return status;
}
