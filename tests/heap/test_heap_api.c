/* Unit tests of the heap API (heaptrail/heap.h): one test per documented
 * behaviour, and the detection of bad pointers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "child.h"
#include "heaptrail/heap.h"

static ht_heap *fresh(unsigned flags, size_t initial, size_t maximum)
{
    ht_heap *h = ht_heap_create(flags, initial, maximum);
    assert_non_null(h);
    return h;
}

static void test_create_destroy(void **state)
{
    (void)state;
    size_t before = ht_process_heaps(NULL, 0);
    ht_heap *h = fresh(0, 0, 0);
    assert_int_equal(ht_process_heaps(NULL, 0), before + 1);
    void *p = ht_heap_alloc(h, 0, 100);
    assert_non_null(p);
    assert_int_equal(ht_heap_destroy(h), 1);
    assert_int_equal(ht_process_heaps(NULL, 0), before);
}

static void test_destroy_process_heap_fails(void **state)
{
    (void)state;
    errno = 0;
    assert_int_equal(ht_heap_destroy(ht_process_heap()), 0);
    assert_int_equal(errno, EINVAL);
}

static void test_process_heaps_lists_all(void **state)
{
    (void)state;
    ht_heap *a = fresh(0, 0, 0), *b = fresh(0, 0, 0);
    ht_heap *list[64];
    size_t n = ht_process_heaps(list, 64);
    assert_true(n >= 3);
    assert_ptr_equal(list[0], ht_process_heap());
    int seen = 0;
    for (size_t i = 0; i < n; i++)
        seen += (list[i] == a) + (list[i] == b);
    assert_int_equal(seen, 2);
    /* A short array: as many as fit, and the true count. */
    assert_int_equal(ht_process_heaps(list, 1), n);
    ht_heap_destroy(a);
    ht_heap_destroy(b);
}

static void test_alignment_16(void **state)
{
    (void)state;
    ht_heap *h = fresh(0, 0, 0);
    for (size_t size = 0; size < 70000; size = size * 3 / 2 + 1) {
        void *p = ht_heap_alloc(h, 0, size);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        void *q = ht_heap_alloc(ht_process_heap(), 0, size);
        assert_int_equal((uintptr_t)q % 16, 0);
        ht_heap_free(ht_process_heap(), 0, q);
    }
    void *big = ht_heap_alloc(h, 0, 3 << 20);
    assert_int_equal((uintptr_t)big % 16, 0);
    ht_heap_destroy(h);
}

static void test_zero_size_block(void **state)
{
    (void)state;
    ht_heap *h = fresh(0, 0, 0);
    void *a = ht_heap_alloc(h, 0, 0), *b = ht_heap_alloc(h, 0, 0);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_int_equal(ht_heap_size(h, 0, a), 0);
    assert_int_equal(ht_heap_free(h, 0, a), 1);
    assert_int_equal(ht_heap_free(h, 0, b), 1);
    ht_heap_destroy(h);
}

static void test_size_is_requested_size(void **state)
{
    (void)state;
    ht_heap *h = fresh(0, 0, 0);
    size_t sizes[] = {1, 15, 16, 17, 100, 1000, 1025, 5000, 16384, 16385, 100000, 2 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        void *p = ht_heap_alloc(h, 0, sizes[i]);
        assert_int_equal(ht_heap_size(h, 0, p), sizes[i]);
    }
    ht_heap_destroy(h);
}

static void test_zero_memory_on_alloc(void **state)
{
    (void)state;
    ht_heap *h = fresh(0, 0, 0);
    for (size_t size = 8; size < 200000; size *= 3) {
        unsigned char *p = ht_heap_alloc(h, 0, size);
        memset(p, 0xAB, size);
        ht_heap_free(h, 0, p);
        unsigned char *q = ht_heap_alloc(h, HT_HEAP_ZERO_MEMORY, size);
        for (size_t i = 0; i < size; i++)
            assert_int_equal(q[i], 0);
        ht_heap_free(h, 0, q);
    }
    ht_heap_destroy(h);
}

