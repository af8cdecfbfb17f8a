/* The heaptrail heap's shared structures: block headers, segments, size
 * classes, the heap object and the per-thread caches. docs/HEAP.md tells the
 * design; each path has its own file (lookaside.c, lfh.c, backend.c,
 * large.c), os.c talks to the kernel, heap.c is the public API. */
#ifndef HT_HEAP_INTERNAL_H
#define HT_HEAP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heaptrail/events.h"
#include "heaptrail/heap.h"

#define HT_HEAP_HIDDEN __attribute__((visibility("hidden")))
#define ht_likely(x) __builtin_expect(!!(x), 1)
#define ht_unlikely(x) __builtin_expect(!!(x), 0)

/* ---- blocks ----------------------------------------------------------------
 * A block of the back end or a large block starts with a 16-byte header; the
 * caller's bytes follow it, so they are 16-byte aligned. The tag holds the
 * block's state in its low four bits and, above them, a check word derived
 * from the header's address and the heap's cookie: a header that was
 * overwritten, or an address that is not a block, fails the check.
 * Size-class blocks of the LFH have no header: their state is kept in their
 * page (below). */
typedef struct ht_block {
    uint32_t prev16; /* previous block's size / 16 (0: first) */
    uint32_t size16; /* whole block (header included) / 16; 0 for a large block */
    uint32_t slack;  /* capacity - requested size */
    uint32_t tag;
} ht_block;

#define HT_BLOCK_HEADER 16u
#define HT_MIN_BLOCK 32u /* header and two free-list links */

enum ht_block_state {
    HT_STATE_FREE = 1,        /* back-end block on a free list */
    HT_STATE_BUSY_MAIN = 2,   /* live back-end block */
    HT_STATE_BUSY_LFH = 3,    /* live size-class block (kept in its page, never in a header) */
    HT_STATE_BUSY_LARGE = 4,  /* live block mapped on its own */
    HT_STATE_CACHED_MAIN = 5, /* freed back-end block resting in a lookaside */
    HT_STATE_END = 8,         /* sentinel at the end of a segment */
};

/* A cached state is its busy state plus this: a lookaside push or pop adds
 * or subtracts it from the tag. */
#define HT_STATE_CACHED_DELTA (HT_STATE_CACHED_MAIN - HT_STATE_BUSY_MAIN)

static inline uint32_t ht_tag_check(const void *header, uint32_t cookie)
{
    /* One xor: cheap on every operation, and still different for every
     * header position (within 4 GiB) and every heap (the cookie is random
     * per heap). Headers are 16-byte aligned and a cookie's low four bits are
     * 0, so the check word of a header leaves the state's bits clear. */
    return (uint32_t)(uintptr_t)header ^ cookie;
}

static inline uint32_t ht_make_tag(const ht_block *b, uint32_t cookie, unsigned state)
{
    return ht_tag_check(b, cookie) | state;
}

/* A tag is read and written whole, without ordering (a plain move on x86):
 * a thread's lock-free paths change the tags of the blocks its caches hold
 * while another thread, under the heap's lock, may read them as the
 * neighbours of a block it frees (cached or busy: not free either way). */
static inline uint32_t ht_tag_load(const ht_block *b) { return __atomic_load_n(&b->tag, __ATOMIC_RELAXED); }
static inline void ht_tag_store(ht_block *b, uint32_t tag) { __atomic_store_n(&b->tag, tag, __ATOMIC_RELAXED); }

/* Change the state of a block whose tag checks: its check word stays. */
static inline void ht_retag(ht_block *b, unsigned state) { ht_tag_store(b, (ht_tag_load(b) & ~0xFu) | state); }

/* Tag xor check word of a 16-byte aligned header: the block's state when
 * the tag checks, 16 or more when it does not. One xor and one compare tell
 * a block of one expected state (or of two adjacent ones) on the fast paths. */
static inline uint32_t ht_tag_state(const ht_block *b, uint32_t cookie) { return ht_tag_load(b) ^ ht_tag_check(b, cookie); }

/* The state of b, or 0 when its tag does not check. */
static inline unsigned ht_block_state(const ht_block *b, uint32_t cookie)
{
    uint32_t state = ht_tag_state(b, cookie);
    return state < 16 ? state : 0;
}

