/*
 * The PCI chipset under the real firmware: Debian's SeaBIOS (bios-256k.bin)
 * runs on /dev/kvm (in-kernel 8259/IOAPIC/8254) against pci.c, i440fx.c,
 * piix3.c, ide.c and piix4pm.c plus a minimal CMOS and the debug port 0x402
 * written here, and must detect QEMU's i440FX, shadow itself through PAM,
 * set up PIRQs and the PM device, find the IDE disk and boot its sector 0,
 * which reports on the debug port. Oracle: SeaBIOS's own log lines and the
 * boot sector's output. SKIPs without /dev/kvm or the firmware. Set
 * CHIPSET_LOG=1 to see SeaBIOS's log, CHIPSET_TRACE=1 for the IDE trace.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/i440fx.h"
#include "devices/ide.h"
#include "devices/pci.h"
#include "devices/piix3.h"
#include "devices/piix4pm.h"
#include "devices/trace.h"
#include "tests/unit/test.h"

#define RAM_SIZE (32u << 20)
#define BIOS_SIZE 0x40000u
#define EXIT_PORT 0x501

struct vm {
    int kvm, fd, vcpu;
    struct kvm_run *run;
    struct bus *bus;
    int nslots;
    bool map_dirty, done;
    uint8_t cmos[128], cmos_index;
    char log[65536];
    size_t loglen;
    /* What the guest's ACPI tables say (read back after the boot), and what came of it. */
    bool fadt_found;
    uint32_t pm1a_evt, pm1a_cnt, pm_tmr, smi_cmd;
    uint16_t sci_int;
    uint8_t acpi_enable;
    int s5_typ; /* -1 when no _S5_ was found */
    bool sci_en_after_enable;
    int power_offs;
};

/* ---- KVM plumbing: memory slots follow the bus's RAM/ROM ranges ---- */

static void map_changed(void *opaque, uint64_t gpa, uint64_t size)
{
    ((struct vm *)opaque)->map_dirty = true;
}

static void sync_slots(struct vm *vm)
{
    for (int i = 0; i < vm->nslots; i++) {
        struct kvm_userspace_memory_region r = {.slot = (uint32_t)i};
        ASSERT_EQ(ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r), 0);
    }
    int n = 0;
    for (size_t i = 0; i < bus_range_count(vm->bus); i++) {
        const struct bus_range *br = bus_range_at(vm->bus, i);
        if (br->kind == BUS_MMIO)
            continue;
        struct kvm_userspace_memory_region r = {
            .slot = (uint32_t)n++, .flags = br->kind == BUS_ROM ? KVM_MEM_READONLY : 0,
            .guest_phys_addr = br->base, .memory_size = br->size, .userspace_addr = (uintptr_t)br->host};
        ASSERT_EQ(ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r), 0);
    }
    vm->nslots = n;
    vm->map_dirty = false;
}

static void kvm_irq(void *opaque, int n, int level)
{
    struct vm *vm = opaque;
    struct kvm_irq_level l = {.irq = (uint32_t)n, .level = (uint32_t)level};
    ioctl(vm->fd, KVM_IRQ_LINE, &l);
}

static void power_off_rec(void *opaque, int n, int level)
{
    ((struct vm *)opaque)->power_offs += level;
}

static uint32_t rd32(const uint8_t *ram, uint32_t a)
{
    uint32_t v;
    memcpy(&v, ram + a, 4);
    return v;
}

/* The first element of Name(_S5_, Package(){...}) in an AML table: ZeroOp, OneOp or a BytePrefix. */
static int find_s5(const uint8_t *t, uint32_t len)
{
    for (uint32_t i = 0; i + 8 < len; i++) {
        if (memcmp(t + i, "_S5_", 4) != 0 || t[i + 4] != 0x12)
            continue;
        const uint8_t *e = t + i + 5 + 1 + ((t[i + 5] >> 6) & 3) + 1; /* PkgLength, NumElements */
        if (e[0] == 0x00 || e[0] == 0x01)
            return e[0];
        if (e[0] == 0x0a)
            return e[1];
    }
    return -1;
}

