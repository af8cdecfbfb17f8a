/* The symbolizer's multimap: see u64map.h. */
#include "symbols/u64map.h"

#include <stdlib.h>
#include <string.h>

#define EMPTY UINT32_MAX

/* Keys may be raw module offsets, which share their low bits: mix them so
 * that neighbouring offsets spread over the table. */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void ht_u64map_init(ht_u64map *m)
{
    memset(m, 0, sizeof *m);
}

void ht_u64map_destroy(ht_u64map *m)
{
    free(m->slots);
    ht_u64map_init(m);
}

static void insert(ht_u64map_slot *slots, size_t mask, uint64_t key, uint32_t value)
{
    size_t i = mix(key) & mask;
    while (slots[i].value != EMPTY)
        i = (i + 1) & mask;
    slots[i].key = key;
    slots[i].value = value;
}

static int grow(ht_u64map *m)
{
    size_t cap = m->slots ? (m->mask + 1) * 2 : 64;
    ht_u64map_slot *slots = malloc(cap * sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < cap; i++)
        slots[i].value = EMPTY;
    if (m->slots)
        for (size_t i = 0; i <= m->mask; i++)
            if (m->slots[i].value != EMPTY)
                insert(slots, cap - 1, m->slots[i].key, m->slots[i].value);
    free(m->slots);
    m->slots = slots;
    m->mask = cap - 1;
    return 0;
}

int ht_u64map_add(ht_u64map *m, uint64_t key, uint32_t value)
{
    /* At most half full, so that probe runs stay short. */
    if ((!m->slots || (m->count + 1) * 2 > m->mask + 1) && grow(m) != 0)
        return -1;
    insert(m->slots, m->mask, key, value);
    m->count++;
    return 0;
}

int ht_u64map_next(const ht_u64map *m, uint64_t key, size_t *cursor, uint32_t *value)
{
    if (!m->slots)
        return 0;
    size_t start = mix(key) & m->mask;
    for (size_t n = *cursor; n <= m->mask; n++) {
        const ht_u64map_slot *slot = &m->slots[(start + n) & m->mask];
        if (slot->value == EMPTY)
            return 0;
        if (slot->key == key) {
            *cursor = n + 1;
            *value = slot->value;
            return 1;
        }
    }
    return 0;
}

uint64_t ht_hash_bytes(const void *data, size_t len, uint64_t seed)
{
    /* FNV-1a over the bytes, then mixed: cheap, and good enough for
     * paths and build-ids. */
    const unsigned char *p = data;
    uint64_t h = seed ^ 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return mix(h ^ len);
}
