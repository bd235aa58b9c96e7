/*
 * The KVM backend's CPUID and its probe. The vCPU gets the software core's
 * model (cpu/model.h: vendor, signature, cache descriptors, feature bits),
 * with the feature words of leaves 1 and 0x80000001 reduced to what
 * KVM_GET_SUPPORTED_CPUID allows, so both backends show the guest the same
 * CPU wherever the host can do it. A VMware VM's hypervisor bit and leaves
 * 0x40000000..0x40000010 are the model's too (KVM lists no hypervisor bit of its
 * own to reduce them by); leaf 0x40000010 carries the vCPU's real TSC rate. The machine-check banks follow the model too: KVM_X86_SETUP_MCE
 * gives the vCPU the model's MCG_CAP, and where the host's KVM cannot (no
 * KVM_CAP_MCE, too few banks, a capability bit it lacks) CPUID loses MCE and
 * MCA instead, so the bits never announce banks the vCPU does not have.
 * The probes run tiny guests in VMs of their own, because /dev/kvm
 * can open and still not run guests: one executes HLT in real mode (needed
 * for --cpu=kvm), the other IRETD and HLT in paged 32-bit protected mode
 * (needed for --cpu=auto to pick KVM: nested or emulating KVMs that cannot
 * run a PC's firmware and OS kernel stop here with an emulation failure).
 */
#include "cpu/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu/model.h"

#define CPUID_MAX_ENTRIES 256

static struct kvm_cpuid2 *supported_cpuid(int sys_fd)
{
    size_t bytes = sizeof(struct kvm_cpuid2) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
    struct kvm_cpuid2 *c = calloc(1, bytes);
    if (!c)
        return NULL;
    c->nent = CPUID_MAX_ENTRIES;
    if (ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
        free(c);
        return NULL;
    }
    return c;
}

static const struct kvm_cpuid_entry2 *find_leaf(const struct kvm_cpuid2 *c, uint32_t leaf)
{
    for (uint32_t i = 0; i < c->nent; i++)
        if (c->entries[i].function == leaf && c->entries[i].index == 0)
            return &c->entries[i];
    return NULL;
}

#define CPUID_1_EDX_MCE (1u << 7)
#define CPUID_1_EDX_MCA (1u << 14)

/* Gives the vCPU the model's MCG_CAP; false where this KVM cannot. */
static bool mce_setup(int sys_fd, int vcpu_fd)
{
    uint64_t cap = cpu_model_mcg_cap(), supported = 0;
    int banks = ioctl(sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_MCE);
    if (banks < (int)(cap & 0xFF) || ioctl(sys_fd, KVM_X86_GET_MCE_CAP_SUPPORTED, &supported) < 0)
        return false;
    if (cap & ~(uint64_t)0xFF & ~supported)
        return false;
    return ioctl(vcpu_fd, KVM_X86_SETUP_MCE, &cap) == 0;
}

uint32_t kvm_vcpu_tsc_khz(int vcpu_fd)
{
    int khz = ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);
    return khz > 0 ? (uint32_t)khz : CPU_MODEL_TSC_KHZ;
}

/* One model leaf; feature words keep only the bits the host supports. tsc_khz: 0 for a
 * plain model, else the VMware platform's leaves with that TSC rate. */
static void model_leaf(const struct kvm_cpuid2 *host, uint32_t leaf, struct kvm_cpuid_entry2 *e,
                       bool mce, uint32_t tsc_khz)
{
    uint32_t v[4];
    if (tsc_khz)
        cpu_model_cpuid_vmware(leaf, tsc_khz, v);
    else
        cpu_model_cpuid(leaf, v);
    *e = (struct kvm_cpuid_entry2){.function = leaf, .eax = v[0], .ebx = v[1], .ecx = v[2], .edx = v[3]};
    if (leaf == 1 || leaf == 0x80000001u) {
        const struct kvm_cpuid_entry2 *h = find_leaf(host, leaf);
        e->ecx &= (h ? h->ecx : 0) | (leaf == 1 ? v[2] & CPU_MODEL_1_ECX_HYPERVISOR : 0);
        e->edx &= h ? h->edx : 0;
    }
    if (leaf == 1 && !mce)
        e->edx &= ~(CPUID_1_EDX_MCE | CPUID_1_EDX_MCA);
}

