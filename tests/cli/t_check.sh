#!/usr/bin/env bash
# --check agrees with the run: what the run refuses (a suspended VM, EFI Secure Boot, a VMware
# lock, a read-only disk, no disk left to boot after the leaving-out), --check
# refuses with the same line and status; devices the run leaves out are marked
# NOT PRESENTED; a .vmdk given for a .vmx says so; duplicate keys are listed under
# -v; --screenshot paths are checked before power-on.
set -u
V=${VMPLAY:-./vmplay}
run=$BUILD/cli/check
rm -rf "$run"; mkdir -p "$run"
command -v qemu-img >/dev/null || { echo "SKIP cli/check: qemu-img is not installed"; exit 0; }
. "$(dirname "$0")/lib.sh"
spin_vm "$run"
qemu-img create -q -f vmdk "$run/d.vmdk" 16M
base='.encoding = "UTF-8"\nconfig.version = "8"\nmemsize = "32"\n'
ide='ide0:0.present = "TRUE"\nide0:0.fileName = "d.vmdk"\n'
mk() { printf "$base$2" > "$run/$1.vmx"; }
mk suspended "${ide}checkpoint.vmState = \"s.vmss\"\n"
mk efi "${ide}firmware = \"efi\"\nuefi.secureBoot.enabled = \"TRUE\"\n"
mk locked "$ide"; mkdir "$run/locked.vmx.lck"
# every bus is emulated now; what stays unpresented is a CD-ROM on NVMe
: > "$run/c.iso"; truncate -s 2M "$run/c.iso"
mk nocd 'nvme0.present = "TRUE"\nnvme0:0.present = "TRUE"\nnvme0:0.fileName = "c.iso"\nnvme0:0.deviceType = "cdrom-image"\n'
mk buslogic "${ide}"'scsi0.present = "TRUE"\nscsi0.virtualDev = "buslogic"\nscsi0:0.present = "TRUE"\nscsi0:0.fileName = "d.vmdk"\n'
mk dup "${ide}memsize = \"64\"\n"
mk ok "$ide"
same() { # name status vmx [run-args]: --check and the run fail alike
    local name=$1 want=$2 vmx=$3; shift 3
    "$V" --check "$run/$vmx.vmx" >/dev/null 2>"$run/$name.check"; local c=$?
    timeout -s KILL 30 "$V" --headless --timeout=3 "$@" "$run/$vmx.vmx" >/dev/null 2>"$run/$name.run"; local r=$?
    if [ $c = "$want" ] && [ $r = "$want" ] && [ "$(wc -l < "$run/$name.check")" = 1 ] &&
        cmp -s "$run/$name.check" "$run/$name.run"; then
        echo "PASS cli/check_agrees_$name (status $want)"
    else
        echo "FAIL cli/check_agrees_$name: check $c '$(head -c 200 "$run/$name.check")', run $r '$(head -c 200 "$run/$name.run")'"
    fi
}
same suspended 69 suspended
same efi_secure_boot 69 efi
same vmware_lock 75 locked
same nothing_to_boot 69 nocd
same buslogic 69 buslogic
grep -q 'scsi0 is a BusLogic controller' "$run/buslogic.check" && echo "PASS cli/buslogic_line_names_it" ||
    echo "FAIL cli/buslogic_line_names_it: $(cat "$run/buslogic.check")"
if "$V" --check "$run/nocd.vmx" 2>/dev/null | grep -q '^nvme0:0 .*NOT PRESENTED (an NVMe controller has no CD-ROM)' &&
    "$V" --check --force "$run/nocd.vmx" >/dev/null 2>&1; then
    echo "PASS cli/check_marks_not_presented_and_force_runs_anyway"
else
    echo "FAIL cli/check_marks_not_presented_and_force_runs_anyway: $("$V" --check --force "$run/nocd.vmx" 2>&1 | tail -3 | tr '\n' '|')"
