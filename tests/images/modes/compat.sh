# vmplay.mode=compat (sourced by init): 32-bit programs under a 64-bit kernel.
# /bin/busybox32 is Debian's busybox-static:i386 (the amd64 image carries it); its
# system calls enter the kernel through the vDSO's SYSENTER (Intel) or SYSCALL
# (AMD) or INT 0x80, and return by SYSRETL, SYSEXIT or IRET to compatibility mode.
# Each marker is computed by the 32-bit program; the lines are the same under
# every correct CPU. The i386 image has no busybox32 and says so.
b=/bin/busybox32
if [ ! -x $b ]; then
    say "VMPLAY-COMPAT: no 32-bit busybox in this image"
    return 0 2>/dev/null || exit 0
fi
say "VMPLAY-COMPAT: $($b echo echo from a 32-bit program)"
say "VMPLAY-COMPAT: machine $($b uname -m) linux32 $($b linux32 $b uname -m)"
say "VMPLAY-COMPAT: $($b sh -c 'i=0; s=0; while [ $i -lt 300 ]; do i=$((i + 1)); s=$((s + i * i)); done; echo loop $i sum $s')"
say "VMPLAY-COMPAT: forks $($b sh -c 'n=0; for x in 1 2 3 4 5 6 7 8 9 10; do n=$(($($b echo $x) + n)); done; echo $n')"
say "VMPLAY-COMPAT: ls $($b ls / | $b tr '\n' ' ')"
say "VMPLAY-COMPAT: maps $($b grep -c busybox32 /proc/self/maps)"
say "VMPLAY-COMPAT: cmdline $($b cat /proc/self/cmdline | $b tr '\0' ' ')"
say "VMPLAY-COMPAT: md5 $($b dd if=/dev/zero bs=65536 count=16 2>/dev/null | $b md5sum | $b cut -c1-32)"
say "VMPLAY-COMPAT: $($b sh -c 'trap "echo trap USR1" USR1; kill -USR1 $$; echo after signal' | $b tr '\n' ' ')"
say "VMPLAY-COMPAT: $($b sh -c 'echo pipe through 32-bit cat' | $b cat)"
say "VMPLAY-COMPAT: 32-bit done"
