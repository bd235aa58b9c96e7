/* Setup errors (see error.h). */
#include "formats/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int error_set(struct error *e, int code, const char *fmt, ...)
{
    if (!e)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->code = code;
    return -1;
}

int error_prefix(struct error *e, const char *fmt, ...)
{
    if (!e)
        return -1;
    char pre[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    size_t np = strlen(pre), nm = strnlen(e->msg, sizeof e->msg - 1);
    if (np + 2 >= sizeof e->msg)
        np = sizeof e->msg - 3;
    if (np + 2 + nm >= sizeof e->msg)
        nm = sizeof e->msg - 3 - np;
    memmove(e->msg + np + 2, e->msg, nm);
    memcpy(e->msg, pre, np);
    memcpy(e->msg + np, ": ", 2);
    e->msg[np + 2 + nm] = 0;
    return -1;
}

int error_code_for_errno(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        return EX_NOINPUT;
    case EACCES:
    case EPERM:
        return EX_NOPERM;
    case EROFS:
        return EX_CANTCREAT;
    default:
        return EX_IOERR;
    }
}
