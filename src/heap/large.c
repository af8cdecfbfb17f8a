/* Large blocks (MEMORY_FROM_SLOWPATH): a request of HT_LARGE_MIN bytes or
 * more gets a segment of its own, straight from the kernel, given back on
 * free; realloc moves it with mremap, without copying. The segment is in the
 * heap's segment list (a region of the walk) under the heap's lock. */
#include <errno.h>

#include "heap/heap_internal.h"

#define SEGMENT_HEADER ((sizeof(ht_segment) + 15) & ~(size_t)15)
#define PAGE ((size_t)4096)

/* Bytes before the caller's first byte: the segment header and the block
 * header, more when the block must be aligned beyond 16 bytes. */
static size_t lead_for(size_t align)
{
    size_t lead = SEGMENT_HEADER + HT_BLOCK_HEADER;
    return align > 16 ? (lead + align - 1) & ~(align - 1) : lead;
}

static size_t mapping_for(size_t lead, size_t size)
{
    size_t total = lead + size;
    if (total < size)
        return 0;
    return (total + PAGE - 1) & ~(PAGE - 1);
}

/* The block's segment starts on the granule the block header is in. */
static ht_segment *segment_of(const ht_block *b) { return (ht_segment *)((uintptr_t)b & ~(HT_GRANULE - 1)); }

static ht_block *block_of(ht_segment *s) { return (ht_block *)((char *)s + s->first_block); }

static ht_block *set_up(ht_heap *h, ht_segment *s, size_t lead, size_t map, size_t size)
{
    s->magic = HT_SEGMENT_MAGIC;
    s->heap = h;
    s->size = map;
    s->kind = HT_SEGMENT_LARGE;
    s->first_block = lead - HT_BLOCK_HEADER;
    s->permanent = 0;
    ht_block *b = block_of(s);
    b->prev16 = 0;
    b->size16 = 0;
    b->slack = (uint32_t)(map - lead - size);
    ht_tag_store(b, ht_make_tag(b, h->cookie, HT_STATE_BUSY_LARGE));
    return b;
}

ht_block *ht_large_alloc(ht_heap *h, size_t size, size_t align)
{
    if (align >= HT_GRANULE) {
        errno = EINVAL;
        return NULL;
    }
    size_t lead = lead_for(align), map = mapping_for(lead, size);
    ht_segment *s = map ? ht_pages_map(map, HT_GRANULE) : NULL;
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    s->size = map;
    if (!ht_segmap_register(s)) {
        ht_pages_unmap(s, map);
        errno = ENOMEM;
        return NULL;
    }
    ht_block *b = set_up(h, s, lead, map, size);
    ht_segment_link(h, s);
    return b;
}

size_t ht_large_capacity(const ht_block *b)
{
    const ht_segment *s = segment_of(b);
    return s->size - s->first_block - HT_BLOCK_HEADER;
}

void ht_large_free(ht_heap *h, ht_block *b)
{
    ht_segment *s = segment_of(b);
    ht_segment_unlink(h, s);
    ht_segmap_unregister(s);
    s->magic = 0;
    ht_tag_store(b, 0);
    ht_pages_unmap(s, s->size);
}

ht_block *ht_large_resize(ht_heap *h, ht_block *b, size_t size, bool may_move)
{
    ht_segment *s = segment_of(b);
    size_t lead = s->first_block + HT_BLOCK_HEADER, map = mapping_for(lead, size);
    if (!map) {
        errno = ENOMEM;
        return NULL;
    }
    if (map == s->size) {
        b->slack = (uint32_t)(map - lead - size);
        return b;
    }
    /* The segment map follows the mapping's extent: out while it changes. */
    ht_segment_unlink(h, s);
    ht_segmap_unregister(s);
    ht_segment *now = s;
    size_t old = s->size;
    if (ht_pages_resize(s, old, map, NULL) == s) {
        /* Shrunk (always in place), or grown into free address space after it. */
        now->size = map;
    } else if (may_move) {
        /* Move the pages, without copying them, onto a granule-aligned
         * mapping: segments must start on a granule. */
        void *dest = ht_pages_map(map, HT_GRANULE);
        if (dest && ht_pages_resize(s, old, map, dest) == dest) {
            now = dest;
            now->size = map;
        } else if (dest) {
            ht_pages_unmap(dest, map);
        }
    }
    bool resized = now->size == map;
    if (!ht_segmap_register(now))
        ht_heap_corrupt(h, ht_payload_of(block_of(now)), "no memory left to enter a moved large block in the segment map");
    ht_segment_link(h, now);
    ht_block *nb = block_of(now);
    if (!resized) {
        errno = ENOMEM;
        return NULL;
    }
    nb->slack = (uint32_t)(map - lead - size);
    ht_tag_store(nb, ht_make_tag(nb, h->cookie, HT_STATE_BUSY_LARGE));
    return nb;
}
