/*
 * heaptrail/heap.h — the heaptrail heap: a multi-heap allocator with the
 * semantics of the Win32 heap functions (HeapCreate, HeapAlloc, ...), under C
 * names. Its allocation paths are the ETW Source values: a per-thread
 * lookaside cache (MEMORY_FROM_LOOKASIDE), a low-fragmentation size-class
 * heap (MEMORY_FROM_LOWFRAG), a back end with free lists, splitting and
 * coalescing (MEMORY_FROM_MAINPATH), and heap growth and large blocks mapped
 * from the OS (MEMORY_FROM_SLOWPATH). docs/HEAP.md describes the design.
 *
 * Blocks are aligned to 16 bytes. Functions returning int return nonzero on
 * success and 0 on failure with errno set. A pointer that is not a live block
 * of the heap it is given to (double free, foreign pointer, damaged header)
 * is reported on stderr with the heap, the address and what is wrong, and
 * then handled by the heap's error policy (HT_HEAP_ERROR_POLICY_INFORMATION;
 * default: abort).
 *
 * The same functions serve malloc when libheaptrail-malloc.so is preloaded;
 * ht_process_heap() is then the heap behind malloc.
 */
#ifndef HEAPTRAIL_HEAP_H
#define HEAPTRAIL_HEAP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The API is exported from whichever library defines it, also one built with
 * hidden visibility (libheaptrail-malloc.so, so that a program linked with
 * libheaptrail and run on it uses one heap). */
#pragma GCC visibility push(default)

typedef struct ht_heap ht_heap;

/* Flags of ht_heap_create and of the per-call functions. */
#define HT_HEAP_NO_SERIALIZE 0x1          /* the caller serialises: no heap lock, no LFH */
#define HT_HEAP_GENERATE_EXCEPTIONS 0x4   /* a failed allocation aborts with a message */
#define HT_HEAP_ZERO_MEMORY 0x8           /* zero new bytes (alloc, and realloc growth) */
#define HT_HEAP_REALLOC_IN_PLACE_ONLY 0x10 /* realloc fails rather than move the block */

/* Create a heap. maximum_size 0: growable; otherwise the heap is fixed-size:
 * it reserves maximum_size bytes (rounded up to 64 KiB) and never grows or
 * maps large blocks. initial_size is the size of its first region. */
ht_heap *ht_heap_create(unsigned flags, size_t initial_size, size_t maximum_size);

/* Release every block and region of the heap at once. The process heap
 * cannot be destroyed (EINVAL). */
int ht_heap_destroy(ht_heap *heap);

/* The heap behind malloc. */
ht_heap *ht_process_heap(void);

/* Store up to capacity heap handles (the process heap first); returns how
 * many heaps there are, which may be more than capacity. (NULL, 0) counts. */
size_t ht_process_heaps(ht_heap **heaps, size_t capacity);

/* Allocate size bytes (0 is allowed: a distinct block whose size is 0).
 * NULL with errno ENOMEM when the heap cannot serve it. */
void *ht_heap_alloc(ht_heap *heap, unsigned flags, size_t size);

/* heaptrail's own: ht_heap_alloc with the block aligned to `align`, a power
 * of two (16 and below: as ht_heap_alloc). Such a block is served by the back
 * end or mapped on its own, never from a lookaside or the LFH. */
void *ht_heap_alloc_aligned(ht_heap *heap, unsigned flags, size_t align, size_t size);

/* Resize block (which must not be NULL, as with HeapReAlloc). With
 * HT_HEAP_REALLOC_IN_PLACE_ONLY the block never moves: NULL (ENOMEM) and the
 * block untouched when it cannot grow where it is. With HT_HEAP_ZERO_MEMORY
 * the bytes beyond the old size are zeroed. */
void *ht_heap_realloc(ht_heap *heap, unsigned flags, void *block, size_t size);

/* Free block. A NULL block succeeds and does nothing. */
int ht_heap_free(ht_heap *heap, unsigned flags, void *block);

/* The size block was allocated (or last reallocated) with; (size_t)-1 when
 * block is not a live block of heap. */
size_t ht_heap_size(ht_heap *heap, unsigned flags, const void *block);

/* Check one block (a live block of heap: nonzero) or, with block NULL, the
 * whole heap: every region, block header, free list and size-class page.
 * Never aborts: a bad block or heap is reported and answered with 0. */
int ht_heap_validate(ht_heap *heap, unsigned flags, const void *block);

/* One step of a heap walk (PROCESS_HEAP_ENTRY). */
typedef struct ht_heap_entry {
    void *data;            /* region start, or the block's first byte */
    size_t size;           /* region size, or the block's size (requested size when busy) */
    size_t overhead;       /* bytes the heap uses around the block */
    unsigned region_index; /* region this entry belongs to, counted from 0 */
    unsigned flags;        /* HT_HEAP_ENTRY_* */
} ht_heap_entry;

#define HT_HEAP_ENTRY_REGION 0x1      /* entry is a region (a mapping of the heap) */
#define HT_HEAP_ENTRY_UNCOMMITTED 0x2 /* entry is a reserved, uncommitted range */
#define HT_HEAP_ENTRY_BUSY 0x4        /* entry is a live block */

/* Walk the heap: start with entry->data == NULL and call again with the same
 * entry until it returns 0 with errno ENOENT. Each region comes first, then
 * its busy and free blocks. Hold ht_heap_lock around a walk of a heap that
 * other threads use. */
int ht_heap_walk(ht_heap *heap, ht_heap_entry *entry);

/* Return the calling thread's cached blocks and empty regions of the heap to
 * the system; the size of the largest free block left (0 with errno 0: there
 * is none), 0 with errno EINVAL when heap is not a heap. */
size_t ht_heap_compact(ht_heap *heap, unsigned flags);

/* Hold the heap's lock (recursive): other threads' operations that need the
 * heap's shared structures wait. Not for a HT_HEAP_NO_SERIALIZE heap. */
int ht_heap_lock(ht_heap *heap);
int ht_heap_unlock(ht_heap *heap);

/* Information classes of ht_heap_query and ht_heap_set. */
#define HT_HEAP_COMPATIBILITY_INFORMATION 0
/* uint32_t value of the compatibility class: */
#define HT_HEAP_COMPAT_STANDARD 0  /* back end only */
#define HT_HEAP_COMPAT_LOOKASIDE 1 /* per-thread lookaside caches in front of the back end */
#define HT_HEAP_COMPAT_LFH 2       /* lookaside and the low-fragmentation heap (the default) */

/* heaptrail's own class: what the heap does with a bad pointer, a uint32_t: */
#define HT_HEAP_ERROR_POLICY_INFORMATION 0x100
#define HT_HEAP_ON_ERROR_ABORT 0  /* report on stderr, then abort() (the default) */
#define HT_HEAP_ON_ERROR_REPORT 1 /* report on stderr, fail the call with EINVAL */
#define HT_HEAP_ON_ERROR_SILENT 2 /* fail the call with EINVAL */

/* Read an information class into out (length bytes); *needed (when not NULL)
 * receives the size the class takes. */
int ht_heap_query(ht_heap *heap, int info_class, void *out, size_t length, size_t *needed);

/* Set an information class. Enabling the LFH fails (EINVAL) on a
 * HT_HEAP_NO_SERIALIZE or fixed-size heap; a heap's compatibility class can
 * be raised, never lowered, as on Windows. */
int ht_heap_set(ht_heap *heap, int info_class, const void *in, size_t length);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif
