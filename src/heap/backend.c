/* The back end (MEMORY_FROM_MAINPATH): segments cut into blocks with boundary
 * tags, segregated free lists, splitting on allocation and coalescing on free.
 * Adding a segment is the heap's growth (MEMORY_FROM_SLOWPATH, an Expand
 * event); giving an empty one back is a Contract. Every function here runs
 * under the heap's lock.
 *
 * A segment: its header, on the first segment the heap object, then blocks
 * up to a 16-byte END sentinel. Each block records its own size and its
 * predecessor's, so a freed block finds both neighbours in O(1). */
#include <errno.h>
#include <string.h>

#include "heap/heap_internal.h"
#include "heap/trace.h"

#define SEGMENT_HEADER ((sizeof(ht_segment) + 15) & ~(size_t)15)

/* Free-list bin of a block of size16 units: exact below 1 KiB, then four
 * bins per doubling. */
static unsigned bin_of(size_t size16)
{
    if (size16 < 64)
        return (unsigned)size16;
    unsigned lg = 63u - (unsigned)__builtin_clzll((unsigned long long)size16);
    unsigned i = 64 + (lg - 6) * 4 + (unsigned)((size16 >> (lg - 2)) & 3u);
    return i < HT_FREE_BINS ? i : HT_FREE_BINS - 1;
}

static void bin_insert(ht_heap *h, ht_free_block *f)
{
    unsigned i = bin_of(f->header.size16);
    f->prev = NULL;
    f->next = h->bins[i];
    if (f->next)
        f->next->prev = f;
    h->bins[i] = f;
    h->bin_map[i / 64] |= 1ull << (i % 64);
    ht_tag_store(&f->header, ht_make_tag(&f->header, h->cookie, HT_STATE_FREE));
    h->free_space += (size_t)f->header.size16 * 16;
}

static void bin_remove(ht_heap *h, ht_free_block *f)
{
    unsigned i = bin_of(f->header.size16);
    if (f->prev)
        f->prev->next = f->next;
    else
        h->bins[i] = f->next;
    if (f->next)
        f->next->prev = f->prev;
    if (!h->bins[i])
        h->bin_map[i / 64] &= ~(1ull << (i % 64));
    h->free_space -= (size_t)f->header.size16 * 16;
}

/* The first block able to hold need16 units, or NULL. */
static ht_free_block *find_fit(ht_heap *h, size_t need16)
{
    unsigned i = bin_of(need16);
    /* Bins above the exact range hold a span of sizes: look through the
     * request's own bin first. */
    for (ht_free_block *f = h->bins[i]; f; f = f->next)
        if (f->header.size16 >= need16)
            return f;
    for (unsigned w = (i + 1) / 64; w < HT_FREE_BINS / 64; w++) {
        uint64_t bits = h->bin_map[w];
        if (w == (i + 1) / 64)
            bits &= ~0ull << ((i + 1) % 64);
        if (bits)
            return h->bins[w * 64 + (unsigned)__builtin_ctzll(bits)];
    }
    return NULL;
}

void ht_backend_init(ht_heap *h)
{
    memset(h->bins, 0, sizeof h->bins);
    memset(h->bin_map, 0, sizeof h->bin_map);
    h->free_space = 0;
}

#define HEAP_OBJECT ((sizeof(ht_heap) + 15) & ~(size_t)15)

static ht_segment *map_segment(size_t lead, size_t usable)
{
    size_t size = lead + usable + HT_BLOCK_HEADER;
    size = (size + 65535) & ~(size_t)65535;
    if (size < usable || (size - lead) / 16 > UINT32_MAX)
        return NULL;
    ht_segment *s = ht_pages_map(size, HT_GRANULE);
    if (!s)
        return NULL;
    s->magic = HT_SEGMENT_MAGIC;
    s->size = size;
    s->kind = HT_SEGMENT_BACKEND;
    s->first_block = lead;
    if (!ht_segmap_register(s)) {
        ht_pages_unmap(s, size);
        return NULL;
    }
    return s;
}

