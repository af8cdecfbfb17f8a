/*
 * The live-block table: address -> what is known about a block that was
 * allocated and not yet freed.
 *
 * Every consumer that follows allocations over time needs it: the recorder's
 * collector (to fill REALLOC's OldSize), stats (live bytes, peaks, leaks),
 * and the leak and peak views. It is an open-addressing hash table with
 * linear probing and backward-shift deletion (no tombstones), so inserts and
 * removals stay O(1) however long the program runs; it grows when three
 * quarters full and shrinks when less than an eighth full, so its memory
 * follows the number of live blocks, never the number of events. Entries
 * live in the table's own arrays: no allocation per block.
 *
 * Not thread-safe: one table per consumer (or per traced process).
 */
#ifndef HT_ANALYSIS_LIVE_H
#define HT_ANALYSIS_LIVE_H

#include <stddef.h>
#include <stdint.h>

/* What the table keeps for each live block: its size. Kept small on
 * purpose: the recorder's collector looks up one block per heap event, and
 * tables of millions of blocks are paid for in cache misses and in memory
 * first touched. */
typedef struct ht_live_block {
    uint64_t size; /* requested size (ALLOC Size, REALLOC NewSize) */
} ht_live_block;

/* One slot: the address (0 marks an empty slot) beside its block, so that a
 * lookup touches one cache line. */
typedef struct ht_live_slot {
    uint64_t key;
    ht_live_block block;
} ht_live_slot;

/* The table. Treat the members as private; embed it by value where useful. */
typedef struct ht_live {
    ht_live_slot *slots;
    size_t mask;            /* capacity - 1; capacity is a power of two (0: no array) */
    unsigned shift;         /* 64 - log2(capacity): the hash keeps the top bits */
    size_t count;           /* live blocks, the one at address 0 included */
    uint64_t bytes;         /* sum of their sizes */
    int has_zero;           /* address 0 cannot be a key: it is kept aside */
    ht_live_block zero;
} ht_live;

/* An empty table; it allocates nothing until the first insert. */
void ht_live_init(ht_live *t);

/* Remove every block and free the table's memory; the table is empty and
 * usable afterwards. */
void ht_live_destroy(ht_live *t);

/* Add the block at address. Returns 1 when the address was not live, 0 when
 * it was (its old block is replaced and copied to *replaced when not NULL),
 * -1 when memory ran out (the table is unchanged). */
int ht_live_insert(ht_live *t, uint64_t address, const ht_live_block *block,
                   ht_live_block *replaced);

/* Remove the block at address. Returns 1 and copies it to *removed (when not
 * NULL), or 0 when the address is not live. Never fails: a shrink that finds
 * no memory keeps the larger arrays. */
int ht_live_remove(ht_live *t, uint64_t address, ht_live_block *removed);

/* The block at address, or NULL. Valid until the table is next changed. */
const ht_live_block *ht_live_find(const ht_live *t, uint64_t address);

/* Start loading the slot where address would be (a hint; changes nothing). */
void ht_live_prefetch(const ht_live *t, uint64_t address);

static inline size_t ht_live_count(const ht_live *t) { return t->count; }
static inline uint64_t ht_live_bytes(const ht_live *t) { return t->bytes; }

/* Slots the table holds now (for tests and memory accounting). */
static inline size_t ht_live_capacity(const ht_live *t) { return t->slots ? t->mask + 1 : 0; }

/* Visit every live block in no particular order: start with *cursor = 0 and
 * call until it returns 0. The table must not change during the walk. */
int ht_live_next(const ht_live *t, size_t *cursor, uint64_t *address, const ht_live_block **block);

#endif
