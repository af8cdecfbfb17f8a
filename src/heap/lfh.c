/* The low-fragmentation heap (MEMORY_FROM_LOWFRAG): for each size class a bin
 * of pages, each page a 64 KiB slice of an LFH segment cut into blocks of
 * that one size, so that blocks of different sizes never interleave. A bin
 * opens once its class has been asked of the back end HT_LFH_ACTIVATION
 * times, as Windows switches its LFH on per bucket by usage. Threads take
 * blocks in batches into their runs (lookaside.c) and give them back in
 * batches, so the heap's lock is taken once per batch, not once per block.
 *
 * Blocks have no header (heap_internal.h): a page's slice starts with its
 * descriptor and a state word per 16 bytes, then the blocks. A block is free
 * in its page, cached (in a thread's cache or a bin's batch) or busy with its
 * slack; every list the heap keeps is checked against the state words as it
 * is walked, so that a use after free that overwrote a list link stops the
 * process with a message instead of handing out a wild pointer. Heap lock
 * held throughout. */

#include <string.h>

#include "heap/heap_internal.h"
#include "heap/trace.h"

/* ---- segments ------------------------------------------------------------------ */
static void room_add(ht_heap *h, ht_lfh_segment *s)
{
    s->prev_room = NULL;
    s->next_room = h->lfh_room;
    if (s->next_room)
        s->next_room->prev_room = s;
    h->lfh_room = s;
    s->on_room_list = 1;
}

static void room_remove(ht_heap *h, ht_lfh_segment *s)
{
    if (s->prev_room)
        s->prev_room->next_room = s->next_room;
    else
        h->lfh_room = s->next_room;
    if (s->next_room)
        s->next_room->prev_room = s->prev_room;
    s->on_room_list = 0;
}

/* A fresh LFH segment: the heap's growth (an Expand event). Its mapping is
 * zero, so every descriptor reads "no page". */
static ht_lfh_segment *new_segment(ht_heap *h)
{
    ht_lfh_segment *s = ht_pages_map(HT_GRANULE, HT_GRANULE);
    if (!s)
        return NULL;
    s->base.magic = HT_SEGMENT_MAGIC;
    s->base.size = HT_GRANULE;
    s->base.kind = HT_SEGMENT_LFH;
    s->base.first_block = HT_LFH_SLICE;
    s->base.permanent = 0;
    s->base.heap = h;
    s->used_slices = 1;
    for (unsigned slot = 0; slot < HT_LFH_SLICES; slot++)
        s->pages[slot].misalign = UINT32_MAX; /* no page yet: no address passes */
    if (!ht_segmap_register(&s->base)) {
        ht_pages_unmap(s, HT_GRANULE);
        return NULL;
    }
    ht_segment_link(h, &s->base);
    room_add(h, s);
    ht_trace_extent(HT_EVENT_HEAP_EXPAND, h, s, HT_GRANULE);
    return s;
}

static void release_segment(ht_heap *h, ht_lfh_segment *s)
{
    room_remove(h, s);
    ht_segment_unlink(h, &s->base);
    ht_segmap_unregister(&s->base);
    ht_trace_extent(HT_EVENT_HEAP_CONTRACT, h, s, HT_GRANULE);
    s->base.magic = 0;
    ht_pages_unmap(s, HT_GRANULE);
}

/* ---- pages ----------------------------------------------------------------------- */
static ht_lfh_segment *segment_of_page(ht_lfh_page *page)
{
    return (ht_lfh_segment *)((uintptr_t)page & ~(uintptr_t)(HT_GRANULE - 1));
}

static unsigned slot_of(ht_lfh_page *page) { return (unsigned)(page - segment_of_page(page)->pages); }

static char *page_blocks(ht_lfh_page *page) { return ht_lfh_slice(page) + page->blocks_offset; }

static void list_add(ht_lfh_bin *bin, ht_lfh_page *page)
{
    page->prev = NULL;
    page->next = bin->pages;
    if (page->next)
        page->next->prev = page;
    bin->pages = page;
    page->on_list = 1;
}

