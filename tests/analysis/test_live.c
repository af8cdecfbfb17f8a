/* Unit tests of the live-block table (src/analysis/live.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis/live.h"

static ht_live_block block(uint64_t size)
{
    return (ht_live_block){.size = size};
}

static void test_empty(void **state)
{
    (void)state;
    ht_live t;
    ht_live_init(&t);
    assert_null(ht_live_find(&t, 0x1000));
    assert_int_equal(ht_live_remove(&t, 0x1000, NULL), 0);
    assert_int_equal(ht_live_count(&t), 0);
    assert_int_equal(ht_live_capacity(&t), 0);
    size_t cursor = 0;
    uint64_t a;
    const ht_live_block *b;
    assert_int_equal(ht_live_next(&t, &cursor, &a, &b), 0);
    ht_live_destroy(&t);
}

static void test_insert_find_remove(void **state)
{
    (void)state;
    ht_live t;
    ht_live_init(&t);
    ht_live_block b = block(100);
    assert_int_equal(ht_live_insert(&t, 0x1000, &b, NULL), 1);
    b = block(50);
    assert_int_equal(ht_live_insert(&t, 0x2000, &b, NULL), 1);
    assert_int_equal(ht_live_count(&t), 2);
    assert_int_equal(ht_live_bytes(&t), 150);
    const ht_live_block *f = ht_live_find(&t, 0x1000);
    assert_non_null(f);
    assert_int_equal(f->size, 100);

    /* The same address again replaces the block and says what it was. */
    ht_live_block old, nb = block(30);
    assert_int_equal(ht_live_insert(&t, 0x1000, &nb, &old), 0);
    assert_int_equal(old.size, 100);
    assert_int_equal(ht_live_count(&t), 2);
    assert_int_equal(ht_live_bytes(&t), 80);

    ht_live_block removed;
    assert_int_equal(ht_live_remove(&t, 0x1000, &removed), 1);
    assert_int_equal(removed.size, 30);
    assert_int_equal(ht_live_remove(&t, 0x1000, &removed), 0);
    assert_null(ht_live_find(&t, 0x1000));
    assert_int_equal(ht_live_count(&t), 1);
    assert_int_equal(ht_live_bytes(&t), 50);
    ht_live_destroy(&t);
    assert_int_equal(ht_live_count(&t), 0);
    assert_int_equal(ht_live_bytes(&t), 0);
}

static void test_address_zero(void **state)
{
    (void)state;
    ht_live t;
    ht_live_init(&t);
    ht_live_block b = block(8);
    assert_int_equal(ht_live_insert(&t, 0, &b, NULL), 1);
    assert_int_equal(ht_live_insert(&t, 0x10, &b, NULL), 1);
    assert_non_null(ht_live_find(&t, 0));
    assert_int_equal(ht_live_count(&t), 2);
    b = block(9);
    assert_int_equal(ht_live_insert(&t, 0, &b, NULL), 0);
    assert_int_equal(ht_live_bytes(&t), 17);
    size_t cursor = 0, seen = 0;
    uint64_t a;
    const ht_live_block *v;
    while (ht_live_next(&t, &cursor, &a, &v))
        seen++;
    assert_int_equal(seen, 2);
    assert_int_equal(ht_live_remove(&t, 0, NULL), 1);
    assert_null(ht_live_find(&t, 0));
    assert_int_equal(ht_live_count(&t), 1);
    assert_int_equal(ht_live_bytes(&t), 8);
    ht_live_destroy(&t);
}

/* Millions of blocks: the table grows, everything stays findable, and when
 * they are freed its memory goes back down. */
