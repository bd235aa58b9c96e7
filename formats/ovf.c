/*
 * The OVF envelope (DMTF DSP0243 1.x and 2.0) -> the .vmx lines it stands for.
 * expat reads the XML (no DTD, no entities beyond the five predefined ones);
 * names are matched on their local part (the namespace prefix is dropped).
 * What is read: References/File (href, id, compression), DiskSection/Disk
 * (diskId, fileRef, format), the one VirtualSystem's Name, VirtualSystemType
 * (vmx-NN), OperatingSystemSection's vmw:osType, vmw:Config (firmware,
 * tools.syncTimeWithHost), vmw:ExtraConfig (copied as .vmx keys) and the
 * VirtualHardwareSection Items by CIM ResourceType: 3 CPU, 4 memory, 5 IDE,
 * 6 SCSI (lsilogic, lsilogicsas, VirtualSCSI, buslogic), 20 SATA (AHCI),
 * 17 disk, 14 floppy, 15/16 CD/DVD, 10 Ethernet (E1000, E1000e, VmxNet3,
 * PCNet32), 23 USB, 35 sound; 1 (Other) only as vmware.vmci. Every count,
 * depth and length is bounded; hostile input yields an error, never a crash.
 */
#include <ctype.h>
#include <errno.h>
#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "formats/ovf.h"

#define FIELD_MAX 4096

enum field { F_INSTANCE, F_TYPE, F_SUBTYPE, F_QUANTITY, F_UNITS, F_PARENT, F_ADDR_ON_PARENT,
             F_HOST, F_ADDRESS, F_NAME, F_AUTO, F_CORES, F_CONNECTION, NFIELDS };
static const char *const field_names[NFIELDS] = {
    "InstanceID", "ResourceType", "ResourceSubType", "VirtualQuantity", "AllocationUnits",
    "Parent", "AddressOnParent", "HostResource", "Address", "ElementName",
    "AutomaticAllocation", "CoresPerSocket", "Connection",
};

struct item {
    char *f[NFIELDS];
    bool optional; /* ovf:required="false" */
};

struct kv { char *key, *value; };

struct file_ref { char *id, *href; bool compressed; };
struct disk_ref { char *id, *file_ref, *format; };

struct env {
    XML_Parser p;
    const char *name;
    FILE *warn;
    struct error *err;
    int depth;
    bool failed;
    /* where we are */
    int in_vs, in_vhs, in_item, in_os;
    int vs_count;
    enum field cur_field; /* NFIELDS: none */
    int in_name, in_type; /* VirtualSystem/Name, System/VirtualSystemType */
    char *text;
    size_t text_len;
    /* what was read */
    struct file_ref files[OVF_MAX_ITEMS];
    size_t nfiles;
    struct disk_ref disks[OVF_MAX_ITEMS];
    size_t ndisks;
    struct item items[OVF_MAX_ITEMS];
    size_t nitems;
    struct kv config[OVF_MAX_ITEMS], extra[OVF_MAX_ITEMS];
    size_t nconfig, nextra;
    char *vs_name, *vs_id, *system_type, *os_type;
};

static const char *local(const char *name)
{
    const char *c = strrchr(name, ':');
    return c ? c + 1 : name;
}

static void fail(struct env *e, int code, const char *fmt, ...)
{
    if (e->failed)
        return;
    e->failed = true;
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *c = msg; *c; c++) /* one line, whatever the envelope's text holds */
        if ((unsigned char)*c < 0x20)
            *c = '?';
    error_set(e->err, code, "%s: %s", e->name, msg);
    if (e->p)
        XML_StopParser(e->p, XML_FALSE);
}

static const char *attr(const char **atts, const char *want)
{
    for (int i = 0; atts[i]; i += 2)
        if (!strcmp(local(atts[i]), want) && strncmp(atts[i], "xmlns", 5))
            return atts[i + 1];
    return NULL;
}

static char *dup_or_fail(struct env *e, const char *s)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        fail(e, EX_OSERR, "out of memory");
    return d;
}

