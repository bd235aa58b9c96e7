#!/usr/bin/env bash
# firmware = "efi": Debian's OVMF on the software core boots the EFI appliance
# (tests/images/efi.sh) from an IDE disk. Oracles: OVMF's own boot manager lines
# on serial0 (BdsDxe starting the disk's boot option by its ATA device path),
# GRUB's banner (BOOTX64.EFI from the ESP ran), and the VM's variable store file
# (beside the .vmx, never VMware's .nvram): created from OVMF_VARS_4M.fd, same
# size, and holding the Boot#### option OVMF wrote for the disk (its description
# in UCS-2), which only a working CFI program/erase path puts there; the kernel
# enables ACPI from the board's tables (devices/acpi_tables.c, through OVMF's loader)
# without an AML error and powers off through S5 (status 0).
# Two boots, the second reading back the variable the first wrote. With 256 MiB GRUB says 'out of memory' loading the
# kernel under qemu-system-x86_64 -accel tcg too (same OVMF, same image): 1 GiB.
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS guest-efi/$1"; }
bad() { echo "FAIL guest-efi/$1: $2"; }
[ -r /usr/share/OVMF/OVMF_CODE_4M.fd ] || { echo "SKIP guest-efi: Debian's ovmf is not installed"; exit 0; }
img=$(tests/images/efi.sh 2>"$BUILD/efi-build.log") || {
    bad image_build "tests/images/efi.sh failed: $(tail -3 "$BUILD/efi-build.log" | tr '\n' ' ')"
    exit 0
}
ok image_build
run=$BUILD/guest/efi
rm -rf "$run"; mkdir -p "$run"
cp "$img/efi.vmdk" "$run/"
cat > "$run/efi.vmx" <<'EOF'
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "vmplay EFI appliance"
guestOS = "debian12-64"
memsize = "1024"
firmware = "efi"
nvram = "efi.nvram"
serial0.present = "TRUE"
serial0.fileType = "file"
serial0.fileName = "serial.txt"
ide0:0.present = "TRUE"
ide0:0.fileName = "efi.vmdk"
EOF
(cd "$run" && exec timeout 900 "$V" --headless --cpu=soft --timeout=540 --screenshot=shot.png efi.vmx \
    >stdout.txt 2>stderr.txt) &
pid=$!
# A guest that halts instead of powering off (its ACPI not enabled) is given 5 s more,
# then the player is stopped as a user would (SIGTERM: the VM powered off, its
# variable store written), rather than waiting for --timeout; that is a failure.
halted=
for ((t = 0; t < 1800; t++)); do
    kill -0 $pid 2>/dev/null || break
    if grep -aq 'reboot: System halted' "$run/serial.txt" 2>/dev/null; then
        sleep 5
        kill -0 $pid 2>/dev/null && { halted=1; kill -TERM $pid; }
        break
    fi
    sleep 0.5
done
wait $pid; st=$?
if [ "$st" = 0 ] && [ -z "$halted" ] && grep -aq 'reboot: Power down' "$run/serial.txt"; then
    ok exit_status_poweroff
else
    bad exit_status_poweroff "status $st$([ -n "$halted" ] && echo ', the guest halted instead of powering off'): $(grep -a 'ACPI' "$run/serial.txt" | head -2 | tr '\n' '|') $(head -c 300 "$run/stderr.txt")"
fi
# The board's tables under OVMF (devices/acpi_tables.c): ACPI on, its AML parsed without
# an error (the kernel prints errors even with "quiet").
if grep -aq 'ACPI.*\(Error\|Unable\|Warning\)' "$run/serial.txt"; then
    bad acpi_tables_accepted "$(grep -a 'ACPI.*\(Error\|Unable\|Warning\)' "$run/serial.txt" | head -2 | tr '\n' '|')"
else
    ok acpi_tables_accepted
fi
grep -aq 'BdsDxe: starting Boot[0-9A-F]* ".*IDE Hard Drive.*" from PciRoot(0x0)/Pci(0x1,0x1)/Ata(Primary,Master' "$run/serial.txt" &&
    ok ovmf_starts_ide_disk || bad ovmf_starts_ide_disk "no BdsDxe start line: $(tail -c 300 "$run/serial.txt" | tr -d '\033' | tr '\n' '|')"
grep -aq 'Welcome to GRUB!' "$run/serial.txt" && ok bootx64_efi_runs || bad bootx64_efi_runs "no GRUB banner"
[ ! -e "$run/efi.nvram" ] && ok vmware_nvram_untouched || bad vmware_nvram_untouched "efi.nvram was created"
store=$run/efi.ovmfvars
if [ -f "$store" ] && [ "$(stat -c %s "$store")" = "$(stat -c %s /usr/share/OVMF/OVMF_VARS_4M.fd)" ] &&
    python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.exit(0 if "IDE Hard Drive".encode("utf-16-le") in d else 1)' "$store"; then
    ok variable_store_written
else
    bad variable_store_written "$store missing, of another size, or without OVMF's boot option"
fi
[ ! -e "$store.tmp" ] && ok no_half_store || bad no_half_store "$store.tmp left behind"
# The markers qemu-system-x86_64 -accel tcg -M pc -m 1024 printed for the same image and OVMF
# (expected/efi-markers.txt; its "disks" line is left out: QEMU's pc adds a floppy and a CD-ROM).
expected=$(sed "s/@KVER@/$(cat "$img/kernel-version")/" tests/guest/expected/efi-markers.txt)
got=$(grep -ao 'VMPLAY-MARKER.*' "$run/serial.txt" 2>/dev/null | tr -d '\r' | sed 's/ *$//' | grep -v 'disks')
[ "$got" = "$expected" ] && ok kernel_markers_as_qemu ||
    bad kernel_markers_as_qemu "$(diff <(echo "$expected") <(echo "$got") | grep '^[<>]' | head -4 | tr '\n' '|') last serial: $(tail -c 300 "$run/serial.txt" | tr -d '\033' | tr '\n' '|')"

# A restart: the variable the guest wrote is read back from the VM's store (the second
# boot on the translator, which takes OVMF's 32-bit start; long mode stays interpreted).
mv "$run/serial.txt" "$run/serial-first.txt"
(cd "$run" && timeout 900 "$V" --headless --cpu=soft --jit=on --timeout=540 efi.vmx \
    >stdout2.txt 2>stderr2.txt); st=$?
# (The guest cannot write it again: efivarfs makes a variable it found at boot immutable,
# and busybox has no chattr.)
if [ "$st" = 0 ] && grep -aq 'VMPLAY-MARKER: efivar before 1' "$run/serial.txt"; then
    ok variable_survives_restart "(the value 1 the first boot wrote, read back; status 0)"
else
    bad variable_survives_restart "status $st: $(grep -ao 'VMPLAY-MARKER: efivar.*' "$run/serial.txt" 2>/dev/null | tr -d '\r' | tr '\n' '|') $(head -c 200 "$run/stderr2.txt")"
fi