static void test_grow_and_shrink(void **state)
{
    (void)state;
    enum { N = 3000000 };
    ht_live t;
    ht_live_init(&t);
    for (uint64_t i = 0; i < N; i++) {
        ht_live_block b = block(i % 1000 + 1);
        assert_int_equal(ht_live_insert(&t, 0x7f0000000000ull + i * 16, &b, NULL), 1);
    }
    assert_int_equal(ht_live_count(&t), N);
    size_t cap = ht_live_capacity(&t);
    assert_true(cap * 3 >= (size_t)N * 4);  /* at most three quarters full */
    assert_true(cap <= (size_t)N * 4);      /* and not oversized */
    uint64_t expect_bytes = 0;
    for (uint64_t i = 0; i < N; i++)
        expect_bytes += i % 1000 + 1;
    assert_int_equal(ht_live_bytes(&t), expect_bytes);
    for (uint64_t i = 0; i < N; i += 7) {
        const ht_live_block *b = ht_live_find(&t, 0x7f0000000000ull + i * 16);
        assert_non_null(b);
        assert_int_equal(b->size, i % 1000 + 1);
    }
    assert_null(ht_live_find(&t, 0x7f0000000000ull + 8));
    /* Free all but the last 100 blocks, in an order unlike insertion. */
    for (uint64_t i = N - 101; i + 1 > 0; i--)
        assert_int_equal(ht_live_remove(&t, 0x7f0000000000ull + i * 16, NULL), 1);
    assert_int_equal(ht_live_count(&t), 100);
    assert_true(ht_live_capacity(&t) < 64 * 100); /* shrunk on the way down */
    for (uint64_t i = N - 100; i < N; i++)
        assert_non_null(ht_live_find(&t, 0x7f0000000000ull + i * 16));
    for (uint64_t i = N - 100; i < N; i++)
        assert_int_equal(ht_live_remove(&t, 0x7f0000000000ull + i * 16, NULL), 1);
    assert_int_equal(ht_live_count(&t), 0);
    assert_int_equal(ht_live_bytes(&t), 0);
    assert_int_equal(ht_live_capacity(&t), 16);
    ht_live_destroy(&t);
}

/* The table grows when an insert would fill more than five eighths of its
 * slots and shrinks when one slot in 64 or fewer stays used, to the
 * smallest size its blocks fill five sixteenths or less of; the block at
 * address 0 takes no slot, whenever it comes and goes. */
static void test_thresholds(void **state)
{
    (void)state;
    for (int zero = 0; zero < 2; zero++) {
        ht_live t;
        ht_live_init(&t);
        ht_live_block b = block(1);
        if (zero)
            assert_int_equal(ht_live_insert(&t, 0, &b, NULL), 1);
        for (uint64_t i = 1; i <= 10; i++)
            assert_int_equal(ht_live_insert(&t, i * 16, &b, NULL), 1);
        assert_int_equal(ht_live_capacity(&t), 16);
        assert_int_equal(ht_live_insert(&t, 11 * 16, &b, NULL), 1);
        assert_int_equal(ht_live_capacity(&t), 32);
        for (uint64_t i = 12; i <= 1281; i++)
            assert_int_equal(ht_live_insert(&t, i * 16, &b, NULL), 1);
        assert_int_equal(ht_live_capacity(&t), 4096); /* 1280 of 2048 was the most */
        if (zero) /* the thresholds follow the block at 0 leaving */
            assert_int_equal(ht_live_remove(&t, 0, NULL), 1);
        for (uint64_t i = 1281; i > 65; i--)
            assert_int_equal(ht_live_remove(&t, i * 16, NULL), 1);
        assert_int_equal(ht_live_capacity(&t), 4096); /* 65 of 4096 */
        assert_int_equal(ht_live_remove(&t, 65 * 16, NULL), 1);
        assert_int_equal(ht_live_capacity(&t), 256); /* 64 of 4096: 64 fill 5/16 of 256 */
        for (uint64_t i = 64; i > 5; i--)
            assert_int_equal(ht_live_remove(&t, i * 16, NULL), 1);
        assert_int_equal(ht_live_capacity(&t), 256); /* 5 of 256 */
        assert_int_equal(ht_live_remove(&t, 5 * 16, NULL), 1);
        assert_int_equal(ht_live_capacity(&t), 16); /* 4 of 256 */
        for (uint64_t i = 1; i <= 4; i++)
            assert_non_null(ht_live_find(&t, i * 16));
        ht_live_destroy(&t);
    }
}

/* The table's own hash (live.c): Fibonacci hashing, top bits. */
/* Where the table starts looking for address in a table of 2^bits slots
 * (live.h: the page's place plus the block's place in its page). */
static size_t home(uint64_t address, unsigned bits)
{
    size_t page = (size_t)(((address >> 12) * 0x9E3779B97F4A7C15ull) >> (64 - bits));
    return (page + (size_t)((address >> 4) & 0xFF)) & (((size_t)1 << bits) - 1);
}

/* Keys that all want the last slot of a 16-slot table: their probe run wraps
 * around the end, and removals in the middle of it must keep the rest
 * findable (backward shift). */
