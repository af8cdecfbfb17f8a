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
 * it is. Its resize places the entries anew inside the same array, and only
 * the half a growth adds is fresh memory; that half is made usable and
 * touched a huge page at a time while the table fills towards its next
 * growth (prepare_growth). First touches were most of a resize's cost in the
 * recorder's collector: zeroing a fresh 64 MiB array stopped it for tens of
 * milliseconds, and the traced program waited for room as long
 * (docs/PERFORMANCE.md). */
#define HUGE_PAGE ((size_t)2 << 20)
#define MAPPED_BYTES (2 * HUGE_PAGE)
#define RESERVE 16
#define TOUCH_STEP ((size_t)4096)

/* A table shrinks when no more than one slot in SHRINK_AT is used, to the
 * smallest size that holds its blocks at most five sixteenths full. Not
 * sooner: a program that frees most of what it holds (the python workload
 * deleting its dict, any program's exit) made the table halve again and
 * again, each halving placing an eighth of the slots anew, and the
 * recorder's collector fell behind: the traced program waited for ring room
 * a median 101 ms a run, against 43 ms this way (docs/PERFORMANCE.md). The
 * price is memory after a peak: up to SHRINK_AT slots a block. */
#define SHRINK_AT 64

/* A mapped array's resize is spread over the operations that follow it
 * (the placing below): each insert and removal first visits the next
 * VISIT_STEP slots of the size being left (SHRINK_STEP when shrinking), and
 * places the entries it finds there. Placing 1.3 M entries in one go
 * stopped the recorder's collector for 20-30 ms, and the traced program
 * waited for room in its ring as long; a step takes about a microsecond. A
 * resize from C slots is over after C / VISIT_STEP (C / SHRINK_STEP)
 * operations, before the next one can be due: a doubling (at 5C/8 entries)
 * is 19C/32 removals from the new size's shrink threshold and 5C/8 inserts
 * from its growth; a shrink (at k = C/64 entries, to fewer than 32k/5
 * slots) is more than 9k/10 = C/71 removals from the next shrink and k
 * inserts from a growth. */
#define VISIT_STEP 64
#define SHRINK_STEP 128

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
 * full, shrink when no more than one in SHRINK_AT stays used (never below
 * the smallest capacity). The block at address 0 counts in count, not in
 * the slots. While a resize is under way every operation takes its next
 * step. */
static void set_limits(ht_live *t)
{
    size_t capacity = ht_live_capacity(t), zero = (size_t)t->has_zero;
    t->grow_at = capacity ? capacity / 8 * 5 + zero : 0;
    t->shrink_below = capacity > MIN_CAPACITY ? capacity / SHRINK_AT + 1 + zero : 0;
    if (t->placed) {
        t->insert_work_at = 0;
        t->remove_work_at = SIZE_MAX;
        return;
    }
    size_t touch = next_touch_at(t);
    t->insert_work_at = touch != SIZE_MAX && touch + zero < t->grow_at ? touch + zero : t->grow_at;
    /* The inline path compares before it removes: a removal that may leave
     * fewer than shrink_below is one made at shrink_below or below. */
    t->remove_work_at = t->slots ? t->shrink_below : SIZE_MAX;
}

