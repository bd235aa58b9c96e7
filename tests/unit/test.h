/*
 * The unit-test harness: TEST(name) defines a test case that registers itself;
 * ASSERT_* stop the case with a message naming file, line and both values;
 * SKIP(why) ends it as skipped. Every case prints one line:
 *   PASS suite/name | FAIL suite/name: why | SKIP suite/name: why
 * which tests/run.sh counts. The suite is the binary's name (test_<module>).
 */
#ifndef VMPLAY_TEST_H
#define VMPLAY_TEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);

/* An interrupt-line recorder for device tests: wire a struct irq to irq_rec_set. */
struct irq_rec {
    int level, rises, sets;
};
void irq_rec_set(void *opaque, int n, int level);
void test_register(const char *name, test_fn fn);
_Noreturn void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Folder of ../shared/samples (or NULL when absent); paths under the build dir. */
const char *test_samples_dir(void);
/* Where test_samples_dir() looks (VMPLAY_SAMPLES, or ../shared/samples beside the checkout). */
const char *test_samples_where(void);
/* The samples are not there: a visible skip naming the folder looked at. */
#define SKIP_NO_SAMPLES()                                                                       \
    SKIP("no samples folder at %s (../shared/samples beside the checkout; VMPLAY_SAMPLES="     \
         "DIR to use another)", test_samples_where())
const char *test_build_dir(void);
/* A fresh scratch folder for this test case (removed when the case passes). */
const char *test_tmpdir(void);

#define TEST(name)                                                                  \
    static void test_##name(void);                                                  \
    __attribute__((constructor)) static void test_reg_##name(void)                  \
    {                                                                               \
        test_register(#name, test_##name);                                          \
    }                                                                               \
    static void test_##name(void)

#define FAIL(...) test_fail(__FILE__, __LINE__, __VA_ARGS__)
#define SKIP(...) test_skip(__VA_ARGS__)

#define ASSERT(cond)                                                                \
    do {                                                                            \
        if (!(cond))                                                                \
            test_fail(__FILE__, __LINE__, "assertion failed: %s", #cond);           \
    } while (0)

#define ASSERT_EQ(a, b)                                                             \
    do {                                                                            \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                            \
        if (a_ != b_)                                                               \
            test_fail(__FILE__, __LINE__, "%s == %s: 0x%" PRIx64 " != 0x%" PRIx64,  \
                      #a, #b, a_, b_);                                              \
    } while (0)

#define ASSERT_NE(a, b)                                                             \
    do {                                                                            \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                            \
        if (a_ == b_)                                                               \
            test_fail(__FILE__, __LINE__, "%s != %s: both 0x%" PRIx64, #a, #b, a_); \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                         \
    do {                                                                            \
        const char *a_ = (a), *b_ = (b);                                            \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                      \
            test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,     \
                      a_ ? a_ : "(null)", b_ ? b_ : "(null)");                      \
    } while (0)

#define ASSERT_MEM_EQ(a, b, n)                                                      \
    do {                                                                            \
        if (memcmp((a), (b), (n)) != 0)                                             \
            test_fail(__FILE__, __LINE__, "%s and %s differ in %zu bytes", #a, #b,  \
                      (size_t)(n));                                                 \
    } while (0)

#endif