static void test_collisions(void **state)
{
    (void)state;
    uint64_t keys[10];
    size_t n = 0;
    for (uint64_t k = 16; n < 10; k += 16)
        if (home(k, 4) == 15)
            keys[n++] = k;
    ht_live t;
    ht_live_init(&t);
    for (size_t i = 0; i < n; i++) {
        ht_live_block b = block(i + 1);
        assert_int_equal(ht_live_insert(&t, keys[i], &b, NULL), 1);
    }
    assert_int_equal(ht_live_capacity(&t), 16);
    static const size_t order[] = {0, 5, 9, 2, 7, 1, 8, 3, 6, 4};
    for (size_t r = 0; r < n; r++) {
        assert_int_equal(ht_live_remove(&t, keys[order[r]], NULL), 1);
        for (size_t j = r + 1; j < n; j++) {
            const ht_live_block *b = ht_live_find(&t, keys[order[j]]);
            assert_non_null(b);
            assert_int_equal(b->size, order[j] + 1);
        }
        assert_null(ht_live_find(&t, keys[order[r]]));
    }
    assert_int_equal(ht_live_count(&t), 0);
    ht_live_destroy(&t);
}

/* The table's answer for index i of the model (block size + 1, 0 when not
 * live), blocks stride bytes apart. */
static void check_address(const ht_live *t, const uint64_t *model, size_t i, uint64_t stride)
{
    const ht_live_block *b = ht_live_find(t, (uint64_t)i * stride);
    if (model[i]) {
        assert_non_null(b);
        assert_int_equal(b->size, model[i] - 1);
    } else {
        assert_null(b);
    }
}

/* The whole table against the model: every address of the range found or
 * not as the model says, and the walk visits each live block once. */
static void check_all(const ht_live *t, const uint64_t *model, size_t range, uint64_t stride,
                       uint64_t count, uint64_t bytes)
{
    for (size_t i = 0; i < range; i++)
        check_address(t, model, i, stride);
    uint8_t *seen = calloc(range, 1);
    assert_non_null(seen);
    size_t cursor = 0, walked = 0;
    uint64_t address, walked_bytes = 0;
    const ht_live_block *b;
    while (ht_live_next(t, &cursor, &address, &b)) {
        size_t i = (size_t)(address / stride);
        assert_int_equal(address % stride, 0);
        assert_true(i < range && model[i] != 0 && !seen[i]);
        seen[i] = 1;
        walked++;
        walked_bytes += b->size;
    }
    assert_int_equal(walked, count);
    assert_int_equal(walked_bytes, bytes);
    free(seen);
}
/* ops random inserts and removes of range blocks stride bytes apart,
 * checked against a plain array: every answer of the table must match. */
static void against_model(uint64_t stride, size_t range, int ops)
{
    uint64_t *model = calloc(range, sizeof *model); /* size + 1, 0 when not live */
    assert_non_null(model);
    ht_live t;
    ht_live_init(&t);
    uint64_t rng = 88172645463325252ull, count = 0, bytes = 0;
    for (int op = 0; op < ops; op++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        size_t i = (size_t)(rng % range);
        uint64_t address = (uint64_t)i * stride; /* address 0 included */
        /* Phases: mostly inserting, then mostly removing, so the table
         * grows and shrinks several times. */
        int inserting = (op / (ops / 8)) % 2 == 0 ? (rng >> 32) % 4 != 0 : (rng >> 32) % 4 == 0;
        if (inserting) {
            ht_live_block b = block((rng >> 40) % 300);
            ht_live_block old;
            int r = ht_live_insert(&t, address, &b, &old);
            assert_int_equal(r, model[i] ? 0 : 1);
            if (model[i]) {
                assert_int_equal(old.size, model[i] - 1);
                bytes -= model[i] - 1;
            } else {
                count++;
            }
            model[i] = b.size + 1;
            bytes += b.size;
        } else {
            ht_live_block old;
            int r = ht_live_remove(&t, address, &old);
            assert_int_equal(r, model[i] ? 1 : 0);
            if (model[i]) {
                assert_int_equal(old.size, model[i] - 1);
                bytes -= model[i] - 1;
                count--;
                model[i] = 0;
            }
        }
        assert_int_equal(ht_live_count(&t), count);
        assert_int_equal(ht_live_bytes(&t), bytes);
    }
    check_all(&t, model, range, stride, count, bytes);
    ht_live_destroy(&t);
    free(model);
}

static void test_against_model(void **state)
{
    (void)state;
    against_model(48, 5000, 400000);
}

/* Blocks 16 bytes apart fill every slot of their pages' runs: the runs of
 * neighbouring pages overlap and make long probe runs. */
static void test_dense_pages_against_model(void **state)
{
    (void)state;
    against_model(16, 5000, 400000);
}

/* Blocks a page apart each start a run of their own. */
static void test_sparse_pages_against_model(void **state)
{
    (void)state;
    against_model(4096 + 16, 5000, 400000);
}

/* Tables of several huge pages: mapped arrays that grow and shrink in place,
 * touched ahead of their growth, in both kinds of page runs. */
