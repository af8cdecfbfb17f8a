/* Id map (see idmap.h). */
#include "analysis/idmap.h"

#include <stdlib.h>
#include <string.h>

#define MIN_CAPACITY 16

static inline size_t home_of(uint32_t id, size_t mask)
{
    /* Ids are small and dense; a multiply spreads consecutive ids apart. */
    return (size_t)(((uint64_t)id * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

#define EMPTY UINT64_MAX
#define KEY_BITS 0xFFFFFFFF00000000ull

static inline uint64_t key_of(uint32_t id) { return (uint64_t)id << 32; }

void ht_idmap_init(ht_idmap *m) { memset(m, 0, sizeof *m); }

void ht_idmap_destroy(ht_idmap *m)
{
    free(m->slots);
    ht_idmap_init(m);
}

static int grow(ht_idmap *m)
{
    size_t capacity = m->slots ? (m->mask + 1) * 2 : MIN_CAPACITY;
    uint64_t *slots = malloc(capacity * sizeof *slots);
    if (!slots)
        return -1;
    memset(slots, 0xFF, capacity * sizeof *slots);
    size_t mask = capacity - 1;
    for (size_t i = 0; m->slots && i <= m->mask; i++) {
        uint64_t s = m->slots[i];
        if (s == EMPTY)
            continue;
        size_t j = home_of((uint32_t)(s >> 32), mask);
        while (slots[j] != EMPTY)
            j = (j + 1) & mask;
        slots[j] = s;
    }
    free(m->slots);
    m->slots = slots;
    m->mask = mask;
    return 0;
}

int ht_idmap_put(ht_idmap *m, uint32_t id, uint32_t value)
{
    if (!m->slots || (m->count + 1) * 4 > (m->mask + 1) * 3) {
        if (grow(m) < 0)
            return -1;
    }
    uint64_t key = key_of(id);
    size_t i = home_of(id, m->mask);
    for (;;) {
        uint64_t s = m->slots[i];
        if (s == EMPTY)
            break;
        if ((s & KEY_BITS) == key) {
            m->slots[i] = key | value;
            return 0;
        }
        i = (i + 1) & m->mask;
    }
    m->slots[i] = key | value;
    m->count++;
    return 1;
}

int ht_idmap_get(const ht_idmap *m, uint32_t id, uint32_t *value)
{
    if (!m->slots)
        return 0;
    uint64_t key = key_of(id);
    size_t i = home_of(id, m->mask);
    for (;;) {
        uint64_t s = m->slots[i];
        if (s == EMPTY)
            return 0;
        if ((s & KEY_BITS) == key) {
            *value = (uint32_t)s;
            return 1;
        }
        i = (i + 1) & m->mask;
    }
}