static inline ht_block *ht_header_of(const void *p) { return (ht_block *)((uintptr_t)p - HT_BLOCK_HEADER); }
/* The caller's bytes of a back-end block: its size less the header. */
static inline size_t ht_main_capacity(const ht_block *b) { return (size_t)b->size16 * 16 - HT_BLOCK_HEADER; }
static inline void *ht_payload_of(ht_block *b) { return (char *)b + HT_BLOCK_HEADER; }

/* ---- size classes (lookaside and LFH) --------------------------------------
 * 16-byte steps up to 1 KiB, then eight classes per doubling up to 16 KiB
 * (at most 12.5% of a block unused: with four, sqlite's 1032- and 4368-byte
 * blocks, most of its peak, took 1280 and 5120 bytes). */
#define HT_CLASS_COUNT 96
#define HT_SMALL_MAX 16384u

/* A size_t, so that indexing with it needs no widening on the fast paths. */
static inline size_t ht_size_class(size_t size)
{
    if (size <= 1024)
        return (size - (size != 0)) >> 4; /* (size - 1) / 16, and 0 for 0 */
    unsigned lg = 63u - (unsigned)__builtin_clzll((unsigned long long)(size - 1)); /* 10..13 */
    unsigned step = (unsigned)((size - 1) >> (lg - 3)) & 7u;
    return 64 + (lg - 10) * 8 + step;
}

/* Bytes a block of this class can hold. */
static inline size_t ht_class_capacity(unsigned c)
{
    if (c < 64)
        return (size_t)(c + 1) * 16;
    unsigned k = c - 64;
    return ((size_t)8 + (k & 7u) + 1) << (k / 8 + 7);
}

/* ---- segments --------------------------------------------------------------
 * The heap's memory comes in segments: mappings aligned to HT_GRANULE, with
 * this header first. Every granule of a segment is entered in the segment map
 * (os.c), which is how a pointer is known to be the heap's, and whose. */
#define HT_GRANULE ((size_t)4 << 20)
#define HT_SEGMENT_MAGIC 0x48545345474d4e54ull

enum ht_segment_kind { HT_SEGMENT_BACKEND = 1, HT_SEGMENT_LARGE = 2, HT_SEGMENT_LFH = 3 };

typedef struct ht_segment {
    uint64_t magic;
    struct ht_heap *heap;
    size_t size; /* bytes mapped */
    uint32_t kind;
    uint32_t index; /* region index within the heap at creation (walk order) */
    struct ht_segment *next, *prev;
    size_t first_block; /* offset of the first block (back end) or of the large block */
    uint32_t permanent; /* the heap's first segment: it lives as long as the heap */
} ht_segment;

/* ---- the back end's free lists ------------------------------------------ */
#define HT_FREE_BINS 192

typedef struct ht_free_block {
    ht_block header;
    struct ht_free_block *next, *prev;
} ht_free_block;

/* ---- the LFH ----------------------------------------------------------------
 * Size-class blocks live in LFH segments: one granule each, cut into 64 KiB
 * slices; the first slice holds the segment's header, every other slice can
 * be a page of one size class. A page has no per-block header. Its slice is
 * cut into units of 2^shift bytes, the largest power of two (up to 256) that
 * divides the class's capacity, and starts with one 16-bit state word per
 * unit, then the blocks; the pages' descriptors are in the segment's first
 * slice, one line each. The state of the block at p is the word at its
 * slice's start plus 2 * (p's offset in the slice >> shift): a free finds it
 * with a mask and two shifts, without a division or a load of the block's own
 * cache line. The words of units that are not a block's start (inside a
 * block, inside the words) stay 0, which no live block start has, so that a
 * pointer into the middle of a block is told from a block. A larger unit
 * means fewer words: 8 KiB of them at 16-byte units, 512 bytes at 256. */
#define HT_LFH_SLICE ((size_t)64 << 10)
#define HT_LFH_SLICES ((unsigned)(HT_GRANULE / HT_LFH_SLICE))
#define HT_LFH_MAX_SHIFT 8u

/* A block's state word: busy with its slack (capacity - requested size) in
 * the low bits, cached (in a thread's lookaside or run, or a bin's batch), or
 * free in its page (never handed out yet, or given back); units that are not
 * a block's start always read free. */
