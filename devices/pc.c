/*
 * The board: wires a PC like QEMU's i440FX "pc" machine from a struct
 * vm_config, so SeaBIOS finds what it expects. Thin on purpose: every chip
 * lives in its own file; this one allocates RAM, loads the firmware, creates
 * the chips, connects their interrupt lines and requests, attaches the disks
 * and resets the lot.
 *
 *   00.0 i440FX host bridge (PAM shadowing of 0xC0000-0xFFFFF)
 *   01.0 PIIX3 ISA bridge (PIRQ routing, 0xCF9 reset)   01.1 PIIX3 IDE
 *   01.3 PIIX4 power management (ACPI, SCI on IRQ 9)     02.0 VGA (stdvga + VGA BIOS ROM)
 *   03.0-0c.0 NICs ethernet0-9   10.0-13.0 SCSI scsi0-3   14.0-17.0 AHCI sata0-3
 *   18.0-1b.0 NVMe nvme0-3: the defaults of devices/slots.c, which also follows the
 *   .vmx's pciSlotNumber where it names a device number on bus 0
 *   ISA: 8259 pair, 8254, MC146818, i8042, 16550A x4, fw_cfg, debug ports
 *   local APIC 0xFEE00000 (LINT0 = ExtINT from the 8259), IOAPIC 0xFEC00000
 */
#include "devices/machine_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "devices/ahci.h"
#include "devices/apic.h"
#include "devices/chardev.h"
#include "devices/e1000.h"
#include "devices/netrom.h"
#include "devices/pcnet.h"
#include "devices/vmxnet3.h"
#include "devices/dma8237.h"
#include "devices/fdc.h"
#include "devices/fwcfg.h"
#include "devices/acpi_tables.h"
#include "devices/i440fx.h"
#include "devices/i8042.h"
#include "devices/ide.h"
#include "devices/ioapic.h"
#include "devices/nvme.h"
#include "devices/pc_devices.h"
#include "devices/pci.h"
#include "devices/pic.h"
#include "devices/piix3.h"
#include "devices/pflash.h"
#include "devices/piix4pm.h"
#include "devices/linuxboot.h"
#include "devices/multiboot.h"
#include "devices/misc.h"
#include "devices/pit.h"
#include "devices/ps2.h"
#include "devices/rtc.h"
#include "devices/scsi_hba.h"
#include "devices/trace.h"
#include "devices/uart.h"
#include "devices/vga.h"
#include "devices/svga.h"
#include "devices/vmport.h"

#define PCI_HOLE_START 0xE0000000ull /* RAM above this goes above 4 GiB (QEMU's pc) */
#define BIOS_HIGH(size) (0x100000000ull - (size))
#define DEVFN(slot, fn) (((slot) << 3) | (fn))
#define NS_PER_INSN 4 /* deterministic mode: 250 million virtual instructions per second */

static const uint16_t uart_base[MACHINE_SERIALS] = {0x3f8, 0x2f8, 0x3e8, 0x2e8};
static const int uart_irq[MACHINE_SERIALS] = {4, 3, 4, 3};

/* ---- interrupt wiring ---- */

/* An ISA IRQ goes to the 8259 input and to the IOAPIC pin (IRQ 0 on pin 2, as on QEMU's pc). */
static void isa_irq_set(void *opaque, int n, int level)
{
    struct machine *m = opaque;
    pic_set_irq(m->pic, n, level);
    ioapic_set_irq(m->ioapic, n == 0 ? 2 : n, level);
}

static struct irq isa_irq(struct machine *m, int n)
{
    return irq_make(isa_irq_set, m, n);
}

static void cpu_intr_set(void *opaque, int n, int level)
{
    struct machine *m = opaque;
    cpu_set_intr(m->cpu, level);
}

static void cpu_nmi_set(void *opaque, int n, int level)
{
    struct machine *m = opaque;
    if (level)
        cpu_nmi(m->cpu);
}

static void cpu_apic_base(void *opaque, uint64_t msr)
{
    struct machine *m = opaque;
    apic_set_base(m->apic, msr);
}

static int cpu_intr_ack(void *opaque)
{
    struct machine *m = opaque;
    return apic_intr_ack(m->apic);
}

static void a20_set(void *opaque, int n, int level)
{
    struct machine *m = opaque;
    cpu_set_a20(m->cpu, level != 0);
}

static void reset_req(void *opaque, int n, int level)
{
    struct machine *m = opaque;
    if (level)
        machine_request(m, MACHINE_RESET);
}

static void poweroff_req(void *opaque, int n, int level)
{
    struct machine *m = opaque;
    if (level) {
        m->poweroff_pending = true;
        cpu_request_stop(m->cpu);
    }
}

/* isa-debug-exit: the port device passes the status as the level. */
static void debug_exit_req(void *opaque, int n, int status)
{
    struct machine *m = opaque;
    m->debug_exit_pending = true;
    m->debug_exit_status = status;
    cpu_request_stop(m->cpu);
}

void machine_timeout(struct machine *m, bool wall)
{
    if (m->o.log && wall)
        fprintf(m->o.log, "vmplay: --timeout: powering the guest off after %g s of host time "
                "(guest time %.3f s)\n", m->o.timeout_s, clock_now_ns(m->clock) / 1e9);
    else if (m->o.log)
        fprintf(m->o.log, "vmplay: --timeout: powering the guest off after %g s\n", m->o.timeout_s);
    m->o.restart_on_poweroff = false;
    m->poweroff_pending = true;
    m->timed_out = true;
    m->timeout_wall_ns = 0;
    timer_cancel(&m->timeout_timer);
}