static void list_remove(ht_lfh_bin *bin, ht_lfh_page *page)
{
    if (page->prev)
        page->prev->next = page->next;
    else
        bin->pages = page->next;
    if (page->next)
        page->next->prev = page->prev;
    page->on_list = 0;
}

/* A page in a free slice. A fresh slice reads zero; one that held a page
 * before (perhaps of another unit) has its state words cleared, so that
 * only block starts ever read anything but free. */
static ht_lfh_page *new_page(ht_heap *h, unsigned c)
{
    ht_lfh_segment *s = h->lfh_room;
    if (!s && !(s = new_segment(h)))
        return NULL;
    unsigned slot = (unsigned)__builtin_ctzll(~s->used_slices);
    s->used_slices |= 1ull << slot;
    if (s->used_slices == ~0ull)
        room_remove(h, s);
    char *slice = (char *)s + (size_t)slot * HT_LFH_SLICE;
    unsigned shift = ht_lfh_class_shift(c);
    size_t bytes = ht_class_capacity(c), words = 2 * (HT_LFH_SLICE >> shift);
    if (s->dirty_slices & (1ull << slot))
        memset(slice, 0, words);
    s->dirty_slices |= 1ull << slot;
    uint32_t capacity = (uint32_t)((HT_LFH_SLICE - words) / bytes);
    ht_lfh_page *page = &s->pages[slot];
    *page = (ht_lfh_page){.misalign = (1u << shift) - 1,
                          .blocks_offset = (uint16_t)words,
                          .shift = (uint8_t)shift,
                          .span = (uint32_t)(capacity * bytes),
                          .block_bytes = (uint32_t)bytes,
                          .reciprocal = (uint32_t)(((1ull << 32) + bytes - 1) / bytes),
                          .class_index = c,
                          .capacity = capacity};
    list_add(&h->lfh[c], page);
    return page;
}

/* An empty page gives its slice back; a segment left empty goes back to the
 * kernel unless it is the only one with room (kept against churn). */
static void release_page(ht_heap *h, ht_lfh_bin *bin, ht_lfh_page *page)
{
    if (page->on_list)
        list_remove(bin, page);
    ht_lfh_segment *s = segment_of_page(page);
    page->span = 0;
    page->misalign = UINT32_MAX;
    s->used_slices &= ~(1ull << slot_of(page));
    if (!s->on_room_list)
        room_add(h, s);
    if (s->used_slices == 1 && (s->next_room || s->prev_room))
        release_segment(h, s);
}

/* The state word of b, which a list of the heap gives as a size-class block
 * in state `expect`, and its page. Stops the process when it is not one: a
 * use after free overwrote the link that led here. */
static uint16_t *listed_block(ht_heap *h, void *b, unsigned expect, ht_lfh_page **page)
{
    ht_segment *s = ht_segmap_lookup(b);
    if (!s || s->heap != h || s->kind != HT_SEGMENT_LFH || (*page = ht_lfh_page_in(s, b))->span == 0 ||
        ht_lfh_index(*page, b) == SIZE_MAX || *ht_lfh_state(b, (*page)->shift) != expect)
        ht_heap_corrupt(h, b, "a freed block was written to after its free (list link damaged)");
    return ht_lfh_state(b, (*page)->shift);
}