#define HT_LFH_BUSY 0x8000u
#define HT_LFH_CACHED 1u
#define HT_LFH_FREE 0u

typedef struct ht_lfh_page {
    /* Address bits a block start never has: 2^shift - 1, or every bit while
     * the slice holds no page (so that no address of it passes). */
    uint32_t misalign;
    uint16_t blocks_offset; /* of the first block in the slice: the state words' size */
    uint8_t shift;
    uint8_t on_list;
    uint32_t span;          /* capacity * block_bytes; 0 while the slice holds no page */
    uint32_t block_bytes;   /* the class's capacity */
    uint32_t reciprocal;    /* ceil(2^32 / block_bytes): offset / block_bytes as a multiply */
    uint32_t class_index;
    uint32_t capacity;      /* blocks the page holds */
    uint32_t bump;          /* blocks cut so far (the others were never handed out) */
    uint32_t used;          /* blocks out of the page (live or cached) */
    void *free;             /* blocks given back to the page (LIFO, linked through their first word) */
    struct ht_lfh_page *next, *prev; /* the bin's list of pages with room */
} __attribute__((aligned(64))) ht_lfh_page;

_Static_assert(sizeof(ht_lfh_page) == 64, "a page descriptor is one cache line");

typedef struct ht_lfh_segment {
    ht_segment base;
    uint64_t used_slices;  /* bit i: slice i is a page (bit 0, the header's, always set) */
    uint64_t dirty_slices; /* bit i: slice i was a page once: its state words need clearing */
    struct ht_lfh_segment *next_room, *prev_room; /* the heap's LFH segments with a free slice */
    uint32_t on_room_list;
    ht_lfh_page pages[HT_LFH_SLICES]; /* one per slice; [0], the header's, never a page */
} ht_lfh_segment;

_Static_assert(sizeof(ht_lfh_segment) <= HT_LFH_SLICE, "the LFH segment header fits its first slice");

/* The unit of class c's pages: the largest power of two up to 256 that
 * divides its capacity (capacities up to 1 KiB are multiples of 16, up to
 * 2 KiB of 128, larger ones of 256). */
static inline unsigned ht_lfh_class_shift(size_t c)
{
    unsigned s = (unsigned)__builtin_ctzll((unsigned long long)ht_class_capacity((unsigned)c));
    return s > HT_LFH_MAX_SHIFT ? HT_LFH_MAX_SHIFT : s;
}

/* The descriptor of the slice an address of LFH segment s falls in. */
static inline ht_lfh_page *ht_lfh_page_in(ht_segment *s, const void *p)
{
    return &((ht_lfh_segment *)s)->pages[((uintptr_t)p / HT_LFH_SLICE) % HT_LFH_SLICES];
}

static inline ht_lfh_page *ht_lfh_page_at(const void *p)
{
    return ht_lfh_page_in((ht_segment *)((uintptr_t)p & ~(uintptr_t)(HT_GRANULE - 1)), p);
}

/* The slice a descriptor describes. */
static inline char *ht_lfh_slice(const ht_lfh_page *page)
{
    ht_lfh_segment *s = (ht_lfh_segment *)((uintptr_t)page & ~(uintptr_t)(HT_GRANULE - 1));
    return (char *)s + (size_t)(page - s->pages) * HT_LFH_SLICE;
}

/* The state word of the unit at p in a slice of units of 2^shift bytes. */
static inline uint16_t *ht_lfh_state(const void *p, unsigned shift)
{
    uintptr_t a = (uintptr_t)p;
    return (uint16_t *)((a & ~(uintptr_t)(HT_LFH_SLICE - 1)) | (((a & (HT_LFH_SLICE - 1)) >> shift) << 1));
}

/* The index of block p in its page, or SIZE_MAX when p is not the start of
 * one of the page's blocks (the full paths: the fast ones need only the
 * state word). One multiply gives both the quotient (the high half) and
 * whether the division is exact (the low half below the reciprocal):
 * offsets stay below 2^16 and blocks below 2^15 bytes, for which a 32-bit
 * reciprocal is precise enough for both. */
