/*
 * The .vmx syntax: a VMware configuration file read into an ordered
 * dictionary of key/value strings. One `key = "value"` per line (unquoted
 * values and missing spaces tolerated), `#` comments, `|XX` hex escapes in
 * values, `.encoding` UTF-8 or windows-1252 (converted to UTF-8). Keys keep
 * their spelling and compare case-insensitively; a repeated key replaces the
 * earlier value (as VMware does) and keeps its first position. Every entry
 * remembers the line it came from, so later errors can say file:line: key.
 * Nothing here knows what a key means (that is config.c).
 */
#ifndef VMPLAY_VMX_H
#define VMPLAY_VMX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "formats/error.h"

/* Files larger than this are refused as "not a .vmx file". */
#define VMX_MAX_FILE_SIZE (1u << 20)

struct vmx_entry {
    char *key;   /* as written */
    char *value; /* unescaped, UTF-8 */
    int line;    /* 1-based line of the (last) definition */
    int earlier; /* line of the definition it replaced (the last wins, as in VMware); 0: none */
};

struct vmx;

/* Reads and parses path. Missing file: EX_NOINPUT naming path; bad content: EX_DATAERR. */
int vmx_load(const char *path, struct vmx **out, struct error *err);
/* Parses len bytes of text; name is used in messages ("name:line: ..."). */
int vmx_parse(const char *text, size_t len, const char *name, struct vmx **out,
              struct error *err);
void vmx_free(struct vmx *v);

/* The name given to vmx_parse (the path for vmx_load). */
const char *vmx_name(const struct vmx *v);
/* Iteration in file order: entries 0 .. vmx_count()-1. */
size_t vmx_count(const struct vmx *v);
const struct vmx_entry *vmx_entry_at(const struct vmx *v, size_t i);
/* Index of key (case-insensitive) or -1. */
long vmx_index(const struct vmx *v, const char *key);
const struct vmx_entry *vmx_find(const struct vmx *v, const char *key);
/* The value of key, or NULL when absent. */
const char *vmx_get(const struct vmx *v, const char *key);

/* Up to 40 bytes of s[0..n) for an error message: control bytes as '?', "..." when cut. */
#define VMX_PRINTABLE_SIZE 48
const char *vmx_printable(const char *s, size_t n, char out[VMX_PRINTABLE_SIZE]);
/* The same for a whole string, in a buffer that lives until the end of the enclosing block. */
#define VMX_PRINTABLE(s) vmx_printable((s), strlen(s), (char[VMX_PRINTABLE_SIZE]){ 0 })

/* "TRUE"/"FALSE"/"yes"/"no"/"1"/"0"/"on"/"off", any case. Returns false if s is none of them. */
bool vmx_parse_bool(const char *s, bool *out);
/*
 * Typed getters: absent key -> *out = dflt, 0. A present value that is not a
 * boolean / not a decimal integer in [min, max] is EX_DATAERR naming
 * file:line: key. Return 0 or -1.
 */
int vmx_get_bool(const struct vmx *v, const char *key, bool dflt, bool *out,
                 struct error *err);
int vmx_get_int(const struct vmx *v, const char *key, int64_t dflt, int64_t min,
                int64_t max, int64_t *out, struct error *err);

#endif
