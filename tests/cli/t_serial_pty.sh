#!/usr/bin/env bash
# --serial=pty prints the pseudo-terminal's path, and what the guest writes to
# COM1 comes out there (a ROM writing "PTY-OK" to port 0x3F8 in a loop).
set -u
V=${VMPLAY:-./vmplay}
run=$BUILD/cli/pty
rm -rf "$run"; mkdir -p "$run"
head -c 65536 /dev/zero | tr '\0' '\377' > "$run/rom.bin"
# at F000:FF00: mov dx,0x3f8; mov si,msg; (lodsb from cs: out dx,al) x6; jmp to the top
code='\272\370\003\276\040\377\056\254\356\056\254\356\056\254\356\056\254\356\056\254\356\056\254\356\353\346'
printf "$code" | dd of="$run/rom.bin" bs=1 seek=$((0xFF00)) conv=notrunc status=none
printf 'PTY-OK' | dd of="$run/rom.bin" bs=1 seek=$((0xFF20)) conv=notrunc status=none
printf '\352\000\377\000\360' | dd of="$run/rom.bin" bs=1 seek=$((0xFFF0)) conv=notrunc status=none
printf '.encoding = "UTF-8"\nconfig.version = "8"\nmemsize = "32"\n' > "$run/rom.vmx"
"$V" --headless --serial=pty --timeout=20 --bios="$run/rom.bin" "$run/rom.vmx" 2>"$run/err" &
pid=$!
for _ in $(seq 50); do grep -q 'serial0 is on ' "$run/err" && break; sleep 0.1; done
pty=$(sed -n 's/^vmplay: serial0 is on \(.*\)$/\1/p' "$run/err")
if [ -n "$pty" ] && [ -c "$pty" ]; then
    got=$(timeout 5 head -c 200 "$pty" | tr -cd 'A-Z-' )
    case "$got" in *PTY-OK*) echo "PASS cli/serial_pty_path_printed_and_carries_output ($pty)" ;;
    *) echo "FAIL cli/serial_pty_path_printed_and_carries_output: read '$got' from $pty" ;; esac
else
    echo "FAIL cli/serial_pty_path_printed_and_carries_output: no pty path on stderr: $(head -c 200 "$run/err")"
fi
kill $pid 2>/dev/null; wait $pid 2>/dev/null