static void timeout_fire(void *opaque)
{
    machine_timeout(opaque, false);
}

static void trace_bus(void *opaque, bool is_pio, bool write, uint64_t addr, uint64_t value,
                      unsigned size, const char *name)
{
    trace_printf(TRACE_IO, "%s %s %0*llx %s %0*llx (%s)", is_pio ? "port" : "mmio",
                 write ? "write" : "read", is_pio ? 4 : 8, (unsigned long long)addr,
                 write ? "<-" : "->", (int)size * 2, (unsigned long long)value, name ? name : "unmapped");
}

/* ---- memory and firmware ---- */

static int map_memory(struct machine *m, struct error *err)
{
    m->ram_size = m->cfg->memsize_mib << 20;
    m->below_4g = m->ram_size < PCI_HOLE_START ? m->ram_size : PCI_HOLE_START;
    m->above_4g = m->ram_size - m->below_4g;
    m->ram = mmap(NULL, m->ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                  -1, 0);
    if (m->ram == MAP_FAILED) {
        m->ram = NULL;
        return error_set(err, EX_OSERR, "cannot allocate %llu MiB of guest memory",
                         (unsigned long long)m->cfg->memsize_mib);
    }
    if (m->ram_size < (2u << 20))
        return error_set(err, EX_DATAERR, "memsize %llu: a PC needs at least 2 MiB",
                         (unsigned long long)m->cfg->memsize_mib);
    int rc = bus_map_ram(m->bus, 0, 0xA0000, m->ram, false, "ram-low");
    rc |= bus_map_ram(m->bus, 0x100000, m->below_4g - 0x100000, m->ram + 0x100000, false, "ram");
    if (m->above_4g)
        rc |= bus_map_ram(m->bus, 0x100000000ull, m->above_4g, m->ram + m->below_4g, false, "ram-high");
    size_t bs = m->fw.bios_size;
    rc |= bus_map_ram(m->bus, BIOS_HIGH(bs), bs, m->fw.bios, true, "bios");
    /* What 0xC0000-0xFFFFF shows while unshadowed: the top of the BIOS image. */
    m->isa_rom = calloc(1, I440FX_ISA_ROM_SIZE);
    if (!m->isa_rom)
        return error_set(err, EX_OSERR, "out of memory");
    size_t low = bs < 0x20000 ? bs : 0x20000;
    memcpy(m->isa_rom + I440FX_ISA_ROM_SIZE - low, m->fw.bios + bs - low, low);
    return rc ? error_set(err, EX_SOFTWARE, "memory map overlaps") : 0;
}

/* firmware = "efi" (without --bios): OVMF; else SeaBIOS or the --bios ROM. */
static int load_firmware(struct machine *m, struct error *err)
{
    if (m->cfg->firmware == VM_FW_EFI && !m->o.bios)
        return firmware_load_efi(m->o.firmware_dir, &m->fw, err);
    return firmware_load(m->o.firmware_dir, m->o.bios, &m->fw, err);
}

/* OVMF's variable store: a CFI flash right below the code ROM, kept in the VM's own file. */
static int make_pflash(struct machine *m, struct error *err)
{
    if (!m->fw.efi)
        return 0;
    char *path = firmware_efi_store_path(m->cfg);
    uint8_t *vars = NULL;
    if (!path || pflash_store_open(path, m->fw.vars, m->fw.vars_size, &vars, err) < 0) {
        free(path);
        return path ? -1 : error_set(err, EX_OSERR, "out of memory");
    }
    m->pflash = pflash_new(m->bus, m->clock, BIOS_HIGH(m->fw.bios_size) - m->fw.vars_size, vars,
                           m->fw.vars_size, path, m->o.log);
    free(path);
    if (!m->pflash) {
        free(vars);
        return error_set(err, EX_SOFTWARE, "cannot map the EFI variable store");
    }
    return 0;
}

/* ---- chips ---- */

/* dev, registered with the machine's lifecycle list (devices/device.h); NULL stays NULL. */
static void *reg(struct machine *m, const struct device_ops *ops, int index, void *dev)
{
    return device_add(&m->devices, ops, index, dev);
}

static int make_chipset(struct machine *m, struct error *err)
{
    m->pci = pci_bus_new(m->bus);
    if (m->pci)
        pci_bus_set_msi_sink(m->pci, apic_deliver_msi, m->apic);
    m->northbridge =
        m->pci ? reg(m, &i440fx_device, -1, i440fx_new(m->bus, m->pci, m->ram, m->isa_rom)) : NULL;
    struct irq isa[16];
    for (int i = 0; i < 16; i++)
        isa[i] = isa_irq(m, i);
    m->southbridge = m->northbridge
                         ? reg(m, &piix3_device, -1,
                               piix3_new(m->pci, DEVFN(1, 0), isa, irq_make(reset_req, m, 0)))
                         : NULL;
    m->ide = m->southbridge
                 ? reg(m, &ide_device, -1,
                       ide_new(m->bus, m->pci, DEVFN(1, 1), isa_irq(m, 14), isa_irq(m, 15)))
                 : NULL;
    m->pm = m->ide ? reg(m, &piix4pm_device, -1,
                         piix4pm_new(m->bus, m->pci, DEVFN(1, 3), m->clock, isa_irq(m, 9),
                                     irq_make(poweroff_req, m, 0)))
                   : NULL;
    if (!m->pm)
        return error_set(err, EX_SOFTWARE, "cannot build the i440FX/PIIX chipset");
    return 0;
}

