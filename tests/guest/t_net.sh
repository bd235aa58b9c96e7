#!/usr/bin/env bash
# Networking end to end: the test appliance (vmplay.mode=net) with ethernet0 an
# e1000 on NAT, as VMware writes the .vmx. The guest's Linux binds its e1000
# driver, busybox udhcpc gets slirp's lease (10.0.2.15), wget fetches a file
# from an HTTP server this script runs on the host's loopback (10.0.2.2 from the
# guest) and the md5s match, the host fetches the guest's busybox httpd through
# --forward=tcp:127.0.0.1:PORT:80 and the md5s match, the guest powers off
# (status 0). The --net-dump capture parses with tshark and holds the DHCP
# exchange. Then the same image under QEMU TCG (-nic user,model=e1000) passes
# the same markers. Both runs once per card of CARDS (one line each: the .vmx
# virtualDev, the Linux driver that must bind it, QEMU's -nic model);
# NET_CARDS="vmxnet3" runs a subset. Refusals: a forward port already taken, a
# tap that cannot be opened (one line, 69). The vmxnet3 INTx run is host-only:
# a lease and the forward, but its wget reaches nothing. Only 127.0.0.1 is ever contacted.
set -u
V=${VMPLAY:-./vmplay}
ok() { echo "PASS net/$1"; }
bad() { echo "FAIL net/$1: $2"; }
skip() { echo "SKIP net/$1: $2"; }
img=$(BUILD=$BUILD tests/images/appliance.sh 2>"$BUILD/appliance-build.log") ||
    { bad image_build "$(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"; exit 0; }
run=$BUILD/guest/net
rm -rf "$run"; mkdir -p "$run/vm" "$run/www"
cp "$img/net.vmdk" "$run/vm/"
sed -e '/^ide0:/d' -e 's/^serial0.fileName = .*/serial0.fileName = "net-serial.txt"/' "$img/test.vmx" > "$run/vm/net.vmx"
cat >> "$run/vm/net.vmx" <<'EOF'
ide0:0.present = "TRUE"
ide0:0.fileName = "net.vmdk"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "e1000"
ethernet0.connectionType = "nat"
ethernet0.addressType = "generated"
ethernet0.generatedAddress = "00:0c:29:6f:90:12"
ethernet0.generatedAddressOffset = "0"
EOF
# virtualDev  guest driver  QEMU -nic model
CARDS="e1000 e1000 e1000
e1000e e1000e e1000e
vlance pcnet32 pcnet
vmxnet3 vmxnet3 vmxnet3"
# The same bytes in every run, so a concurrent run's server on the guest's port serves them too.
python3 -c 'import random, sys; r = random.Random(16); sys.stdout.buffer.write(r.randbytes(300000))' > "$run/www/blob"
blob_md5=$(md5sum < "$run/www/blob" | cut -c1-32)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_free() { python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1])))' "$1" 2>/dev/null; }
# The guest tries these ports for the host's server in turn (tests/images/modes/net.sh).
hport=
for p in 18321 28321 38321; do port_free $p && { hport=$p; break; }; done
[ -n "$hport" ] || { bad host_server "ports 18321, 28321 and 38321 are all taken"; exit 0; }
python3 -m http.server --bind 127.0.0.1 --directory "$run/www" "$hport" >"$run/http.log" 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null' EXIT

marker() { grep -a "VMPLAY-MARKER: $1" "$2" 2>/dev/null | tr -d '\r' | tail -1; }

# host side of one guest run: waits for "serving", fetches through fwd, signals done on sig
host_side() { # serial-file fwd-port sig-port pid -> prints the fetched md5
    local serial=$1 fp=$2 sp=$3 pid=$4 n=0
    while [ $n -lt 1200 ] && kill -0 "$pid" 2>/dev/null && [ -z "$(marker 'net serving' "$serial")" ]; do
        sleep 0.5; n=$((n + 1))
    done
    curl -s --max-time 120 -o "$run/fetched" "http://127.0.0.1:$fp/out" 2>/dev/null
    md5sum < "$run/fetched" 2>/dev/null | cut -c1-32
    python3 - "$sp" <<'EOF' 2>/dev/null
import socket, sys, time
for _ in range(20):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
        s.sendall(b"done\n"); s.close(); break
    except OSError:
        time.sleep(1)
EOF
}

