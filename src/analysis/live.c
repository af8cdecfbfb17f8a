/* The live-block table (see live.h). */
#include "analysis/live.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MIN_CAPACITY 16

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

/* The thresholds of ht_live_insert and ht_live_remove for the table's
 * capacity: grow when an insert would make the slots more than five eighths
 * full, shrink when fewer than an eighth stay used (never below the
 * smallest capacity). The block at address 0 counts in count, not in the
 * slots. */
static void set_limits(ht_live *t)
{
    size_t capacity = ht_live_capacity(t), zero = (size_t)t->has_zero;
    t->grow_at = capacity ? capacity / 8 * 5 + zero : 0;
    t->shrink_below = capacity > MIN_CAPACITY ? capacity / 8 + zero : 0;
}

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
        size_t j = ht_live_home_(t, old[i].key);
        while (slots[j].key)
            j = (j + 1) & t->mask;
        slots[j] = old[i];
    }
    free_slots(old, old_capacity);
    set_limits(t);
    return 0;
}

int ht_live_grow_(ht_live *t)
{
    return resize(t, t->slots ? (t->mask + 1) * 2 : MIN_CAPACITY);
}

void ht_live_shrink_(ht_live *t)
{
    size_t capacity = t->mask + 1;
    if (capacity > MIN_CAPACITY)
        (void)resize(t, capacity / 2); /* no memory: keep the larger arrays */
}

int ht_live_insert_zero_(ht_live *t, const ht_live_block *block, ht_live_block *replaced)
{
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
    set_limits(t);
    return !was;
}

int ht_live_remove_zero_(ht_live *t, ht_live_block *removed)
{
    if (!t->has_zero)
        return 0;
    if (removed)
        *removed = t->zero;
    t->has_zero = 0;
    t->count--;
    t->bytes -= t->zero.size;
    set_limits(t);
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