unsigned ht_lfh_take(ht_heap *h, unsigned c, void **list, unsigned want)
{
    ht_lfh_bin *bin = &h->lfh[c];
    void *head = *list;
    unsigned n = 0;
    while (n < want) {
        ht_lfh_page *page = bin->pages;
        if (!page && !(page = new_page(h, c)))
            break;
        unsigned taken = n;
        void *given = page->free;
        while (n < want && given) {
            void *b = given;
            ht_lfh_page *at;
            uint16_t *state = listed_block(h, b, HT_LFH_FREE, &at);
            if (at != page)
                ht_heap_corrupt(h, b, "a freed block was written to after its free (list link damaged)");
            given = *ht_link(b);
            *state = HT_LFH_CACHED;
            *ht_link(b) = head;
            head = b;
            n++;
        }
        page->free = given;
        /* Fresh blocks go on the list from the last, so that they come off
         * it in address order. */
        unsigned fresh = page->capacity - page->bump;
        if (fresh > want - n)
            fresh = want - n;
        size_t bytes = page->block_bytes;
        char *first = page_blocks(page) + (size_t)page->bump * bytes;
        for (char *at = first + fresh * bytes; at > first;) {
            at -= bytes;
            *ht_lfh_state(at, page->shift) = HT_LFH_CACHED;
            *ht_link(at) = head;
            head = at;
        }
        __atomic_store_n(&page->bump, page->bump + fresh, __ATOMIC_RELAXED); /* find_block reads it unlocked */
        n += fresh;
        page->used += n - taken;
        if (!page->free && page->bump == page->capacity)
            list_remove(bin, page);
    }
    *list = head;
    return n;
}

void *ht_lfh_give_run(ht_heap *h, void *first, unsigned *budget)
{
    ht_lfh_page *page;
    *listed_block(h, first, HT_LFH_CACHED, &page) = HT_LFH_FREE;
    /* The blocks that follow on the list from the same page (a mass free of
     * blocks allocated together) join its free list in one splice. */
    void *last = first, *next = *ht_link(first);
    unsigned n = 1;
    while (n < *budget && next != NULL && ht_lfh_page_at(next) == page) {
        uint16_t *state = ht_lfh_state(next, page->shift);
        if (ht_lfh_index(page, next) == SIZE_MAX || *state != HT_LFH_CACHED)
            ht_heap_corrupt(h, next, "a freed block was written to after its free (list link damaged)");
        *state = HT_LFH_FREE;
        last = next;
        next = *ht_link(next);
        n++;
    }
    *budget -= n;
    *ht_link(last) = page->free;
    page->free = first;
    page->used -= n;
    ht_lfh_bin *bin = &h->lfh[page->class_index];
    if (!page->on_list)
        list_add(bin, page);
    if (page->used == 0 && (page->next || page->prev))
        release_page(h, bin, page);
    return next;
}

void ht_lfh_give_list(ht_heap *h, void *list)
{
    while (list) {
        unsigned budget = UINT32_MAX;
        list = ht_lfh_give_run(h, list, &budget);
    }
}

void ht_lfh_free(ht_heap *h, void *p)
{
    *ht_lfh_state(p, ht_lfh_page_at(p)->shift) = HT_LFH_CACHED;
    *ht_link(p) = NULL;
    ht_lfh_give_list(h, p);
}

/* ---- batches ------------------------------------------------------------------ */
/* A batch is linked through its blocks' first words; its first block holds
 * the link to the next batch in its second word (every block has at least
 * 16 bytes). */
static void **next_batch(void *first) { return (void **)first + 1; }

bool ht_lfh_push_batch(ht_heap *h, unsigned c, void *first)
{
    ht_lfh_bin *bin = &h->lfh[c];
    /* About 256 KiB of batches per class (8 to 256 of them): enough that a
     * producer/consumer pair rarely finds the bin full or empty, which sends
     * blocks through the pages one by one. */
    size_t most = (256u << 10) / ((size_t)ht_run_batch(c) * ht_class_capacity(c));
    if (bin->batch_count >= (most < 8 ? 8 : most > 256 ? 256 : most))
        return false;
    *next_batch(first) = bin->batches;
    bin->batches = first;
    bin->batch_count++;
    return true;
}

void *ht_lfh_pop_batch(ht_heap *h, unsigned c)
{
    ht_lfh_bin *bin = &h->lfh[c];
    void *first = bin->batches;
    if (!first)
        return NULL;
    bin->batches = *next_batch(first);
    bin->batch_count--;
    return first;
}