void ht_segment_link(ht_heap *h, ht_segment *s)
{
    s->heap = h;
    s->index = h->region_count++;
    s->prev = NULL;
    s->next = h->segments;
    if (s->next)
        s->next->prev = s;
    h->segments = s;
    h->committed += s->size;
}

void ht_segment_unlink(ht_heap *h, ht_segment *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        h->segments = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (h->spare == s)
        h->spare = NULL;
    h->committed -= s->size;
}

/* Link s into h and make its space one free block before the END sentinel. */
static void install_segment(ht_heap *h, ht_segment *s)
{
    ht_segment_link(h, s);

    ht_block *end = (ht_block *)((char *)s + s->size - HT_BLOCK_HEADER);
    ht_free_block *f = (ht_free_block *)((char *)s + s->first_block);
    f->header.prev16 = 0;
    f->header.size16 = (uint32_t)(((char *)end - (char *)f) / 16);
    f->header.slack = 0;
    end->prev16 = f->header.size16;
    end->size16 = 0;
    end->slack = 0;
    ht_tag_store(end, ht_make_tag(end, h->cookie, HT_STATE_END));
    bin_insert(h, f);
}

ht_segment *ht_backend_add_segment(ht_heap *h, size_t usable)
{
    ht_segment *s = map_segment(SEGMENT_HEADER, usable);
    if (!s)
        return NULL;
    s->permanent = 0;
    install_segment(h, s);
    ht_trace_extent(HT_EVENT_HEAP_EXPAND, h, s, s->size);
    return s;
}

ht_heap *ht_backend_new_heap(size_t bytes, uint32_t cookie, size_t maximum)
{
    size_t lead = SEGMENT_HEADER + HEAP_OBJECT;
    if (bytes < lead + HT_BLOCK_HEADER + 65536)
        bytes = lead + HT_BLOCK_HEADER + 65536;
    ht_segment *s = map_segment(lead, bytes - lead - HT_BLOCK_HEADER);
    if (!s)
        return NULL;
    s->permanent = 1;
    ht_heap *h = (ht_heap *)((char *)s + SEGMENT_HEADER);
    h->cookie = cookie;
    h->maximum = maximum;
    ht_backend_init(h);
    install_segment(h, s);
    return h;
}

void ht_backend_release_segment(ht_heap *h, ht_segment *s)
{
    ht_free_block *f = (ht_free_block *)((char *)s + s->first_block);
    if (s->kind == HT_SEGMENT_BACKEND)
        bin_remove(h, f);
    ht_segment_unlink(h, s);
    ht_segmap_unregister(s);
    ht_trace_extent(HT_EVENT_HEAP_CONTRACT, h, s, s->size);
    s->magic = 0;
    ht_pages_unmap(s, s->size);
}

/* Cut b to need16 units when the rest makes a block of its own; the rest
 * goes back (coalesced with a free successor). */
static void split(ht_heap *h, ht_block *b, size_t need16)
{
    size_t rest16 = b->size16 - need16;
    if (rest16 * 16 < HT_MIN_BLOCK)
        return;
    ht_block *next = ht_backend_next(b);
    b->size16 = (uint32_t)need16;
    ht_free_block *r = (ht_free_block *)ht_backend_next(b);
    r->header.prev16 = (uint32_t)need16;
    r->header.slack = 0;
    if (ht_block_state(next, h->cookie) == HT_STATE_FREE) {
        bin_remove(h, (ht_free_block *)next);
        rest16 += next->size16;
        next = ht_backend_next(next);
    }
    r->header.size16 = (uint32_t)rest16;
    next->prev16 = (uint32_t)rest16;
    bin_insert(h, r);
}

static ht_segment *segment_of(const ht_block *b) { return ht_segmap_lookup(b); }

