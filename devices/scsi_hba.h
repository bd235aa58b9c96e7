/*
 * The board's SCSI controllers: one per present scsiN, its model from the
 * .vmx (scsiN.virtualDev, or the disks' ddb.adapterType), its disks on
 * target M LUN 0 for scsiN:M. Each model is one row of a table keyed by
 * enum vm_scsi_dev (devices/scsi_hba.c): a controller file provides create,
 * reset and free, this file does the rest (the LUNs, the CD-ROM or disk
 * kind, the PCI slot).
 */
#ifndef VMPLAY_SCSI_HBA_H
#define VMPLAY_SCSI_HBA_H

#include "devices/bus.h"
#include "devices/pci.h"
#include "devices/scsi.h"
#include "formats/config.h"

/* A controller model: what one row of the table gives. */
struct scsi_hba_model {
    enum vm_scsi_dev dev;
    const char *name;
    /* Registers the controller at devfn over the LUNs of sbus; NULL when it cannot. */
    void *(*create)(struct bus *bus, struct pci_bus *pci, int devfn, struct scsi_bus *sbus);
    void (*reset)(void *hw);
    void (*free)(void *hw);
};

struct scsi_hba {
    const struct scsi_hba_model *model;
    void *hw;
    struct scsi_bus sbus;
};

/* The row for dev, or NULL when vmplay has no such controller. */
const struct scsi_hba_model *scsi_hba_model(enum vm_scsi_dev dev);
/* The default PCI slot of scsiN: 16 + N, function 0 (devices/slots.c places it). */
#define SCSI_HBA_DEVFN(n) ((16 + (n)) << 3)

/* Controller n of model dev (EX_UNAVAILABLE when there is no row for it). */
struct scsi_hba *scsi_hba_new(enum vm_scsi_dev dev, int n, int devfn, struct bus *bus, struct pci_bus *pci,
                              struct error *err);
/* scsiN:M: target M, LUN 0; bd NULL is a CD drive with no medium. The caller keeps bd. */
int scsi_hba_attach(struct scsi_hba *h, int target, enum scsi_kind kind, struct blockdev *bd,
                    struct error *err);
void scsi_hba_reset(struct scsi_hba *h);
void scsi_hba_free(struct scsi_hba *h);

#endif
