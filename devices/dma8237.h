/*
 * The PC's two Intel 8237A DMA controllers: channels 0-3 (8-bit, ports
 * 0x00-0x0F), channels 4-7 (16-bit, ports 0xC0-0xDF, channel 4 the cascade)
 * and the 74LS612 page registers (0x81-0x8F; 0x80 stays the POST port).
 * Single, block and demand modes are all served the same way: an ISA device
 * moves its bytes with dma8237_transfer when it is ready, and the channel's
 * address and count advance, TC set when the count runs out.
 */
#ifndef VMPLAY_DMA8237_H
#define VMPLAY_DMA8237_H

#include <stdbool.h>
#include <stddef.h>

#include "devices/bus.h"

struct dma8237;

struct dma8237 *dma8237_new(struct bus *bus);
void dma8237_free(struct dma8237 *d);
void dma8237_reset(struct dma8237 *d);
/*
 * Moves up to len bytes between buf and guest memory on channel ch (0..7):
 * to_memory is a device-to-memory ("write") transfer. The channel must be
 * unmasked and programmed for that direction. Returns the bytes moved (0 when
 * the channel is masked, of the other direction, or its memory is not RAM);
 * *tc, when not NULL, tells whether the terminal count was reached.
 */
size_t dma8237_transfer(struct dma8237 *d, int ch, void *buf, size_t len, bool to_memory, bool *tc);

#endif
