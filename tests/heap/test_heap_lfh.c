/* Unit tests of the low-fragmentation heap's size-class blocks: no header,
 * their state kept in their page (src/heap/heap_internal.h), and every bad
 * pointer and damaged list still told apart. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "child.h"
#include "heap/heap_internal.h"
#include "heaptrail/heap.h"

/* A heap whose class of `size` has its LFH bin open: the first
 * HT_LFH_ACTIVATION blocks of a class come from the back end. */
static ht_heap *heap_with_lfh(size_t size)
{
    ht_heap *h = ht_heap_create(0, 0, 0);
    assert_non_null(h);
    void *warm[HT_LFH_ACTIVATION];
    for (int i = 0; i < HT_LFH_ACTIVATION; i++)
        warm[i] = ht_heap_alloc(h, 0, size);
    for (int i = 0; i < HT_LFH_ACTIVATION; i++)
        ht_heap_free(h, 0, warm[i]);
    return h;
}

/* A block served by the LFH (a fresh one: the lookaside holds the warm-up
 * blocks, which are the back end's). */
static char *lfh_block(ht_heap *h, size_t size)
{
    for (;;) {
        char *p = ht_heap_alloc(h, 0, size);
        assert_non_null(p);
        ht_segment *s = ht_segmap_lookup(p);
        if (s->kind == HT_SEGMENT_LFH)
            return p;
    }
}

static void test_blocks_have_no_header(void **state)
{
    (void)state;
    ht_heap *h = heap_with_lfh(48);
    char *a = lfh_block(h, 48), *b = ht_heap_alloc(h, 0, 40), *c = ht_heap_alloc(h, 0, 33);
    /* One batch cut in address order, each block its class's 48 bytes. */
    assert_ptr_equal(b, a + 48);
    assert_ptr_equal(c, b + 48);
    assert_int_equal(ht_heap_size(h, 0, a), 48);
    assert_int_equal(ht_heap_size(h, 0, b), 40);
    assert_int_equal(ht_heap_size(h, 0, c), 33);
    assert_int_equal(ht_heap_usable_size(h, c), 48);
    assert_int_equal((uintptr_t)a % 16, 0);
    memset(a, 0xab, 48); /* the whole capacity is the caller's */
    assert_int_equal(ht_heap_size(h, 0, b), 40);
    assert_int_equal(ht_heap_validate(h, 0, NULL), 1);
    ht_heap_destroy(h);
}

static void test_realloc_in_place_keeps_requested_size(void **state)
{
    (void)state;
    ht_heap *h = heap_with_lfh(1000);
    char *p = lfh_block(h, 1000);
    assert_ptr_equal(ht_heap_realloc(h, 0, p, 900), p);
    assert_int_equal(ht_heap_size(h, 0, p), 900);
    assert_ptr_equal(ht_heap_realloc(h, HT_HEAP_REALLOC_IN_PLACE_ONLY, p, 1), p);
    assert_int_equal(ht_heap_size(h, 0, p), 1);
    assert_int_equal(ht_heap_validate(h, 0, NULL), 1);
    ht_heap_destroy(h);
}

/* Every class's exact division: the index of each 16-byte offset of a page,
 * against plain arithmetic. */
static void test_block_index_is_exact(void **state)
{
    (void)state;
    for (unsigned c = 0; c < HT_CLASS_COUNT; c++) {
        size_t bytes = ht_class_capacity(c), first = 2 * (HT_LFH_SLICE >> ht_lfh_class_shift(c));
        assert_int_equal(bytes % ((size_t)1 << ht_lfh_class_shift(c)), 0); /* blocks start on units */
        ht_lfh_page page = {.blocks_offset = (uint16_t)first,
                            .block_bytes = (uint32_t)bytes,
                            .span = (uint32_t)((HT_LFH_SLICE - first) / bytes * bytes),
                            .reciprocal = (uint32_t)(((1ull << 32) + bytes - 1) / bytes)};
        for (size_t off = 0; off < HT_LFH_SLICE; off += 16) {
            char *p = (char *)(uintptr_t)0x7f0000000000ull + off;
            size_t rel = off - first;
            size_t want = off >= first && rel < page.span && rel % bytes == 0 ? rel / bytes : SIZE_MAX;
            if (ht_lfh_index(&page, p) != want)
                fail_msg("class %u (%zu bytes), offset %zu: index %zu, want %zu", c, bytes, off,
                         ht_lfh_index(&page, p), want);
        }
    }
}

