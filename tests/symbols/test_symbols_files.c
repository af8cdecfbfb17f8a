/*
 * Where the symbolizer finds its files, and what it does without them:
 * separate debug info by build-id under a --debug-dir and by debuglink,
 * the --sysroot prefix, the symbol table without DWARF, a build-id that
 * does not match, and missing, unreadable or corrupt files. The address is
 * always one in libsym_split.so, loaded in this process; only the files the
 * symbolizer is pointed at change.
 */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "heaptrail/symbols.h"
#include "self_modules.h"
#include "symlibs.h"

#define PID 77

/* A temporary directory per test, removed afterwards. */
static char tmp[256];
static self_module split; /* libsym_split.so as loaded */
static int split_line;    /* the line of its probe call */

static int unlink_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    if (!base || !*base || strlen(base) > 128)
        base = "/tmp";
    snprintf(tmp, sizeof tmp, "%s/ht-symbols-XXXXXX", base);
    if (!mkdtemp(tmp))
        return -1;
    sym_split_function(probe, 1, &split_line);
    return self_module_find("/libsym_split.so", &split) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(tmp, unlink_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* mkdir -p of the directory part of path. */
static void make_parents(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
}

/* Copy from to to (first limit bytes of it), creating to's directories. */
static void copy_file(const char *from, const char *to, size_t limit)
{
    make_parents(to);
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n, total = 0;
    while (total < limit && (n = fread(buf, 1, sizeof buf, in)) > 0) {
        n = n < limit - total ? n : limit - total;
        assert_int_equal(fwrite(buf, 1, n, out), n);
        total += n;
    }
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static void write_file(const char *path, const void *data, size_t len)
{
    make_parents(path);
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(data, 1, len, out), len);
    assert_int_equal(fclose(out), 0);
}

/* ROOT/.build-id/xx/rest.debug for libsym_split.so. */
static void build_id_path(char *out, size_t size, const char *root)
{
    char hex[129];
    for (size_t i = 0; i < split.build_id_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", split.build_id[i]);
    snprintf(out, size, "%s/.build-id/%.2s/%s.debug", root, hex, hex + 2);
}

/* A symbolizer told that PID has libsym_split.so at path (with the given
 * build-id), and the frames of the probe call's return address in it. */
static size_t resolve_split(const ht_symbolizer_options *options, const char *path,
                            const unsigned char *build_id, size_t build_id_len, ht_frame *f,
                            ht_symbolizer_stats *stats)
{
    ht_symbolizer *s = ht_symbolizer_create(options);
    assert_non_null(s);
    assert_int_equal(ht_symbolizer_add_module(s, PID, split.base, split.size, path, strlen(path),
                                              build_id, build_id_len),
                     0);
    size_t n = ht_symbolizer_resolve(s, PID, probe_return_address, 1, f, 4);
    assert_true(n >= 1);
    ht_symbolizer_get_stats(s, stats);
    /* Frames outlive nothing but the symbolizer: copy what the tests read. */
    static char function[256], file[4096], module[4096];
    snprintf(function, sizeof function, "%s", f[0].function ? f[0].function : "");
    snprintf(file, sizeof file, "%s", f[0].file ? f[0].file : "");
    snprintf(module, sizeof module, "%s", f[0].module ? f[0].module : "");
    f[0].function = f[0].function ? function : NULL;
    f[0].file = f[0].file ? file : NULL;
    f[0].module = f[0].module ? module : NULL;
    ht_symbolizer_destroy(s);
    return n;
}

static void assert_full(const ht_frame *f, const char *module)
{
    assert_non_null(f->function);
    assert_string_equal(f->function, "sym_split_function");
    assert_non_null(f->file);
    assert_string_equal(strrchr(f->file, '/') + 1, "lib_split.c");
    assert_int_equal(f->line, split_line);
    assert_int_equal(f->flags, 0);
    assert_string_equal(f->module, module);
    assert_int_equal(f->module_offset, probe_return_address - split.base);
}

/* Just module+offset, with the reason in the flags. */
static void assert_bare(const ht_frame *f, const char *module, uint32_t flags)
{
    assert_null(f->function);
    assert_null(f->file);
    assert_int_equal(f->line, 0);
    assert_int_equal(f->inlined, 0);
    assert_string_equal(f->module, module);
    assert_int_equal(f->module_offset, probe_return_address - split.base);
    assert_int_equal(f->flags, flags);
}

static void test_own_dwarf(void **state)
{
    (void)state;
    ht_frame f[4];
    ht_symbolizer_stats st;
    assert_int_equal(resolve_split(NULL, split.path, split.build_id, split.build_id_len, f, &st), 1);
    assert_full(&f[0], split.path);
    assert_int_equal(st.modules_opened, 1);
    assert_int_equal(st.modules_without_dwarf, 0);
}

/* Stripped of DWARF, nothing to find: the symbol table names the function. */
static void test_symbol_table_only(void **state)
{
    (void)state;
    char lib[4096];
    snprintf(lib, sizeof lib, "%s/lib/libsym_split.so", tmp);
    copy_file(SYM_SPLIT_STRIPPED, lib, SIZE_MAX);
    ht_frame f[4];
    ht_symbolizer_stats st;
    assert_int_equal(resolve_split(NULL, lib, split.build_id, split.build_id_len, f, &st), 1);
    assert_non_null(f[0].function);
    assert_string_equal(f[0].function, "sym_split_function");
    assert_null(f[0].file);
    assert_int_equal(f[0].line, 0);
    assert_int_equal(f[0].flags, HT_FRAME_NO_DEBUG_INFO);
    assert_int_equal(st.modules_without_dwarf, 1);
}

/* --debug-dir D with D/.build-id/xx/rest.debug. */
static void test_debug_dir_build_id(void **state)
{
    (void)state;
    char lib[4096], root[4096], debug[4096];
    snprintf(lib, sizeof lib, "%s/lib/libsym_split.so", tmp);
    snprintf(root, sizeof root, "%s/debug", tmp);
    build_id_path(debug, sizeof debug, root);
    copy_file(SYM_SPLIT_STRIPPED, lib, SIZE_MAX);
    copy_file(SYM_SPLIT_DEBUG, debug, SIZE_MAX);
    const char *dirs[] = {"/nonexistent-debug-root", root};
    ht_symbolizer_options opt = {.debug_dirs = dirs, .debug_dir_count = 2};
    ht_frame f[4];
    ht_symbolizer_stats st;
    assert_int_equal(resolve_split(&opt, lib, split.build_id, split.build_id_len, f, &st), 1);
    assert_full(&f[0], lib);
}

/* The debug file named by .gnu_debuglink, beside the module and in .debug/. */
static void test_debuglink(void **state)
{
    (void)state;
    static const char *const layouts[] = {"%s/%s/libsym_split.so.debug",
                                          "%s/%s/.debug/libsym_split.so.debug"};
    for (size_t i = 0; i < 2; i++) {
        char lib[4096], debug[4096], dir[16];
        snprintf(dir, sizeof dir, "layout%zu", i);
        snprintf(lib, sizeof lib, "%s/%s/libsym_split.so", tmp, dir);
        snprintf(debug, sizeof debug, layouts[i], tmp, dir);
        copy_file(SYM_SPLIT_STRIPPED, lib, SIZE_MAX);
        copy_file(SYM_SPLIT_DEBUG, debug, SIZE_MAX);
        ht_frame f[4];
        ht_symbolizer_stats st;
        assert_int_equal(resolve_split(NULL, lib, split.build_id, split.build_id_len, f, &st), 1);
        assert_full(&f[0], lib);
    }
}

/* A debuglink target of another build is refused (build-ids differ). */
static void test_debuglink_wrong_build(void **state)
{
    (void)state;
    char lib[4096], debug[4096];
    snprintf(lib, sizeof lib, "%s/lib/libsym_split.so", tmp);
    snprintf(debug, sizeof debug, "%s/lib/libsym_split.so.debug", tmp);
    copy_file(SYM_SPLIT_STRIPPED, lib, SIZE_MAX);
    copy_file(SYM_SHARED_PATH, debug, SIZE_MAX);
    ht_frame f[4];
    ht_symbolizer_stats st;
    assert_int_equal(resolve_split(NULL, lib, split.build_id, split.build_id_len, f, &st), 1);
    assert_null(f[0].file);
    assert_int_equal(f[0].flags, HT_FRAME_NO_DEBUG_INFO);
}

/* --sysroot: the recorded path is looked up under it, and so is the
 * recording machine's /usr/lib/debug. */
static void test_sysroot(void **state)
{
    (void)state;
    const char *recorded = "/opt/ht-elsewhere/libsym_split.so";
    char lib[4096], root[4096], debug[4096];
    snprintf(lib, sizeof lib, "%s%s", tmp, recorded);
    copy_file(SYM_SPLIT_PATH, lib, SIZE_MAX);
    ht_symbolizer_options opt = {.sysroot = tmp};
    ht_frame f[4];
    ht_symbolizer_stats st;
    assert_int_equal(resolve_split(&opt, recorded, split.build_id, split.build_id_len, f, &st), 1);
    assert_full(&f[0], recorded);

    assert_int_equal(resolve_split(NULL, recorded, split.build_id, split.build_id_len, f, &st), 1);
    assert_bare(&f[0], recorded, HT_FRAME_MODULE_MISSING);

    copy_file(SYM_SPLIT_STRIPPED, lib, SIZE_MAX);
    snprintf(root, sizeof root, "%s/usr/lib/debug", tmp);
    build_id_path(debug, sizeof debug, root);
    copy_file(SYM_SPLIT_DEBUG, debug, SIZE_MAX);
    assert_int_equal(resolve_split(&opt, recorded, split.build_id, split.build_id_len, f, &st), 1);
    assert_full(&f[0], recorded);
}

/* The file at the path is another build: not trusted, module+offset. */
static void test_build_id_mismatch(void **state)
{
    (void)state;
    unsigned char wrong[64];
    memcpy(wrong, split.build_id, split.build_id_len);
    wrong[0] ^= 0xff;
    ht_frame f[4];
    ht_symbolizer_stats st;
    assert_int_equal(resolve_split(NULL, split.path, wrong, split.build_id_len, f, &st), 1);
    assert_bare(&f[0], split.path, HT_FRAME_BUILD_ID_MISMATCH);
    assert_int_equal(st.modules_mismatched, 1);
    assert_int_equal(st.modules_opened, 0);
}

/* The file at the path is another build, but the right one is found by
 * its build-id under a debug root: that one is used. */
static void test_mismatch_found_by_build_id(void **state)
{
    (void)state;
    char root[4096], debug[4096];
    snprintf(root, sizeof root, "%s/debug", tmp);
    build_id_path(debug, sizeof debug, root);
    copy_file(SYM_SPLIT_DEBUG, debug, SIZE_MAX);
    const char *dirs[] = {root};
    ht_symbolizer_options opt = {.debug_dirs = dirs, .debug_dir_count = 1};
    ht_frame f[4];
    ht_symbolizer_stats st;
    assert_int_equal(
        resolve_split(&opt, SYM_SHARED_PATH, split.build_id, split.build_id_len, f, &st), 1);
    assert_full(&f[0], SYM_SHARED_PATH);
    assert_int_equal(st.modules_mismatched, 1);
    assert_int_equal(st.modules_opened, 1);
}

static void test_missing_file(void **state)
{
    (void)state;
    const char *path = "/nonexistent/dir/libsym_split.so";
    ht_frame f[4];
    ht_symbolizer_stats st;
    assert_int_equal(resolve_split(NULL, path, split.build_id, split.build_id_len, f, &st), 1);
    assert_bare(&f[0], path, HT_FRAME_MODULE_MISSING);
    assert_int_equal(st.modules_missing, 1);

    /* Not a path at all (the vDSO's name), and no build-id to go by. */
    assert_int_equal(resolve_split(NULL, "linux-vdso.so.1", NULL, 0, f, &st), 1);
    assert_bare(&f[0], "linux-vdso.so.1", HT_FRAME_MODULE_MISSING);
}

/* Damaged files, given without a build-id so that nothing stops the
 * symbolizer from reading them: whatever they hold, a frame comes back
 * with the module and its offset, and nothing crashes. */
static void test_corrupt_files(void **state)
{
    (void)state;
    struct stat st_lib;
    assert_int_equal(stat(SYM_SPLIT_PATH, &st_lib), 0);
    size_t size = (size_t)st_lib.st_size;
    char path[4096];
    ht_frame f[4];
    ht_symbolizer_stats st;

    const size_t cuts[] = {0, 4, 64, 200, size / 3, size / 2, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        snprintf(path, sizeof path, "%s/truncated%zu.so", tmp, i);
        copy_file(SYM_SPLIT_PATH, path, cuts[i]);
        assert_int_equal(resolve_split(NULL, path, NULL, 0, f, &st) >= 1, 1);
        assert_string_equal(f[0].module, path);
        assert_int_equal(f[0].module_offset, probe_return_address - split.base);
    }

    snprintf(path, sizeof path, "%s/text.so", tmp);
    write_file(path, "this is not an ELF file\n", 24);
    assert_int_equal(resolve_split(NULL, path, NULL, 0, f, &st), 1);
    assert_bare(&f[0], path, HT_FRAME_MODULE_MISSING);

    /* The whole file with every byte past the ELF header scrambled in
     * turn from each eighth: program headers, code, DWARF, section headers. */
    char *bytes = malloc(size);
    assert_non_null(bytes);
    FILE *in = fopen(SYM_SPLIT_PATH, "rb");
    assert_non_null(in);
    assert_int_equal(fread(bytes, 1, size, in), size);
    fclose(in);
    for (size_t part = 0; part < 8; part++) {
        char *copy = malloc(size);
        assert_non_null(copy);
        memcpy(copy, bytes, size);
        for (size_t k = 64 + part * size / 8; k < size; k += 3)
            copy[k] = (char)(copy[k] * 31 + 7);
        snprintf(path, sizeof path, "%s/scrambled%zu.so", tmp, part);
        write_file(path, copy, size);
        free(copy);
        assert_int_equal(resolve_split(NULL, path, NULL, 0, f, &st) >= 1, 1);
        assert_string_equal(f[0].module, path);
    }
    free(bytes);

    /* A directory, a device that would block, an unreadable file. */
    const char *odd[] = {tmp, "/dev/zero", "/proc/self/mem"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        assert_int_equal(resolve_split(NULL, odd[i], NULL, 0, f, &st), 1);
        assert_bare(&f[0], odd[i], HT_FRAME_MODULE_MISSING);
    }
    snprintf(path, sizeof path, "%s/unreadable.so", tmp);
    copy_file(SYM_SPLIT_PATH, path, SIZE_MAX);
    chmod(path, 0);
    if (access(path, R_OK) != 0) { /* root reads it anyway */
        assert_int_equal(resolve_split(NULL, path, NULL, 0, f, &st), 1);
        assert_bare(&f[0], path, HT_FRAME_MODULE_MISSING);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_own_dwarf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symbol_table_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_debug_dir_build_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_debuglink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_debuglink_wrong_build, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sysroot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_id_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mismatch_found_by_build_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
