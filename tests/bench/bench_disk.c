/*
 * The disk benchmark driver for bench/disk.sh: requests through vmplay's
 * blockdev the way `qemu-img bench` issues them (one at a time, buffer size
 * -s, offset advancing by -S modulo the disk size), printing
 * the elapsed seconds. Writes are followed by a flush, inside the timing;
 * the stable writes (a drive with its write cache off) are each flushed as
 * they go, to fdatasync (write-stable) or only into the file
 * (write-stable-file, --disk-sync=never).
 *   bench_disk read|write|write-stable|write-stable-file FILE BUFSIZE COUNT STEP
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "formats/blockdev.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    bool wr = argc == 6 && !strncmp(argv[1], "write", 5);
    bool stable = wr && !strncmp(argv[1], "write-stable", 12);
    bool to_file = stable && !strcmp(argv[1], "write-stable-file");
    if (argc != 6 || (strcmp(argv[1], "read") && strcmp(argv[1], "write") &&
                      strcmp(argv[1], "write-stable") && !to_file)) {
        fprintf(stderr, "usage: bench_disk read|write|write-stable|write-stable-file FILE BUFSIZE "
                        "COUNT STEP\n");
        return EX_USAGE;
    }
    uint64_t bufsize = strtoull(argv[3], NULL, 0), count = strtoull(argv[4], NULL, 0);
    uint64_t step = strtoull(argv[5], NULL, 0);
    struct blockdev_open_opts o = {.media = MEDIA_DISK, .read_only = !wr,
                                   .sync = to_file ? BLOCKDEV_SYNC_FILE : BLOCKDEV_SYNC_MEDIA};
    struct blockdev *bd;
    struct error err;
    if (blockdev_open(argv[2], &o, &bd, &err)) {
        fprintf(stderr, "bench_disk: %s\n", err.msg);
        return err.code;
    }
    uint64_t size = bd->sectors * BLOCKDEV_SECTOR, off = 0;
    uint8_t *buf = aligned_alloc(4096, (bufsize + 4095) / 4096 * 4096); /* like guest RAM */
    memset(buf, 0x5a, bufsize);
    double t0 = now();
    for (uint64_t i = 0; i < count; i++) {
        uint32_t n = (uint32_t)(bufsize / BLOCKDEV_SECTOR);
        int r = stable ? blockdev_write_stable(bd, off / BLOCKDEV_SECTOR, n, buf)
                : wr   ? blockdev_write(bd, off / BLOCKDEV_SECTOR, n, buf)
                       : blockdev_read(bd, off / BLOCKDEV_SECTOR, n, buf);
        if (r) {
            fprintf(stderr, "bench_disk: request at %llu failed (%d)\n", (unsigned long long)off, r);
            return EX_IOERR;
        }
        off = (off + step) % size; /* as qemu-img bench 7.2 wraps */
        if (off + bufsize > size)
            off = 0;
    }
    if (wr && blockdev_flush(bd))
        return EX_IOERR;
    double t = now() - t0;
    blockdev_close(bd);
    printf("%.6f\n", t);
    free(buf);
    return 0;
}