static int make_interrupt_controllers(struct machine *m, struct error *err)
{
    m->apic = reg(
        m, &apic_device, -1,
        apic_new(m->bus, m->clock, 0, irq_make(cpu_intr_set, m, 0), irq_make(cpu_nmi_set, m, 0)));
    /* The 8259's INTR enters LINT0, which SeaBIOS programs as ExtINT (virtual wire). */
    m->pic = m->apic ? reg(m, &pic_device, -1, pic_new(m->bus, irq_make(apic_set_irq, m->apic, 0)))
                     : NULL;
    /* SeaBIOS's MADT gives the IOAPIC the ID after the last CPU. */
    m->ioapic =
        m->pic ? reg(m, &ioapic_device, -1,
                     ioapic_new(m->bus, (uint8_t)config_vcpus_run(m->cfg), apic_deliver, m->apic))
               : NULL;
    if (!m->ioapic)
        return error_set(err, EX_SOFTWARE, "cannot build the interrupt controllers");
    apic_set_extint(m->apic, pic_intr_ack, m->pic);
    apic_set_eoi_listener(m->apic, ioapic_eoi, m->ioapic);
    return 0;
}

/* A drive with an image at power-on; an empty drive is not presented (SeaBIOS would try it first). */
static bool floppy_connected(const struct machine *m, int i)
{
    return config_floppy_presented(m->cfg, i);
}

/* The 8237 pair and the 82077AA on IRQ 6 / DMA 2, with floppyN's images. */
static int make_floppy(struct machine *m, struct error *err)
{
    m->dma = reg(m, &dma8237_device, -1, dma8237_new(m->bus));
    m->fdc = m->dma ? reg(m, &fdc_device, -1, fdc_new(m->bus, isa_irq(m, 6), m->dma)) : NULL;
    if (!m->fdc)
        return error_set(err, EX_SOFTWARE, "cannot build the floppy controller");
    for (int i = 0; i < VM_MAX_FLOPPIES && i < 2; i++) {
        struct blockdev *bd = NULL;
        struct blockdev_open_opts bo = {.media = MEDIA_FLOPPY, .snapshot = m->o.snapshot,
                                        .write_through = m->o.disk_write_through, .sync = m->o.disk_sync};
        if (!floppy_connected(m, i))
            continue;
        if (m->ndisks >= MACHINE_MAX_DISKS) { /* cannot happen: the table holds every slot */
            if (m->o.log)
                fprintf(m->o.log, "vmplay: floppy%d: more disks than the player holds (%d); the "
                        "disk is left out\n", i, MACHINE_MAX_DISKS);
            continue;
        }
        if (blockdev_open(m->cfg->floppy[i].path, &bo, &bd, err) < 0)
            return error_prefix(err, "floppy%d", i);
        static const char *const fd_slot[] = {"floppy0", "floppy1"};
        m->disk_slot[m->ndisks] = fd_slot[i];
        m->disk_path[m->ndisks] = m->cfg->floppy[i].path;
        m->disks[m->ndisks++] = bd;
        fdc_insert(m->fdc, i, bd);
    }
    return 0;
}

static int make_isa(struct machine *m, struct error *err)
{
    struct rtc_cmos_info info = {
        .ram_below_4g = m->below_4g,
        .ram_above_4g = m->above_4g,
        .cpus = (unsigned)config_vcpus_run(m->cfg),
        .boot = {RTC_BOOT_DISK, RTC_BOOT_CDROM, RTC_BOOT_FLOPPY},
        .floppy = {floppy_connected(m, 0) ? RTC_FLOPPY_1M44 : 0, floppy_connected(m, 1) ? RTC_FLOPPY_1M44 : 0},
    };
    int64_t power_on = m->o.deterministic ? 1700000000 : (int64_t)time(NULL);
    m->pit = reg(m, &pit_device, -1, pit_new(m->bus, m->clock, isa_irq(m, 0)));
    m->rtc =
        m->pit ? reg(m, &rtc_device, -1, rtc_new(m->bus, m->clock, isa_irq(m, 8), power_on, &info))
               : NULL;
    /* Port 0x92 ORs its own A20 bit with the keyboard controller's output port. */
    m->port92 = m->rtc ? reg(m, &port92_device, -1,
                             port92_new(m->bus, irq_make(a20_set, m, 0), irq_make(reset_req, m, 0)))
                       : NULL;
    m->kbc = m->port92
                 ? reg(m, &i8042_device, -1,
                       i8042_new(m->bus, isa_irq(m, 1), isa_irq(m, 12),
                                 irq_make(port92_kbc_a20, m->port92, 0), irq_make(reset_req, m, 0)))
                 : NULL;
    if (!m->kbc)
        return error_set(err, EX_SOFTWARE, "cannot build the ISA devices");
    return 0;
}

