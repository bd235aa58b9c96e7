/*
 * 16550A UART (see uart.h). Registers by their datasheet names: RBR/THR,
 * IER, IIR/FCR, LCR (DLAB selects DLL/DLM), MCR, LSR, MSR, SCR. The
 * receiver has a 16-byte FIFO (one byte, the RBR, with FIFOs disabled) with
 * the four trigger levels, overrun on a full FIFO, and the character
 * timeout interrupt four character times after the last byte arrived or
 * was read. Interrupts in the datasheet's priority order: receiver line
 * status, received data / timeout, THR empty, modem status. The PC's
 * interrupt line is enabled by MCR OUT2 and disconnected in loopback, where
 * THR feeds the receiver and MCR drives MSR (RTS->CTS, DTR->DSR, OUT1->RI,
 * OUT2->DCD). Outside loopback the modem inputs show a connected cable
 * (CTS, DSR, DCD). The transmitter is always empty: bytes go to the back
 * end as THR is written. Left out (this subset): parity/framing errors and break
 * (never produced by a back end), DMA mode signals.
 */
#include "devices/uart.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "devices/state.h"
#include "devices/trace.h"
#include "formats/error.h"

#define UART_RBR 0 /* DLAB=0 read */
#define UART_THR 0 /* DLAB=0 write */
#define UART_IER 1
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_ERBFI 0x01
#define UART_IER_ETBEI 0x02
#define UART_IER_ELSI 0x04
#define UART_IER_EDSSI 0x08

#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI 0x00
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_RLSI 0x06
#define UART_IIR_CTI 0x0c
#define UART_IIR_FIFO 0xc0

#define UART_FCR_ENABLE 0x01
#define UART_FCR_CLEAR_RX 0x02

#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10

#define UART_LSR_DR 0x01
#define UART_LSR_OE 0x02
#define UART_LSR_BI_PE_FE 0x1c
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

#define UART_MSR_DCTS 0x01
#define UART_MSR_DDSR 0x02
#define UART_MSR_TERI 0x04
#define UART_MSR_DDCD 0x08
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80

#define FIFO_SIZE 16
#define UART_CLOCK_HZ 1843200

struct uart {
    struct bus *bus;
    struct clock *clock;
    struct chardev *chardev;
    struct irq irq;
    uint16_t base;
    uint8_t ier, lcr, mcr, lsr_err, msr, scr, dll, dlm;
    bool fifo_on;
    uint8_t trigger;
    uint8_t rx[FIFO_SIZE];
    uint8_t rx_head, rx_count;
    bool thre_pending, timeout_pending;
    int irq_level;
    struct timer rx_timer;
};

static unsigned rx_capacity(const struct uart *s)
{
    return s->fifo_on ? FIFO_SIZE : 1;
}

static uint8_t iir(const struct uart *s)
{
    uint8_t id = UART_IIR_NO_INT;
    if ((s->ier & UART_IER_ELSI) && (s->lsr_err & (UART_LSR_OE | UART_LSR_BI_PE_FE)))
        id = UART_IIR_RLSI;
    else if ((s->ier & UART_IER_ERBFI) && s->rx_count >= (s->fifo_on ? s->trigger : 1))
        id = UART_IIR_RDI;
    else if ((s->ier & UART_IER_ERBFI) && s->timeout_pending)
        id = UART_IIR_CTI;
    else if ((s->ier & UART_IER_ETBEI) && s->thre_pending)
        id = UART_IIR_THRI;
    else if ((s->ier & UART_IER_EDSSI) && (s->msr & 0x0f))
        id = UART_IIR_MSI;
    return (uint8_t)(id | (s->fifo_on ? UART_IIR_FIFO : 0));
}

static void update_irq(struct uart *s)
{
    int level = !(iir(s) & UART_IIR_NO_INT) && (s->mcr & UART_MCR_OUT2) &&
                !(s->mcr & UART_MCR_LOOP);
    if (level != s->irq_level) {
        s->irq_level = level;
        irq_set(s->irq, level);
    }
}

/* Four character times at the programmed rate (10 bits a character). */
static int64_t timeout_ns(const struct uart *s)
{
    unsigned div = (unsigned)(s->dlm << 8 | s->dll);
    if (!div)
        div = 65536;
    return 4 * 10 * (int64_t)div * 16 * 1000000000 / UART_CLOCK_HZ;
}

static void restart_timeout(struct uart *s)
{
    s->timeout_pending = false;
    if (s->fifo_on && s->rx_count)
        timer_arm(&s->rx_timer, clock_now_ns(s->clock) + timeout_ns(s));
    else
        timer_cancel(&s->rx_timer);
}

static void timeout_cb(void *opaque)
{
    struct uart *s = opaque;
    s->timeout_pending = s->rx_count > 0;
    update_irq(s);
}

static void receive(struct uart *s, uint8_t b)
{
    if (s->rx_count >= rx_capacity(s)) {
        s->lsr_err |= UART_LSR_OE;
        return;
    }
    s->rx[(s->rx_head + s->rx_count) % FIFO_SIZE] = b;
    s->rx_count++;
    restart_timeout(s);
}

