/*
 * The live-block table: address -> what is known about a block that was
 * allocated and not yet freed.
 *
 * Every consumer that follows allocations over time needs it: the recorder's
 * collector (to fill REALLOC's OldSize), stats (live bytes, peaks, leaks),
 * and the leak and peak views. It is an open-addressing hash table with
 * linear probing and backward-shift deletion (no tombstones), so inserts and
 * removals stay O(1) however long the program runs; it grows when five
 * eighths full (26 to 52 bytes a block) and shrinks when one slot in 64 or
 * fewer is used, to the size that holds its blocks five sixteenths full or
 * less, so its memory follows the number of live blocks (at most 1 KiB each
 * on the way down from a peak), never the number of events. Not fuller: blocks of one page share a run of slots (below), so
 * the probe runs of a fuller table grow long, and a removal scans to the end
 * of its run (at three quarters, stats of a recorded python trace took 1.4
 * times as long as at half full). Not emptier: fresh pages cost their
 * zeroing, and at half full a program with 2 M live blocks needed twice the
 * memory. Entries live in the table's own arrays: no allocation per block.
 * The table changes size in place (live.c) and a step at a time: while a
 * resize is under way, each insert and removal first moves the entries of
 * a few dozen slots to the new size, so that no operation stops for the
 * whole table; a resize touches no fresh memory beyond the half it adds,
 * and that half is touched ahead while the table fills.
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
    /* The counts at or above which an insert, and at or below which a
     * removal, calls into live.c instead of taking the inline path: to grow,
     * to touch the memory of the next size, to shrink, or to take the next
     * step of a resize under way (every operation then). One comparison
     * each. */
    size_t insert_work_at, remove_work_at;
    int has_zero;           /* address 0 cannot be a key: it is kept aside */
    ht_live_block zero;
    /* The counts at which an insert grows the table and below which a
     * removal shrinks it (live.c): 0 and 0 in an empty table. */
    size_t grow_at, shrink_below;
    size_t reserved; /* address range held for a mapped array; 0: malloc'd */
    size_t ready;    /* bytes past the array's end touched for its growth */
    /* A resize under way (live.c): mask and shift above are already the new
     * size's. NULL `placed` when none is. */
    uint64_t *placed;   /* a bit per slot: it holds an entry placed at the new size */
    size_t old_mask;    /* the size being left */
    unsigned old_shift;
    size_t unvisited;   /* the slots below it may hold entries not yet placed */
} ht_live;

/* An empty table; it allocates nothing until the first insert. */
void ht_live_init(ht_live *t);

/* Remove every block and free the table's memory; the table is empty and
 * usable afterwards. */
void ht_live_destroy(ht_live *t);

/* Add the block at address. Returns 1 when the address was not live, 0 when
 * it was (its old block is replaced and copied to *replaced when not NULL),
 * -1 when memory ran out (the table is unchanged). */
static inline int ht_live_insert(ht_live *t, uint64_t address, const ht_live_block *block,
                                 ht_live_block *replaced);

/* Remove the block at address. Returns 1 and copies it to *removed (when not
 * NULL), or 0 when the address is not live. Never fails: a shrink that finds
 * no memory keeps the larger arrays. */
static inline int ht_live_remove(ht_live *t, uint64_t address, ht_live_block *removed);

/* The block at address, or NULL. Valid until the table is next changed. */
static inline const ht_live_block *ht_live_find(const ht_live *t, uint64_t address);

/* Start loading the slot where address would be (a hint; changes nothing).
 * Always inlined: GCC takes a function that only prefetches for one without
 * effect, and drops the calls to it that it inlines late. */
static inline __attribute__((always_inline)) void ht_live_prefetch(const ht_live *t,
                                                                   uint64_t address);

static inline size_t ht_live_count(const ht_live *t) { return t->count; }
static inline uint64_t ht_live_bytes(const ht_live *t) { return t->bytes; }

/* Slots the table holds now (for tests and memory accounting); during a
 * resize, those of the size it is going to. */
static inline size_t ht_live_capacity(const ht_live *t) { return t->slots ? t->mask + 1 : 0; }

/* Visit every live block in no particular order: start with *cursor = 0 and
 * call until it returns 0. The table must not change during the walk. */
int ht_live_next(const ht_live *t, size_t *cursor, uint64_t *address, const ht_live_block **block);

/* ---- the per-event operations, inline: a consumer runs one or two per
 * event, and a call costs as much as the lookup itself ---- */

/* Private to the functions below: the slow paths of insert and remove
 * (growing, shrinking, touching ahead, a resize under way: live.c), the
 * second lookup while a resize is under way, and the block at address 0,
 * kept aside. */
int ht_live_insert_slow_(ht_live *t, uint64_t address, const ht_live_block *block,
                         ht_live_block *replaced);
