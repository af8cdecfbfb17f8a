/* Unit tests of the all-or-nothing output (src/export/output_file.c): a
 * committed file or directory appears under its name, an aborted one leaves
 * nothing, not even its temporary name, and an older file survives an
 * abort. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "export/output_file.h"

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/ht-output-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The names in dir, sorted, separated by spaces. */
static void listing(char *out, size_t len)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        /* Temporary names start with a dot: they are listed too. */
        if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
            strncat(out, names[i]->d_name, len - strlen(out) - 2);
            strcat(out, " ");
        }
        free(names[i]);
    }
    free(names);
}

static void read_file(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    fclose(f);
}

static void test_commit_file(void **state)
{
    (void)state;
    char path[128], err[256], list[256], text[64];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    ht_output_file o;
    assert_int_equal(ht_output_open(&o, path, err, sizeof err), 0);
    fputs("hello", o.fp);
    listing(list, sizeof list);
    assert_string_not_equal(list, "out.txt ");
    assert_int_equal(ht_output_commit(&o, err, sizeof err), 0);
    listing(list, sizeof list);
    assert_string_equal(list, "out.txt ");
    read_file(path, text, sizeof text);
    assert_string_equal(text, "hello");
    unlink(path);
}

static void test_abort_keeps_the_older_file(void **state)
{
    (void)state;
    char path[128], err[256], list[256], text[64];
    snprintf(path, sizeof path, "%s/keep.txt", dir);
    FILE *f = fopen(path, "w");
    fputs("older", f);
    fclose(f);
    ht_output_file o;
    assert_int_equal(ht_output_open(&o, path, err, sizeof err), 0);
    fputs("newer, but never finished", o.fp);
    ht_output_abort(&o);
    listing(list, sizeof list);
    assert_string_equal(list, "keep.txt ");
    read_file(path, text, sizeof text);
    assert_string_equal(text, "older");
    unlink(path);
}

static void test_errors_name_the_path(void **state)
{
    (void)state;
    char path[128], err[256];
    ht_output_file o;
    snprintf(path, sizeof path, "%s/missing/out.txt", dir);
    assert_int_equal(ht_output_open(&o, path, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    /* A directory is not a file name. */
    assert_int_equal(ht_output_open(&o, dir, err, sizeof err), -1);
    assert_non_null(strstr(err, "directory"));
}

static void test_directory(void **state)
{
    (void)state;
    char path[128], err[256], list[256], file[256];
    snprintf(path, sizeof path, "%s/trace.ctf", dir);
    ht_output_file o;
    assert_int_equal(ht_output_open_dir(&o, path, err, sizeof err), 0);
    snprintf(file, sizeof file, "%s/metadata", o.temp_path);
    FILE *f = fopen(file, "w");
    fputs("m", f);
    fclose(f);
    assert_int_equal(ht_output_commit(&o, err, sizeof err), 0);
    snprintf(file, sizeof file, "%s/metadata", path);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    /* A directory that is not empty is not replaced. */
    assert_int_equal(ht_output_open_dir(&o, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "already exists"));
    /* An aborted one leaves nothing. */
    snprintf(path, sizeof path, "%s/other.ctf", dir);
    assert_int_equal(ht_output_open_dir(&o, path, err, sizeof err), 0);
    snprintf(file, sizeof file, "%s/stream_1", o.temp_path);
    f = fopen(file, "w");
    fputs("s", f);
    fclose(f);
    ht_output_abort(&o);
    listing(list, sizeof list);
    assert_string_equal(list, "trace.ctf ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_file),
        cmocka_unit_test(test_abort_keeps_the_older_file),
        cmocka_unit_test(test_errors_name_the_path),
        cmocka_unit_test(test_directory),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
