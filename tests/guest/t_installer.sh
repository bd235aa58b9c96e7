#!/usr/bin/env bash
# The Debian 12 i386 netboot installer (debian-installer-12-netboot-i386, fetched with
# apt-get download) booted over the network as a user boots it: a VM without disks,
# an e1000 whose iPXE ROM (ipxe-qemu) PXE-boots pxelinux.0 from the NAT's TFTP server,
# pxelinux loads the installer's kernel and its 30 MB initrd over TFTP, the kernel
# sets the framebuffer (vga=788, then bochs-drm), and the installer draws its first
# dialog ("Select a language") there. The TFTP folder is the package's own text/
# folder with one pxelinux.cfg/default of ours that boots "install" at once (the
# package's menu waits for a key).
# Oracle: the picture QEMU TCG shows for the same files, card and MAC address once
# its screen stands still (qemu-system-i386 with its VGA's EDID off, which makes
# bochs-drm pick 1024x768 as it does on vmplay's VGA); vmplay's screenshots, taken
# every 5 s through the control socket, must reach that picture pixel for pixel
# (ImageMagick's compare: 0 pixels differ). Once on the interpreter, once on the
# translator (INSTALLER_CPUS picks).
set -u
V=$(realpath "${VMPLAY:-./vmplay}")
BUILD=$(cd "${BUILD:-build}" && pwd)
ok() { echo "PASS installer/$1${2:+ $2}"; }
bad() { echo "FAIL installer/$1: $2"; }
skip() { echo "SKIP installer/$1: $2"; }
cpus=${INSTALLER_CPUS:-interpreter translator}
rom=${VMPLAY_IPXE_DIR:-/usr/lib/ipxe/qemu}/pxe-e1000.rom
[ -f "$rom" ] || { skip all "no $rom (Debian's ipxe-qemu, tools/deps/check-pxe.txt): no network boot"; exit 0; }
for t in compare qemu-system-i386 python3; do
    command -v $t >/dev/null || { skip all "$t is not installed (imagemagick, qemu-system-x86): no oracle"; exit 0; }
done
pkg=debian-installer-12-netboot-i386
debs=$BUILD/debs
mkdir -p "$debs"
deb=$(ls "$debs"/${pkg}_*_all.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
    (cd "$debs" && apt-get download $pkg >/dev/null 2>&1) || { bad download "apt-get download $pkg failed"; exit 0; }
    deb=$(ls "$debs"/${pkg}_*_all.deb | head -1)
fi
di=$BUILD/images/$pkg
stamp=$di/.complete-$(basename "$deb" .deb)
if [ ! -f "$stamp" ]; then
    rm -rf "$di"; mkdir -p "$di"
    dpkg-deb -x "$deb" "$di" || { bad unpack "dpkg-deb -x $deb failed"; exit 0; }
    touch "$stamp"
fi
text=$di/usr/lib/debian-installer/images/12/i386/text
[ -f "$text/debian-installer/i386/initrd.gz" ] || { bad unpack "no text/debian-installer/i386/initrd.gz in $deb"; exit 0; }

run=$BUILD/guest/installer
rm -rf "$run"; mkdir -p "$run/tftp/pxelinux.cfg" "$run/vm"
ln -s "$text/debian-installer" "$run/tftp/debian-installer"
ln -s debian-installer/i386/pxelinux.0 "$run/tftp/pxelinux.0"
ln -s debian-installer/i386/boot-screens/ldlinux.c32 "$run/tftp/ldlinux.c32"
append=$(sed -n 's/^[[:space:]]*append //p' "$text/debian-installer/i386/boot-screens/txt.cfg" | head -1)
[ -n "$append" ] || { bad unpack "no append line in the package's txt.cfg"; exit 0; }
printf 'default install\nprompt 0\ntimeout 0\nlabel install\n  kernel debian-installer/i386/linux\n  append %s\n' \
    "$append" > "$run/tftp/pxelinux.cfg/default"
mac=00:0c:29:4d:50:4c
printf '%s\n' '.encoding = "UTF-8"' 'config.version = "8"' 'virtualHW.version = "19"' \
    'displayName = "Debian installer (netboot)"' 'guestOS = "debian12"' 'memsize = "512"' \
    'floppy0.present = "FALSE"' 'ethernet0.present = "TRUE"' 'ethernet0.virtualDev = "e1000"' \
    'ethernet0.connectionType = "nat"' 'ethernet0.addressType = "generated"' \
    "ethernet0.generatedAddress = \"$mac\"" 'ethernet0.generatedAddressOffset = "0"' > "$run/vm/di.vmx"

# QEMU's picture first: the reference.
timeout 600 python3 tests/guest/qemu_screen.py --picture "$run/qemu.ppm" 480 -- -accel tcg -M pc -m 512 \
    -nodefaults -device VGA,edid=off -display none -no-reboot -boot n \
    -netdev user,id=n0,tftp="$run/tftp",bootfile=pxelinux.0 -device e1000,netdev=n0,mac=$mac
qst=$?
if [ $qst != 0 ] || [ ! -s "$run/qemu.ppm" ]; then
    bad qemu_reference "QEMU's screen did not stand still within 480 s (status $qst)"
    exit 0
fi

sock=$run/vm/ctl.sock
for cpu in $cpus; do
    case $cpu in translator) jit=on ;; interpreter) jit=off ;; *) bad setup "INSTALLER_CPUS: '$cpu' is not translator or interpreter"; continue ;; esac
    rm -f "$run/vm/shot.png"
    start=$(date +%s)
    (cd "$run/vm" && exec "$V" --headless --cpu=soft --jit=$jit --timeout=900 --control="$sock" \
        --net-tftp="$run/tftp" --net-bootfile=pxelinux.0 di.vmx >/dev/null 2>stderr.txt) &
    pid=$!
    ae=none n=0
    for ((t = 0; t < 150; t++)); do
        sleep 5
        kill -0 $pid 2>/dev/null || break
        python3 tests/guest/control_client.py "$sock" "{\"execute\":\"screenshot\",\"arguments\":{\"file\":\"$run/vm/shot.png\"}}" \
            >/dev/null 2>&1 || continue
        n=$((n + 1))
        ae=$(compare -metric AE "$run/vm/shot.png" "$run/qemu.ppm" null: 2>&1)
        [ "$ae" = 0 ] && break
    done
    secs=$(( $(date +%s) - start ))
    python3 tests/guest/control_client.py "$sock" '{"execute":"power-off"}' >/dev/null 2>&1
    wait $pid
    if [ "$ae" = 0 ]; then
        ok "${cpu}_first_dialog_as_qemu" "(pixel for pixel, $(identify -format %wx%h "$run/vm/shot.png"), after about $secs s, $n screenshots)"
    else
        cp "$run/vm/shot.png" "$run/last-$cpu.png" 2>/dev/null
        bad "${cpu}_first_dialog_as_qemu" "after $secs s the last of $n screenshots differs from QEMU's in $ae pixels ($run/last-$cpu.png; $(tail -1 "$run/vm/stderr.txt"))"
    fi
done
