#!/usr/bin/env bash
# Embedded firmware (mk/firmware.mk): with /usr/share/seabios hidden (an empty folder
# bind-mounted over it in a private mount namespace) the test appliance still boots to
# the markers it prints with the system's SeaBIOS (tests/guest/expected/test-markers.txt),
# and --check says the firmware is the embedded one; --firmware-dir=/usr/share/seabios in
# the same namespace is refused (69) because the files are not there. The same for OVMF
# with /usr/share/OVMF hidden (below). A binary built without SeaBIOS (or OVMF) on the
# build host skips that part.
set -u
V=${VMPLAY:-./vmplay}
ok() { echo "PASS firmware/$1"; }
bad() { echo "FAIL firmware/$1: $2"; }
skip() { echo "SKIP firmware/$1: $2"; }
nm "$V" 2>/dev/null | grep -q ' vmplay_fw_bios$' ||
    { skip all "this vmplay has no embedded firmware (no SeaBIOS on the build host)"; exit 0; }
unshare -m true 2>/dev/null || { skip all "no private mount namespace (unshare -m) to hide /usr/share/seabios"; exit 0; }
img=$(BUILD=$BUILD tests/images/appliance.sh 2>"$BUILD/appliance-build.log") ||
    { bad image_build "$(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"; exit 0; }
run=$BUILD/guest/firmware
rm -rf "$run"; mkdir -p "$run/vm" "$run/empty"
cp "$img/test.vmx" "$img/test.vmdk" "$img/data.vmdk" "$run/vm/"
hidden() { # command...: with an empty /usr/share/seabios and /usr/share/OVMF
    unshare -m sh -c 'mount --make-rprivate / && mkdir -p /usr/share/seabios /usr/share/OVMF &&
        mount --bind "$1" /usr/share/seabios && mount --bind "$1" /usr/share/OVMF &&
        shift && exec "$@"' sh "$run/empty" "$@"
}
out=$(cd "$run/vm" && hidden "$V" --check test.vmx 2>&1)
echo "$out" | grep -q '^firmware: embedded' && ok check_names_embedded || bad check_names_embedded "$(echo "$out" | grep firmware)"
(cd "$run/vm" && hidden "$V" --check --firmware-dir=/usr/share/seabios test.vmx >/dev/null 2>"$run/dir.err"); st=$?
[ $st = 69 ] && grep -q 'not found' "$run/dir.err" && ok firmware_dir_overrides ||
    bad firmware_dir_overrides "status $st: $(head -c 200 "$run/dir.err")"
(cd "$run/vm" && hidden timeout 900 "$V" --headless --cpu=soft --timeout=600 --snapshot test.vmx \
    >/dev/null 2>"$run/run.err"); st=$?
kver=$(cat "$img/kernel-version")
want=$(sed "s/@KVER@/$kver/" tests/guest/expected/test-markers.txt)
got=$(grep -a '^VMPLAY-MARKER' "$run/vm/test-serial.txt" 2>/dev/null | tr -d '\r' | sed 's/ *$//')
if [ $st = 0 ] && [ "$got" = "$want" ]; then ok boots_without_system_seabios
else bad boots_without_system_seabios "status $st: $(diff <(echo "$want") <(echo "$got") | head -5 | tr '\n' '|') $(head -c 200 "$run/run.err")"; fi

# OVMF (firmware = "efi") embedded the same way: --check names it, --firmware-dir still
# overrides, and the embedded OVMF runs (a VM without disks: OVMF's boot manager starts
# its built-in UEFI Shell, whose prompt comes on serial0), all with /usr/share/OVMF hidden.
if nm "$V" 2>/dev/null | grep -q ' vmplay_ovmf_code$'; then
    mkdir -p "$run/efi"
    printf '%s\n' '.encoding = "UTF-8"' 'config.version = "8"' 'virtualHW.version = "19"' \
        'guestOS = "other-64"' 'memsize = "512"' 'firmware = "efi"' 'serial0.present = "TRUE"' \
        'serial0.fileType = "file"' 'serial0.fileName = "serial.txt"' > "$run/efi/efi.vmx"
    out=$(cd "$run/efi" && hidden "$V" --check efi.vmx 2>&1)
    echo "$out" | grep -q '^firmware: embedded (OVMF' && ok ovmf_check_names_embedded ||
        bad ovmf_check_names_embedded "$(echo "$out" | grep firmware)"
    (cd "$run/efi" && hidden "$V" --check --firmware-dir=/usr/share/OVMF efi.vmx >/dev/null 2>"$run/efidir.err"); st=$?
    [ $st = 69 ] && grep -q 'not found' "$run/efidir.err" && ok ovmf_firmware_dir_overrides ||
        bad ovmf_firmware_dir_overrides "status $st: $(head -c 200 "$run/efidir.err")"
    (cd "$run/efi" && hidden timeout 300 "$V" --headless --cpu=soft --jit=on --timeout=240 efi.vmx \
        >/dev/null 2>"$run/efirun.err") &
    pid=$!
    for ((t = 0; t < 480; t++)); do
        grep -aq 'Shell> ' "$run/efi/serial.txt" 2>/dev/null && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.5
    done
    pkill -TERM -f "vmplay --headless --cpu=soft --jit=on --timeout=240 efi.vmx" 2>/dev/null
    wait $pid; st=$?
    if grep -aq 'BdsDxe: starting Boot[0-9A-F]* "EFI Internal Shell"' "$run/efi/serial.txt" 2>/dev/null &&
        grep -aq 'UEFI Interactive Shell' "$run/efi/serial.txt" && grep -aq 'Shell> ' "$run/efi/serial.txt"; then
        ok ovmf_runs_without_system_ovmf
    else
        bad ovmf_runs_without_system_ovmf "status $st, serial: $(tail -c 200 "$run/efi/serial.txt" 2>/dev/null | tr -d '\033' | tr '\n' '|') $(head -c 200 "$run/efirun.err")"
    fi
else
    skip ovmf "this vmplay has no embedded OVMF (no ovmf on the build host)"
fi
exit 0
