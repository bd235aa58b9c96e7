/* Run-time tracing (see trace.h). */
#include "devices/trace.h"

#include <stdarg.h>
#include <string.h>

unsigned trace_mask;
static FILE *trace_file;

static const char *const area_names[TRACE_AREAS] = {
    [TRACE_IO] = "io",     [TRACE_CPU] = "cpu",     [TRACE_EXC] = "exc",     [TRACE_PIC] = "pic",   [TRACE_PIT] = "pit",
    [TRACE_RTC] = "rtc",   [TRACE_UART] = "uart",   [TRACE_PS2] = "ps2",   [TRACE_IDE] = "ide",
    [TRACE_PCI] = "pci",   [TRACE_VGA] = "vga",     [TRACE_FWCFG] = "fwcfg", [TRACE_APIC] = "apic",
    [TRACE_ACPI] = "acpi",
};

const char *trace_area_names(void)
{
    return "io,cpu,exc,pic,pit,rtc,uart,ps2,ide,pci,vga,fwcfg,apic,acpi,all";
}

int trace_parse(const char *list, unsigned *mask, const char **bad, size_t *badlen)
{
    unsigned m = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        int found = 0;
        if (n == 3 && strncmp(p, "all", 3) == 0) {
            m = (1u << TRACE_AREAS) - 1;
            found = 1;
        }
        for (int a = 0; a < TRACE_AREAS && !found; a++) {
            if (strlen(area_names[a]) == n && strncmp(p, area_names[a], n) == 0) {
                m |= 1u << a;
                found = 1;
            }
        }
        if (!found && n > 0) {
            *bad = p;
            *badlen = n;
            return -1;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    *mask = m;
    return 0;
}

void trace_set_file(FILE *f)
{
    trace_file = f;
}

void trace_printf(enum trace_area a, const char *fmt, ...)
{
    FILE *f = trace_file ? trace_file : stderr;
    va_list ap;
    va_start(ap, fmt);
    fprintf(f, "[%s] ", area_names[a]);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
}
