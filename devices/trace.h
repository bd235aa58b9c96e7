/*
 * Run-time tracing (--trace=io,pic,pit,ide,cpu,...): one process-wide set of
 * enabled areas and one output stream (stderr by default). Debug output
 * only: a device checks trace_on(TRACE_PIC) before formatting anything.
 */
#ifndef VMPLAY_TRACE_H
#define VMPLAY_TRACE_H

#include <stdbool.h>
#include <stdio.h>

enum trace_area {
    TRACE_IO,    /* every port and MMIO access (through the bus) */
    TRACE_CPU,   /* blocks, exceptions, interrupts */
    TRACE_EXC,   /* exceptions and interrupts only, at full speed */
    TRACE_PIC,
    TRACE_PIT,
    TRACE_RTC,
    TRACE_UART,
    TRACE_PS2,
    TRACE_IDE,
    TRACE_PCI,
    TRACE_VGA,
    TRACE_FWCFG,
    TRACE_APIC,
    TRACE_ACPI,
    TRACE_AREAS
};

extern unsigned trace_mask; /* bit per enum trace_area; set once by the player */

static inline bool trace_on(enum trace_area a)
{
    return (trace_mask >> a) & 1;
}

/* Parses "io,pic,..." or "all"; returns 0, or -1 naming the bad word in *bad. */
int trace_parse(const char *list, unsigned *mask, const char **bad, size_t *badlen);
/* Names of all areas, comma-separated (for --help). */
const char *trace_area_names(void);
void trace_set_file(FILE *f);
void trace_printf(enum trace_area a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
