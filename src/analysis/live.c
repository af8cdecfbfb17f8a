/* The live-block table (see live.h). */
#include "analysis/live.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MIN_CAPACITY 16

/* Slot arrays. Lookups land anywhere in a table, so a large one costs a TLB
 * miss per lookup on 4 KiB pages: large ones live in a mapping of their own
 * that asks for huge pages. Its address range is reserved ahead, RESERVE
 * times its first size with nothing committed, so that the array grows where
 * it is. Its resize places the entries anew inside the same array (place_all),
 * and only the half a growth adds is fresh memory; that half is made usable
 * and touched a huge page at a time while the table fills towards its next
 * growth (prepare_growth). First touches were most of a resize's cost in the
 * recorder's collector: zeroing a fresh 64 MiB array stopped it for tens of
 * milliseconds, and the traced program waited for room as long
 * (docs/PERFORMANCE.md). */
#define HUGE_PAGE ((size_t)2 << 20)
#define MAPPED_BYTES (2 * HUGE_PAGE)
#define RESERVE 16
#define TOUCH_STEP ((size_t)4096)

static size_t slot_bytes(size_t capacity) { return capacity * sizeof(ht_live_slot); }

/* Reserve RESERVE * bytes of addresses aligned to a huge page and make the
 * first bytes usable. NULL when the system refuses. */
