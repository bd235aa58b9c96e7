/*
 * Setup errors: a sysexits.h status and one line of text. Setup code fills a
 * struct error and returns -1; only player.c prints it and exits with err.code.
 */
#ifndef VMPLAY_ERROR_H
#define VMPLAY_ERROR_H

#include <sysexits.h>

struct error {
    int code;       /* EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_UNAVAILABLE, EX_CANTCREAT, EX_TEMPFAIL, EX_SOFTWARE */
    char msg[1024]; /* one line, no trailing newline */
};

/* Sets *e (when e is not NULL) and returns -1, so callers can `return error_set(...)`. */
int error_set(struct error *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes the existing message with "prefix: " (keeps the code). Returns -1. */
int error_prefix(struct error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The sysexits status for an errno from opening a file: missing -> EX_NOINPUT, else EX_IOERR/EX_NOPERM. */
int error_code_for_errno(int err);

#endif
