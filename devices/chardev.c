/*
 * Character back ends (see chardev.h). Each kind sets an input descriptor
 * (in_fd, non-blocking) and an output descriptor (out_fd); a listening
 * socket accepts one client at a time, lazily, when the guest reads or
 * writes, and drops it on hang-up. stdin on a terminal is the console
 * (chardev.h): raw, Ctrl-A escapes, its input buffered here as it arrives.
 */
#include "devices/chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

struct chardev {
    enum chardev_kind kind;
    int in_fd, out_fd;
    int listen_fd;
    bool own_in, own_out; /* close on free */
    bool blocking_out;    /* write everything (files, stdout) */
    bool tty_saved;
    struct termios saved;
    int stdin_flags; /* STDIO: file status flags to restore */
    int pty_slave;   /* PTY: our own descriptor of the slave side */
    char name[108];
    bool console;    /* STDIO on a terminal: escapes, eager input */
    bool esc;        /* Ctrl-A seen, the command key next */
    int escape;      /* a command for the player, not taken yet */
    uint8_t in[4096]; /* console input the guest has not read yet */
    size_t in_head, in_len;
};

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

/*
 * The terminal is the process's, not a device's: its saved settings are kept
 * where exit() and a fatal signal can put them back, the one mutable static here.
 */
static struct {
    bool saved;
    struct termios t;
} term;

static void term_restore(void)
{
    if (term.saved)
        tcsetattr(STDIN_FILENO, TCSANOW, &term.t);
}

