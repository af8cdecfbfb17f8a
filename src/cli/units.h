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

/* Parse a size: a whole number with an optional unit, B, K or KiB, M or MiB,
 * G or GiB (powers of 1024). Returns 0, or -1 when it is not such a size. */
int ht_cli_parse_size(const char *s, uint64_t *bytes);

#endif
