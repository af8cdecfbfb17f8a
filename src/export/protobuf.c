/* Protocol Buffers wire format: see protobuf.h. */
#include "export/protobuf.h"

#include <stdlib.h>
#include <string.h>

void ht_pb_init(ht_pb *b) { memset(b, 0, sizeof *b); }

void ht_pb_free(ht_pb *b)
{
    free(b->data);
    ht_pb_init(b);
}

void ht_pb_clear(ht_pb *b)
{
    b->len = 0;
    b->failed = 0;
}

static int reserve(ht_pb *b, size_t more)
{
    if (b->failed)
        return -1;
    if (b->cap - b->len >= more)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < more) {
        if (cap > SIZE_MAX / 2) {
            b->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

static void varint(ht_pb *b, uint64_t v)
{
    if (reserve(b, 10) < 0)
        return;
    do {
        uint8_t byte = v & 0x7F;
        v >>= 7;
        b->data[b->len++] = byte | (v ? 0x80 : 0);
    } while (v);
}

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >>= 7)
        n++;
    return n;
}

void ht_pb_uint(ht_pb *b, uint32_t field, uint64_t value)
{
    varint(b, (uint64_t)field << 3 | 0);
    varint(b, value);
}

void ht_pb_bytes(ht_pb *b, uint32_t field, const void *data, size_t len)
{
    varint(b, (uint64_t)field << 3 | 2);
    varint(b, len);
    if (len && reserve(b, len) == 0) {
        memcpy(b->data + b->len, data, len);
        b->len += len;
    }
}

void ht_pb_packed(ht_pb *b, uint32_t field, const uint64_t *values, size_t count)
{
    if (!count)
        return;
    size_t len = 0;
    for (size_t i = 0; i < count; i++)
        len += varint_size(values[i]);
    varint(b, (uint64_t)field << 3 | 2);
    varint(b, len);
    for (size_t i = 0; i < count; i++)
        varint(b, values[i]);
}
