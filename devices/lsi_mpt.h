/*
 * LSI Logic Fusion-MPT SCSI controllers (MPI 1.x message interface), one model
 * with two personalities: the LSI53C1030 Ultra320 SPI controller VMware calls
 * "lsilogic" (PCI 1000:0030, Linux mptspi) and the SAS1068 VMware calls
 * "lsisas1068" (PCI 1000:0054, Linux mptsas). Both carry subsystem 15ad:1976,
 * class 010000, the register file in I/O BAR0 and again in memory BAR1.
 * The targets are the controller's SCSI bus (devices/scsi.h).
 */
#ifndef VMPLAY_LSI_MPT_H
#define VMPLAY_LSI_MPT_H

#include "devices/pci.h"
#include "devices/scsi.h"
#include "formats/error.h"

enum mpt_model { MPT_LSI53C1030, MPT_SAS1068 };

#define MPT_VENDOR 0x1000
#define MPT_DEVICE_53C1030 0x0030
#define MPT_DEVICE_SAS1068 0x0054
#define MPT_SUBSYS_VENDOR 0x15ad
#define MPT_SUBSYS_ID 0x1976
#define MPT_CLASS 0x010000

/* Register offsets (both BARs). */
#define MPT_REG_DOORBELL 0x00
#define MPT_REG_WRITE_SEQUENCE 0x04
#define MPT_REG_HOST_DIAGNOSTIC 0x08
#define MPT_REG_TEST_BASE 0x0c
#define MPT_REG_DIAG_RW_DATA 0x10
#define MPT_REG_DIAG_RW_ADDRESS 0x14
#define MPT_REG_HOST_INT_STATUS 0x30
#define MPT_REG_HOST_INT_MASK 0x34
#define MPT_REG_REQUEST_QUEUE 0x40
#define MPT_REG_REPLY_QUEUE 0x44
#define MPT_REG_HI_PRI_QUEUE 0x48

#define MPT_IO_SIZE 256
#define MPT_MMIO_SIZE 0x4000

struct mpt;

/* A controller at devfn whose targets are *targets (not owned; it must outlive the controller). */
struct mpt *mpt_new(struct pci_bus *pb, int devfn, enum mpt_model model, struct scsi_bus *targets,
                    struct error *err);
void mpt_reset(struct mpt *s);
void mpt_free(struct mpt *s);
struct pci_device *mpt_pci(struct mpt *s);

/* The rows of the board's controller table (devices/scsi_hba.h). */
void *mpt_create_lsilogic(struct bus *bus, struct pci_bus *pb, int devfn, struct scsi_bus *targets);
void *mpt_create_lsisas1068(struct bus *bus, struct pci_bus *pb, int devfn, struct scsi_bus *targets);
void mpt_reset_hw(void *hw);
void mpt_free_hw(void *hw);

#endif
