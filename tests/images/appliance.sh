#!/usr/bin/env bash
# Builds the test appliance from Debian packages, cached under $BUILD/images:
#   Debian 12's i386 kernel (linux-image-686) + an initramfs of busybox-static:i386
#   (+ the ATA/SCSI modules), syslinux on a FAT16 partition behind an MBR (mtools,
#   syslinux, sfdisk; nothing is mounted), converted to monolithicSparse VMDKs by
#   qemu-img, and .vmx files written the way VMware writes them.
#
# Images (one per mode; the mode is on the kernel command line):
#   test.vmdk   markers on ttyS0, writes a pattern to the 16 MiB data disk, powers off
#   bench.vmdk  timed stages (md5sum of 32 MiB, an awk loop), powers off
#   demo.vmdk   markers, then a shell on tty1 (the screen) and on ttyS0
#   durable.vmdk  numbered records to three data disks until killed (tests/guest/t_durable.sh)
#   storage.vmdk  every disk with its PCI driver, the data pattern on the data disk on any
#               controller (tests/images/modes/storage.sh; storage-ide.vmx)
#   <mode>.vmdk for each further tests/images/modes/<mode>.sh, which init sources
#   test.iso    isolinux ISO with the test mode, for ide1:0 cdrom-image
# plus data.vmdk (an empty 16 MiB second disk), the durable mode's empty data disks
# (dur-a.vmdk 128 MiB, dur-b.vmdk 112 MiB, dur-c.vmdk 96 MiB) and test.vmx, bench.vmx,
# demo.vmx, cdrom.vmx, durable.vmx.
#
# ARCH=amd64 builds the same appliance from Debian 12's x86-64 kernel
# (linux-image-amd64) and busybox-static:amd64, in $BUILD/images/appliance64,
# with busybox-static:i386 as /bin/busybox32 (32-bit programs, compat mode).
#
# Two builds give byte-identical images (the same .debs, the same SOURCE_DATE_EPOCH):
# every file time, the cpio order and owners, the FAT volume id and dates, the MBR disk
# id and the VMDK CIDs are fixed. SOURCE_DATE_EPOCH (default below) sets the dates;
# another value gives another image (the guest's boot timing moves with it).
#
# Usage: [ARCH=i386|amd64] [SOURCE_DATE_EPOCH=N] tests/images/appliance.sh [OUTDIR]
#   (prints OUTDIR when done)
set -euo pipefail
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
export TZ=UTC LC_ALL=C
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$top/build}
ARCH=${ARCH:-i386}
case "$ARCH" in
i386) kmeta=linux-image-686:i386 bbpkg=busybox-static:i386 sub=appliance guestos=debian12 ;;
amd64) kmeta=linux-image-amd64:amd64 bbpkg=busybox-static:amd64 sub=appliance64 guestos=debian12-64 ;;
*) echo "appliance: ARCH is i386 or amd64, not $ARCH" >&2; exit 64 ;;
esac
out=${1:-$BUILD/images/$sub}
debs=$BUILD/debs
# The stamp names what built the image: this script and its mode files.
stamp=$out/.complete-$({ cat "$0" "$top"/tests/images/modes/*.sh $(ls "$top"/tests/images/modes/*.asm "$top"/tests/images/modes/*.inc 2>/dev/null); echo "$SOURCE_DATE_EPOCH"; } | md5sum | cut -c1-12)
if [ -f "$stamp" ]; then echo "$out"; exit 0; fi
rm -f "$out"/.complete-*
mkdir -p "$out" "$debs"
work=$(mktemp -d "$BUILD/images/work.XXXXXX")
trap 'rm -rf "$work"' EXIT

fetch() { # package:arch -> path of the .deb in $debs
    local pkg=$1 f
    f=$(ls "$debs"/"${pkg%%:*}"_*_"${pkg##*:}".deb 2>/dev/null | head -1 || true)
    if [ -z "$f" ]; then
        (cd "$debs" && apt-get download "$pkg" >/dev/null 2>&1) ||
            { echo "appliance: apt-get download $pkg failed" >&2; exit 1; }
        f=$(ls "$debs"/"${pkg%%:*}"_*_"${pkg##*:}".deb | head -1)
    fi
    echo "$f"
}

grep -q i386 <(dpkg --print-foreign-architectures) || {
    dpkg --add-architecture i386 && apt-get update -qq >/dev/null 2>&1 || true
}
kpkg=$(apt-cache depends "$kmeta" | awk '/Depends: linux-image-/{print $2; exit}')
[ -n "$kpkg" ] || { echo "appliance: cannot resolve $kmeta" >&2; exit 1; }
kpkg=${kpkg%%:*}:$ARCH
dpkg-deb -x "$(fetch "$kpkg")" "$work/kernel"
dpkg-deb -x "$(fetch "$bbpkg")" "$work/busybox"
kver=$(ls "$work/kernel/lib/modules")
vmlinuz=$work/kernel/boot/vmlinuz-$kver

# --- initramfs ---
root=$work/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,mnt,lib/modules,modes}
# Modes of their own (tests/images/modes/<mode>.sh): init sources the file for
# vmplay.mode=<mode>, and each gets a boot disk <mode>.vmdk.
cp "$top"/tests/images/modes/*.sh "$root/modes/"
# Guest programs of their own (tests/images/modes/<name>.asm, nasm flat binaries whose ELF
# header is modes/elf32.inc) become /modes/<name>.
for a in $(ls "$top"/tests/images/modes/*.asm 2>/dev/null); do
    nasm -f bin -i "$top/tests/images/modes/" -o "$root/modes/$(basename "$a" .asm)" "$a" && chmod 755 "$root/modes/$(basename "$a" .asm)"
done
cp "$work/busybox/bin/busybox" "$root/bin/busybox"
# The amd64 image also carries the i386 busybox, a 32-bit program for the compat mode.
if [ "$ARCH" = amd64 ]; then
    dpkg-deb -x "$(fetch busybox-static:i386)" "$work/busybox32"
    cp "$work/busybox32/bin/busybox" "$root/bin/busybox32"
fi
for app in sh mount umount insmod cat echo dd md5sum awk sleep poweroff uname grep head \
    hexdump seq wc sync date mkdir ls setsid cttyhack stty dmesg tr sed od cmp yes printf \
    cut readlink basename find ifconfig route ip udhcpc wget httpd nc test kill rm; do
    ln -s busybox "$root/bin/$app"
done
# Modules in dependency order (modinfo from kmod reads the .ko files).
moddir=$work/kernel/lib/modules/$kver/kernel
declare -A seen=()
order=()
add_mod() {
    local m=$1 f dep
    [ -n "${seen[$m]:-}" ] && return 0
    seen[$m]=1
    f=$(find "$moddir" -name "$m.ko" -o -name "${m//_/-}.ko" | head -1)
    [ -n "$f" ] || { echo "appliance: module $m not in $kpkg" >&2; exit 1; }
    for dep in $(/sbin/modinfo -F depends "$f" | tr ',' ' '); do add_mod "$dep"; done
    order+=("$f")
}
# IDE, then the drivers of every controller and card vmplay presents (SCSI: LSI
# Logic, LSI SAS, PVSCSI; SATA: AHCI; NVMe; floppy; NICs: e1000, e1000e, vmxnet3,
# PCnet), each insmod'ed at boot; a driver whose device is absent stays idle.
for m in ata_piix sd_mod sr_mod mptspi mptsas vmw_pvscsi ahci nvme floppy \
    e1000 e1000e vmxnet3 pcnet32; do
    add_mod "$m"
done
: > "$root/lib/modules/order"
for f in "${order[@]}"; do
    cp "$f" "$root/lib/modules/"
    echo "$(basename "$f")" >> "$root/lib/modules/order"
done
# Modules only the modes that want them load (from /lib/modules/extra, in the order of
# /lib/modules/extra/order): the PS/2 mouse with the VMware VMMouse protocol, evdev, and
# the SVGA II DRM driver. Every other mode runs without them, as before.
order=()
for m in psmouse evdev vmwgfx; do add_mod "$m"; done
mkdir -p "$root/lib/modules/extra"
: > "$root/lib/modules/extra/order"
for f in "${order[@]}"; do
    cp "$f" "$root/lib/modules/extra/"
    echo "$(basename "$f")" >> "$root/lib/modules/extra/order"
done

cat > "$root/init" <<'EOF'
#!/bin/sh
# vmplay test appliance init: mode from the kernel command line (vmplay.mode=).
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mode=$(sed -n 's/.*vmplay.mode=\([a-z]*\).*/\1/p' /proc/cmdline)
say() { echo "$*" > /dev/ttyS0; echo "$*" > /dev/tty1; }
[ "$mode" = bench ] && say "VMPLAY-BENCH: init"
say "VMPLAY-MARKER: init started mode=$mode"
say "VMPLAY-MARKER: kernel $(uname -r)"
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m 2>/dev/null; done
sleep 1
n=0; while [ $n -lt 50 ] && [ ! -e /dev/sda ]; do sleep 0.1; n=$((n+1)); done
say "VMPLAY-MARKER: disks $(ls /sys/block | tr '\n' ' ')"
if [ -f "/modes/$mode.sh" ]; then
    . "/modes/$mode.sh"
    say "VMPLAY-MARKER: poweroff"
    poweroff -f
fi
case "$mode" in
test)
    say "VMPLAY-MARKER: arith $((6*7)) $(echo 3 4 | awk '{print $1*$2+0.5}')"
    # Linux names disks in the order their async probes finish, so the data
    # disk is found by its size (32768 sectors), never by its name.
    data=
    for d in /sys/block/sd*; do [ "$(cat "$d/size")" = 32768 ] && data=/dev/${d##*/}; done
    if [ -n "$data" ]; then
        { echo "VMPLAY-DATA-BEGIN"; seq 1 2000; echo "VMPLAY-DATA-END"; } > /tmp/data
        dd if=/tmp/data of="$data" bs=512 conv=sync,notrunc 2>/dev/null
        sync
        say "VMPLAY-MARKER: wrote data disk $(md5sum < /tmp/data | cut -c1-32)"
        say "VMPLAY-MARKER: read data disk $(head -c "$(wc -c < /tmp/data)" "$data" | md5sum | cut -c1-32)"
    fi
    if [ -e /dev/sr0 ]; then
        say "VMPLAY-MARKER: cdrom $(head -c 2048 /dev/sr0 | wc -c)"
    fi
    say "VMPLAY-MARKER: poweroff"
    poweroff -f
    ;;
durable)
    # Crash consistency (tests/guest/t_durable.sh kills the player during the writes).
    # Three data disks, found by size: A (262144 sectors) gets its write cache turned
    # off here (SET FEATURES 82h) and records written with fsync; B (229376) keeps its
    # cache and gets O_DIRECT writes with no flush (it may lose them); C (196608) is
    # writeThrough in the .vmx (cache off at power-on) and gets O_DIRECT writes with no
    # flush. Each record is 64 KiB of one 64-byte line, "VMPLAY-REC <disk> <gen> <n>",
    # and its line goes to ttyS0 once dd has returned. Slot 0 of A counts the boots
    # (gen); boot gen writes slots 1+(gen-1)*R.. of each disk.
    R=96
    for d in /sys/block/sd*; do
        case "$(cat "$d/size")" in
        262144) a=${d##*/} ;;
        229376) b=${d##*/} ;;
        196608) c=${d##*/} ;;
        esac
    done
    g=$(head -c 64 /dev/$a | tr -dc 0-9)
    gen=$((${g:-0} + 1))
    printf 'VMPLAY-GEN %d\n' $gen | dd of=/dev/$a bs=512 conv=sync,notrunc,fsync 2>/dev/null
    for f in /sys/block/$a/device/scsi_disk/*/cache_type; do echo "write through" > "$f"; done
    for x in A:$a B:$b C:$c; do
        say "VMPLAY-DUR: disk ${x%%:*} $(cat /sys/block/${x#*:}/device/scsi_disk/*/cache_type)"
    done
    first=$((1 + (gen - 1) * R))
    writer() { # disk letter, device, dd flags...
        l=$1 dev=$2 n=1
        shift 2
        while [ $n -le $R ]; do
            yes "$(printf '%-63s' "VMPLAY-REC $l $gen $n")" | head -c 65536 |
                dd of=$dev bs=65536 count=1 seek=$((first + n - 1)) iflag=fullblock "$@" \
                    2>/dev/null && echo "VMPLAY-REC $l $gen $n" > /dev/ttyS0
            n=$((n + 1))
        done
    }
    say "VMPLAY-DUR: gen $gen writing"
    writer A /dev/$a conv=notrunc,fsync &
    writer B /dev/$b oflag=direct conv=notrunc &
    writer C /dev/$c oflag=direct conv=notrunc &
    wait
    say "VMPLAY-DUR: gen $gen done"
    poweroff -f
    ;;