static int make_serial(struct machine *m, struct error *err)
{
    for (int i = 0; i < MACHINE_SERIALS; i++) {
        const struct vm_serial *s = &m->cfg->serial[i];
        struct chardev_config spec = {.kind = CHARDEV_NULL};
        if (i == 0 && m->o.serial != SERIAL_FROM_VMX) {
            spec.kind = m->o.serial == SERIAL_TO_STDIO ? CHARDEV_STDIO
                        : m->o.serial == SERIAL_TO_FILE ? CHARDEV_FILE
                        : m->o.serial == SERIAL_TO_PTY  ? CHARDEV_PTY
                                                        : CHARDEV_NULL;
            spec.path = m->o.serial_path;
        } else if (!s->present) {
            continue;
        } else if (s->type == VM_SERIAL_FILE && s->path) {
            spec.kind = CHARDEV_FILE;
            spec.path = s->path;
        } else if (s->type == VM_SERIAL_PIPE && s->path) {
            spec.kind = CHARDEV_SOCKET;
            spec.path = s->path;
        }
        m->serial[i] = chardev_new(&spec, err);
        if (!m->serial[i])
            return error_prefix(err, "serial%d", i);
        if (m->o.log && spec.kind == CHARDEV_PTY && chardev_name(m->serial[i]))
            fprintf(m->o.log, "vmplay: serial%d is on %s\n", i, chardev_name(m->serial[i]));
        if (m->o.log && chardev_is_console(m->serial[i]))
            fprintf(m->o.log, "vmplay: serial%d is this terminal; Ctrl-A x quits, Ctrl-A h "
                    "lists the keys\n", i);
        m->uart[i] =
            reg(m, &uart_device, i,
                uart_new(m->bus, m->clock, uart_base[i], isa_irq(m, uart_irq[i]), m->serial[i]));
        if (!m->uart[i])
            return error_set(err, EX_SOFTWARE, "cannot build serial%d", i);
    }
    return 0;
}

static int make_fwcfg(struct machine *m, struct error *err)
{
    m->fwcfg = reg(m, &fwcfg_device, -1, fwcfg_new(m->bus));
    if (!m->fwcfg)
        return error_set(err, EX_SOFTWARE, "cannot build fw_cfg");
    fwcfg_add_u64(m->fwcfg, FW_CFG_RAM_SIZE, m->ram_size);
    fwcfg_add_u16(m->fwcfg, FW_CFG_NB_CPUS, (uint16_t)config_vcpus_run(m->cfg));
    fwcfg_add_u16(m->fwcfg, FW_CFG_MAX_CPUS, (uint16_t)config_vcpus_run(m->cfg));
    if (m->o.log && config_vcpus_run(m->cfg) != m->cfg->numvcpus)
        fprintf(m->o.log, "vmplay: numvcpus = \"%d\": running %d vCPU (vmplay has one vCPU today)\n",
                m->cfg->numvcpus, config_vcpus_run(m->cfg));
    fwcfg_add_u16(m->fwcfg, FW_CFG_BOOT_MENU, 0);
    fwcfg_add_u32(m->fwcfg, FW_CFG_IRQ0_OVERRIDE, 1); /* the PIT is on IOAPIC pin 2 */
    struct fwcfg_e820 e820[2] = {{0, m->below_4g, E820_RAM}, {0x100000000ull, m->above_4g, E820_RAM}};
    fwcfg_add_e820(m->fwcfg, e820, m->above_4g ? 2 : 1);
    /* --kernel: the option ROM boots first, the disks after it */
    static const char rom_first[] = "/rom@" LINUXBOOT_ROM_NAME "\n/rom@" MULTIBOOT_ROM_NAME "\n";
    size_t skip = m->o.kernel ? sizeof rom_first - 1 : 0;
    char order[1024];
    memcpy(order, rom_first, skip);
    firmware_bootorder(m->cfg, order + skip, sizeof order - skip);
    if (m->o.kernel &&
        linuxboot_setup(m->fwcfg, m->o.kernel, m->o.initrd, m->o.append, m->below_4g, err) < 0)
        return -1;
    fwcfg_add_file(m->fwcfg, "bootorder", order, strlen(order));
    uint32_t boot_fail_wait = 5;
    fwcfg_add_file(m->fwcfg, "etc/boot-fail-wait", &boot_fail_wait, sizeof boot_fail_wait);
    /* OVMF builds no FADT/DSDT/MADT of its own; SeaBIOS keeps its own tables */
    if (m->fw.efi && acpi_tables_add(m->fwcfg, (uint8_t)config_vcpus_run(m->cfg)) < 0)
        return error_set(err, EX_SOFTWARE, "fw_cfg: no room for the ACPI tables");
    return 0;
}

static int make_debug_ports(struct machine *m, struct error *err)
{
    if (m->o.debugcon) {
        struct chardev_config spec = {.kind = CHARDEV_FILE, .path = m->o.debugcon};
        m->debugcon = chardev_new(&spec, err);
        if (!m->debugcon)
            return error_prefix(err, "--debugcon");
    }
    /* SeaBIOS writes its log to 0x402; 0xE9 is the Bochs/QEMU debug console. */
    m->postcode = reg(m, &postcode_device, -1, postcode_new(m->bus));
    m->debugcon_e9 = reg(m, &debugcon_device, 0, debugcon_new(m->bus, 0xe9, m->debugcon));
    m->debugcon_402 = reg(m, &debugcon_device, 1, debugcon_new(m->bus, 0x402, m->debugcon));
    if (m->o.debug_exit)
        m->debugexit = reg(m, &debugexit_device, -1,
                           debugexit_new(m->bus, 0xf4, irq_make(debug_exit_req, m, 0)));
    if (!m->postcode || !m->debugcon_e9 || !m->debugcon_402 || (m->o.debug_exit && !m->debugexit))
        return error_set(err, EX_SOFTWARE, "cannot map the debug ports");
    return 0;
}