int kvm_cpuid_setup(int sys_fd, int vcpu_fd, bool vmware, struct error *err)
{
    struct kvm_cpuid2 *host = supported_cpuid(sys_fd);
    if (!host)
        return error_set(err, EX_UNAVAILABLE, "--cpu=kvm: KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
    struct kvm_cpuid2 *c = calloc(1, sizeof *c + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
    if (!c) {
        free(host);
        return error_set(err, EX_OSERR, "out of memory");
    }
    uint32_t v[4];
    bool mce = mce_setup(sys_fd, vcpu_fd);
    uint32_t tsc_khz = vmware ? kvm_vcpu_tsc_khz(vcpu_fd) : 0;
    /* basic, hypervisor (a VMware VM's only) and extended leaves */
    static const uint32_t ranges[3] = {0, CPU_MODEL_HV_LEAF, 0x80000000u};
    for (int r = 0; r < 3; r++) {
        uint32_t base = ranges[r];
        if (base == CPU_MODEL_HV_LEAF && !vmware)
            continue;
        cpu_model_cpuid_vmware(base, 1, v);
        for (uint32_t leaf = base; leaf <= v[0] && c->nent < CPUID_MAX_ENTRIES; leaf++)
            model_leaf(host, leaf, &c->entries[c->nent++], mce, tsc_khz);
    }
    int rc = ioctl(vcpu_fd, KVM_SET_CPUID2, c);
    int e = errno;
    free(c);
    free(host);
    if (rc < 0)
        return error_set(err, EX_UNAVAILABLE, "--cpu=kvm: KVM_SET_CPUID2: %s", strerror(e));
    return 0;
}

/* ---- the probe VMs ---- */

#define PROBE_MEM 0x4000
/* 32-bit paged code at 0x1000: PUSHFD; PUSH 8; PUSH 0x1009; IRETD; HLT. */
static const uint8_t probe_paged_code[] = {0x9C, 0x6A, 0x08, 0x68, 0x09, 0x10, 0x00, 0x00, 0xCF, 0xF4};

/* Flat GDT at 0, page directory at 0x2000 and table at 0x3000 mapping the 16 KiB 1:1. */
static void probe_paged_setup(uint8_t *mem, struct kvm_sregs *sr, struct kvm_regs *regs)
{
    const uint64_t gdt[3] = {0, 0x00CF9B000000FFFFull, 0x00CF93000000FFFFull};
    memcpy(mem, gdt, sizeof gdt);
    const uint32_t pde = 0x3000 | 3, pte[4] = {0x0003, 0x1003, 0x2003, 0x3003};
    memcpy(mem + 0x2000, &pde, 4);
    memcpy(mem + 0x3000, pte, sizeof pte);
    memcpy(mem + 0x1000, probe_paged_code, sizeof probe_paged_code);
    struct kvm_segment code = {.limit = 0xFFFFFFFF, .selector = 8, .type = 11, .present = 1,
                               .s = 1, .db = 1, .g = 1};
    struct kvm_segment data = code;
    data.selector = 16;
    data.type = 3;
    sr->cs = code;
    sr->ds = sr->es = sr->fs = sr->gs = sr->ss = data;
    sr->gdt.base = 0;
    sr->gdt.limit = sizeof gdt - 1;
    sr->cr0 = 0x80000011; /* PG PE ET */
    sr->cr3 = 0x2000;
    sr->cr4 = 0;
    regs->rip = 0x1000;
    regs->rsp = 0x1800;
}

/* Real mode at 0100:0000 (0x1000): HLT. */
static void probe_real_setup(uint8_t *mem, struct kvm_sregs *sr, struct kvm_regs *regs)
{
    mem[0x1000] = 0xF4;
    sr->cs.selector = 0x100;
    sr->cs.base = 0x1000;
    regs->rip = 0;
}

/* What the probe's unexpected exit was, in words. */
static const char *exit_name(uint32_t reason)
{
    switch (reason) {
    case KVM_EXIT_SHUTDOWN: return "a triple fault";
    case KVM_EXIT_INTERNAL_ERROR: return "an emulation failure";
    case KVM_EXIT_FAIL_ENTRY: return "a failed VM entry";
    case KVM_EXIT_IO: return "port I/O";
    case KVM_EXIT_MMIO: return "an MMIO access";
    default: return "another exit";
    }
}

static int probe_run(int sys_fd, int vm, uint8_t *mem, bool paged, struct error *err)
{
    struct kvm_userspace_memory_region mr = {0, 0, 0, PROBE_MEM, (uintptr_t)mem};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mr) < 0)
        return error_set(err, EX_UNAVAILABLE, "KVM probe: memory slot: %s", strerror(errno));
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    int size = ioctl(sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (vcpu < 0 || size <= 0) {
        if (vcpu >= 0)
            close(vcpu);
        return error_set(err, EX_UNAVAILABLE, "KVM probe: KVM_CREATE_VCPU: %s", strerror(errno));
    }
    struct kvm_run *run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    struct kvm_sregs sr;
    struct kvm_regs regs = {.rflags = 2};
    int rc = -1;
    if (run != MAP_FAILED && ioctl(vcpu, KVM_GET_SREGS, &sr) == 0) {
        (paged ? probe_paged_setup : probe_real_setup)(mem, &sr, &regs);
        if (ioctl(vcpu, KVM_SET_SREGS, &sr) == 0 && ioctl(vcpu, KVM_SET_REGS, &regs) == 0)
            rc = ioctl(vcpu, KVM_RUN, 0);
    }
    if (rc < 0)
        error_set(err, EX_UNAVAILABLE, "KVM probe: KVM_RUN: %s", strerror(errno));
    else if (run->exit_reason != KVM_EXIT_HLT)
        rc = error_set(err, EX_UNAVAILABLE, "the %s probe guest stopped with %s (exit reason %u), not HLT",
                       paged ? "paged (IRETD)" : "real-mode", exit_name(run->exit_reason),
                       run->exit_reason);
    if (run != MAP_FAILED)
        munmap(run, (size_t)size);
    close(vcpu);
    return rc < 0 ? -1 : 0;
}

int kvm_probe(int sys_fd, bool paged, struct error *err)
{
    int vm = ioctl(sys_fd, KVM_CREATE_VM, 0);
    if (vm < 0)
        return error_set(err, EX_UNAVAILABLE, "KVM probe: KVM_CREATE_VM: %s", strerror(errno));
    if (ioctl(sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0)
        (void)ioctl(vm, KVM_SET_TSS_ADDR, 0xFFFBD000ul);
    uint8_t *mem = mmap(NULL, PROBE_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int rc = mem == MAP_FAILED ? error_set(err, EX_OSERR, "KVM probe: out of memory")
                               : probe_run(sys_fd, vm, mem, paged, err);
    if (mem != MAP_FAILED)
        munmap(mem, PROBE_MEM);
    close(vm);
    return rc;
}

int kvm_probe_full(struct error *why)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return error_set(why, EX_UNAVAILABLE, "/dev/kvm: %s", strerror(errno));
    int rc = ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION
                 ? error_set(why, EX_UNAVAILABLE, "/dev/kvm speaks another API version")
                 : kvm_probe(fd, false, why);
    struct error e;
    if (rc == 0 && kvm_probe(fd, true, &e) < 0) {
        error_set(why, EX_UNAVAILABLE, "KVM runs real mode but not paged protected mode: %s; "
                  "--cpu=kvm forces it", e.msg);
        rc = -1;
    } else if (rc == 0) {
        error_set(why, 0, "/dev/kvm opened and probe VMs ran real-mode and paged protected-mode code");
    }
    close(fd);
    return rc;
}
