#!/usr/bin/env bash
# The tap back end's data path (issue 16): the appliance (vmplay.mode=tap) with ethernet0 an
# e1000 on --net-tap=vmptap0, a tap device this script makes inside a network namespace of
# its own (unshare -n), with the host's end at 10.77.0.1/24 and the guest at 10.77.0.2.
# Everything the guest reaches lives in that namespace: a Python HTTP server bound to
# 10.77.0.1:18390 and a TCP sink on 10.77.0.1:18391; the outside network is never seen.
# Oracles: the guest's e1000 driver binds, the file it fetches has the host file's size and
# md5, the 256 KiB it sends arrive at the sink with the md5 the guest computed, and the
# guest powers off (status 0). SKIP where the host cannot make a namespace or a tap in it.
set -u
V=$(realpath "${VMPLAY:-./vmplay}")
BUILD=${BUILD:-build}
ok() { echo "PASS tap/$1"; }
bad() { echo "FAIL tap/$1: $2"; }
skip() { echo "SKIP tap/$1: $2"; }
command -v unshare >/dev/null && command -v ip >/dev/null ||
    { skip data_path "needs unshare (util-linux) and ip (iproute2)"; exit 0; }
why=$(unshare -n sh -c 'ip tuntap add dev vmptap0 mode tap' 2>&1) ||
    { skip data_path "cannot make a tap in a new network namespace: ${why:-unshare -n failed}"; exit 0; }
img=$(BUILD=$BUILD tests/images/appliance.sh 2>"$BUILD/appliance-build.log") ||
    { bad image_build "$(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"; exit 0; }
[ -f "$img/tap.vmdk" ] || { bad image_build "the appliance has no tap mode"; exit 0; }
run=$(mkdir -p "$BUILD/guest" && cd "$BUILD/guest" && pwd)/tap
rm -rf "$run"; mkdir -p "$run/www"
cp "$img/tap.vmdk" "$run/"
head -c 300000 /dev/urandom > "$run/www/blob"
sed -e '/^ide0:/d' -e 's/^serial0.fileName = .*/serial0.fileName = "serial.txt"/' "$img/test.vmx" > "$run/tap.vmx"
cat >> "$run/tap.vmx" <<'EOV'
ide0:0.present = "TRUE"
ide0:0.fileName = "tap.vmdk"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "e1000"
ethernet0.connectionType = "bridged"
ethernet0.addressType = "generated"
ethernet0.generatedAddress = "00:0c:29:6f:90:12"
ethernet0.generatedAddressOffset = "0"
EOV
cat > "$run/sink.py" <<'EOP'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.77.0.1", 18391)); s.listen(1); s.settimeout(900)
c, _ = s.accept(); c.settimeout(120)
with open(sys.argv[1], "wb") as f:
    n = 0
    while n < 262144:
        b = c.recv(65536)
        if not b:
            break
        f.write(b); n += len(b)
c.close()
EOP
# Inside the namespace: the tap, the two servers, the player.
cat > "$run/inner.sh" <<EOI
set -u
ip link set lo up
ip tuntap add dev vmptap0 mode tap || exit 71
ip addr add 10.77.0.1/24 dev vmptap0 && ip link set vmptap0 up || exit 71
python3 -m http.server --bind 10.77.0.1 --directory "$run/www" 18390 >"$run/http.log" 2>&1 & h=\$!
python3 "$run/sink.py" "$run/up.bin" & s=\$!
sleep 1
cd "$run" && timeout 900 "$V" --headless --cpu=soft --timeout=600 --net-tap=vmptap0 tap.vmx >out.txt 2>err.txt
echo \$? > "$run/status"
kill \$h \$s 2>/dev/null; wait \$h \$s 2>/dev/null
exit 0
EOI
nice unshare -n bash "$run/inner.sh"
st=$(cat "$run/status" 2>/dev/null || echo none)
s=$run/serial.clean
tr -d '\r' < "$run/serial.txt" > "$s" 2>/dev/null
m() { sed -n "s/.*VMPLAY-MARKER: tap $1 //p" "$s" | head -1; }
[ "$(m driver)" = e1000 ] && ok e1000_driver_binds || bad e1000_driver_binds "driver '$(m driver)'"
want="$(stat -c %s "$run/www/blob") $(md5sum < "$run/www/blob" | cut -c1-32)"
[ "$(m wget)" = "$want" ] && ok guest_fetches_from_host || bad guest_fetches_from_host "guest got '$(m wget)', want '$want'"
sent=$(m sent)
got="$(stat -c %s "$run/up.bin" 2>/dev/null || echo 0) $(md5sum < "$run/up.bin" 2>/dev/null | cut -c1-32)"
[ -n "$sent" ] && [ "$sent" = "$got" ] && ok host_receives_from_guest ||
    bad host_receives_from_guest "guest sent '$sent', host got '$got'"
[ "$st" = 0 ] && ok powers_off || bad powers_off "status $st: $(head -c 300 "$run/err.txt" 2>/dev/null)"
exit 0