void ht_lfh_trim(ht_heap *h)
{
    for (unsigned c = 0; c < HT_CLASS_COUNT; c++) {
        void *b;
        while ((b = ht_lfh_pop_batch(h, c)) != NULL)
            ht_lfh_give_list(h, b);
        /* The page a bin keeps when it empties goes too. */
        ht_lfh_page *page = h->lfh[c].pages;
        if (page && page->used == 0 && !page->next)
            release_page(h, &h->lfh[c], page);
    }
    for (ht_lfh_segment *s = h->lfh_room, *next; s; s = next) {
        next = s->next_room;
        if (s->used_slices == 1)
            release_segment(h, s);
    }
}

void ht_lfh_note_demand(ht_heap *h, unsigned c)
{
    ht_lfh_bin *bin = &h->lfh[c];
    if (++bin->demand >= HT_LFH_ACTIVATION &&
        __atomic_load_n(&h->compat, __ATOMIC_RELAXED) == HT_HEAP_COMPAT_LFH)
        __atomic_store_n(&bin->active, 1, __ATOMIC_RELAXED);
}

/* ---- validation ------------------------------------------------------------------ */
static bool check_page(ht_lfh_page *page, const char **what, const void **where)
{
    *where = page;
    size_t bytes = page->class_index < HT_CLASS_COUNT ? ht_class_capacity(page->class_index) : 0;
    unsigned shift = bytes ? ht_lfh_class_shift(page->class_index) : 0;
    size_t words = 2 * (HT_LFH_SLICE >> shift);
    if (!bytes || page->block_bytes != bytes || page->shift != shift || page->misalign != (1u << shift) - 1 ||
        page->blocks_offset != words || page->capacity != (HT_LFH_SLICE - words) / bytes ||
        page->span != page->capacity * bytes || page->bump > page->capacity || page->used > page->bump) {
        *what = "size-class page descriptor damaged";
        return false;
    }
    /* Every unit's word: a block start's must be a state (free past the
     * bump), any other must be 0. */
    char *slice = ht_lfh_slice(page), *blocks = page_blocks(page);
    unsigned out = 0;
    for (char *at = slice; at < slice + HT_LFH_SLICE; at += (size_t)1 << shift) {
        size_t off = (size_t)(at - blocks);
        bool start = at >= blocks && off < page->span && off % bytes == 0;
        uint16_t w = *ht_lfh_state(at, shift);
        bool ok = !start || off / bytes >= page->bump ? w == HT_LFH_FREE
                  : w & HT_LFH_BUSY                  ? (w & ~HT_LFH_BUSY) <= bytes
                                                     : w == HT_LFH_FREE || w == HT_LFH_CACHED;
        if (!ok) {
            *what = "size-class block state damaged";
            *where = start ? (const void *)at : (const void *)ht_lfh_state(at, shift);
            return false;
        }
        out += start && w != HT_LFH_FREE;
    }
    unsigned listed = 0;
    for (void *b = page->free; b; b = *ht_link(b)) {
        size_t i = ht_lfh_page_at(b) == page ? ht_lfh_index(page, b) : SIZE_MAX;
        if (i == SIZE_MAX || i >= page->bump || *ht_lfh_state(b, shift) != HT_LFH_FREE ||
            ++listed > page->bump) {
            *what = "size-class free list damaged";
            *where = b;
            return false;
        }
    }
    if (out != page->used || listed != page->bump - page->used) {
        *what = "size-class page counters damaged";
        return false;
    }
    return true;
}

bool ht_lfh_check_segment(ht_lfh_segment *s, const char **what, const void **where)
{
    if (!(s->used_slices & 1)) {
        *what = "size-class region header damaged";
        *where = s;
        return false;
    }
    for (unsigned slot = 1; slot < HT_LFH_SLICES; slot++) {
        if (!((s->used_slices >> slot) & 1))
            continue;
        if (!check_page(&s->pages[slot], what, where))
            return false;
    }
    return true;
}
