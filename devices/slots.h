/*
 * The board's PCI slot plan: which device number on bus 0 each controller and
 * NIC takes, decided from the .vmx alone so the board (pc.c) and the SeaBIOS
 * boot order (firmware.c) name the same slots.
 *
 * Defaults: ethernetN 03+N, scsiN 10h+N, sataN 14h+N, nvmeN 18h+N. A
 * <dev>.pciSlotNumber below 32 is VMware's device number on bus 0 and is
 * followed (VMware's scsi0 sits at 16 = 10h, as here); 32 and above name a
 * slot behind one of VMware's PCI bridges or PCIe root ports (32-63
 * pciBridge0, 160, 192, 224, 1184... the PCIe ports), which this board does
 * not have: those keep the default silently. A number below 32 that cannot
 * be followed (0-2, the chipset and VGA; or a slot another device already
 * asked for) keeps the default with one warning line; a default taken by a
 * followed number moves to the first free slot from 03h up.
 */
#ifndef VMPLAY_SLOTS_H
#define VMPLAY_SLOTS_H

#include <stdio.h>

#include "formats/config.h"

#define SLOT_FIRST_FREE 3 /* 00 host bridge, 01 PIIX, 02 VGA */
#define SLOT_COUNT 32

struct pc_slots {
    int nic[VM_MAX_NICS], scsi[VM_MAX_SCSI], sata[VM_MAX_SATA], nvme[VM_MAX_NVME];
};

/* The plan for cfg; warnings (one line each) to log when log is not NULL. */
void pc_slots_plan(const struct vm_config *cfg, struct pc_slots *s, FILE *log);

#endif
