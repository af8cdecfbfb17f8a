/*
 * The symbolizer's bookkeeping: modules per process (load, unload, fork,
 * exec), addresses outside every module or outside every symbol, the lazy
 * opening of files and the address cache.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "heaptrail/symbols.h"
#include "self_modules.h"
#include "symlibs.h"

#define PARENT 500
#define CHILD 501

static self_module split;
static int split_line;

static int setup(void **state)
{
    sym_split_function(probe, 1, &split_line);
    if (!self_module_find("/libsym_split.so", &split))
        return -1;
    ht_symbolizer *s = ht_symbolizer_create(NULL);
    if (!s)
        return -1;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    ht_symbolizer_destroy(*state);
    return 0;
}

/* Whether pid's probe return address resolves to sym_split_function. */
static int resolves(ht_symbolizer *s, uint32_t pid)
{
    ht_frame f;
    assert_int_equal(ht_symbolizer_resolve(s, pid, probe_return_address, 1, &f, 1), 1);
    if (!f.module) {
        assert_null(f.function);
        assert_int_equal(f.module_offset, probe_return_address);
        return 0;
    }
    assert_string_equal(f.function, "sym_split_function");
    assert_int_equal(f.line, split_line);
    return 1;
}

static void test_lazy_and_cached(void **state)
{
    ht_symbolizer *s = *state;
    size_t n = self_modules_register(s, PARENT);
    assert_true(n >= 3);
    ht_symbolizer_stats st;
    ht_symbolizer_get_stats(s, &st);
    assert_int_equal(st.modules_opened, 0); /* nothing opened before a lookup */

    ht_frame first, again;
    assert_int_equal(ht_symbolizer_resolve(s, PARENT, probe_return_address, 1, &first, 1), 1);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(ht_symbolizer_resolve(s, PARENT, probe_return_address, 1, &again, 1), 1);
    /* The same strings: resolved once, served from the cache. */
    assert_ptr_equal(first.function, again.function);
    assert_ptr_equal(first.file, again.file);
    assert_ptr_equal(first.module, again.module);
    ht_symbolizer_get_stats(s, &st);
    assert_int_equal(st.lookups, 1001);
    assert_int_equal(st.addresses_resolved, 1);
    assert_true(st.modules_opened >= 1 && st.modules_opened < n);

    /* Another process with the same file shares its module and cache. */
    ht_symbolizer_stats before = st;
    self_module_register_as(s, CHILD, &split, NULL);
    assert_true(resolves(s, CHILD));
    ht_symbolizer_get_stats(s, &st);
    assert_int_equal(st.modules_opened, before.modules_opened);
    assert_int_equal(st.addresses_resolved, 1);
}

static void test_fork_inherits(void **state)
{
    ht_symbolizer *s = *state;
    self_modules_register(s, PARENT);
    assert_false(resolves(s, CHILD));
    assert_int_equal(ht_symbolizer_inherit(s, PARENT, CHILD), 0);
    assert_true(resolves(s, CHILD));

    /* The child unloads the library (dlclose): the parent keeps it. */
    ht_symbolizer_remove_module(s, CHILD, split.base);
    assert_false(resolves(s, CHILD));
    assert_true(resolves(s, PARENT));

    /* Inheriting again keeps the child's own modules at the same base. */
    assert_int_equal(ht_symbolizer_add_module(s, CHILD, split.base, split.size, "/nope/x.so", 10,
                                              NULL, 0),
                     0);
    assert_int_equal(ht_symbolizer_inherit(s, PARENT, CHILD), 0);
    ht_frame f;
    assert_int_equal(ht_symbolizer_resolve(s, CHILD, probe_return_address, 1, &f, 1), 1);
    assert_string_equal(f.module, "/nope/x.so");
    assert_int_equal(f.flags, HT_FRAME_MODULE_MISSING);

    /* exec: the process starts over. */
    ht_symbolizer_remove_process(s, PARENT);
    assert_false(resolves(s, PARENT));
    /* Unknown processes are no error. */
    assert_int_equal(ht_symbolizer_inherit(s, 999, 1000), 0);
    ht_symbolizer_remove_module(s, 999, 0x1000);
    ht_symbolizer_remove_process(s, 999);
    assert_false(resolves(s, 1000));
}

