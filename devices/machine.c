/*
 * The machine loop: runs the CPU until the next timer deadline, fires due
 * timers, services the host (serial input, the front end's input queue,
 * requests from signals and other threads) and handles what the guest asked
 * for (power-off, reset, debug exit). Idle time (HLT) sleeps in poll() until
 * the next deadline or until the front end, a serial port or a host event
 * source (the control socket) wakes it. Paused, it runs nothing and waits for
 * the wake fd and the sources alone; guest time stands still meanwhile.
 */
#include "devices/machine_int.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sysexits.h>
#include <unistd.h>

#include "devices/trace.h"
#include "devices/vga.h"
#include "formats/blockdev.h"
#include "formats/png.h"

/* In realtime mode the loop looks at the host at least this often. */
#define HOST_POLL_NS 10000000

void machine_request(struct machine *m, enum machine_request r)
{
    atomic_fetch_or(&m->requests, 1u << r);
    machine_wake(m);
}

void machine_request_from(struct machine *m, enum machine_request r, const char *who)
{
    atomic_store(&m->request_who, who);
    machine_request(m, r);
}

void machine_wake(struct machine *m)
{
    uint64_t one = 1;
    if (m->wake_fd >= 0 && write(m->wake_fd, &one, sizeof one) < 0) {
        /* the counter is saturated: a wake-up is pending anyway */
    }
    if (m->cpu)
        cpu_request_stop(m->cpu);
}

/* The sources' descriptors from fds[n] on; first[i] is where source i's begin. */
static int source_fds(struct machine *m, struct pollfd *fds, int n, int *first)
{
    for (int i = 0; i < m->nsources; i++) {
        const struct machine_source *src = &m->sources[i];
        first[i] = n;
        n += src->poll_fds(src->opaque, fds + n, MACHINE_SOURCE_MAX_FDS);
    }
    first[m->nsources] = n;
    return n;
}

/* Polls fds; drains the wake fd (fds[0]) and marks the sources whose descriptors are ready. */
static void wait_fds(struct machine *m, struct pollfd *fds, int n, const int *first, int timeout_ms)
{
    if (poll(fds, (nfds_t)n, timeout_ms) <= 0)
        return;
    if (fds[0].revents & POLLIN) {
        uint64_t v;
        if (read(m->wake_fd, &v, sizeof v) < 0) {
            /* nothing pending after all */
        }
    }
    for (int i = 0; i < m->nsources; i++)
        for (int j = first[i]; j < first[i + 1]; j++)
            if (fds[j].revents)
                m->source_ready[i] = true;
}

#define MACHINE_MAX_FDS (1 + MACHINE_MAX_POLL + MACHINE_MAX_SOURCES * MACHINE_SOURCE_MAX_FDS)

/* Waits in poll() for the wake fd, serial input and the sources, at most until deadline (virtual). */
static void idle_until(struct machine *m, int64_t deadline)
{
    struct pollfd fds[MACHINE_MAX_FDS];
    int first[MACHINE_MAX_SOURCES + 1];
    int n = 0;
    fds[n++] = (struct pollfd){.fd = m->wake_fd, .events = POLLIN};
    n += machine_poll_fds(m, fds + n, MACHINE_MAX_POLL);
    n = source_fds(m, fds, n, first);
    int64_t now = clock_now_ns(m->clock);
    int64_t wait_ns = deadline - now;
    if (wait_ns > HOST_POLL_NS * 10 || deadline == CLOCK_NEVER)
        wait_ns = HOST_POLL_NS * 10;
    if (wait_ns < 0)
        wait_ns = 0;
    int timeout_ms = (int)((wait_ns + 999999) / 1000000);
    if (clock_mode(m->clock) == CLOCK_DETERMINISTIC)
        timeout_ms = 0; /* the CPU already warped virtual time to the deadline */
    wait_fds(m, fds, n, first, timeout_ms);
}

/* Paused: nothing runs; wait for the wake fd and the sources only (serial input is not watched). */
static void idle_paused(struct machine *m)
{
    struct pollfd fds[MACHINE_MAX_FDS];
    int first[MACHINE_MAX_SOURCES + 1];
    fds[0] = (struct pollfd){.fd = m->wake_fd, .events = POLLIN};
    int n = source_fds(m, fds, 1, first);
    wait_fds(m, fds, n, first, (int)(HOST_POLL_NS * 10 / 1000000));
}

static void serve_sources(struct machine *m)
{
    for (int i = 0; i < m->nsources; i++) {
        bool ready = m->source_ready[i];
        m->source_ready[i] = false;
        m->sources[i].service(m->sources[i].opaque, ready);
    }
}

