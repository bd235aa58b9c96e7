/*
 * What a saved state was taken against: the .vmx (size and CRC-32 of its bytes)
 * and each disk file (path, size, modification time in ns and CRC-32 of its first
 * 64 KiB, where VMDK headers and embedded descriptors keep their CID). A resume
 * finding any of them changed is refused (EX_DATAERR) and nothing is written.
 * Section "identity", version 1:
 *   u64 vmx size, u32 vmx crc, u32 disks, per disk: u16 n + path, u64 size,
 *   i64 mtime_ns, u32 head crc
 */
#ifndef VMPLAY_STATE_ID_H
#define VMPLAY_STATE_ID_H

struct error;
struct state_writer;
struct state_file;

#define STATE_ID_MAX_DISKS 1024

int state_identity_save(struct state_writer *w, const char *vmx_path, const char *const *disks,
                        int ndisks, struct error *err);
int state_identity_check(struct state_file *f, const char *vmx_path, const char *const *disks,
                         int ndisks, struct error *err);

#endif