void ht_live_destroy(ht_live *t)
{
    if (t->reserved)
        munmap(t->slots, t->reserved);
    else
        free(t->slots);
    free(t->placed);
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

/* ---- a resize under way ----
 *
 * The table's geometry is already the new size's; the entries not yet
 * placed at it sit where the old size put them. Each slot's bit in
 * `placed` tells the two kinds apart:
 *
 * - a placed entry sits at its new home or after it, and every slot from
 *   its home to it holds a placed entry: it never moves again for this
 *   resize, and once all are placed the array is a table filled by inserts
 *   at the new size;
 * - an unplaced entry sits below `unvisited`, at its old home or after it
 *   (old geometry), and every slot from its old home to it holds an entry
 *   (of either kind); none of these runs wraps around the old array's end
 *   (the resize places the run at slot 0 first) or reaches `unvisited`.
 *
 * A lookup probes the new geometry, then the old one when the key's old
 * home is below `unvisited`. An insert places its entry; where that takes
 * the slot of an unplaced entry, that one is placed next (place). A removal
 * shifts back the placed entries that follow the hole in the new geometry,
 * up to the first slot not holding one (no placed entry beyond it has its
 * home before it), then the unplaced ones in the old geometry: the last
 * hole is on no entry's run. The visits go from the top down whether the
 * table grows or shrinks: a visited slot is on no unplaced entry's run.
 *
 * Doubling from the top, an entry lands near twice its slot, where the
 * visits have passed and only placed entries are: few are taken out of the
 * way (from the bottom nearly every entry displaced another, each a cache
 * miss). Shrinking, it lands far below its slot and the visits, among
 * unplaced entries of a table one slot in 64 full or less. */

static inline bool is_placed(const ht_live *t, size_t i)
{
    return t->placed[i / 64] >> (i % 64) & 1;
}

static inline void mark_placed(ht_live *t, size_t i)
{
    t->placed[i / 64] |= (uint64_t)1 << (i % 64);
}

static inline void clear_placed(ht_live *t, size_t i)
{
    t->placed[i / 64] &= ~((uint64_t)1 << (i % 64));
}

static inline size_t old_home(const ht_live *t, uint64_t address)
{
    return ht_live_place_(address, t->old_shift, t->old_mask);
}

/* Place `moving` (not in the array) at the new size, starting at slot j,
 * its home there, and each unplaced entry it displaces. */
static void place(ht_live *t, ht_live_slot moving, size_t j)
{
    ht_live_slot *slots = t->slots;
    size_t mask = t->mask;
    for (;;) {
        while (slots[j].key && is_placed(t, j))
            j = (j + 1) & mask;
        ht_live_slot there = slots[j];
        slots[j] = moving;
        mark_placed(t, j);
        if (!there.key)
            return;
        moving = there;
        j = ht_live_home_(t, moving.key);
    }
}

/* Take the unplaced entry at slot i, whose new home is `home`, out and
 * place it. */
static void place_from(ht_live *t, size_t i, size_t home)
{
    ht_live_slot moving = t->slots[i];
    t->slots[i].key = 0;
    place(t, moving, home);
}

/* The old slot of an unplaced entry at address, or SIZE_MAX. */
static size_t unplaced_slot(const ht_live *t, uint64_t address)
{
    size_t i = old_home(t, address);
    for (; i < t->unvisited && t->slots[i].key; i++)
        if (t->slots[i].key == address)
            return i;
    return SIZE_MAX;
}

const ht_live_block *ht_live_find_unplaced_(const ht_live *t, uint64_t address)
{
    size_t i = unplaced_slot(t, address);
    return i != SIZE_MAX ? &t->slots[i].block : NULL;
}

/* The slot of address during a resize, or SIZE_MAX. Both probes may miss
 * the caches: the second one's is started first. */
static size_t moving_slot(const ht_live *t, uint64_t address)
{
    __builtin_prefetch(&t->slots[old_home(t, address)]);
    size_t i = ht_live_slot_(t, address);
    return t->slots[i].key ? i : unplaced_slot(t, address);
}

/* Fill the hole at i (its bit clear) with the placed entries after it whose
 * runs pass it. Returns the hole left: on no placed entry's run. */
static size_t shift_back_placed(ht_live *t, size_t i)
{
    ht_live_slot *slots = t->slots;
    size_t mask = t->mask, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!slots[j].key || !is_placed(t, j))
            return i;
        size_t home = ht_live_home_(t, slots[j].key);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            slots[i] = slots[j];
            mark_placed(t, i);
            clear_placed(t, j);
            i = j;
        }
    }
}

/* Fill the hole at i (below unvisited, its bit clear, on no placed entry's
 * run) with the unplaced entries after it whose old runs pass it. Returns
 * the hole left: on no entry's run. */
static size_t shift_back_unplaced(ht_live *t, size_t i)
{
    ht_live_slot *slots = t->slots;
    for (size_t j = i + 1; j < t->unvisited && slots[j].key; j++) {
        if (!is_placed(t, j) && old_home(t, slots[j].key) <= i) {
            slots[i] = slots[j];
            i = j;
        }
    }
    return i;
}

static int insert_moving(ht_live *t, uint64_t address, const ht_live_block *block,
                         ht_live_block *replaced)
{
    size_t i = moving_slot(t, address);
    if (i != SIZE_MAX) {
        if (replaced)
            *replaced = t->slots[i].block;
        t->bytes += block->size - t->slots[i].block.size;
        t->slots[i].block = *block;
        return 0;
    }
    place(t, (ht_live_slot){.key = address, .block = *block}, ht_live_home_(t, address));
    t->count++;
    t->bytes += block->size;
    return 1;
}

