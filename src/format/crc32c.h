/* CRC-32C (Castagnoli), the checksum of chunk headers and bodies. */
#ifndef HT_FORMAT_CRC32C_H
#define HT_FORMAT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC-32C over data; start with crc = 0. */
uint32_t ht_crc32c(uint32_t crc, const void *data, size_t len);

#endif
