/*
 * The guest's memory and port maps (see bus.h). Ranges live in two arrays
 * sorted by base; lookups go through a page table (memory below 4 GiB) and a
 * port table holding the index + 1 of the range that owns the whole page or
 * port, BUS_SLOT_MIXED for pages shared by several ranges (binary search), 0
 * for nothing. Tables are rebuilt on every map change, which is rare.
 */
#include "devices/bus.h"

#include <stdlib.h>
#include <string.h>

#define BUS_LOW_PAGES (1u << (32 - BUS_PAGE_SHIFT))
#define BUS_SLOT_MIXED 0xFFFFu
#define BUS_MAX_RANGES 0xFFF0u
#define BUS_MAX_LISTENERS 8

struct range_set {
    struct bus_range *r;
    size_t n, cap;
};

struct bus {
    struct range_set mem, pio;
    uint16_t *page_slot; /* BUS_LOW_PAGES entries */
    uint16_t port_slot[65536];
    struct bus_listener listeners[BUS_MAX_LISTENERS];
    int nlisteners;
    bus_trace_fn trace;
    void *trace_opaque;
};

struct bus *bus_new(void)
{
    struct bus *bus = calloc(1, sizeof *bus);
    if (!bus)
        return NULL;
    bus->page_slot = calloc(BUS_LOW_PAGES, sizeof *bus->page_slot);
    if (!bus->page_slot) {
        free(bus);
        return NULL;
    }
    return bus;
}

void bus_free(struct bus *bus)
{
    if (!bus)
        return;
    free(bus->mem.r);
    free(bus->pio.r);
    free(bus->page_slot);
    free(bus);
}

/* Index of the first range whose end is above addr (binary search). */
static size_t set_lower_bound(const struct range_set *s, uint64_t addr)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->r[mid].base + s->r[mid].size <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const struct bus_range *set_find(const struct range_set *s, uint64_t addr)
{
    size_t i = set_lower_bound(s, addr);
    if (i < s->n && s->r[i].base <= addr)
        return &s->r[i];
    return NULL;
}

static int set_insert(struct range_set *s, const struct bus_range *nr)
{
    if (nr->size == 0 || nr->base + nr->size < nr->base || s->n >= BUS_MAX_RANGES)
        return -1;
    size_t i = set_lower_bound(s, nr->base);
    if (i < s->n && s->r[i].base < nr->base + nr->size)
        return -1; /* overlaps */
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct bus_range *r = realloc(s->r, cap * sizeof *r);
        if (!r)
            return -1;
        s->r = r;
        s->cap = cap;
    }
    memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof *s->r);
    s->r[i] = *nr;
    s->n++;
    return 0;
}

static int set_remove(struct range_set *s, uint64_t base, struct bus_range *removed)
{
    size_t i = set_lower_bound(s, base);
    if (i >= s->n || s->r[i].base != base)
        return -1;
    *removed = s->r[i];
    memmove(&s->r[i], &s->r[i + 1], (s->n - i - 1) * sizeof *s->r);
    s->n--;
    return 0;
}

static void rebuild_pages(struct bus *bus)
{
    memset(bus->page_slot, 0, BUS_LOW_PAGES * sizeof *bus->page_slot);
    for (size_t i = 0; i < bus->mem.n; i++) {
        const struct bus_range *r = &bus->mem.r[i];
        if (r->base >= (1ull << 32))
            break;
        uint64_t end = r->base + r->size;
        if (end > (1ull << 32))
            end = 1ull << 32;
        for (uint64_t p = r->base >> BUS_PAGE_SHIFT; p << BUS_PAGE_SHIFT < end; p++) {
            uint64_t pstart = p << BUS_PAGE_SHIFT, pend = pstart + BUS_PAGE_SIZE;
            bool whole = r->base <= pstart && r->base + r->size >= pend;
            bus->page_slot[p] =
                whole && bus->page_slot[p] == 0 ? (uint16_t)(i + 1) : BUS_SLOT_MIXED;
        }
    }
}

