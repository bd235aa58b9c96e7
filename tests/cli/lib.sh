# Shared by the tests/cli scripts (sourced; not a test itself: no t_ prefix).
# spin_vm DIR: DIR/spin.bin, a 64 KiB ROM spinning on port I/O at the reset
# vector ("in al, 0x80; jmp back", slow to emulate, no ACPI), and DIR/rom.vmx.
spin_vm() {
    head -c 65536 /dev/zero | tr '\0' '\377' > "$1/spin.bin"
    printf '\344\200\353\374' | dd of="$1/spin.bin" bs=1 seek=$((0xFFF0)) conv=notrunc status=none
    printf '.encoding = "UTF-8"\nconfig.version = "8"\nmemsize = "32"\n' > "$1/rom.vmx"
}
