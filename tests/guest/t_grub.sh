#!/usr/bin/env bash
# GRUB 2 (grub-pc) from an ext4 disk (tests/images/grub.sh): GRUB's boot sector and
# core image load normal.mod and grub.cfg from ext4 through the BIOS disk calls, find
# their root by the file system's UUID, and boot the appliance's kernel and initramfs
# in its test mode. Three runs with one oracle, the GRUB lines (the root, "ext2" as
# GRUB names ext4, the UUID mkfs.ext4 was given) and then the appliance's test
# markers (tests/guest/expected/test-markers.txt, with the data disk written and
# read back):
#   vmplay's interpreter, the disks on IDE;
#   vmplay's translator (--jit=on), the disks on an LSI Logic controller, so that
#   SeaBIOS's LSI driver serves GRUB's disk reads;
#   qemu-system-i386 -accel tcg on the same image on IDE.
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS grub/$1${2:+ $2}"; }
bad() { echo "FAIL grub/$1: $2"; }
skip() { echo "SKIP grub/$1: $2"; }
[ -f /usr/lib/grub/i386-pc/boot.img ] || { skip all "grub-pc-bin is not installed (tools/deps/check-guests.txt)"; exit 0; }
img=$(tests/images/grub.sh 2>"$BUILD/grub-build.log") || {
    bad image_build "tests/images/grub.sh failed: $(tail -3 "$BUILD/grub-build.log" | tr '\n' ' ')"
    exit 0
}
app=$(tests/images/appliance.sh 2>/dev/null)
kver=$(cat "$app/kernel-version")
uuid=$(cat "$img/uuid")
run=$BUILD/guest/grub
rm -rf "$run"; mkdir -p "$run"
exp=$(printf '%s\n' "VMPLAY-GRUB: root hd0,msdos1 fs ext2 uuid $uuid" "VMPLAY-GRUB: loading linux"
      sed "s/@KVER@/$kver/" tests/guest/expected/test-markers.txt)
lines() { tr -d '\r' < "$1" | sed 's/^.*\(VMPLAY-\)/\1/' | grep -a '^VMPLAY-\(GRUB\|MARKER\)' | sed 's/ *$//'; }

boot() { # name vmx cpu-args...
    local name=$1 vmx=$2; shift 2
    mkdir -p "$run/$name"
    cp "$img/grub.vmdk" "$img/$vmx.vmx" "$run/$name/"
    qemu-img create -q -f vmdk "$run/$name/data.vmdk" 16M
    (cd "$run/$name" && timeout 600 "$(realpath "$V")" --headless --timeout=300 "$@" "$vmx.vmx" \
        >/dev/null 2>stderr.txt)
    echo $? > "$run/$name/status"
}
check() { # name what
    local name=$1 got st
    got=$(lines "$run/$name/$2-serial.txt" 2>/dev/null)
    st=$(cat "$run/$name/status")
    if [ "$got" = "$exp" ] && [ "$st" = 0 ]; then
        ok "$name" "($(echo "$got" | wc -l) lines)"
    else
        bad "$name" "status $st, got: $(echo "$got" | head -4 | tr '\n' '|') $(tail -1 "$run/$name/stderr.txt" 2>/dev/null)"
    fi
}
boot interpreter_ide grub-ide --cpu=soft --jit=off
check interpreter_ide grub-ide
boot translator_lsilogic grub-lsi --cpu=soft --jit=on
check translator_lsilogic grub-lsi

if command -v qemu-system-i386 >/dev/null; then
    mkdir -p "$run/qemu_tcg_ide"
    qemu-img create -q -f vmdk "$run/qemu_tcg_ide/data.vmdk" 16M
    timeout 300 qemu-system-i386 -accel tcg -M pc -m 256 -nodefaults -vga std -display none -no-reboot \
        -drive file="$img/grub.vmdk",format=vmdk,if=ide,index=0,snapshot=on \
        -drive file="$run/qemu_tcg_ide/data.vmdk",format=vmdk,if=ide,index=1 -serial file:"$run/qemu_tcg_ide/qemu-serial.txt"
    echo $? > "$run/qemu_tcg_ide/status"
    check qemu_tcg_ide qemu
else
    skip qemu "qemu-system-i386 not installed: no cross-check of the GRUB oracle"
fi
