/*
 * main() for every unit-test binary: runs the registered cases in order, each
 * in a forked child (a crash or hang in one case fails that case only), and
 * prints one PASS/FAIL/SKIP line per case. Arguments select cases by name.
 */
#include "tests/unit/test.h"

#include <errno.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TESTS 1024
#define CASE_TIMEOUT_S 600

static struct {
    const char *name;
    test_fn fn;
} tests[MAX_TESTS];
static int ntests;
static int result_fd = -1; /* child -> parent: the message */
static char tmpdir[256];

void test_register(const char *name, test_fn fn)
{
    if (ntests < MAX_TESTS) {
        tests[ntests].name = name;
        tests[ntests].fn = fn;
        ntests++;
    }
}

static _Noreturn void report(int code, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (result_fd >= 0 && write(result_fd, msg, strlen(msg)) < 0)
        _exit(3);
    _exit(code);
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    char f[1024];
    snprintf(f, sizeof f, "%s:%d: %s", file, line, fmt);
    va_list ap;
    va_start(ap, fmt);
    report(1, f, ap);
}

void test_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(2, fmt, ap);
}

void irq_rec_set(void *opaque, int n, int level)
{
    struct irq_rec *r = opaque;
    if (level && !r->level)
        r->rises++;
    r->level = level;
    r->sets++;
}

const char *test_build_dir(void)
{
    const char *b = getenv("BUILD");
    return b && *b ? b : "build";
}

const char *test_samples_where(void)
{
    static char path[4096], real[PATH_MAX];
    const char *env = getenv("VMPLAY_SAMPLES");
    if (env && *env)
        snprintf(path, sizeof path, "%s", env);
    else
        snprintf(path, sizeof path, "%s/../../shared/samples", test_build_dir());
    /* the folder beside the checkout, named plainly when it exists up to its parent */
    char parent[4100];
    snprintf(parent, sizeof parent, "%s/..", path);
    if (realpath(path, real) || (realpath(parent, real) && strlen(real) + 9 < sizeof real &&
                                 strcat(real, "/samples")))
        return real;
    return path;
}

const char *test_samples_dir(void)
{
    const char *path = test_samples_where();
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? path : NULL;
}

const char *test_tmpdir(void)
{
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "%s/tmp/unit-XXXXXX", test_build_dir());
        char parent[256];
        snprintf(parent, sizeof parent, "%s/tmp", test_build_dir());
        mkdir(test_build_dir(), 0755);
        mkdir(parent, 0755);
        if (!mkdtemp(tmpdir))
            test_fail(__FILE__, __LINE__, "mkdtemp %s: %s", tmpdir, strerror(errno));
    }
    return tmpdir;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int run_case(const char *suite, int i)
{
    int pfd[2];
    if (pipe(pfd) < 0)
        return 1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        result_fd = pfd[1];
        alarm(CASE_TIMEOUT_S);
        tests[i].fn();
        if (tmpdir[0])
            nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        _exit(0);
    }
    close(pfd[1]);
    char msg[1024] = "";
    size_t n = 0;
    ssize_t r;
    while (n < sizeof msg - 1 && (r = read(pfd[0], msg + n, sizeof msg - 1 - n)) > 0)
        n += (size_t)r;
    msg[n] = 0;
    close(pfd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) {
        printf("FAIL %s/%s: killed by signal %d (%s)\n", suite, tests[i].name,
               WTERMSIG(status), strsignal(WTERMSIG(status)));
        return 1;
    }
    switch (WEXITSTATUS(status)) {
    case 0:
        printf("PASS %s/%s\n", suite, tests[i].name);
        return 0;
    case 2:
        printf("SKIP %s/%s: %s\n", suite, tests[i].name, msg);
        return 0;
    default:
        printf("FAIL %s/%s: %s\n", suite, tests[i].name, msg[0] ? msg : "exit status");
        return 1;
    }
}

int main(int argc, char **argv)
{
    const char *suite = basename(argv[0]);
    int failed = 0;
    for (int i = 0; i < ntests; i++) {
        bool want = argc < 2;
        for (int a = 1; a < argc; a++)
            if (strcmp(argv[a], tests[i].name) == 0)
                want = true;
        if (want)
            failed += run_case(suite, i);
    }
    return failed ? 1 : 0;
}
