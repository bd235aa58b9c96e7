/*
 * National Semiconductor 16550A UART, the PC's COM ports (0x3F8 IRQ4,
 * 0x2F8 IRQ3, 0x3E8, 0x2E8), on a character back end (chardev.h).
 * Transmission is immediate (no baud-rate pacing); input is pulled from
 * the back end by uart_poll, which the machine thread calls.
 */
#ifndef VMPLAY_UART_H
#define VMPLAY_UART_H

#include <stdint.h>

#include "devices/bus.h"
#include "devices/chardev.h"
#include "devices/clock.h"
#include "devices/irq.h"

struct uart;

/* Maps base..base+7. chardev may be NULL (no cable). The uart does not own chardev. */
struct uart *uart_new(struct bus *bus, struct clock *clock, uint16_t base, struct irq irq,
                      struct chardev *chardev);
void uart_free(struct uart *uart);
void uart_reset(struct uart *uart);
/* Suspend state (devices/state.h): registers, the receive FIFO, the timeout's deadline. */
struct state_writer;
struct state_reader;
struct error;
int uart_save(struct uart *uart, struct state_writer *w);
int uart_load(struct uart *uart, struct state_reader *r, struct error *err);

/*
 * Moves waiting input from the back end into the receive FIFO, as much as
 * fits (the rest stays in the back end). Call it from the machine loop after
 * each cpu_run and when chardev_fd() becomes readable.
 */
void uart_poll(struct uart *uart);

#endif