static void rebuild_ports(struct bus *bus)
{
    memset(bus->port_slot, 0, sizeof bus->port_slot);
    for (size_t i = 0; i < bus->pio.n; i++) {
        const struct bus_range *r = &bus->pio.r[i];
        for (uint64_t p = r->base; p < r->base + r->size && p < 65536; p++)
            bus->port_slot[p] = (uint16_t)(i + 1);
    }
}

static void notify_map(struct bus *bus, uint64_t gpa, uint64_t size)
{
    for (int i = 0; i < bus->nlisteners; i++)
        if (bus->listeners[i].map_changed)
            bus->listeners[i].map_changed(bus->listeners[i].opaque, gpa, size);
}

static int map_mem(struct bus *bus, const struct bus_range *r)
{
    if (set_insert(&bus->mem, r) < 0)
        return -1;
    rebuild_pages(bus);
    notify_map(bus, r->base, r->size);
    return 0;
}

int bus_map_ram(struct bus *bus, uint64_t gpa, uint64_t size, void *host, bool read_only,
                const char *name)
{
    struct bus_range r = {.base = gpa, .size = size, .kind = read_only ? BUS_ROM : BUS_RAM,
                          .host = host, .name = name};
    return map_mem(bus, &r);
}

int bus_map_mmio(struct bus *bus, uint64_t gpa, uint64_t size, const struct bus_ops *ops,
                 void *opaque, const char *name)
{
    struct bus_range r = {.base = gpa, .size = size, .kind = BUS_MMIO, .ops = ops,
                          .opaque = opaque, .name = name};
    return map_mem(bus, &r);
}

int bus_unmap(struct bus *bus, uint64_t gpa)
{
    struct bus_range old;
    if (set_remove(&bus->mem, gpa, &old) < 0)
        return -1;
    rebuild_pages(bus);
    notify_map(bus, old.base, old.size);
    return 0;
}

int bus_map_pio(struct bus *bus, uint16_t port, uint32_t count, const struct bus_ops *ops,
                void *opaque, const char *name)
{
    struct bus_range r = {.base = port, .size = count, .kind = BUS_MMIO, .ops = ops,
                          .opaque = opaque, .name = name};
    if (port + (uint64_t)count > 65536 || set_insert(&bus->pio, &r) < 0)
        return -1;
    rebuild_ports(bus);
    return 0;
}

int bus_unmap_pio(struct bus *bus, uint16_t port)
{
    struct bus_range old;
    if (set_remove(&bus->pio, port, &old) < 0)
        return -1;
    rebuild_ports(bus);
    return 0;
}

const struct bus_range *bus_find(struct bus *bus, uint64_t gpa)
{
    if (gpa < (1ull << 32)) {
        uint16_t slot = bus->page_slot[gpa >> BUS_PAGE_SHIFT];
        if (slot == 0)
            return NULL;
        if (slot != BUS_SLOT_MIXED)
            return &bus->mem.r[slot - 1];
    }
    return set_find(&bus->mem, gpa);
}

uint8_t *bus_ram_page(struct bus *bus, uint64_t gpa, bool write)
{
    uint64_t page = gpa & ~(uint64_t)(BUS_PAGE_SIZE - 1);
    const struct bus_range *r = bus_find(bus, page);
    if (!r || r->kind == BUS_MMIO || (write && r->kind == BUS_ROM))
        return NULL;
    if (page + BUS_PAGE_SIZE > r->base + r->size)
        return NULL;
    return r->host + (page - r->base);
}

/* ---- device dispatch with width splitting ---- */

static unsigned ops_min(const struct bus_ops *ops)
{
    return ops->min_size ? ops->min_size : 1;
}

static unsigned ops_max(const struct bus_ops *ops)
{
    return ops->max_size ? ops->max_size : 4;
}

