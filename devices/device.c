/*
 * The machine's device list (device.h): registration in creation order, reset
 * in that order, free in reverse, and each device as a section of the state.
 */
#include "devices/device.h"

#include <stdio.h>
#include <stdlib.h>

#include "devices/state.h"
#include "formats/error.h"

void *device_add(struct device_list *l, const struct device_ops *ops, int index, void *opaque)
{
    if (!opaque)
        return NULL;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 32;
        struct device_entry *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) {
            if (ops->free)
                ops->free(opaque);
            return NULL;
        }
        l->v = v;
        l->cap = cap;
    }
    struct device_entry *e = &l->v[l->n++];
    e->ops = ops;
    e->opaque = opaque;
    if (index >= 0)
        snprintf(e->name, sizeof e->name, "%s%d", ops->name, index);
    else
        snprintf(e->name, sizeof e->name, "%s", ops->name);
    return opaque;
}

void device_list_reset(struct device_list *l)
{
    for (int i = 0; i < l->n; i++)
        if (l->v[i].ops->reset)
            l->v[i].ops->reset(l->v[i].opaque);
}

void device_list_free(struct device_list *l)
{
    for (int i = l->n - 1; i >= 0; i--)
        if (l->v[i].ops->free)
            l->v[i].ops->free(l->v[i].opaque);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

const struct device_entry *device_list_unsaveable(const struct device_list *l)
{
    for (int i = 0; i < l->n; i++)
        if (!l->v[i].ops->stateless && (!l->v[i].ops->save || !l->v[i].ops->load))
            return &l->v[i];
    return NULL;
}

int device_list_save(const struct device_list *l, struct state_writer *w, struct error *err)
{
    const struct device_entry *u = device_list_unsaveable(l);
    if (u)
        return error_set(err, EX_UNAVAILABLE,
                         "cannot suspend: the %s device cannot save its state yet", u->name);
    for (int i = 0; i < l->n; i++) {
        const struct device_entry *e = &l->v[i];
        if (e->ops->stateless)
            continue;
        if (state_section_begin(w, e->name, e->ops->version) < 0 || e->ops->save(e->opaque, w) < 0)
            return error_set(err, EX_UNAVAILABLE, "cannot suspend: %s refused to save its state",
                             e->name);
        state_section_end(w);
    }
    return 0;
}

int device_list_load(const struct device_list *l, struct state_file *f, struct error *err)
{
    for (int i = 0; i < l->n; i++) {
        const struct device_entry *e = &l->v[i];
        struct state_reader r;
        uint32_t version;
        if (e->ops->stateless)
            continue;
        if (!e->ops->load)
            return error_set(err, EX_DATAERR, "the saved state cannot be loaded: %s has no load op",
                             e->name);
        if (state_file_section(f, e->name, &r, &version) < 0)
            return error_set(err, EX_DATAERR, "the saved state has no section for %s (another VM?)",
                             e->name);
        if (version != e->ops->version)
            return error_set(err, EX_DATAERR,
                             "the saved state's %s section is version %u; this vmplay "
                             "reads version %u",
                             e->name, version, e->ops->version);
        if (e->ops->load(e->opaque, &r, err) < 0)
            return error_prefix(err, "the saved state's %s section", e->name);
        if (!state_reader_done(&r))
            return error_set(err, EX_DATAERR, "the saved state's %s section is %s", e->name,
                             r.failed ? "truncated" : "longer than its loader reads");
    }
    return 0;
}
