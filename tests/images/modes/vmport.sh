# vmplay.mode=vmport (sourced by init): the VMware backdoor from a user process at CPL 3
# with IOPL 0 (/modes/vmport, assembled from vmport.asm): version, the VMMouse handshake,
# guestinfo through RPCI, for a key the .vmx sets and one it does not. t_vmport.sh reads it.
for key in ci.marker no.such.key; do
    /modes/vmport "$key" 2>&1 | while read -r l; do say "VMPLAY-MARKER: $key: $l"; done
done