static void term_fatal(int sig)
{
    term_restore();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void term_guard(const struct termios *t)
{
    static bool installed;
    term.t = *t;
    term.saved = true;
    if (installed)
        return;
    installed = true;
    atexit(term_restore);
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGQUIT};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) {
        struct sigaction sa = {.sa_handler = term_fatal, .sa_flags = SA_RESETHAND};
        struct sigaction old;
        sigemptyset(&sa.sa_mask);
        if (sigaction(fatal[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
            sigaction(fatal[i], &sa, NULL);
    }
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int open_file(struct chardev *ch, const struct chardev_config *cfg, struct error *err)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (cfg->append ? O_APPEND : O_TRUNC);
    ch->out_fd = open(cfg->path, flags, 0644);
    if (ch->out_fd < 0)
        return error_set(err, EX_CANTCREAT, "%s: %s", cfg->path, strerror(errno));
    ch->own_out = ch->blocking_out = true;
    return 0;
}

static void make_raw(int fd)
{
    struct termios t;
    if (tcgetattr(fd, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(fd, TCSANOW, &t);
    }
}

static int open_stdio(struct chardev *ch)
{
    ch->stdin_flags = fcntl(STDIN_FILENO, F_GETFL);
    ch->in_fd = STDIN_FILENO;
    ch->out_fd = STDOUT_FILENO;
    ch->blocking_out = true;
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &ch->saved) == 0) {
        struct termios raw = ch->saved;
        cfmakeraw(&raw); /* no ISIG: Ctrl-C, Ctrl-Z and Ctrl-\ are the guest's */
        raw.c_oflag |= OPOST | ONLCR; /* keep the player's own messages readable */
        term_guard(&ch->saved);
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
        ch->tty_saved = true;
        ch->console = true;
    }
    return 0;
}

static const char console_help[] =
    "\r\nvmplay console keys:\r\n"
    "  Ctrl-A h        this help\r\n"
    "  Ctrl-A x        quit: power the guest off at once (its disks are flushed)\r\n"
    "  Ctrl-A Ctrl-A   send Ctrl-A to the guest\r\n"
    "Every other key, Ctrl-C included, goes to the guest.\r\n";

/* One byte from the terminal: an escape, or input for the guest. */
static void console_byte(struct chardev *ch, uint8_t b)
{
    if (ch->esc) {
        ch->esc = false;
        if (b == 'x' || b == 'X')
            ch->escape = 'x';
        else if (b == 'h' || b == 'H' || b == '?')
            chardev_write(ch, console_help, sizeof console_help - 1);
        if (b != CONSOLE_ESCAPE)
            return;
    } else if (b == CONSOLE_ESCAPE) {
        ch->esc = true;
        return;
    }
    if (ch->in_len == sizeof ch->in)
        return; /* the guest reads nothing: an overrun, as on a real line */
    ch->in[(ch->in_head + ch->in_len++) % sizeof ch->in] = b;
}

void chardev_pump(struct chardev *ch)
{
    uint8_t b[512];
    ssize_t n;
    while (ch->console && ch->in_fd >= 0 && (n = read(ch->in_fd, b, sizeof b)) > 0)
        for (ssize_t i = 0; i < n; i++)
            console_byte(ch, b[i]);
}

int chardev_take_escape(struct chardev *ch)
{
    int e = ch->escape;
    ch->escape = 0;
    return e;
}

bool chardev_is_console(const struct chardev *ch)
{
    return ch->console;
}

static int open_pty(struct chardev *ch, struct error *err)
{
    int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0 || grantpt(fd) < 0 || unlockpt(fd) < 0 || !ptsname(fd)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return error_set(err, EX_OSERR, "pseudo-terminal: %s", strerror(e));
    }
    snprintf(ch->name, sizeof ch->name, "%s", ptsname(fd));
    /*
     * Raw slave: no echo, no line discipline between the guest and the
     * user's terminal program. We keep it open so that the master never
     * reports a hang-up (which would wake the machine loop's poll() for
     * ever) while nobody is attached.
     */
    ch->pty_slave = open(ch->name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (ch->pty_slave >= 0)
        make_raw(ch->pty_slave);
    ch->in_fd = ch->out_fd = fd;
    ch->own_in = true;
    return 0;
}

static int open_device(struct chardev *ch, const struct chardev_config *cfg, struct error *err)
{
    int fd = open(cfg->path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return error_set(err, error_code_for_errno(errno), "%s: %s", cfg->path, strerror(errno));
    make_raw(fd);
    ch->in_fd = ch->out_fd = fd;
    ch->own_in = true;
    return 0;
}

static int open_socket(struct chardev *ch, const struct chardev_config *cfg, struct error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(cfg->path) >= sizeof sa.sun_path)
        return error_set(err, EX_USAGE, "%s: socket path too long", cfg->path);
    strcpy(sa.sun_path, cfg->path);
    snprintf(ch->name, sizeof ch->name, "%s", cfg->path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return error_set(err, EX_OSERR, "socket: %s", strerror(errno));
    if (cfg->server) {
        struct stat st;
        if (lstat(cfg->path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(cfg->path); /* a stale socket from an earlier run */
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1) < 0) {
            int e = errno;
            close(fd);
            return error_set(err, EX_CANTCREAT, "%s: %s", cfg->path, strerror(e));
        }
        set_nonblock(fd);
        ch->listen_fd = fd;
        return 0;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        return error_set(err, error_code_for_errno(e), "%s: %s", cfg->path, strerror(e));
    }
    ch->in_fd = ch->out_fd = fd;
    ch->own_in = true;
    return 0;
}

struct chardev *chardev_new(const struct chardev_config *cfg, struct error *err)
{
    struct chardev *ch = calloc(1, sizeof *ch);
    if (!ch) {
        error_set(err, EX_OSERR, "out of memory");
        return NULL;
    }
    ch->kind = cfg->kind;
    ch->in_fd = ch->out_fd = ch->listen_fd = ch->pty_slave = -1;
    int rc = 0;
    switch (cfg->kind) {
    case CHARDEV_FILE:
        rc = open_file(ch, cfg, err);
        break;
    case CHARDEV_STDIO:
        rc = open_stdio(ch);
        break;
    case CHARDEV_PTY:
        rc = open_pty(ch, err);
        break;
    case CHARDEV_SOCKET:
        rc = open_socket(ch, cfg, err);
        break;
    case CHARDEV_DEVICE:
        rc = open_device(ch, cfg, err);
        break;
    case CHARDEV_NULL:
        break;
    }
    if (rc < 0) {
        free(ch);
        return NULL;
    }
    if (ch->in_fd >= 0)
        set_nonblock(ch->in_fd);
    return ch;
}

static void drop_client(struct chardev *ch)
{
    if (ch->listen_fd >= 0 && ch->in_fd >= 0) {
        close(ch->in_fd);
        ch->in_fd = ch->out_fd = -1;
        ch->own_in = false;
    }
}

void chardev_free(struct chardev *ch)
{
    if (!ch)
        return;
    if (ch->tty_saved) {
        tcsetattr(STDIN_FILENO, TCSANOW, &ch->saved);
        term.saved = false;
    }
    /* stdin's O_NONBLOCK is shared with the shell that started us: always put it back. */
    if (ch->kind == CHARDEV_STDIO && ch->stdin_flags >= 0)
        fcntl(STDIN_FILENO, F_SETFL, ch->stdin_flags);
    if (ch->own_in)
        close(ch->in_fd);
    if (ch->pty_slave >= 0)
        close(ch->pty_slave);
    if (ch->own_out)
        close(ch->out_fd);
    if (ch->listen_fd >= 0) {
        close(ch->listen_fd);
        unlink(ch->name);
    }
    free(ch);
}

/* Socket server: take a waiting client if there is none. */
static void try_accept(struct chardev *ch)
{
    if (ch->listen_fd < 0 || ch->in_fd >= 0)
        return;
    int fd = accept4(ch->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
        ch->in_fd = ch->out_fd = fd;
        ch->own_in = true;
    }
}

void chardev_write(struct chardev *ch, const void *buf, size_t len)
{
    try_accept(ch);
    const char *p = buf;
    while (len > 0 && ch->out_fd >= 0) {
        ssize_t n = ch->kind == CHARDEV_SOCKET ? send(ch->out_fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT)
                                               : write(ch->out_fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!ch->blocking_out)
                return; /* nobody is reading: drop */
            /* stdout shares O_NONBLOCK with stdin when both are the same terminal: wait. */
            struct pollfd pfd = {.fd = ch->out_fd, .events = POLLOUT};
            poll(&pfd, 1, -1);
        } else if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
            drop_client(ch);
            return;
        } else {
            return;
        }
    }
}

