#!/usr/bin/env bash
# Bad files through the command line (issue 14): each case is a .vmx (and the
# disks it names) that must not run. Oracles, for every case: the expected
# sysexits status, exactly one line on stderr that starts with "vmplay:" and
# says what is wrong (a pattern per case), and every file of the case
# byte-identical afterwards with no file added or removed (nothing written).
# The .vmx files run with a spinning ROM for a BIOS and --timeout=2, so a case
# the player wrongly accepts ends with 124 instead of hanging.
set -u
V=$(realpath "${VMPLAY:-./vmplay}")
BUILD=${BUILD:-build}
run=$(mkdir -p "$BUILD/cli" && cd "$BUILD/cli" && pwd)/badfiles
rm -rf "$run"; mkdir -p "$run"
command -v qemu-img >/dev/null || { echo "SKIP cli/badfile: qemu-img is not installed"; exit 0; }
. "$(dirname "$0")/lib.sh"
spin_vm "$run"
chmod 755 "$run"
base='.encoding = "UTF-8"\nconfig.version = "8"\nmemsize = "32"\n'
qemu-img create -q -f vmdk "$run/good.vmdk" 16M
cid=$(printf %08x "0x$(grep -a '^CID=' "$run/good.vmdk" | cut -d= -f2)") # vmplay prints 8 digits; qemu-img may write fewer

