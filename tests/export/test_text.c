/* Unit tests of the text the exports write (src/export/svg.c,
 * src/export/json_text.c): any trace string stays well-formed XML and valid
 * JSON, and figures read well. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "export/json_text.h"
#include "export/svg.h"

/* What writer wrote for s, as a string (freed by the caller). */
static char *written(void (*writer)(FILE *, const char *, size_t), const char *s, size_t len)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    writer(f, s, len);
    fclose(f);
    return buf;
}

static void expect(void (*writer)(FILE *, const char *, size_t), const char *s, size_t len,
                   const char *want)
{
    char *got = written(writer, s, len);
    assert_string_equal(got, want);
    free(got);
}

static void test_svg_escape(void **state)
{
    (void)state;
    expect(ht_svg_escape, "a<b>&\"c'", 8, "a&lt;b&gt;&amp;&quot;c&#39;");
    /* A NUL and a control character, then invalid UTF-8: U+FFFD each. */
    expect(ht_svg_escape, "x\0y\x01", 4, "x\xEF\xBF\xBDy\xEF\xBF\xBD");
    expect(ht_svg_escape, "\xC3(", 2, "\xEF\xBF\xBD(");
    /* Valid UTF-8 passes: é, and an overlong form that does not. */
    expect(ht_svg_escape, "\xC3\xA9", 2, "\xC3\xA9");
    expect(ht_svg_escape, "\xE0\x80\xAF", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

static void test_json_string(void **state)
{
    (void)state;
    expect(ht_export_json_string, "say \"hi\"\\\n", 10, "\"say \\\"hi\\\"\\\\\\n\"");
    expect(ht_export_json_string, "\x01\xff", 2, "\"\\u0001\\u00ff\"");
    expect(ht_export_json_string, "\xC3\xA9t\xC3\xA9", 5, "\"\xC3\xA9t\xC3\xA9\"");
    expect(ht_export_json_chars, "a\tb", 3, "a\\tb");
}

static void test_units(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(ht_svg_bytes(0, buf, sizeof buf), "0 B");
    assert_string_equal(ht_svg_bytes(1023, buf, sizeof buf), "1023 B");
    assert_string_equal(ht_svg_bytes(1536, buf, sizeof buf), "1.50 KiB");
    assert_string_equal(ht_svg_bytes(20 * 1024 * 1024, buf, sizeof buf), "20.0 MiB");
    assert_string_equal(ht_svg_bytes(UINT64_MAX, buf, sizeof buf), "16.0 EiB");
    assert_string_equal(ht_svg_duration(250, buf, sizeof buf), "250 ns");
    assert_string_equal(ht_svg_duration(1500000, buf, sizeof buf), "1.5 ms");
    assert_string_equal(ht_svg_duration(12000000000ULL, buf, sizeof buf), "12 s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_svg_escape),
        cmocka_unit_test(test_json_string),
        cmocka_unit_test(test_units),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
