/*
 * The KVM backend's CPUID and its probe. The vCPU gets the software core's
 * model (cpu/model.h: vendor, signature, cache descriptors, feature bits),
 * with the feature words of leaves 1 and 0x80000001 reduced to what
 * KVM_GET_SUPPORTED_CPUID allows, so both backends show the guest the same
 * CPU wherever the host can do it (no hypervisor bit, as on the software
 * core). The probe runs a one-page guest that executes HLT in a VM of its
 * own: /dev/kvm can open and still not run guests (nested setups, policy).
 */
#include "cpu/kvm.h"

#include <errno.h>
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

/* One model leaf; feature words keep only the bits the host supports. */
static void model_leaf(const struct kvm_cpuid2 *host, uint32_t leaf, struct kvm_cpuid_entry2 *e)
{
    uint32_t v[4];
    cpu_model_cpuid(leaf, v);
    *e = (struct kvm_cpuid_entry2){.function = leaf, .eax = v[0], .ebx = v[1], .ecx = v[2], .edx = v[3]};
    if (leaf == 1 || leaf == 0x80000001u) {
        const struct kvm_cpuid_entry2 *h = find_leaf(host, leaf);
        e->ecx &= h ? h->ecx : 0;
        e->edx &= h ? h->edx : 0;
    }
}

int kvm_cpuid_setup(int sys_fd, int vcpu_fd, struct error *err)
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
    static const uint32_t ranges[2] = {0, 0x80000000u}; /* basic and extended leaves */
    for (int r = 0; r < 2; r++) {
        uint32_t base = ranges[r];
        cpu_model_cpuid(base, v);
        for (uint32_t leaf = base; leaf <= v[0] && c->nent < CPUID_MAX_ENTRIES; leaf++)
            model_leaf(host, leaf, &c->entries[c->nent++]);
    }
    int rc = ioctl(vcpu_fd, KVM_SET_CPUID2, c);
    int e = errno;
    free(c);
    free(host);
    if (rc < 0)
        return error_set(err, EX_UNAVAILABLE, "--cpu=kvm: KVM_SET_CPUID2: %s", strerror(e));
    return 0;
}

/* ---- the probe VM ---- */

/* Real mode at 0000:1000: HLT. */
static int probe_run(int sys_fd, int vm, uint8_t *page, struct error *err)
{
    struct kvm_userspace_memory_region mr = {0, 0, 0x1000, 0x1000, (uintptr_t)page};
    page[0] = 0xF4;
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
    struct kvm_regs regs = {.rip = 0, .rflags = 2};
    int rc = -1;
    if (run != MAP_FAILED && ioctl(vcpu, KVM_GET_SREGS, &sr) == 0) {
        sr.cs.selector = 0x100;
        sr.cs.base = 0x1000;
        if (ioctl(vcpu, KVM_SET_SREGS, &sr) == 0 && ioctl(vcpu, KVM_SET_REGS, &regs) == 0)
            rc = ioctl(vcpu, KVM_RUN, 0);
    }
    if (rc < 0)
        error_set(err, EX_UNAVAILABLE, "KVM probe: KVM_RUN: %s", strerror(errno));
    else if (run->exit_reason != KVM_EXIT_HLT)
        rc = error_set(err, EX_UNAVAILABLE, "KVM probe: a HLT guest exited with reason %u, not HLT",
                       run->exit_reason);
    if (run != MAP_FAILED)
        munmap(run, (size_t)size);
    close(vcpu);
    return rc < 0 ? -1 : 0;
}

int kvm_probe(int sys_fd, struct error *err)
{
    int vm = ioctl(sys_fd, KVM_CREATE_VM, 0);
    if (vm < 0)
        return error_set(err, EX_UNAVAILABLE, "KVM probe: KVM_CREATE_VM: %s", strerror(errno));
    if (ioctl(sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0)
        (void)ioctl(vm, KVM_SET_TSS_ADDR, 0xFFFBD000ul);
    uint8_t *page = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int rc = page == MAP_FAILED ? error_set(err, EX_OSERR, "KVM probe: out of memory")
                                : probe_run(sys_fd, vm, page, err);
    if (page != MAP_FAILED)
        munmap(page, 0x1000);
    close(vm);
    return rc;
}
