/*
 * For the differential drivers (cpudiff.c, cpudiff64.c): the native runner as
 * a child process fed test cases on its standard input and answering on its
 * standard output.
 */
#ifndef VMPLAY_TESTS_CPU_RUNNER_PIPE_H
#define VMPLAY_TESTS_CPU_RUNNER_PIPE_H

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
    int in[2], out[2];
    if (pipe(in) < 0 || pipe(out) < 0)
        return -1;
    r->pid = fork();
    if (r->pid < 0)
        return -1;
    if (r->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
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
