/* Growable byte buffers and bounded cursors: the building blocks of encoding
 * (append varints, strings, fixed little-endian integers) and of decoding
 * untrusted bytes (every read checks the end). */
#ifndef HT_FORMAT_BYTES_H
#define HT_FORMAT_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct ht_buf {
    unsigned char *data;
    size_t len;
    size_t cap;
} ht_buf;

/* Grow to make room for n more bytes; false when memory is exhausted. */
bool ht_buf_grow(ht_buf *b, size_t n);

/* Make room for n more bytes; false when memory is exhausted. */
static inline bool ht_buf_reserve(ht_buf *b, size_t n)
{
    return b->cap - b->len >= n || ht_buf_grow(b, n);
}
void ht_buf_free(ht_buf *b);
bool ht_buf_append(ht_buf *b, const void *p, size_t n);
bool ht_buf_put_u16(ht_buf *b, uint16_t v);
bool ht_buf_put_u32(ht_buf *b, uint32_t v);
bool ht_buf_put_u64(ht_buf *b, uint64_t v);

/* Unsigned LEB128. The caller has reserved 10 bytes. */
/* Write v as a varint at p, which has room for it; returns the byte after
 * it. */
static inline unsigned char *ht_put_varint_at(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

static inline void ht_buf_put_varint_unchecked(ht_buf *b, uint64_t v)
{
    b->len = (size_t)(ht_put_varint_at(b->data + b->len, v) - b->data);
}

static inline bool ht_buf_put_varint(ht_buf *b, uint64_t v)
{
    if (!ht_buf_reserve(b, 10))
        return false;
    ht_buf_put_varint_unchecked(b, v);
    return true;
}

static inline uint64_t ht_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63)); }
static inline int64_t ht_unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* A read cursor over untrusted bytes. Reads past the end set ok = false and
 * return zeroes, so a decoder checks ok once per unit of work. */
typedef struct ht_cursor {
    const unsigned char *p;
    const unsigned char *end;
    bool ok;
} ht_cursor;

static inline ht_cursor ht_cursor_make(const void *p, size_t n)
{
    /* An empty span may come as a null pointer, which takes no arithmetic. */
    const unsigned char *b = p;
    ht_cursor c = {b, n ? b + n : b, true};
    return c;
}

static inline uint64_t ht_get_varint(ht_cursor *c)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (c->p >= c->end) {
            c->ok = false;
            return 0;
        }
        unsigned char byte = *c->p++;
        v |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80))
            return v;
    }
    c->ok = false; /* more than ten bytes: not a varint we write */
    return 0;
}

static inline const unsigned char *ht_get_bytes(ht_cursor *c, size_t n)
{
    if ((size_t)(c->end - c->p) < n) {
        c->ok = false;
        c->p = c->end;
        return NULL;
    }
    const unsigned char *r = c->p;
    c->p += n;
    return r;
}

static inline uint8_t ht_get_u8(ht_cursor *c)
{
    const unsigned char *p = ht_get_bytes(c, 1);
    return p ? p[0] : 0;
}

static inline uint16_t ht_get_u16(ht_cursor *c)
{
    const unsigned char *p = ht_get_bytes(c, 2);
    return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

static inline uint32_t ht_get_u32(ht_cursor *c)
{
    const unsigned char *p = ht_get_bytes(c, 4);
    uint32_t v = 0;
    if (p)
        memcpy(&v, p, 4);
    return v;
}

static inline uint64_t ht_get_u64(ht_cursor *c)
{
    const unsigned char *p = ht_get_bytes(c, 8);
    uint64_t v = 0;
    if (p)
        memcpy(&v, p, 8);
    return v;
}

/* Little-endian loads and stores of fixed-size fields. */
static inline void ht_store_u16(unsigned char *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void ht_store_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void ht_store_u64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint16_t ht_load_u16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t ht_load_u32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t ht_load_u64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

#endif