check_markers() { # who serial status fetched-md5 driver [conn]
    local who=$1 serial=$2 st=$3 got=$4 want=$5 conn=${6:-nat}
    local drv lease wget serving wport
    drv=$(marker 'net driver' "$serial" | awk '{print $NF}')
    lease=$(marker 'net lease' "$serial" | awk '{print $NF}')
    wget=$(marker 'net wget' "$serial" | awk '{print $NF}')
    serving=$(marker 'net serving' "$serial" | awk '{print $NF}')
    [ "$drv" = "$want" ] && ok "${who}_driver_$want" || bad "${who}_driver_$want" "driver '$drv'"
    [ "$lease" = 10.0.2.15 ] && ok "${who}_dhcp_lease" || bad "${who}_dhcp_lease" "lease '$lease'"
    wport=$(marker 'net wget' "$serial" | awk '{print $4}')
    if [ "$conn" = hostonly ]; then
        # The restricted NAT answers DHCP but lets no connection out: the guest's
        # wget fails on every port and the host's server sees no request.
        if [ -z "$wget" ] && [ "$(grep -c 'GET /blob' "$run/http.log")" = "$gets_before" ]; then
            ok "${who}_hostonly_guest_cannot_reach_host"
        else
            bad "${who}_hostonly_guest_cannot_reach_host" "guest wget '$wget' on port '$wport', server log $(grep -c 'GET /blob' "$run/http.log") GETs, $gets_before before"
        fi
    elif [ "$wget" = "$blob_md5" ]; then
        ok "${who}_guest_fetches_host"
    elif [ -n "$wport" ] && [ "$wport" != "$hport" ]; then
        skip "${who}_guest_fetches_host" "the guest reached port $wport, held by another process on this host (ours: $hport)"
    else
        bad "${who}_guest_fetches_host" "guest md5 '$wget', host file $blob_md5"
    fi
    [ -n "$serving" ] && [ "$got" = "$serving" ] && ok "${who}_host_fetches_guest_through_forward" ||
        bad "${who}_host_fetches_guest_through_forward" "guest serves '$serving', host got '$got'"
    [ "$st" = 0 ] && ok "${who}_powers_off" || bad "${who}_powers_off" "status $st"
}

# vmxnet3's trace (--trace=pci): Linux's driver took MSI-X with auto-masking, and
# its transfers above went through TCP segmentation and checksum insertion (the
# md5s matching through slirp, which drops bad checksums, is what shows them right).
check_vmxnet3_trace() { # stderr-file name
    local act sum mode=MSI-X n=1
    act=$(grep -a 'vmxnet3 .*: activated' "$1" | tail -1)
    sum=$(grep -a 'vmxnet3 .*frames sent' "$1" | tail -1)
    [ "$2" = vmxnet3_intx ] && mode=INTx n=3
    case "$act" in
    *", $mode, "*auto-masked*) ok "${2}_driver_takes_$mode" ;;
    *) bad "${2}_driver_takes_$mode" "trace '$act'" ;;
    esac
    [[ "$sum" =~ interrupts:\ ([0-9]+)\ MSI-X,\ ([0-9]+)\ MSI,\ ([0-9]+)\ INTx ]] && [ "${BASH_REMATCH[$n]}" -gt 0 ] &&
        ok "${2}_interrupts_delivered_by_$mode" || bad "${2}_interrupts_delivered_by_$mode" "trace '$sum'"
    [ "$2" = vmxnet3 ] || return 0
    if [[ "$sum" =~ \(([0-9]+)\ TSO\ packets\ cut\ into\ ([0-9]+),\ ([0-9]+)\ checksums ]] &&
        [ "${BASH_REMATCH[1]}" -gt 0 ] && [ "${BASH_REMATCH[2]}" -gt "${BASH_REMATCH[1]}" ] &&
        [ "${BASH_REMATCH[3]}" -gt 0 ]; then
        ok vmxnet3_tso_and_checksum_offload_used
    else
        bad vmxnet3_tso_and_checksum_offload_used "trace '$sum'"
    fi
}