static void test_realloc_keeps_content_and_zeroes_growth(void **state)
{
    (void)state;
    ht_heap *h = fresh(0, 0, 0);
    size_t size = 10;
    unsigned char *p = ht_heap_alloc(h, 0, size);
    memset(p, 0x5A, size);
    /* Dirty memory the block may grow into. */
    void *dirt = ht_heap_alloc(h, 0, 5000);
    memset(dirt, 0xFF, 5000);
    ht_heap_free(h, 0, dirt);
    for (size_t next = 40; next < (3u << 20); next = next * 5 / 2) {
        p = ht_heap_realloc(h, HT_HEAP_ZERO_MEMORY, p, next);
        assert_non_null(p);
        assert_int_equal(ht_heap_size(h, 0, p), next);
        for (size_t i = 0; i < size; i++)
            assert_int_equal(p[i], 0x5A);
        for (size_t i = size; i < next; i++)
            assert_int_equal(p[i], 0);
        memset(p + size, 0x5A, next - size);
        size = next;
    }
    p = ht_heap_realloc(h, 0, p, 20);
    for (size_t i = 0; i < 20; i++)
        assert_int_equal(p[i], 0x5A);
    ht_heap_destroy(h);
}

/* A small block to a small size: in place while it fits and wastes less than
 * half of itself, else to a block of the thread's caches, the old one into the
 * lookaside; the old pointer is then a freed block like any other. */
