/* devices/irq.h: a line delivers levels to whatever the board connected. */
#include "devices/irq.h"
#include "tests/unit/test.h"

struct sink {
    int pin, level, calls;
};

static void sink_set(void *opaque, int n, int level)
{
    struct sink *s = opaque;
    s->pin = n;
    s->level = level;
    s->calls++;
}

TEST(set_raise_lower_pulse)
{
    struct sink s = {-1, -1, 0};
    struct irq q = irq_make(sink_set, &s, 5);
    irq_raise(q);
    ASSERT_EQ(s.pin, 5);
    ASSERT_EQ(s.level, 1);
    irq_lower(q);
    ASSERT_EQ(s.level, 0);
    irq_set(q, 1);
    ASSERT_EQ(s.level, 1);
    irq_pulse(q);
    ASSERT_EQ(s.level, 0);
    ASSERT_EQ(s.calls, 5);
}

TEST(unconnected_line_is_harmless)
{
    struct irq q = {0};
    irq_raise(q);
    irq_pulse(q);
    ASSERT(q.set == NULL);
}
