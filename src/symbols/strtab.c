/* Interned strings: see strtab.h. */
#include "symbols/strtab.h"

#include <stdlib.h>
#include <string.h>

/* Strings are packed into blocks so that thousands of short names cost
 * one allocation per block, not one each. */
#define BLOCK_BYTES 65536

struct ht_strtab_block {
    ht_strtab_block *next;
    size_t used, size;
    char data[];
};

void ht_strtab_init(ht_strtab *t)
{
    memset(t, 0, sizeof *t);
    ht_u64map_init(&t->index);
}

void ht_strtab_destroy(ht_strtab *t)
{
    while (t->blocks) {
        ht_strtab_block *next = t->blocks->next;
        free(t->blocks);
        t->blocks = next;
    }
    free(t->strings);
    ht_u64map_destroy(&t->index);
    ht_strtab_init(t);
}

static char *store(ht_strtab *t, const char *s, size_t len)
{
    ht_strtab_block *b = t->blocks;
    if (!b || b->size - b->used < len + 1) {
        size_t size = len + 1 > BLOCK_BYTES ? len + 1 : BLOCK_BYTES;
        b = malloc(sizeof *b + size);
        if (!b)
            return NULL;
        b->used = 0;
        b->size = size;
        b->next = t->blocks;
        t->blocks = b;
    }
    char *copy = b->data + b->used;
    memcpy(copy, s, len);
    copy[len] = '\0';
    b->used += len + 1;
    return copy;
}

const char *ht_strtab_intern(ht_strtab *t, const char *s, size_t len)
{
    uint64_t h = ht_hash_bytes(s, len, 0);
    size_t cursor = 0;
    uint32_t i;
    while (ht_u64map_next(&t->index, h, &cursor, &i))
        if (strnlen(t->strings[i], len + 1) == len && memcmp(t->strings[i], s, len) == 0)
            return t->strings[i];
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        const char **strings = realloc(t->strings, cap * sizeof *strings);
        if (!strings)
            return NULL;
        t->strings = strings;
        t->cap = cap;
    }
    /* A string stored but not indexed (out of memory for the map) only
     * costs its bytes, so store first and index after. */
    char *copy = store(t, s, len);
    if (!copy || ht_u64map_add(&t->index, h, (uint32_t)t->count) != 0)
        return NULL;
    t->strings[t->count++] = copy;
    return copy;
}