static void start_file(struct env *e, const char **atts)
{
    if (e->nfiles >= OVF_MAX_ITEMS)
        return fail(e, EX_DATAERR, "more than %u References/File", OVF_MAX_ITEMS);
    struct file_ref *f = &e->files[e->nfiles++];
    f->id = dup_or_fail(e, attr(atts, "id"));
    f->href = dup_or_fail(e, attr(atts, "href"));
    const char *c = attr(atts, "compression"), *ch = attr(atts, "chunkSize");
    f->compressed = (c && strcmp(c, "identity") && *c) || ch;
}

static void start_disk(struct env *e, const char **atts)
{
    if (e->ndisks >= OVF_MAX_ITEMS)
        return fail(e, EX_DATAERR, "more than %u DiskSection/Disk", OVF_MAX_ITEMS);
    struct disk_ref *d = &e->disks[e->ndisks++];
    d->id = dup_or_fail(e, attr(atts, "diskId"));
    d->file_ref = dup_or_fail(e, attr(atts, "fileRef"));
    d->format = dup_or_fail(e, attr(atts, "format"));
}

static void start_kv(struct env *e, const char **atts, struct kv *arr, size_t *n)
{
    const char *k = attr(atts, "key"), *v = attr(atts, "value");
    if (!k || !v)
        return;
    if (*n >= OVF_MAX_ITEMS)
        return fail(e, EX_DATAERR, "more than %u vmw:Config/ExtraConfig entries", OVF_MAX_ITEMS);
    arr[*n].key = dup_or_fail(e, k);
    arr[*n].value = dup_or_fail(e, v);
    (*n)++;
}

static bool is_item(const char *l)
{
    return !strcmp(l, "Item") || !strcmp(l, "StorageItem") || !strcmp(l, "EthernetPortItem");
}

static void XMLCALL on_start(void *opaque, const char *name, const char **atts)
{
    struct env *e = opaque;
    const char *l = local(name);
    if (++e->depth > OVF_MAX_DEPTH)
        return fail(e, EX_DATAERR, "elements nested deeper than %d", OVF_MAX_DEPTH);
    e->text_len = 0;
    if (!strcmp(l, "File"))
        start_file(e, atts);
    else if (!strcmp(l, "Disk"))
        start_disk(e, atts);
    else if (!strcmp(l, "VirtualSystem")) {
        if (++e->vs_count > 1)
            return fail(e, EX_UNAVAILABLE,
                        "more than one VirtualSystem: vmplay runs one virtual machine per package");
        e->in_vs = e->depth;
        e->vs_id = dup_or_fail(e, attr(atts, "id"));
    } else if (e->in_vs && !strcmp(l, "VirtualHardwareSection"))
        e->in_vhs = e->depth;
    else if (e->in_vs && !strcmp(l, "OperatingSystemSection")) {
        const char *t = attr(atts, "osType");
        if (t && !e->os_type)
            e->os_type = dup_or_fail(e, t);
    } else if (e->in_vhs && is_item(l) && !e->in_item) {
        if (e->nitems >= OVF_MAX_ITEMS)
            return fail(e, EX_DATAERR, "more than %u hardware items", OVF_MAX_ITEMS);
        e->in_item = e->depth;
        const char *req = attr(atts, "required");
        e->items[e->nitems].optional = req && !strcmp(req, "false");
    } else if (e->in_item && e->depth == e->in_item + 1) {
        for (int i = 0; i < NFIELDS; i++)
            if (!strcmp(l, field_names[i]))
                e->cur_field = (enum field)i;
    } else if (e->in_vhs && !strcmp(l, "Config"))
        start_kv(e, atts, e->config, &e->nconfig);
    else if (e->in_vhs && !strcmp(l, "ExtraConfig"))
        start_kv(e, atts, e->extra, &e->nextra);
    else if (e->in_vhs && !strcmp(l, "VirtualSystemType"))
        e->in_type = e->depth;
    else if (e->in_vs && e->depth == e->in_vs + 1 && !strcmp(l, "Name"))
        e->in_name = e->depth;
}