state() { (cd "$1" && find . -print0 | sort -z | xargs -0 stat -c '%n %s %a' && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); }
# case NAME STATUS PATTERN [USER]: runs $dir/vm.vmx; the setup has filled $dir already
check_case() {
    local name=$1 want=$2 pat=$3 user=${4:-}
    local before after rc
    before=$(state "$dir")
    if [ -n "$user" ]; then
        (cd "$dir" && timeout -s KILL 30 runuser -u "$user" -- "$V" --headless --cpu=soft --timeout=2 \
            --bios="$run/spin.bin" vm.vmx >/dev/null 2>"$run/$name.err"); rc=$?
    else
        (cd "$dir" && timeout -s KILL 30 "$V" --headless --cpu=soft --timeout=2 --bios="$run/spin.bin" \
            vm.vmx >/dev/null 2>"$run/$name.err"); rc=$?
    fi
    after=$(state "$dir")
    local err; err=$(cat "$run/$name.err")
    if [ "$rc" != "$want" ]; then
        echo "FAIL cli/badfile_$name: status $rc, expected $want: $(head -c 300 <<<"$err")"
    elif [ "$(wc -l < "$run/$name.err")" != 1 ] || ! grep -qE "^vmplay: .*($pat)" "$run/$name.err"; then
        echo "FAIL cli/badfile_$name: expected one line matching '$pat', got: $(head -c 300 <<<"$err")"
    elif [ "$before" != "$after" ]; then
        echo "FAIL cli/badfile_$name: files changed: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -3 | tr '\n' ' ')"
    else
        echo "PASS cli/badfile_$name (status $want)"
    fi
}
new() { dir=$run/$1; mkdir -p "$dir"; chmod 755 "$dir"; }
vmx() { printf "$base%b" "$1" > "$dir/vm.vmx"; }
ide() { vmx "ide0:0.present = \"TRUE\"\nide0:0.fileName = \"$1\"\n"; }
pu() { python3 -c "import struct,sys; f=open(sys.argv[1],'r+b'); f.seek(int(sys.argv[2])); f.write(struct.pack(sys.argv[3],int(sys.argv[4], 0)))" "$@"; }
sparse() { cp "$run/good.vmdk" "$dir/d.vmdk"; [ $# -eq 0 ] || pu "$dir/d.vmdk" "$@"; ide d.vmdk; }
desc() { # createType, extent lines, [parentCID, extra line]
    printf '# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=%s\ncreateType="%s"\n%b\n%b\n\nddb.virtualHWVersion = "4"\n' \
        "${3:-ffffffff}" "$1" "${4:-}" "$2" > "$dir/d.vmdk"
    ide d.vmdk
}

# --- the .vmx itself ---
new vmx_is_directory; rmdir "$dir"; mkdir -p "$dir/vm.vmx"
check_case vmx_is_directory 66 'not a regular file'
new vmx_missing; check_case vmx_missing 66 'No such file or directory'
new vmx_binary; head -c 4096 /dev/urandom > "$dir/vm.vmx"; check_case vmx_binary 65 'not a .vmx file'
new vmx_nul; { printf "$base"; printf 'displayName = "a\0b"\n'; } > "$dir/vm.vmx"
check_case vmx_nul 65 'binary byte 0x00'
new vmx_huge; { printf "$base"; head -c 3000000 /dev/zero | tr '\0' '#'; echo; } > "$dir/vm.vmx"
check_case vmx_huge 65 'more than 1048576'
new vmx_no_equals; vmx 'this line has no equals\n'; check_case vmx_no_equals 65 'expected key = "value"'
new vmx_open_quote; vmx 'displayName = "unterminated\n'; check_case vmx_open_quote 65 'missing closing quote'
new memsize_huge; vmx 'memsize = "99999999"\n'; check_case memsize_huge 65 'memsize: 99999999 is out of range'
new memsize_negative; vmx 'memsize = "-5"\n'; check_case memsize_negative 65 'memsize: -5 is out of range'
new memsize_zero; vmx 'memsize = "0"\n'; check_case memsize_zero 65 'memsize: 0 is out of range'
new memsize_text; vmx 'memsize = "lots"\n'; check_case memsize_text 65 'memsize: "lots" is not a number'
new numvcpus_zero; vmx 'numvcpus = "0"\n'; check_case numvcpus_zero 65 'numvcpus: 0 is out of range'
new numvcpus_1000; vmx 'numvcpus = "1000"\n'; check_case numvcpus_1000 65 'numvcpus: 1000 is out of range'
new disk_mode_unknown; vmx 'ide0:0.present = "TRUE"\nide0:0.fileName = "d.vmdk"\nide0:0.mode = "weird"\n'
cp "$run/good.vmdk" "$dir/d.vmdk"; check_case disk_mode_unknown 65 'ide0:0.mode: unknown value "weird"'
new slot_unknown; vmx 'ide7:0.present = "TRUE"\nide7:0.fileName = "d.vmdk"\n'; cp "$run/good.vmdk" "$dir/d.vmdk"
check_case slot_unknown 65 'ide7:0.present: no such slot'
new filename_empty; ide ''; check_case filename_empty 65 'a present disk needs a file name'

# --- disks that are not there or not files ---
new disk_missing; ide nope.vmdk; check_case disk_missing 66 'disk .*nope.vmdk does not exist'
new disk_is_directory; mkdir "$dir/d.vmdk"; ide d.vmdk; check_case disk_is_directory 66 'a directory, not a disk image'
new cdrom_missing; vmx 'ide1:0.present = "TRUE"\nide1:0.deviceType = "cdrom-image"\nide1:0.fileName = "none.iso"\n'
check_case cdrom_missing 66 'image .*none.iso does not exist'
new floppy_bad_size; head -c 1000 /dev/zero > "$dir/f.img"
vmx 'floppy0.present = "TRUE"\nfloppy0.fileType = "file"\nfloppy0.fileName = "f.img"\n'
check_case floppy_bad_size 65 'not a floppy image: 1000 bytes'
# one file in two slots of one VM (issue 14): one line naming both keys, not "in use by another vmplay"
new disk_in_use_twice; vmx 'ide0:0.present = "TRUE"\nide0:0.fileName = "d.vmdk"\nide0:1.present = "TRUE"\nide0:1.fileName = "d.vmdk"\n'
cp "$run/good.vmdk" "$dir/d.vmdk"
check_case disk_in_use_twice 65 'vm.vmx:7: ide0:1.fileName names the same file as ide0:0.fileName \(line 5\), .*d.vmdk; a VM can hold a disk only once'
new disk_twice_by_link; cp "$run/good.vmdk" "$dir/d.vmdk"; mkdir "$dir/sub"; ln -s ../d.vmdk "$dir/sub/e.vmdk"
vmx 'ide0:0.present = "TRUE"\nide0:0.fileName = "d.vmdk"\nsata0.present = "TRUE"\nsata0:3.present = "TRUE"\nsata0:3.fileName = "sub/e.vmdk"\n'
check_case disk_twice_by_link 65 'sata0:3.fileName names the same file as ide0:0.fileName \(line 5\)'
# two descriptors naming one extent: found when the second opens it, still one line and 65
new extent_twice; qemu-img create -q -f vmdk -o subformat=monolithicFlat "$dir/a.vmdk" 1M
cp "$dir/a.vmdk" "$dir/b.vmdk"
vmx 'ide0:0.present = "TRUE"\nide0:0.fileName = "a.vmdk"\nide0:1.present = "TRUE"\nide0:1.fileName = "b.vmdk"\n'
check_case extent_twice 65 'a-flat.vmdk is opened twice by this VM: two of its disks name it'
(cd "$dir" && "$V" --check vm.vmx >/dev/null 2>"$run/extent_twice.check"); rc=$?
if [ "$rc" = 65 ] && cmp -s "$run/extent_twice.check" "$run/extent_twice.err"; then echo "PASS cli/extent_twice_check_agrees"
else echo "FAIL cli/extent_twice_check_agrees: --check status $rc: $(head -c 300 "$run/extent_twice.check")"; fi
new floppy_is_the_disk; head -c 1474560 /dev/zero > "$dir/f.img"
vmx 'nvme0.present = "TRUE"\nnvme0:0.present = "TRUE"\nnvme0:0.fileName = "f.img"\nfloppy0.present = "TRUE"\nfloppy0.fileType = "file"\nfloppy0.fileName = "f.img"\n'
check_case floppy_is_the_disk 65 'floppy0.fileName names the same file as nvme0:0.fileName'
new cdrom_is_the_disk; cp "$run/good.vmdk" "$dir/d.vmdk"
vmx 'ide0:0.present = "TRUE"\nide0:0.fileName = "d.vmdk"\nide1:0.present = "TRUE"\nide1:0.deviceType = "cdrom-image"\nide1:0.fileName = "./d.vmdk"\n'
check_case cdrom_is_the_disk 65 'ide1:0.fileName names the same file as ide0:0.fileName'
# ...but two CD-ROMs may share one ISO (both read-only): the VM runs until --timeout (status 124)
dir=$run/iso_twice; mkdir -p "$dir"; head -c 2048000 /dev/zero > "$dir/a.iso"
vmx 'ide1:0.present = "TRUE"\nide1:0.deviceType = "cdrom-image"\nide1:0.fileName = "a.iso"\nsata0.present = "TRUE"\nsata0:1.present = "TRUE"\nsata0:1.deviceType = "cdrom-image"\nsata0:1.fileName = "a.iso"\n'
(cd "$dir" && timeout -s KILL 30 "$V" --headless --cpu=soft --timeout=2 --bios="$run/spin.bin" vm.vmx \
    >/dev/null 2>"$run/iso_twice.err"); rc=$?
if [ "$rc" = 124 ] && ! grep -q 'same file\|in use' "$run/iso_twice.err"; then echo "PASS cli/iso_twice_runs"
else echo "FAIL cli/iso_twice_runs: status $rc (expected 124, the --timeout): $(head -c 300 "$run/iso_twice.err")"; fi

# --- damaged sparse extents (header fields; offsets from VMware's Virtual Disk Format 5.0) ---
new sparse_truncated_512; sparse; truncate -s 512 "$dir/d.vmdk"; check_case sparse_truncated_512 65 'past the end of the file'
new sparse_truncated_2k; sparse; truncate -s 2048 "$dir/d.vmdk"; check_case sparse_truncated_2k 65 'past the end of the file'
new sparse_bad_magic; sparse 0 '<I' 0x58585858; check_case sparse_bad_magic 65 'not a VMDK disk'
new sparse_version_99; sparse 4 '<I' 99; check_case sparse_version_99 65 'unsupported sparse header version 99'
new capacity_absurd; sparse 12 '<Q' $((1 << 62)); check_case capacity_absurd 65 'capacity .* out of range'
new grain_size_zero; sparse 20 '<Q' 0; check_case grain_size_zero 65 'grain size 0 sectors'
new grain_size_three; sparse 20 '<Q' 3; check_case grain_size_three 65 'grain size 3 sectors'
new grain_size_huge; sparse 20 '<Q' $((1 << 40)); check_case grain_size_huge 65 'grain size 1099511627776'
new descriptor_offset_past_end; sparse 28 '<Q' $((1 << 40)); check_case descriptor_offset_past_end 65 'descriptor at sector .* past the end'
new descriptor_size_huge; sparse 36 '<Q' $((1 << 40)); check_case descriptor_size_huge 65 'too large'
new gtes_per_gt_zero; sparse 44 '<I' 0; check_case gtes_per_gt_zero 65 '0 entries per grain table'
new gtes_per_gt_huge; sparse 44 '<I' $((1 << 30)); check_case gtes_per_gt_huge 65 'entries per grain table'
new grain_directory_past_end; sparse 56 '<Q' $((1 << 40)); check_case grain_directory_past_end 65 'grain directory at sector .* past the end'
new garbage_vmdk; head -c 65536 /dev/urandom > "$dir/d.vmdk"; ide d.vmdk; check_case garbage_vmdk 65 'not a VMDK disk'
new empty_vmdk; : > "$dir/d.vmdk"; ide d.vmdk; check_case empty_vmdk 65 'not a VMDK disk'
new qcow2_named_vmdk; qemu-img create -q -f qcow2 "$dir/d.vmdk" 16M; ide d.vmdk; check_case qcow2_named_vmdk 65 'not a VMDK disk'
new garbage_on_scsi; head -c 65536 /dev/urandom > "$dir/d.vmdk"
vmx 'scsi0.present = "TRUE"\nscsi0.virtualDev = "lsilogic"\nscsi0:0.present = "TRUE"\nscsi0:0.fileName = "d.vmdk"\n'
check_case garbage_on_scsi 65 'scsi0:0: .*not a VMDK disk'
new truncated_on_sata; sparse; truncate -s 512 "$dir/d.vmdk"; vmx 'sata0.present = "TRUE"\nsata0:0.present = "TRUE"\nsata0:0.fileName = "d.vmdk"\n'
check_case truncated_on_sata 65 'sata0:0: .*past the end'
new bad_grain_on_nvme; sparse 20 '<Q' 3; vmx 'nvme0.present = "TRUE"\nnvme0:0.present = "TRUE"\nnvme0:0.fileName = "d.vmdk"\n'
check_case bad_grain_on_nvme 65 'nvme0:0: .*grain size 3'

# --- descriptors ---
new descriptor_garbage; { echo '# Disk DescriptorFile'; head -c 3000 /dev/urandom; } > "$dir/d.vmdk"; ide d.vmdk
check_case descriptor_garbage 65 'not a VMDK disk'
new descriptor_huge; python3 -c "
print('# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType=\"twoGbMaxExtentFlat\"')
for i in range(100000): print('RW 1 FLAT \"f.bin\" %d' % i)" > "$dir/d.vmdk"; ide d.vmdk
check_case descriptor_huge 65 'larger than 1048576 bytes'
new no_extents; desc monolithicFlat ''; check_case no_extents 65 'descriptor lists no extents'
new extent_missing; desc monolithicFlat 'RW 32768 FLAT "gone-flat.vmdk" 0'; check_case extent_missing 66 'gone-flat.vmdk: extent: No such file'
new extent_size_overflow; truncate -s 16M "$dir/f.bin"; desc monolithicFlat 'RW 99999999999999999999 FLAT "f.bin" 0'
check_case extent_size_overflow 65 'bad extent size'
new extent_size_negative; truncate -s 16M "$dir/f.bin"; desc monolithicFlat 'RW -5 FLAT "f.bin" 0'
check_case extent_size_negative 65 'bad extent size'
new extent_type_unknown; truncate -s 16M "$dir/f.bin"; desc monolithicFlat 'RW 32768 WEIRD "f.bin" 0'
check_case extent_type_unknown 65 'unsupported extent type'
new extent_access_unknown; truncate -s 16M "$dir/f.bin"; desc monolithicFlat 'RX 32768 FLAT "f.bin" 0'
check_case extent_access_unknown 65 'neither key = value nor an extent'
new create_type_unknown; truncate -s 16M "$dir/f.bin"; desc fooBar 'RW 32768 FLAT "f.bin" 0'
check_case create_type_unknown 65 'unknown createType'
new create_type_rdm; desc vmfsRawDeviceMap 'RW 32768 VMFSRDM "x-rdm.vmdk"'
check_case create_type_rdm 65 'raw device mappings are not supported'
new parent_is_itself; cp "$run/good.vmdk" "$dir/g.vmdk"; desc monolithicSparse 'RW 32768 SPARSE "g.vmdk"' 11111111 'parentFileNameHint="d.vmdk"'
check_case parent_is_itself 65 'snapshot chain loops back'
new parent_loop; truncate -s 16M "$dir/f.bin"; desc monolithicFlat 'RW 32768 FLAT "f.bin" 0' 22222222 'parentFileNameHint="b.vmdk"'
printf '# Disk DescriptorFile\nversion=1\nCID=22222222\nparentCID=12345678\ncreateType="monolithicFlat"\nparentFileNameHint="d.vmdk"\nRW 32768 FLAT "f.bin" 0\n' > "$dir/b.vmdk"
check_case parent_loop 65 'loops back|does not match CID'
new parent_missing; cp "$run/good.vmdk" "$dir/g.vmdk"; desc monolithicSparse 'RW 32768 SPARSE "g.vmdk"' 44444444 'parentFileNameHint="gone-parent.vmdk"'
check_case parent_missing 66 'gone-parent.vmdk: No such file'
new parent_cid_mismatch; cp "$run/good.vmdk" "$dir/p.vmdk"; qemu-img create -q -f vmdk "$dir/g.vmdk" 16M
desc monolithicSparse 'RW 32768 SPARSE "g.vmdk"' 44444444 'parentFileNameHint="p.vmdk"'
check_case parent_cid_mismatch 65 "parentCID 44444444 does not match CID $cid"

# --- permissions, as a user who is not root ---
if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1 || ! command -v runuser >/dev/null ||
    ! runuser -u nobody -- test -r "$run/spin.bin"; then
    echo "SKIP cli/badfile_unreadable_vmx: needs root, the user nobody and runuser, with $run reachable by nobody"
    echo "SKIP cli/badfile_unreadable_disk: as above"
    echo "SKIP cli/badfile_read_only_disk: as above"
else
    new unreadable_vmx; ide d.vmdk; cp "$run/good.vmdk" "$dir/d.vmdk"; chmod 000 "$dir/vm.vmx"
    check_case unreadable_vmx 77 'vm.vmx: Permission denied' nobody
    new unreadable_disk; ide d.vmdk; chmod 644 "$dir/vm.vmx"; cp "$run/good.vmdk" "$dir/d.vmdk"; chmod 000 "$dir/d.vmdk"
    check_case unreadable_disk 77 'd.vmdk: Permission denied' nobody
    new read_only_disk; ide d.vmdk; chmod 644 "$dir/vm.vmx"; cp "$run/good.vmdk" "$dir/d.vmdk"; chmod 444 "$dir/d.vmdk"
    chmod 777 "$dir"
    check_case read_only_disk 73 'read-only .*use --snapshot' nobody
fi
