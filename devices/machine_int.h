/*
 * The machine's insides, shared by the wiring (pc.c) and the loop
 * (machine.c). Nothing outside devices/ includes this.
 */
#ifndef VMPLAY_MACHINE_INT_H
#define VMPLAY_MACHINE_INT_H

#include <poll.h>
#include <stdatomic.h>

#include "devices/clock.h"
#include "devices/device.h"
#include "devices/firmware.h"
#include "devices/pc.h"
#include "devices/slots.h"
#include "formats/blockdev.h"
#include "formats/config.h"

#define MACHINE_MAX_POLL 8
/* Every slot a .vmx can name: ide 2x2, scsiN:0-15 (7 is the HBA's), sataN:0-29, nvmeN:0-14, two
 * floppies. */
#define MACHINE_MAX_DISKS (4 + VM_MAX_SCSI * 16 + VM_MAX_SATA * 30 + VM_MAX_NVME * 15 + VM_MAX_FLOPPIES)
#define MACHINE_SERIALS 4
#define MACHINE_MAX_SOURCES 4

struct machine {
    struct machine_opts o;
    const struct vm_config *cfg;
    struct pc_slots slots; /* the PCI slot plan (devices/slots.h) */
    struct device_list devices; /* every registered device, in creation order (device.h) */
    struct bus *bus;
    struct clock *clock;
    struct cpu *cpu;
    struct firmware fw;
    uint8_t *ram;
    uint64_t ram_size, below_4g, above_4g;
    uint8_t *isa_rom; /* 0xC0000-0xFFFFF as the ROMs read */

    struct pci_bus *pci;
    struct i440fx *northbridge;
    struct piix3 *southbridge;
    struct piix4pm *pm;
    struct ide *ide;
    struct ahci *sata[VM_MAX_SATA];
    struct nvme *nvme[VM_MAX_NVME];
    struct scsi_hba *scsi[VM_MAX_SCSI]; /* present scsiN with an emulated model */
    struct dma8237 *dma;
    struct fdc *fdc;
    struct vga *vga;
    struct pic *pic;
    struct pit *pit;
    struct rtc *rtc;
    struct i8042 *kbc;
    struct vmport *vmport;    /* the VMware backdoor (devices/vmport.c); NULL when restricted */
    struct apic *apic;
    struct ioapic *ioapic;
    struct fwcfg *fwcfg;
    struct pflash *pflash; /* OVMF's variable store; NULL with SeaBIOS */
    struct port92 *port92;
    struct postcode *postcode;
    struct debugcon *debugcon_e9, *debugcon_402;
    struct debugexit *debugexit;
    struct uart *uart[MACHINE_SERIALS];
    struct chardev *serial[MACHINE_SERIALS];
    struct chardev *debugcon;
    struct blockdev *disks[MACHINE_MAX_DISKS];
    const char *disk_slot[MACHINE_MAX_DISKS]; /* "ide0:1", "floppy0": for the player's lines */
    const char *disk_path[MACHINE_MAX_DISKS];
    bool disk_error_told[MACHINE_MAX_DISKS];  /* a failed guest write has been reported */
    int ndisks;
    struct e1000 *nic[VM_MAX_NICS];
    struct pcnet *pcnet[VM_MAX_NICS]; /* ethernetN.virtualDev = "vlance" */
    struct vmxnet3 *vmxnet3[VM_MAX_NICS];
    struct net_group net;     /* the NICs' back ends, one host event source */

    struct display *display;
    struct input_queue *input;
    struct timer timeout_timer;
    int64_t timeout_wall_ns;   /* host time at which --timeout ends any run (0: none) */
    int wake_fd;
    _Atomic unsigned requests; /* bit per enum machine_request */
    const char *_Atomic request_who; /* machine_request_from's who, for the log */
    bool timed_out;            /* --timeout ended the run */
    bool poweroff_pending;     /* the guest (S5), --timeout */
    bool debug_exit_pending;
    int debug_exit_status;

    struct machine_source sources[MACHINE_MAX_SOURCES];
    bool source_ready[MACHINE_MAX_SOURCES];
    int nsources;
    bool paused;
    unsigned resets;          /* machine_reset calls, power-on included */
    int64_t started_host_ns;  /* machine_run's start (clock_host_ns) */
};

/* pc.c */
void machine_reset(struct machine *m);
/* --timeout is over: power off; wall says it ran out in host time before guest time. */
void machine_timeout(struct machine *m, bool wall);
/* Who heard the power button: nobody (a power-off is pending), the guest's ACPI,
 * or its VMware tools (asked for OS_Halt, as VMware's "Shut Down Guest"). */
enum button_heard { BUTTON_UNHEARD, BUTTON_ACPI, BUTTON_TOOLS };
enum button_heard machine_press_power_button(struct machine *m);
/* Serial input and the front end's events, delivered to the devices. */
void machine_service_host(struct machine *m);
/* Host fds the idle loop waits on besides the wake fd; returns how many were filled. */
int machine_poll_fds(struct machine *m, struct pollfd *fds, int max);

/* machine.c */
void machine_wake(struct machine *m);
int machine_wake_fd_new(void);

#endif
