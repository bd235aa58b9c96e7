#!/usr/bin/env bash
# Builds the EFI test appliance, cached under $BUILD/images/efi: the amd64
# appliance's kernel and initramfs (tests/images/appliance.sh, ARCH=amd64) on
# a GPT disk whose EFI system partition (FAT16, mtools; nothing is mounted)
# holds \EFI\BOOT\BOOTX64.EFI, a standalone GRUB (grub-efi-amd64-bin's
# grub-mkstandalone) whose embedded grub.cfg loads /vmlinuz and /initrd.gz
# from the ESP with vmplay.mode=efi. The initramfs is the appliance's with a
# second cpio archive appended (the kernel unpacks both): the efi mode
# (/modes/efi.sh) and efivarfs.ko from the same kernel package. The mode says
# whether the kernel came up on EFI, reads the variable
# VmplayBoots-564d504c-0000-4000-8000-000000000021 through efivarfs (absent: 0),
# writes it back plus one, reads it again, and powers off: a second boot of the
# same VM sees the first boot's value (the variable store survived).
#
# Output: efi.img (raw, for qemu) and efi.vmdk (monolithicSparse), kernel-version.
# Usage: tests/images/efi.sh [OUTDIR]   (prints OUTDIR when done)
set -euo pipefail
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
export TZ=UTC LC_ALL=C
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$top/build}
out=${1:-$BUILD/images/efi}
app=$(ARCH=amd64 BUILD=$BUILD "$top/tests/images/appliance.sh")
stamp=$out/.complete-$({ cat "$0"; cat "$app/kernel-version"; md5sum < "$app/test.img"; } | md5sum | cut -c1-12)
if [ -f "$stamp" ]; then echo "$out"; exit 0; fi
for t in grub-mkstandalone mkfs.fat mcopy mmd sfdisk qemu-img cpio; do
    command -v "$t" >/dev/null || { echo "efi image: $t is missing (tools/deps/check-efi.txt)" >&2; exit 1; }
done
[ -d /usr/lib/grub/x86_64-efi ] || { echo "efi image: grub-efi-amd64-bin is missing" >&2; exit 1; }
rm -rf "$out"; mkdir -p "$out"
work=$(mktemp -d "$BUILD/images/efiwork.XXXXXX")
trap 'rm -rf "$work"' EXIT
kver=$(cat "$app/kernel-version")

# The appliance's kernel and initramfs, from its BIOS boot disk's FAT partition (at 1 MiB).
mcopy -n -i "$app/test.img@@1M" ::vmlinuz "$work/vmlinuz"
mcopy -n -i "$app/test.img@@1M" ::initrd.gz "$work/initrd.gz"

# The efi mode and efivarfs.ko, appended to the initramfs as a second archive.
deb=$(ls "$BUILD"/debs/linux-image-"$kver"_*_amd64.deb | head -1)
mkdir -p "$work/x" "$work/root/modes" "$work/root/lib/efi"
dpkg-deb -x "$deb" "$work/x"
cp "$(find "$work/x" -name efivarfs.ko | head -1)" "$work/root/lib/efi/"
cat > "$work/root/modes/efi.sh" <<'EOF'
# vmplay EFI appliance mode (sourced by init): EFI firmware and a variable that survives restarts.
insmod /lib/efi/efivarfs.ko 2>/dev/null
if [ -d /sys/firmware/efi ]; then
    say "VMPLAY-MARKER: efi firmware $(cat /sys/firmware/efi/fw_platform_size 2>/dev/null)-bit"
else
    say "VMPLAY-MARKER: efi firmware absent"
fi
mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null
var=/sys/firmware/efi/efivars/VmplayBoots-564d504c-0000-4000-8000-000000000021
n=0
[ -e "$var" ] && n=$(tail -c +5 "$var")
say "VMPLAY-MARKER: efivar before $n"
n=$((n + 1))
# efivarfs: 4 bytes of attributes (NON_VOLATILE|BOOTSERVICE_ACCESS|RUNTIME_ACCESS) then the data, one write
printf "\007\000\000\000$n" > "$var"
say "VMPLAY-MARKER: efivar after $(tail -c +5 "$var" 2>/dev/null)"
EOF
find "$work/root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$work/root" && find . | sort | cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -n -9 > "$work/extra.gz"
cat "$work/initrd.gz" "$work/extra.gz" > "$work/initrd-efi.gz"

# Standalone GRUB with the boot entry built in.
cat > "$work/grub.cfg" <<'EOF'
set timeout=0
search --no-floppy --file --set=root /vmlinuz
linux /vmlinuz console=tty0 console=ttyS0,115200 vmplay.mode=efi quiet loglevel=4 panic=-1 tsc=unstable
initrd /initrd.gz
boot
EOF
grub-mkstandalone -O x86_64-efi -o "$work/BOOTX64.EFI" --locales= --fonts= --themes= \
    --modules="part_gpt fat search search_fs_file linux echo normal" "boot/grub/grub.cfg=$work/grub.cfg"

# GPT disk, 64 MiB, one ESP from 1 MiB.
img=$work/efi.img part=$work/esp.part
truncate -s 64M "$img"
printf 'label: gpt\nlabel-id: 564D504C-0000-4000-8000-000000000001\nstart=2048, size=126976, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=564D504C-0000-4000-8000-000000000002, name="ESP"\n' |
    sfdisk -q "$img"
truncate -s $((126976 * 512)) "$part"
mkfs.fat -F 16 -n VMPLAY-EFI -i 564d504c --invariant "$part" >/dev/null
mmd -i "$part" ::EFI ::EFI/BOOT
mcopy -m -i "$part" "$work/BOOTX64.EFI" ::EFI/BOOT/BOOTX64.EFI
mcopy -m -i "$part" "$work/vmlinuz" ::vmlinuz
mcopy -m -i "$part" "$work/initrd-efi.gz" ::initrd.gz
dd if="$part" of="$img" bs=512 seek=2048 conv=notrunc status=none
cp "$img" "$out/efi.img"
qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse "$img" "$out/efi.vmdk"
echo "$kver" > "$out/kernel-version"
touch "$stamp"
echo "$out"