int machine_add_source(struct machine *m, const struct machine_source *src, struct error *err)
{
    if (m->nsources == MACHINE_MAX_SOURCES)
        return error_set(err, EX_SOFTWARE, "too many host event sources");
    m->source_ready[m->nsources] = false;
    m->sources[m->nsources++] = *src;
    return 0;
}

void machine_remove_source(struct machine *m, void *opaque)
{
    for (int i = 0; i < m->nsources; i++) {
        if (m->sources[i].opaque != opaque)
            continue;
        m->nsources--;
        size_t after = (size_t)(m->nsources - i);
        memmove(&m->sources[i], &m->sources[i + 1], after * sizeof m->sources[0]);
        memmove(&m->source_ready[i], &m->source_ready[i + 1], after * sizeof m->source_ready[0]);
        i--;
    }
}

void machine_pause(struct machine *m, bool paused)
{
    if (paused == m->paused)
        return;
    m->paused = paused;
    if (paused)
        clock_pause(m->clock);
    else
        clock_resume(m->clock);
    display_set_state(m->display, paused ? DISPLAY_PAUSED : DISPLAY_RUNNING);
}

static void write_screenshot(struct machine *m)
{
    if (!m->o.screenshot)
        return;
    struct framebuffer fb = {0};
    struct error err;
    if (display_snapshot(m->display, &fb) == 0 &&
        png_write_xrgb(m->o.screenshot, fb.pixels, fb.width, fb.height, fb.stride, &err) < 0 && m->o.log)
        fprintf(m->o.log, "vmplay: screenshot: %s\n", err.msg);
    framebuffer_release(&fb);
}

/* The run ends: one last frame, so the screenshot and --screen-text show what the guest wrote
 * after the last refresh tick too (a boot file that prints and exits at once). */
static void final_frame(struct machine *m)
{
    if (m->vga)
        vga_refresh(m->vga);
    write_screenshot(m);
}

enum loop_action { LOOP_CONTINUE, LOOP_POWEROFF, LOOP_EXIT_STATUS };

static enum loop_action take_requests(struct machine *m)
{
    unsigned r = atomic_exchange(&m->requests, 0);
    const char *who = atomic_exchange(&m->request_who, NULL);
    FILE *log = who ? m->o.log : NULL;
    if (r & (1u << MACHINE_SCREENSHOT))
        write_screenshot(m);
    if (r & (1u << MACHINE_POWER_OFF)) {
        if (log)
            fprintf(log, "vmplay: %s: powering the guest off at once (its disks are flushed "
                    "and closed)\n", who);
        return LOOP_POWEROFF;
    }
    if (r & (1u << MACHINE_POWER_BUTTON)) {
        enum button_heard heard = machine_press_power_button(m);
        if (log && heard == BUTTON_ACPI)
            fprintf(log, "vmplay: %s: pressed the guest's ACPI power button for a clean "
                    "shutdown; a second signal powers it off at once\n", who);
        else if (log && heard == BUTTON_TOOLS)
            fprintf(log, "vmplay: %s: asked the guest's VMware tools to shut it down; a second "
                    "signal powers it off at once\n", who);
        else if (log)
            fprintf(log, "vmplay: %s: the guest has not enabled its ACPI power button; powering "
                    "it off at once (its disks are flushed and closed)\n", who);
    }
    if (r & (1u << MACHINE_RESET))
        machine_reset(m);
    if (m->debug_exit_pending)
        return LOOP_EXIT_STATUS;
    return LOOP_CONTINUE;
}

/* A guest power-off (ACPI S5, --timeout, the window's second close). */
static bool powered_off(struct machine *m)
{
    if (!m->o.restart_on_poweroff)
        return true;
    if (m->o.log)
        fprintf(m->o.log, "vmplay: the guest powered off; powering it on again (kiosk)\n");
    machine_reset(m);
    return false;
}

/* The host-time bound of a deterministic run: one wake-up of the machine loop
 * when it is due. Deterministic runs are not cut into extra slices for it: the
 * run before the bound stays what it would have been. */
