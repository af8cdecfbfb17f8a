/* Allocation sites: leaks grouped by stack when an image ends, reallocs
 * moving a block to their own stack, processes kept apart, temporaries,
 * peak figures, window types and filters — the last three checked against
 * a brute-force model on random histories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis/sites.h"

static uint64_t clock_now;

static ht_event heap_event(uint16_t type, uint32_t pid, uint32_t tid, uint32_t stack)
{
    ht_event ev;
    memset(&ev, 0, sizeof ev);
    ev.Header.Type = type;
    ev.Header.ProcessId = pid;
    ev.Header.ThreadId = tid;
    ev.Header.StackId = stack;
    ev.Header.TimeStamp = clock_now += 10;
    return ev;
}

static void alloc_on(ht_sites *s, uint32_t pid, uint32_t tid, uint64_t address, uint64_t size,
                     uint32_t stack)
{
    ht_event ev = heap_event(HT_EVENT_HEAP_ALLOC, pid, tid, stack);
    ev.u.Alloc.Address = address;
    ev.u.Alloc.Size = size;
    assert_int_equal(ht_sites_add(s, &ev), 0);
}

static void alloc(ht_sites *s, uint32_t pid, uint64_t address, uint64_t size, uint32_t stack)
{
    alloc_on(s, pid, pid, address, size, stack);
}

static void release_on(ht_sites *s, uint32_t pid, uint32_t tid, uint64_t address)
{
    ht_event ev = heap_event(HT_EVENT_HEAP_FREE, pid, tid, 0);
    ev.u.Free.Address = address;
    assert_int_equal(ht_sites_add(s, &ev), 0);
}

static void release(ht_sites *s, uint32_t pid, uint64_t address)
{
    release_on(s, pid, pid, address);
}

static void move(ht_sites *s, uint32_t pid, uint64_t from, uint64_t to, uint64_t size,
                 uint32_t stack)
{
    ht_event ev = heap_event(HT_EVENT_HEAP_REALLOC, pid, pid, stack);
    ev.u.Realloc.OldAddress = from;
    ev.u.Realloc.NewAddress = to;
    ev.u.Realloc.NewSize = size;
    assert_int_equal(ht_sites_add(s, &ev), 0);
}

static const ht_site *site_of(const ht_sites_image *im, uint32_t stack)
{
    for (size_t i = 0; i < im->count; i++)
        if (im->sites[i].stack_id == stack)
            return &im->sites[i];
    fail_msg("no site for stack %u", stack);
    return NULL;
}

static void test_leak_groups(void **state)
{
    (void)state;
    ht_sites *s = ht_sites_create(NULL);
    assert_non_null(s);
    alloc(s, 1, 0x1000, 10, 5);
    alloc(s, 1, 0x2000, 20, 5);
    alloc(s, 1, 0x3000, 30, 7);
    alloc(s, 1, 0x4000, 40, 7);
    release(s, 1, 0x4000);
    move(s, 1, 0x2000, 0x5000, 200, 9); /* the block now belongs to the realloc's stack */
    alloc(s, 1, 0, 99, 5);              /* a failed allocation: no block */
    release(s, 1, 0x9999);              /* not live: ignored */
    alloc(s, 2, 0x1000, 1000, 5);       /* the same address in another process */

    ht_sites_image im;
    assert_int_equal(ht_sites_end_image(s, 1, &im), 0);
    assert_int_equal(im.count, 3);
    assert_int_equal(im.sites[0].stack_id, 5);
    assert_int_equal(im.sites[0].allocs, 2);
    assert_int_equal(im.sites[0].leaked_blocks, 1);
    assert_int_equal(im.sites[0].leaked_bytes, 10);
    assert_int_equal(im.sites[1].stack_id, 7);
    assert_int_equal(im.sites[1].leaked_bytes, 30);
    assert_int_equal(im.sites[1].temporary, 1); /* 0x4000: freed right after it came */
    assert_int_equal(im.sites[2].stack_id, 9);
    assert_int_equal(im.sites[2].leaked_bytes, 200);
    /* Peak: 10 + 30 + 200 after the realloc (the four first blocks made 100). */
    assert_int_equal(im.peak_bytes, 240);
    assert_int_equal(im.sites[0].peak_bytes, 10);
    assert_int_equal(im.sites[1].peak_bytes, 30);
    assert_int_equal(im.sites[2].peak_bytes, 200);
    for (size_t i = 0; i < im.count; i++)
        assert_int_equal(im.sites[i].pid, 1);
    free(im.sites);

    /* Ended images are forgotten; the other process is still open. */
    assert_int_equal(ht_sites_end_image(s, 1, &im), 0);
    assert_int_equal(im.count, 0);
    uint32_t pid;
    assert_int_equal(ht_sites_next_open(s, &pid), 1);
    assert_int_equal(pid, 2);
    assert_int_equal(ht_sites_end_image(s, 2, &im), 0);
    assert_int_equal(im.count, 1);
    assert_int_equal(im.sites[0].leaked_bytes, 1000);
    free(im.sites);
    assert_int_equal(ht_sites_next_open(s, &pid), 0);
    ht_sites_destroy(s);
}

