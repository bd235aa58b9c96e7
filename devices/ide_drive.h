/*
 * Internal to the IDE model (ide.c): the channel, the transport of the ATA
 * device core (devices/ata_dev.h) over the task file and the bus master. Not
 * a contract: other devices use devices/ide.h.
 */
#ifndef VMPLAY_IDE_DRIVE_H
#define VMPLAY_IDE_DRIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/ata_dev.h"
#include "devices/ide.h"

struct ide_channel {
    struct ide *ide;
    int index;
    struct ata_dev drive[2];
    int cur; /* selected drive (device/head bit 4) */
    uint8_t ctrl; /* device control: nIEN bit 1, SRST bit 2, HOB bit 7 */
    struct irq irq;
    bool irq_pending, irq_level;
    /* Bus master IDE registers (BAR4 + 8 * channel) */
    uint8_t bm_cmd, bm_status;
    uint32_t bm_prd;
    /* The PRD walk of the running transfer: next entry, and what is left of the current one. */
    uint32_t prd_next, prd_addr, prd_left;
    bool prd_eot;
};

#endif
