/* Quantities as the commands print and read them: bytes in binary units,
 * counts, durations, and sizes given on the command line with a unit. */
#ifndef HT_CLI_UNITS_H
#define HT_CLI_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* "512 B", "1.5 KiB", "12.0 MiB" ... into buf; returns buf. */
const char *ht_cli_bytes(char *buf, size_t len, uint64_t bytes);

/* A count with thousands separators, "1,234,567", into buf; returns buf. */
const char *ht_cli_count(char *buf, size_t len, uint64_t count);

/* A duration in nanoseconds as "250 ns", "1.5 us", "3.2 ms", "1.25 s". */
const char *ht_cli_duration(char *buf, size_t len, double ns);

/* Parse a size: a whole number with an optional unit, K, M or G (powers of
 * 1024, either case) followed by nothing, B or iB, or just B. Returns 0, or
 * -1 when it is not such a size. */
int ht_cli_parse_size(const char *s, uint64_t *bytes);

/* Parse a whole decimal number (no sign) of at most 32 bits / of a size_t:
 * process and thread ids, counts. Returns 0, or -1 when it is not one. */
int ht_cli_parse_u32(const char *s, uint32_t *out);
int ht_cli_parse_count(const char *s, size_t *out);

#endif
