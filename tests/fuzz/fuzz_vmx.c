/*
 * libFuzzer target: arbitrary bytes through vmx_parse, the dictionary
 * lookups and config_build + config_print. Besides the sanitizers it checks
 * the invariants the player relies on: every entry is found again by its own
 * key, and every error is a single line with a sysexits code.
 */
#include "formats/config.h"
#include "formats/vmx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_error(const struct error *e)
{
    if (strchr(e->msg, '\n') || e->code < EX__BASE || e->code > EX__MAX)
        __builtin_trap();
}

static void check_lookups(const struct vmx *v)
{
    for (size_t i = 0; i < vmx_count(v); i++) {
        const struct vmx_entry *e = vmx_entry_at(v, i);
        if (vmx_find(v, e->key) != e || vmx_get(v, e->key) != e->value)
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *null_out;
    if (!null_out)
        null_out = fopen("/dev/null", "w");
    struct vmx *v;
    struct error e = { 0 };
    if (vmx_parse((const char *)data, size, "fuzz.vmx", &v, &e) < 0) {
        check_error(&e);
        return 0;
    }
    check_lookups(v);
    struct vm_config *c;
    if (config_build(v, "/fuzz/vm/fuzz.vmx", &c, &e) == 0) {
        config_print(c, null_out, true);
        config_free(c);
    } else {
        check_error(&e);
    }
    vmx_free(v);
    return 0;
}
