/*
 * The suspend state format (vmplay's own, not VMware's .vmss), version 1.
 * All fields little-endian, fixed width; nothing is a raw struct dump:
 *
 *   "VMPLAYSS"              8 bytes of magic
 *   u32 format version      STATE_FORMAT_VERSION; any other is refused
 *   u16 n, n bytes          the vmplay version that wrote it (n <= 64, for the log only)
 *   u32 sections            at most STATE_MAX_SECTIONS
 *   per section:
 *     u8 n, n bytes         name (1..31 bytes, printable, unique): "pic", "uart0", "cpu0", "ram"
 *     u32 version           the section's own version, checked by its loader
 *     u64 length, bytes     the payload
 *   u32 crc                 CRC-32 (zlib's) of every byte before it; the file ends there
 *
 * The reader checks the magic, the CRC, the format version and every length
 * before any section is looked at; then each loader reads its section through
 * bounds-checked getters and must consume it exactly. Any failure is one line,
 * EX_DATAERR, and nothing from the file is used.
 */
#ifndef VMPLAY_STATE_H
#define VMPLAY_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct error;

#define STATE_MAGIC "VMPLAYSS"
#define STATE_FORMAT_VERSION 1u
#define STATE_MAX_SECTIONS 4096u
#define STATE_NAME_MAX 31

struct state_writer {
    uint8_t *buf;
    size_t len, cap;
    size_t count_at;  /* where the section count goes */
    size_t length_at; /* the open section's u64 length field (0: none open) */
    uint32_t nsections;
    bool failed; /* out of memory or misuse: finish refuses */
};

/* The header; vmplay_version is recorded for the log. */
void state_writer_init(struct state_writer *w, const char *vmplay_version);
void state_writer_release(struct state_writer *w);
int state_section_begin(struct state_writer *w, const char *name, uint32_t version);
void state_section_end(struct state_writer *w);
void state_put_u8(struct state_writer *w, uint8_t v);
void state_put_u16(struct state_writer *w, uint16_t v);
void state_put_u32(struct state_writer *w, uint32_t v);
void state_put_u64(struct state_writer *w, uint64_t v);
void state_put_i64(struct state_writer *w, int64_t v);
void state_put_bytes(struct state_writer *w, const void *p, size_t n);
/* Fills the count and the CRC; the image is w->buf[0..w->len). -1 with err on failure. */
int state_writer_finish(struct state_writer *w, struct error *err);

/* One section's payload, read front to back. A getter past the end sets failed,
 * stores 0 and returns -1; a loader may check once at the end. */
struct state_reader {
    const uint8_t *p;
    size_t len, pos;
    bool failed;
};
int state_get_u8(struct state_reader *r, uint8_t *v);
int state_get_u16(struct state_reader *r, uint16_t *v);
int state_get_u32(struct state_reader *r, uint32_t *v);
int state_get_u64(struct state_reader *r, uint64_t *v);
int state_get_i64(struct state_reader *r, int64_t *v);
int state_get_bytes(struct state_reader *r, void *p, size_t n);
/* Read to its end and never past it. */
bool state_reader_done(const struct state_reader *r);
size_t state_reader_left(const struct state_reader *r);

struct state_section {
    char name[STATE_NAME_MAX + 1];
    uint32_t version;
    size_t off, len;
    bool claimed;
};

struct state_file {
    const uint8_t *buf;
    size_t len;
    char vmplay_version[65];
    uint32_t nsections;
    struct state_section *sec;
};

/* Checks and indexes an image (the bytes stay the caller's). -1 with err (EX_DATAERR). */
int state_file_parse(struct state_file *f, const uint8_t *buf, size_t len, struct error *err);
void state_file_release(struct state_file *f);
/* The section called name: a reader on its payload and its version; marks it claimed.
 * -1 (no err) when there is none. */
int state_file_section(struct state_file *f, const char *name, struct state_reader *r,
                       uint32_t *version);
/* The first section no loader claimed, or NULL. */
const char *state_file_unclaimed(const struct state_file *f);

/* Writes the image to path crash-safely: a temporary file beside it, fsync, rename
 * over path, fsync of the folder. A crash leaves the old file or the new, never half. */
int state_file_write(const char *path, const uint8_t *buf, size_t len, struct error *err);
/* Reads a whole file (at most max bytes) into a malloc'd buffer. -1 with err. */
int state_file_read(const char *path, size_t max, uint8_t **buf, size_t *len, struct error *err);

#endif