int ht_live_remove_slow_(ht_live *t, uint64_t address, ht_live_block *removed);
const ht_live_block *ht_live_find_unplaced_(const ht_live *t, uint64_t address);
int ht_live_insert_zero_(ht_live *t, const ht_live_block *block, ht_live_block *replaced);
int ht_live_remove_zero_(ht_live *t, ht_live_block *removed);

/* Where address's probe starts. Blocks allocated together lie together: a
 * 4 KiB page of addresses maps to a run of 256 slots (one per 16 bytes) that
 * starts at a hash of the page, so that a program's neighbouring blocks share
 * cache lines of the table (one miss for many lookups), while pages spread
 * over the whole table. */
static inline size_t ht_live_place_(uint64_t address, unsigned shift, size_t mask)
{
    size_t page = (size_t)(((address >> 12) * 0x9E3779B97F4A7C15ull) >> shift);
    return (page + (size_t)((address >> 4) & 0xFF)) & mask;
}

static inline size_t ht_live_home_(const ht_live *t, uint64_t address)
{
    return ht_live_place_(address, t->shift, t->mask);
}

/* The slot of address, or the empty slot that ends its probe run. */
static inline size_t ht_live_slot_(const ht_live *t, uint64_t address)
{
    const ht_live_slot *slots = t->slots;
    size_t mask = t->mask;
    size_t i = ht_live_home_(t, address);
    for (;;) {
        uint64_t k = slots[i].key;
        if (k == address || !k)
            return i;
        i = (i + 1) & mask;
    }
}

/* Insert into a table with room and no resize under way (the inline path,
 * and live.c's once it has made room). */
static inline int ht_live_put_(ht_live *t, uint64_t address, const ht_live_block *block,
                               ht_live_block *replaced)
{
    ht_live_slot *s = &t->slots[ht_live_slot_(t, address)];
    if (s->key) {
        if (replaced)
            *replaced = s->block;
        t->bytes += block->size - s->block.size;
        s->block = *block;
        return 0;
    }
    s->key = address;
    s->block = *block;
    t->count++;
    t->bytes += block->size;
    return 1;
}

/* Remove from a table with an array and no resize under way (the inline
 * path, and live.c's, which then decides whether to shrink). */
static inline int ht_live_take_(ht_live *t, uint64_t address, ht_live_block *removed)
{
    /* The table's fields in locals: a store to a slot could otherwise be
     * taken to change them, and they would be loaded again after each. */
    ht_live_slot *slots = t->slots;
    size_t mask = t->mask;
    unsigned shift = t->shift;
    size_t i = ht_live_slot_(t, address);
    if (!slots[i].key)
        return 0;
    if (removed)
        *removed = slots[i].block;
    t->bytes -= slots[i].block.size;
    t->count--;
    /* Backward shift: pull later entries of the probe run into the hole when
     * their home slot is not between the hole and where they sit, so that
     * every lookup still finds its key before the first empty slot. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        uint64_t k = slots[j].key;
        if (!k)
            break;
        size_t home = ht_live_place_(k, shift, mask);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            slots[i] = slots[j];
            i = j;
        }
    }
    slots[i].key = 0;
    return 1;
}

static inline int ht_live_insert(ht_live *t, uint64_t address, const ht_live_block *block,
                                 ht_live_block *replaced)
{
    if (address == 0)
        return ht_live_insert_zero_(t, block, replaced);
    if (t->count >= t->insert_work_at)
        return ht_live_insert_slow_(t, address, block, replaced);
    return ht_live_put_(t, address, block, replaced);
}

static inline const ht_live_block *ht_live_find(const ht_live *t, uint64_t address)
{
    if (address == 0)
        return t->has_zero ? &t->zero : NULL;
    if (!t->slots)
        return NULL;
    size_t i = ht_live_slot_(t, address);
    if (t->slots[i].key)
        return &t->slots[i].block;
    /* During a resize, a block not yet placed at the new size sits where
     * the old size put it. */
    return t->placed ? ht_live_find_unplaced_(t, address) : NULL;
}

static inline int ht_live_remove(ht_live *t, uint64_t address, ht_live_block *removed)
{
    if (address == 0)
        return ht_live_remove_zero_(t, removed);
    /* Also the way out of a table without an array, whose remove_work_at
     * is never below its count. */
    if (t->count <= t->remove_work_at)
        return ht_live_remove_slow_(t, address, removed);
    return ht_live_take_(t, address, removed);
}

static inline __attribute__((always_inline)) void ht_live_prefetch(const ht_live *t,
                                                                   uint64_t address)
{
    if (t->slots) {
        size_t home = ht_live_home_(t, address);
        __builtin_prefetch(&t->slots[home], 1);
        __builtin_prefetch(&t->slots[(home + 4) & t->mask], 1);
    }
}

#endif