static char *text_now(struct env *e)
{
    char *s = malloc(e->text_len + 1);
    if (!s) {
        fail(e, EX_OSERR, "out of memory");
        return NULL;
    }
    memcpy(s, e->text, e->text_len);
    s[e->text_len] = 0;
    /* trim */
    size_t a = 0, n = e->text_len;
    while (a < n && isspace((unsigned char)s[a]))
        a++;
    while (n > a && isspace((unsigned char)s[n - 1]))
        n--;
    memmove(s, s + a, n - a);
    s[n - a] = 0;
    return s;
}

static void XMLCALL on_end(void *opaque, const char *name)
{
    struct env *e = opaque;
    if (e->cur_field != NFIELDS && e->depth == e->in_item + 1) {
        char **f = &e->items[e->nitems].f[e->cur_field];
        free(*f);
        *f = text_now(e);
        e->cur_field = NFIELDS;
    } else if (e->in_item == e->depth) {
        e->in_item = 0;
        e->nitems++;
    } else if (e->in_type == e->depth) {
        free(e->system_type);
        e->system_type = text_now(e);
        e->in_type = 0;
    } else if (e->in_name == e->depth) {
        free(e->vs_name);
        e->vs_name = text_now(e);
        e->in_name = 0;
    } else if (e->in_vhs == e->depth)
        e->in_vhs = 0;
    else if (e->in_vs == e->depth)
        e->in_vs = 0;
    e->text_len = 0;
    e->depth--;
}

static void XMLCALL on_text(void *opaque, const char *s, int len)
{
    struct env *e = opaque;
    if (len <= 0 || e->text_len + (size_t)len > FIELD_MAX)
        return; /* longer text than any field needs: cut */
    memcpy(e->text + e->text_len, s, (size_t)len);
    e->text_len += (size_t)len;
}

static void XMLCALL on_doctype(void *opaque, const char *name, const char *sysid,
                               const char *pubid, int has_internal_subset)
{
    fail(opaque, EX_DATAERR, "a DOCTYPE declaration (not allowed in an OVF envelope)");
}

static void XMLCALL on_entity(void *opaque, const char *name, int is_param, const char *value,
                              int value_len, const char *base, const char *sysid,
                              const char *pubid, const char *notation)
{
    fail(opaque, EX_DATAERR, "an entity declaration (not allowed in an OVF envelope)");
}

/* ---- the .vmx lines ---- */

struct out {
    char *buf;
    size_t len, cap;
    bool oom;
};

static void emit(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || o->oom)
        return;
    if (o->len + (size_t)n + 1 > o->cap) {
        size_t cap = (o->len + (size_t)n + 1) * 2;
        char *b = realloc(o->buf, cap);
        if (!b) {
            o->oom = true;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    o->len += (size_t)n;
}

/* key = "value" with the .vmx's |XX escapes for quotes, bars and control bytes. */
static void emit_kv(struct out *o, const char *key, const char *value)
{
    emit(o, "%s = \"", key);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p < 0x20 || *p == '"' || *p == '|' || *p == '#' || *p == 0x7f)
            emit(o, "|%02X", *p);
        else
            emit(o, "%c", *p);
    }
    emit(o, "\"\n");
}