# ---- vmplay, once per card ----
run_vmplay() { # virtualDev driver [name boot-disk connection-type]
    local card=$1 drv=$2 tag=${3:-$1} disk=${4:-net.vmdk} conn=${5:-nat} who=vmplay pw= fp sp pid got st dhcp frames
    [ "$tag" = e1000 ] || { who=vmplay_$tag; pw=${tag}_; }
    sed -e "s/^ethernet0.virtualDev = .*/ethernet0.virtualDev = \"$card\"/" \
        -e "s/^serial0.fileName = .*/serial0.fileName = \"$tag-serial.txt\"/" \
        -e "s/^ide0:0.fileName = .*/ide0:0.fileName = \"$disk\"/" \
        -e "s/^ethernet0.connectionType = .*/ethernet0.connectionType = \"$conn\"/" "$run/vm/net.vmx" > "$run/vm/$tag.vmx"
    gets_before=$(grep -c 'GET /blob' "$run/http.log")
    fp=$(free_port); sp=$(free_port)
    while [ "$sp" = "$fp" ]; do sp=$(free_port); done
    (cd "$run/vm" && exec timeout 900 "$V" --headless --cpu=soft --timeout=600 --trace=pci \
        --forward=tcp:127.0.0.1:$fp:80 --forward=tcp:$sp:81 --net-dump="$run/$tag.pcap" $tag.vmx \
        >"$run/vmplay-$tag.out" 2>"$run/vmplay-$tag.err") &
    pid=$!
    got=$(host_side "$run/vm/$tag-serial.txt" "$fp" "$sp" "$pid")
    wait $pid; st=$?
    check_markers "$who" "$run/vm/$tag-serial.txt" "$st" "$got" "$drv" "$conn"
    [ "$st" = 0 ] || echo "  vmplay stderr: $(head -c 400 "$run/vmplay-$tag.err" | tr '\n' '|')"
    [ "$card" = vmxnet3 ] && check_vmxnet3_trace "$run/vmplay-$tag.err" "$tag"

    # ---- the capture ----
    if command -v tshark >/dev/null; then
        dhcp=$(tshark -r "$run/$tag.pcap" -Y 'dhcp' -T fields -e dhcp.option.dhcp 2>"$run/tshark.err" | sort -u | tr '\n' ' ')
        # DHCP message types: 1 discover, 2 offer, 3 request, 5 ack
        case "$dhcp" in
        *1*2*3*5*) ok "${pw}pcap_holds_dhcp_exchange" ;;
        *) bad "${pw}pcap_holds_dhcp_exchange" "message types '$dhcp': $(head -c 200 "$run/tshark.err")" ;;
        esac
        frames=$(tshark -r "$run/$tag.pcap" 2>/dev/null | wc -l)
        [ "$frames" -gt 20 ] && ok "${pw}pcap_parses" || bad "${pw}pcap_parses" "tshark read $frames frames"
    else
        skip "${pw}pcap_holds_dhcp_exchange" "no tshark (tools/deps/check-net.txt installs it)"
    fi
}
while read -r card drv model; do
    case " ${NET_CARDS:-$card} " in *" $card "*) run_vmplay "$card" "$drv" ;; esac
done <<<"$CARDS"
# vmxnet3 once more with pci=nomsi on the guest's command line: the driver falls back to INTx.
# This run is also the host-only one (connectionType "hostonly"): a lease and the
# forward into the guest, no way out.
case " ${NET_CARDS:-vmxnet3} " in *" vmxnet3 "*)
    cp "$img/net.img" "$run/nomsi.img"
    mtype -i "$run/nomsi.img@@1M" ::syslinux.cfg | sed 's/ panic=-1 / panic=-1 pci=nomsi /' > "$run/nomsi.cfg"
    mcopy -o -i "$run/nomsi.img@@1M" "$run/nomsi.cfg" ::syslinux.cfg
    qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse "$run/nomsi.img" "$run/vm/nomsi.vmdk"
    run_vmplay vmxnet3 vmxnet3 vmxnet3_intx nomsi.vmdk hostonly ;;
esac