bench)
    dd if=/dev/zero bs=1M count=32 2>/dev/null | md5sum > /dev/null
    say "VMPLAY-BENCH: md5"
    awk 'BEGIN { s = 0; for (i = 0; i < 300000; i++) s += i % 7; print s }' > /dev/null
    say "VMPLAY-BENCH: awk"
    poweroff -f
    ;;
*)
    say "VMPLAY-MARKER: ready - shells on the screen and on the serial port"
    # Each shell leads a session of its own with its tty as the controlling terminal
    # (setsid -c), so ^C typed there interrupts the command it runs (job control on).
    # The serial one runs in the foreground: a background job of this script would
    # start with SIGINT ignored, and so would everything it runs. init stays behind,
    # reaping.
    setsid -c sh </dev/tty1 >/dev/tty1 2>&1 &
    while :; do setsid -c sh </dev/ttyS0 >/dev/ttyS0 2>&1; wait; sleep 1; done
    ;;
esac
EOF
chmod +x "$root/init"
# Fixed order, owners, inode numbers and times: the same bytes on every build.
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$root" && find . | sort | cpio -o -H newc --quiet --reproducible -R 0:0 | gzip -9 -n) > "$work/initrd.gz"
touch -d "@$SOURCE_DATE_EPOCH" "$work/initrd.gz" "$vmlinuz"