static void *wall_watch(void *opaque)
{
    struct machine *m = opaque;
    struct timespec ts = {(time_t)(m->timeout_wall_ns / 1000000000),
                          (long)(m->timeout_wall_ns % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
    machine_wake(m);
    return NULL;
}

static int run_loop(struct machine *m, struct error *err);

int machine_run(struct machine *m, struct error *err)
{
    m->started_host_ns = clock_host_ns();
    display_set_state(m->display, m->paused ? DISPLAY_PAUSED : DISPLAY_RUNNING);
    /* --timeout bounds host time too: a deterministic clock follows the guest's
     * instructions, which a slow host (or a sanitizer build) runs at any pace. */
    if (m->o.timeout_s > 0 && !m->timeout_wall_ns)
        m->timeout_wall_ns = clock_host_ns() + (int64_t)(m->o.timeout_s * 1e9);
    pthread_t watch;
    bool watching = m->timeout_wall_ns && clock_mode(m->clock) != CLOCK_REALTIME &&
                    pthread_create(&watch, NULL, wall_watch, m) == 0;
    int rc = run_loop(m, err);
    if (watching) {
        pthread_cancel(watch);
        pthread_join(watch, NULL);
    }
    return rc;
}

/* Runs the guest up to the next deadline; returns -1 with err when the run must end. */
static int run_slice(struct machine *m, struct error *err)
{
    int64_t now = clock_now_ns(m->clock);
    int64_t deadline = clock_next_deadline(m->clock);
    if (clock_mode(m->clock) == CLOCK_REALTIME && deadline > now + HOST_POLL_NS)
        deadline = now + HOST_POLL_NS;
    enum cpu_exit ex = cpu_run(m->cpu, deadline);
    switch (ex) {
    case CPU_EXIT_HALT:
        idle_until(m, clock_next_deadline(m->clock));
        break;
    case CPU_EXIT_SHUTDOWN:
        if (m->o.timeout_s > 0 || m->o.deterministic)
            return error_set(err, EX_SOFTWARE, "the guest triple-faulted (CPU shutdown) at %.3f s",
                             clock_now_ns(m->clock) / 1e9);
        if (m->o.log)
            fprintf(m->o.log, "vmplay: the guest triple-faulted; resetting the machine\n");
        machine_reset(m);
        break;
    case CPU_EXIT_ERROR:
        return error_set(err, EX_SOFTWARE, "the %s CPU backend failed; the guest is stopped",
                         cpu_backend_name(m->cpu));
    case CPU_EXIT_DEADLINE:
    case CPU_EXIT_STOP:
        break;
    }
    clock_run_timers(m->clock);
    return 0;
}

/* A guest write or flush that failed on the host (a full file system, a quota, an I/O
 * error): the guest was told (its command failed), the user is told once per disk here, and
 * the run ends with a failing status. Returns that status, or 0 when every write landed. */
static int disk_errors(struct machine *m)
{
    int status = 0;
    for (int i = 0; i < m->ndisks; i++) {
        int e = m->disks[i]->write_errno;
        if (!e)
            continue;
        if (!m->disk_error_told[i] && m->o.log)
            fprintf(m->o.log, "vmplay: %s: a guest write to %s failed (%s); the guest saw an "
                    "I/O error, and what it had flushed before is on the disk\n",
                    m->disk_slot[i] ? m->disk_slot[i] : "disk",
                    m->disk_path[i] ? m->disk_path[i] : "its image", strerror(e));
        m->disk_error_told[i] = true;
        int s = (e == ENOSPC || e == EDQUOT || e == EFBIG) ? EX_CANTCREAT : EX_IOERR;
        if (!status)
            status = s;
    }
    return status;
}

/* The end of a run: every disk flushed (a flush that fails is a lost write too). */
static int finish_disks(struct machine *m)
{
    for (int i = 0; i < m->ndisks; i++)
        blockdev_flush(m->disks[i]);
    return disk_errors(m);
}

static int run_loop(struct machine *m, struct error *err)
{
    for (;;) {
        if (m->paused) {
            idle_paused(m);
        } else if (run_slice(m, err) < 0) {
            display_set_state(m->display, DISPLAY_EXITED);
            return -1;
        }
        if (m->timeout_wall_ns && clock_host_ns() >= m->timeout_wall_ns)
            machine_timeout(m, true);
        machine_service_host(m);
        serve_sources(m);
        disk_errors(m);
        enum loop_action a = take_requests(m);
        if (a == LOOP_CONTINUE && m->poweroff_pending) {
            m->poweroff_pending = false;
            a = powered_off(m) ? LOOP_POWEROFF : LOOP_CONTINUE;
        }
        if (a == LOOP_POWEROFF) {
            final_frame(m);
            display_set_state(m->display, DISPLAY_EXITED);
            int lost = finish_disks(m);
            return lost ? lost : m->timed_out ? MACHINE_EXIT_TIMEOUT : 0;
        }
        if (a == LOOP_EXIT_STATUS) {
            final_frame(m);
            display_set_state(m->display, DISPLAY_EXITED);
            int lost = finish_disks(m);
            return lost ? lost : m->debug_exit_status;
        }
    }
}

int machine_wake_fd_new(void)
{
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}
