#!/usr/bin/env bash
# Builds a GRUB 2 disk from Debian packages, cached under $BUILD/images/grub:
#   the i386 appliance's kernel and initramfs (tests/images/appliance.sh) on an
#   ext4 partition (mkfs.ext4 -d: nothing is mounted) behind an MBR, with GRUB's
#   BIOS boot sector (grub-pc-bin's boot.img) in the MBR and its core image
#   (grub-mkimage -O i386-pc: diskboot.img, then the compressed kernel with the
#   biosdisk, part_msdos and ext2 modules) in the sectors after it, the way
#   grub-install embeds it. The core image loads normal.mod and grub.cfg from
#   /boot/grub on the ext4 file system, which searches its root by UUID, prints
#   what it found on the serial port and boots the appliance's test mode.
#   grub.vmdk   the disk (monolithicSparse, written by qemu-img)
#   grub-ide.vmx  the disk on ide0:0 and a data disk on ide0:1
#   grub-lsi.vmx  both on an LSI Logic controller (scsi0:0, scsi0:1), as VMware
#               Workstation writes a Linux VM; SeaBIOS boots it through its own
#               LSI driver
# Usage: tests/images/grub.sh [OUTDIR]   (prints OUTDIR when done)
set -euo pipefail
export TZ=UTC LC_ALL=C
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$top/build}
out=${1:-$BUILD/images/grub}
grubdir=/usr/lib/grub/i386-pc
for t in grub-mkimage mkfs.ext4 sfdisk mcopy qemu-img; do
    command -v $t >/dev/null || { echo "grub: $t missing (tools/deps/check-guests.txt)" >&2; exit 69; }
done
[ -f $grubdir/boot.img ] || { echo "grub: $grubdir/boot.img missing (grub-pc-bin)" >&2; exit 69; }
app=$(BUILD=$BUILD "$top/tests/images/appliance.sh")
stamp=$out/.complete-$({ cat "$0"; ls "$app"/.complete-*; } | md5sum | cut -c1-12)
if [ -f "$stamp" ]; then echo "$out"; exit 0; fi
rm -f "$out"/.complete-*
mkdir -p "$out"
work=$(mktemp -d "$BUILD/images/work.XXXXXX")
trap 'rm -rf "$work"' EXIT

uuid=564d504c-0000-4000-8000-0000000000ee
root=$work/root
mkdir -p "$root/boot/grub/i386-pc"
# The appliance's test disk: FAT16 at sector 2048 holds vmlinuz, initrd.gz, syslinux.cfg.
mcopy -i "$app/test.img@@1M" ::vmlinuz "$root/boot/vmlinuz"
mcopy -i "$app/test.img@@1M" ::initrd.gz "$root/boot/initrd.gz"
append=$(mcopy -i "$app/test.img@@1M" ::syslinux.cfg - | tr -d '\r' | sed -n 's/^ *APPEND //p')
[ -n "$append" ] || { echo "grub: no APPEND line in the appliance's syslinux.cfg" >&2; exit 70; }
cp $grubdir/*.mod $grubdir/*.lst "$root/boot/grub/i386-pc/"
cat > "$root/boot/grub/grub.cfg" <<EOF
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=0
insmod probe
search --no-floppy --fs-uuid --set=root $uuid
probe --fs --set=fs (\$root)
probe --fs-uuid --set=fsuuid (\$root)
echo "VMPLAY-GRUB: root \$root fs \$fs uuid \$fsuuid"
menuentry "vmplay appliance" {
  echo "VMPLAY-GRUB: loading linux"
  linux /boot/vmlinuz $append
  initrd /boot/initrd.gz
}
EOF
find "$root" -exec touch -h -d @1700000000 {} +

img=$work/grub.img part=$work/part.img
truncate -s 64M "$img"
printf 'label: dos\nlabel-id: 0x564d504c\nstart=2048, type=83, bootable\n' | sfdisk -q "$img"
truncate -s 63M "$part"
E2FSPROGS_FAKE_TIME=1700000000 mkfs.ext4 -q -F -d "$root" -L VMPLAY -U $uuid \
    -E root_owner=0:0,hash_seed=564d504c-0000-4000-8000-0000000000ef "$part"
dd if="$part" of="$img" bs=512 seek=2048 conv=notrunc status=none
# core.img is diskboot.img (one sector whose block list grub-mkimage has filled in for
# the sectors right after it) and the rest; it must end before the partition.
grub-mkimage -O i386-pc -o "$work/core.img" -p '(hd0,msdos1)/boot/grub' biosdisk part_msdos ext2
n=$(( ($(stat -c %s "$work/core.img") + 511) / 512 ))
[ $n -lt 2047 ] || { echo "grub: core.img is $n sectors, more than the 2047 before the partition" >&2; exit 70; }
# boot.img's code up to the disk signature (440 bytes); its kernel sector (0x5c) is 1.
dd if=$grubdir/boot.img of="$img" bs=440 count=1 conv=notrunc status=none
dd if="$work/core.img" of="$img" bs=512 seek=1 conv=notrunc status=none
qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse "$img" "$out/grub.vmdk"
cp "$img" "$out/grub.img"

vmx() { # name, display name, disk lines...
    local name=$1 display=$2; shift 2
    printf '%s\n' '.encoding = "UTF-8"' 'config.version = "8"' 'virtualHW.version = "19"' \
        "displayName = \"$display\"" 'guestOS = "debian12"' 'memsize = "256"' 'numvcpus = "1"' \
        'floppy0.present = "FALSE"' 'serial0.present = "TRUE"' 'serial0.fileType = "file"' \
        "serial0.fileName = \"$name-serial.txt\"" "$@" > "$out/$name.vmx"
}
vmx grub-ide "GRUB 2 on ext4 (IDE)" 'ide0:0.present = "TRUE"' 'ide0:0.fileName = "grub.vmdk"' \
    'ide0:1.present = "TRUE"' 'ide0:1.fileName = "data.vmdk"'
vmx grub-lsi "GRUB 2 on ext4 (LSI Logic)" 'scsi0.present = "TRUE"' 'scsi0.virtualDev = "lsilogic"' \
    'scsi0:0.present = "TRUE"' 'scsi0:0.fileName = "grub.vmdk"' \
    'scsi0:1.present = "TRUE"' 'scsi0:1.fileName = "data.vmdk"'
echo "$uuid" > "$out/uuid"
touch "$stamp"
echo "$out"