static void test_temporaries(void **state)
{
    (void)state;
    ht_sites *s = ht_sites_create(NULL);
    alloc_on(s, 1, 11, 0x100, 8, 1);
    release_on(s, 1, 11, 0x100); /* temporary */
    alloc_on(s, 1, 11, 0x200, 8, 1);
    alloc_on(s, 1, 12, 0x300, 8, 2); /* another thread's allocation does not count */
    release_on(s, 1, 11, 0x200);     /* temporary */
    alloc_on(s, 1, 11, 0x400, 8, 1);
    release_on(s, 1, 12, 0x400);     /* freed by another thread: not temporary */
    alloc_on(s, 1, 12, 0x500, 8, 2);
    alloc_on(s, 1, 12, 0x600, 8, 2);
    release_on(s, 1, 12, 0x500);     /* an allocation in between: not temporary */
    release_on(s, 1, 12, 0x600);     /* the last allocation of thread 12: temporary */
    ht_sites_image im;
    assert_int_equal(ht_sites_end_image(s, 1, &im), 0);
    assert_int_equal(site_of(&im, 1)->allocs, 3);
    assert_int_equal(site_of(&im, 1)->temporary, 2);
    assert_int_equal(site_of(&im, 1)->temporary_bytes, 16);
    assert_int_equal(site_of(&im, 2)->temporary, 1);
    free(im.sites);
    ht_sites_destroy(s);
}

static void test_many_blocks(void **state)
{
    (void)state;
    ht_sites *s = ht_sites_create(NULL);
    for (uint64_t i = 1; i <= 300000; i++)
        alloc(s, 3, i * 16, i % 7 + 1, (uint32_t)(i % 4) + 1);
    for (uint64_t i = 1; i <= 300000; i += 2)
        release(s, 3, i * 16);
    ht_sites_image im;
    assert_int_equal(ht_sites_end_image(s, 3, &im), 0);
    assert_int_equal(im.count, 4);
    uint64_t blocks = 0, bytes = 0, want_bytes = 0;
    for (size_t i = 0; i < im.count; i++) {
        blocks += im.sites[i].leaked_blocks;
        bytes += im.sites[i].leaked_bytes;
    }
    for (uint64_t i = 2; i <= 300000; i += 2)
        want_bytes += i % 7 + 1;
    assert_int_equal(blocks, 150000);
    assert_int_equal(bytes, want_bytes);
    free(im.sites);
    ht_sites_destroy(s);
}

/* ---- random histories against a model that knows every block's life ---- */

#define SLOTS 64
#define STACKS 5
#define MAX_BLOCKS 4096

typedef struct life {
    uint64_t size, born, died; /* died 0: leaked */
    uint64_t born_seq, died_seq; /* the history's heap events that made and ended it */
    uint32_t stack;
} life;

typedef struct history {
    life blocks[MAX_BLOCKS];
    size_t count;
    uint64_t peak_bytes, peak_seq, end_time;
} history;

/* Run a random history through s (pid 1) and record it in h. */
static void random_history(ht_sites *s, history *h, unsigned seed)
{
    srand(seed);
    size_t at[SLOTS]; /* slot -> index in h->blocks + 1, 0 when empty */
    memset(at, 0, sizeof at);
    memset(h, 0, sizeof *h);
    uint64_t live = 0, seq = 0;
    for (int step = 0; step < 3000 && h->count < MAX_BLOCKS - 1; step++) {
        unsigned slot = (unsigned)rand() % SLOTS;
        uint64_t address = 0x10000 + slot * 0x100;
        uint32_t stack = (uint32_t)(rand() % STACKS) + 1;
        uint64_t size = (uint64_t)(rand() % 500) + 1;
        seq++;
        if (!at[slot]) {
            alloc(s, 1, address, size, stack);
            h->blocks[h->count] = (life){size, clock_now, 0, seq, 0, stack};
            at[slot] = ++h->count;
            live += size;
        } else if (rand() % 3) {
            release(s, 1, address);
            h->blocks[at[slot] - 1].died = clock_now;
            h->blocks[at[slot] - 1].died_seq = seq;
            live -= h->blocks[at[slot] - 1].size;
            at[slot] = 0;
        } else { /* move the block to another empty slot, or resize it in place */
            unsigned to = (unsigned)rand() % SLOTS;
            if (at[to] && to != slot) {
                seq--;
                continue;
            }
            move(s, 1, address, 0x10000 + to * 0x100, size, stack);
            life *old = &h->blocks[at[slot] - 1];
            old->died = clock_now;
            old->died_seq = seq;
            live -= old->size;
            at[slot] = 0;
            h->blocks[h->count] = (life){size, clock_now, 0, seq, 0, stack};
            at[to] = ++h->count;
            live += size;
        }
        if (live > h->peak_bytes) {
            h->peak_bytes = live;
            h->peak_seq = seq;
        }
    }
    h->end_time = clock_now;
}

