#!/usr/bin/env bash
# The command line: usage errors are one line with status 64, --help and the
# man page name the same options, --version answers.
set -u
V=${VMPLAY:-./vmplay}
ok() { echo "PASS cli/$1"; }
bad() { echo "FAIL cli/$1: $2"; }

expect_usage() { # name, args...
    local name=$1; shift
    local err rc
    err=$("$V" "$@" 2>&1 >/dev/null); rc=$?
    if [ $rc -ne 64 ]; then bad "$name" "status $rc, expected 64 (args: $*)"; return; fi
    if [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] || [ -z "$err" ]; then
        bad "$name" "expected one line on stderr, got: $err"; return
    fi
    case "$err" in vmplay:*) ok "$name" ;; *) bad "$name" "message does not start with 'vmplay:': $err" ;; esac
}

expect_usage no_file
expect_usage unknown_long --no-such-option x.vmx
expect_usage unknown_short -Q x.vmx
expect_usage missing_value x.vmx --timeout
expect_usage bad_cpu --cpu=arm x.vmx
expect_usage bad_serial --serial=tcp:1 x.vmx
expect_usage bad_timeout --timeout=-3 x.vmx
expect_usage bad_timeout_text --timeout=soon x.vmx
expect_usage bad_trace --trace=io,nonsense x.vmx
expect_usage bad_on_poweroff --on-poweroff=sleep x.vmx
expect_usage bad_disk_sync --disk-sync=sometimes x.vmx
expect_usage two_files a.vmx b.vmx
expect_usage headless_kiosk --headless --kiosk x.vmx
expect_usage headless_fullscreen --headless --fullscreen x.vmx
expect_usage initrd_without_kernel --initrd=i x.vmx
expect_usage kernel_with_bios --kernel=k --bios=b x.vmx
expect_usage check_with_timeout --check --timeout=5 x.vmx
expect_usage check_with_control --check --control=x.sock x.vmx

out=$("$V" --version); rc=$?
[ $rc -eq 0 ] && [[ "$out" =~ ^vmplay\ [0-9]+\.[0-9]+ ]] && ok version || bad version "got '$out' status $rc"

# Every long option in --help appears in the man page, and the reverse.
help_opts=$("$V" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u)
man_opts=$(grep -oE '^\.It Fl -[a-z][a-z-]+|Fl -[a-z][a-z-]+' "$TOP/man/vmplay.1" |
    sed -E 's/.*Fl -/--/' | sort -u)
if [ "$help_opts" = "$man_opts" ]; then
    ok help_matches_man
else
    bad help_matches_man "$(diff <(echo "$help_opts") <(echo "$man_opts") | grep '^[<>]' | tr '\n' ' ')"
fi
# And every option getopt knows is documented in --help (unknown ones are refused above).
refused=
for o in $help_opts; do
    err=$("$V" "$o" 2>&1 >/dev/null)
    case "$err" in *"unknown option"*) refused="$refused $o" ;; esac
done
[ -z "$refused" ] && ok help_options_accepted || bad help_options_accepted "--help lists but getopt refuses:$refused"

# --timeout counts from power-on: a guest that resets itself over and over (a
# ROM that pulses the i8042 reset line) is still powered off after it, with
# --timeout's own status (124, as timeout(1)).
d=$(mktemp -d)
printf '.encoding = "UTF-8"\nconfig.version = "8"\nmemsize = "16"\n' > "$d/r.vmx"
{ head -c 65520 /dev/zero; printf '\xb0\xfe\xe6\x64\xeb\xfe'; head -c 10 /dev/zero; } > "$d/reset.rom"
timeout -s KILL 60 "$V" --headless --cpu=soft --bios="$d/reset.rom" --timeout=1 "$d/r.vmx" >/dev/null 2>"$d/err"
rc=$?
[ $rc -eq 124 ] && grep -q '^vmplay: --timeout: powering the guest off after 1 s$' "$d/err" && ok timeout_across_resets ||
    bad timeout_across_resets "status $rc (137: still running after 60 s): $(head -c 200 "$d/err")"
rm -rf "$d"
