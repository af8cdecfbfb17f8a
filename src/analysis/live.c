/* The live-block table (see live.h). */
#include "analysis/live.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MIN_CAPACITY 16

/* Fibonacci hashing: block addresses share their low bits (alignment) and
 * their high bits (one mapping), so a multiply that folds every bit into the
 * top ones spreads them where a plain mask would not. (Keeping neighbours in
 * neighbouring slots would save cache misses, but with linear probing dense
 * runs of neighbours become probe runs that other keys crawl through.) */
static inline size_t home_of(const ht_live *t, uint64_t address)
{
    return (size_t)((address * 0x9E3779B97F4A7C15ull) >> t->shift);
}

/* Slot arrays. Lookups land anywhere in a table, so a large one costs a TLB
 * miss per lookup on 4 KiB pages: large ones are mapped on their own (fresh
 * mappings come zeroed, so there is nothing to clear) and ask for huge
 * pages. */
#define HUGE_PAGE ((size_t)2 << 20)
#define MAPPED_BYTES (2 * HUGE_PAGE)

static size_t slot_bytes(size_t capacity) { return capacity * sizeof(ht_live_slot); }

static ht_live_slot *alloc_slots(size_t capacity)
{
    size_t bytes = slot_bytes(capacity);
    if (bytes < MAPPED_BYTES)
        return calloc(capacity, sizeof(ht_live_slot));
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    madvise(p, bytes, MADV_HUGEPAGE); /* advice only: a refusal costs speed, not results */
    return p;
}

static void free_slots(ht_live_slot *slots, size_t capacity)
{
    if (!slots)
        return;
    if (slot_bytes(capacity) < MAPPED_BYTES)
        free(slots);
    else
        munmap(slots, slot_bytes(capacity));
}

void ht_live_init(ht_live *t) { memset(t, 0, sizeof *t); }

void ht_live_destroy(ht_live *t)
{
    free_slots(t->slots, ht_live_capacity(t));
    ht_live_init(t);
}

/* Move every entry into a fresh array of capacity slots. Returns 0, or -1
 * with the table unchanged when memory ran out. */
static int resize(ht_live *t, size_t capacity)
{
    ht_live_slot *slots = alloc_slots(capacity);
    if (!slots)
        return -1;
    ht_live_slot *old = t->slots;
    size_t old_capacity = ht_live_capacity(t);
    unsigned shift = 64;
    for (size_t c = capacity; c > 1; c >>= 1)
        shift--;
    t->slots = slots;
    t->mask = capacity - 1;
    t->shift = shift;
    for (size_t i = 0; i < old_capacity; i++) {
        if (!old[i].key)
            continue;
        size_t j = home_of(t, old[i].key);
        while (slots[j].key)
            j = (j + 1) & t->mask;
        slots[j] = old[i];
    }
    free_slots(old, old_capacity);
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
    if (!t->slots || (slots + 1) * 4 > (t->mask + 1) * 3) {
        size_t capacity = t->slots ? (t->mask + 1) * 2 : MIN_CAPACITY;
        if (resize(t, capacity) < 0)
            return -1;
    }
    size_t i = home_of(t, address);
    for (;;) {
        uint64_t k = t->slots[i].key;
        if (k == address) {
            if (replaced)
                *replaced = t->slots[i].block;
            t->bytes += block->size - t->slots[i].block.size;
            t->slots[i].block = *block;
            return 0;
        }
        if (!k)
            break;
        i = (i + 1) & t->mask;
    }
    t->slots[i].key = address;
    t->slots[i].block = *block;
    t->count++;
    t->bytes += block->size;
    return 1;
}

static inline size_t slot_of(const ht_live *t, uint64_t address)
{
    size_t i = home_of(t, address);
    for (;;) {
        uint64_t k = t->slots[i].key;
        if (k == address || !k)
            return i;
        i = (i + 1) & t->mask;
    }
}

const ht_live_block *ht_live_find(const ht_live *t, uint64_t address)
{
    if (address == 0)
        return t->has_zero ? &t->zero : NULL;
    if (!t->slots)
        return NULL;
    size_t i = slot_of(t, address);
    return t->slots[i].key ? &t->slots[i].block : NULL;
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
    if (!t->slots)
        return 0;
    size_t i = slot_of(t, address);
    if (!t->slots[i].key)
        return 0;
    if (removed)
        *removed = t->slots[i].block;
    t->bytes -= t->slots[i].block.size;
    t->count--;
    /* Backward shift: pull later entries of the probe run into the hole when
     * their home slot is not between the hole and where they sit, so that
     * every lookup still finds its key before the first empty slot. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        uint64_t k = t->slots[j].key;
        if (!k)
            break;
        size_t home = home_of(t, k);
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].key = 0;
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
        if (t->slots[i].key) {
            *cursor = i + 2;
            *address = t->slots[i].key;
            *block = &t->slots[i].block;
            return 1;
        }
    }
    *cursor = capacity + 1;
    return 0;
}

void ht_live_prefetch(const ht_live *t, uint64_t address)
{
    if (t->slots)
        __builtin_prefetch(&t->slots[home_of(t, address)], 1);
}
