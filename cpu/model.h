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

#endif