static void test_realloc_small_blocks(void **state)
{
    (void)state;
    ht_heap *h = fresh(0, 0, 0);
    uint32_t silent = HT_HEAP_ON_ERROR_SILENT;
    ht_heap_set(h, HT_HEAP_ERROR_POLICY_INFORMATION, &silent, sizeof silent);
    for (int i = 0; i < 100; i++) /* the class's LFH bin opens: caches in play */
        ht_heap_free(h, 0, ht_heap_alloc(h, 0, 500));
    unsigned char *p = ht_heap_alloc(h, 0, 500);
    for (int i = 0; i < 500; i++)
        p[i] = (unsigned char)i;
    unsigned char *q = ht_heap_realloc(h, 0, p, 300);
    assert_ptr_equal(q, p);
    assert_int_equal(ht_heap_size(h, 0, q), 300);
    q = ht_heap_realloc(h, 0, p, 100);
    assert_ptr_not_equal(q, p);
    assert_int_equal(ht_heap_size(h, 0, q), 100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(q[i], (unsigned char)i);
    assert_int_equal(ht_heap_validate(h, 0, p), 0);
    assert_int_equal(ht_heap_free(h, 0, p), 0); /* already free */
    assert_int_equal(errno, EINVAL);
    unsigned char *r = ht_heap_realloc(h, 0, q, 1000);
    assert_ptr_not_equal(r, q);
    for (int i = 0; i < 100; i++)
        assert_int_equal(r[i], (unsigned char)i);
    assert_ptr_equal(ht_heap_alloc(h, 0, 100), q); /* the lookaside's last block */
    assert_int_equal(ht_heap_validate(h, 0, NULL), 1);
    ht_heap_destroy(h);
}

static void test_realloc_in_place_only(void **state)
{
    (void)state;
    ht_heap *h = fresh(0, 0, 0);
    unsigned char *a = ht_heap_alloc(h, 0, 40000);
    unsigned char *fence = ht_heap_alloc(h, 0, 40000); /* right after a: a cannot grow */
    memset(a, 7, 40000);
    errno = 0;
    assert_null(ht_heap_realloc(h, HT_HEAP_REALLOC_IN_PLACE_ONLY, a, 90000));
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(ht_heap_size(h, 0, a), 40000);
    for (size_t i = 0; i < 40000; i++)
        assert_int_equal(a[i], 7);
    /* Shrinking always happens in place. */
    assert_ptr_equal(ht_heap_realloc(h, HT_HEAP_REALLOC_IN_PLACE_ONLY, a, 100), a);
    assert_int_equal(ht_heap_size(h, 0, a), 100);
    /* With the neighbour gone, growing in place works. */
    ht_heap_free(h, 0, fence);
    assert_ptr_equal(ht_heap_realloc(h, HT_HEAP_REALLOC_IN_PLACE_ONLY, a, 60000), a);
    assert_int_equal(ht_heap_size(h, 0, a), 60000);
    ht_heap_destroy(h);
}

static void test_realloc_null_fails(void **state)
{
    (void)state;
    ht_heap *h = fresh(0, 0, 0);
    uint32_t silent = HT_HEAP_ON_ERROR_SILENT;
    ht_heap_set(h, HT_HEAP_ERROR_POLICY_INFORMATION, &silent, sizeof silent);
    errno = 0;
    assert_null(ht_heap_realloc(h, 0, NULL, 10));
    assert_int_equal(errno, EINVAL);
    ht_heap_destroy(h);
}

static void test_fixed_size_heap_refuses_beyond_limit(void **state)
{
    (void)state;
    ht_heap *h = fresh(0, 0, 256 << 10);
    errno = 0;
    assert_null(ht_heap_alloc(h, 0, 300 << 10));
    assert_int_equal(errno, ENOMEM);
    /* It never grows: allocations stop once its space is used. */
    size_t total = 0;
    void *p;
    while ((p = ht_heap_alloc(h, 0, 1000)) != NULL)
        total += 1000;
    assert_true(total > 200 << 10);
    assert_true(total <= 256 << 10);
    ht_heap_entry e = {0};
    unsigned regions = 0;
    while (ht_heap_walk(h, &e))
        regions += (e.flags & HT_HEAP_ENTRY_REGION) != 0;
    assert_int_equal(regions, 1);
    ht_heap_destroy(h);
}

static void test_initial_larger_than_maximum_fails(void **state)
{
    (void)state;
    errno = 0;
    assert_null(ht_heap_create(0, 1 << 20, 1 << 16));
    assert_int_equal(errno, EINVAL);
}

static void test_free_null_succeeds(void **state)
{
    (void)state;
    assert_int_equal(ht_heap_free(ht_process_heap(), 0, NULL), 1);
}

static void test_validate_block_and_heap(void **state)
{
    (void)state;
    ht_heap *h = fresh(0, 0, 0);
    uint32_t silent = HT_HEAP_ON_ERROR_SILENT;
    ht_heap_set(h, HT_HEAP_ERROR_POLICY_INFORMATION, &silent, sizeof silent);
    void *blocks[300];
    for (int i = 0; i < 300; i++)
        blocks[i] = ht_heap_alloc(h, 0, (size_t)(i * 37) % 3000);
    for (int i = 0; i < 300; i += 2)
        ht_heap_free(h, 0, blocks[i]);
    assert_int_equal(ht_heap_validate(h, 0, NULL), 1);
    assert_int_equal(ht_heap_validate(h, 0, blocks[1]), 1);
    /* A freed block is not valid, even while it rests in a lookaside, and has no size. */
    assert_int_equal(ht_heap_validate(h, 0, blocks[0]), 0);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(ht_heap_size(h, 0, blocks[0]), (size_t)-1);
    ht_heap_destroy(h);
}

static void test_validate_detects_damage(void **state)
{
    (void)state;
    ht_heap *h = fresh(0, 0, 0);
    uint32_t silent = HT_HEAP_ON_ERROR_SILENT;
    ht_heap_set(h, HT_HEAP_ERROR_POLICY_INFORMATION, &silent, sizeof silent);
    char *a = ht_heap_alloc(h, 0, 40000);
    char *b = ht_heap_alloc(h, 0, 40000);
    assert_int_equal(ht_heap_validate(h, 0, NULL), 1);
    /* An overrun of a that tramples b's header. */
    memset(a, 0x41, 40000 + 16);
    assert_int_equal(ht_heap_validate(h, 0, b), 0);
    assert_int_equal(ht_heap_validate(h, 0, NULL), 0);
    ht_heap_destroy(h);
}

static void test_walk_lists_regions_busy_and_free(void **state)
{
    (void)state;
    ht_heap *h = fresh(0, 0, 0);
    void *small = ht_heap_alloc(h, 0, 24), *mid = ht_heap_alloc(h, 0, 50000);
    void *large = ht_heap_alloc(h, 0, 2 << 20), *gone = ht_heap_alloc(h, 0, 70000);
    ht_heap_alloc(h, 0, 100);
    ht_heap_free(h, 0, gone);
    ht_heap_entry e = {0};
    int regions = 0, found_small = 0, found_mid = 0, found_large = 0, free_blocks = 0;
    while (ht_heap_walk(h, &e)) {
        if (e.flags & HT_HEAP_ENTRY_REGION) {
            regions++;
            continue;
        }
        if (!(e.flags & HT_HEAP_ENTRY_BUSY)) {
            free_blocks++;
            continue;
        }
        found_small += e.data == small && e.size == 24;
        found_mid += e.data == mid && e.size == 50000;
        found_large += e.data == large && e.size == (2 << 20);
    }
    assert_int_equal(errno, ENOENT);
    assert_int_equal(regions, 2); /* the heap's first region and the large block's */
    assert_int_equal(found_small, 1);
    assert_int_equal(found_mid, 1);
    assert_int_equal(found_large, 1);
    assert_true(free_blocks >= 1);
    ht_heap_destroy(h);
}

static void test_compact_returns_largest_free(void **state)
{
    (void)state;
    ht_heap *h = fresh(0, 0, 0);
    size_t before = ht_heap_compact(h, 0);
    assert_true(before > 1 << 20);
    void *p = ht_heap_alloc(h, 0, 500000);
    size_t during = ht_heap_compact(h, 0);
    assert_true(during < before);
    ht_heap_free(h, 0, p);
    assert_int_equal(ht_heap_compact(h, 0), before);
    ht_heap_destroy(h);
}

static void test_lock_unlock(void **state)
{
    (void)state;
    ht_heap *h = fresh(0, 0, 0);
    assert_int_equal(ht_heap_lock(h), 1);
    void *p = ht_heap_alloc(h, 0, 50000); /* the lock is recursive: the owner goes on */
    assert_non_null(p);
    assert_int_equal(ht_heap_unlock(h), 1);
    errno = 0;
    assert_int_equal(ht_heap_unlock(h), 0);
    assert_int_equal(errno, EPERM);
    ht_heap *ns = fresh(HT_HEAP_NO_SERIALIZE, 0, 0);
    assert_int_equal(ht_heap_lock(ns), 0);
    ht_heap_destroy(ns);
    ht_heap_destroy(h);
}

static uint32_t compat_of(ht_heap *h)
{
    uint32_t v = 99;
    size_t needed = 0;
    assert_int_equal(ht_heap_query(h, HT_HEAP_COMPATIBILITY_INFORMATION, &v, sizeof v, &needed), 1);
    assert_int_equal(needed, sizeof v);
    return v;
}

static void test_compatibility_information(void **state)
{
    (void)state;
    assert_int_equal(compat_of(ht_process_heap()), HT_HEAP_COMPAT_LFH);
    ht_heap *ns = fresh(HT_HEAP_NO_SERIALIZE, 0, 0), *fixed = fresh(0, 0, 1 << 20);
    assert_int_equal(compat_of(ns), HT_HEAP_COMPAT_STANDARD);
    assert_int_equal(compat_of(fixed), HT_HEAP_COMPAT_STANDARD);
    uint32_t lfh = HT_HEAP_COMPAT_LFH, lookaside = HT_HEAP_COMPAT_LOOKASIDE, standard = 0;
    assert_int_equal(ht_heap_set(ns, HT_HEAP_COMPATIBILITY_INFORMATION, &lfh, sizeof lfh), 0);
    assert_int_equal(ht_heap_set(fixed, HT_HEAP_COMPATIBILITY_INFORMATION, &lfh, sizeof lfh), 0);
    assert_int_equal(ht_heap_set(ns, HT_HEAP_COMPATIBILITY_INFORMATION, &lookaside, sizeof lookaside), 1);
    assert_int_equal(compat_of(ns), HT_HEAP_COMPAT_LOOKASIDE);
    assert_int_equal(ht_heap_set(ns, HT_HEAP_COMPATIBILITY_INFORMATION, &standard, sizeof standard), 0);
    uint32_t small;
    assert_int_equal(ht_heap_query(ns, HT_HEAP_COMPATIBILITY_INFORMATION, &small, 2, NULL), 0);
    assert_int_equal(errno, ERANGE);
    ht_heap_destroy(ns);
    ht_heap_destroy(fixed);
}

static void test_lookaside_is_lifo(void **state)
{
    (void)state;
    ht_heap *h = fresh(0, 0, 0);
    void *a = ht_heap_alloc(h, 0, 64), *b = ht_heap_alloc(h, 0, 64);
    ht_heap_free(h, 0, a);
    ht_heap_free(h, 0, b);
    assert_ptr_equal(ht_heap_alloc(h, 0, 64), b);
    assert_ptr_equal(ht_heap_alloc(h, 0, 60), a);
    ht_heap_destroy(h);
}

/* Blocks above the size classes (16 KiB to 1 MiB) that a thread frees wait
 * in its medium lists and come back to it without the heap's lock: the
 * last freed first, from the request's class or the next. */
static void test_medium_blocks_go_round_in_thread_cache(void **state)
{
    (void)state;
    ht_heap *h = fresh(0, 0, 0);
    char *a = ht_heap_alloc(h, 0, 40000), *b = ht_heap_alloc(h, 0, 40000);
    ht_heap_alloc(h, 0, 100); /* a fence: b has no free neighbour */
    ht_heap_free(h, 0, a);
    ht_heap_free(h, 0, b);
    char *again = ht_heap_alloc(h, 0, 38000); /* same class (32-40 KiB) */
    assert_ptr_equal(again, b);
    assert_int_equal(ht_heap_size(h, 0, again), 38000);
    /* 30000 falls in the class below; its list is empty, the next one's
     * blocks are all large enough. */
    assert_ptr_equal(ht_heap_alloc(h, 0, 30000), a);
    assert_int_equal(ht_heap_size(h, 0, a), 30000);
    assert_int_equal(ht_heap_validate(h, 0, NULL), 1);
    ht_heap_destroy(h);
}

/* The medium lists hold at most 4 blocks a class and 512 KiB in all; the
 * rest goes back to the back end. */
static void test_medium_lists_are_bounded(void **state)
{
    (void)state;
    ht_heap *h = fresh(0, 0, 0);
    void *small[5];
    for (int i = 0; i < 5; i++)
        small[i] = ht_heap_alloc(h, 0, 20000);
    ht_heap_alloc(h, 0, 100);
    for (int i = 0; i < 5; i++)
        ht_heap_free(h, 0, small[i]);
    /* The fifth did not fit its class's list: the fourth comes back first. */
    assert_ptr_equal(ht_heap_alloc(h, 0, 20000), small[3]);
    ht_heap_compact(h, 0); /* gives the lists back */

    void *big[3];
    for (int i = 0; i < 3; i++)
        big[i] = ht_heap_alloc(h, 0, 200000);
    ht_heap_alloc(h, 0, 100);
    for (int i = 0; i < 3; i++)
        ht_heap_free(h, 0, big[i]);
    /* Two fit the budget, the third (600000 bytes in all) did not. */
    assert_ptr_equal(ht_heap_alloc(h, 0, 200000), big[1]);
    assert_ptr_equal(ht_heap_alloc(h, 0, 200000), big[0]);
    assert_int_equal(ht_heap_validate(h, 0, NULL), 1);
    ht_heap_destroy(h);
}

static void test_standard_heap_coalesces(void **state)
{
    (void)state;
    /* No lookaside: freed neighbours merge and serve a larger block at once. */
    ht_heap *h = fresh(HT_HEAP_NO_SERIALIZE, 0, 0);
    char *a = ht_heap_alloc(h, 0, 1000), *b = ht_heap_alloc(h, 0, 1000);
    ht_heap_alloc(h, 0, 1000);
    ht_heap_free(h, 0, a);
    ht_heap_free(h, 0, b);
    assert_ptr_equal(ht_heap_alloc(h, 0, 1500), a);
    ht_heap_destroy(h);
}

static void test_aligned_alloc(void **state)
{
    (void)state;
    ht_heap *h = fresh(0, 0, 0);
    for (size_t align = 32; align <= (1 << 16); align <<= 1)
        for (size_t size = 1; size < (3u << 20); size = size * 7 + 3) {
            char *p = ht_heap_alloc_aligned(h, 0, align, size);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % align, 0);
            assert_int_equal(ht_heap_size(h, 0, p), size);
            memset(p, 1, size);
            if (size % 2)
                ht_heap_free(h, 0, p);
        }
    assert_int_equal(ht_heap_validate(h, 0, NULL), 1);
    assert_null(ht_heap_alloc_aligned(h, 0, 48, 10));
    ht_heap_destroy(h);
}