/* A module at a base already used in the process replaces the old one
 * (an unload the recorder did not see). */
static void test_replace_at_same_base(void **state)
{
    ht_symbolizer *s = *state;
    assert_int_equal(ht_symbolizer_add_module(s, PARENT, split.base, split.size, "/old.so", 7,
                                              NULL, 0),
                     0);
    self_module_register_as(s, PARENT, &split, NULL);
    assert_true(resolves(s, PARENT));
}

/* Unload by the address of the lowest segment, as well as by load bias:
 * libsym_shared.so starts at a nonzero vaddr (built with -Ttext-segment),
 * as fixed-address executables do, so the two differ. */
static void test_unload_by_start(void **state)
{
    ht_symbolizer *s = *state;
    self_module shared;
    assert_true(self_module_find("/libsym_shared.so", &shared));
    assert_true(shared.lo != 0);
    int line;
    sym_shared_function(probe, 1, &line);
    for (int by_start = 0; by_start < 2; by_start++) {
        self_module_register_as(s, PARENT, &shared, NULL);
        ht_frame f;
        assert_int_equal(ht_symbolizer_resolve(s, PARENT, probe_return_address, 1, &f, 1), 1);
        assert_string_equal(f.function, "sym_shared_function");
        assert_int_equal(f.line, line);
        assert_int_equal(f.module_offset, probe_return_address - shared.base);
        ht_symbolizer_remove_module(s, PARENT, by_start ? shared.base + shared.lo : shared.base);
        assert_int_equal(ht_symbolizer_resolve(s, PARENT, probe_return_address, 1, &f, 1), 1);
        assert_null(f.module);
    }
}

static void test_outside(void **state)
{
    ht_symbolizer *s = *state;
    self_modules_register(s, PARENT);
    ht_frame f[2];

    /* In no module: the address alone. */
    uint64_t nowhere = 0x10;
    assert_int_equal(ht_symbolizer_resolve(s, PARENT, nowhere, 1, f, 2), 1);
    assert_null(f[0].module);
    assert_null(f[0].function);
    assert_int_equal(f[0].module_offset, nowhere);

    /* In a module but in no function (its ELF header): module+offset. */
    uint64_t header = split.base + split.lo + 16;
    assert_int_equal(ht_symbolizer_resolve(s, PARENT, header, 0, f, 2), 1);
    assert_string_equal(f[0].module, split.path);
    assert_int_equal(f[0].module_offset, split.lo + 16);
    assert_null(f[0].function);
    assert_null(f[0].file);
    assert_int_equal(f[0].line, 0);

    /* Just past the module's end. */
    uint64_t past = split.base + split.lo + split.size;
    assert_int_equal(ht_symbolizer_resolve(s, PARENT, past, 0, f, 2), 1);
    assert_true(f[0].module == NULL || strcmp(f[0].module, split.path) != 0);
}

/* Paths need not be NUL-terminated, and may hold odd bytes. */
static void test_path_bytes(void **state)
{
    ht_symbolizer *s = *state;
    char path[4200];
    size_t len = strlen(split.path);
    memcpy(path, split.path, len);
    memcpy(path + len, "XYZ", 3); /* beyond path_len: ignored */
    assert_int_equal(ht_symbolizer_add_module(s, PARENT, split.base, split.size, path, len,
                                              split.build_id, split.build_id_len),
                     0);
    assert_true(resolves(s, PARENT));
    assert_int_equal(ht_symbolizer_add_module(s, CHILD, split.base, split.size, "a\0b", 3, NULL,
                                              0),
                     0);
    ht_frame f;
    assert_int_equal(ht_symbolizer_resolve(s, CHILD, probe_return_address, 1, &f, 1), 1);
    assert_int_equal(f.flags, HT_FRAME_MODULE_MISSING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lazy_and_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_inherits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_at_same_base, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unload_by_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_bytes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
