#!/usr/bin/env bash
# VMware SVGA II end to end: the appliance's svga mode in a .vmx with svga.present, on the
# software core, one boot. Oracles: SeaBIOS runs the VGA BIOS built for 15ad:0405 and the
# VGA text console reads back through the control socket's screen-text (the VGA behind the
# SVGA); Linux's vmwgfx negotiates SVGA_ID_2 and binds (its "Initialized vmwgfx" line);
# fbcon's framebuffer is vmwgfx's at the mode the kernel command line sets (video=1024x768,
# /sys/class/graphics/fb0); the screenshot the player takes then is 1024x768 and shows the
# console's text (lit pixels, not one flat colour).
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS svga/$1"; }
bad() { echo "FAIL svga/$1: $2"; }
skip() { echo "SKIP svga/$1: $2"; }

command -v python3 >/dev/null || { skip all "python3 is not installed"; exit 0; }
img=$(tests/images/appliance.sh 2>"$BUILD/appliance-build.log") || {
    bad image_build "tests/images/appliance.sh failed: $(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"
    exit 0
}
[ -f "$img/svga.vmdk" ] || { bad image_build "no svga.vmdk in $img"; exit 0; }
run=$BUILD/guest/svga
rm -rf "$run"; mkdir -p "$run"
cp "$img/svga.vmdk" "$run/"
cat > "$run/svga.vmx" <<'VMX'
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "vmplay svga"
guestOS = "debian12"
memsize = "256"
numvcpus = "1"
svga.present = "TRUE"
svga.vramSize = "8388608"
floppy0.present = "FALSE"
ide0:0.present = "TRUE"
ide0:0.fileName = "svga.vmdk"
serial0.present = "TRUE"
serial0.fileType = "file"
serial0.fileName = "serial.txt"
VMX

if "$V" --check "$run/svga.vmx" 2>&1 | grep -q "^svga       SVGA II 15ad:0405.*vram 8192 KiB"; then ok check_lists_svga
else bad check_lists_svga "$("$V" --check "$run/svga.vmx" 2>&1 | grep '^svga')"; fi

sockdir=$(mktemp -d /tmp/vmplay-svga.XXXXXX)
sock=$sockdir/ctl
ctl() { python3 tests/guest/control_client.py "$sock" "$@"; }
(cd "$run" && timeout 900 "$V" --headless --cpu=soft --timeout=600 --control="$sock" svga.vmx \
    >stdout.txt 2>stderr.txt; echo $? > status) &
vm=$!
serial() { [ -f "$run/serial.txt" ] && tr -d '\r' < "$run/serial.txt"; }
text_done= shot_done=
while kill -0 $vm 2>/dev/null; do
    if [ -z "$text_done" ] && serial | grep -q "VMPLAY-MARKER: svga text console"; then
        ctl '{"execute":"screen-text"}' > "$run/screen-text.json" 2>&1
        text_done=1
    fi
    if [ -z "$shot_done" ] && serial | grep -q "VMPLAY-MARKER: svga ready"; then
        sleep 2 # a refresh or two after the last line
        ctl "{\"execute\":\"screenshot\",\"arguments\":{\"file\":\"$run/shot.png\"}}" > "$run/shot.json" 2>&1
        shot_done=1
    fi
    sleep 1
done
wait $vm
rm -rf "$sockdir"
st=$(cat "$run/status")
[ "$st" = 0 ] && ok exit_status_poweroff || bad exit_status_poweroff "status $st: $(head -c 300 "$run/stderr.txt")"
has() { serial | grep -qx "VMPLAY-MARKER: $1"; }
got() { serial | grep "VMPLAY-MARKER: $1" | head -3 | tr '\n' ' '; }

if grep -q "VMPLAY-MARKER: svga text console" "$run/screen-text.json" 2>/dev/null; then ok vga_text_behind_svga
else bad vga_text_behind_svga "screen-text: $(head -c 200 "$run/screen-text.json" 2>/dev/null)"; fi
if serial | grep -q "^VMPLAY-MARKER: vmwgfx Initialized vmwgfx [0-9.]* [0-9]*$"; then ok vmwgfx_binds
else bad vmwgfx_binds "$(got vmwgfx) $(serial | grep VMPLAY-LOG | head -5 | tr '\n' ' ')"; fi
if has "svga id Running on SVGA version 2"; then ok svga_id_2
else bad svga_id_2 "$(got 'svga id')"; fi
if has "fb vmwgfxdrmfb 1024,768" || has "fb svgadrmfb 1024,768"; then ok fbcon_mode_from_cmdline
else bad fbcon_mode_from_cmdline "$(got 'fb ')"; fi
# The PNG's size from its IHDR, and how much of it is lit (fbcon's white-on-black text).
verdict=$(python3 - "$run/shot.png" <<'PY' 2>&1
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
w, h, depth, ctype = struct.unpack(">IIBB", data[16:26])
idat, pos = b"", 8
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    if kind == b"IDAT":
        idat += data[pos + 8:pos + 8 + n]
    pos += 12 + n
raw = zlib.decompress(idat)
bpp = {2: 3, 6: 4}[ctype]
stride = w * bpp
prev = bytearray(stride)
lit = 0
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    lit += sum(1 for x in range(0, stride, bpp) if line[x] + line[x + 1] + line[x + 2] > 300)
    prev = line
print(f"{w}x{h} lit={lit}")
PY
)
case $verdict in
1024x768\ lit=*) ok screenshot_is_the_guest_mode ;;
*) bad screenshot_is_the_guest_mode "$verdict $(head -c 200 "$run/shot.json" 2>/dev/null)" ;;
esac
n=${verdict##*lit=}
if [ "${n:-0}" -gt 2000 ] 2>/dev/null && [ "$n" -lt 400000 ]; then ok screenshot_shows_console_text
else bad screenshot_shows_console_text "$verdict"; fi