# ---- refusals before power-on ----
fp=$(free_port)
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",'"$fp"')); s.listen(); print("ready", flush=True); time.sleep(60)' >"$run/holder.out" &
holder=$!
n=0; while [ $n -lt 50 ] && ! grep -q ready "$run/holder.out"; do sleep 0.1; n=$((n+1)); done
(cd "$run/vm" && "$V" --headless --cpu=soft --timeout=5 --forward=tcp:$fp:80 net.vmx >/dev/null 2>"$run/busy.err"); st=$?
kill $holder 2>/dev/null
if [ $st = 69 ] && [ "$(wc -l < "$run/busy.err")" = 1 ] && grep -q "cannot listen on 127.0.0.1 port $fp" "$run/busy.err"; then
    ok forward_port_taken_69
else
    bad forward_port_taken_69 "status $st: $(head -c 300 "$run/busy.err")"
fi
# lo exists and is no tap: TUNSETIFF refuses it for root too (a made-up name would be created).
(cd "$run/vm" && "$V" --headless --cpu=soft --timeout=5 --net-tap=lo net.vmx >/dev/null 2>"$run/tap.err"); st=$?
if [ $st = 69 ] && [ "$(wc -l < "$run/tap.err")" = 1 ] && grep -q -- "--net-tap=lo" "$run/tap.err"; then
    ok tap_unavailable_69
elif [ $st = 124 ] || [ $st = 0 ]; then
    skip tap_unavailable_69 "this host let vmplay attach to lo as a tap; the refusal cannot be shown"
else
    bad tap_unavailable_69 "status $st: $(head -c 300 "$run/tap.err")"
fi

# bridged without a tap: NAT, and one line that says so (the run itself is cut short)
sed 's/^ethernet0.connectionType = .*/ethernet0.connectionType = "bridged"/' "$run/vm/net.vmx" > "$run/vm/bridged.vmx"
(cd "$run/vm" && "$V" --headless --cpu=soft --timeout=2 bridged.vmx >/dev/null 2>"$run/bridged.err"); st=$?
if [ $st = 124 ] && grep -q "ethernet0: bridged networking needs --net-tap=IFNAME; using NAT instead" "$run/bridged.err"; then
    ok bridged_falls_back_to_nat_with_notice
else
    bad bridged_falls_back_to_nat_with_notice "status $st: $(head -c 300 "$run/bridged.err")"
fi

# ---- the same image under QEMU ----
Q=$(command -v qemu-system-i386 || command -v qemu-system-x86_64)
if [ -z "$Q" ]; then
    skip qemu_same_markers "no qemu-system-i386"
    exit 0
fi
qemu-img convert -O raw "$run/vm/net.vmdk" "$run/net.raw" 2>/dev/null
run_qemu() { # virtualDev driver model
    local card=$1 drv=$2 model=$3 who=qemu fp sp qpid got n st
    [ "$card" = e1000 ] || who=qemu_$card
    fp=$(free_port); sp=$(free_port)
    while [ "$sp" = "$fp" ]; do sp=$(free_port); done
    timeout 900 "$Q" -accel tcg -m 256 -display none -no-reboot -drive file="$run/net.raw",format=raw,if=ide \
        -nic user,model=$model,hostfwd=tcp:127.0.0.1:$fp-:80,hostfwd=tcp:127.0.0.1:$sp-:81 \
        -serial file:"$run/qemu-$card-serial.txt" >"$run/qemu-$card.out" 2>&1 &
    qpid=$!
    got=$(host_side "$run/qemu-$card-serial.txt" "$fp" "$sp" "$qpid")
    n=0; while [ $n -lt 120 ] && kill -0 $qpid 2>/dev/null && [ -z "$(marker poweroff "$run/qemu-$card-serial.txt")" ]; do sleep 0.5; n=$((n+1)); done
    sleep 2; kill $qpid 2>/dev/null; wait $qpid 2>/dev/null
    st=1; [ -n "$(marker poweroff "$run/qemu-$card-serial.txt")" ] && st=0
    check_markers "$who" "$run/qemu-$card-serial.txt" "$st" "$got" "$drv"
}
while read -r card drv model; do
    case " ${NET_CARDS:-$card} " in *" $card "*) run_qemu "$card" "$drv" "$model" ;; esac
done <<<"$CARDS"