static void test_large_blocks_grow_and_shrink(void **state)
{
    (void)state;
    ht_heap *h = fresh(0, 0, 0);
    unsigned char *p = ht_heap_alloc(h, 0, 4 << 20);
    memset(p, 3, 4 << 20);
    p = ht_heap_realloc(h, 0, p, 40 << 20);
    assert_non_null(p);
    for (size_t i = 0; i < (4u << 20); i += 4093)
        assert_int_equal(p[i], 3);
    p = ht_heap_realloc(h, 0, p, 1 << 20);
    assert_int_equal(ht_heap_size(h, 0, p), 1 << 20);
    p = ht_heap_realloc(h, 0, p, 100); /* back into the heap proper */
    assert_int_equal(p[99], 3);
    assert_int_equal(ht_heap_validate(h, 0, NULL), 1);
    ht_heap_destroy(h);
}

static void test_random_churn_keeps_heap_whole(void **state)
{
    (void)state;
    /* Random frees and allocations of mixed sizes in a working set larger
     * than the lookasides: blocks move between the back end, the lookaside,
     * the LFH pages and the bins' batches, and every block keeps its bytes. */
    enum { SET = 1 << 14 };
    static unsigned char *set[SET];
    static size_t sizes[SET];
    ht_heap *h = fresh(0, 0, 0);
    uint64_t rng = 88172645463325252ull;
    for (long i = 0; i < 2000000; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        size_t k = rng % SET;
        if (set[k]) {
            assert_int_equal(set[k][0], (unsigned char)k);
            assert_int_equal(set[k][sizes[k] - 1], (unsigned char)(k >> 8));
            assert_int_equal(ht_heap_free(h, 0, set[k]), 1);
        }
        sizes[k] = 2 + (rng >> 32) % ((rng >> 40) % 8 ? 500 : 20000);
        set[k] = ht_heap_alloc(h, 0, sizes[k]);
        set[k][0] = (unsigned char)k;
        set[k][sizes[k] - 1] = (unsigned char)(k >> 8);
        if (i % 250000 == 0)
            assert_int_equal(ht_heap_validate(h, 0, NULL), 1);
    }
    assert_int_equal(ht_heap_validate(h, 0, NULL), 1);
    ht_heap_destroy(h);
}

