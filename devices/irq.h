/*
 * An interrupt line as a small value. A device holds a struct irq and calls
 * irq_set/raise/lower/pulse; it never knows what is on the other end (the
 * 8259/IOAPIC models, KVM_IRQ_LINE, a test recorder). The board fills the
 * struct: set(opaque, n, level) with n the input pin on the receiver.
 */
#ifndef VMPLAY_IRQ_H
#define VMPLAY_IRQ_H

#include <stddef.h>

struct irq {
    void (*set)(void *opaque, int n, int level);
    void *opaque;
    int n;
};

static inline struct irq irq_make(void (*set)(void *, int, int), void *opaque, int n)
{
    struct irq q = {set, opaque, n};
    return q;
}

static inline void irq_set(struct irq q, int level)
{
    if (q.set)
        q.set(q.opaque, q.n, level);
}

static inline void irq_raise(struct irq q)
{
    irq_set(q, 1);
}

static inline void irq_lower(struct irq q)
{
    irq_set(q, 0);
}

/* An edge: raise then lower (edge-triggered inputs latch it). */
static inline void irq_pulse(struct irq q)
{
    irq_set(q, 1);
    irq_set(q, 0);
}

#endif