static void clear_rx(struct uart *s)
{
    s->rx_head = s->rx_count = 0;
    restart_timeout(s);
}

/* Modem status inputs: the MCR outputs in loopback, a connected cable otherwise. */
static void update_msr(struct uart *s)
{
    uint8_t in;
    if (s->mcr & UART_MCR_LOOP)
        in = (uint8_t)(((s->mcr & UART_MCR_RTS) ? UART_MSR_CTS : 0) |
                       ((s->mcr & UART_MCR_DTR) ? UART_MSR_DSR : 0) |
                       ((s->mcr & UART_MCR_OUT1) ? UART_MSR_RI : 0) |
                       ((s->mcr & UART_MCR_OUT2) ? UART_MSR_DCD : 0));
    else
        in = UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD;
    uint8_t old = s->msr, changed = old ^ in, delta = 0;
    if (changed & UART_MSR_CTS)
        delta |= UART_MSR_DCTS;
    if (changed & UART_MSR_DSR)
        delta |= UART_MSR_DDSR;
    if ((old & UART_MSR_RI) && !(in & UART_MSR_RI))
        delta |= UART_MSR_TERI;
    if (changed & UART_MSR_DCD)
        delta |= UART_MSR_DDCD;
    s->msr = (uint8_t)(in | (old & 0x0f) | delta);
}

static uint8_t read_rbr(struct uart *s)
{
    if (!s->rx_count)
        return 0;
    uint8_t b = s->rx[s->rx_head];
    s->rx_head = (s->rx_head + 1) % FIFO_SIZE;
    s->rx_count--;
    restart_timeout(s);
    return b;
}

static uint8_t read_lsr(struct uart *s)
{
    uint8_t v = (uint8_t)(s->lsr_err | UART_LSR_THRE | UART_LSR_TEMT | (s->rx_count ? UART_LSR_DR : 0));
    s->lsr_err = 0;
    return v;
}

static uint64_t uart_read(void *opaque, uint64_t offset, unsigned size)
{
    struct uart *s = opaque;
    uint8_t v;
    bool dlab = s->lcr & UART_LCR_DLAB;
    switch (offset) {
    case UART_RBR:
        v = dlab ? s->dll : read_rbr(s);
        break;
    case UART_IER:
        v = dlab ? s->dlm : s->ier;
        break;
    case UART_IIR:
        v = iir(s);
        if ((v & 0x0f) == UART_IIR_THRI)
            s->thre_pending = false; /* reading IIR with THRE as the source clears it */
        break;
    case UART_LCR:
        v = s->lcr;
        break;
    case UART_MCR:
        v = s->mcr;
        break;
    case UART_LSR:
        v = read_lsr(s);
        break;
    case UART_MSR:
        v = s->msr;
        s->msr &= 0xf0;
        break;
    default:
        v = s->scr;
    }
    update_irq(s);
    return v;
}

static void write_thr(struct uart *s, uint8_t v)
{
    if (s->mcr & UART_MCR_LOOP)
        receive(s, v);
    else if (s->chardev)
        chardev_write(s->chardev, &v, 1);
    s->thre_pending = true; /* the byte left at once: THR is empty again */
}

static void write_fcr(struct uart *s, uint8_t v)
{
    static const uint8_t triggers[4] = {1, 4, 8, 14};
    bool on = v & UART_FCR_ENABLE;
    if (on != s->fifo_on) {
        s->fifo_on = on;
        clear_rx(s);
    }
    if (!on)
        return;
    if (v & UART_FCR_CLEAR_RX)
        clear_rx(s);
    s->trigger = triggers[v >> 6];
}

static void uart_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct uart *s = opaque;
    uint8_t v = (uint8_t)value;
    bool dlab = s->lcr & UART_LCR_DLAB;
    switch (offset) {
    case UART_THR:
        if (dlab)
            s->dll = v;
        else
            write_thr(s, v);
        break;
    case UART_IER:
        if (dlab) {
            s->dlm = v;
        } else {
            if ((v & UART_IER_ETBEI) && !(s->ier & UART_IER_ETBEI))
                s->thre_pending = true; /* enabling it with THR empty interrupts */
            s->ier = v & 0x0f;
        }
        break;
    case UART_FCR:
        write_fcr(s, v);
        break;
    case UART_LCR:
        s->lcr = v;
        break;
    case UART_MCR:
        s->mcr = v & 0x1f;
        update_msr(s);
        break;
    case UART_LSR:
    case UART_MSR:
        break; /* read-only (factory test) */
    default:
        s->scr = v;
    }
    update_irq(s);
}

static const struct bus_ops uart_ops = {uart_read, uart_write, 1, 1};

