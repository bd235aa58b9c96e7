/*
 * For the native runners (runner32.c, runner64.c): every fault a test case can
 * raise (SIGSEGV, SIGFPE, SIGILL, SIGTRAP, SIGBUS) goes to one handler, on a
 * stack of its own so that a case with a wild stack pointer still reports.
 */
#ifndef VMPLAY_TESTS_CPU_RUNNER_FAULTS_H
#define VMPLAY_TESTS_CPU_RUNNER_FAULTS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

static int runner_catch_faults(void (*handler)(int, siginfo_t *, void *))
{
    static uint8_t altstack[65536];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
    struct sigaction sa = {.sa_sigaction = handler, .sa_flags = SA_SIGINFO | SA_ONSTACK};
    sigemptyset(&sa.sa_mask);
    if (sigaltstack(&ss, NULL) < 0)
        return -1;
    int sigs[] = {SIGSEGV, SIGFPE, SIGILL, SIGTRAP, SIGBUS};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, NULL) < 0)
            return -1;
    return 0;
}

#endif
