/* Unit tests of the stack catalog (src/export/stack_catalog.c): images
 * begin at process starts (an exec is a new image, what comes before the
 * first start belongs to it), each stack is resolved once per image, and
 * equal frames share an id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "export/stack_catalog.h"

static const char *const names[] = {"alloc_here", "caller", "main"};
static unsigned resolved; /* calls of the resolver */

/* Stack id k resolves to k frames: names[0..k-1], innermost first; the
 * strings are the same pointers every time, as a symbolizer's are. */
static size_t fake_resolve(void *context, uint32_t pid, uint32_t stack_id, ht_frame *out,
                           size_t max)
{
    resolved++;
    size_t n = stack_id < 3 ? stack_id : 3;
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = (ht_frame){names[i], "prog.c", (uint32_t)(10 * (i + 1)), "/bin/prog",
                            0x100 * (i + 1), 0, 0};
    return n;
}

static ht_event start(uint32_t pid, const char *exe)
{
    ht_event e;
    memset(&e, 0, sizeof e);
    e.Header.Type = HT_EVENT_PROCESS_START;
    e.Header.ProcessId = pid;
    e.u.ProcessStart.Executable = (ht_str){exe, (uint32_t)strlen(exe)};
    return e;
}

static void test_images(void **state)
{
    (void)state;
    ht_stack_catalog *c = ht_stack_catalog_create(fake_resolve, NULL);
    assert_non_null(c);
    /* An event of pid 7 before its start: the start adopts its image. */
    uint32_t first = ht_stack_catalog_image(c, 7);
    ht_event e = start(7, "/bin/sh");
    assert_int_equal(ht_stack_catalog_event(c, &e), 0);
    assert_int_equal(ht_stack_catalog_image(c, 7), first);
    assert_string_equal(ht_stack_catalog_image_executable(c, first), "/bin/sh");
    assert_int_equal(ht_stack_catalog_image_exec(c, first), 0);
    /* A second start is an exec: a new image. */
    e = start(7, "/bin/prog");
    ht_stack_catalog_event(c, &e);
    uint32_t second = ht_stack_catalog_image(c, 7);
    assert_int_not_equal(second, first);
    assert_int_equal(ht_stack_catalog_image_pid(c, second), 7);
    assert_int_equal(ht_stack_catalog_image_exec(c, second), 1);
    assert_string_equal(ht_stack_catalog_image_executable(c, second), "/bin/prog");
    /* Another process has its own image. */
    e = start(8, "/bin/prog");
    ht_stack_catalog_event(c, &e);
    assert_int_not_equal(ht_stack_catalog_image(c, 8), second);
    ht_stack_catalog_destroy(c);
}

static void test_stacks(void **state)
{
    (void)state;
    ht_stack_catalog *c = ht_stack_catalog_create(fake_resolve, NULL);
    resolved = 0;
    uint32_t a, b, again, none;
    assert_int_equal(ht_stack_catalog_get(c, 7, 3, &a), 0);
    assert_int_equal(ht_stack_catalog_get(c, 7, 2, &b), 0);
    assert_int_equal(ht_stack_catalog_get(c, 7, 3, &again), 0);
    assert_int_equal(again, a);
    assert_int_equal(resolved, 2); /* once per stack */
    uint32_t na, nb;
    const uint32_t *fa = ht_stack_catalog_frames(c, a, &na);
    const uint32_t *fb = ht_stack_catalog_frames(c, b, &nb);
    assert_int_equal(na, 3);
    assert_int_equal(nb, 2);
    /* The frames both stacks have share their ids. */
    assert_int_equal(fa[0], fb[0]);
    assert_int_equal(fa[1], fb[1]);
    assert_int_equal(ht_stack_catalog_frame_count(c), 3);
    assert_string_equal(ht_stack_catalog_frame(c, fa[2])->function, "main");
    assert_int_equal(ht_stack_catalog_stack_id(c, a), 3);
    /* No stack recorded: an index without frames, not resolved. */
    assert_int_equal(ht_stack_catalog_get(c, 7, 0, &none), 0);
    ht_stack_catalog_frames(c, none, &na);
    assert_int_equal(na, 0);
    assert_int_equal(resolved, 2);
    /* After an exec the same stack id is another stack. */
    ht_event e = start(7, "/bin/sh");
    ht_stack_catalog_event(c, &e);
    e = start(7, "/bin/prog");
    ht_stack_catalog_event(c, &e);
    assert_int_equal(ht_stack_catalog_get(c, 7, 3, &again), 0);
    assert_int_not_equal(again, a);
    assert_int_equal(ht_stack_catalog_count(c), 4);
    ht_stack_catalog_destroy(c);
}

static void test_frame_names(void **state)
{
    (void)state;
    char buf[64];
    ht_frame named = {"f", NULL, 0, "/lib/libx.so", 0x10, 0, 0};
    ht_frame in_module = {NULL, NULL, 0, "/lib/libx.so", 0x10, 0, 0};
    ht_frame bare = {NULL, NULL, 0, NULL, 0x7f00, 0, 0};
    assert_string_equal(ht_stack_catalog_frame_name(&named, buf, sizeof buf), "f");
    assert_string_equal(ht_stack_catalog_frame_name(&in_module, buf, sizeof buf), "libx.so+0x10");
    assert_string_equal(ht_stack_catalog_frame_name(&bare, buf, sizeof buf), "0x7f00");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_images),
        cmocka_unit_test(test_stacks),
        cmocka_unit_test(test_frame_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