static inline size_t ht_lfh_index(const ht_lfh_page *page, const void *p)
{
    size_t off = ((uintptr_t)p & (HT_LFH_SLICE - 1)) - page->blocks_offset;
    uint64_t product = (uint64_t)(uint32_t)off * page->reciprocal;
    return off < page->span && (uint32_t)product < page->reciprocal ? (size_t)(product >> 32) : SIZE_MAX;
}

typedef struct ht_lfh_bin {
    ht_lfh_page *pages; /* pages with room */
    void *batches;      /* whole batches of cached blocks between threads (ht_run_batch blocks each) */
    uint32_t batch_count;
    uint32_t demand;    /* back-end allocations of the class so far */
    uint32_t active;    /* atomic: read by the lock-free paths */
} ht_lfh_bin;

#define HT_LFH_ACTIVATION 18 /* back-end allocations of a class before its LFH bin opens */

/* The list link of a cached or page-free size-class block: its first word. */
static inline void **ht_link(void *p) { return (void **)p; }

/* ---- the heap ----------------------------------------------------------- */
#define HT_HEAP_MAGIC 0x4854484541503031ull

struct ht_heap {
    uint64_t magic;
    uint64_t serial; /* never reused: tells a thread's cache of a destroyed heap */
    uint32_t cache_slot; /* which of a thread's cache slots is this heap's */
    uint32_t cookie;
    uint32_t compat;       /* HT_HEAP_COMPAT_*, atomic */
    uint32_t error_policy; /* HT_HEAP_ON_ERROR_* */
    unsigned flags;
    size_t maximum; /* 0: growable */
    pthread_mutex_t lock; /* adaptive; recursive by the two fields below (heap.c) */
    pthread_t lock_owner; /* atomic: 0 or the holder */
    unsigned lock_depth;  /* the holder's */
    ht_segment *segments;
    ht_segment *spare; /* an empty segment kept against grow/shrink churn */
    unsigned region_count;
    uint64_t bin_map[HT_FREE_BINS / 64];
    ht_free_block *bins[HT_FREE_BINS];
    ht_lfh_bin lfh[HT_CLASS_COUNT];
    ht_lfh_segment *lfh_room; /* LFH segments with a free slice */
    size_t committed;  /* bytes mapped for the heap */
    size_t free_space; /* bytes in back-end free blocks */
    struct ht_heap *next, *prev; /* the process's heaps */
};

/* ---- per-thread caches (lookaside.c) ---------------------------------------
 * For each heap a thread uses (the process heap in slot 0, others hashed by
 * serial into the rest), LIFO lists per size class: the lookaside (blocks
 * this thread freed) and the run (blocks taken in a batch from the LFH). The
 * lookaside is two lists, one per kind of block: size-class blocks (no
 * header, linked through their first word) and back-end blocks of the
 * class's size (headers; a class's blocks come from the back end until its
 * LFH bin opens, and always in a heap without the LFH). */
#define HT_CACHE_SLOTS 8

typedef struct ht_class_cache {
    void *lookaside;        /* size-class blocks */
    void *run;              /* size-class blocks */
    ht_block *lookaside_main; /* back-end blocks, linked through their first payload word */
    /* Blocks the lookaside may still take: its limit (ht_lookaside_limits)
     * less the blocks its two lists hold, so that a free tests one word. A
     * run ends where it ends. */
    uint32_t lookaside_room;
    uint32_t shift; /* ht_lfh_class_shift of the class: where a popped block's state word is */
} __attribute__((aligned(32))) ht_class_cache; /* 32 bytes: the fast paths index by a shift */

/* Back-end blocks between the size classes and the large blocks (capacity
 * above HT_SMALL_MAX, below HT_LARGE_MIN) that a thread freed wait in its
 * cache too, so that its buffers of tens or hundreds of KiB go round
 * without the heap's lock: a list per medium class, four classes a
 * doubling of capacity (a class holds the capacities from its lower bound
 * to the next class's), at most HT_MEDIUM_PER_CLASS blocks each and
 * HT_MEDIUM_BUDGET bytes in all. */
#define HT_MEDIUM_CLASSES 24 /* 16 KiB to 1 MiB */
#define HT_MEDIUM_PER_CLASS 4u
#define HT_MEDIUM_BUDGET ((size_t)512 << 10)