/* ---- bad pointers ------------------------------------------------------------ */
static void double_free(void *arg)
{
    (void)arg;
    ht_heap *h = ht_heap_create(0, 0, 0);
    void *p = ht_heap_alloc(h, 0, 48);
    ht_heap_free(h, 0, p);
    ht_heap_free(h, 0, p);
}

static void test_double_free_aborts_with_message(void **state)
{
    (void)state;
    child_result r;
    run_in_child(double_free, NULL, &r);
    assert_true(child_aborted(&r));
    assert_non_null(strstr(r.err, "heaptrail heap 0x"));
    assert_non_null(strstr(r.err, "HeapFree(0x"));
    assert_non_null(strstr(r.err, "double free"));
}

static void double_free_backend(void *arg)
{
    (void)arg;
    ht_heap *h = ht_heap_create(HT_HEAP_NO_SERIALIZE, 0, 0); /* no lookaside: the block goes back at once */
    void *p = ht_heap_alloc(h, 0, 5000);
    ht_heap_alloc(h, 0, 5000);
    ht_heap_free(h, 0, p);
    ht_heap_free(h, 0, p);
}

static void test_double_free_of_backend_block(void **state)
{
    (void)state;
    child_result r;
    run_in_child(double_free_backend, NULL, &r);
    assert_true(child_aborted(&r));
    assert_non_null(strstr(r.err, "double free: the block is already free"));
}