static uint64_t size_mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static uint64_t dev_read(const struct bus_range *r, uint64_t off, unsigned size)
{
    const struct bus_ops *ops = r->ops;
    unsigned min = ops_min(ops), max = ops_max(ops);
    if (!ops->read)
        return size_mask(size);
    if (size > max) {
        uint64_t v = 0;
        for (unsigned i = 0; i < size; i += max)
            v |= (dev_read(r, off + i, max) & size_mask(max)) << (i * 8);
        return v;
    }
    if (size < min) {
        uint64_t aligned = off & ~(uint64_t)(min - 1);
        if (off + size > aligned + min) {
            uint64_t v = 0;
            for (unsigned i = 0; i < size; i++)
                v |= (dev_read(r, off + i, 1) & 0xff) << (i * 8);
            return v;
        }
        return (ops->read(r->opaque, aligned, min) >> ((off - aligned) * 8)) & size_mask(size);
    }
    return ops->read(r->opaque, off, size) & size_mask(size);
}

static void dev_write(const struct bus_range *r, uint64_t off, uint64_t v, unsigned size)
{
    const struct bus_ops *ops = r->ops;
    unsigned min = ops_min(ops), max = ops_max(ops);
    if (!ops->write)
        return;
    if (size > max) {
        for (unsigned i = 0; i < size; i += max)
            dev_write(r, off + i, v >> (i * 8), max);
        return;
    }
    if (size < min) {
        uint64_t aligned = off & ~(uint64_t)(min - 1);
        if (off + size > aligned + min) {
            for (unsigned i = 0; i < size; i++)
                dev_write(r, off + i, v >> (i * 8), 1);
            return;
        }
        unsigned shift = (unsigned)(off - aligned) * 8;
        uint64_t old = ops->read ? ops->read(r->opaque, aligned, min) : 0;
        uint64_t m = size_mask(size) << shift;
        ops->write(r->opaque, aligned, (old & ~m) | ((v << shift) & m), min);
        return;
    }
    ops->write(r->opaque, off, v & size_mask(size), size);
}

static uint64_t mem_read_in(const struct bus_range *r, uint64_t gpa, unsigned size)
{
    uint64_t off = gpa - r->base;
    if (r->kind != BUS_MMIO) {
        uint64_t v = 0;
        memcpy(&v, r->host + off, size);
        return v;
    }
    return dev_read(r, off, size);
}

uint64_t bus_read(struct bus *bus, uint64_t gpa, unsigned size)
{
    const struct bus_range *r = bus_find(bus, gpa);
    uint64_t v;
    if (r && gpa + size <= r->base + r->size) {
        v = mem_read_in(r, gpa, size);
    } else if (size == 1) {
        v = 0xff;
    } else {
        v = 0;
        for (unsigned i = 0; i < size; i++)
            v |= bus_read(bus, gpa + i, 1) << (i * 8);
        return v;
    }
    if (bus->trace && (!r || r->kind == BUS_MMIO))
        bus->trace(bus->trace_opaque, false, false, gpa, v, size, r ? r->name : NULL);
    return v;
}

void bus_write(struct bus *bus, uint64_t gpa, uint64_t value, unsigned size)
{
    const struct bus_range *r = bus_find(bus, gpa);
    if (!r || gpa + size > r->base + r->size) {
        if (size == 1) {
            if (bus->trace)
                bus->trace(bus->trace_opaque, false, true, gpa, value, size, NULL);
            return;
        }
        for (unsigned i = 0; i < size; i++)
            bus_write(bus, gpa + i, value >> (i * 8), 1);
        return;
    }
    switch (r->kind) {
    case BUS_RAM:
        memcpy(r->host + (gpa - r->base), &value, size);
        bus_notify_written(bus, gpa, size);
        break;
    case BUS_ROM:
        break;
    case BUS_MMIO:
        if (bus->trace)
            bus->trace(bus->trace_opaque, false, true, gpa, value, size, r->name);
        dev_write(r, gpa - r->base, value, size);
        break;
    }
}

