#!/usr/bin/env bash
# Network boot: a VM without disks whose ethernet0 is an e1000e, then a vlance, a vmxnet3
# and an e1000 (the table at net_boot below). The player hands ipxe-qemu's ROM for the card
# (pxe-e1000e.rom, pxe-pcnet.rom, pxe-vmxnet3.rom; pxe-e1000.rom with its PCI data
# structure's device ID made VMware's 8086:100f) to SeaBIOS as its PCI expansion ROM;
# SeaBIOS runs it at POST (its log, --debugcon) and boots its entry when no
# disk is there; iPXE's own driver takes the card ("using 82574l", "pcnet32", "vmxnet3",
# "82545em"), gets slirp's
# DHCP lease with the boot file --net-bootfile names, fetches it from the TFTP
# server --net-tftp gives slirp and runs it as a PXE boot program ([PXE-NBP]).
# The boot file is 64 bytes of 16-bit code written here: it prints a marker
# through the BIOS (the screen) and to COM1 (serial0), then ends the run through
# --debug-exit (status 85). Without the ROMs (VMPLAY_IPXE_DIR pointing elsewhere) the
# player says so in one line per card and boots on without PXE (one VM with all four
# cards). With a bootable disk and
# bios.bootOrder = "ethernet0,hdd" the network boots first.
set -u
V=${VMPLAY:-./vmplay}
ok() { echo "PASS pxe/$1"; }
bad() { echo "FAIL pxe/$1: $2"; }
skip() { echo "SKIP pxe/$1: $2"; }
run=$BUILD/guest/pxe
rm -rf "$run"; mkdir -p "$run/tftp" "$run/norom"
cat > "$run/pxe.vmx" <<'EOV'
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "network boot"
guestOS = "other"
memsize = "128"
serial0.present = "TRUE"
serial0.fileType = "file"
serial0.fileName = "serial.txt"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "e1000e"
ethernet0.connectionType = "nat"
ethernet0.addressType = "generated"
ethernet0.generatedAddress = "00:0c:29:6f:90:14"
EOV
# xor ax,ax; mov ds,ax; mov si,msg; l: lodsb; test al,al; jz d; mov dx,3f8h; out dx,al;
# mov ah,0eh; mov bx,7; int 10h; jmp l; d: mov al,2ah; out 0f4h,al; h: cli; hlt; jmp h;
# msg: db "...",13,10,0 (port 0xF4 is --debug-exit's: the run ends at once, status 85)
python3 - "$run/tftp/boot.0" <<'EOP'
import sys
msg = b"VMPLAY-MARKER: pxe boot file ran\r\n\0"
c = bytearray(b"\x31\xc0\x8e\xd8\xbe\x00\x00\xac\x84\xc0\x74\x00\xba\xf8\x03\xee"
              b"\xb4\x0e\xbb\x07\x00\xcd\x10\xeb\xee\xb0\x2a\xe6\xf4\xfa\xf4\xeb\xfc")
