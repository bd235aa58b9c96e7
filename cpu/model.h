/*
 * The CPU model both backends present: the software core's CPUID (an
 * Atom-class part, family 6 model 28, with only the features the core
 * implements, long mode among them), defined in cpu/exec_sys.c. The KVM backend programs the same
 * leaves into its vCPU, reduced to what the host supports, so a guest sees
 * one CPU whichever backend runs it. Leaves past the maximums read as zeros.
 */
#ifndef VMPLAY_CPU_MODEL_H
#define VMPLAY_CPU_MODEL_H

#include <stdint.h>

/* EAX..EDX of CPUID leaf (sub-leaf 0) in out[0..3]. */
void cpu_model_cpuid(uint32_t leaf, uint32_t out[4]);
/* IA32_MCG_CAP of the model (bank count in bits 7:0; CPUID.1:EDX has MCE and MCA). */
uint64_t cpu_model_mcg_cap(void);

/* The software core's RDTSC rate and the local APIC timer's input clock (devices/apic.h). */
#define CPU_MODEL_TSC_KHZ 1000000u
#define CPU_MODEL_BUS_KHZ 1000000u
#define CPU_MODEL_HV_LEAF 0x40000000u   /* "VMwareVMware", EAX the last hypervisor leaf */
#define CPU_MODEL_HV_TIMING 0x40000010u /* EAX the TSC's kHz, EBX the APIC bus's kHz */
#define CPU_MODEL_1_ECX_HYPERVISOR (1u << 31)
/* The model as a VMware VM shows it: the same leaves, CPUID.1:ECX's hypervisor bit
 * set, and the hypervisor leaves 0x40000000..0x40000010 as VMware fills them (the
 * others in that range read as zeros), with tsc_khz the rate the guest's RDTSC runs at. */
void cpu_model_cpuid_vmware(uint32_t leaf, uint32_t tsc_khz, uint32_t out[4]);

#endif
