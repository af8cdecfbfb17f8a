/* Leak accounting: blocks grouped by stack when an image ends, reallocs
 * moving a block to their own stack, processes kept apart, many blocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis/leaks.h"

static ht_event heap_event(uint16_t type, uint32_t pid, uint32_t stack)
{
    ht_event ev;
    memset(&ev, 0, sizeof ev);
    ev.Header.Type = type;
    ev.Header.ProcessId = pid;
    ev.Header.StackId = stack;
    return ev;
}

static void alloc(ht_leaks *l, uint32_t pid, uint64_t address, uint64_t size, uint32_t stack)
{
    ht_event ev = heap_event(HT_EVENT_HEAP_ALLOC, pid, stack);
    ev.u.Alloc.Address = address;
    ev.u.Alloc.Size = size;
    assert_int_equal(ht_leaks_add(l, &ev), 0);
}

static void release(ht_leaks *l, uint32_t pid, uint64_t address)
{
    ht_event ev = heap_event(HT_EVENT_HEAP_FREE, pid, 0);
    ev.u.Free.Address = address;
    assert_int_equal(ht_leaks_add(l, &ev), 0);
}

static void move(ht_leaks *l, uint32_t pid, uint64_t from, uint64_t to, uint64_t size,
                 uint32_t stack)
{
    ht_event ev = heap_event(HT_EVENT_HEAP_REALLOC, pid, stack);
    ev.u.Realloc.OldAddress = from;
    ev.u.Realloc.NewAddress = to;
    ev.u.Realloc.NewSize = size;
    assert_int_equal(ht_leaks_add(l, &ev), 0);
}

static void test_groups(void **state)
{
    (void)state;
    ht_leaks *l = ht_leaks_create();
    assert_non_null(l);
    alloc(l, 1, 0x1000, 10, 5);
    alloc(l, 1, 0x2000, 20, 5);
    alloc(l, 1, 0x3000, 30, 7);
    alloc(l, 1, 0x4000, 40, 7);
    release(l, 1, 0x4000);
    move(l, 1, 0x2000, 0x5000, 200, 9); /* the block now belongs to the realloc's stack */
    alloc(l, 1, 0, 99, 5);              /* a failed allocation: no block */
    release(l, 1, 0x9999);              /* not live: ignored */
    alloc(l, 2, 0x1000, 1000, 5);       /* the same address in another process */

    ht_leak_group *g;
    size_t n;
    assert_int_equal(ht_leaks_end_image(l, 1, &g, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(g[0].stack_id, 5);
    assert_int_equal(g[0].blocks, 1);
    assert_int_equal(g[0].bytes, 10);
    assert_int_equal(g[1].stack_id, 7);
    assert_int_equal(g[1].bytes, 30);
    assert_int_equal(g[2].stack_id, 9);
    assert_int_equal(g[2].bytes, 200);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(g[i].pid, 1);
    free(g);

    /* Ended images are forgotten; the other process is still open. */
    assert_int_equal(ht_leaks_end_image(l, 1, &g, &n), 0);
    assert_int_equal(n, 0);
    uint32_t pid;
    assert_int_equal(ht_leaks_next_open(l, &pid), 1);
    assert_int_equal(pid, 2);
    assert_int_equal(ht_leaks_end_image(l, 2, &g, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(g[0].bytes, 1000);
    free(g);
    assert_int_equal(ht_leaks_next_open(l, &pid), 0);
    ht_leaks_destroy(l);
}

static void test_many_blocks(void **state)
{
    (void)state;
    ht_leaks *l = ht_leaks_create();
    for (uint64_t i = 1; i <= 300000; i++)
        alloc(l, 3, i * 16, i % 7 + 1, (uint32_t)(i % 4) + 1);
    for (uint64_t i = 1; i <= 300000; i += 2)
        release(l, 3, i * 16);
    ht_leak_group *g;
    size_t n;
    assert_int_equal(ht_leaks_end_image(l, 3, &g, &n), 0);
    assert_int_equal(n, 2); /* even i left: stacks i % 4 + 1 = 1 and 3 */
    uint64_t blocks = 0, bytes = 0, want_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        blocks += g[i].blocks;
        bytes += g[i].bytes;
    }
    for (uint64_t i = 2; i <= 300000; i += 2)
        want_bytes += i % 7 + 1;
    assert_int_equal(blocks, 150000);
    assert_int_equal(bytes, want_bytes);
    free(g);
    ht_leaks_destroy(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_many_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
