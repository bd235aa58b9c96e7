#!/usr/bin/env bash
# The serial console on a terminal, as `make demo` gives it: the demo appliance
# with --serial=stdio in a tmux pane. Ctrl-C interrupts a command in the guest
# and the player keeps running; Ctrl-A Ctrl-A sends one Ctrl-A (the guest reads
# byte 01); Ctrl-A h lists the keys; Ctrl-A x exits (status 0); the terminal's
# settings (stty -g) are the same before and after; the pane shows no escape
# sequence as text and no machine-check line.
set -u
V=${VMPLAY:-./vmplay}
ok() { echo "PASS console/$1"; }
bad() { echo "FAIL console/$1: $2"; }
command -v tmux >/dev/null || { echo "SKIP console/all: tmux is not installed"; exit 0; }
img=$(BUILD=$BUILD tests/images/appliance.sh 2>"$BUILD/appliance-build.log") ||
    { bad image_build "$(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"; exit 0; }
run=$BUILD/guest/console
rm -rf "$run"; mkdir -p "$run"
cp "$img/demo.vmx" "$img/demo.vmdk" "$run/"
sess=vmplay-console-$$
pane() { tmux capture-pane -p -t "$sess" -S -200 | tr -d '\r'; }
tailp() { pane | grep -v '^$' | tail -n "$1" | tr '\n' '|'; }
wait_pane() { # text seconds [x: the whole line]
    for _ in $(seq $(($2 * 5))); do pane | grep -qF${3:-} -- "$1" && return 0; sleep 0.2; done; return 1
}
tmux kill-session -t "$sess" 2>/dev/null
tmux new-session -d -s "$sess" -x 120 -y 40 "cd '$run' && stty -g > stty.before; \
    '$V' --headless --cpu=soft --serial=stdio demo.vmx 2>err.txt; echo \$? > status; \
    stty -g > stty.after; sleep 600"
trap 'tmux kill-session -t "$sess" 2>/dev/null' EXIT
if ! wait_pane "VMPLAY-MARKER: ready" 300; then
    bad boot "no ready marker in the pane: $(tailp 3)"; exit 0
fi
sleep 2
# cat (a process of its own: ash runs applets named plainly inside itself, where ^C
# cannot reach them) reads the terminal: without the ^C it would echo the next line.
tmux send-keys -t "$sess" "busybox cat; echo after-cat-$$" Enter
sleep 2
tmux send-keys -t "$sess" C-c
sleep 1
tmux send-keys -t "$sess" "echo alive-$$" Enter
if wait_pane "alive-$$" 15 x && [ ! -e "$run/status" ] && ! pane | grep -qx "after-cat-$$" &&
    ! pane | grep -qx "echo alive-$$"; then
    ok ctrl_c_interrupts_the_guest_command
else
    bad ctrl_c_interrupts_the_guest_command "pane: $(tailp 4)"
fi
# What the newcomer sees: the banner, the prompt and the commands, with no
# escape sequence left as text (a terminal's reply to the shell's cursor query
# echoed back, a colour code the terminal did not take) and no machine-check line.
raw=$(pane | LC_ALL=C grep -naE $'\x1b|\\^\\[|\\[[0-9;?]+[A-Za-z~]|[Mm]achine [Cc]heck|mce:' | head -3)
if [ -z "$raw" ] && pane | grep -q "BusyBox v"; then ok console_shows_no_raw_escape_sequences
else bad console_shows_no_raw_escape_sequences "${raw:-no BusyBox banner}"; fi
tmux send-keys -t "$sess" "head -c 1 | od -An -tx1" Enter
sleep 1
tmux send-keys -t "$sess" C-a C-a Enter
if wait_pane " 01" 10; then ok ctrl_a_ctrl_a_sends_ctrl_a
else bad ctrl_a_ctrl_a_sends_ctrl_a "pane: $(tailp 3)"; fi
tmux send-keys -t "$sess" C-a h
if wait_pane "Ctrl-A x        quit" 10; then ok ctrl_a_h_lists_the_keys
else bad ctrl_a_h_lists_the_keys "pane: $(tailp 3)"; fi
tmux send-keys -t "$sess" C-a x
for _ in $(seq 100); do [ -s "$run/stty.after" ] && break; sleep 0.2; done
st=$(cat "$run/status" 2>/dev/null)
if [ "$st" = 0 ] && grep -q "Ctrl-A x: powering the guest off" "$run/err.txt"; then ok ctrl_a_x_exits
else bad ctrl_a_x_exits "status '${st}': $(head -c 300 "$run/err.txt")"; fi
if [ -s "$run/stty.before" ] && cmp -s "$run/stty.before" "$run/stty.after"; then ok terminal_restored
else bad terminal_restored "stty -g before '$(cat "$run/stty.before")' after '$(cat "$run/stty.after" 2>/dev/null)'"; fi