/* Follows RSDP -> RSDT -> FACP (and DSDT, SSDTs) in guest RAM, as an OS would. */
static void read_acpi(struct vm *vm, const uint8_t *ram)
{
    vm->s5_typ = -1;
    for (uint32_t a = 0xe0000; a < 0x100000; a += 16) {
        if (memcmp(ram + a, "RSD PTR ", 8) != 0)
            continue;
        uint32_t rsdt = rd32(ram, a + 16);
        if (rsdt >= RAM_SIZE)
            return;
        uint32_t n = (rd32(ram, rsdt + 4) - 36) / 4;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t t = rd32(ram, rsdt + 36 + 4 * i);
            if (t >= RAM_SIZE)
                continue;
            if (memcmp(ram + t, "FACP", 4) == 0) {
                vm->fadt_found = true;
                vm->sci_int = (uint16_t)(ram[t + 46] | ram[t + 47] << 8);
                vm->smi_cmd = rd32(ram, t + 48);
                vm->acpi_enable = ram[t + 52];
                vm->pm1a_evt = rd32(ram, t + 56);
                vm->pm1a_cnt = rd32(ram, t + 64);
                vm->pm_tmr = rd32(ram, t + 76);
                uint32_t dsdt = rd32(ram, t + 40);
                if (vm->s5_typ < 0 && dsdt < RAM_SIZE)
                    vm->s5_typ = find_s5(ram + dsdt, rd32(ram, dsdt + 4));
            } else if (memcmp(ram + t, "SSDT", 4) == 0 && vm->s5_typ < 0) {
                vm->s5_typ = find_s5(ram + t, rd32(ram, t + 4));
            }
        }
        return;
    }
}

/* What an ACPI OS does with those tables: enable ACPI through SMI_CMD, then enter S5. */
static void acpi_os(struct vm *vm)
{
    if (!vm->fadt_found || vm->s5_typ < 0)
        return;
    bus_out(vm->bus, (uint16_t)vm->smi_cmd, vm->acpi_enable, 1);
    vm->sci_en_after_enable = bus_in(vm->bus, (uint16_t)vm->pm1a_cnt, 2) & 1;
    bus_out(vm->bus, (uint16_t)vm->pm1a_cnt, 1 | (unsigned)vm->s5_typ << 10, 2);
    bus_out(vm->bus, (uint16_t)vm->pm1a_cnt, 1 | (unsigned)vm->s5_typ << 10 | 1 << 13, 2);
}

static void on_alarm(int sig)
{
}

/* ---- the few ISA bits SeaBIOS needs that are not this helper's: CMOS, debug port ---- */

static uint64_t cmos_read(void *opaque, uint64_t off, unsigned size)
{
    struct vm *vm = opaque;
    return off ? vm->cmos[vm->cmos_index & 0x7f] : vm->cmos_index;
}

static void cmos_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct vm *vm = opaque;
    if (off)
        vm->cmos[vm->cmos_index & 0x7f] = (uint8_t)v;
    else
        vm->cmos_index = (uint8_t)v;
}

static const struct bus_ops cmos_ops = {.read = cmos_read, .write = cmos_write, .min_size = 1, .max_size = 1};

static uint64_t debug_read(void *opaque, uint64_t off, unsigned size)
{
    return 0xe9; /* QEMU_DEBUGCON_READBACK: SeaBIOS keeps logging only if it reads this */
}

static void debug_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct vm *vm = opaque;
    if (off == EXIT_PORT - 0x402) {
        vm->done = true;
        return;
    }
    if (off == 0 && vm->loglen + 1 < sizeof(vm->log))
        vm->log[vm->loglen++] = (char)v;
}

static const struct bus_ops debug_ops = {.read = debug_read, .write = debug_write, .min_size = 1, .max_size = 1};

