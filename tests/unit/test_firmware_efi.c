/*
 * firmware = "efi": the .vmx keys (nvram resolved beside the .vmx,
 * uefi.secureBoot.enabled), where the VM's own variable store goes (never
 * VMware's .nvram file itself), and loading Debian's OVMF 4M build when it is
 * installed (code + variable store filling the 4 MiB below 4 GiB, as QEMU's pc
 * maps the two pflash units; the store starts with an EFI firmware volume
 * header, signature "_FVH" at byte 40, PI spec vol. 3).
 */
#include "devices/firmware.h"
#include "formats/vmx.h"
#include "tests/unit/test.h"

#include <stdlib.h>
#include <unistd.h>

static struct vm_config *build(const char *text)
{
    struct vmx *v;
    struct vm_config *c;
    struct error e = {0};
    if (vmx_parse(text, strlen(text), "/vms/t/t.vmx", &v, &e) < 0)
        FAIL("parse: %s", e.msg);
    int rc = config_build(v, "/vms/t/t.vmx", &c, &e);
    vmx_free(v);
    if (rc < 0)
        FAIL("build: %s", e.msg);
    return c;
}

TEST(nvram_and_secure_boot_keys)
{
    struct vm_config *c = build("firmware = \"efi\"\nnvram = \"My VM.nvram\"\n"
                                "uefi.secureBoot.enabled = \"TRUE\"\n");
    ASSERT_EQ(c->firmware, VM_FW_EFI);
    ASSERT_STR_EQ(c->nvram_path, "/vms/t/My VM.nvram");
    ASSERT(c->secure_boot);
    ASSERT_EQ(c->nunknown, 0);
    char *p = firmware_efi_store_path(c);
    ASSERT_STR_EQ(p, "/vms/t/My VM.ovmfvars");
    free(p);
    config_free(c);
}

TEST(store_path_without_nvram_key)
{
    struct vm_config *c = build("firmware = \"efi\"\n");
    ASSERT(c->nvram_path == NULL);
    ASSERT(!c->secure_boot);
    char *p = firmware_efi_store_path(c);
    ASSERT_STR_EQ(p, "/vms/t/t.ovmfvars");
    free(p);
    config_free(c);
}

TEST(ovmf_4m_loads)
{
    if (access("/usr/share/OVMF/OVMF_CODE_4M.fd", R_OK) < 0)
        SKIP("Debian's ovmf package is not installed (/usr/share/OVMF/OVMF_CODE_4M.fd)");
    struct firmware fw;
    struct error err = {0};
    ASSERT(firmware_load_efi(NULL, &fw, &err) == 0);
    ASSERT(fw.efi);
    ASSERT_EQ(fw.bios_size + fw.vars_size, 4u << 20);
    ASSERT(fw.vars_size >= 40 + 4 && memcmp(fw.vars + 40, "_FVH", 4) == 0);
    ASSERT(memcmp(fw.bios + 40, "_FVH", 4) == 0);
    firmware_free(&fw);
}

TEST(missing_ovmf_is_unavailable)
{
    struct firmware fw;
    struct error err = {0};
    ASSERT(firmware_load_efi(test_tmpdir(), &fw, &err) < 0);
    ASSERT_EQ(err.code, EX_UNAVAILABLE);
    ASSERT(strstr(err.msg, "OVMF_CODE_4M.fd"));
}
