/*
 * The device lifecycle: each device the board creates registers its name and its
 * reset, free, save and load operations with the machine's list, in creation
 * order. The machine resets the list in that order and frees it in reverse;
 * suspend saves each device into a section of the state file (devices/state.h)
 * named after its entry, and refuses, naming it, a device without a save op.
 * A device the board still resets and frees by hand simply does not register.
 */
#ifndef VMPLAY_DEVICE_H
#define VMPLAY_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

struct error;
struct state_writer;
struct state_reader;
struct state_file;

struct device_ops {
    const char *name; /* "pit", "uart": the entry's section name, with its index when >= 0 */
    uint32_t version; /* the section version save writes and load accepts */
    bool stateless;   /* nothing the guest can see survives a reset (debug ports): saves nothing */
    void (*reset)(void *opaque);
    void (*free)(void *opaque);
    /* Guest-visible registers, never pointers; timers as deadlines on the virtual clock. */
    int (*save)(void *opaque, struct state_writer *w);
    /* Reads the section save wrote (version checked by the caller); -1 with err on bad content. */
    int (*load)(void *opaque, struct state_reader *r, struct error *err);
};

struct device_entry {
    const struct device_ops *ops;
    void *opaque;
    char name[32]; /* ops->name, or ops->name and the index ("uart1") */
};

struct device_list {
    struct device_entry *v;
    int n, cap;
};

/* Registers opaque (when not NULL) and returns it, so creation reads
 * `m->pit = device_add(&m->devices, &pit_device, -1, pit_new(...))`. When the list
 * cannot grow the device is freed and NULL returned, as if its _new had failed. */
void *device_add(struct device_list *l, const struct device_ops *ops, int index, void *opaque);
/* Every entry's reset, in creation order. */
void device_list_reset(struct device_list *l);
/* Every entry's free, in reverse creation order; the list is empty after. */
void device_list_free(struct device_list *l);
/* The first entry that cannot be saved (no save op and not stateless), or NULL. */
const struct device_entry *device_list_unsaveable(const struct device_list *l);
/* Each entry as a section of w; -1 with a one-line err naming an unsaveable device. */
int device_list_save(const struct device_list *l, struct state_writer *w, struct error *err);
/* Each entry from its section of r: a missing section, another section version, a
 * section not read to its end is refused (EX_DATAERR); the caller checks for unclaimed
 * sections once every part of the machine has loaded (state_file_unclaimed). */
int device_list_load(const struct device_list *l, struct state_file *f, struct error *err);

#endif
