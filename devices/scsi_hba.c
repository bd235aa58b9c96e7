/*
 * The SCSI controller table and the generic wiring behind it (see
 * devices/scsi_hba.h). A new controller is one row here.
 */
#include "devices/scsi_hba.h"

#include <stdlib.h>

#include "devices/lsi_mpt.h"
#include "devices/pvscsi.h"

static void *pvscsi_create(struct bus *bus, struct pci_bus *pci, int devfn, struct scsi_bus *sbus)
{
    return pvscsi_new(bus, pci, devfn, sbus);
}

static void pvscsi_reset_hw(void *hw)
{
    pvscsi_reset(hw);
}

static void pvscsi_free_hw(void *hw)
{
    pvscsi_free(hw);
}

static const struct scsi_hba_model models[] = {
    {VM_SCSI_PVSCSI, "pvscsi", pvscsi_create, pvscsi_reset_hw, pvscsi_free_hw},
    {VM_SCSI_LSILOGIC, "lsilogic", mpt_create_lsilogic, mpt_reset_hw, mpt_free_hw},
    {VM_SCSI_LSISAS1068, "lsisas1068", mpt_create_lsisas1068, mpt_reset_hw, mpt_free_hw},
};

const struct scsi_hba_model *scsi_hba_model(enum vm_scsi_dev dev)
{
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
        if (models[i].dev == dev)
            return &models[i];
    return NULL;
}

struct scsi_hba *scsi_hba_new(enum vm_scsi_dev dev, int n, int devfn, struct bus *bus, struct pci_bus *pci,
                              struct error *err)
{
    const struct scsi_hba_model *m = scsi_hba_model(dev);
    if (!m) {
        error_set(err, EX_UNAVAILABLE, "scsi%d: the %s controller is not emulated", n,
                  config_scsi_dev_name(dev));
        return NULL;
    }
    struct scsi_hba *h = calloc(1, sizeof(*h));
    if (!h) {
        error_set(err, EX_OSERR, "out of memory");
        return NULL;
    }
    h->model = m;
    h->hw = m->create(bus, pci, devfn, &h->sbus);
    if (!h->hw) {
        free(h);
        error_set(err, EX_SOFTWARE, "scsi%d: cannot build the %s controller", n, m->name);
        return NULL;
    }
    return h;
}

int scsi_hba_attach(struct scsi_hba *h, int target, enum scsi_kind kind, struct blockdev *bd,
                    struct error *err)
{
    struct scsi_dev *d = scsi_dev_new(kind, bd, NULL);
    if (!d)
        return error_set(err, EX_OSERR, "out of memory");
    if (scsi_bus_attach(&h->sbus, (unsigned)target, 0, d, err) < 0) {
        scsi_dev_free(d);
        return -1;
    }
    return 0;
}

void scsi_hba_reset(struct scsi_hba *h)
{
    if (h)
        h->model->reset(h->hw);
}

void scsi_hba_free(struct scsi_hba *h)
{
    if (!h)
        return;
    h->model->free(h->hw);
    scsi_bus_free(&h->sbus);
    free(h);
}
