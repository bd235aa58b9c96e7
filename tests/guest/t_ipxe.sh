#!/usr/bin/env bash
# iPXE (Debian's ipxe package) to its prompt, two ways, each against QEMU TCG:
#   ipxe.lkrn as a bzImage (--kernel) with an iPXE script as its initrd, on vmplay's
#   interpreter with an e1000: the script takes a DHCP lease and leaves iPXE at its
#   "iPXE>" prompt;
#   ipxe.iso from the CD-ROM (its ISOLINUX loads ipxe.krn) on the translator with a
#   vmxnet3: iPXE's own driver takes the card, autoboots, fetches its script from the
#   NAT's TFTP server (--net-tftp, --net-bootfile) and ends at the prompt.
# At the prompt a command is typed through the control socket (send-keys; QEMU's
# monitor sendkey) and its output awaited. Oracle: vmplay's text screen from iPXE's
# banner on equals QEMU's (qemu-system-i386 -accel tcg with the same files, card and
# MAC address, its screen read from the text buffer), with only runs of iPXE's
# progress dots (one a second) made one; the IPv4 lease and the IPv6 address from
# the NAT's router advertisement are on both screens.
set -u
V=$(realpath "${VMPLAY:-./vmplay}")
BUILD=${BUILD:-build}
ok() { echo "PASS ipxe/$1${2:+ $2}"; }
bad() { echo "FAIL ipxe/$1: $2"; }
skip() { echo "SKIP ipxe/$1: $2"; }
lkrn=/usr/lib/ipxe/ipxe.lkrn iso=/usr/lib/ipxe/ipxe.iso
[ -f $lkrn ] && [ -f $iso ] || { skip all "Debian's ipxe package is not installed (tools/deps/check-guests.txt)"; exit 0; }
command -v python3 >/dev/null || { skip all "python3 missing"; exit 0; }
run=$(mkdir -p "$BUILD/guest" && cd "$BUILD/guest" && pwd)/ipxe
rm -rf "$run"; mkdir -p "$run/tftp"
ctl=tests/guest/control_client.py
mac=00:0c:29:4d:50:4c
typed="echo VMPLAY typed $$"
printf '#!ipxe\necho VMPLAY-IPXE: script from the initrd\ndhcp\nshow net0/ip\nroute\nshell\n' > "$run/initrd.ipxe"
printf '#!ipxe\necho VMPLAY-IPXE: script from TFTP\nshow net0/ip\nshell\n' > "$run/tftp/boot.ipxe"
vmx() { # name card extra-lines...
    local name=$1 card=$2; shift 2
    printf '%s\n' '.encoding = "UTF-8"' 'config.version = "8"' 'virtualHW.version = "19"' \
        "displayName = \"iPXE $name\"" 'guestOS = "other"' 'memsize = "128"' 'floppy0.present = "FALSE"' \
        'ethernet0.present = "TRUE"' "ethernet0.virtualDev = \"$card\"" 'ethernet0.connectionType = "nat"' \
        'ethernet0.addressType = "generated"' "ethernet0.generatedAddress = \"$mac\"" 'ethernet0.generatedAddressOffset = "0"' "$@" > "$run/$name/$name.vmx"
}
# The screen from iPXE's banner line on, trailing blank lines gone, dot runs made one.
norm() { sed -n '/^iPXE [0-9]/,$p' "$1" | sed 's/\.\.\.*/./g' | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'; }

vmplay_run() { # name cpu-args... -- player-args...
    local name=$1; shift
    local sock=$run/$name/ctl.sock pid rc=0
    (cd "$run/$name" && exec "$V" --headless --timeout=300 --control="$sock" "$@" "$name.vmx" \
        >/dev/null 2>stderr.txt) &
    pid=$!
    python3 $ctl "$sock" --wait-text '^iPXE>' 240 > "$run/$name/prompt.txt" || rc=1
    if [ $rc = 0 ]; then
        python3 $ctl "$sock" --type "$typed"$'\n' >/dev/null &&
            python3 $ctl "$sock" --wait-text "^${typed#echo }\$" 60 > "$run/$name/screen.txt" || rc=2
    fi
    python3 $ctl "$sock" '{"execute":"power-off"}' >/dev/null 2>&1
    wait $pid
    return $rc
}
qemu_run() { # name qemu-args...
    local name=$1; shift
    timeout 400 python3 tests/guest/qemu_screen.py "$run/$name/qemu-screen.txt" 240 '^iPXE>' "$typed"$'\n' \
        "^${typed#echo }\$" -- -accel tcg -M pc -m 128 -nodefaults -vga std -display none -no-reboot "$@"
}
compare() { # name what
    local name=$1 what=$2 a b
    a=$(norm "$run/$name/screen.txt")
    b=$(norm "$run/$name/qemu-screen.txt")
    if [ -n "$a" ] && [ "$a" = "$b" ] && echo "$a" | grep -q '10\.0\.2\.15' && echo "$a" | grep -q 'fec0::'; then
        ok "${name}_screen_equals_qemu" "($what, $(echo "$a" | wc -l) lines)"
    else
        bad "${name}_screen_equals_qemu" "$(diff <(echo "$a") <(echo "$b") | head -6 | tr '\n' '|')"
    fi
}

mkdir -p "$run/lkrn"
vmx lkrn e1000
if vmplay_run lkrn --cpu=soft --jit=off --kernel=$lkrn --initrd="$run/initrd.ipxe"; then
    ok lkrn_prompt "(interpreter, e1000: the prompt, then the typed command's output)"
else
    bad lkrn_prompt "no iPXE> or no typed output: $(grep -v '^$' "$run/lkrn/prompt.txt" | tail -3 | tr '\n' '|') $(tail -1 "$run/lkrn/stderr.txt")"
fi
mkdir -p "$run/cdrom"
vmx cdrom vmxnet3 'ide1:0.present = "TRUE"' 'ide1:0.deviceType = "cdrom-image"' \
    "ide1:0.fileName = \"$iso\"" 'bios.bootOrder = "cdrom"'
if vmplay_run cdrom --cpu=soft --jit=on --net-tftp="$run/tftp" --net-bootfile=boot.ipxe; then
    ok cdrom_prompt "(translator, vmxnet3: ISOLINUX, TFTP script, the prompt, the typed command)"
else
    bad cdrom_prompt "no iPXE> or no typed output: $(grep -v '^$' "$run/cdrom/prompt.txt" | tail -3 | tr '\n' '|') $(tail -1 "$run/cdrom/stderr.txt")"
fi

command -v qemu-system-i386 >/dev/null || { skip qemu "qemu-system-i386 not installed: no cross-check"; exit 0; }
if qemu_run lkrn -kernel $lkrn -initrd "$run/initrd.ipxe" -netdev user,id=n0 -device e1000,netdev=n0,mac=$mac; then
    compare lkrn "ipxe.lkrn, e1000"
else
    bad lkrn_qemu "QEMU did not reach the prompt: $(grep -v '^$' "$run/lkrn/qemu-screen.txt" | tail -2 | tr '\n' '|')"
fi
if qemu_run cdrom -cdrom $iso -boot d -netdev user,id=n0,tftp="$run/tftp",bootfile=boot.ipxe \
    -device vmxnet3,netdev=n0,mac=$mac; then
    compare cdrom "ipxe.iso, vmxnet3"
else
    bad cdrom_qemu "QEMU did not reach the prompt: $(grep -v '^$' "$run/cdrom/qemu-screen.txt" | tail -2 | tr '\n' '|')"
fi
