/* Quantities as the commands print and read them: bytes in binary units,
 * sizes given on the command line with an optional unit. */
#ifndef HT_CLI_UNITS_H
#define HT_CLI_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* "512 B", "1.5 KiB", "12.0 MiB" ... into buf; returns buf. */
const char *ht_cli_human_bytes(char *buf, size_t len, double bytes);

/* Parse a size: a whole number with an optional unit, B, K or KiB, M or MiB,
 * G or GiB (powers of 1024). Returns 0, or -1 when it is not such a size. */
int ht_cli_parse_size(const char *s, uint64_t *bytes);

#endif
