/* The live-block table (see live.h). */
#include "analysis/live.h"

#include <stdlib.h>
#include <string.h>

#define MIN_CAPACITY 16

/* Fibonacci hashing: block addresses share their low bits (alignment) and
 * their high bits (one mapping), so a multiply that folds every bit into the
 * top ones spreads them where a plain mask would not. */
static inline size_t home_of(const ht_live *t, uint64_t address)
{
    return (size_t)((address * 0x9E3779B97F4A7C15ull) >> t->shift);
}

void ht_live_init(ht_live *t) { memset(t, 0, sizeof *t); }

void ht_live_destroy(ht_live *t)
{
    free(t->keys);
    free(t->blocks);
    ht_live_init(t);
}

/* Move every entry into fresh arrays of capacity slots. Returns 0, or -1
 * with the table unchanged when memory ran out. */
static int resize(ht_live *t, size_t capacity)
{
    uint64_t *keys = calloc(capacity, sizeof *keys);
    ht_live_block *blocks = malloc(capacity * sizeof *blocks);
    if (!keys || !blocks) {
        free(keys);
        free(blocks);
        return -1;
    }
    unsigned shift = 64;
    for (size_t c = capacity; c > 1; c >>= 1)
        shift--;
    uint64_t *old_keys = t->keys;
    ht_live_block *old_blocks = t->blocks;
    size_t old_capacity = ht_live_capacity(t);
    t->keys = keys;
    t->blocks = blocks;
    t->mask = capacity - 1;
    t->shift = shift;
    for (size_t i = 0; i < old_capacity; i++) {
        uint64_t k = old_keys[i];
        if (!k)
            continue;
        size_t j = home_of(t, k);
        while (keys[j])
            j = (j + 1) & t->mask;
        keys[j] = k;
        blocks[j] = old_blocks[i];
    }
    free(old_keys);
    free(old_blocks);
    return 0;
}

int ht_live_insert(ht_live *t, uint64_t address, const ht_live_block *block,
                   ht_live_block *replaced)
{
    if (address == 0) {
        int was = t->has_zero;
        if (was) {
            if (replaced)
                *replaced = t->zero;
            t->bytes -= t->zero.size;
        } else {
            t->count++;
        }
        t->has_zero = 1;
        t->zero = *block;
        t->bytes += block->size;
        return !was;
    }
    size_t slots = t->count - (size_t)t->has_zero;
    if (!t->keys || (slots + 1) * 4 > (t->mask + 1) * 3) {
        size_t capacity = t->keys ? (t->mask + 1) * 2 : MIN_CAPACITY;
        if (resize(t, capacity) < 0)
            return -1;
    }
    size_t i = home_of(t, address);
    for (;;) {
        uint64_t k = t->keys[i];
        if (k == address) {
            if (replaced)
                *replaced = t->blocks[i];
            t->bytes += block->size - t->blocks[i].size;
            t->blocks[i] = *block;
            return 0;
        }
        if (!k)
            break;
        i = (i + 1) & t->mask;
    }
    t->keys[i] = address;
    t->blocks[i] = *block;
    t->count++;
    t->bytes += block->size;
    return 1;
}

static inline size_t slot_of(const ht_live *t, uint64_t address)
{
    size_t i = home_of(t, address);
    for (;;) {
        uint64_t k = t->keys[i];
        if (k == address || !k)
            return i;
        i = (i + 1) & t->mask;
    }
}

const ht_live_block *ht_live_find(const ht_live *t, uint64_t address)
{
    if (address == 0)
        return t->has_zero ? &t->zero : NULL;
    if (!t->keys)
        return NULL;
    size_t i = slot_of(t, address);
    return t->keys[i] ? &t->blocks[i] : NULL;
}

int ht_live_remove(ht_live *t, uint64_t address, ht_live_block *removed)
{
    if (address == 0) {
        if (!t->has_zero)
            return 0;
        if (removed)
            *removed = t->zero;
        t->has_zero = 0;
        t->count--;
        t->bytes -= t->zero.size;
        return 1;
    }
    if (!t->keys)
        return 0;
    size_t i = slot_of(t, address);
    if (!t->keys[i])
        return 0;
    if (removed)
        *removed = t->blocks[i];
    t->bytes -= t->blocks[i].size;
    t->count--;
    /* Backward shift: pull later entries of the probe run into the hole when
     * their home slot is not between the hole and where they sit, so that
     * every lookup still finds its key before the first empty slot. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        uint64_t k = t->keys[j];
        if (!k)
            break;
        size_t home = home_of(t, k);
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->keys[i] = k;
            t->blocks[i] = t->blocks[j];
            i = j;
        }
    }
    t->keys[i] = 0;
    size_t capacity = t->mask + 1;
    size_t slots = t->count - (size_t)t->has_zero;
    if (capacity > MIN_CAPACITY && slots * 8 < capacity)
        (void)resize(t, capacity / 2); /* no memory: keep the larger arrays */
    return 1;
}

int ht_live_next(const ht_live *t, size_t *cursor, uint64_t *address, const ht_live_block **block)
{
    if (*cursor == 0) {
        *cursor = 1;
        if (t->has_zero) {
            *address = 0;
            *block = &t->zero;
            return 1;
        }
    }
    size_t capacity = ht_live_capacity(t);
    for (size_t i = *cursor - 1; i < capacity; i++) {
        if (t->keys[i]) {
            *cursor = i + 2;
            *address = t->keys[i];
            *block = &t->blocks[i];
            return 1;
        }
    }
    *cursor = capacity + 1;
    return 0;
}
