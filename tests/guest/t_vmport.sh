#!/usr/bin/env bash
# The VMware backdoor end to end: the appliance's vmport mode runs /modes/vmport (a 32-bit
# user program, CPL 3 with IOPL 0, as open-vm-tools' vmware-rpctool runs) in Linux on the
# software core, in a .vmx carrying guestinfo keys as VMware writes them. Oracles: the
# program's own checks of the backdoor answers (GETVERSION eax 6 / ebx "VMXh", the VMMouse
# version word "JUB4" after ENABLE, the RPCI status bits), and the guestinfo value the .vmx
# sets coming back through the guest's RPC exchange ("1 <value>"; "0 No value found" for an
# absent key), i.e. the IN from port 0x5658 passed the guest's I/O-permission check.
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS vmport/$1"; }
bad() { echo "FAIL vmport/$1: $2"; }

img=$(tests/images/appliance.sh 2>"$BUILD/appliance-build.log") || {
    bad image_build "tests/images/appliance.sh failed: $(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"
    exit 0
}
[ -f "$img/vmport.vmdk" ] || { bad image_build "no vmport.vmdk in $img"; exit 0; }
run=$BUILD/guest/vmport
rm -rf "$run"; mkdir -p "$run"
cp "$img/vmport.vmdk" "$run/"
# The VM of the appliance's vmport mode, as VMware writes one (tests/guest/vmport.vmx).
sed 's/@NAME@/vmplay backdoor/' tests/guest/vmport.vmx > "$run/vmport.vmx"

sockdir=$(mktemp -d /tmp/vmplay-vmport.XXXXXX)
sock=$sockdir/ctl
t0=$(date +%s)
(cd "$run" && timeout 900 "$V" --headless --cpu=soft --timeout=600 --control="$sock" vmport.vmx \
    >stdout.txt 2>stderr.txt; echo $? > status) &
vm=$!
# Once the guest's VMMouse reader waits, the front end's absolute position goes in (again
# each second, in case a packet raced the reader's open).
moved= halted=
while kill -0 $vm 2>/dev/null; do
    if [ -z "$moved" ] && [ -f "$run/serial.txt" ] && tr -d '\r' < "$run/serial.txt" | grep -q "VMPLAY-MARKER: pointer wait"; then
        for i in 1 2 3 4 5 6 7 8 9 10; do
            python3 tests/guest/control_client.py "$sock" \
                '{"execute":"pointer","arguments":{"position":[12345,54321]}}' >> "$run/pointer.txt" 2>&1
            tr -d '\r' < "$run/serial.txt" | grep -q "VMPLAY-MARKER: pointer x" && break
            sleep 1
        done
        moved=1
    fi
    if [ -z "$halted" ] && [ -f "$run/serial.txt" ] && tr -d '\r' < "$run/serial.txt" | grep -q "VMPLAY-MARKER: tools polling"; then
        # SIGTERM to the player (not to timeout(1), which would pass on a second one)
        pkill -TERM -f -- "^$V --headless .*--control=$sock" > "$run/button.txt" 2>&1
        halted=1
    fi
    sleep 1
done
wait $vm
t1=$(date +%s)
rm -rf "$sockdir"
st=$(cat "$run/status")
[ "$st" = 0 ] && ok exit_status_poweroff || bad exit_status_poweroff "status $st: $(head -c 300 "$run/stderr.txt")"
s=$run/serial.txt
has() { tr -d '\r' < "$s" | grep -qx "VMPLAY-MARKER: $1"; }
got() { tr -d '\r' < "$s" | grep "VMPLAY-MARKER: $1" | head -3 | tr '\n' ' '; }
if has "ci.marker: backdoor version 6"; then ok getversion_at_cpl3
else bad getversion_at_cpl3 "$(got ci.marker)"; fi
# GETTIME: the host's clock, read by the guest between the player's start and its end
ht=$(tr -d '\r' < "$s" | sed -n 's/^VMPLAY-MARKER: ci.marker: hosttime \([0-9]*\) [0-9]*$/\1/p' | head -1)
if [ -n "$ht" ] && [ "$ht" -ge "$t0" ] && [ "$ht" -le "$t1" ]; then ok gettime_host_clock
else bad gettime_host_clock "guest read '$ht', the run lasted $t0..$t1: $(got 'ci.marker: hosttime')"; fi
if has "ci.marker: vmmouse JUB4"; then ok vmmouse_enable_version
else bad vmmouse_enable_version "$(got ci.marker)"; fi
if has "ci.marker: guestinfo 1 vmplay-guestinfo-7f3a"; then ok guestinfo_from_vmx
else bad guestinfo_from_vmx "$(got ci.marker)"; fi
if has "no.such.key: guestinfo 0 No value found"; then ok guestinfo_absent_key
else bad guestinfo_absent_key "$(got no.such.key)"; fi
# The VMware platform (CPUID hypervisor leaf "VMwareVMware", GETHZ) as the guest's Linux
# reports it, psmouse's VMMouse bound, and the front end's absolute position read back from
# the guest's evdev device unchanged (Linux's vmmouse passes 0..0xFFFF through).
if has "platform Hypervisor detected: VMware"; then ok platform_detected
else bad platform_detected "$(got platform)"; fi
if has "gethz TSC freq read from hypervisor : 1000.000 MHz"; then ok gethz_tsc_rate
else bad gethz_tsc_rate "$(got gethz)"; fi
if has "vmmouse input: VirtualPS/2 VMware VMMouse"; then ok vmmouse_bound
else bad vmmouse_bound "$(got vmmouse)"; fi
if has "pointer x=12345 y=54321"; then ok vmmouse_absolute_position
else bad vmmouse_absolute_position "$(got 'pointer x') $(head -c 200 "$run/pointer.txt" 2>/dev/null)"; fi
# The tools channel: a guest whose tools announced themselves (tools.set.version) and poll TCLO
# gets the power button as the tools' OS_Halt (the appliance has no ACPI daemon, so the button
# alone would not shut it down); the guest program's own report of the command it received.
if has "tools OS_Halt"; then ok tools_os_halt_on_power_button
else bad tools_os_halt_on_power_button "$(got tools) $(head -c 200 "$run/button.txt" 2>/dev/null)"; fi
# (the button pressed by SIGTERM), and the player says it was the tools, not ACPI, that it asked
if grep -q "asked the guest's VMware tools to shut it down" "$run/stderr.txt" &&
    ! grep -q "ACPI power button" "$run/stderr.txt"; then ok power_button_says_tools
else bad power_button_says_tools "stderr: $(head -c 300 "$run/stderr.txt")"; fi
