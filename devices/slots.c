/*
 * The PCI slot plan (see devices/slots.h).
 */
#include "devices/slots.h"

#include <stdbool.h>
#include <string.h>

struct slot_entry {
    char name[16];
    bool present;
    int requested; /* pciSlotNumber, -1 when absent */
    int dflt;
    int *out;
};

static size_t plan_entries(const struct vm_config *cfg, struct pc_slots *s, struct slot_entry *e)
{
    size_t n = 0;
    for (int i = 0; i < VM_MAX_NICS; i++, n++) {
        e[n] = (struct slot_entry){.present = cfg->nic[i].present, .requested = cfg->nic[i].pci_slot,
                                   .dflt = 3 + i, .out = &s->nic[i]};
        snprintf(e[n].name, sizeof e[n].name, "ethernet%d", i);
    }
    for (int i = 0; i < VM_MAX_SCSI; i++, n++) {
        e[n] = (struct slot_entry){.present = cfg->scsi_present[i], .requested = cfg->scsi_pci_slot[i],
                                   .dflt = 0x10 + i, .out = &s->scsi[i]};
        snprintf(e[n].name, sizeof e[n].name, "scsi%d", i);
    }
    for (int i = 0; i < VM_MAX_SATA; i++, n++) {
        e[n] = (struct slot_entry){.present = cfg->sata_present[i], .requested = cfg->sata_pci_slot[i],
                                   .dflt = 0x14 + i, .out = &s->sata[i]};
        snprintf(e[n].name, sizeof e[n].name, "sata%d", i);
    }
    for (int i = 0; i < VM_MAX_NVME; i++, n++) {
        e[n] = (struct slot_entry){.present = cfg->nvme_present[i], .requested = cfg->nvme_pci_slot[i],
                                   .dflt = 0x18 + i, .out = &s->nvme[i]};
        snprintf(e[n].name, sizeof e[n].name, "nvme%d", i);
    }
    return n;
}

void pc_slots_plan(const struct vm_config *cfg, struct pc_slots *s, FILE *log)
{
    struct slot_entry e[VM_MAX_NICS + VM_MAX_SCSI + VM_MAX_SATA + VM_MAX_NVME];
    const char *owner[SLOT_COUNT] = {"the host bridge", "the PIIX", "the VGA"};
    bool placed[sizeof e / sizeof e[0]] = {false};
    size_t n = plan_entries(cfg, s, e);
    /* First the numbers the .vmx gives for bus 0, in the order of the devices. */
    for (size_t i = 0; i < n; i++) {
        *e[i].out = e[i].dflt;
        int want = e[i].requested;
        if (!e[i].present || want < 0 || want >= SLOT_COUNT)
            continue;
        if (owner[want]) {
            if (log)
                fprintf(log, "vmplay: %s.pciSlotNumber = %d: slot %02x is %s's; %s keeps its "
                        "default slot\n", e[i].name, want, want, owner[want], e[i].name);
            continue;
        }
        owner[want] = e[i].name;
        *e[i].out = want;
        placed[i] = true;
    }
    /* Then the defaults, moved to the first free slot when a followed number took one. */
    for (size_t i = 0; i < n; i++) {
        if (!e[i].present || placed[i])
            continue;
        int slot = e[i].dflt;
        if (owner[slot]) {
            for (slot = SLOT_FIRST_FREE; slot < SLOT_COUNT && owner[slot]; slot++)
                ;
            if (log)
                fprintf(log, "vmplay: %s: its default slot %02x is %s's; %s is at slot %02x\n",
                        e[i].name, e[i].dflt, owner[e[i].dflt], e[i].name, slot);
        }
        if (slot >= SLOT_COUNT) /* cannot happen: 22 devices, 29 free slots */
            slot = e[i].dflt;
        owner[slot] = e[i].name;
        *e[i].out = slot;
    }
}