static void test_mapped_against_model(void **state)
{
    (void)state;
    against_model(16, 600000, 4000000);
    against_model(4096 + 16, 600000, 4000000);
}

/* Before a mapped table (4 MiB and more) grows, the half the growth adds
 * has been touched; the growth keeps every block, and the next one is
 * prepared again. */
static void test_growth_prepared(void **state)
{
    (void)state;
    ht_live t;
    ht_live_init(&t);
    uint64_t next = 0;
    for (int growths = 0; growths < 3;) {
        size_t capacity = ht_live_capacity(&t);
        if (capacity * sizeof(ht_live_slot) >= ((size_t)4 << 20) && t.count + 1 == t.grow_at) {
            assert_int_equal(t.ready, capacity * sizeof(ht_live_slot));
            growths++;
        }
        ht_live_block b = block(next % 77);
        assert_int_equal(ht_live_insert(&t, 0x5500000000ull + next * 32, &b, NULL), 1);
        next++;
        if (ht_live_capacity(&t) != capacity && capacity * sizeof(ht_live_slot) >= ((size_t)4 << 20))
            assert_int_equal(t.ready, 0);
    }
    for (uint64_t i = 0; i < next; i++) {
        const ht_live_block *b = ht_live_find(&t, 0x5500000000ull + i * 32);
        assert_non_null(b);
        assert_int_equal(b->size, i % 77);
    }
    ht_live_destroy(&t);
}

/* Slots of the array while a resize is under way: both sizes'. */
static size_t span(const ht_live *t)
{
    return (t->old_mask > t->mask ? t->old_mask : t->mask) + 1;
}

/* Entries placed at the new size so far in the resize under way. */
static size_t placed_count(const ht_live *t)
{
    size_t n = 0;
    for (size_t w = 0; w < (span(t) + 63) / 64; w++)
        n += (size_t)__builtin_popcountll(t->placed[w]);
    return n;
}


/* A mapped array grown and shrunk several times, inserts and removals
 * going on while each resize is under way: every answer checked against a
 * plain array, lookups after every operation of a resize, and the whole
 * table (lookups and walk) halfway through each one. */
static void resizes_against_model(uint64_t stride)
{
    enum { RANGE = 600000, HIGH = 200000, LOW = 1500, CYCLES = 2 };
    uint64_t *model = calloc(RANGE, sizeof *model); /* size + 1, 0 when not live */
    size_t *live = malloc(RANGE * sizeof *live);    /* the live indexes, in any order */
    size_t *where = malloc(RANGE * sizeof *where);  /* an index's place in live */
    assert_true(model && live && where);
    ht_live t;
    ht_live_init(&t);
    uint64_t rng = 0x2545F4914F6CDD1Dull, count = 0, bytes = 0;
    int growths = 0, shrinks = 0, halfway_checked = 0;
    for (int phase = 0; phase < 2 * CYCLES; phase++) {
        int growing = phase % 2 == 0;
        while (growing ? count < HIGH : count > LOW) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            int was_moving = t.placed != NULL;
            /* Three operations in four go the phase's way; a removal takes
             * a live block or, one time in two, any address. */
            int inserting = growing == ((rng >> 60) % 4 != 0);
            size_t i = inserting || (rng >> 59) % 2 || !count ? (size_t)(rng % RANGE)
                                                               : live[(rng >> 20) % count];
            uint64_t address = (uint64_t)i * stride; /* address 0 included */
            ht_live_block old;
            if (inserting) {
                ht_live_block b = block((rng >> 40) % 300);
                int r = ht_live_insert(&t, address, &b, &old);
                assert_int_equal(r, model[i] ? 0 : 1);
                if (model[i]) {
                    assert_int_equal(old.size, model[i] - 1);
                    bytes -= model[i] - 1;
                } else {
                    where[i] = count;
                    live[count++] = i;
                }
                model[i] = b.size + 1;
                bytes += b.size;
            } else {
                int r = ht_live_remove(&t, address, &old);
                assert_int_equal(r, model[i] ? 1 : 0);
                if (model[i]) {
                    assert_int_equal(old.size, model[i] - 1);
                    bytes -= model[i] - 1;
                    live[where[i]] = live[--count];
                    where[live[where[i]]] = where[i];
                    model[i] = 0;
                }
            }
            assert_int_equal(ht_live_count(&t), count);
            assert_int_equal(ht_live_bytes(&t), bytes);
            if (!t.placed)
                continue;
            if (!was_moving) {
                if (t.mask > t.old_mask)
                    growths++;
                else
                    shrinks++;
                halfway_checked = 0;
            }
            for (int k = 0; k < 8; k++) {
                size_t j = (size_t)((rng >> (k * 7)) % RANGE);
                if (k % 2 && count)
                    j = live[(rng >> (k * 5)) % count];
                check_address(&t, model, j, stride);
            }
            if (!halfway_checked && 2 * t.unvisited <= t.old_mask + 1) {
                check_all(&t, model, RANGE, stride, count, bytes);
                halfway_checked = 1;
            }
        }
    }
    /* Each cycle grows to 512 K slots and back to 32 K at once: mapped from
     * 256 K on, and in place from then on. */
    assert_true(growths >= 2 * CYCLES && shrinks >= CYCLES);
    check_all(&t, model, RANGE, stride, count, bytes);
    ht_live_destroy(&t);
    free(model);
    free(live);
    free(where);
}

