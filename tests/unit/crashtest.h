/*
 * The crash tests' common part (test_vmdk_crash.c through the blockdev,
 * test_ata_crash.c through the IDE model): a child process writes to a
 * 64 MiB sparse VMDK and is killed with SIGKILL at a random moment, over and
 * over. Before each write the child tells the parent (through a pipe) what it
 * is about to write, and after each flush (or stable write) what is now
 * durable. After each kill the parent opens the disk (unclean by then) and
 * checks every sector: it must hold the last durable write or one of the
 * writes in flight, never anything else. Sectors carry their write id,
 * sector number and a pattern.
 */
#ifndef VMPLAY_CRASHTEST_H
#define VMPLAY_CRASHTEST_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/disktest.h"

/* The child: sends MSG_READY once its disk is open, then writes from id first_id on; never
 * returns. */
typedef void (*crash_child)(const char *path, int fd, uint64_t seed, uint64_t first_id, int mode);

#define AREA 32768u /* sectors written (16 MiB of a 64 MiB disk) */
#define MAX_PENDING 4096

enum { MSG_INTENT = 1, MSG_FLUSHED = 2, MSG_READY = 3 /* set up: the kill clock starts */ };

struct msg {
    uint32_t type, len;
    uint64_t id, sector;
};

static inline void fill_sector(uint8_t *p, uint64_t id, uint64_t sector)
{
    uint64_t s = id * 0x9e3779b97f4a7c15ull ^ (sector + 1);
    memcpy(p, &id, 8);
    memcpy(p + 8, &sector, 8);
    for (int i = 16; i < 512; i += 8) {
        uint64_t v = rng_next(&s);
        memcpy(p + i, &v, 8);
    }
}

/* The write id a sector holds (0: never written); UINT64_MAX when it is garbage. */
static inline uint64_t sector_id(const uint8_t *p, uint64_t sector)
{
    static const uint8_t zero[512];
    if (!memcmp(p, zero, 512))
        return 0;
    uint64_t id;
    uint8_t want[512];
    memcpy(&id, p, 8);
    fill_sector(want, id, sector);
    return memcmp(p, want, 512) ? UINT64_MAX : id;
}

static inline void send_msg(int fd, struct msg m)
{
    if (write(fd, &m, sizeof m) != sizeof m)
        _exit(4);
}

struct model {
    uint64_t *flushed;          /* per sector: id of the last durable write */
    struct msg pending[MAX_PENDING];
    size_t n_pending;
    uint64_t durable_writes;
};

static inline void apply(struct model *m, const struct msg *x)
{
    if (x->type == MSG_INTENT) {
        if (m->n_pending == MAX_PENDING)
            FAIL("too many writes between flushes");
        m->pending[m->n_pending++] = *x;
        return;
    }
    size_t keep = 0;
    for (size_t i = 0; i < m->n_pending; i++) {
        const struct msg *w = &m->pending[i];
        if (w->id <= x->id) {
            for (uint32_t k = 0; k < w->len; k++)
                m->flushed[w->sector + k] = w->id;
            m->durable_writes++;
        } else {
            m->pending[keep++] = *w;
        }
    }
    m->n_pending = keep;
}

static inline bool allowed(const struct model *m, uint64_t s, uint64_t id)
{
    if (id == m->flushed[s])
        return true;
    for (size_t i = 0; i < m->n_pending; i++) {
        const struct msg *w = &m->pending[i];
        if (w->id == id && s >= w->sector && s < w->sector + w->len)
            return true;
    }
    return false;
}

static inline void verify(struct model *m, const char *path, int round)
{
    struct blockdev *bd = open_disk(path, true);
    uint8_t *b = malloc(AREA * 512);
    ASSERT_EQ(blockdev_read(bd, 0, AREA, b), 0);
    for (uint64_t s = 0; s < AREA; s++) {
        uint64_t id = sector_id(b + s * 512, s);
        if (!allowed(m, s, id))
            FAIL("round %d: sector %llu holds write %llu, flushed was %llu", round,
                 (unsigned long long)s, (unsigned long long)id,
                 (unsigned long long)m->flushed[s]);
        m->flushed[s] = id;
    }
    m->n_pending = 0;
    free(b);
    blockdev_close(bd);
}

static inline void sleep_us(long us)
{
    struct timespec t = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&t, NULL);
}

/* Directory entry 0 (primary and redundant) cleared: the first write allocates a table. */
static inline void clear_first_table(const char *path)
{
    int fd = open(path, O_RDWR);
    uint8_t h[512], zero[4] = {0};
    ASSERT(fd >= 0 && pread(fd, h, 512, 0) == 512);
    uint32_t rgd, gd;
    memcpy(&rgd, h + 48, 4);
    memcpy(&gd, h + 56, 4);
    ASSERT_EQ(pwrite(fd, zero, 4, (off_t)gd * 512), 4);
    ASSERT_EQ(pwrite(fd, zero, 4, (off_t)rgd * 512), 4);
    close(fd);
}

/* rounds of: fork a child running fn(path, pipe, seed, first id, modes[round % n]), kill it
 * at a random moment, check the disk against the model. */
static inline void crash_rounds(int rounds, crash_child fn, const int *modes, size_t n_modes)
{
    need_qemu_img();
    char path[4200];
    snprintf(path, sizeof path, "%s/crash.vmdk", test_tmpdir());
    ASSERT_EQ(sh("qemu-img create -q -f vmdk %s 64M", path), 0);
    clear_first_table(path);
    struct model m = {.flushed = calloc(AREA, sizeof(uint64_t))};
    uint64_t seed = (uint64_t)time(NULL) | 1, next_id = 1;
    fprintf(stderr, "crash test seed %llu\n", (unsigned long long)seed);
    for (int round = 0; round < rounds; round++) {
        int p[2];
        ASSERT_EQ(pipe(p), 0);
        uint64_t cseed = rng_next(&seed);
        pid_t pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            fn(path, p[1], cseed, next_id, modes[(size_t)round % n_modes]);
            _exit(7);
        }
        close(p[1]);
        struct msg x;
        if (read(p[0], &x, sizeof x) != sizeof x || x.type != MSG_READY) {
            int st;
            waitpid(pid, &st, 0);
            FAIL("round %d: the child did not start (status %d)", round, WEXITSTATUS(st));
        }
        /* The kill clock starts at the child's first durable write, however slow the host. */
        while (read(p[0], &x, sizeof x) == sizeof x) {
            apply(&m, &x);
            if (x.id >= next_id)
                next_id = x.id + 1;
            if (x.type == MSG_FLUSHED)
                break;
        }
        sleep_us(2000 + (long)(rng_next(&seed) % 40000));
        kill(pid, SIGKILL);
        int st;
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        if (!WIFSIGNALED(st))
            FAIL("round %d: child exited with status %d before the kill", round, WEXITSTATUS(st));
        while (read(p[0], &x, sizeof x) == sizeof x) {
            apply(&m, &x);
            if (x.id >= next_id)
                next_id = x.id + 1;
        }
        close(p[0]);
        verify(&m, path, round);
    }
    fprintf(stderr, "%d kills, %llu writes known durable\n", rounds,
            (unsigned long long)m.durable_writes);
    ASSERT(m.durable_writes >= (uint64_t)rounds); /* every kill landed among durable writes */
    ASSERT_EQ(sh("qemu-img check -q %s", path), 0);
    free(m.flushed);
}

#endif
