# vmplay.mode=svga (sourced by init): Linux's vmwgfx on VMware SVGA II (t_svga.sh). First the
# VGA text console (the test reads it with screen-text), then vmwgfx and its DRM modules from
# /lib/modules/extra: its log lines, the fbdev mode fbcon runs at (video= below), and a line of
# text on that console for the screenshot.
# vmplay-append: video=1024x768
say "VMPLAY-MARKER: svga text console"
sleep 8
for m in $(cat /lib/modules/extra/order); do
    case $m in psmouse.ko|evdev.ko) ;; *) insmod /lib/modules/extra/$m || say "VMPLAY-MARKER: insmod $m failed" ;; esac
done
sleep 2
say "VMPLAY-MARKER: vmwgfx $(dmesg | grep -o 'Initialized vmwgfx [0-9.]* [0-9]*' | head -1)"
say "VMPLAY-MARKER: svga id $(dmesg | grep -o 'Running on SVGA version [0-9]*' | head -1)"
say "VMPLAY-MARKER: fb $(cat /sys/class/graphics/fb0/name 2>/dev/null) $(cat /sys/class/graphics/fb0/virtual_size 2>/dev/null)"
dmesg | grep -i -E 'vmwgfx|drm|fbcon|Console' | while read -r l; do echo "VMPLAY-LOG: $l" > /dev/ttyS0; done
i=0; while [ $i -lt 30 ]; do echo "VMPLAY SVGA CONSOLE LINE $i" > /dev/tty1; i=$((i+1)); done
say "VMPLAY-MARKER: svga ready"
sleep 20