# qemu-img gives each VMDK a random content id (CID, 1 to 8 hex digits): a fixed one,
# written into the descriptor area (KDMV header: descriptorOffset/Size in sectors at
# bytes 28/36) with the text's NUL padding adjusted, so that no other byte moves.
fix_cid() {
    perl -e 'open(my $f, "+<", $ARGV[0]) or die "$ARGV[0]: $!"; binmode $f; read($f, my $h, 512);
        my ($off, $n) = unpack("x28 Q< Q<", $h); $off *= 512; $n *= 512;
        seek($f, $off, 0); read($f, my $d, $n) == $n or die "short descriptor";
        $d =~ s/\0.*//s; $d =~ s/^CID=[0-9a-f]{1,8}$/CID=564d504c/m or die "no CID";
        length($d) <= $n or die "descriptor full";
        seek($f, $off, 0); print $f $d . ("\0" x ($n - length($d))); close $f or die' "$1"
}

# --- disks: MBR + FAT16 partition with syslinux, one per mode ---
make_disk() { # mode -> $out/<mode>.vmdk
    local mode=$1 img=$work/$mode.img part=$work/$mode.part args
    # A mode file's "# vmplay-append: ARGS" line adds kernel arguments for that mode only.
    args=$(sed -n 's/^# vmplay-append: //p' "$top/tests/images/modes/$mode.sh" 2>/dev/null || true)
    truncate -s 64M "$img"
    printf 'label: dos\nlabel-id: 0x564d504c\nstart=2048, type=6, bootable\n' | sfdisk -q "$img"
    truncate -s $(( (64 - 1) * 1024 * 1024 )) "$part"
    mkfs.fat -F 16 -n VMPLAY -h 2048 -i 564d504c --invariant "$part" >/dev/null
    cat > "$work/syslinux.cfg" <<EOF
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=tty0 console=ttyS0,115200 vmplay.mode=$mode quiet loglevel=4 panic=-1 tsc=unstable${args:+ $args}
EOF
    touch -d "@$SOURCE_DATE_EPOCH" "$work/syslinux.cfg"
    mcopy -m -i "$part" "$vmlinuz" ::vmlinuz
    mcopy -m -i "$part" "$work/initrd.gz" ::initrd.gz
    mcopy -m -i "$part" "$work/syslinux.cfg" ::syslinux.cfg
    syslinux --install "$part"
    dd if="$part" of="$img" bs=512 seek=2048 conv=notrunc status=none
    dd if=/usr/lib/syslinux/mbr/mbr.bin of="$img" bs=440 count=1 conv=notrunc status=none
    cp "$img" "$out/$mode.img"
    qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse "$img" "$out/$mode.vmdk"
    fix_cid "$out/$mode.vmdk"
}
extra=$(cd "$top/tests/images/modes" && ls ./*.sh | sed 's|^\./||; s|\.sh$||')
for mode in test bench demo durable $extra; do make_disk "$mode"; done
qemu-img create -q -f vmdk -o subformat=monolithicSparse "$out/data.vmdk" 16M
fix_cid "$out/data.vmdk"
for d in a:128 b:112 c:96; do
    qemu-img create -q -f vmdk -o subformat=monolithicSparse "$out/dur-${d%%:*}.vmdk" "${d#*:}M"
    fix_cid "$out/dur-${d%%:*}.vmdk"
done

# --- isolinux CD ---
iso=$work/iso
mkdir -p "$iso/isolinux"
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$iso/isolinux/"
cp "$vmlinuz" "$iso/isolinux/vmlinuz"
cp "$work/initrd.gz" "$iso/isolinux/initrd.gz"
sed 's/vmplay.mode=[a-z]*/vmplay.mode=test/' "$work/syslinux.cfg" > "$iso/isolinux/isolinux.cfg"
find "$iso" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} + # xorriso takes its own dates from SOURCE_DATE_EPOCH
xorriso -as mkisofs -quiet -o "$out/test.iso" -b isolinux/isolinux.bin -c isolinux/boot.cat \
    -no-emul-boot -boot-load-size 4 -boot-info-table -V VMPLAY "$iso"