static void test_walk_shows_size_class_blocks(void **state)
{
    (void)state;
    ht_heap *h = heap_with_lfh(64);
    enum { N = 200 };
    char *blocks[N];
    for (int i = 0; i < N; i++)
        blocks[i] = ht_heap_alloc(h, 0, 50 + i % 14);
    for (int i = 0; i < N; i += 2)
        ht_heap_free(h, 0, blocks[i]);
    int busy_found = 0, free_found = 0, regions = 0, lfh_regions = 0;
    ht_heap_entry e = {0};
    while (ht_heap_walk(h, &e)) {
        if (e.flags & HT_HEAP_ENTRY_REGION) {
            regions++;
            lfh_regions += ht_segmap_lookup(e.data)->kind == HT_SEGMENT_LFH;
            continue;
        }
        for (int i = 0; i < N; i++)
            if (e.data == blocks[i]) {
                if (i % 2) {
                    assert_true(e.flags & HT_HEAP_ENTRY_BUSY);
                    assert_int_equal(e.size, 50 + i % 14);
                    /* The first blocks of the class are the back end's, with headers. */
                    size_t header = ht_segmap_lookup(e.data)->kind == HT_SEGMENT_LFH ? 0 : 16;
                    assert_int_equal(e.overhead, header + 64 - (50 + i % 14));
                    busy_found++;
                } else {
                    assert_false(e.flags & HT_HEAP_ENTRY_BUSY);
                    free_found++;
                }
            }
    }
    assert_int_equal(errno, ENOENT);
    assert_int_equal(busy_found, N / 2);
    assert_int_equal(free_found, N / 2);
    assert_int_equal(lfh_regions, 1);
    assert_true(regions >= 2);
    ht_heap_destroy(h);
}

static void test_compact_gives_back_empty_segments(void **state)
{
    (void)state;
    ht_heap *h = heap_with_lfh(128);
    enum { N = 40000 }; /* 5 MB: more than one LFH segment */
    static char *blocks[N];
    for (int i = 0; i < N; i++)
        blocks[i] = ht_heap_alloc(h, 0, 128);
    int before = 0, after = 0;
    ht_heap_entry e = {0};
    while (ht_heap_walk(h, &e))
        before += (e.flags & HT_HEAP_ENTRY_REGION) && ht_segmap_lookup(e.data)->kind == HT_SEGMENT_LFH;
    for (int i = 0; i < N; i++)
        ht_heap_free(h, 0, blocks[i]);
    ht_heap_compact(h, 0);
    e = (ht_heap_entry){0};
    while (ht_heap_walk(h, &e))
        after += (e.flags & HT_HEAP_ENTRY_REGION) && ht_segmap_lookup(e.data)->kind == HT_SEGMENT_LFH;
    assert_true(before >= 2);
    assert_int_equal(after, 0);
    assert_int_equal(ht_heap_validate(h, 0, NULL), 1);
    ht_heap_destroy(h);
}

/* The state word of p's unit in its page (p is in a page of `size`-byte
 * blocks), where a stray write would land. */
static uint16_t *state_word(void *p, size_t size)
{
    return ht_lfh_state(p, ht_lfh_class_shift(ht_size_class(size)));
}

/* ---- bad pointers -------------------------------------------------------------- */
static void double_free_cached(void *arg)
{
    (void)arg;
    ht_heap *h = heap_with_lfh(64);
    char *p = lfh_block(h, 64);
    ht_heap_free(h, 0, p); /* into the lookaside */
    ht_heap_free(h, 0, p);
}

static void test_double_free_in_lookaside(void **state)
{
    (void)state;
    child_result r;
    run_in_child(double_free_cached, NULL, &r);
    assert_true(child_aborted(&r));
    assert_non_null(strstr(r.err, "double free: the block is already free (resting in a lookaside"));
}