static void cmos_init(struct vm *vm)
{
    uint32_t ext_kb = (RAM_SIZE - (1u << 20)) / 1024, above16 = (RAM_SIZE - (16u << 20)) >> 16;
    vm->cmos[0x0a] = 0x26;
    vm->cmos[0x0b] = 0x02;
    vm->cmos[0x0d] = 0x80;
    vm->cmos[0x15] = 0x80; /* 640 KiB base memory */
    vm->cmos[0x16] = 0x02;
    vm->cmos[0x17] = vm->cmos[0x30] = (uint8_t)ext_kb;
    vm->cmos[0x18] = vm->cmos[0x31] = (uint8_t)(ext_kb >> 8);
    vm->cmos[0x34] = (uint8_t)above16;
    vm->cmos[0x35] = (uint8_t)(above16 >> 8);
    vm->cmos[0x3d] = 0x02; /* boot from the hard disk */
}

/* ---- a disk whose sector 0 reports on the debug port and leaves ---- */

struct bootdisk {
    struct blockdev bd;
    uint8_t mbr[512];
};

static int bd_read(struct blockdev *bd, uint64_t sector, uint32_t count, void *buf)
{
    struct bootdisk *d = (struct bootdisk *)bd;
    memset(buf, 0, 512 * (size_t)count);
    if (sector == 0)
        memcpy(buf, d->mbr, 512);
    return 0;
}

static int bd_write(struct blockdev *bd, uint64_t sector, uint32_t count, const void *buf)
{
    return -EROFS;
}

static int bd_flush(struct blockdev *bd)
{
    return 0;
}

static void bd_close(struct blockdev *bd)
{
}

static const struct blockdev_ops bd_ops = {bd_read, bd_write, bd_flush, bd_close, NULL, NULL};

static void make_mbr(uint8_t *m)
{
    static const uint8_t code[] = {
        0xba, 0x02, 0x04,       /* mov dx, 0x402 */
        0xb0, 'M', 0xee,        /* mov al, 'M'; out dx, al */
        0xb0, 'B', 0xee,        /* mov al, 'B'; out dx, al */
        0xb0, 'R', 0xee,        /* mov al, 'R'; out dx, al */
        0xba, 0x01, 0x05, 0xee, /* mov dx, EXIT_PORT; out dx, al */
        0xfa, 0xf4, 0xeb, 0xfd, /* cli; hlt; jmp $-3 */
    };
    memset(m, 0, 512);
    memcpy(m, code, sizeof(code));
    m[510] = 0x55;
    m[511] = 0xaa;
}

static void *map_anon(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT(p != MAP_FAILED);
    return p;
}

static void load_bios(uint8_t *bios, uint8_t *isa_rom)
{
    FILE *f = fopen("/usr/share/seabios/bios-256k.bin", "rb");
    if (!f)
        SKIP("no /usr/share/seabios/bios-256k.bin (Debian seabios)");
    size_t n = fread(bios, 1, BIOS_SIZE, f);
    fclose(f);
    ASSERT_EQ(n, BIOS_SIZE);
    memset(isa_rom, 0xff, I440FX_ISA_ROM_SIZE);
    memcpy(isa_rom + 0x20000, bios + BIOS_SIZE - 0x20000, 0x20000);
}