static int model_window(const ht_sites_filter *f, const life *b)
{
    uint64_t d = b->died ? b->died : UINT64_MAX;
    if (b->born >= f->to || d < f->from)
        return -1;
    int born_in = b->born >= f->from, dies_in = d < f->to;
    return born_in ? (dies_in ? HT_AIFI : HT_AIFO) : (dies_in ? HT_AOFI : HT_AOFO);
}

static void check_against_model(const ht_sites_filter *f, unsigned seed)
{
    ht_sites *s = ht_sites_create(f);
    static history h;
    random_history(s, &h, seed);
    ht_sites_image im;
    assert_int_equal(ht_sites_end_image(s, 1, &im), 0);
    assert_int_equal(im.peak_bytes, h.peak_bytes);

    ht_site want[STACKS + 1];
    memset(want, 0, sizeof want);
    for (size_t i = 0; i < h.count; i++) {
        const life *b = &h.blocks[i];
        uint64_t lifetime = (b->died ? b->died : h.end_time) - b->born;
        if (b->size < f->min_size || b->size > f->max_size || lifetime < f->min_lifetime ||
            lifetime > f->max_lifetime)
            continue;
        int type = f->window ? model_window(f, b) : -1;
        if (f->window && type < 0)
            continue;
        ht_site *w = &want[b->stack];
        w->allocs++;
        w->bytes += b->size;
        if (!b->died) {
            w->leaked_blocks++;
            w->leaked_bytes += b->size;
        }
        if (type >= 0) {
            w->window_blocks[type]++;
            w->window_bytes[type] += b->size;
        }
        /* Live at the peak: born at or before the peak's event, dead after it. */
        if (b->born_seq <= h.peak_seq && (!b->died || b->died_seq > h.peak_seq)) {
            w->peak_blocks++;
            w->peak_bytes += b->size;
        }
    }
    uint64_t peak_sum = 0;
    for (size_t i = 0; i < im.count; i++) {
        const ht_site *got = &im.sites[i];
        const ht_site *w = &want[got->stack_id];
        assert_int_equal(got->allocs, w->allocs);
        assert_int_equal(got->bytes, w->bytes);
        assert_int_equal(got->leaked_blocks, w->leaked_blocks);
        assert_int_equal(got->leaked_bytes, w->leaked_bytes);
        assert_int_equal(got->peak_blocks, w->peak_blocks);
        assert_int_equal(got->peak_bytes, w->peak_bytes);
        for (int t = 0; t < HT_WINDOW_TYPES; t++) {
            assert_int_equal(got->window_blocks[t], w->window_blocks[t]);
            assert_int_equal(got->window_bytes[t], w->window_bytes[t]);
        }
        peak_sum += got->peak_bytes;
    }
    if (f->min_size == 0 && f->max_size == UINT64_MAX && f->min_lifetime == 0 &&
        f->max_lifetime == UINT64_MAX && !f->window)
        assert_int_equal(peak_sum, h.peak_bytes);
    free(im.sites);
    ht_sites_destroy(s);
}

static void test_model_unfiltered(void **state)
{
    (void)state;
    ht_sites_filter f = ht_sites_filter_all();
    for (unsigned seed = 1; seed <= 20; seed++)
        check_against_model(&f, seed);
}

static void test_model_filters(void **state)
{
    (void)state;
    for (unsigned seed = 1; seed <= 20; seed++) {
        ht_sites_filter f = ht_sites_filter_all();
        f.min_size = 100;
        f.max_size = 400;
        check_against_model(&f, seed);
        f = ht_sites_filter_all();
        f.min_lifetime = 200;
        f.max_lifetime = 5000;
        check_against_model(&f, seed);
    }
}

static void test_model_windows(void **state)
{
    (void)state;
    for (unsigned seed = 1; seed <= 20; seed++) {
        clock_now = 0;
        ht_sites_filter f = ht_sites_filter_all();
        f.window = 1;
        f.from = 5000 + seed * 100;
        f.to = f.from + 9000;
        check_against_model(&f, seed);
        f.to = f.from + 1; /* --at: what was outstanding at one instant */
        check_against_model(&f, seed);
    }
}

static void test_window_names(void **state)
{
    (void)state;
    assert_string_equal(ht_window_type_name(HT_AIFI), "AIFI");
    assert_string_equal(ht_window_type_name(HT_AOFO), "AOFO");
    assert_string_equal(ht_window_type_name(9), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leak_groups),     cmocka_unit_test(test_temporaries),
        cmocka_unit_test(test_many_blocks),     cmocka_unit_test(test_model_unfiltered),
        cmocka_unit_test(test_model_filters),   cmocka_unit_test(test_model_windows),
        cmocka_unit_test(test_window_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
