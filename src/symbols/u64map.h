/*
 * A multimap from 64-bit keys to 32-bit values, for the symbolizer's tables:
 * the address cache (exact keys) and the string and module tables (keys are
 * hashes, so one key may hold several values that the caller tells apart).
 * Open addressing with linear probing; entries are never removed, the table
 * lives as long as the symbolizer.
 */
#ifndef HT_SYMBOLS_U64MAP_H
#define HT_SYMBOLS_U64MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct ht_u64map_slot {
    uint64_t key;
    uint32_t value; /* UINT32_MAX marks an empty slot */
} ht_u64map_slot;

typedef struct ht_u64map {
    ht_u64map_slot *slots;
    size_t mask; /* capacity - 1 */
    size_t count;
} ht_u64map;

/* An empty map; it allocates nothing until the first add. */
void ht_u64map_init(ht_u64map *m);

/* Free the map's memory; it is empty (and usable) afterwards. */
void ht_u64map_destroy(ht_u64map *m);

/* Add value (anything but UINT32_MAX) under key, beside any values already
 * there. Returns 0, or -1 when memory ran out (the map is unchanged). */
int ht_u64map_add(ht_u64map *m, uint64_t key, uint32_t value);

/* The values under key, one per call: *cursor is 0 for the first call and is
 * advanced by each. Returns 1 with *value set, 0 when there are no more. An
 * add in between invalidates the cursor. */
int ht_u64map_next(const ht_u64map *m, uint64_t key, size_t *cursor, uint32_t *value);

/* A 64-bit hash of bytes, seeded so that several parts can be chained. */
uint64_t ht_hash_bytes(const void *data, size_t len, uint64_t seed);

#endif