static void vm_create(struct vm *vm)
{
    vm->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (vm->kvm < 0)
        SKIP("no /dev/kvm: this test drives the firmware on raw KVM (the same SeaBIOS boots from IDE and CD run on the software core in tests/guest)");
    vm->fd = ioctl(vm->kvm, KVM_CREATE_VM, 0);
    ASSERT(vm->fd >= 0);
    ASSERT_EQ(ioctl(vm->fd, KVM_SET_TSS_ADDR, 0xfeffd000ul), 0);
    uint64_t idmap = 0xfeffc000;
    ASSERT_EQ(ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap), 0);
    ASSERT_EQ(ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0), 0);
    struct kvm_pit_config pit = {.flags = 0};
    ASSERT_EQ(ioctl(vm->fd, KVM_CREATE_PIT2, &pit), 0);
    vm->vcpu = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
    ASSERT(vm->vcpu >= 0);
    int mmap_size = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    vm->run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu, 0);
    ASSERT(vm->run != MAP_FAILED);
    struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + 128 * sizeof(struct kvm_cpuid_entry2));
    cpuid->nent = 128;
    ASSERT_EQ(ioctl(vm->kvm, KVM_GET_SUPPORTED_CPUID, cpuid), 0);
    ASSERT_EQ(ioctl(vm->vcpu, KVM_SET_CPUID2, cpuid), 0);
    free(cpuid);
}

static void exit_io(struct vm *vm)
{
    struct kvm_run *run = vm->run;
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
        uint32_t v = 0;
        if (run->io.direction == KVM_EXIT_IO_OUT) {
            memcpy(&v, data, run->io.size);
            bus_out(vm->bus, run->io.port, v, run->io.size);
        } else {
            v = bus_in(vm->bus, run->io.port, run->io.size);
            memcpy(data, &v, run->io.size);
        }
    }
}

static void exit_mmio(struct vm *vm)
{
    struct kvm_run *run = vm->run;
    uint64_t v = 0;
    if (run->mmio.is_write) {
        memcpy(&v, run->mmio.data, run->mmio.len);
        bus_write(vm->bus, run->mmio.phys_addr, v, run->mmio.len);
    } else {
        v = bus_read(vm->bus, run->mmio.phys_addr, run->mmio.len);
        memcpy(run->mmio.data, &v, run->mmio.len);
    }
}

/* Runs until the boot sector leaves through EXIT_PORT; false on a timeout. */
static bool vm_run(struct vm *vm, struct clock *clock, int seconds)
{
    struct sigaction sa = {.sa_handler = on_alarm}, old;
    sigaction(SIGALRM, &sa, &old);
    struct itimerval t = {.it_value = {.tv_sec = seconds}};
    setitimer(ITIMER_REAL, &t, NULL);
    bool ok = false;
    while (!vm->done) {
        if (vm->map_dirty)
            sync_slots(vm);
        if (ioctl(vm->vcpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR)
                break;
            FAIL("KVM_RUN: %s", strerror(errno));
        }
        if (vm->run->exit_reason == KVM_EXIT_IO)
            exit_io(vm);
        else if (vm->run->exit_reason == KVM_EXIT_MMIO)
            exit_mmio(vm);
        else
            FAIL("unexpected KVM exit %u", vm->run->exit_reason);
        clock_run_timers(clock);
    }
    ok = vm->done;
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    return ok;
}

static void expect_log(struct vm *vm, const char *line)
{
    if (!strstr(vm->log, line))
        FAIL("SeaBIOS log lacks \"%s\"; log:\n%s", line, vm->log);
}

/* An El Torito no-emulation CD: PVD at 16, boot record at 17, terminator at 18,
 * catalog at 19, a 512-byte boot image at 20 that prints "CDB". */
struct bootcd {
    struct blockdev bd;
    uint8_t img[21 * 2048];
};

static int cd_read(struct blockdev *bd, uint64_t sector, uint32_t count, void *buf)
{
    struct bootcd *c = (struct bootcd *)bd;
    if (sector + count > bd->sectors)
        return -EIO;
    memcpy(buf, c->img + 512 * sector, 512 * (size_t)count);
    return 0;
}

static const struct blockdev_ops cd_ops = {cd_read, bd_write, bd_flush, bd_close, NULL, NULL};