fi
# The cards: the run presents e1000, e1000e, vlance and vmxnet3, so --check marks only the
# old vmxnet; cards without generatedAddressOffset get distinct MACs (VMware's N * 10).
printf 'ethernet%d.present = "TRUE"\nethernet%d.virtualDev = "%s"\n' 0 0 e1000 1 1 e1000e 2 2 vlance \
    3 3 vmxnet3 4 4 vmxnet > "$run/nics.vmx"
chk=$("$V" --check "$run/nics.vmx" 2>&1)
if [ "$(echo "$chk" | grep -c 'NOT PRESENTED (the .* card')" = 1 ] &&
    echo "$chk" | grep -A1 '^ethernet4 ' | grep -q 'NOT PRESENTED (the vmxnet card' &&
    [ "$(echo "$chk" | grep '^ethernet' | awk '{print $3}' | sort -u | wc -l)" = 5 ]; then
    echo "PASS cli/check_nics_as_the_run_presents_them"
else
    echo "FAIL cli/check_nics_as_the_run_presents_them: $(echo "$chk" | grep -A1 '^ethernet' | tr '\n' '|')"
fi
if unshare -m sh -c 'mount --make-rprivate / && mount --bind "$1" "$1" && mount -o remount,bind,ro "$1"' sh "$run" 2>/dev/null; then
    out=$(unshare -m sh -c 'mount --make-rprivate / && mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" &&
        "$2" --check "$1/ok.vmx" >/dev/null 2>"$3/ro.check"; echo "check $?";
        timeout -s KILL 30 "$2" --headless --timeout=3 --bios="$1/spin.bin" "$1/ok.vmx" >/dev/null 2>"$3/ro.run"; echo "run $?"' \
        sh "$run" "$V" "$BUILD")
    if [ "$out" = "$(printf 'check 73\nrun 73')" ] && cmp -s "$BUILD/ro.check" "$BUILD/ro.run" && grep -q 'read-only' "$BUILD/ro.run"; then
        echo "PASS cli/check_agrees_read_only_disk (status 73)"
    else
        echo "FAIL cli/check_agrees_read_only_disk: $out: $(head -c 200 "$BUILD/ro.check") / $(head -c 200 "$BUILD/ro.run")"
    fi
else
    echo "SKIP cli/check_agrees_read_only_disk: no private mount namespace (unshare -m) to mount the VM read-only"
fi
"$V" --check "$run/d.vmdk" >/dev/null 2>"$run/vmdk.err"; st=$?
[ $st = 64 ] && grep -qx "vmplay: $run/d.vmdk is a disk image; give its .vmx" "$run/vmdk.err" &&
    echo "PASS cli/vmdk_instead_of_vmx" || echo "FAIL cli/vmdk_instead_of_vmx: status $st: $(cat "$run/vmdk.err")"
"$V" --check -v "$run/dup.vmx" 2>/dev/null | grep -q '^  line 6: memsize = "64" (replaces line 3)' &&
    echo "PASS cli/duplicate_keys_listed_under_v" || echo "FAIL cli/duplicate_keys_listed_under_v: $("$V" --check -v "$run/dup.vmx" 2>&1 | grep -i defined)"
t0=$(date +%s)
timeout -s KILL 30 "$V" --headless --timeout=20 --bios="$run/spin.bin" --screenshot="$run/no/such/dir/s.png" "$run/ok.vmx" >/dev/null 2>"$run/shot.err"; st=$?
timeout -s KILL 30 "$V" --headless --timeout=20 --bios="$run/spin.bin" --screen-text="$run" "$run/ok.vmx" >/dev/null 2>"$run/text.err"; st2=$?
if [ $st = 73 ] && [ $st2 = 73 ] && [ $(($(date +%s) - t0)) -lt 10 ] && [ "$(wc -l < "$run/shot.err")" = 1 ]; then
    echo "PASS cli/output_paths_checked_before_power_on"
else
    echo "FAIL cli/output_paths_checked_before_power_on: $st '$(cat "$run/shot.err")' $st2 '$(cat "$run/text.err")'"
fi