static void foreign_pointer(void *arg)
{
    ht_heap_free(ht_process_heap(), 0, arg);
}

static void double_free_medium(void *arg)
{
    (void)arg;
    ht_heap *h = ht_heap_create(0, 0, 0);
    void *p = ht_heap_alloc(h, 0, 100000);
    ht_heap_free(h, 0, p); /* into this thread's medium lists */
    ht_heap_free(h, 0, p);
}

static void test_double_free_of_cached_medium_block(void **state)
{
    (void)state;
    child_result r;
    run_in_child(double_free_medium, NULL, &r);
    assert_true(child_aborted(&r));
    assert_non_null(strstr(r.err, "double free: the block is already free (resting in a lookaside"));
}

static void test_foreign_pointer_aborts_with_message(void **state)
{
    (void)state;
    child_result r;
    void *glibc_block = malloc(100);
    run_in_child(foreign_pointer, glibc_block, &r);
    assert_true(child_aborted(&r));
    char want[64];
    snprintf(want, sizeof want, "HeapFree(%p)", glibc_block);
    assert_non_null(strstr(r.err, want));
    assert_non_null(strstr(r.err, "foreign pointer"));
    free(glibc_block);
}

static void interior_pointer(void *arg)
{
    (void)arg;
    ht_heap *h = ht_heap_create(0, 0, 0);
    char *p = ht_heap_alloc(h, 0, 1000);
    ht_heap_free(h, 0, p + 32);
}

