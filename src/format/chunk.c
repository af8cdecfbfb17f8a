#include "chunk.h"

#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "crc32c.h"

/* Layout of the 64-byte chunk header (offsets in bytes). */
enum {
    OFF_MAGIC = 0,
    OFF_KIND = 4,
    OFF_COMPRESSION = 6,
    OFF_SEQ = 8,
    OFF_PID = 16,
    OFF_COUNT = 20,
    OFF_TS_FIRST = 24,
    OFF_TS_LAST = 32,
    OFF_BODY_SIZE = 40,
    OFF_RAW_SIZE = 44,
    OFF_BODY_CRC = 48,
    OFF_HEADER_CRC = 60,
};

void ht_chunk_header_pack(const ht_chunk_header *h, unsigned char out[HT_CHUNK_HEADER_SIZE])
{
    memset(out, 0, HT_CHUNK_HEADER_SIZE);
    ht_store_u32(out + OFF_MAGIC, HT_CHUNK_MAGIC);
    ht_store_u16(out + OFF_KIND, h->kind);
    ht_store_u16(out + OFF_COMPRESSION, h->compression);
    ht_store_u64(out + OFF_SEQ, h->seq);
    ht_store_u32(out + OFF_PID, h->pid);
    ht_store_u32(out + OFF_COUNT, h->event_count);
    ht_store_u64(out + OFF_TS_FIRST, h->ts_first);
    ht_store_u64(out + OFF_TS_LAST, h->ts_last);
    ht_store_u32(out + OFF_BODY_SIZE, h->body_size);
    ht_store_u32(out + OFF_RAW_SIZE, h->raw_size);
    ht_store_u32(out + OFF_BODY_CRC, h->body_crc);
    ht_store_u32(out + OFF_HEADER_CRC, ht_crc32c(0, out, OFF_HEADER_CRC));
}

bool ht_chunk_header_unpack(const unsigned char in[HT_CHUNK_HEADER_SIZE], ht_chunk_header *h,
                            char *why, unsigned whylen)
{
    if (ht_load_u32(in + OFF_MAGIC) != HT_CHUNK_MAGIC) {
        snprintf(why, whylen, "no chunk header here (bad magic)");
        return false;
    }
    if (ht_load_u32(in + OFF_HEADER_CRC) != ht_crc32c(0, in, OFF_HEADER_CRC)) {
        snprintf(why, whylen, "chunk header checksum mismatch");
        return false;
    }
    h->kind = ht_load_u16(in + OFF_KIND);
    h->compression = ht_load_u16(in + OFF_COMPRESSION);
    h->seq = ht_load_u64(in + OFF_SEQ);
    h->pid = ht_load_u32(in + OFF_PID);
    h->event_count = ht_load_u32(in + OFF_COUNT);
    h->ts_first = ht_load_u64(in + OFF_TS_FIRST);
    h->ts_last = ht_load_u64(in + OFF_TS_LAST);
    h->body_size = ht_load_u32(in + OFF_BODY_SIZE);
    h->raw_size = ht_load_u32(in + OFF_RAW_SIZE);
    h->body_crc = ht_load_u32(in + OFF_BODY_CRC);
    if (h->body_size > HT_CHUNK_MAX_BODY || h->raw_size > HT_CHUNK_MAX_RAW) {
        snprintf(why, whylen, "impossible chunk size (body %u, raw %u bytes)", h->body_size,
                 h->raw_size);
        return false;
    }
    if (h->compression != HT_COMPRESS_NONE && h->compression != HT_COMPRESS_ZSTD) {
        snprintf(why, whylen, "unknown compression %u", h->compression);
        return false;
    }
    if (h->compression == HT_COMPRESS_NONE && h->raw_size != h->body_size) {
        snprintf(why, whylen, "uncompressed chunk with raw size %u != body size %u", h->raw_size,
                 h->body_size);
        return false;
    }
    /* Every event takes at least two bytes (tag and time), so a count beyond
     * that is a lie that would make a consumer loop on nothing. */
    if (h->event_count > h->raw_size / 2 + 1) {
        snprintf(why, whylen, "impossible event count %u for %u bytes", h->event_count, h->raw_size);
        return false;
    }
    return true;
}