static int remove_moving(ht_live *t, uint64_t address, ht_live_block *removed)
{
    size_t i = moving_slot(t, address);
    if (i == SIZE_MAX)
        return 0;
    if (removed)
        *removed = t->slots[i].block;
    t->bytes -= t->slots[i].block.size;
    t->count--;
    if (is_placed(t, i)) {
        clear_placed(t, i);
        i = shift_back_placed(t, i);
    }
    if (i < t->unvisited)
        i = shift_back_unplaced(t, i);
    t->slots[i].key = 0;
    return 1;
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

/* The next VISIT_STEP slots of the resize under way; the last ends it.
 * The entries to place are found first, and the slots they land in loaded
 * together: the steps come between other operations, whose misses break
 * the stream the hardware follows through a resize done in one go, and
 * with each landing slot loaded only when its entry was placed a step took
 * twice as long. A placing may take the slot of an entry found after it. */
static void visit(ht_live *t)
{
    ht_live_slot *slots = t->slots;
    const uint64_t *placed = t->placed;
    size_t step = t->mask < t->old_mask ? SHRINK_STEP : VISIT_STEP;
    size_t i = t->unvisited, end = i > step ? i - step : 0;
    size_t found[SHRINK_STEP], homes[SHRINK_STEP], n = 0; /* the larger step */
    for (const ht_live_slot *s = slots + i; s-- > slots + end;) {
        if (s->key) {
            size_t at = (size_t)(s - slots);
            if (!(placed[at / 64] >> (at % 64) & 1)) {
                size_t home = ht_live_home_(t, s->key);
                __builtin_prefetch(&slots[home], 1);
                found[n] = at;
                homes[n++] = home;
            }
        }
    }
    for (size_t k = 0; k < n; k++)
        if (!is_placed(t, found[k]))
            place_from(t, found[k], homes[k]);
    t->unvisited = end;
    if (end)
        return;
    size_t capacity = t->mask + 1, old_capacity = t->old_mask + 1;
    free(t->placed);
    t->placed = NULL;
    t->old_mask = 0;
    t->old_shift = 0;
    if (capacity < old_capacity)
        trim_array(t, capacity, old_capacity);
    set_limits(t);
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

/* Start resizing a mapped array (or one about to be) to `capacity`: the
 * operations that follow do the placing. Returns 0, or -1 with the table
 * unchanged when memory ran out. */
static int start_resize(ht_live *t, size_t capacity)
{
    size_t old_capacity = ht_live_capacity(t);
    size_t span = capacity > old_capacity ? capacity : old_capacity;
    uint64_t *placed = calloc((span + 63) / 64, sizeof *placed);
    if (!placed)
        return -1;
    if (capacity > old_capacity && extend_array(t, capacity) < 0) {
        free(placed);
        return -1;
    }
    t->placed = placed;
    t->old_mask = t->mask;
    t->old_shift = t->shift;
    t->unvisited = old_capacity;
    set_geometry(t, capacity);
    /* The run at slot 0 may have come round from the array's end: placed
     * now, no unplaced entry's run wraps. Its end is found first, as the
     * placing empties slots. */
    size_t run = 0;
    while (t->slots[run].key)
        run++;
    for (size_t i = 0; i < run; i++)
        if (t->slots[i].key && !is_placed(t, i))
            place_from(t, i, ht_live_home_(t, t->slots[i].key));
    set_limits(t);
    return 0;
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

/* Give the table `capacity` slots: at once for a small array, a step at a
 * time for a mapped one. Returns 0, or -1 with the table unchanged when
 * memory ran out. */
static int resize(ht_live *t, size_t capacity)
{
    if (!t->reserved && slot_bytes(capacity) < MAPPED_BYTES)
        return copy_resize(t, capacity);
    return start_resize(t, capacity);
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

/* Room for an insert in a table with no resize under way: touch ahead, or
 * grow. Returns 0, or -1 when memory ran out. */
static int make_room(ht_live *t)
{
    while (t->count < t->grow_at && t->count >= t->insert_work_at) {
        if (!prepare_growth(t)) {
            t->insert_work_at = t->grow_at;
            break;
        }
        set_limits(t);
    }
    if (t->count < t->grow_at)
        return 0;
    return resize(t, t->slots ? (t->mask + 1) * 2 : MIN_CAPACITY);
}

int ht_live_insert_slow_(ht_live *t, uint64_t address, const ht_live_block *block,
                         ht_live_block *replaced)
{
    if (!t->placed && make_room(t) < 0)
        return -1;
    if (t->placed) {
        visit(t);
        if (t->placed)
            return insert_moving(t, address, block, replaced);
    }
    return ht_live_put_(t, address, block, replaced);
}

int ht_live_remove_slow_(ht_live *t, uint64_t address, ht_live_block *removed)
{
    if (!t->slots)
        return 0;
    if (t->placed) {
        visit(t);
        if (t->placed)
            return remove_moving(t, address, removed);
    }
    if (!ht_live_take_(t, address, removed))
        return 0;
    if (t->count < t->shrink_below) {
        size_t blocks = t->count - (size_t)t->has_zero, capacity = MIN_CAPACITY;
        while (capacity / 16 * 5 < blocks)
            capacity *= 2;
        (void)resize(t, capacity); /* no memory: keep the larger arrays */
    }
    return 1;
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
    /* During a resize, every slot either size uses: each entry is in one. */
    size_t span = ht_live_capacity(t);
    if (t->placed && t->old_mask >= span)
        span = t->old_mask + 1;
    for (size_t i = *cursor - 1; i < span; i++) {
        if (t->slots[i].key) {
            *cursor = i + 2;
            *address = t->slots[i].key;
            *block = &t->slots[i].block;
            return 1;
        }
    }
    *cursor = span + 1;
    return 0;
}
