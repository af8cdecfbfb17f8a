/* Unit tests of the protobuf wire writer (src/export/protobuf.c), against
 * encodings worked out by hand from the protobuf encoding rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "export/protobuf.h"

static void expect_bytes(const ht_pb *b, const uint8_t *want, size_t len)
{
    assert_int_equal(b->failed, 0);
    assert_int_equal(b->len, len);
    assert_memory_equal(b->data, want, len);
}

static void test_varints(void **state)
{
    (void)state;
    ht_pb b;
    ht_pb_init(&b);
    ht_pb_uint(&b, 1, 150); /* the protobuf documentation's example */
    static const uint8_t a[] = {0x08, 0x96, 0x01};
    expect_bytes(&b, a, sizeof a);
    ht_pb_clear(&b);
    ht_pb_uint(&b, 2, 0);
    ht_pb_uint(&b, 16, 1); /* a field number needing two bytes of tag */
    static const uint8_t c[] = {0x10, 0x00, 0x80, 0x01, 0x01};
    expect_bytes(&b, c, sizeof c);
    ht_pb_clear(&b);
    ht_pb_uint(&b, 1, UINT64_MAX); /* int64 -1: ten bytes */
    static const uint8_t d[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    expect_bytes(&b, d, sizeof d);
    ht_pb_free(&b);
}

static void test_bytes_and_nesting(void **state)
{
    (void)state;
    ht_pb inner, outer;
    ht_pb_init(&inner);
    ht_pb_init(&outer);
    ht_pb_bytes(&inner, 2, "testing", 7);
    static const uint8_t a[] = {0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g'};
    expect_bytes(&inner, a, sizeof a);
    ht_pb_bytes(&outer, 3, inner.data, inner.len);
    static const uint8_t b[] = {0x1a, 0x09, 0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g'};
    expect_bytes(&outer, b, sizeof b);
    ht_pb_clear(&outer);
    ht_pb_bytes(&outer, 6, "", 0); /* an empty string is still written */
    static const uint8_t c[] = {0x32, 0x00};
    expect_bytes(&outer, c, sizeof c);
    ht_pb_free(&inner);
    ht_pb_free(&outer);
}

static void test_packed(void **state)
{
    (void)state;
    ht_pb b;
    ht_pb_init(&b);
    const uint64_t v[] = {3, 270, 86942};
    ht_pb_packed(&b, 4, v, 3);
    static const uint8_t a[] = {0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05};
    expect_bytes(&b, a, sizeof a);
    ht_pb_clear(&b);
    ht_pb_packed(&b, 4, v, 0); /* nothing at all for no values */
    assert_int_equal(b.len, 0);
    ht_pb_free(&b);
}

static void test_growth(void **state)
{
    (void)state;
    ht_pb b;
    ht_pb_init(&b);
    char big[5000];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 100; i++)
        ht_pb_bytes(&b, 1, big, sizeof big);
    /* tag, two length bytes (5000 = 0x88 0x27), the bytes */
    assert_int_equal(b.len, 100 * (1 + 2 + sizeof big));
    assert_int_equal(b.data[1], 0x88);
    assert_int_equal(b.data[2], 0x27);
    ht_pb_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varints),
        cmocka_unit_test(test_bytes_and_nesting),
        cmocka_unit_test(test_packed),
        cmocka_unit_test(test_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