size_t chardev_read(struct chardev *ch, void *buf, size_t len)
{
    try_accept(ch);
    if (ch->console) { /* what chardev_pump has taken from the terminal */
        size_t n = 0;
        for (uint8_t *p = buf; n < len && ch->in_len; n++, ch->in_len--) {
            p[n] = ch->in[ch->in_head];
            ch->in_head = (ch->in_head + 1) % sizeof ch->in;
        }
        return n;
    }
    if (ch->in_fd < 0 || len == 0)
        return 0;
    ssize_t n = read(ch->in_fd, buf, len);
    if (n > 0)
        return (size_t)n;
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        /* End of input: a socket client goes, stdin and pipes stop being read. */
        if (ch->listen_fd >= 0)
            drop_client(ch);
        else if (ch->kind != CHARDEV_PTY && ch->kind != CHARDEV_DEVICE)
            ch->in_fd = -1;
    }
    return 0;
}

int chardev_fd(const struct chardev *ch)
{
    return ch->in_fd >= 0 ? ch->in_fd : ch->listen_fd;
}

const char *chardev_name(const struct chardev *ch)
{
    return ch->name[0] ? ch->name : NULL;
}

int chardev_parse(const char *spec, struct chardev_config *cfg, struct error *err)
{
    static const struct {
        const char *prefix;
        enum chardev_kind kind;
        bool append, server;
    } kinds[] = {
        {"file:", CHARDEV_FILE, false, false},
        {"append:", CHARDEV_FILE, true, false},
        {"unix:", CHARDEV_SOCKET, false, false},
        {"unix-server:", CHARDEV_SOCKET, false, true},
        {"device:", CHARDEV_DEVICE, false, false},
    };
    *cfg = (struct chardev_config){0};
    if (strcmp(spec, "null") == 0 || strcmp(spec, "none") == 0)
        return cfg->kind = CHARDEV_NULL, 0;
    if (strcmp(spec, "stdio") == 0)
        return cfg->kind = CHARDEV_STDIO, 0;
    if (strcmp(spec, "pty") == 0)
        return cfg->kind = CHARDEV_PTY, 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t n = strlen(kinds[i].prefix);
        if (strncmp(spec, kinds[i].prefix, n) != 0 || !spec[n])
            continue;
        cfg->kind = kinds[i].kind;
        cfg->append = kinds[i].append;
        cfg->server = kinds[i].server;
        cfg->path = spec + n;
        return 0;
    }
    return error_set(err, EX_USAGE,
                     "bad serial back end \"%s\" (null, stdio, pty, file:PATH, append:PATH, "
                     "unix:PATH, unix-server:PATH, device:PATH)",
                     spec);
}
