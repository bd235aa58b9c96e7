#!/usr/bin/env bash
# Network boot: a VM without disks whose ethernet0 is an e1000e. The player
# hands ipxe-qemu's pxe-e1000e.rom to SeaBIOS as the card's PCI expansion ROM;
# SeaBIOS runs it (iPXE's banner on the screen) and boots its entry when no
# disk is there; iPXE's own driver takes the card ("using 82574l"), gets slirp's
# DHCP lease with the boot file --net-bootfile names, fetches it from the TFTP
# server --net-tftp gives slirp and runs it as a PXE boot program ([PXE-NBP]).
# The boot file is 64 bytes of 16-bit code written here: it prints a marker
# through the BIOS (the screen) and to COM1 (serial0), then halts; the run ends
# by --timeout (124). Without the ROM (VMPLAY_IPXE_DIR pointing elsewhere) the
# player says so in one line and boots on without PXE. With a bootable disk and
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
# mov ah,0eh; mov bx,7; int 10h; jmp l; d: cli; hlt; jmp d; msg: db "...",13,10,0
python3 - "$run/tftp/boot.0" <<'EOP'
import sys
msg = b"VMPLAY-MARKER: pxe boot file ran\r\n\0"
c = bytearray(b"\x31\xc0\x8e\xd8\xbe\x00\x00\xac\x84\xc0\x74\x00\xba\xf8\x03\xee"
              b"\xb4\x0e\xbb\x07\x00\xcd\x10\xeb\xee\xfa\xf4\xeb\xfc")
c[11] = 0x19 - 0x0c          # jz d
at = 0x7c00 + len(c)
c[5], c[6] = at & 0xff, at >> 8
open(sys.argv[1], "wb").write(bytes(c) + msg)
EOP
rom=${VMPLAY_IPXE_DIR:-/usr/lib/ipxe/qemu}/pxe-e1000e.rom
if [ ! -f "$rom" ]; then
    skip net_boot "no $rom (Debian's ipxe-qemu; tools/deps/check-pxe.txt installs it)"
else
    (cd "$run" && exec timeout 300 "$V" --headless --cpu=soft --timeout=75 --screen-text=screen.txt \
        --net-tftp="$run/tftp" --net-bootfile=boot.0 pxe.vmx >"$run/out.txt" 2>"$run/err.txt"); st=$?
    grep -q "^iPXE (http://ipxe.org) 00:03.0" "$run/screen.txt" && ok option_rom_runs_at_post ||
        bad option_rom_runs_at_post "no iPXE banner on the screen: $(head -c 300 "$run/screen.txt" | tr -s ' \n' ' ')"
    grep -q "using 82574l on" "$run/screen.txt" && ok ipxe_driver_takes_the_82574l ||
        bad ipxe_driver_takes_the_82574l "$(grep -a 'net0' "$run/screen.txt" | head -2 | tr '\n' ' ')"
    size=$(stat -c %s "$run/tftp/boot.0")
    grep -q "boot.0 : $size bytes \[PXE-NBP\]" "$run/screen.txt" && ok tftp_fetches_boot_file ||
        bad tftp_fetches_boot_file "$(tail -c 400 "$run/screen.txt" | tr -s ' \n' ' ')"
    grep -aq "VMPLAY-MARKER: pxe boot file ran" "$run/serial.txt" 2>/dev/null &&
        grep -q "VMPLAY-MARKER: pxe boot file ran" "$run/screen.txt" && ok boot_file_runs ||
        bad boot_file_runs "serial '$(head -c 200 "$run/serial.txt" 2>/dev/null)'"
    [ "$st" = 124 ] && ok ends_by_timeout || bad ends_by_timeout "status $st: $(head -c 300 "$run/err.txt")"
    # A VM whose disk boots Linux (the appliance), with bios.bootOrder = "ethernet0,hdd": the network first.
    if img=$(BUILD=$BUILD tests/images/appliance.sh 2>"$BUILD/appliance-build.log"); then
        cp "$img/test.vmdk" "$run/"
        { cat "$run/pxe.vmx"; printf 'ide0:0.present = "TRUE"\nide0:0.fileName = "test.vmdk"\n';
          printf 'bios.bootOrder = "ethernet0,hdd"\n'; } | sed 's/serial.txt/serial-order.txt/' > "$run/order.vmx"
        (cd "$run" && exec timeout 300 "$V" --headless --cpu=soft --timeout=75 --net-tftp="$run/tftp" \
            --net-bootfile=boot.0 order.vmx >"$run/out-order.txt" 2>"$run/err-order.txt"); st=$?
        if grep -aq "VMPLAY-MARKER: pxe boot file ran" "$run/serial-order.txt" 2>/dev/null &&
            ! grep -aq "VMPLAY-MARKER: init started" "$run/serial-order.txt"; then
            ok boot_order_ethernet0_before_disk
        else
            bad boot_order_ethernet0_before_disk "status $st, serial: $(head -c 300 "$run/serial-order.txt" 2>/dev/null | tr '\n' '|')"
        fi
    else
        bad boot_order_ethernet0_before_disk "appliance: $(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"
    fi
fi
(cd "$run" && VMPLAY_IPXE_DIR="$run/norom" exec timeout 300 "$V" --headless --cpu=soft --timeout=8 \
    --screen-text=screen-norom.txt pxe.vmx >"$run/out-norom.txt" 2>"$run/err-norom.txt"); st=$?
n=$(grep -c "ethernet0: no network boot ROM ($run/norom/pxe-e1000e.rom: No such file or directory; Debian's ipxe-qemu has it); booting without PXE" "$run/err-norom.txt")
if [ "$st" = 124 ] && [ "$n" = 1 ] && ! grep -q "iPXE" "$run/screen-norom.txt"; then
    ok absent_rom_one_line_boots_without_pxe
else
    bad absent_rom_one_line_boots_without_pxe "status $st, $n notices: $(head -c 300 "$run/err-norom.txt")"
fi