ht_block *ht_backend_alloc(ht_heap *h, size_t bytes, bool *grew)
{
    size_t need16 = bytes / 16;
    *grew = false;
    ht_free_block *f = find_fit(h, need16);
    if (!f) {
        if (h->maximum) {
            errno = ENOMEM;
            return NULL;
        }
        size_t usable = bytes + HT_MIN_BLOCK > HT_GRANULE / 2 ? bytes + HT_MIN_BLOCK : HT_GRANULE - 65536;
        if (!ht_backend_add_segment(h, usable)) {
            errno = ENOMEM;
            return NULL;
        }
        *grew = true;
        f = find_fit(h, need16);
        if (!f) {
            errno = ENOMEM;
            return NULL;
        }
    }
    bin_remove(h, f);
    ht_block *b = &f->header;
    split(h, b, need16);
    if (h->spare && segment_of(b) == h->spare)
        h->spare = NULL;
    ht_tag_store(b, ht_make_tag(b, h->cookie, HT_STATE_BUSY_MAIN));
    return b;
}

ht_block *ht_backend_alloc_aligned(ht_heap *h, size_t bytes, size_t align, bool *grew)
{
    /* Room for the block, the alignment, and a free block cut off in front. */
    size_t room = bytes + align + HT_MIN_BLOCK;
    if (room < bytes) {
        errno = ENOMEM;
        return NULL;
    }
    ht_block *b = ht_backend_alloc(h, room, grew);
    if (!b)
        return NULL;
    uintptr_t payload = (uintptr_t)ht_payload_of(b);
    if (payload & (align - 1)) {
        uintptr_t want = (payload + HT_MIN_BLOCK + align - 1) & ~(uintptr_t)(align - 1);
        size_t front16 = (want - payload) / 16;
        ht_block *nb = ht_header_of((void *)want);
        nb->size16 = (uint32_t)(b->size16 - front16);
        nb->prev16 = (uint32_t)front16;
        nb->slack = 0;
        ht_tag_store(nb, ht_make_tag(nb, h->cookie, HT_STATE_BUSY_MAIN));
        ht_backend_next(nb)->prev16 = nb->size16;
        b->size16 = (uint32_t)front16;
        ht_backend_free(h, b); /* still tagged busy: the front goes back as a free block */
        b = nb;
    }
    split(h, b, bytes / 16);
    return b;
}

/* A block that spans its whole segment makes the segment empty: keep one
 * such segment as a spare, give the others back. */
static void maybe_release(ht_heap *h, ht_block *b)
{
    if (b->prev16 != 0 || ht_block_state(ht_backend_next(b), h->cookie) != HT_STATE_END)
        return;
    ht_segment *s = segment_of(b);
    if (!s || s->permanent || s == h->spare)
        return;
    if (!h->spare) {
        h->spare = s;
        return;
    }
    ht_backend_release_segment(h, s);
}

void ht_backend_free(ht_heap *h, ht_block *b)
{
    ht_block *next = ht_backend_next(b);
    if (ht_block_state(next, h->cookie) == HT_STATE_FREE) {
        bin_remove(h, (ht_free_block *)next);
        b->size16 += next->size16;
    }
    if (b->prev16) {
        ht_block *prev = (ht_block *)((char *)b - (size_t)b->prev16 * 16);
        if (ht_block_state(prev, h->cookie) == HT_STATE_FREE) {
            bin_remove(h, (ht_free_block *)prev);
            prev->size16 += b->size16;
            ht_tag_store(b, 0); /* no longer a header: a stale pointer to it must not check */
            b = prev;
        }
    }
    ht_backend_next(b)->prev16 = b->size16;
    b->slack = 0;
    bin_insert(h, (ht_free_block *)b);
    maybe_release(h, b);
}

bool ht_backend_resize(ht_heap *h, ht_block *b, size_t bytes)
{
    size_t need16 = bytes / 16;
    if (need16 <= b->size16) {
        split(h, b, need16);
        return true;
    }
    ht_block *next = ht_backend_next(b);
    if (ht_block_state(next, h->cookie) != HT_STATE_FREE || b->size16 + (size_t)next->size16 < need16)
        return false;
    bin_remove(h, (ht_free_block *)next);
    b->size16 += next->size16;
    ht_tag_store(next, 0);
    ht_backend_next(b)->prev16 = b->size16;
    if (h->spare && segment_of(b) == h->spare)
        h->spare = NULL;
    split(h, b, need16);
    return true;
}

