/*
 * VMware PVSCSI (PCI 15ad:07c0), the paravirtual SCSI controller: a 32 KiB
 * register BAR, a command/data register pair for setup, and request,
 * completion and message rings in guest memory. Commands run to completion
 * on the kick that finds them (devices/scsi.h); interrupts are INTx only.
 */
#ifndef VMPLAY_PVSCSI_H
#define VMPLAY_PVSCSI_H

#include "devices/bus.h"
#include "devices/pci.h"
#include "devices/scsi.h"

struct pvscsi;

/* Registers at devfn with the LUNs of sbus (the caller's; it outlives the controller).
 * NULL when devfn is taken. Free it before pci_bus_free and bus_free. */
struct pvscsi *pvscsi_new(struct bus *bus, struct pci_bus *pci, int devfn, struct scsi_bus *sbus);
void pvscsi_free(struct pvscsi *s);
/* Machine reset: the adapter as at power-on, no rings, interrupts masked. */
void pvscsi_reset(struct pvscsi *s);

/* Register offsets in BAR0 (Linux's vmw_pvscsi.h names). */
#define PVSCSI_REG_COMMAND 0x0
#define PVSCSI_REG_COMMAND_DATA 0x4
#define PVSCSI_REG_COMMAND_STATUS 0x8
#define PVSCSI_REG_LAST_STS_0 0x100
#define PVSCSI_REG_INTR_STATUS 0x100c
#define PVSCSI_REG_INTR_MASK 0x2010
#define PVSCSI_REG_KICK_NON_RW_IO 0x3014
#define PVSCSI_REG_DEBUG 0x3018
#define PVSCSI_REG_KICK_RW_IO 0x4018
#define PVSCSI_MEM_SIZE 0x8000

enum pvscsi_cmd {
    PVSCSI_CMD_ADAPTER_RESET = 1,
    PVSCSI_CMD_ISSUE_SCSI = 2,
    PVSCSI_CMD_SETUP_RINGS = 3,
    PVSCSI_CMD_RESET_BUS = 4,
    PVSCSI_CMD_RESET_DEVICE = 5,
    PVSCSI_CMD_ABORT_CMD = 6,
    PVSCSI_CMD_CONFIG = 7,
    PVSCSI_CMD_SETUP_MSG_RING = 8,
    PVSCSI_CMD_DEVICE_UNPLUG = 9,
    PVSCSI_CMD_SETUP_REQCALLTHRESHOLD = 10,
};

#define PVSCSI_INTR_CMPL_MASK 0x3
#define PVSCSI_INTR_MSG_MASK 0xc

#define PVSCSI_FLAG_CMD_WITH_SG_LIST (1u << 0)
#define PVSCSI_FLAG_CMD_OUT_OF_BAND_CDB (1u << 1)
#define PVSCSI_FLAG_CMD_DIR_NONE (1u << 2)
#define PVSCSI_FLAG_CMD_DIR_TOHOST (1u << 3)
#define PVSCSI_FLAG_CMD_DIR_TODEVICE (1u << 4)
#define PVSCSI_SGE_FLAG_CHAIN_ELEMENT (1u << 0)

#define PVSCSI_MAX_RING_PAGES 32
#define PVSCSI_MAX_MSG_RING_PAGES 16
#define PVSCSI_REQ_DESC_SIZE 128
#define PVSCSI_CMP_DESC_SIZE 32
#define PVSCSI_MSG_DESC_SIZE 128

/* Host adapter status in a completion (BusLogic's BTSTAT codes). */
#define BTSTAT_SUCCESS 0x00
#define BTSTAT_SELTIMEO 0x11
#define BTSTAT_DATARUN 0x12
#define BTSTAT_INVPARAM 0x1a
#define BTSTAT_SENSFAILED 0x1b
#define BTSTAT_HAHARDWARE 0x20

#define PVSCSI_CONFIG_PAGE_CONTROLLER 0x1958
#define PVSCSI_CONFIG_CONTROLLER_ADDRESS 0x2120

#endif