static void test_resizes_against_model(void **state)
{
    (void)state;
    resizes_against_model(16);        /* neighbouring pages' runs overlap */
    resizes_against_model(4096 + 16); /* a run per block */
}

/* While a resize is under way, no insert or removal does more than a step
 * of it: at most 64 slots visited growing, 128 shrinking, and a bounded
 * number of entries placed, and the resize is over after old capacity /
 * step operations. The first two mapped sizes up, and the shrink from the
 * largest (every operation counts the placed entries). */
static void test_resize_steps_bounded(void **state)
{
    (void)state;
    enum { GROW_STEP = 64, SHRINK_STEP = 128 };
    ht_live t;
    ht_live_init(&t);
    uint64_t next = 1, rng = 1;
    int resizes = 0;
    for (int growing = 1; resizes < 3; growing = resizes < 2) {
        /* Python-like addresses: blocks of 32 to 256 bytes one after the other. */
        if (growing) {
            ht_live_block b = block(next);
            assert_int_equal(ht_live_insert(&t, 0x7f1200000000ull + next * 16, &b, NULL), 1);
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            next += 2 + (rng >> 61);
        } else {
            uint64_t address = 0x7f1200000000ull + (next - 1) * 16;
            for (; next > 0 && !ht_live_find(&t, address); address -= 16)
                next--;
            assert_int_equal(ht_live_remove(&t, address, NULL), 1);
        }
        if (!t.placed || t.old_mask + 1 < 65536)
            continue;
        resizes++;
        size_t old_capacity = t.old_mask + 1, ops = 0;
        size_t step = t.mask > t.old_mask ? GROW_STEP : SHRINK_STEP;
        while (t.placed) {
            size_t unvisited = t.unvisited, placed = placed_count(&t);
            /* Each kind of operation in turn: a new block, a block replaced,
             * a block freed, an address not live. */
            uint64_t address = 0x7f1200000000ull + next * 16;
            ht_live_block b = block(1);
            int kind = (int)(ops % 4), removed_placed = 0, added = 0;
            if (kind == 0) {
                added = ht_live_insert(&t, address, &b, NULL);
                assert_int_equal(added, 1);
                next += 3;
            } else if (kind == 1) {
                assert_int_equal(ht_live_insert(&t, address - 3 * 16, &b, NULL), 0);
            } else if (kind == 2) {
                uint64_t victim = 0x7f1200000000ull + (next - 3 * ops) * 16;
                size_t s = ht_live_slot_(&t, victim);
                removed_placed = t.slots[s].key == victim && t.placed[s / 64] >> (s % 64) & 1;
                (void)ht_live_remove(&t, victim, NULL);
            } else {
                assert_int_equal(ht_live_remove(&t, address + 8, NULL), 0);
            }
            ops++;
            if (!t.placed)
                break;
            assert_true(t.unvisited < unvisited && unvisited - t.unvisited <= step);
            size_t moved = placed_count(&t) + (size_t)removed_placed - placed - (size_t)added;
            assert_true(moved <= 2 * step);
        }
        assert_true(ops <= (old_capacity + step - 1) / step);
    }
    ht_live_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_insert_find_remove),
        cmocka_unit_test(test_address_zero),
        cmocka_unit_test(test_grow_and_shrink),
        cmocka_unit_test(test_mapped_against_model),
        cmocka_unit_test(test_growth_prepared),
        cmocka_unit_test(test_resizes_against_model),
        cmocka_unit_test(test_resize_steps_bounded),
        cmocka_unit_test(test_thresholds),
        cmocka_unit_test(test_collisions),
        cmocka_unit_test(test_against_model),
        cmocka_unit_test(test_dense_pages_against_model),
        cmocka_unit_test(test_sparse_pages_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