typedef struct ht_heap_cache {
    uint64_t serial; /* 0: unused */
    struct ht_heap *heap;
    ht_class_cache classes[HT_CLASS_COUNT];
    ht_block *medium[HT_MEDIUM_CLASSES]; /* linked through their first payload word */
    uint8_t medium_count[HT_MEDIUM_CLASSES];
    size_t medium_bytes; /* the capacities of the blocks the medium lists hold */
} ht_heap_cache;

/* The medium class of a back-end block of `capacity` bytes (> HT_SMALL_MAX):
 * the class whose lower bound is the largest at or below it;
 * HT_MEDIUM_CLASSES and above from 1 MiB on. */
static inline unsigned ht_medium_class(size_t capacity)
{
    unsigned e = 63u - (unsigned)__builtin_clzll((unsigned long long)capacity); /* 14 and up */
    return (e - 14u) * 4u + (unsigned)((capacity >> (e - 2u)) & 3u);
}

typedef struct ht_thread_cache {
    ht_heap_cache slots[HT_CACHE_SLOTS];
    struct ht_thread_cache *next; /* registry of caches in use, or the pool of idle ones */
    struct ht_thread_cache *prev;
} ht_thread_cache;

/* The list link of a cached or free-listed back-end block lives in its first payload word. */
static inline ht_block **ht_block_link(ht_block *b) { return (ht_block **)ht_payload_of(b); }

/* ---- os.c: mappings and the segment map ---------------------------------- */
void *ht_pages_map(size_t size, size_t align) HT_HEAP_HIDDEN;     /* NULL on failure */
void ht_pages_unmap(void *p, size_t size) HT_HEAP_HIDDEN;
/* Resize a mapping where it is (move_to NULL) or move its pages to move_to,
 * a mapping of new_size that it replaces. NULL on failure. */
void *ht_pages_resize(void *p, size_t old_size, size_t new_size, void *move_to) HT_HEAP_HIDDEN;
uint32_t ht_pages_random32(void) HT_HEAP_HIDDEN;
bool ht_segmap_register(ht_segment *s) HT_HEAP_HIDDEN;
void ht_segmap_unregister(ht_segment *s) HT_HEAP_HIDDEN;

/* The segment map (os.c): granule number (HT_SEGMAP_BITS of it) -> segment,
 * in two levels; a leaf is mapped when its first segment is registered. */
#define HT_SEGMAP_BITS (48 - 22) /* 48-bit addresses, 4 MiB granules */
#define HT_SEGMAP_LEAF_BITS 13
#define HT_SEGMAP_LEAF ((size_t)1 << HT_SEGMAP_LEAF_BITS)
#define HT_SEGMAP_TOP ((size_t)1 << (HT_SEGMAP_BITS - HT_SEGMAP_LEAF_BITS))
extern ht_segment **ht_segmap_top[HT_SEGMAP_TOP] HT_HEAP_HIDDEN;

/* The segment p falls in; NULL: not the heap's memory. */
static inline ht_segment *ht_segmap_lookup(const void *p)
{
    uintptr_t g = (uintptr_t)p / HT_GRANULE;
    if (ht_unlikely((g >> HT_SEGMAP_BITS) != 0))
        return NULL;
    ht_segment **leaf = __atomic_load_n(&ht_segmap_top[g >> HT_SEGMAP_LEAF_BITS], __ATOMIC_ACQUIRE);
    return ht_likely(leaf != NULL) ? __atomic_load_n(&leaf[g & (HT_SEGMAP_LEAF - 1)], __ATOMIC_ACQUIRE)
                                   : NULL;
}

/* ---- backend.c: segments, free lists, splitting and coalescing ------------ */
void ht_backend_init(struct ht_heap *h) HT_HEAP_HIDDEN;
/* A busy block of at least `bytes` (header included, multiple of 16); *grew
 * tells whether the heap had to grow for it. Heap lock held. */