static int make_vga(struct machine *m, struct error *err)
{
    bool svga = m->cfg->svga_present;
    uint32_t vram = svga ? (uint32_t)svga_vram_bytes(m->cfg->svga_vram_size) : 0;
    m->vga = reg(m, &vga_device, -1, vga_new(m->bus, m->clock, m->display, vram, err));
    if (!m->vga)
        return -1;
    if (svga) /* SVGA II in the VGA's slot, the VGA behind it */
        return reg(m, &svga_device, -1, svga_new(m->vga, m->pci, DEVFN(2, 0), m->fw.vgabios,
                                                  m->fw.vgabios_size, err)) ? 0 : -1;
    /* OVMF drives the VGA itself (QemuVideoDxe); its vgabios_size is 0. */
    if (vga_pci_register(m->vga, m->pci, DEVFN(2, 0), m->fw.vgabios, m->fw.vgabios_size, err) < 0)
        return -1;
    return 0;
}

/* ---- disks ---- */

static int make_sata(struct machine *m, struct error *err)
{
    for (int n = 0; n < VM_MAX_SATA; n++) {
        if (!m->cfg->sata_present[n])
            continue;
        m->sata[n] = reg(m, &ahci_device, n, ahci_new(m->pci, DEVFN(m->slots.sata[n], 0), n));
        if (!m->sata[n])
            return error_set(err, EX_SOFTWARE, "cannot build the SATA controller sata%d", n);
    }
    return 0;
}

/* nvmeN at its slot of the plan (VMware puts them behind bridges; here bus 0 holds all). */
static int make_nvme(struct machine *m, struct error *err)
{
    for (int i = 0; i < VM_MAX_NVME; i++) {
        if (!m->cfg->nvme_present[i])
            continue;
        m->nvme[i] =
            reg(m, &nvme_device, i, nvme_new(m->bus, m->pci, DEVFN(m->slots.nvme[i], 0), i));
        if (!m->nvme[i])
            return error_set(err, EX_SOFTWARE, "cannot build nvme%d", i);
    }
    return 0;
}

static int attach_to(struct machine *m, const struct vm_disk *d, bool cd, struct blockdev *bd,
                     struct error *err)
{
    enum ide_drive_kind kind = cd ? IDE_CDROM : IDE_DISK;
    switch (d->bus) {
    case VM_BUS_SCSI:
        return scsi_hba_attach(m->scsi[d->ctrl], d->unit, cd ? SCSI_CDROM : SCSI_DISK, bd, err);
    case VM_BUS_NVME:
        return m->nvme[d->ctrl] ? nvme_attach(m->nvme[d->ctrl], d->unit, bd, err) : 0;
    case VM_BUS_SATA:
        return ahci_attach(m->sata[d->ctrl], d->unit, kind, bd, err);
    default:
        return ide_attach(m->ide, d->ctrl, d->unit, kind, bd, err);
    }
}

static int open_disk(struct machine *m, const struct vm_disk *d, struct error *err)
{
    bool cd = d->type == VM_DISK_CDROM_IMAGE || d->type == VM_DISK_CDROM_RAW;
    struct blockdev *bd = NULL;
    if (d->path && d->start_connected) {
        struct blockdev_open_opts bo = {
            .media = cd ? MEDIA_CDROM : MEDIA_DISK,
            .read_only = cd,
            .snapshot = m->o.snapshot || config_disk_nonpersistent(d),
            .write_through = d->write_through || m->o.disk_write_through,
            .sync = m->o.disk_sync,
            .window_off = d->window_off, .window_len = d->window_len, .overlay = d->overlay,
        };
        if (blockdev_open(d->path, &bo, &bd, err) < 0)
            return error_prefix(err, "%s", d->slot);
        if (bd->warning && m->o.log)
            fprintf(m->o.log, "vmplay: %s: %s\n", d->slot, bd->warning);
        m->disk_slot[m->ndisks] = d->slot;
        m->disk_path[m->ndisks] = d->path;
        m->disks[m->ndisks++] = bd;
    }
    if (!bd && !cd)
        return 0;
    if ((bd || d->bus != VM_BUS_NVME) && attach_to(m, d, cd, bd, err) < 0)
        return error_prefix(err, "%s", d->slot);
    return 0;
}

/* A controller per present scsiN whose model the board has (BusLogic: refused, 69). */
static int make_scsi(struct machine *m, struct error *err)
{
    for (int x = 0; x < VM_MAX_SCSI; x++) {
        enum vm_scsi_dev model = m->cfg->scsi_model[x];
        if (!m->cfg->scsi_present[x] || (!scsi_hba_model(model) && model != VM_SCSI_BUSLOGIC))
            continue;
        m->scsi[x] = reg(m, &scsi_hba_device, x,
                         scsi_hba_new(model, x, DEVFN(m->slots.scsi[x], 0), m->bus, m->pci, err));
        if (!m->scsi[x])
            return -1;
    }
    return 0;
}