static void double_free_in_page(void *arg)
{
    (void)arg;
    ht_heap *h = heap_with_lfh(64);
    enum { N = 20000 }; /* more than the lookaside and the bin's batches keep */
    static char *blocks[N];
    for (int i = 0; i < N; i++)
        blocks[i] = ht_heap_alloc(h, 0, 64);
    for (int i = 0; i < N; i++)
        ht_heap_free(h, 0, blocks[i]);
    for (int i = 0; i < N; i++)
        if (ht_segmap_lookup(blocks[i])->kind == HT_SEGMENT_LFH && *state_word(blocks[i], 64) == HT_LFH_FREE)
            ht_heap_free(h, 0, blocks[i]);
}

static void test_double_free_of_block_back_in_its_page(void **state)
{
    (void)state;
    child_result r;
    run_in_child(double_free_in_page, NULL, &r);
    assert_true(child_aborted(&r));
    assert_non_null(strstr(r.err, "double free: the block is already free"));
    assert_null(strstr(r.err, "lookaside"));
}

typedef struct interior_case {
    size_t size, offset;
} interior_case;

static void interior(void *arg)
{
    const interior_case *c = arg;
    ht_heap *h = heap_with_lfh(c->size);
    char *p = lfh_block(h, c->size);
    lfh_block(h, c->size);
    ht_heap_free(h, 0, p + c->offset);
}

static void test_interior_and_misaligned_pointers(void **state)
{
    (void)state;
    /* 64-byte blocks (64-byte units): every interior offset is off the
     * unit; 48-byte blocks (16-byte units): 16 and 32 fall on units inside
     * the block, whose words read free. */
    interior_case cases[] = {{64, 16}, {64, 32}, {64, 48}, {64, 8}, {64, 4}, {64, 1},
                             {48, 16}, {48, 32}, {48, 8}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        child_result r;
        run_in_child(interior, &cases[i], &r);
        assert_true(child_aborted(&r));
        if (!strstr(r.err, "not the start of"))
            fail_msg("%zu-byte block, offset %zu: %s", cases[i].size, cases[i].offset, r.err);
    }
}

static void link_overwritten(void *arg)
{
    (void)arg;
    ht_heap *h = heap_with_lfh(64);
    char *p = lfh_block(h, 64), *q = lfh_block(h, 64);
    ht_heap_free(h, 0, q);
    ht_heap_free(h, 0, p); /* the lookaside: p, then q */
    memset(p, 0x41, 16);  /* a use after free overwrites p's link */
    ht_heap_alloc(h, 0, 64); /* p */
    ht_heap_alloc(h, 0, 64); /* what the link says */
}

static void test_overwritten_link_is_caught(void **state)
{
    (void)state;
    child_result r;
    run_in_child(link_overwritten, NULL, &r);
    assert_true(child_aborted(&r));
    assert_non_null(strstr(r.err, "written to after its free"));
}

static void test_validate_finds_damaged_states(void **state)
{
    (void)state;
    uint32_t silent = HT_HEAP_ON_ERROR_SILENT;
    /* A block start's word turned to garbage, and a unit inside a block
     * that claims to be a busy block (48-byte blocks: 16-byte units). */
    for (int inside = 0; inside < 2; inside++) {
        ht_heap *h = heap_with_lfh(48);
        ht_heap_set(h, HT_HEAP_ERROR_POLICY_INFORMATION, &silent, sizeof silent);
        char *p = lfh_block(h, 48);
        assert_int_equal(ht_heap_validate(h, 0, NULL), 1);
        uint16_t *w = state_word(inside ? p + 16 : p, 48);
        uint16_t saved = *w;
        *w = inside ? 0x8000 : 0x7777;
        assert_int_equal(ht_heap_validate(h, 0, NULL), 0);
        assert_int_equal(ht_heap_validate(h, 0, p + 16), 0);
        *w = saved;
        assert_int_equal(ht_heap_validate(h, 0, NULL), 1);
        ht_heap_destroy(h);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_have_no_header),
        cmocka_unit_test(test_realloc_in_place_keeps_requested_size),
        cmocka_unit_test(test_block_index_is_exact),
        cmocka_unit_test(test_walk_shows_size_class_blocks),
        cmocka_unit_test(test_compact_gives_back_empty_segments),
        cmocka_unit_test(test_double_free_in_lookaside),
        cmocka_unit_test(test_double_free_of_block_back_in_its_page),
        cmocka_unit_test(test_interior_and_misaligned_pointers),
        cmocka_unit_test(test_overwritten_link_is_caught),
        cmocka_unit_test(test_validate_finds_damaged_states),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