# --- .vmx files as VMware Workstation writes them ---
write_vmx() { # name, display name, extra lines...
    local name=$1 display=$2; shift 2
    {
        echo '.encoding = "UTF-8"'
        echo 'config.version = "8"'
        echo 'virtualHW.version = "19"'
        echo "displayName = \"$display\""
        echo "guestOS = \"$guestos\""
        echo 'memsize = "256"'
        echo 'numvcpus = "1"'
        echo 'uuid.bios = "56 4d 5a 0b 8c 27 13 37-a0 1b 7c 4d 2e 6f 90 12"'
        echo 'pciBridge0.present = "TRUE"'
        echo 'vmci0.present = "TRUE"'
        echo 'floppy0.present = "FALSE"'
        echo 'serial0.present = "TRUE"'
        echo 'serial0.fileType = "file"'
        echo "serial0.fileName = \"$name-serial.txt\""
        printf '%s\n' "$@"
    } > "$out/$name.vmx"
}
write_vmx test "vmplay test appliance" 'ide0:0.present = "TRUE"' 'ide0:0.fileName = "test.vmdk"' \
    'ide0:1.present = "TRUE"' 'ide0:1.fileName = "data.vmdk"'
write_vmx bench "vmplay bench appliance" 'ide0:0.present = "TRUE"' 'ide0:0.fileName = "bench.vmdk"'
write_vmx durable "vmplay crash-consistency appliance" 'ide0:0.present = "TRUE"' \
    'ide0:0.fileName = "durable.vmdk"' 'ide0:1.present = "TRUE"' 'ide0:1.fileName = "dur-a.vmdk"' \
    'ide1:0.present = "TRUE"' 'ide1:0.fileName = "dur-b.vmdk"' 'ide1:1.present = "TRUE"' \
    'ide1:1.fileName = "dur-c.vmdk"' 'ide1:1.writeThrough = "TRUE"'
write_vmx demo "vmplay demo (Debian 12 $ARCH, busybox)" 'ide0:0.present = "TRUE"' 'ide0:0.fileName = "demo.vmdk"'
write_vmx cdrom "vmplay CD-ROM boot" 'ide1:0.present = "TRUE"' 'ide1:0.fileName = "test.iso"' \
    'ide1:0.deviceType = "cdrom-image"' 'bios.bootOrder = "cdrom"'
# The storage mode on IDE; each controller's test writes its own .vmx beside these.
write_vmx storage-ide "vmplay storage on IDE" 'ide0:0.present = "TRUE"' \
    'ide0:0.fileName = "storage.vmdk"' 'ide0:1.present = "TRUE"' 'ide0:1.fileName = "data.vmdk"'
echo "$kver" > "$out/kernel-version"
touch "$stamp"
echo "$out"