static void make_iso(uint8_t *img)
{
    static const uint8_t code[] = {
        0xba, 0x02, 0x04, 0xb0, 'C', 0xee, 0xb0, 'D', 0xee, 0xb0, 'B', 0xee,
        0xba, 0x01, 0x05, 0xee, 0xfa, 0xf4, 0xeb, 0xfd,
    };
    uint8_t *pvd = img + 16 * 2048, *brvd = img + 17 * 2048, *term = img + 18 * 2048;
    uint8_t *cat = img + 19 * 2048, *boot = img + 20 * 2048;
    memset(img, 0, 21 * 2048);
    pvd[0] = 1;
    memcpy(pvd + 1, "CD001\001", 6);
    memset(pvd + 40, ' ', 32);
    memcpy(pvd + 40, "VMPLAYTEST", 10);
    brvd[0] = 0;
    memcpy(brvd + 1, "CD001\001EL TORITO SPECIFICATION", 29);
    brvd[0x47] = 19;
    term[0] = 0xff;
    memcpy(term + 1, "CD001\001", 6);
    cat[0] = 1;     /* validation entry, x86 */
    cat[0x1e] = 0x55;
    cat[0x1f] = 0xaa;
    uint16_t sum = 0;
    for (int i = 0; i < 32; i += 2)
        sum = (uint16_t)(sum + (cat[i] | cat[i + 1] << 8));
    sum = (uint16_t)-sum;
    cat[0x1c] = (uint8_t)sum;
    cat[0x1d] = (uint8_t)(sum >> 8);
    cat[0x20] = 0x88; /* bootable, no emulation, load segment 0 (07C0h) */
    cat[0x26] = 1;    /* one 512-byte virtual sector */
    cat[0x28] = 20;
    memcpy(boot, code, sizeof(code));
}

/*
 * Boots SeaBIOS with hd at ide0:0 and cd at ide1:0 (either may be NULL), CMOS boot
 * order cmos_boot (0x3D: 2 = hard disk, 3 = CD-ROM); returns the debug-port log and
 * whether the boot image left through EXIT_PORT.
 */
static bool boot_machine(struct blockdev *hd, struct blockdev *cd, uint8_t cmos_boot, struct vm *vm)
{
    uint8_t *ram = map_anon(RAM_SIZE), *bios = map_anon(BIOS_SIZE), *isa_rom = map_anon(I440FX_ISA_ROM_SIZE);
    load_bios(bios, isa_rom);
    vm_create(vm);
    vm->bus = bus_new();
    struct clock *clock = clock_new(CLOCK_REALTIME, 0);
    struct bus_listener l = {.map_changed = map_changed, .opaque = vm};
    ASSERT_EQ(bus_add_listener(vm->bus, &l), 0);
    ASSERT_EQ(bus_map_ram(vm->bus, 0, 0xa0000, ram, false, "ram-low"), 0);
    ASSERT_EQ(bus_map_ram(vm->bus, 0x100000, RAM_SIZE - 0x100000, ram + 0x100000, false, "ram"), 0);
    ASSERT_EQ(bus_map_ram(vm->bus, 0x100000000ull - BIOS_SIZE, BIOS_SIZE, bios, true, "bios"), 0);
    ASSERT_EQ(bus_map_pio(vm->bus, 0x70, 2, &cmos_ops, vm, "cmos"), 0);
    ASSERT_EQ(bus_map_pio(vm->bus, 0x402, EXIT_PORT - 0x402 + 1, &debug_ops, vm, "debug"), 0);
    cmos_init(vm);
    vm->cmos[0x3d] = cmos_boot;

    struct pci_bus *pci = pci_bus_new(vm->bus);
    struct irq isa[16];
    for (int i = 0; i < 16; i++)
        isa[i] = irq_make(kvm_irq, vm, i);
    struct i440fx *hb = i440fx_new(vm->bus, pci, ram, isa_rom);
    struct piix3 *isab = piix3_new(pci, 0x08, isa, (struct irq){0});
    struct ide *ide = ide_new(vm->bus, pci, 0x09, isa[14], isa[15]);
    struct piix4pm *pm = piix4pm_new(vm->bus, pci, 0x0b, clock, isa[9], irq_make(power_off_rec, vm, 0));
    ASSERT(hb && isab && ide && pm);
    struct error err;
    if (hd)
        ASSERT_EQ(ide_attach(ide, 0, 0, IDE_DISK, hd, &err), 0);
    if (cd)
        ASSERT_EQ(ide_attach(ide, 1, 0, IDE_CDROM, cd, &err), 0);
    sync_slots(vm);
    if (getenv("CHIPSET_TRACE"))
        trace_mask = 1u << TRACE_IDE;

    bool finished = vm_run(vm, clock, 30);
    vm->log[vm->loglen] = 0;
    if (getenv("CHIPSET_LOG"))
        fputs(vm->log, stderr);
    read_acpi(vm, ram);
    acpi_os(vm);

    ide_free(ide);
    piix4pm_free(pm);
    piix3_free(isab);
    i440fx_free(hb);
    pci_bus_free(pci);
    clock_free(clock);
    bus_free(vm->bus);
    munmap(vm->run, sizeof(*vm->run));
    close(vm->vcpu);
    close(vm->fd);
    close(vm->kvm);
    munmap(ram, RAM_SIZE);
    munmap(bios, BIOS_SIZE);
    munmap(isa_rom, I440FX_ISA_ROM_SIZE);
    return finished;
}

