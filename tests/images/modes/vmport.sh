# vmplay.mode=vmport (sourced by init): the VMware backdoor from a user process at CPL 3
# with IOPL 0 (/modes/vmport, assembled from vmport.asm): version, the host time, the VMMouse handshake,
# guestinfo through RPCI, for a key the .vmx sets and one it does not. t_vmport.sh reads it.
for key in ci.marker no.such.key; do
    /modes/vmport "$key" 2>&1 | while read -r l; do say "VMPLAY-MARKER: $key: $l"; done
done
# The VMware platform as Linux saw it at boot (arch/x86/kernel/cpu/vmware.c's lines).
say "VMPLAY-MARKER: platform $(dmesg | grep -o 'Hypervisor detected: .*' | head -1)"
say "VMPLAY-MARKER: gethz $(dmesg | grep -o 'TSC freq read from hypervisor : .*' | head -1)"
# psmouse probes the VMMouse on a VMware platform; its absolute device is the input with
# ABS capabilities. t_vmport.sh moves the pointer once "pointer wait" is out; the first
# ABS_X and ABS_Y values the guest reads (struct input_event, 16 bytes on i386: type 3,
# code 0/1, then the value) come back as a marker.
insmod /lib/modules/extra/psmouse.ko
insmod /lib/modules/extra/evdev.ko
sleep 1
say "VMPLAY-MARKER: vmmouse $(dmesg | grep -o 'input: VirtualPS/2 VMware VMMouse' | head -1)"
ev=
for d in /sys/class/input/event*; do
    [ "$(cat "$d/device/capabilities/abs" 2>/dev/null)" != 0 ] && ev=${d##*/}
done
if [ -n "$ev" ]; then
    dd if=/dev/input/$ev of=/tmp/ev bs=16 count=3 2>/dev/null &
    rd=$!
    say "VMPLAY-MARKER: pointer wait"
    n=0; while [ $n -lt 120 ] && kill -0 $rd 2>/dev/null; do sleep 0.5; n=$((n+1)); done
    kill $rd 2>/dev/null
    say "VMPLAY-MARKER: pointer $(hexdump -v -e '4/4 "%u " "\n"' /tmp/ev |
        awk '$3 == 3 { x = $4 } $3 == 65539 { y = $4 } END { print "x=" x " y=" y }')"
fi
# The tools channel: /modes/vmtools (vmtools.asm) announces tools and polls TCLO; t_vmport.sh
# presses the power button once "tools polling" is out, which a guest with tools gets as the
# tools' OS_Halt instead of ACPI's button.
/modes/vmtools 2>&1 | while read -r l; do say "VMPLAY-MARKER: $l"; done
