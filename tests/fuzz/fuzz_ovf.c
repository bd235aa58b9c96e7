/*
 * libFuzzer target: arbitrary bytes as an OVF envelope through ovf_to_vmx, and
 * the .vmx lines it makes through vmx_parse and config_build. Besides the
 * sanitizers it checks that every error is one line with a sysexits code and
 * that the generated text always parses as a .vmx (ovf.c escapes what it copies).
 */
#include "formats/config.h"
#include "formats/ovf.h"
#include "formats/vmx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* config.c asks a SCSI disk's descriptor for its adapter type; the fuzzer opens no files. */
int vmdk_adapter_type(const char *path, char *out, size_t len)
{
    if (len)
        out[0] = 0;
    return -1;
}

static void check_error(const struct error *e)
{
    if (strchr(e->msg, '\n') || e->code < EX__BASE || e->code > EX__MAX)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *null_out;
    if (!null_out)
        null_out = fopen("/dev/null", "w");
    char *text;
    struct error e = {0};
    if (ovf_to_vmx((const char *)data, size, "fuzz.ovf", &text, null_out, &e) < 0) {
        check_error(&e);
        return 0;
    }
    struct vmx *v;
    if (vmx_parse(text, strlen(text), "fuzz.ovf", &v, &e) < 0)
        __builtin_trap(); /* ovf.c wrote a line the .vmx syntax does not take */
    struct vm_config *c;
    if (config_build(v, "/fuzz/fuzz.ova", &c, &e) == 0) {
        config_print(c, null_out, true);
        config_free(c);
    } else
        check_error(&e);
    vmx_free(v);
    free(text);
    return 0;
}
