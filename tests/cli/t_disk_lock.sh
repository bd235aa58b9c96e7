#!/usr/bin/env bash
# Every disk is locked, not only the .vmx: two .vmx files naming one disk (by
# the same path, or through a hard link) cannot both run it; the second player
# gets one line and status 75. Two players that only read a disk (nonpersistent)
# may share it. A VMware lock folder beside an extent (<extent>.lck) refuses too.
set -u
V=${VMPLAY:-./vmplay}
run=$BUILD/cli/disklock
rm -rf "$run"; mkdir -p "$run"
command -v qemu-img >/dev/null || { echo "SKIP cli/disk_lock: qemu-img is not installed"; exit 0; }
. "$(dirname "$0")/lib.sh"
spin_vm "$run"
qemu-img create -q -f vmdk "$run/shared.vmdk" 16M
ln "$run/shared.vmdk" "$run/linked.vmdk"
vmx() { # name disk [mode]
    printf '.encoding = "UTF-8"\nconfig.version = "8"\nmemsize = "32"\nide0:0.present = "TRUE"\nide0:0.fileName = "%s"\n%b' \
        "$2" "${3:+ide0:0.mode = \"$3\"\n}" > "$run/$1.vmx"
}
vmx a shared.vmdk; vmx b shared.vmdk; vmx c linked.vmdk
vmx ra shared.vmdk independent-nonpersistent; vmx rb shared.vmdk independent-nonpersistent
second() { # name first second [want]: runs first, then second while first runs
    "$V" --headless --timeout=30 --bios="$run/spin.bin" "$run/$2.vmx" 2>"$run/$1.first" &
    local pid=$! st
    sleep 1
    timeout -s KILL 20 "$V" --headless --timeout=2 --bios="$run/spin.bin" "$run/$3.vmx" >/dev/null 2>"$run/$1.err"; st=$?
    kill $pid 2>/dev/null; wait $pid 2>/dev/null
    local want=${4:-75}
    if [ $st = "$want" ] && { [ $want != 75 ] || { [ "$(wc -l < "$run/$1.err")" = 1 ] && grep -q 'in use by another vmplay' "$run/$1.err"; }; }; then
        echo "PASS cli/$1"
    else
        echo "FAIL cli/$1: status $st (want $want): $(head -c 300 "$run/$1.err" | tr '\n' '|')"
    fi
}
second shared_disk_second_player_refused a b
second hard_linked_disk_second_player_refused a c
second readers_share_a_disk ra rb 124
second reader_refused_while_a_writer_runs a ra
mkdir "$run/shared.vmdk.lck"
timeout -s KILL 20 "$V" --headless --timeout=2 --bios="$run/spin.bin" "$run/a.vmx" >/dev/null 2>"$run/lck.err"; st=$?
if [ $st = 75 ] && [ "$(wc -l < "$run/lck.err")" = 1 ] && grep -q 'VMware appears to be running' "$run/lck.err"; then
    echo "PASS cli/vmware_disk_lock_refused"
else
    echo "FAIL cli/vmware_disk_lock_refused: status $st: $(head -c 300 "$run/lck.err")"
fi