static void test_interior_pointer_is_detected(void **state)
{
    (void)state;
    child_result r;
    run_in_child(interior_pointer, NULL, &r);
    assert_true(child_aborted(&r));
    assert_non_null(strstr(r.err, "not the start of a live block"));
}

static void damaged_header(void *arg)
{
    (void)arg;
    ht_heap *h = ht_heap_create(0, 0, 0);
    char *p = ht_heap_alloc(h, 0, 48);
    memset(p - 16, 0x5a, 16); /* what an overrun of the block before it does */
    ht_heap_free(h, 0, p);
}

static void test_damaged_header_is_detected(void **state)
{
    (void)state;
    child_result r;
    run_in_child(damaged_header, NULL, &r);
    assert_true(child_aborted(&r));
    assert_non_null(strstr(r.err, "HeapFree(0x"));
    assert_non_null(strstr(r.err, "header is damaged"));
}

static void write_after_free(void *arg)
{
    (void)arg;
    ht_heap *h = ht_heap_create(0, 0, 0);
    char *p = ht_heap_alloc(h, 0, 48);
    ht_heap_free(h, 0, p); /* into this thread's lookaside */
    memset(p - 16, 0, 16);
    ht_heap_alloc(h, 0, 48); /* takes it back out */
}

static void test_write_after_free_found_when_block_leaves_cache(void **state)
{
    (void)state;
    child_result r;
    run_in_child(write_after_free, NULL, &r);
    assert_true(child_aborted(&r));
    assert_non_null(strstr(r.err, "written to after its free"));
}