static void warn(struct env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct env *e, const char *fmt, ...)
{
    if (!e->warn)
        return;
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *c = msg; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = '?';
    fprintf(e->warn, "vmplay: %s: %s\n", e->name, msg);
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

/* "byte * 2^20", "byte*2^30", "MegaBytes", "GigaBytes", "KiloBytes", "byte": the shift. */
static int units_shift(const char *u)
{
    if (!u || !*u)
        return 20; /* DSP0243: memory defaults to MB in VMware's exports */
    char t[64];
    size_t n = 0;
    for (; *u && n + 1 < sizeof t; u++)
        if (!isspace((unsigned char)*u))
            t[n++] = (char)tolower((unsigned char)*u);
    t[n] = 0;
    if (!strncmp(t, "byte*2^", 7)) {
        uint64_t p;
        return parse_u64(t + 7, 60, &p) ? (int)p : -1;
    }
    if (!strcmp(t, "byte") || !strcmp(t, "bytes"))
        return 0;
    if (!strcmp(t, "kilobytes") || !strcmp(t, "kb"))
        return 10;
    if (!strcmp(t, "megabytes") || !strcmp(t, "mb"))
        return 20;
    if (!strcmp(t, "gigabytes") || !strcmp(t, "gb"))
        return 30;
    return -1;
}

/* A controller: kind and index (ide0, scsi1, sata0), by its InstanceID. */
struct ctrl { const char *id; const char *kind; int index; };

static const char *field(const struct item *it, enum field f)
{
    return it->f[f] ? it->f[f] : "";
}

static int ctrl_index(struct env *e, const struct item *it, const char *kind, int *used, int max)
{
    uint64_t a;
    int idx;
    if (parse_u64(it->f[F_ADDRESS], (uint64_t)max - 1, &a) && !(*used & (1 << a)))
        idx = (int)a;
    else
        for (idx = 0; idx < max && (*used & (1 << idx)); idx++)
            ;
    if (idx >= max) {
        fail(e, EX_UNAVAILABLE, "more than %d %s controllers", max, kind);
        return -1;
    }
    *used |= 1 << idx;
    return idx;
}

static const char *scsi_dev(const char *sub)
{
    static const char *const map[][2] = {
        {"lsilogic", "lsilogic"}, {"lsilogicsas", "lsisas1068"}, {"VirtualSCSI", "pvscsi"},
        {"buslogic", "buslogic"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcasecmp(sub, map[i][0]))
            return map[i][1];
    return NULL;
}

static const char *nic_dev(const char *sub)
{
    static const char *const map[][2] = {
        {"E1000", "e1000"}, {"E1000e", "e1000e"}, {"VmxNet3", "vmxnet3"}, {"PCNet32", "vlance"},
        {"vmxnet", "vmxnet"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcasecmp(sub, map[i][0]))
            return map[i][1];
    return NULL;
}

static const struct file_ref *disk_file(struct env *e, const char *host)
{
    /* "ovf:/disk/<id>" or "/disk/<id>" */
    const char *p = strstr(host, "/disk/");
    if (!p)
        return NULL;
    p += 6;
    for (size_t i = 0; i < e->ndisks; i++) {
        const struct disk_ref *d = &e->disks[i];
        if (!d->id || strcmp(d->id, p))
            continue;
        if (d->format && !strstr(d->format, "vmdk")) {
            fail(e, EX_UNAVAILABLE, "disk %s has format %s: vmplay reads VMDK disks only", p,
                 d->format);
            return NULL;
        }
        for (size_t j = 0; d->file_ref && j < e->nfiles; j++)
            if (e->files[j].id && !strcmp(e->files[j].id, d->file_ref)) {
                if (e->files[j].compressed) {
                    fail(e, EX_UNAVAILABLE, "%s is stored compressed or chunked in the package; "
                         "vmplay reads disks in place only", e->files[j].href);
                    return NULL;
                }
                if (!e->files[j].href || !*e->files[j].href) {
                    fail(e, EX_DATAERR, "File %s has no href", d->file_ref);
                    return NULL;
                }
                return &e->files[j];
            }
        fail(e, EX_DATAERR, "disk %s names File %s, which References does not list", p,
             d->file_ref ? d->file_ref : "(none)");
        return NULL;
    }
    fail(e, EX_DATAERR, "HostResource %s names no DiskSection/Disk", host);
    return NULL;
}

static const struct ctrl *find_ctrl(const struct ctrl *c, size_t n, const char *id)
{
    for (size_t i = 0; id && i < n; i++)
        if (!strcmp(c[i].id, id))
            return &c[i];
    return NULL;
}

static void emit_controllers(struct env *e, struct out *o, struct ctrl *c, size_t *nc)
{
    int ide = 0, scsi = 0, sata = 0;
    for (size_t i = 0; i < e->nitems && !e->failed; i++) {
        const struct item *it = &e->items[i];
        uint64_t t;
        if (!parse_u64(it->f[F_TYPE], 1000, &t))
            continue;
        const char *sub = field(it, F_SUBTYPE), *kind = NULL;
        int idx = -1;
        if (t == 5) {
            kind = "ide";
            idx = ctrl_index(e, it, "IDE", &ide, 2);
        } else if (t == 6) {
            const char *dev = scsi_dev(sub);
            if (!dev) {
                fail(e, EX_UNAVAILABLE, "SCSI controller %s has ResourceSubType \"%s\" (vmplay "
                     "has lsilogic, lsilogicsas, VirtualSCSI, buslogic)", field(it, F_INSTANCE),
                     sub);
                return;
            }
            kind = "scsi";
            if ((idx = ctrl_index(e, it, "SCSI", &scsi, VM_MAX_SCSI)) >= 0) {
                emit(o, "scsi%d.present = \"TRUE\"\n", idx);
                emit(o, "scsi%d.virtualDev = \"%s\"\n", idx, dev);
            }
        } else if (t == 20 && (!*sub || strcasestr(sub, "ahci"))) {
            kind = "sata";
            if ((idx = ctrl_index(e, it, "SATA", &sata, VM_MAX_SATA)) >= 0)
                emit(o, "sata%d.present = \"TRUE\"\n", idx);
        }
        if (kind && idx >= 0 && it->f[F_INSTANCE] && *nc < OVF_MAX_ITEMS)
            c[(*nc)++] = (struct ctrl){it->f[F_INSTANCE], kind, idx};
    }
}

static void emit_drive(struct env *e, struct out *o, const struct item *it, uint64_t t,
                       const struct ctrl *c, size_t nc)
{
    const struct ctrl *p = find_ctrl(c, nc, it->f[F_PARENT]);
    if (!p) {
        fail(e, EX_DATAERR, "%s %s has Parent \"%s\", which is no IDE, SCSI or SATA controller",
             t == 17 ? "disk" : "CD drive", field(it, F_INSTANCE), field(it, F_PARENT));
        return;
    }
    uint64_t unit = 0;
    if (it->f[F_ADDR_ON_PARENT] && !parse_u64(it->f[F_ADDR_ON_PARENT], 64, &unit))
        return fail(e, EX_DATAERR, "item %s: AddressOnParent \"%s\" is not a unit number",
                    field(it, F_INSTANCE), it->f[F_ADDR_ON_PARENT]);
    char slot[32];
    snprintf(slot, sizeof slot, "%s%d:%u", p->kind, p->index, (unsigned)unit);
    emit(o, "%s.present = \"TRUE\"\n", slot);
    if (t == 17) {
        const struct file_ref *f = disk_file(e, field(it, F_HOST));
        if (!f)
            return;
        emit(o, "%s.deviceType = \"disk\"\n", slot);
        char key[48];
        snprintf(key, sizeof key, "%s.fileName", slot);
        emit_kv(o, key, f->href);
    } else {
        if (*field(it, F_HOST))
            warn(e, "CD drive %s: the image %s inside the package is not connected (an empty "
                 "drive instead)", slot, field(it, F_HOST));
        emit(o, "%s.deviceType = \"cdrom-raw\"\n", slot);
        emit(o, "%s.startConnected = \"FALSE\"\n", slot);
    }
}

static void emit_item(struct env *e, struct out *o, const struct item *it, const struct ctrl *c,
                      size_t nc, int *nics, int *floppies)
{
    uint64_t t, q;
    if (!parse_u64(it->f[F_TYPE], 1000, &t))
        return fail(e, EX_DATAERR, "item %s has no ResourceType", field(it, F_INSTANCE));
    const char *sub = field(it, F_SUBTYPE);
    switch (t) {
    case 3:
        if (!parse_u64(it->f[F_QUANTITY], VM_MAX_VCPUS, &q) || !q)
            return fail(e, EX_DATAERR, "CPU item: VirtualQuantity \"%s\" is not 1..%d",
                        field(it, F_QUANTITY), VM_MAX_VCPUS);
        emit(o, "numvcpus = \"%u\"\n", (unsigned)q);
        if (parse_u64(it->f[F_CORES], VM_MAX_VCPUS, &q) && q)
            emit(o, "cpuid.coresPerSocket = \"%u\"\n", (unsigned)q);
        return;
    case 4: {
        int sh = units_shift(it->f[F_UNITS]);
        if (sh < 0 || !parse_u64(it->f[F_QUANTITY], UINT64_MAX >> 40, &q))
            return fail(e, EX_DATAERR, "memory item: %s in units \"%s\" is not a size",
                        field(it, F_QUANTITY), field(it, F_UNITS));
        uint64_t mib = sh >= 20 ? q << (sh - 20) : q >> (20 - sh);
        emit(o, "memsize = \"%llu\"\n", (unsigned long long)mib);
        return;
    }
    case 5: case 6: case 20:
        if (t == 20 && *sub && !strcasestr(sub, "ahci"))
            break;
        return; /* emit_controllers */
    case 17: case 15: case 16:
        return emit_drive(e, o, it, t, c, nc);
    case 14:
        if (*floppies < VM_MAX_FLOPPIES) {
            emit(o, "floppy%d.present = \"TRUE\"\nfloppy%d.startConnected = \"FALSE\"\n",
                 *floppies, *floppies);
            ++*floppies;
        }
        return;
    case 10: {
        const char *dev = nic_dev(sub);
        if (!dev) {
            warn(e, "network adapter %s: ResourceSubType \"%s\" is not one vmplay has; an "
                 "e1000 instead", field(it, F_INSTANCE), sub);
            dev = "e1000";
        }
        if (*nics >= VM_MAX_NICS)
            return fail(e, EX_UNAVAILABLE, "more than %d network adapters", VM_MAX_NICS);
        int n = (*nics)++;
        emit(o, "ethernet%d.present = \"TRUE\"\nethernet%d.virtualDev = \"%s\"\n", n, n, dev);
        emit(o, "ethernet%d.connectionType = \"nat\"\nethernet%d.addressType = \"generated\"\n",
             n, n);
        if (!strcasecmp(field(it, F_AUTO), "false"))
            emit(o, "ethernet%d.startConnected = \"FALSE\"\n", n);
        return;
    }
    case 23:
        emit(o, "%s.present = \"TRUE\"\n", strcasestr(sub, "xhci") ? "usb_xhci"
                                           : strcasestr(sub, "ehci") ? "ehci" : "usb");
        return;
    case 35:
        emit(o, "sound.present = \"TRUE\"\n");
        return;
    case 24:
        return; /* the SVGA adapter is always there */
    case 1:
        if (strcasestr(sub, "vmci")) {
            emit(o, "vmci0.present = \"TRUE\"\n");
            return;
        }
        if (strcasestr(sub, "soundcard")) {
            emit(o, "sound.present = \"TRUE\"\n");
            return;
        }
        break;
    case 7: case 8: case 9:
        if (!it->optional)
            return fail(e, EX_UNAVAILABLE, "item %s (%s): Fibre Channel, iSCSI and InfiniBand "
                        "adapters cannot be presented", field(it, F_INSTANCE), field(it, F_NAME));
        return;
    }
    if (!it->optional)
        warn(e, "item %s (%s, ResourceType %u%s%s) is not presented", field(it, F_INSTANCE),
             field(it, F_NAME), (unsigned)t, *sub ? " " : "", sub);
}

static bool vmx_key_ok(const char *k)
{
    if (!*k || strlen(k) > 200)
        return false;
    for (; *k; k++)
        if (!isalnum((unsigned char)*k) && !strchr("._:-[]", *k))
            return false;
    return true;
}

static void emit_config(struct env *e, struct out *o)
{
    for (size_t i = 0; i < e->nconfig; i++) {
        const struct kv *kv = &e->config[i];
        if (!strcmp(kv->key, "firmware"))
            emit_kv(o, "firmware", kv->value);
        else if (!strcmp(kv->key, "tools.syncTimeWithHost"))
            emit_kv(o, "tools.syncTime", kv->value);
    }
    for (size_t i = 0; i < e->nextra; i++) {
        if (vmx_key_ok(e->extra[i].key))
            emit_kv(o, e->extra[i].key, e->extra[i].value);
        else
            warn(e, "ExtraConfig key \"%s\" is not a .vmx key; ignored",
                 VMX_PRINTABLE(e->extra[i].key));
    }
}

static void build(struct env *e, struct out *o)
{
    emit(o, ".encoding = \"UTF-8\"\n");
    const char *name = e->vs_name && *e->vs_name ? e->vs_name : e->vs_id;
    if (name)
        emit_kv(o, "displayName", name);
    if (e->os_type)
        emit_kv(o, "guestOS", e->os_type);
    const char *v = e->system_type ? strstr(e->system_type, "vmx-") : NULL;
    uint64_t hw;
    char num[8] = {0};
    if (v) {
        for (size_t i = 0; i + 1 < sizeof num && isdigit((unsigned char)v[4 + i]); i++)
            num[i] = v[4 + i];
        while (num[0] == '0' && num[1])
            memmove(num, num + 1, strlen(num));
    }
    if (v && parse_u64(num, 99, &hw))
        emit(o, "virtualHW.version = \"%u\"\n", (unsigned)hw);
    else if (e->system_type)
        warn(e, "VirtualSystemType \"%s\" is not a VMware hardware version; vmplay goes on",
             e->system_type);
    emit(o, "floppy0.present = \"FALSE\"\n");
    struct ctrl *c = calloc(OVF_MAX_ITEMS, sizeof *c);
    if (!c)
        return fail(e, EX_OSERR, "out of memory");
    size_t nc = 0;
    emit_controllers(e, o, c, &nc);
    int nics = 0, floppies = 0;
    for (size_t i = 0; i < e->nitems && !e->failed; i++)
        emit_item(e, o, &e->items[i], c, nc, &nics, &floppies);
    free(c);
    emit_config(e, o);
}

static void env_free(struct env *e)
{
    for (size_t i = 0; i < e->nfiles; i++)
        free(e->files[i].id), free(e->files[i].href);
    for (size_t i = 0; i < e->ndisks; i++)
        free(e->disks[i].id), free(e->disks[i].file_ref), free(e->disks[i].format);
    for (size_t i = 0; i <= e->nitems && i < OVF_MAX_ITEMS; i++)
        for (int f = 0; f < NFIELDS; f++)
            free(e->items[i].f[f]);
    for (size_t i = 0; i < e->nconfig; i++)
        free(e->config[i].key), free(e->config[i].value);
    for (size_t i = 0; i < e->nextra; i++)
        free(e->extra[i].key), free(e->extra[i].value);
    free(e->vs_name), free(e->vs_id), free(e->system_type), free(e->os_type);
    free(e->text);
    free(e);
}

int ovf_to_vmx(const char *xml, size_t len, const char *name, char **vmx, FILE *warnf,
               struct error *err)
{
    *vmx = NULL;
    if (len > OVF_MAX_ENVELOPE)
        return error_set(err, EX_DATAERR, "%s: the OVF envelope is larger than %u MiB", name,
                         OVF_MAX_ENVELOPE >> 20);
    struct env *e = calloc(1, sizeof *e);
    if (!e || !(e->text = malloc(FIELD_MAX)) || !(e->p = XML_ParserCreate(NULL))) {
        if (e)
            free(e->text);
        free(e);
        return error_set(err, EX_OSERR, "out of memory");
    }
    e->name = name;
    e->warn = warnf;
    e->err = err;
    e->cur_field = NFIELDS;
    XML_SetUserData(e->p, e);
    XML_SetElementHandler(e->p, on_start, on_end);
    XML_SetCharacterDataHandler(e->p, on_text);
    XML_SetStartDoctypeDeclHandler(e->p, on_doctype);
    XML_SetEntityDeclHandler(e->p, on_entity);
    XML_SetParamEntityParsing(e->p, XML_PARAM_ENTITY_PARSING_NEVER);
    if (XML_Parse(e->p, xml, (int)len, XML_TRUE) == XML_STATUS_ERROR && !e->failed)
        fail(e, EX_DATAERR, "not an OVF envelope: %s at line %lu",
             XML_ErrorString(XML_GetErrorCode(e->p)),
             (unsigned long)XML_GetCurrentLineNumber(e->p));
    XML_ParserFree(e->p);
    e->p = NULL;
    if (!e->failed && !e->vs_count)
        fail(e, EX_DATAERR, "no VirtualSystem in the envelope");
    struct out o = {0};
    if (!e->failed)
        build(e, &o);
    int rc = 0;
    if (!e->failed && o.oom)
        fail(e, EX_OSERR, "out of memory");
    if (e->failed) {
        free(o.buf);
        rc = -1;
    } else
        *vmx = o.buf ? o.buf : strdup("");
    env_free(e);
    return rc;
}
