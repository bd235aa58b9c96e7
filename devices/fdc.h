/*
 * Intel 82077AA floppy disk controller at 0x3F0-0x3F5 and 0x3F7 (0x3F6 is
 * the IDE alternate status), IRQ 6, DMA channel 2, two drives of 3.5"
 * 1.44 MB geometry on images of 360K, 720K, 1.2M, 1.44M or 2.88M.
 */
#ifndef VMPLAY_FDC_H
#define VMPLAY_FDC_H

#include "devices/bus.h"
#include "devices/dma8237.h"
#include "devices/irq.h"
#include "formats/blockdev.h"

struct fdc;

struct fdc *fdc_new(struct bus *bus, struct irq irq6, struct dma8237 *dma);
void fdc_free(struct fdc *s);
void fdc_reset(struct fdc *s);
/* Inserts bd (NULL: ejects) in drive 0 or 1; the disk-change line is set. The caller owns bd. */
void fdc_insert(struct fdc *s, int drive, struct blockdev *bd);

#endif
