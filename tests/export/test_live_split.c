/* Unit tests of live bytes by process and key (src/export/live_split.c): a
 * block is taken back from the key that made it whatever its free names,
 * reallocations move bytes between keys, an exec empties the process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "export/live_split.h"

static ht_event alloc_ev(uint32_t pid, uint64_t heap, uint64_t address, uint64_t size,
                         uint32_t source)
{
    ht_event e;
    memset(&e, 0, sizeof e);
    e.Header.Type = HT_EVENT_HEAP_ALLOC;
    e.Header.ProcessId = pid;
    e.u.Alloc = (ETW_HEAP_EVENT_ALLOC){heap, size, address, source};
    return e;
}

static ht_event free_ev(uint32_t pid, uint64_t heap, uint64_t address)
{
    ht_event e;
    memset(&e, 0, sizeof e);
    e.Header.Type = HT_EVENT_HEAP_FREE;
    e.Header.ProcessId = pid;
    e.u.Free = (ETW_HEAP_EVENT_FREE){heap, address, MEMORY_FROM_MAINPATH};
    return e;
}

static ht_event realloc_ev(uint32_t pid, uint64_t heap, uint64_t to, uint64_t from,
                           uint64_t size)
{
    ht_event e;
    memset(&e, 0, sizeof e);
    e.Header.Type = HT_EVENT_HEAP_REALLOC;
    e.Header.ProcessId = pid;
    e.u.Realloc = (ETW_HEAP_EVENT_REALLOC){heap, to, from, size, 0, MEMORY_FROM_MAINPATH};
    return e;
}

/* The live bytes c reports for key, or -1 when it does not name key. */
static int64_t live_of(const ht_live_change *c, uint64_t key)
{
    for (size_t i = 0; i < c->count; i++)
        if (c->keys[i] == key)
            return (int64_t)c->live[i];
    return -1;
}

static void test_by_heap(void **state)
{
    (void)state;
    ht_live_split *s = ht_live_split_create(HT_SPLIT_HEAP);
    ht_live_change c;
    ht_event e = alloc_ev(1, 0xA, 0x1000, 100, 1);
    assert_int_equal(ht_live_split_event(s, &e, &c), 0);
    assert_int_equal(c.process_live, 100);
    assert_int_equal(live_of(&c, 0xA), 100);
    e = alloc_ev(1, 0xB, 0x2000, 50, 1);
    ht_live_split_event(s, &e, &c);
    assert_int_equal(c.process_live, 150);
    /* The free names another heap: the block still leaves heap A. */
    e = free_ev(1, 0xB, 0x1000);
    ht_live_split_event(s, &e, &c);
    assert_int_equal(c.process_live, 50);
    assert_int_equal(live_of(&c, 0xA), 0);
    /* Another process is apart. */
    e = alloc_ev(2, 0xA, 0x1000, 7, 1);
    ht_live_split_event(s, &e, &c);
    assert_int_equal(c.process_live, 7);
    assert_int_equal(ht_live_split_process(s, 1), 50);
    /* A reallocation in heap A of heap B's block moves its bytes. */
    e = realloc_ev(1, 0xA, 0x3000, 0x2000, 80);
    ht_live_split_event(s, &e, &c);
    assert_int_equal(c.process_live, 80);
    assert_int_equal(live_of(&c, 0xB), 0);
    assert_int_equal(live_of(&c, 0xA), 80);
    /* Freeing what is not live changes nothing. */
    e = free_ev(1, 0xA, 0x9999);
    ht_live_split_event(s, &e, &c);
    assert_int_equal(c.process_live, 80);
    assert_int_equal(c.count, 0);
    ht_live_split_destroy(s);
}

static int emptied;
static void count_emptied(void *context, uint64_t key) { emptied++; }

static void test_by_source_and_reset(void **state)
{
    (void)state;
    ht_live_split *s = ht_live_split_create(HT_SPLIT_SOURCE);
    ht_live_change c;
    ht_event e = alloc_ev(1, 0xA, 0x1000, 10, MEMORY_FROM_LOOKASIDE);
    ht_live_split_event(s, &e, &c);
    e = alloc_ev(1, 0xA, 0x2000, 20, MEMORY_FROM_SLOWPATH);
    ht_live_split_event(s, &e, &c);
    assert_int_equal(live_of(&c, MEMORY_FROM_SLOWPATH), 20);
    /* An address allocated again without a free replaces the old block. */
    e = alloc_ev(1, 0xA, 0x1000, 5, MEMORY_FROM_SLOWPATH);
    ht_live_split_event(s, &e, &c);
    assert_int_equal(c.process_live, 25);
    assert_int_equal(live_of(&c, MEMORY_FROM_LOOKASIDE), 0);
    assert_int_equal(live_of(&c, MEMORY_FROM_SLOWPATH), 25);
    emptied = 0;
    ht_live_split_reset(s, 1, count_emptied, NULL);
    assert_int_equal(emptied, 1); /* lookaside was already empty */
    assert_int_equal(ht_live_split_process(s, 1), 0);
    e = free_ev(1, 0xA, 0x2000);
    ht_live_split_event(s, &e, &c);
    assert_int_equal(c.count, 0);
    ht_live_split_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_heap),
        cmocka_unit_test(test_by_source_and_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
