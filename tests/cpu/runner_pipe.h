/*
 * For the differential drivers (cpudiff.c, cpudiff64.c): the native runner as
 * a child process fed test cases on its standard input and answering on its
 * standard output. runner_start fails (errno set) when the runner cannot be
 * executed at all, e.g. a 32-bit program on a kernel without IA32 emulation.
 */
#ifndef VMPLAY_TESTS_CPU_RUNNER_PIPE_H
#define VMPLAY_TESTS_CPU_RUNNER_PIPE_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

struct runner {
    pid_t pid;
    FILE *to, *from;
};

static int runner_start(struct runner *r, const char *path)
{
    int in[2], out[2], ex[2]; /* ex: the child's exec errno, closed by a successful exec */
    if (pipe(in) < 0 || pipe(out) < 0 || pipe2(ex, O_CLOEXEC) < 0)
        return -1;
    r->pid = fork();
    if (r->pid < 0)
        return -1;
    if (r->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        close(ex[0]);
        execl(path, path, (char *)NULL);
        int e = errno;
        if (write(ex[1], &e, sizeof e) < 0)
            _exit(126);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(ex[1]);
    int e = 0;
    ssize_t got = read(ex[0], &e, sizeof e);
    close(ex[0]);
    if (got == (ssize_t)sizeof e) {
        close(in[1]);
        close(out[0]);
        waitpid(r->pid, NULL, 0);
        errno = e;
        return -1;
    }
    r->to = fdopen(in[1], "wb");
    r->from = fdopen(out[0], "rb");
    return r->to && r->from ? 0 : -1;
}

static void runner_stop(struct runner *r)
{
    fclose(r->to);
    fclose(r->from);
    waitpid(r->pid, NULL, 0);
}

#endif