c[11] = 0x19 - 0x0c          # jz d
at = 0x7c00 + len(c)
c[5], c[6] = at & 0xff, at >> 8
open(sys.argv[1], "wb").write(bytes(c) + msg)
EOP
# net_boot CARD ROM IPXE_DRIVER: pxe.vmx with ethernet0 on CARD; the five checks, named CARD_...
net_boot() {
    local card=$1 rom=${VMPLAY_IPXE_DIR:-/usr/lib/ipxe/qemu}/$2 drv=$3 t=$1_ st
    [ "$card" = e1000e ] && t=   # the first card's names predate the table
    if [ ! -f "$rom" ]; then
        skip "${t}net_boot" "no $rom (Debian's ipxe-qemu; tools/deps/check-pxe.txt installs it)"
        return 1
    fi
    sed "s/virtualDev = \"e1000e\"/virtualDev = \"$card\"/; s/serial.txt/serial-$card.txt/" "$run/pxe.vmx" > "$run/pxe-$card.vmx"
    (cd "$run" && exec timeout 300 "$V" --headless --cpu=soft --timeout=150 --debug-exit --screen-text="screen-$card.txt" \
        --debugcon="debugcon-$card.txt" --net-tftp="$run/tftp" --net-bootfile=boot.0 "pxe-$card.vmx" >"$run/out-$card.txt" 2>"$run/err-$card.txt"); st=$?
    local scr=$run/screen-$card.txt ser=$run/serial-$card.txt
    # The ROM's banner at POST has scrolled off by the end (iPXE's IPv4 and IPv6 lines):
    # SeaBIOS's log says it ran the card's ROM after the VGA BIOS's, and the screen has
    # iPXE's boot entry starting.
    sed -n '/^Scan for option roms/,$p' "$run/debugcon-$card.txt" | grep -aq '^Running option rom at' &&
        grep -q "^iPXE (PCI 00:03.0) starting execution" "$scr" && ok "${t}option_rom_runs_at_post" ||
        bad "${t}option_rom_runs_at_post" "no option ROM run after the VGA BIOS's, or no iPXE on the screen: $(grep -a 'option rom' "$run/debugcon-$card.txt" | tr '\n' ' ') $(head -c 300 "$scr" | tr -s ' \n' ' ')"
    grep -q "using $drv on" "$scr" && ok "${t}ipxe_driver_takes_the_$drv" ||
        bad "${t}ipxe_driver_takes_the_$drv" "$(grep -a 'net0' "$scr" | head -2 | tr '\n' ' ')"
    local size
    size=$(stat -c %s "$run/tftp/boot.0")
    grep -q "boot.0 : $size bytes \[PXE-NBP\]" "$scr" && ok "${t}tftp_fetches_boot_file" ||
        bad "${t}tftp_fetches_boot_file" "$(tail -c 400 "$scr" | tr -s ' \n' ' ')"
    grep -aq "VMPLAY-MARKER: pxe boot file ran" "$ser" 2>/dev/null &&
        grep -q "VMPLAY-MARKER: pxe boot file ran" "$scr" && ok "${t}boot_file_runs" ||
        bad "${t}boot_file_runs" "serial '$(head -c 200 "$ser" 2>/dev/null)'"
    [ "$st" = 85 ] && ok "${t}ends_by_the_boot_files_debug_exit" ||
        bad "${t}ends_by_the_boot_files_debug_exit" "status $st: $(head -c 300 "$run/err-$card.txt")"
    return 0
}
# The cards whose ROM ipxe-qemu ships with the card's own PCI ID (SeaBIOS runs a ROM only
# when its PCIR vendor and device match the function): 82574L 8086:10d3, PCnet 1022:2000,
# vmxnet3 15ad:07b0; and pxe-e1000.rom, built for QEMU's 82540EM (8086:100e), whose intel
# driver also takes VMware's 82545EM, presented for 8086:100f.
net_boot vlance pxe-pcnet.rom pcnet32
net_boot vmxnet3 pxe-vmxnet3.rom vmxnet3
net_boot e1000 pxe-e1000.rom 82545em
if net_boot e1000e pxe-e1000e.rom 82574l; then
    # A VM whose disk boots Linux (the appliance), with bios.bootOrder = "ethernet0,hdd": the network first.
    if img=$(BUILD=$BUILD tests/images/appliance.sh 2>"$BUILD/appliance-build.log"); then
        cp "$img/test.vmdk" "$run/"
        { cat "$run/pxe.vmx"; printf 'ide0:0.present = "TRUE"\nide0:0.fileName = "test.vmdk"\n';
          printf 'bios.bootOrder = "ethernet0,hdd"\n'; } | sed 's/serial.txt/serial-order.txt/' > "$run/order.vmx"
        (cd "$run" && exec timeout 300 "$V" --headless --cpu=soft --timeout=150 --debug-exit --net-tftp="$run/tftp" \
            --net-bootfile=boot.0 order.vmx >"$run/out-order.txt" 2>"$run/err-order.txt"); st=$?
        if grep -aq "VMPLAY-MARKER: pxe boot file ran" "$run/serial-order.txt" 2>/dev/null &&
            ! grep -aq "VMPLAY-MARKER: init started" "$run/serial-order.txt" && [ "$st" = 85 ]; then
            ok boot_order_ethernet0_before_disk
        else
            bad boot_order_ethernet0_before_disk "status $st, serial: $(head -c 300 "$run/serial-order.txt" 2>/dev/null | tr '\n' '|')"
        fi
    else
        bad boot_order_ethernet0_before_disk "appliance: $(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"
    fi
fi
# Without the ROMs: one VM with the four cards (ethernet0..3), one line for each naming its
# ROM, and the VM boots on without PXE (no iPXE on the screen; the run ends by --timeout).
{ grep -v '^ethernet0' "$run/pxe.vmx"; n=0
  for card in e1000e vlance vmxnet3 e1000; do
      printf 'ethernet%d.present = "TRUE"\nethernet%d.virtualDev = "%s"\nethernet%d.connectionType = "nat"\n' $n $n $card $n
      printf 'ethernet%d.addressType = "generated"\nethernet%d.generatedAddress = "00:0c:29:6f:90:%d"\n' $n $n $((20 + n))
      n=$((n + 1))
  done; } > "$run/norom.vmx"
(cd "$run" && VMPLAY_IPXE_DIR="$run/norom" exec timeout 300 "$V" --headless --cpu=soft --timeout=8 \
    --screen-text="screen-norom.txt" norom.vmx >"$run/out-norom.txt" 2>"$run/err-norom.txt"); st=$?
# no_rom INDEX CARD ROM: ethernetINDEX's one line
no_rom() {
    local t=$2_ n
    [ "$2" = e1000e ] && t=
    n=$(grep -c "ethernet$1: no network boot ROM ($run/norom/$3: No such file or directory; Debian's ipxe-qemu has it); booting without PXE" "$run/err-norom.txt")
    if [ "$st" = 124 ] && [ "$n" = 1 ] && ! grep -q "iPXE" "$run/screen-norom.txt"; then
        ok "${t}absent_rom_one_line_boots_without_pxe"
    else
        bad "${t}absent_rom_one_line_boots_without_pxe" "status $st, $n notices: $(head -c 300 "$run/err-norom.txt")"
    fi
}
no_rom 0 e1000e pxe-e1000e.rom
no_rom 1 vlance pxe-pcnet.rom
no_rom 2 vmxnet3 pxe-vmxnet3.rom
no_rom 3 e1000 pxe-e1000.rom
n=$(grep -c "no network boot ROM" "$run/err-norom.txt")
[ "$n" = 4 ] && ok absent_roms_four_cards_four_lines || bad absent_roms_four_cards_four_lines "$n lines: $(cat "$run/err-norom.txt")"