static void test_wrong_heap_reported_and_refused(void **state)
{
    (void)state;
    ht_heap *a = fresh(0, 0, 0), *b = fresh(0, 0, 0);
    uint32_t report = HT_HEAP_ON_ERROR_REPORT;
    assert_int_equal(ht_heap_set(b, HT_HEAP_ERROR_POLICY_INFORMATION, &report, sizeof report), 1);
    void *p = ht_heap_alloc(a, 0, 64);
    errno = 0;
    assert_int_equal(ht_heap_free(b, 0, p), 0);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(ht_heap_size(b, 0, p), (size_t)-1);
    /* Refused, so untouched: it is still a live block of a. */
    assert_int_equal(ht_heap_validate(a, 0, p), 1);
    assert_int_equal(ht_heap_free(a, 0, p), 1);
    ht_heap_destroy(a);
    ht_heap_destroy(b);
}

static void exhaust_with_exceptions(void *arg)
{
    (void)arg;
    ht_heap *h = ht_heap_create(HT_HEAP_GENERATE_EXCEPTIONS, 0, 64 << 10);
    while (ht_heap_alloc(h, 0, 1000))
        ;
}

static void test_generate_exceptions_aborts_on_failure(void **state)
{
    (void)state;
    child_result r;
    run_in_child(exhaust_with_exceptions, NULL, &r);
    assert_true(child_aborted(&r));
    assert_non_null(strstr(r.err, "out of memory"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_destroy),
        cmocka_unit_test(test_destroy_process_heap_fails),
        cmocka_unit_test(test_process_heaps_lists_all),
        cmocka_unit_test(test_alignment_16),
        cmocka_unit_test(test_zero_size_block),
        cmocka_unit_test(test_size_is_requested_size),
        cmocka_unit_test(test_zero_memory_on_alloc),
        cmocka_unit_test(test_realloc_keeps_content_and_zeroes_growth),
        cmocka_unit_test(test_realloc_small_blocks),
        cmocka_unit_test(test_realloc_in_place_only),
        cmocka_unit_test(test_realloc_null_fails),
        cmocka_unit_test(test_fixed_size_heap_refuses_beyond_limit),
        cmocka_unit_test(test_initial_larger_than_maximum_fails),
        cmocka_unit_test(test_free_null_succeeds),
        cmocka_unit_test(test_validate_block_and_heap),
        cmocka_unit_test(test_validate_detects_damage),
        cmocka_unit_test(test_walk_lists_regions_busy_and_free),
        cmocka_unit_test(test_compact_returns_largest_free),
        cmocka_unit_test(test_lock_unlock),
        cmocka_unit_test(test_compatibility_information),
        cmocka_unit_test(test_lookaside_is_lifo),
        cmocka_unit_test(test_medium_blocks_go_round_in_thread_cache),
        cmocka_unit_test(test_medium_lists_are_bounded),
        cmocka_unit_test(test_standard_heap_coalesces),
        cmocka_unit_test(test_aligned_alloc),
        cmocka_unit_test(test_large_blocks_grow_and_shrink),
        cmocka_unit_test(test_random_churn_keeps_heap_whole),
        cmocka_unit_test(test_double_free_aborts_with_message),
        cmocka_unit_test(test_double_free_of_backend_block),
        cmocka_unit_test(test_double_free_of_cached_medium_block),
        cmocka_unit_test(test_foreign_pointer_aborts_with_message),
        cmocka_unit_test(test_interior_pointer_is_detected),
        cmocka_unit_test(test_damaged_header_is_detected),
        cmocka_unit_test(test_write_after_free_found_when_block_leaves_cache),
        cmocka_unit_test(test_wrong_heap_reported_and_refused),
        cmocka_unit_test(test_generate_exceptions_aborts_on_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
