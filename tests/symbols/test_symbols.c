/*
 * Symbolization of the test process's own return addresses: in the
 * executable, in a linked shared library, in a dlopen'ed one, through an
 * inlined function, and in C++ (demangled). The modules are registered as
 * the recorder's MODULE_LOAD events describe them (self_modules.c).
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../programs/own_frame.h"
#include "heaptrail/symbols.h"
#include "self_modules.h"
#include "symlibs.h"

#define PID 4242

static const char *base_name(const char *path)
{
    const char *slash = path ? strrchr(path, '/') : NULL;
    return slash ? slash + 1 : path;
}

static int setup(void **state)
{
    ht_symbolizer *s = ht_symbolizer_create(NULL);
    if (!s)
        return -1;
    self_modules_register(s, PID);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    ht_symbolizer_destroy(*state);
    return 0;
}

/* Resolve the last probe call's return address and check the frame of its
 * caller. Returns how many frames came back (in frames). */
static size_t resolve_probe(ht_symbolizer *s, ht_frame *frames, size_t max)
{
    size_t n = ht_symbolizer_resolve(s, PID, probe_return_address, 1, frames, max);
    assert_true(n >= 1);
    return n;
}

static void assert_frame(const ht_frame *f, const char *function, const char *file, int line,
                         int inlined)
{
    assert_non_null(f->function);
    assert_string_equal(f->function, function);
    assert_non_null(f->file);
    assert_string_equal(base_name(f->file), file);
    assert_int_equal(f->line, line);
    assert_int_equal(f->inlined, inlined);
    assert_int_equal(f->flags, 0);
}

OWN_FRAME static int exe_function(int x, int *line)
{
    int r = (*line = __LINE__, probe(x));
    return r * 13 + 5;
}

static void test_executable(void **state)
{
    int line = 0;
    assert_int_equal(exe_function(1, &line), 2 * 13 + 5);
    ht_frame f[4];
    assert_int_equal(resolve_probe(*state, f, 4), 1);
    assert_frame(&f[0], "exe_function", "test_symbols.c", line, 0);
    self_module exe;
    assert_true(self_module_containing((void *)(uintptr_t)probe_return_address, &exe));
    assert_string_equal(f[0].module, exe.path);
    assert_int_equal(f[0].module_offset, probe_return_address - exe.base);
}

static void test_shared_library(void **state)
{
    int line = 0;
    sym_shared_function(probe, 1, &line);
    ht_frame f[4];
    assert_int_equal(resolve_probe(*state, f, 4), 1);
    assert_frame(&f[0], "sym_shared_function", "lib_shared.c", line, 0);
    assert_string_equal(base_name(f[0].module), "libsym_shared.so");
}

/* Load the library at path, call its function, tell the symbolizer of the
 * library as the recorder would (it was loaded after setup), and check the
 * probe's frame: the function, its file and line, the module. */
static void check_loaded_library(ht_symbolizer *symbolizer, const char *path, const char *function,
                                 const char *module_suffix, const char *file)
{
    void *lib = dlopen(path, RTLD_NOW);
    assert_non_null(lib);
    sym_dlopen_function_fn fn;
    *(void **)&fn = dlsym(lib, function);
    assert_non_null(fn);
    int line = 0;
    fn(probe, 1, &line);
    self_module m;
    assert_true(self_module_find(module_suffix, &m));
    self_module_register_as(symbolizer, PID, &m, NULL);
    ht_frame f[4];
    assert_int_equal(resolve_probe(symbolizer, f, 4), 1);
    assert_frame(&f[0], function, file, line, 0);
    assert_string_equal(f[0].module, m.path);
    dlclose(lib);
}

static void test_dlopen_library(void **state)
{
    check_loaded_library(*state, SYM_DLOPEN_PATH, "sym_dlopen_function", "/libsym_dlopen.so",
                         "lib_dlopen.c");
}

/* A library without .debug_aranges (clang's default): libdw places none of
 * its addresses in a unit, the symbolizer's own index of the units does. */
static void test_library_without_aranges(void **state)
{
    check_loaded_library(*state, SYM_NOARANGES_PATH, "sym_noaranges_function",
                         "/libsym_noaranges.so", "lib_noaranges.c");
}

/* Forced inline into inline_host: the probe's return address lies in
 * inline_host's code, at a line of this function. */
static inline __attribute__((always_inline)) int inlined_helper(int x, int *line)
{
    int r = (*line = __LINE__, probe(x));
    return r * 17 + 1;
}

OWN_FRAME static int inline_host(int x, int *inner_line, int *outer_line)
{
    int r = (*outer_line = __LINE__, inlined_helper(x, inner_line));
    return r + 19;
}

static void test_inlined_frame(void **state)
{
    int inner = 0, outer = 0;
    /* The result is used: a compiler without noipa (clang) would otherwise
     * drop the work after the call and make it a tail call. */
    assert_int_equal(inline_host(1, &inner, &outer), (1 + 1) * 17 + 1 + 19);
    ht_frame f[4];
    assert_int_equal(resolve_probe(*state, f, 4), 2);
    assert_frame(&f[0], "inlined_helper", "test_symbols.c", inner, 1);
    assert_frame(&f[1], "inline_host", "test_symbols.c", outer, 0);
    assert_ptr_equal(f[0].module, f[1].module);
    assert_int_equal(f[0].module_offset, f[1].module_offset);

    /* Room for one frame: the innermost one. */
    ht_frame one;
    assert_int_equal(ht_symbolizer_resolve(*state, PID, probe_return_address, 1, &one, 1), 1);
    assert_string_equal(one.function, "inlined_helper");
    assert_int_equal(ht_symbolizer_resolve(*state, PID, probe_return_address, 1, &one, 0), 0);
}

static void test_cxx_demangled(void **state)
{
    int line = 0;
    sym_cxx_entry(probe, 1, &line);
    ht_frame f[4];
    assert_int_equal(resolve_probe(*state, f, 4), 1);
    assert_frame(&f[0], "ht_demo::Widget::grow(int (*)(int), int, int*)", "lib_cxx.cpp", line, 0);
}

/* The innermost frame is a PC, not a return address: looked up as is. */
static void test_program_counter(void **state)
{
    uint64_t pc = (uint64_t)(uintptr_t)&exe_function;
    ht_frame f[4];
    assert_int_equal(ht_symbolizer_resolve(*state, PID, pc, 0, f, 4), 1);
    assert_non_null(f[0].function);
    assert_string_equal(f[0].function, "exe_function");
    assert_string_equal(base_name(f[0].file), "test_symbols.c");
    /* As a return address it would be the byte before: another function. */
    assert_int_equal(ht_symbolizer_resolve(*state, PID, pc, 1, f, 4) >= 1, 1);
    assert_true(!f[0].function || strcmp(f[0].function, "exe_function") != 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_executable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_library, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dlopen_library, setup, teardown),
        cmocka_unit_test_setup_teardown(test_library_without_aranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inlined_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cxx_demangled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_program_counter, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
