/*
 * The crash test through the blockdev (the model in tests/unit/crashtest.h):
 * the child writes with a flush after one write in three; in the second test
 * it makes every write stable (blockdev_write_stable at either depth, or a
 * write-through disk), as a drive with its write cache off does, and reports
 * each one durable as soon as it returns: none of those may be lost.
 */
#include "tests/unit/crashtest.h"

#define ROUNDS 120

/* How the child writes: cached with a flush after one in three writes, or every write
 * stable (at a depth; through blockdev_write_stable or a write-through disk). */
enum mode { FLUSH_SOMETIMES, STABLE_FILE, STABLE_MEDIA, WRITE_THROUGH };

static void child(const char *path, int fd, uint64_t seed, uint64_t first_id, int mode)
{
    struct blockdev_open_opts o = {.media = MEDIA_DISK, .write_through = mode == WRITE_THROUGH,
                                   .sync = mode == STABLE_FILE ? BLOCKDEV_SYNC_FILE
                                                               : BLOCKDEV_SYNC_MEDIA};
    struct blockdev *bd;
    struct error err;
    if (blockdev_open(path, &o, &bd, &err))
        _exit(3);
    send_msg(fd, (struct msg){MSG_READY, 0, 0, 0});
    uint8_t *buf = malloc(64 * 512);
    for (uint64_t id = first_id;; id++) {
        uint32_t len = 1 + (uint32_t)(rng_next(&seed) % 64);
        uint64_t s = rng_next(&seed) % (AREA - len);
        for (uint32_t i = 0; i < len; i++)
            fill_sector(buf + i * 512, id, s + i);
        send_msg(fd, (struct msg){MSG_INTENT, len, id, s});
        if (mode == STABLE_FILE || mode == STABLE_MEDIA) {
            if (blockdev_write_stable(bd, s, len, buf))
                _exit(5);
            send_msg(fd, (struct msg){MSG_FLUSHED, 0, id, 0});
            continue;
        }
        if (blockdev_write(bd, s, len, buf))
            _exit(5);
        if (mode == WRITE_THROUGH || rng_next(&seed) % 3 == 0) {
            if (blockdev_flush(bd))
                _exit(6);
            send_msg(fd, (struct msg){MSG_FLUSHED, 0, id, 0});
        }
    }
}

TEST(sigkill_while_writing)
{
    static const int modes[] = {FLUSH_SOMETIMES};
    crash_rounds(ROUNDS, child, modes, 1);
}

/* Every write stable: the kill may take only the one in flight. */
TEST(sigkill_while_writing_stable)
{
    static const int modes[] = {STABLE_FILE, STABLE_MEDIA, WRITE_THROUGH};
    crash_rounds(ROUNDS / 2, child, modes, 3);
}