ht_block *ht_backend_alloc(struct ht_heap *h, size_t bytes, bool *grew) HT_HEAP_HIDDEN;
/* The same with the caller's bytes aligned to `align` (a power of two above 16). */
ht_block *ht_backend_alloc_aligned(struct ht_heap *h, size_t bytes, size_t align, bool *grew) HT_HEAP_HIDDEN;
void ht_backend_free(struct ht_heap *h, ht_block *b) HT_HEAP_HIDDEN;
/* Grow or shrink b in place to `bytes` (header included); false when the
 * next block cannot give the room. */
bool ht_backend_resize(struct ht_heap *h, ht_block *b, size_t bytes) HT_HEAP_HIDDEN;
ht_segment *ht_backend_add_segment(struct ht_heap *h, size_t usable) HT_HEAP_HIDDEN;
/* Enter s in the heap's list of regions (the walk's order) and its
 * committed bytes, or take it out. */
void ht_segment_link(struct ht_heap *h, ht_segment *s) HT_HEAP_HIDDEN;
void ht_segment_unlink(struct ht_heap *h, ht_segment *s) HT_HEAP_HIDDEN;
/* A new heap object inside its first segment, of `bytes` in all (rounded up
 * to 64 KiB), with that segment installed; the caller fills in the rest. */
struct ht_heap *ht_backend_new_heap(size_t bytes, uint32_t cookie, size_t maximum) HT_HEAP_HIDDEN;
void ht_backend_release_segment(struct ht_heap *h, ht_segment *s) HT_HEAP_HIDDEN;
size_t ht_backend_largest_free(struct ht_heap *h) HT_HEAP_HIDDEN;
/* Release empty segments beyond the first; returns how many. */
unsigned ht_backend_trim(struct ht_heap *h) HT_HEAP_HIDDEN;
bool ht_backend_check(struct ht_heap *h, const char **what, const void **where) HT_HEAP_HIDDEN;
static inline ht_block *ht_backend_next(ht_block *b) { return (ht_block *)((char *)b + (size_t)b->size16 * 16); }

/* ---- large.c: blocks mapped on their own ------------------------------------ */
#define HT_LARGE_MIN ((size_t)1 << 20) /* requests from this size on are mapped on their own */
ht_block *ht_large_alloc(struct ht_heap *h, size_t size, size_t align) HT_HEAP_HIDDEN;
void ht_large_free(struct ht_heap *h, ht_block *b) HT_HEAP_HIDDEN;
ht_block *ht_large_resize(struct ht_heap *h, ht_block *b, size_t size, bool may_move) HT_HEAP_HIDDEN;
size_t ht_large_capacity(const ht_block *b) HT_HEAP_HIDDEN;

/* ---- lfh.c: size-class pages -------------------------------------------------- */
/* Take up to `want` blocks of class c (state cached) onto *list; returns how
 * many. Heap lock held. */
unsigned ht_lfh_take(struct ht_heap *h, unsigned c, void **list, unsigned want) HT_HEAP_HIDDEN;
/* Give back `first`, a cached size-class block, and the blocks that follow
 * it on its list from the same page, up to *budget blocks in all (at least
 * one); *budget is lessened by as many. Returns the rest of the list. Heap
 * lock held. */
void *ht_lfh_give_run(struct ht_heap *h, void *first, unsigned *budget) HT_HEAP_HIDDEN;
/* Give back a whole list of cached size-class blocks. Heap lock held. */
void ht_lfh_give_list(struct ht_heap *h, void *list) HT_HEAP_HIDDEN;
/* Give back a live size-class block (a free that no cache takes). */
void ht_lfh_free(struct ht_heap *h, void *p) HT_HEAP_HIDDEN;
/* The bin's exchange of whole batches between threads (heap lock held): a
 * thread whose lookaside overflows leaves a batch (a list of ht_run_batch(c)
 * cached blocks) in one step, false when the bin keeps enough; a thread out
 * of blocks takes one back whole, NULL when there is none. */
bool ht_lfh_push_batch(struct ht_heap *h, unsigned c, void *first) HT_HEAP_HIDDEN;
void *ht_lfh_pop_batch(struct ht_heap *h, unsigned c) HT_HEAP_HIDDEN;
/* Give every block of the bins' batches back, and every empty LFH segment
 * (compaction; heap lock held). */