void uart_poll(struct uart *uart)
{
    if (!uart->chardev || (uart->mcr & UART_MCR_LOOP))
        return; /* loopback disconnects the serial input */
    unsigned room = rx_capacity(uart) - uart->rx_count;
    uint8_t buf[FIFO_SIZE];
    if (!room)
        return;
    size_t n = chardev_read(uart->chardev, buf, room);
    for (size_t i = 0; i < n; i++)
        receive(uart, buf[i]);
    if (n) {
        if (trace_on(TRACE_UART))
            trace_printf(TRACE_UART, "0x%x: %zu bytes in\n", uart->base, n);
        update_irq(uart);
    }
}

void uart_reset(struct uart *uart)
{
    uart->ier = uart->lcr = uart->mcr = uart->lsr_err = uart->scr = 0;
    uart->dll = 12; /* 9600 baud */
    uart->dlm = 0;
    uart->fifo_on = false;
    uart->trigger = 1;
    uart->thre_pending = false;
    uart->msr = 0;
    update_msr(uart);
    uart->msr &= 0xf0;
    clear_rx(uart);
    update_irq(uart);
}

struct uart *uart_new(struct bus *bus, struct clock *clock, uint16_t base, struct irq irq,
                      struct chardev *chardev)
{
    struct uart *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->bus = bus;
    s->clock = clock;
    s->base = base;
    s->irq = irq;
    s->chardev = chardev;
    timer_init(&s->rx_timer, clock, timeout_cb, s);
    uart_reset(s);
    if (bus_map_pio(bus, base, 8, &uart_ops, s, "uart") < 0) {
        free(s);
        return NULL;
    }
    return s;
}

void uart_free(struct uart *uart)
{
    if (!uart)
        return;
    timer_cancel(&uart->rx_timer);
    bus_unmap_pio(uart->bus, uart->base);
    free(uart);
}

/* ---- suspend state (devices/state.h), section version 1 ---- */

#define UART_F_FIFO 0x01
#define UART_F_THRE 0x02
#define UART_F_TIMEOUT 0x04
#define UART_F_TIMER 0x08 /* the character timeout is armed; its deadline follows */
#define UART_F_ALL 0x0f
#define UART_DEADLINE_MAX (INT64_C(1) << 50)

int uart_save(struct uart *uart, struct state_writer *w)
{
    const uint8_t regs[] = {uart->ier, uart->lcr, uart->mcr, uart->lsr_err, uart->msr,
                            uart->scr, uart->dll, uart->dlm, uart->trigger};
    bool armed = timer_armed(&uart->rx_timer);
    state_put_bytes(w, regs, sizeof regs);
    state_put_u8(w, (uint8_t)((uart->fifo_on ? UART_F_FIFO : 0) |
                              (uart->thre_pending ? UART_F_THRE : 0) |
                              (uart->timeout_pending ? UART_F_TIMEOUT : 0) |
                              (armed ? UART_F_TIMER : 0)));
    state_put_i64(w, armed ? uart->rx_timer.when - clock_now_ns(uart->clock) : 0);
    state_put_u8(w, uart->rx_count);
    for (unsigned i = 0; i < uart->rx_count; i++)
        state_put_u8(w, uart->rx[(uart->rx_head + i) % FIFO_SIZE]);
    return 0;
}

int uart_load(struct uart *uart, struct state_reader *r, struct error *err)
{
    uint8_t regs[9], flags, count, rx[FIFO_SIZE];
    int64_t deadline;
    state_get_bytes(r, regs, sizeof regs);
    state_get_u8(r, &flags);
    state_get_i64(r, &deadline);
    if (state_get_u8(r, &count) < 0 || count > FIFO_SIZE || state_get_bytes(r, rx, count) < 0)
        return error_set(err, EX_DATAERR, "truncated or a receive FIFO over %d bytes", FIFO_SIZE);
    if ((flags & ~UART_F_ALL) || (regs[0] & 0xf0) || (regs[2] & 0xe0) || (regs[8] != 1 && regs[8] != 4 && regs[8] != 8 && regs[8] != 14) ||
        (!(flags & UART_F_FIFO) && count > 1) || deadline < -UART_DEADLINE_MAX ||
        deadline > UART_DEADLINE_MAX)
        return error_set(err, EX_DATAERR, "a register out of range");
    uart->ier = regs[0];
    uart->lcr = regs[1];
    uart->mcr = regs[2];
    uart->lsr_err = regs[3];
    uart->msr = regs[4];
    uart->scr = regs[5];
    uart->dll = regs[6];
    uart->dlm = regs[7];
    uart->trigger = regs[8];
    uart->fifo_on = flags & UART_F_FIFO;
    uart->thre_pending = flags & UART_F_THRE;
    uart->timeout_pending = flags & UART_F_TIMEOUT;
    uart->rx_head = 0;
    uart->rx_count = count;
    memcpy(uart->rx, rx, count);
    if (flags & UART_F_TIMER)
        timer_arm(&uart->rx_timer, clock_now_ns(uart->clock) + deadline);
    else
        timer_cancel(&uart->rx_timer);
    update_irq(uart);
    return 0;
}
