/* The stack store: definitions found by (pid, id), ids of different
 * processes kept apart, an exec forgetting the old image's ids, many stacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "heaptrail/stacks.h"

static ht_event define(uint32_t pid, uint32_t id, const uint64_t *frames, uint32_t depth)
{
    ht_event ev;
    memset(&ev, 0, sizeof ev);
    ev.Header.Type = HT_EVENT_STACK_DEFINE;
    ev.Header.ProcessId = pid;
    ev.u.StackDefine = (ht_stack_define){id, depth, frames};
    return ev;
}

static ht_event start(uint32_t pid)
{
    ht_event ev;
    memset(&ev, 0, sizeof ev);
    ev.Header.Type = HT_EVENT_PROCESS_START;
    ev.Header.ProcessId = pid;
    return ev;
}

static void test_define_and_get(void **state)
{
    (void)state;
    ht_stacks *s = ht_stacks_create();
    assert_non_null(s);
    uint64_t a[] = {0x401000, 0x402000, 0x403000}, b[] = {0x501000};
    ht_event e1 = define(10, 1, a, 3), e2 = define(11, 1, b, 1);
    assert_int_equal(ht_stacks_add(s, &e1), 0);
    assert_int_equal(ht_stacks_add(s, &e2), 0);
    uint32_t depth = 0;
    const uint64_t *f = ht_stacks_get(s, 10, 1, &depth);
    assert_non_null(f);
    assert_int_equal(depth, 3);
    assert_memory_equal(f, a, sizeof a);
    f = ht_stacks_get(s, 11, 1, &depth);
    assert_non_null(f);
    assert_int_equal(depth, 1);
    assert_int_equal(f[0], 0x501000);
    assert_null(ht_stacks_get(s, 10, 2, &depth));
    assert_null(ht_stacks_get(s, 12, 1, &depth));
    assert_null(ht_stacks_get(s, 10, 0, &depth));
    ht_stacks_destroy(s);
}

static void test_exec_forgets(void **state)
{
    (void)state;
    ht_stacks *s = ht_stacks_create();
    uint64_t a[] = {1, 2}, b[] = {3};
    ht_event s1 = start(20), d1 = define(20, 1, a, 2), other = define(21, 1, b, 1);
    assert_int_equal(ht_stacks_add(s, &s1), 0);
    assert_int_equal(ht_stacks_add(s, &d1), 0);
    assert_int_equal(ht_stacks_add(s, &other), 0);
    uint32_t depth;
    assert_non_null(ht_stacks_get(s, 20, 1, &depth));
    ht_event s2 = start(20); /* exec: a new image, its ids start again */
    assert_int_equal(ht_stacks_add(s, &s2), 0);
    assert_null(ht_stacks_get(s, 20, 1, &depth));
    assert_non_null(ht_stacks_get(s, 21, 1, &depth));
    ht_event d2 = define(20, 1, b, 1);
    assert_int_equal(ht_stacks_add(s, &d2), 0);
    const uint64_t *f = ht_stacks_get(s, 20, 1, &depth);
    assert_non_null(f);
    assert_int_equal(depth, 1);
    assert_int_equal(f[0], 3);
    ht_stacks_destroy(s);
}

static void test_many(void **state)
{
    (void)state;
    ht_stacks *s = ht_stacks_create();
    for (uint32_t id = 1; id <= 100000; id++) {
        uint64_t frames[4] = {id, id * 2, id * 3, id * 4};
        ht_event d = define(7 + id % 3, id, frames, 1 + id % 4);
        assert_int_equal(ht_stacks_add(s, &d), 0);
    }
    for (uint32_t id = 1; id <= 100000; id++) {
        uint32_t depth;
        const uint64_t *f = ht_stacks_get(s, 7 + id % 3, id, &depth);
        assert_non_null(f);
        assert_int_equal(depth, 1 + id % 4);
        assert_int_equal(f[depth - 1], (uint64_t)id * depth);
    }
    ht_stacks_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_define_and_get),
        cmocka_unit_test(test_exec_forgets),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