static ht_live_slot *map_array(size_t bytes, size_t *reserved)
{
    size_t reserve = bytes * RESERVE;
    char *p = mmap(NULL, reserve + HUGE_PAGE, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    char *base = (char *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (base > p)
        munmap(p, (size_t)(base - p));
    munmap(base + reserve, (size_t)(p + HUGE_PAGE - base));
    madvise(base, reserve, MADV_HUGEPAGE); /* advice only: a refusal costs speed, not results */
    if (mprotect(base, bytes, PROT_READ | PROT_WRITE) != 0) {
        munmap(base, reserve);
        return NULL;
    }
    *reserved = reserve;
    return (ht_live_slot *)base;
}

void ht_live_init(ht_live *t) { memset(t, 0, sizeof *t); }

/* The touches that prepare a mapped array's next growth fall between three
 * eighths and nine sixteenths full, one huge page of the added half at a
 * time at even steps, done before the growth at five eighths. */
static size_t next_touch_at(const ht_live *t)
{
    size_t capacity = ht_live_capacity(t);
    if (!t->reserved || slot_bytes(capacity) < HUGE_PAGE ||
        2 * slot_bytes(capacity) > t->reserved || t->ready >= slot_bytes(capacity))
        return SIZE_MAX;
    size_t pages = slot_bytes(capacity) / HUGE_PAGE, from = capacity / 8 * 3,
           span = capacity / 16 * 3;
    return from + span / pages * (t->ready / HUGE_PAGE);
}

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
    size_t touch = next_touch_at(t);
    t->work_at = touch != SIZE_MAX && touch + zero < t->grow_at ? touch + zero : t->grow_at;
}

void ht_live_destroy(ht_live *t)
{
    if (t->reserved)
        munmap(t->slots, t->reserved);
    else
        free(t->slots);
    ht_live_init(t);
}

static void set_geometry(ht_live *t, size_t capacity)
{
    unsigned shift = 64;
    for (size_t c = capacity; c > 1; c >>= 1)
        shift--;
    t->mask = capacity - 1;
    t->shift = shift;
}

static inline bool is_placed(const uint64_t *placed, size_t i)
{
    return placed[i / 64] >> (i % 64) & 1;
}

/* Take the entry at slot i out and place it, and each entry it displaces. */
static void place_from(ht_live *t, size_t i, uint64_t *placed)
{
    ht_live_slot *slots = t->slots;
    size_t mask = t->mask;
    unsigned shift = t->shift;
    ht_live_slot moving = slots[i];
    slots[i].key = 0;
    for (;;) {
        size_t j = ht_live_place_(moving.key, shift, mask);
        while (slots[j].key && is_placed(placed, j))
            j = (j + 1) & mask;
        ht_live_slot there = slots[j];
        slots[j] = moving;
        placed[j / 64] |= (uint64_t)1 << (j % 64);
        if (!there.key)
            return;
        moving = there;
    }
}

/* Place every entry of slots[0, span) where the table's geometry (already
 * set; the array holds at least capacity and span slots) wants it, inside
 * the same array. Entries placed anew are marked in `placed` (a bit per
 * slot); an entry not yet placed that sits where another one goes is taken
 * out and placed next. A placed entry never moves again, so every slot
 * between an entry's home and where it lands holds a placed entry for good:
 * the probe runs are those of a table filled by inserts.
 *
 * The order of the visits: a block's home at twice the capacity is within
 * a page run (256 slots) of twice its home before, and at half the capacity
 * of half of it. Visited from the top when the table doubles and from the
 * bottom when it halves, nearly every entry lands where the visits have
 * already passed: the writes follow the reads through the array, and few
 * entries are taken out of the way (visited from the bottom, a doubling
 * took out an entry for nearly every one it placed, each a cache miss). */
static void place_all(ht_live *t, size_t span, uint64_t *placed)
{
    const ht_live_slot *slots = t->slots;
    size_t capacity = t->mask + 1;
    if (capacity > span) {
        for (size_t i = span; i-- > 0;)
            if (slots[i].key && !is_placed(placed, i))
                place_from(t, i, placed);
    } else {
        for (size_t i = 0; i < span; i++)
            if (slots[i].key && (i >= capacity || !is_placed(placed, i)))
                place_from(t, i, placed);
    }
}

/* Make a mapped array (or one about to be) hold `capacity` slots, the new
 * ones zero, keeping the entries where they are. Returns 0, or -1 with the
 * table unchanged. */
static int extend_array(ht_live *t, size_t capacity)
{
    size_t old = slot_bytes(ht_live_capacity(t)), bytes = slot_bytes(capacity);
    if (t->reserved && bytes <= t->reserved) {
        size_t usable = old + t->ready;
        if (bytes > usable &&
            mprotect((char *)t->slots + usable, bytes - usable, PROT_READ | PROT_WRITE) != 0)
            return -1;
        t->ready = 0;
        return 0;
    }
    /* A first mapped array, or one that outgrew its range. */
    size_t reserved;
    ht_live_slot *slots = map_array(bytes, &reserved);
    if (!slots)
        return -1;
    memcpy(slots, t->slots, old);
    if (t->reserved)
        munmap(t->slots, t->reserved);
    else
        free(t->slots);
    t->slots = slots;
    t->reserved = reserved;
    t->ready = 0;
    return 0;
}

/* Give back a mapped array's slots from `capacity` on (all empty). */
static void trim_array(ht_live *t, size_t capacity, size_t old_capacity)
{
    /* Usable up to the end of the added half once its touches began; given
     * back in whole pages. */
    size_t end = slot_bytes(old_capacity) * (t->ready ? 2 : 1);
    size_t from = (slot_bytes(capacity) + TOUCH_STEP - 1) & ~(TOUCH_STEP - 1);
    if (from < end) {
        madvise((char *)t->slots + from, end - from, MADV_DONTNEED);
        mprotect((char *)t->slots + from, end - from, PROT_NONE);
    }
    t->ready = 0;
}

/* A small array's resize: into a fresh array, which costs little to touch
 * and half the instructions of placing in place. */
static int copy_resize(ht_live *t, size_t capacity)
{
    ht_live_slot *slots = calloc(capacity, sizeof *slots), *old = t->slots;
    if (!slots)
        return -1;
    size_t old_capacity = ht_live_capacity(t);
    t->slots = slots;
    set_geometry(t, capacity);
    for (size_t i = 0; i < old_capacity; i++) {
        if (!old[i].key)
            continue;
        size_t j = ht_live_home_(t, old[i].key);
        while (slots[j].key)
            j = (j + 1) & t->mask;
        slots[j] = old[i];
    }
    free(old);
    set_limits(t);
    return 0;
}

/* Give the table `capacity` slots. Returns 0, or -1 with the table unchanged
 * when memory ran out. */
static int resize(ht_live *t, size_t capacity)
{
    if (!t->reserved && slot_bytes(capacity) < MAPPED_BYTES)
        return copy_resize(t, capacity);
    size_t old_capacity = ht_live_capacity(t);
    uint64_t *placed = calloc((capacity + 63) / 64, sizeof *placed);
    if (!placed)
        return -1;
    if (capacity > old_capacity && extend_array(t, capacity) < 0) {
        free(placed);
        return -1;
    }
    set_geometry(t, capacity);
    place_all(t, old_capacity, placed);
    free(placed);
    if (capacity < old_capacity)
        trim_array(t, capacity, old_capacity);
    set_limits(t);
    return 0;
}

/* Touch the next huge page of the added half; the first touch makes the
 * whole half usable. False when the system refuses: the growth then does
 * the work. */
static bool prepare_growth(ht_live *t)
{
    size_t capacity = ht_live_capacity(t);
    char *end = (char *)t->slots + slot_bytes(capacity);
    if (t->ready == 0 && mprotect(end, slot_bytes(capacity), PROT_READ | PROT_WRITE) != 0)
        return false;
    volatile char *page = end + t->ready;
    for (size_t at = 0; at < HUGE_PAGE; at += TOUCH_STEP)
        page[at] = 0;
    t->ready += HUGE_PAGE;
    return true;
}

int ht_live_make_room_(ht_live *t)
{
    while (t->count < t->grow_at && t->count >= t->work_at) {
        if (!prepare_growth(t)) {
            t->work_at = t->grow_at;
            break;
        }
        set_limits(t);
    }
    if (t->count < t->grow_at)
        return 0;
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