void ht_lfh_trim(struct ht_heap *h) HT_HEAP_HIDDEN;
/* Check every page of an LFH segment: descriptors, state words, free lists. */
bool ht_lfh_check_segment(ht_lfh_segment *s, const char **what, const void **where) HT_HEAP_HIDDEN;
/* Note one back-end allocation of class c: the class's LFH bin opens on the
 * HT_LFH_ACTIVATION-th while the heap's compatibility class is the LFH. */
void ht_lfh_note_demand(struct ht_heap *h, unsigned c) HT_HEAP_HIDDEN;

/* ---- lookaside.c: per-thread caches ------------------------------------------ */
/* This thread's caches; never NULL: before the thread makes its own and after
 * it exits, empty ones whose slots match no heap. */
extern __thread ht_thread_cache *ht_thread_caches __attribute__((tls_model("initial-exec"))) HT_HEAP_HIDDEN;
/* This thread's cache of heap h, creating it; NULL when the thread cannot
 * have one (it is exiting, or no memory). */
ht_heap_cache *ht_cache_attach(struct ht_heap *h) HT_HEAP_HIDDEN;
/* Give every block of one cache back to its heap (locks taken inside). With
 * may_wait false it gives up (false) rather than wait for the heaps' lock. */
bool ht_cache_flush(ht_heap_cache *hc, bool may_wait) HT_HEAP_HIDDEN;
extern pthread_mutex_t ht_caches_lock HT_HEAP_HIDDEN;
/* The lookaside of class c is full: give half of it back. */
void ht_cache_overflow(ht_heap_cache *hc, unsigned c) HT_HEAP_HIDDEN;
/* Blocks a lookaside of each class may hold; filled by ht_lookaside_init
 * when the process heap is set up, before any cache exists. */
extern uint16_t ht_lookaside_limits[HT_CLASS_COUNT] HT_HEAP_HIDDEN;
void ht_lookaside_init(void) HT_HEAP_HIDDEN;
/* Heaps: the process's list (heap.c) and its lock, taken before any heap lock. */
void ht_caches_forget_heap(struct ht_heap *h) HT_HEAP_HIDDEN; /* this thread's */
/* In a forked child: the other threads are gone; their caches go back to the heaps. */
void ht_caches_fork_child(void) HT_HEAP_HIDDEN;
/* Take back a back-end block a cache held (heap lock held). */
void ht_cache_give_back_main(struct ht_heap *h, ht_block *b) HT_HEAP_HIDDEN;
/* Give the blocks of hc's medium lists back to the back end, where they
 * join their free neighbours (heap lock held); false when there were none. */
bool ht_cache_give_back_medium(ht_heap_cache *hc) HT_HEAP_HIDDEN;
/* Blocks of class c one refill takes from the LFH. */
unsigned ht_run_batch(unsigned c) HT_HEAP_HIDDEN;

/* ---- heap.c: shared by the paths ---------------------------------------------- */
extern pthread_mutex_t ht_heaps_lock HT_HEAP_HIDDEN;
struct ht_heap *ht_heap_by_serial(uint64_t serial) HT_HEAP_HIDDEN; /* ht_heaps_lock held */
void ht_heap_lock_internal(struct ht_heap *h) HT_HEAP_HIDDEN;
void ht_heap_unlock_internal(struct ht_heap *h) HT_HEAP_HIDDEN;
/* For the malloc family (malloc.c). */
size_t ht_heap_usable_size(struct ht_heap *h, const void *p) HT_HEAP_HIDDEN;
void ht_heap_apply_environment(void) HT_HEAP_HIDDEN;
void ht_heap_snapshot_all(void) HT_HEAP_HIDDEN;
/* malloc() on the process heap: ht_heap_alloc, setting the heap up on its
 * first use. */
void *ht_process_heap_alloc(size_t size) HT_HEAP_HIDDEN;
/* free() on the process heap. Its fast path needs no set-up check: a block of
 * the process heap exists only once the heap is set up. */
void ht_process_heap_free(void *p) HT_HEAP_HIDDEN;
/* Report that the heap's structures are damaged and stop. Out of line: the
 * fast paths that may call it stay small. */
_Noreturn void ht_heap_corrupt(struct ht_heap *h, const void *where, const char *what) HT_HEAP_HIDDEN
    __attribute__((cold, noinline));

#endif