size_t ht_backend_largest_free(ht_heap *h)
{
    for (unsigned i = HT_FREE_BINS; i-- > 0;)
        if (h->bins[i]) {
            size_t best = 0;
            for (ht_free_block *f = h->bins[i]; f; f = f->next)
                if (f->header.size16 > best)
                    best = f->header.size16;
            return best * 16 - HT_BLOCK_HEADER;
        }
    return 0;
}

unsigned ht_backend_trim(ht_heap *h)
{
    unsigned released = 0;
    for (ht_segment *s = h->segments, *next; s; s = next) {
        next = s->next;
        if (s->kind != HT_SEGMENT_BACKEND || s->permanent)
            continue;
        ht_block *first = (ht_block *)((char *)s + s->first_block);
        if (ht_block_state(first, h->cookie) == HT_STATE_FREE &&
            ht_block_state(ht_backend_next(first), h->cookie) == HT_STATE_END) {
            ht_backend_release_segment(h, s);
            released++;
        }
    }
    return released;
}

/* Walk every back-end segment: each header must check, sizes must chain to
 * the END sentinel, each block must name its predecessor's size, no two free
 * blocks may touch, and the free lists must hold exactly the free blocks. */
bool ht_backend_check(ht_heap *h, const char **what, const void **where)
{
    size_t free_blocks = 0, free_bytes = 0;
    for (ht_segment *s = h->segments; s; s = s->next) {
        if (s->magic != HT_SEGMENT_MAGIC || s->heap != h || ht_segmap_lookup(s) != s) {
            *what = "region header damaged";
            *where = s;
            return false;
        }
        if (s->kind != HT_SEGMENT_BACKEND)
            continue;
        char *limit = (char *)s + s->size - HT_BLOCK_HEADER;
        ht_block *b = (ht_block *)((char *)s + s->first_block);
        uint32_t prev16 = 0;
        unsigned prev_state = 0;
        for (;;) {
            unsigned state = ht_block_state(b, h->cookie);
            bool known = state == HT_STATE_FREE || state == HT_STATE_BUSY_MAIN || state == HT_STATE_CACHED_MAIN ||
                         state == HT_STATE_END;
            if (!known || b->prev16 != prev16) {
                *what = "block header damaged";
                *where = ht_payload_of(b);
                return false;
            }
            if (state == HT_STATE_END)
                break;
            if (b->size16 * (size_t)16 < HT_MIN_BLOCK || (char *)b + (size_t)b->size16 * 16 > limit) {
                *what = "block size damaged";
                *where = ht_payload_of(b);
                return false;
            }
            if (state == HT_STATE_FREE) {
                if (prev_state == HT_STATE_FREE) {
                    *what = "two free blocks side by side";
                    *where = ht_payload_of(b);
                    return false;
                }
                free_blocks++;
                free_bytes += (size_t)b->size16 * 16;
            }
            prev16 = b->size16;
            prev_state = state;
            b = ht_backend_next(b);
        }
        if ((char *)b != limit) {
            *what = "blocks overrun their region";
            *where = b;
            return false;
        }
    }
    size_t listed = 0;
    for (unsigned i = 0; i < HT_FREE_BINS; i++)
        for (ht_free_block *f = h->bins[i]; f; f = f->next) {
            if (ht_block_state(&f->header, h->cookie) != HT_STATE_FREE || bin_of(f->header.size16) != i ||
                ++listed > free_blocks) {
                *what = "free list damaged";
                *where = f;
                return false;
            }
        }
    if (listed != free_blocks || free_bytes != h->free_space) {
        *what = "free lists do not match the free blocks";
        *where = h;
        return false;
    }
    return true;
}
