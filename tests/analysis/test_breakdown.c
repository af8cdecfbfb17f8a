/* Breakdowns: histogram buckets at their edges, rows per thread, Source and
 * heap kept apart by process, thread names, size and time filters, and many
 * rows (the index grows). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "analysis/breakdown.h"

static ht_event heap_event(uint16_t type, uint32_t pid, uint32_t tid, uint64_t time)
{
    ht_event ev;
    memset(&ev, 0, sizeof ev);
    ev.Header.Type = type;
    ev.Header.ProcessId = pid;
    ev.Header.ThreadId = tid;
    ev.Header.TimeStamp = time;
    return ev;
}

static void alloc(ht_breakdown *b, uint32_t pid, uint32_t tid, uint64_t heap, uint64_t size,
                  uint32_t source, uint64_t time)
{
    ht_event ev = heap_event(HT_EVENT_HEAP_ALLOC, pid, tid, time);
    ev.u.Alloc = (ETW_HEAP_EVENT_ALLOC){heap, size, 0x1000, source};
    assert_int_equal(ht_breakdown_add(b, &ev), 0);
}

static void release(ht_breakdown *b, uint32_t pid, uint32_t tid, uint64_t heap, uint64_t time)
{
    ht_event ev = heap_event(HT_EVENT_HEAP_FREE, pid, tid, time);
    ev.u.Free.HeapHandle = heap;
    ev.u.Free.Address = 0x1000;
    assert_int_equal(ht_breakdown_add(b, &ev), 0);
}

static void test_buckets(void **state)
{
    (void)state;
    assert_int_equal(ht_breakdown_bucket(0), 0);
    assert_int_equal(ht_breakdown_bucket(1), 1);
    assert_int_equal(ht_breakdown_bucket(2), 2);
    assert_int_equal(ht_breakdown_bucket(3), 2);
    assert_int_equal(ht_breakdown_bucket(4), 3);
    assert_int_equal(ht_breakdown_bucket(1023), 10);
    assert_int_equal(ht_breakdown_bucket(1024), 11);
    assert_int_equal(ht_breakdown_bucket(UINT64_MAX), 64);
    for (unsigned k = 1; k < HT_BREAKDOWN_BUCKETS; k++) {
        assert_int_equal(ht_breakdown_bucket(ht_breakdown_bucket_min(k)), k);
        assert_int_equal(ht_breakdown_bucket(ht_breakdown_bucket_min(k) - 1), k - 1);
    }
}

static void test_rows(void **state)
{
    (void)state;
    ht_breakdown b;
    ht_breakdown_init(&b, NULL);
    alloc(&b, 1, 10, 0xA, 100, MEMORY_FROM_MAINPATH, 1);
    alloc(&b, 1, 10, 0xA, 28, MEMORY_FROM_MAINPATH, 2);
    alloc(&b, 1, 11, 0xB, 5000, MEMORY_FROM_SLOWPATH, 3);
    alloc(&b, 2, 10, 0xA, 7, 99, 4); /* same tid and heap in another process; odd Source */
    release(&b, 1, 11, 0xA, 5);
    ht_event name = heap_event(HT_EVENT_THREAD_NAME, 1, 11, 6);
    name.u.ThreadName.Name = (ht_str){"worker-with-a-long-name", 23};
    assert_int_equal(ht_breakdown_add(&b, &name), 0);

    assert_int_equal(b.nthreads, 3);
    assert_int_equal(b.threads[0].ops.allocs, 2);
    assert_int_equal(b.threads[0].ops.bytes, 128);
    assert_int_equal(b.threads[1].ops.frees, 1);
    assert_string_equal(b.threads[1].name, "worker-with-a-l"); /* cut to fit */
    assert_int_equal(b.threads[2].pid, 2);
    assert_int_equal(b.nheaps, 3);
    assert_int_equal(b.heaps[0].heap, 0xA);
    assert_int_equal(b.heaps[0].ops.allocs, 2);
    assert_int_equal(b.heaps[0].ops.frees, 1);
    assert_int_equal(b.heaps[2].pid, 2);
    assert_int_equal(b.sources[MEMORY_FROM_MAINPATH].allocs, 2);
    assert_int_equal(b.sources[MEMORY_FROM_SLOWPATH].bytes, 5000);
    assert_int_equal(b.sources[HT_BREAKDOWN_SOURCES - 1].allocs, 1);
    assert_int_equal(b.histogram[ht_breakdown_bucket(100)].allocs, 1);
    assert_int_equal(b.histogram[ht_breakdown_bucket(28)].bytes, 28);
    ht_breakdown_destroy(&b);
}

static void test_filter(void **state)
{
    (void)state;
    ht_breakdown_filter f = {16, 1024, 100, 200};
    ht_breakdown b;
    ht_breakdown_init(&b, &f);
    alloc(&b, 1, 1, 0xA, 8, 1, 150);     /* too small */
    alloc(&b, 1, 1, 0xA, 2048, 1, 150);  /* too large */
    alloc(&b, 1, 1, 0xA, 64, 1, 99);     /* before */
    alloc(&b, 1, 1, 0xA, 64, 1, 200);    /* after: the window is [from, to) */
    alloc(&b, 1, 1, 0xA, 64, 1, 100);    /* counted */
    release(&b, 1, 1, 0xA, 150);         /* counted: frees have no size */
    release(&b, 1, 1, 0xA, 250);
    assert_int_equal(b.sources[1].allocs, 1);
    assert_int_equal(b.nthreads, 1);
    assert_int_equal(b.threads[0].ops.frees, 1);
    ht_breakdown_destroy(&b);
}

static void test_many_rows(void **state)
{
    (void)state;
    ht_breakdown b;
    ht_breakdown_init(&b, NULL);
    for (uint32_t i = 0; i < 5000; i++)
        alloc(&b, i % 7, i, 0x1000 + (i % 300), 16, 2, i);
    for (uint32_t i = 0; i < 5000; i++)
        alloc(&b, i % 7, i, 0x1000 + (i % 300), 16, 2, i);
    assert_int_equal(b.nthreads, 5000);
    for (size_t i = 0; i < b.nthreads; i++)
        assert_int_equal(b.threads[i].ops.allocs, 2);
    /* (pid, heap) pairs: i % 7 and i % 300 repeat together every 2100. */
    assert_int_equal(b.nheaps, 2100);
    ht_breakdown_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_many_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
