/*
 * Marked sizes for the test programs.
 *
 * Every block a test program allocates on purpose has a "marked" size: one of
 * MARK_SLOTS values s = MARK_REM + MARK_MOD * k. A checker reading a trace
 * separates the program's own blocks from the ones libc and the loader
 * allocate on their behalf (stdio buffers, thread descriptors, dlopen's link
 * maps) by that size alone, then attributes each FREE by address. The values
 * are odd, far from powers of two and from the fixed sizes libc uses, so a
 * libc-internal block of a marked size is not to be expected.
 *
 * tests/integration/htcheck.py holds the same three numbers.
 */
#ifndef HT_TEST_MARKED_H
#define HT_TEST_MARKED_H

#include <stddef.h>
#include <stdlib.h>

#define MARK_REM 777u
#define MARK_MOD 1009u
#define MARK_SLOTS 16u

/* The k-th marked size (k taken modulo MARK_SLOTS): 777, 1786, ..., 15912.
 * Slot 0 (777 bytes) is the only one glibc serves from its per-thread cache;
 * the signals program relies on that (see signals.c). */
static inline size_t mark_size(unsigned k)
{
    return MARK_REM + MARK_MOD * (size_t)(k % MARK_SLOTS);
}

/* Slots whose size is a multiple of 3, so that calloc(3, size / 3) is marked. */
static inline size_t mark_size3(unsigned k)
{
    return mark_size(3 * (k % 5)); /* slots 0, 3, 6, 9, 12 */
}

/* n marked malloc+free pairs, counted into *allocs and *frees (a failed
 * malloc ends them). */
static inline void marked_pairs(unsigned long n, unsigned long *allocs, unsigned long *frees)
{
    for (unsigned long i = 0; i < n; i++) {
        void *volatile p = malloc(mark_size((unsigned)i));
        if (!p)
            break;
        ++*allocs;
        free(p);
        ++*frees;
    }
}

#endif
