/*
 * Writing Protocol Buffers wire format into memory: the few encodings the
 * pprof profile needs (varints, packed repeated varints, length-delimited
 * strings and nested messages). A nested message is written into a buffer of
 * its own and appended whole, since its length comes first.
 */
#ifndef HT_EXPORT_PROTOBUF_H
#define HT_EXPORT_PROTOBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct ht_pb {
    uint8_t *data;
    size_t len, cap;
    int failed; /* memory ran out: the buffer is incomplete */
} ht_pb;

/* An empty buffer. */
void ht_pb_init(ht_pb *b);
void ht_pb_free(ht_pb *b);

/* Empty it, keeping its memory. */
void ht_pb_clear(ht_pb *b);

/* Field field as a varint (wire type 0); int64 values are written as their
 * two's complement, as protobuf does. */
void ht_pb_uint(ht_pb *b, uint32_t field, uint64_t value);

/* Field field as length-delimited bytes (wire type 2): strings, bytes and
 * nested messages (data = the nested buffer's bytes). */
void ht_pb_bytes(ht_pb *b, uint32_t field, const void *data, size_t len);

/* A packed repeated varint field. */
void ht_pb_packed(ht_pb *b, uint32_t field, const uint64_t *values, size_t count);

#endif
