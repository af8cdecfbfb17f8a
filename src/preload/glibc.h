/* What glibc's malloc lets us know cheaply about a block it returned: which
 * heap (arena) it belongs to and whether it was mapped straight from the OS.
 * The chunk header is read only after ht_glibc_verify has established that
 * the allocator underneath is glibc's (docs/RECORDING.md, "Heap and Source"). */
#ifndef HT_PRELOAD_GLIBC_H
#define HT_PRELOAD_GLIBC_H

#include <stdbool.h>
#include <stdint.h>

#include "heaptrail/events.h"
#include "trace/emit.h"

/* glibc 2.26-2.39 on 64-bit: chunk size flags, and the alignment of the heaps
 * of secondary arenas (HEAP_MAX_SIZE = 2 * DEFAULT_MMAP_THRESHOLD_MAX). */
#define HT_GLIBC_IS_MMAPPED 0x2
#define HT_GLIBC_NON_MAIN_ARENA 0x4
#define HT_GLIBC_HEAP_MAX ((uintptr_t)64 << 20)

extern bool ht_glibc_chunks HT_HIDDEN;       /* chunk headers may be read */
extern bool ht_glibc_arena_lookup HT_HIDDEN; /* heap_info may be read too */

/* Decide ht_glibc_chunks from where malloc resolved to. */
void ht_glibc_verify(void *real_malloc) HT_HIDDEN;

static inline uint32_t ht_block_source(const void *p, uint64_t *heap)
{
    if (!ht_glibc_chunks) {
        *heap = HT_HEAP_UNKNOWN;
        return MEMORY_FROM_MAINPATH;
    }
    uint64_t size_field = ((const uint64_t *)p)[-1];
    if (size_field & HT_GLIBC_IS_MMAPPED) {
        *heap = HT_HEAP_GLIBC_MMAPPED;
        return MEMORY_FROM_SLOWPATH;
    }
    if (size_field & HT_GLIBC_NON_MAIN_ARENA)
        /* The heap holding the chunk starts at an aligned address with a
         * heap_info whose first member is the arena pointer. */
        *heap = ht_glibc_arena_lookup
                    ? *(const uint64_t *)((uintptr_t)p & ~(HT_GLIBC_HEAP_MAX - 1))
                    : (uint64_t)((uintptr_t)p & ~(HT_GLIBC_HEAP_MAX - 1));
    else
        *heap = HT_HEAP_GLIBC_MAIN_ARENA;
    return MEMORY_FROM_MAINPATH;
}

#endif