static int attach_disks(struct machine *m, struct error *err)
{
    if (make_scsi(m, err) < 0)
        return -1;
    for (size_t i = 0; i < m->cfg->ndisks; i++) {
        const struct vm_disk *d = &m->cfg->disks[i];
        const char *why;
        if (!config_disk_presented(d, &why)) {
            if (m->o.log)
                fprintf(m->o.log, "vmplay: %s: %s; the disk is left out\n", d->slot, why);
            continue;
        }
        if (m->ndisks >= MACHINE_MAX_DISKS) { /* cannot happen: the table holds every slot */
            if (m->o.log)
                fprintf(m->o.log, "vmplay: %s: more disks than the player holds (%d); the disk is "
                        "left out\n", d->slot, MACHINE_MAX_DISKS);
            continue;
        }
        if (open_disk(m, d, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- network ---- */

/* Whether a missing boot ROM is worth a line: the boot order names the card, or the VM has
 * no disk or CD-ROM to boot from. */
static bool pxe_wanted(const struct vm_config *cfg, int index)
{
    char name[24];
    snprintf(name, sizeof name, "ethernet%d", index);
    if (cfg->boot_order && strcasestr(cfg->boot_order, name))
        return true;
    for (size_t i = 0; i < cfg->ndisks; i++)
        if (config_disk_presented(&cfg->disks[i], NULL))
            return false;
    return true;
}

/* iPXE for the card's expansion ROM, when ipxe-qemu has one for its PCI ID (netrom.h); NULL
 * when not, with a line on log. */
static uint8_t *pxe_rom(const char *rom, int index, FILE *log, uint64_t *size)
{
    char who[32];
    snprintf(who, sizeof who, "ethernet%d", index);
    return netrom_read(rom, who, size, log);
}

static void attach_pxe_rom(struct e1000 *nic, const char *rom, int index, FILE *log)
{
    uint64_t size;
    uint8_t *img = pxe_rom(rom, index, log, &size);
    if (img)
        e1000_set_rom(nic, img, size);
}

/* ipxe-qemu's pxe-e1000.rom is built for QEMU's 82540EM (8086:100e); iPXE's intel driver in it
 * also takes VMware's 82545EM (8086:100f), so it is presented for that ID (netrom_read_as). */
static void attach_e1000_rom(struct e1000 *nic, int index, FILE *log)
{
    char who[32];
    uint64_t size;
    snprintf(who, sizeof who, "ethernet%d", index);
    uint8_t *img = netrom_read_as("pxe-e1000.rom", 0x8086, 0x100f, who, &size, log);
    if (img)
        e1000_set_rom(nic, img, size);
}

/* One PCI function per present e1000, e1000e, vlance or vmxnet3; other cards are not emulated yet (one line each). */
static int make_nics(struct machine *m, struct error *err)
{
    static const struct net_opts defaults = {0};
    const struct net_opts *o = m->o.net ? m->o.net : &defaults;
    for (int i = 0; i < VM_MAX_NICS && !o->none; i++) {
        const struct vm_nic *nic = &m->cfg->nic[i];
        if (!nic->present)
            continue;
        if (!config_nic_emulated(nic->dev)) {
            if (m->o.log)
                fprintf(m->o.log, "vmplay: ethernet%d: the %s card is not emulated yet; the VM runs "
                        "without it\n", i, config_nic_dev_name(nic->dev));
            continue;
        }
        struct net_backend *be = net_backend_for_nic(o, nic, i, m->clock, err);
        if (!be)
            return error_prefix(err, "ethernet%d", i);
        m->net.be[m->net.n++] = be;
        /* ethernetN in its slot of the plan (03+N by default) */
        if (nic->dev == VM_NIC_VLANCE) {
            m->pcnet[i] = reg(m, &pcnet_device, i,
                              pcnet_new(m->pci, DEVFN(m->slots.nic[i], 0), m->clock, nic->mac, be,
                                        nic->start_connected));
            if (!m->pcnet[i])
                return error_set(err, EX_SOFTWARE, "ethernet%d: cannot build the vlance", i);
            uint64_t size;
            uint8_t *img = pxe_rom("pxe-pcnet.rom", i, pxe_wanted(m->cfg, i) ? m->o.log : NULL, &size);
            if (img)
                pcnet_set_rom(m->pcnet[i], img, size);
            continue;
        }
        if (nic->dev == VM_NIC_VMXNET3) {
            m->vmxnet3[i] = reg(m, &vmxnet3_device, i,
                                vmxnet3_new(m->pci, DEVFN(m->slots.nic[i], 0), m->clock, nic->mac,
                                            be, nic->start_connected));
            if (!m->vmxnet3[i])
                return error_set(err, EX_SOFTWARE, "ethernet%d: cannot build the vmxnet3", i);
            uint64_t size;
            uint8_t *img = pxe_rom("pxe-vmxnet3.rom", i, pxe_wanted(m->cfg, i) ? m->o.log : NULL, &size);
            if (img)
                vmxnet3_set_rom(m->vmxnet3[i], img, size);
            continue;
        }
        m->nic[i] = reg(
            m, &e1000_device, i,
            (nic->dev == VM_NIC_E1000E ? e1000e_new : e1000_new)(
                m->pci, DEVFN(m->slots.nic[i], 0), m->clock, nic->mac, be, nic->start_connected));
        if (!m->nic[i])
            return error_set(err, EX_SOFTWARE, "ethernet%d: cannot build the e1000", i);
        if (nic->dev == VM_NIC_E1000E)
            attach_pxe_rom(m->nic[i], "pxe-e1000e.rom", i, pxe_wanted(m->cfg, i) ? m->o.log : NULL);
        else
            attach_e1000_rom(m->nic[i], i, pxe_wanted(m->cfg, i) ? m->o.log : NULL);
    }
    if (m->net.n) {
        struct machine_source src = {net_group_poll_fds, net_group_service, &m->net};
        return machine_add_source(m, &src, err);
    }
    return 0;
}

/* ---- the VMware backdoor ---- */

static bool pc_backdoor(void *opaque, uint16_t port, bool in, unsigned size, uint32_t regs[8])
{
    struct machine *m = opaque;
    return m->vmport && vmport_backdoor(m->vmport, port, in, size, regs);
}

static int64_t vmport_time_us(void *opaque)
{
    struct machine *m = opaque;
    if (m->o.deterministic) /* a fixed epoch (2026-01-01) plus guest time */
        return INT64_C(1767225600000000) + clock_now_ns(m->clock) / 1000;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void vmport_kick(void *opaque)
{
    struct machine *m = opaque;
    if (m->kbc)
        ps2_mouse_kick(i8042_mouse(m->kbc));
}

static void vmport_absolute_changed(void *opaque, bool on)
{
    struct machine *m = opaque;
    input_set_pointer_absolute(m->input, on);
}

static int make_vmport(struct machine *m, struct error *err)
{
    if (m->cfg->backdoor_restricted)
        return 0;
    size_t n = m->cfg->nguestinfo;
    struct vmport_key *keys = n ? calloc(n, sizeof *keys) : NULL;
    if (n && !keys)
        return error_set(err, EX_OSERR, "out of memory");
    for (size_t i = 0; i < n; i++)
        keys[i] = (struct vmport_key){m->cfg->guestinfo[i].key, m->cfg->guestinfo[i].value};
    struct vmport_config vc = {
        .memsize_mib = m->cfg->memsize_mib, .guestinfo = keys, .nguestinfo = n,
        .time_us = vmport_time_us, .kick = vmport_kick, .absolute = vmport_absolute_changed,
        .opaque = m,
    };
    m->vmport = vmport_new(&vc);
    free(keys);
    return m->vmport ? 0 : error_set(err, EX_OSERR, "out of memory");
}

/* ---- the machine ---- */

const char *machine_probe_cpu(enum cpu_kind kind, struct error *err)
{
    struct bus *bus = bus_new();
    struct clock *clock = clock_new(CLOCK_REALTIME, 0);
    struct cpu_hooks hooks = {0};
    struct cpu *cpu = bus && clock ? cpu_create(kind, bus, clock, &hooks, err) : NULL;
    const char *name = cpu ? cpu_backend_name(cpu) : NULL;
    cpu_free(cpu);
    clock_free(clock);
    bus_free(bus);
    return name;
}

struct machine *machine_new(const struct machine_opts *o, struct error *err)
{
    struct machine *m = calloc(1, sizeof *m);
    if (!m) {
        error_set(err, EX_OSERR, "out of memory");
        return NULL;
    }
    m->o = *o;
    m->cfg = o->cfg;
    m->wake_fd = machine_wake_fd_new();
    m->bus = bus_new();
    m->clock = clock_new(o->deterministic ? CLOCK_DETERMINISTIC : CLOCK_REALTIME, NS_PER_INSN);
    m->display = display_new();
    m->input = input_queue_new();
    if (m->wake_fd < 0 || !m->bus || !m->clock || !m->display || !m->input) {
        error_set(err, EX_OSERR, "out of memory");
        goto fail;
    }
    pc_slots_plan(m->cfg, &m->slots, o->log);
    struct cpu_hooks hooks = {.opaque = m, .intr_ack = cpu_intr_ack, .apic_base = cpu_apic_base,
                              .backdoor = pc_backdoor, .vmware_platform = true};
    if (make_vmport(m, err) < 0)
        goto fail;
    m->cpu = cpu_create(o->cpu, m->bus, m->clock, &hooks, err);
    if (m->cpu && m->vmport) /* GETHZ: the TSC as CPUID leaf 0x40000010 gives it */
        vmport_set_rates(m->vmport, (uint64_t)cpu_tsc_khz(m->cpu) * 1000, APIC_BUS_HZ);
    if (!m->cpu || load_firmware(m, err) < 0 || map_memory(m, err) < 0 || make_pflash(m, err) < 0 ||
        make_interrupt_controllers(m, err) < 0 || make_chipset(m, err) < 0 || make_isa(m, err) < 0 ||
        make_serial(m, err) < 0 || make_fwcfg(m, err) < 0 || make_debug_ports(m, err) < 0 ||
        ((!m->fw.raw_rom || m->cfg->svga_present) && make_vga(m, err) < 0) || make_sata(m, err) < 0 ||
        make_nvme(m, err) < 0 || attach_disks(m, err) < 0 || make_floppy(m, err) < 0 ||
        make_nics(m, err) < 0)
        goto fail;
    input_set_notify(m->input, (void (*)(void *))machine_wake, m);
    if (trace_on(TRACE_CPU) || trace_on(TRACE_EXC))
        cpu_set_trace(m->cpu, stderr);
    if (trace_on(TRACE_IO))
        bus_set_trace(m->bus, trace_bus, m);
    timer_init(&m->timeout_timer, m->clock, timeout_fire, m);
    machine_reset(m);
    return m;
fail:
    machine_free(m);
    return NULL;
}

void machine_reset(struct machine *m)
{
    m->resets++;
    /* Devices that register (devices/device.h) reset in creation order; a device the board
     * still resets by hand goes here, before the CPU. */
    device_list_reset(&m->devices);
    if (m->pflash)
        pflash_reset(m->pflash);
    if (m->vmport)
        vmport_reset(m->vmport);
    cpu_reset(m->cpu);
    /* --timeout counts from power-on; a guest reset does not restart it. */
    if (m->o.timeout_s > 0 && !timer_armed(&m->timeout_timer))
        timer_arm(&m->timeout_timer, clock_now_ns(m->clock) + (int64_t)(m->o.timeout_s * 1e9));
}

enum button_heard machine_press_power_button(struct machine *m)
{
    if (m->vmport && vmport_request_halt(m->vmport, false))
        return BUTTON_TOOLS; /* the guest's tools shut it down, as VMware's "Shut Down Guest" does */
    if (piix4pm_power_button(m->pm))
        return BUTTON_ACPI;
    m->poweroff_pending = true; /* ACPI not enabled by the guest: nobody listens */
    return BUTTON_UNHEARD;
}

void machine_set_exit_on_poweroff(struct machine *m)
{
    m->o.restart_on_poweroff = false;
}

void machine_free(struct machine *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->ndisks; i++) {
        blockdev_flush(m->disks[i]);
        blockdev_close(m->disks[i]);
    }
    /* Registered devices in reverse creation order; a device the board still frees by hand
     * goes here, before the host side. */
    vmport_free(m->vmport); /* before the PS/2 mouse it kicks */
    device_list_free(&m->devices);
    for (int i = 0; i < m->net.n; i++)
        net_backend_free(m->net.be[i]);
    for (int i = 0; i < MACHINE_SERIALS; i++)
        chardev_free(m->serial[i]);
    chardev_free(m->debugcon);
    pci_bus_free(m->pci);
    cpu_free(m->cpu); /* after the devices: unmapping a range still notifies it */
    if (m->ram)
        munmap(m->ram, m->ram_size);
    free(m->isa_rom);
    pflash_free(m->pflash);
    firmware_free(&m->fw);
    input_queue_free(m->input);
    display_free(m->display);
    clock_free(m->clock);
    bus_free(m->bus);
    if (m->wake_fd >= 0)
        close(m->wake_fd);
    free(m);
}

/* ---- host side ---- */

static void key_in(void *opaque, uint32_t usage, bool down)
{
    struct machine *m = opaque;
    i8042_input_key(m->kbc, usage, down);
}

static void mouse_in(void *opaque, int dx, int dy, int dz, unsigned buttons)
{
    struct machine *m = opaque;
    i8042_input_mouse_rel(m->kbc, dx, dy, dz, buttons);
}

/* Absolute positions go to the VMMouse while the guest has it in absolute mode. */
static void mouse_abs_in(void *opaque, unsigned x, unsigned y, int dz, unsigned buttons)
{
    struct machine *m = opaque;
    if (m->vmport)
        vmport_mouse_abs(m->vmport, x, y, dz, buttons);
}

static void power_button_in(void *opaque)
{
    machine_press_power_button(opaque);
}

/* The user sized the window: guests whose tools can set their resolution follow it. */
static void display_size_in(void *opaque, unsigned w, unsigned h)
{
    struct machine *m = opaque;
    if (m->vmport)
        vmport_request_resolution(m->vmport, w, h);
}

static void power_off_in(void *opaque)
{
    struct machine *m = opaque;
    m->o.restart_on_poweroff = false;
    m->poweroff_pending = true;
}

void machine_service_host(struct machine *m)
{
    for (int i = 0; i < MACHINE_SERIALS; i++) {
        if (!m->serial[i])
            continue;
        chardev_pump(m->serial[i]);
        if (chardev_take_escape(m->serial[i]) == 'x')
            machine_request_from(m, MACHINE_POWER_OFF, "Ctrl-A x");
        if (m->uart[i])
            uart_poll(m->uart[i]);
    }
    struct input_sink sink = {
        .key = key_in,
        .mouse_rel = mouse_in,
        .mouse_abs = mouse_abs_in,
        .power_button = power_button_in,
        .power_off = power_off_in,
        .display_size = display_size_in,
        .opaque = m,
    };
    input_drain(m->input, &sink);
}

int machine_poll_fds(struct machine *m, struct pollfd *fds, int max)
{
    int n = 0;
    for (int i = 0; i < MACHINE_SERIALS && n < max; i++) {
        int fd = m->serial[i] ? chardev_fd(m->serial[i]) : -1;
        if (fd >= 0)
            fds[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
    }
    return n;
}

struct display *machine_display(struct machine *m)
{
    return m->display;
}

struct input_queue *machine_input(struct machine *m)
{
    return m->input;
}

const char *machine_cpu_name(struct machine *m)
{
    return cpu_backend_name(m->cpu);
}

void machine_get_status(struct machine *m, struct machine_status *st)
{
    *st = (struct machine_status){
        .paused = m->paused,
        .cpu = cpu_backend_name(m->cpu),
        .uptime_s = m->started_host_ns ? (clock_host_ns() - m->started_host_ns) / 1e9 : 0,
        .guest_s = clock_now_ns(m->clock) / 1e9,
        .insns = machine_insn_count(m),
        .resets = m->resets ? m->resets - 1 : 0,
    };
    piix4pm_acpi_state(m->pm, &st->acpi, &st->acpi_button);
}

uint64_t machine_insn_count(struct machine *m)
{
    return cpu_insn_count(m->cpu);
}