TEST(seabios_boots_from_the_ide_disk)
{
    struct vm *vm = calloc(1, sizeof(*vm));
    struct bootdisk disk = {.bd = {.ops = &bd_ops, .sectors = 20480, .format = "test"}};
    make_mbr(disk.mbr);
    bool finished = boot_machine(&disk.bd, NULL, 0x02, vm);
    expect_log(vm, "Running on QEMU (i440fx)");
    expect_log(vm, "PIIX3/PIIX4 init: elcr=00 0c");
    expect_log(vm, "PCI: map device bdf=00:01.1  bar 4, addr 0000c000, size 00000010 [io]");
    expect_log(vm, "PCI: init bdf=00:01.3 id=8086:7113");
    expect_log(vm, "ACPI DSDT=");
    expect_log(vm, "ata0-0: VMware Virtual IDE Hard Drive ATA-7 Hard-Disk (10 MiBytes)");
    expect_log(vm, "Booting from Hard Disk...");
    ASSERT(finished);
    expect_log(vm, "Booting from 0000:7c00\nMBR");
    /* The FADT SeaBIOS built from this PIIX4 PM function, and the S5 it declares. */
    ASSERT(vm->fadt_found);
    ASSERT_EQ(vm->sci_int, 9);
    ASSERT_EQ(vm->pm1a_evt, 0xb000);
    ASSERT_EQ(vm->pm1a_cnt, 0xb004);
    ASSERT_EQ(vm->pm_tmr, 0xb008);
    ASSERT_EQ(vm->smi_cmd, 0xb2);
    ASSERT_EQ(vm->acpi_enable, 0xf1);
    ASSERT_EQ(vm->s5_typ, 0);
    ASSERT(vm->sci_en_after_enable);
    ASSERT_EQ(vm->power_offs, 1);
    free(vm);
}

TEST(seabios_boots_el_torito_from_the_atapi_cdrom)
{
    struct vm *vm = calloc(1, sizeof(*vm));
    struct bootcd *cd = calloc(1, sizeof(*cd));
    cd->bd = (struct blockdev){.ops = &cd_ops, .sectors = 21 * 4, .read_only = true, .format = "iso"};
    make_iso(cd->img);
    bool finished = boot_machine(NULL, &cd->bd, 0x03, vm);
    expect_log(vm, "DVD/CD [ata1-0: VMware Virtual IDE CDROM Drive ATAPI-4 DVD/CD]");
    expect_log(vm, "Booting from DVD/CD...");
    ASSERT(finished);
    expect_log(vm, "CDB");
    free(cd);
    free(vm);
}
