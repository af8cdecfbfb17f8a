#include "bytes.h"

#include <stdlib.h>

bool ht_buf_grow(ht_buf *b, size_t n)
{
    size_t want = b->cap ? b->cap : 256;
    while (want - b->len < n) {
        if (want > SIZE_MAX / 2)
            return false;
        want *= 2;
    }
    unsigned char *p = realloc(b->data, want);
    if (!p)
        return false;
    b->data = p;
    b->cap = want;
    return true;
}

void ht_buf_free(ht_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

bool ht_buf_append(ht_buf *b, const void *p, size_t n)
{
    if (!ht_buf_reserve(b, n))
        return false;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return true;
}

bool ht_buf_put_u16(ht_buf *b, uint16_t v) { return ht_buf_append(b, &v, 2); }
bool ht_buf_put_u32(ht_buf *b, uint32_t v) { return ht_buf_append(b, &v, 4); }
bool ht_buf_put_u64(ht_buf *b, uint64_t v) { return ht_buf_append(b, &v, 8); }
