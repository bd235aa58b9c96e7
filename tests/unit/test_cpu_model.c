/*
 * The CPU model's VMware face (cpu/model.h): what Linux's arch/x86/kernel/cpu/vmware.c
 * checks to call the VM VMware (CPUID.1:ECX bit 31, then leaf 0x40000000's EBX ECX EDX
 * spelling "VMwareVMware") and the timing leaf 0x40000010 VMware documents (EAX the TSC
 * in kHz, EBX the APIC bus in kHz, ECX bits 0/1 VMMCALL/VMCALL hypercalls, here none);
 * the plain model keeps none of it.
 */
#include "cpu/model.h"
#include "tests/unit/test.h"

#include <string.h>

TEST(vmware_leaves)
{
    uint32_t v[4];
    cpu_model_cpuid_vmware(1, 2400000, v);
    ASSERT(v[2] & (1u << 31));
    uint32_t plain[4];
    cpu_model_cpuid(1, plain);
    ASSERT_EQ(plain[2] & (1u << 31), 0);
    ASSERT_EQ(v[2] & ~(1u << 31), plain[2]);
    ASSERT_EQ(v[3], plain[3]);
    cpu_model_cpuid_vmware(0x40000000u, 2400000, v);
    ASSERT(v[0] >= 0x40000010u);
    char sig[13] = {0};
    memcpy(sig, &v[1], 4);
    memcpy(sig + 4, &v[2], 4);
    memcpy(sig + 8, &v[3], 4);
    ASSERT_STR_EQ(sig, "VMwareVMware");
    cpu_model_cpuid_vmware(0x40000010u, 2400000, v);
    ASSERT_EQ(v[0], 2400000);
    ASSERT_EQ(v[1], 1000000); /* devices/apic.h: a 1 GHz bus */
    ASSERT_EQ(v[2] & 3, 0);
    cpu_model_cpuid_vmware(0x40000005u, 2400000, v);
    ASSERT_EQ(v[0] | v[1] | v[2] | v[3], 0);
    cpu_model_cpuid(0x40000000u, plain);
    ASSERT_EQ(plain[1] | plain[2] | plain[3], 0);
    /* The basic and extended maxima are the plain model's. */
    cpu_model_cpuid_vmware(0, 1, v);
    cpu_model_cpuid(0, plain);
    ASSERT_EQ(v[0], plain[0]);
}
