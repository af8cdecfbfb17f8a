/* Unit tests of the flame graph's tree (src/export/frame_tree.c): stacks
 * with the same names merge, totals and self weights add up, children sort
 * by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "export/frame_tree.h"

/* The child of parent named name, or 0. */
static uint32_t child(const ht_frame_tree *t, uint32_t parent, const char *name)
{
    for (uint32_t c = t->nodes[parent].first_child; c; c = t->nodes[c].next_sibling)
        if (strcmp(t->nodes[c].name, name) == 0)
            return c;
    return 0;
}

static void test_merge(void **state)
{
    (void)state;
    ht_frame_tree t;
    assert_int_equal(ht_frame_tree_init(&t), 0);
    const char *a[] = {"prog", "main", "parse", "malloc_site"};
    const char *b[] = {"prog", "main", "parse"};
    const char *c[] = {"prog", "main", "emit"};
    char copy[] = "main"; /* equal names in other memory merge too */
    const char *d[] = {"prog", copy, "emit"};
    assert_int_equal(ht_frame_tree_add(&t, a, 4, 10), 0);
    assert_int_equal(ht_frame_tree_add(&t, b, 3, 5), 0);
    assert_int_equal(ht_frame_tree_add(&t, c, 3, 7), 0);
    assert_int_equal(ht_frame_tree_add(&t, d, 3, 1), 0);
    assert_int_equal(t.count, 6); /* all, prog, main, parse, malloc_site, emit */
    assert_int_equal(t.nodes[0].total, 23);
    uint32_t prog = child(&t, 0, "prog"), main_ = child(&t, prog, "main");
    uint32_t parse = child(&t, main_, "parse"), emit = child(&t, main_, "emit");
    assert_true(prog && main_ && parse && emit);
    assert_int_equal(t.nodes[main_].total, 23);
    assert_int_equal(t.nodes[main_].self, 0);
    assert_int_equal(t.nodes[parse].total, 15);
    assert_int_equal(t.nodes[parse].self, 5);
    assert_int_equal(t.nodes[emit].total, 8);
    assert_int_equal(t.nodes[emit].self, 8);
    assert_int_equal(t.nodes[parse].depth, 3);
    assert_int_equal(t.nodes[parse].parent, main_);
    ht_frame_tree_destroy(&t);
}

static void test_sort(void **state)
{
    (void)state;
    ht_frame_tree t;
    assert_int_equal(ht_frame_tree_init(&t), 0);
    const char *names[] = {"zeta", "alpha", "mu", "beta"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(ht_frame_tree_add(&t, &names[i], 1, 1), 0);
    assert_int_equal(ht_frame_tree_sort(&t), 0);
    const char *want[] = {"alpha", "beta", "mu", "zeta"};
    int i = 0;
    for (uint32_t c = t.nodes[0].first_child; c; c = t.nodes[c].next_sibling)
        assert_string_equal(t.nodes[c].name, want[i++]);
    assert_int_equal(i, 4);
    ht_frame_tree_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
