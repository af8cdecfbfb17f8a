/* CRC-32C: the published check value, and the CPU's instruction agreeing
 * with the tables on every length, alignment and split of the input (the
 * trace files of one host must check on any other). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "format/crc32c.h"

/* The check value of the CRC catalogue ("123456789"), and RFC 3720's
 * examples (iSCSI uses CRC-32C): 32 bytes of zeros, of 0xFF, and 0..31. */
static void test_known_values(void **state)
{
    (void)state;
    unsigned char buf[32];
    assert_int_equal(ht_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(ht_crc32c_tables(0, "123456789", 9), 0xE3069283u);
    for (int i = 0; i < 32; i++)
        buf[i] = 0;
    assert_int_equal(ht_crc32c(0, buf, 32), 0x8A9136AAu);
    for (int i = 0; i < 32; i++)
        buf[i] = 0xFF;
    assert_int_equal(ht_crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)i;
    assert_int_equal(ht_crc32c(0, buf, 32), 0x46DD794Eu);
    assert_int_equal(ht_crc32c(0, buf, 0), 0);
}

/* Every length from 0 to 300 at every offset within 8 bytes, whole and in
 * two pieces at every split: the same value both ways. */
static void test_same_as_tables(void **state)
{
    (void)state;
    static unsigned char buf[320];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (unsigned char)x;
    }
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len + off <= 300; len++) {
            uint32_t want = ht_crc32c_tables(0, buf + off, len);
            assert_int_equal(ht_crc32c(0, buf + off, len), want);
            for (size_t split = 0; split <= len; split += 7) {
                uint32_t c = ht_crc32c(0, buf + off, split);
                assert_int_equal(ht_crc32c(c, buf + off + split, len - split), want);
            }
        }
    print_message("CRC-32C by %s\n", ht_crc32c_hardware() ? "the CPU's instruction" : "tables");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_same_as_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