static const struct bus_range *port_find(struct bus *bus, uint16_t port)
{
    uint16_t slot = bus->port_slot[port];
    return slot ? &bus->pio.r[slot - 1] : NULL;
}

uint32_t bus_in(struct bus *bus, uint16_t port, unsigned size)
{
    const struct bus_range *r = port_find(bus, port);
    uint32_t v;
    if (r && port + size <= r->base + r->size) {
        v = (uint32_t)dev_read(r, port - r->base, size);
    } else if (size == 1) {
        v = 0xff;
    } else {
        v = 0;
        for (unsigned i = 0; i < size; i++)
            v |= bus_in(bus, (uint16_t)(port + i), 1) << (i * 8);
        return v;
    }
    if (bus->trace)
        bus->trace(bus->trace_opaque, true, false, port, v, size, r ? r->name : NULL);
    return v;
}

void bus_out(struct bus *bus, uint16_t port, uint32_t value, unsigned size)
{
    const struct bus_range *r = port_find(bus, port);
    if (r && port + size <= r->base + r->size) {
        if (bus->trace)
            bus->trace(bus->trace_opaque, true, true, port, value, size, r->name);
        dev_write(r, port - r->base, value, size);
        return;
    }
    if (size == 1) {
        if (bus->trace)
            bus->trace(bus->trace_opaque, true, true, port, value, size, NULL);
        return;
    }
    for (unsigned i = 0; i < size; i++)
        bus_out(bus, (uint16_t)(port + i), value >> (i * 8), 1);
}

/* ---- checked DMA ---- */

/* Walks [gpa, gpa+len) range by range; with copy false it only checks. */
static int dma_walk(struct bus *bus, uint64_t gpa, uint8_t *buf, size_t len, bool write, bool copy)
{
    if (gpa + len < gpa)
        return -1;
    while (len > 0) {
        const struct bus_range *r = bus_find(bus, gpa);
        if (!r || r->kind == BUS_MMIO || (write && r->kind == BUS_ROM))
            return -1;
        uint64_t n = r->base + r->size - gpa;
        if (n > len)
            n = len;
        if (copy) {
            if (write)
                memcpy(r->host + (gpa - r->base), buf, n);
            else
                memcpy(buf, r->host + (gpa - r->base), n);
            buf += n;
        }
        gpa += n;
        len -= n;
    }
    return 0;
}

int bus_dma_read(struct bus *bus, uint64_t gpa, void *buf, size_t len)
{
    if (dma_walk(bus, gpa, buf, len, false, false) < 0)
        return -1;
    return dma_walk(bus, gpa, buf, len, false, true);
}

int bus_dma_write(struct bus *bus, uint64_t gpa, const void *buf, size_t len)
{
    if (dma_walk(bus, gpa, (uint8_t *)buf, len, true, false) < 0)
        return -1;
    dma_walk(bus, gpa, (uint8_t *)buf, len, true, true);
    bus_notify_written(bus, gpa, len);
    return 0;
}

int bus_add_listener(struct bus *bus, const struct bus_listener *l)
{
    if (bus->nlisteners >= BUS_MAX_LISTENERS)
        return -1;
    bus->listeners[bus->nlisteners++] = *l;
    return 0;
}

void bus_notify_written(struct bus *bus, uint64_t gpa, uint64_t len)
{
    for (int i = 0; i < bus->nlisteners; i++)
        if (bus->listeners[i].ram_written)
            bus->listeners[i].ram_written(bus->listeners[i].opaque, gpa, len);
}

size_t bus_range_count(struct bus *bus)
{
    return bus->mem.n;
}

const struct bus_range *bus_range_at(struct bus *bus, size_t i)
{
    return i < bus->mem.n ? &bus->mem.r[i] : NULL;
}

void bus_set_trace(struct bus *bus, bus_trace_fn fn, void *opaque)
{
    bus->trace = fn;
    bus->trace_opaque = opaque;
}
