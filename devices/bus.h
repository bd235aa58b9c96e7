/*
 * The guest's buses: the physical memory map (RAM, ROM, MMIO) and the I/O
 * port map, one range type for both. A handler gets the offset into its own
 * range and the access width; widths it does not take are split (wider) or
 * widened (narrower, read-modify-write). Unmapped reads return all ones and
 * unmapped writes are dropped. Overlapping maps are refused. DMA goes only
 * through bus_dma_read/write, which check every page against RAM and touch
 * nothing unless the whole transfer is RAM.
 *
 * Lookups are page-indexed below 4 GiB (one 16-bit slot per 4 KiB page,
 * falling back to a binary search for pages shared by several ranges) and a
 * flat 64K-entry table for ports. The CPU caches host pointers to RAM pages
 * (bus_ram_page) and listens for map changes and DMA writes (bus_listener).
 */
#ifndef VMPLAY_BUS_H
#define VMPLAY_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUS_PAGE_SHIFT 12
#define BUS_PAGE_SIZE (1u << BUS_PAGE_SHIFT)

struct bus;

/* A device's handlers; offset is relative to the start of the mapped range. */
struct bus_ops {
    uint64_t (*read)(void *opaque, uint64_t offset, unsigned size);
    void (*write)(void *opaque, uint64_t offset, uint64_t value, unsigned size);
    /* Widths the device takes (1, 2, 4 or 8); 0 means 1 and 4. */
    uint8_t min_size, max_size;
};

enum bus_range_kind { BUS_RAM, BUS_ROM, BUS_MMIO };

struct bus_range {
    uint64_t base, size;
    enum bus_range_kind kind;
    uint8_t *host; /* RAM and ROM */
    const struct bus_ops *ops;
    void *opaque;
    const char *name;
};

/* Whoever caches the map (the CPU's TLB and code cache, a KVM memory slot table). */
struct bus_listener {
    void (*map_changed)(void *opaque, uint64_t gpa, uint64_t size);
    void (*ram_written)(void *opaque, uint64_t gpa, uint64_t len); /* DMA and slow-path writes */
    void *opaque;
};

struct bus *bus_new(void);
void bus_free(struct bus *bus);

/* Memory map. Return 0, or -1 when the range overlaps another, is empty or wraps. */
int bus_map_ram(struct bus *bus, uint64_t gpa, uint64_t size, void *host, bool read_only,
                const char *name);
int bus_map_mmio(struct bus *bus, uint64_t gpa, uint64_t size, const struct bus_ops *ops,
                 void *opaque, const char *name);
/* Removes the range that starts at gpa (any kind). Returns 0, or -1 when none starts there. */
int bus_unmap(struct bus *bus, uint64_t gpa);

/* Port map, ports 0..0xFFFF. */
int bus_map_pio(struct bus *bus, uint16_t port, uint32_t count, const struct bus_ops *ops,
                void *opaque, const char *name);
int bus_unmap_pio(struct bus *bus, uint16_t port);

/* The CPU's slow path and device-to-device access. size is 1, 2, 4 or 8. */
uint64_t bus_read(struct bus *bus, uint64_t gpa, unsigned size);
void bus_write(struct bus *bus, uint64_t gpa, uint64_t value, unsigned size);
uint32_t bus_in(struct bus *bus, uint16_t port, unsigned size);
void bus_out(struct bus *bus, uint16_t port, uint32_t value, unsigned size);

/*
 * Checked DMA: every byte must be RAM (reads may also come from ROM); on any
 * other byte nothing is transferred and -1 is returned. Writes notify listeners.
 */
int bus_dma_read(struct bus *bus, uint64_t gpa, void *buf, size_t len);
int bus_dma_write(struct bus *bus, uint64_t gpa, const void *buf, size_t len);

/*
 * The range holding gpa, or NULL. For the CPU's TLB fill: when the result is
 * RAM/ROM, host + (gpa - base) is the byte, valid until the next map change.
 */
const struct bus_range *bus_find(struct bus *bus, uint64_t gpa);
/* Host pointer to the 4 KiB page holding gpa when it is wholly RAM (writable if write), else NULL. */
uint8_t *bus_ram_page(struct bus *bus, uint64_t gpa, bool write);

/* Listeners are told of every map change and every DMA write. */
int bus_add_listener(struct bus *bus, const struct bus_listener *l);
/* Tells listeners that RAM at gpa was written by something other than them. */
void bus_notify_written(struct bus *bus, uint64_t gpa, uint64_t len);

/* Iterates the memory ranges in address order (KVM memory slots, --check, tests). */
size_t bus_range_count(struct bus *bus);
const struct bus_range *bus_range_at(struct bus *bus, size_t i);

/* Optional tracing of port and MMIO accesses (--trace=io): called for every access. */
typedef void (*bus_trace_fn)(void *opaque, bool is_pio, bool write, uint64_t addr, uint64_t value,
                             unsigned size, const char *name);
void bus_set_trace(struct bus *bus, bus_trace_fn fn, void *opaque);

#endif
