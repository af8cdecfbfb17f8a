/* CRC-32C (Castagnoli), the checksum of chunk headers and bodies. */
#ifndef HT_FORMAT_CRC32C_H
#define HT_FORMAT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC-32C over data; start with crc = 0. Uses the CPU's CRC-32C
 * instruction where there is one. */
uint32_t ht_crc32c(uint32_t crc, const void *data, size_t len);

/* The same with tables only, whatever the CPU: the other way's reference in
 * tests. */
uint32_t ht_crc32c_tables(uint32_t crc, const void *data, size_t len);

/* 1 when ht_crc32c uses the CPU's instruction, 0 when it uses the tables. */
int ht_crc32c_hardware(void);

#endif
