/* The heap's dealings with the kernel: mappings, and the segment map that
 * tells, for any address, which segment of which heap it falls in.
 *
 * System calls are made directly: this code runs inside malloc, where a libc
 * mmap could be an interposed one (the recorder's) that emits an event of its
 * own, or could run before libc is ready. */
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "heap/heap_internal.h"

static void *sys_mmap(size_t size)
{
    long r = syscall(SYS_mmap, NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return r < 0 && r > -4096 ? NULL : (void *)r;
}

void *ht_pages_map(size_t size, size_t align)
{
    /* Map more than asked and cut the ends off, so that the mapping starts on
     * an `align` boundary. */
    size_t over = size + align;
    if (over < size)
        return NULL;
    char *raw = sys_mmap(over);
    if (!raw)
        return NULL;
    char *start = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
    if (start > raw)
        syscall(SYS_munmap, raw, (size_t)(start - raw));
    size_t tail = (size_t)(raw + over - (start + size));
    if (tail)
        syscall(SYS_munmap, start + size, tail);
    return start;
}

void ht_pages_unmap(void *p, size_t size) { syscall(SYS_munmap, p, size); }

void *ht_pages_resize(void *p, size_t old_size, size_t new_size, void *move_to)
{
    long r = move_to ? syscall(SYS_mremap, p, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, move_to)
                     : syscall(SYS_mremap, p, old_size, new_size, 0);
    return r < 0 && r > -4096 ? NULL : (void *)r;
}

uint32_t ht_pages_random32(void)
{
    uint32_t v = 0;
    if (syscall(SYS_getrandom, &v, sizeof v, 0x1 /* GRND_NONBLOCK */) != (long)sizeof v) {
        /* No entropy yet (early boot): the clock and an address still differ
         * between runs. */
        unsigned lo, hi;
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        v = lo ^ hi ^ (uint32_t)(uintptr_t)&v;
    }
    return v | 1;
}

/* ---- the segment map ---------------------------------------------------------
 * Two levels indexed by granule number (address / 4 MiB) over the 48-bit user
 * address space: a static top of 2^13 entries, each a lazily mapped leaf of
 * 2^13 segment pointers (64 KiB, for 32 GiB of address range). A lookup
 * (inline, heap_internal.h) is two loads, as a flat map's base and entry
 * would be, without reserving the 512 MiB a flat map spans: under an
 * address-space limit (ulimit -v) that reservation could fail and leave the
 * heap with no memory at all. Registering a segment writes its granules'
 * entries before the segment's blocks are handed out, and the release store
 * publishes them to a lookup on another thread. */
ht_segment **ht_segmap_top[HT_SEGMAP_TOP];

static ht_segment **leaf_for(size_t granule, bool create)
{
    ht_segment ***slot = &ht_segmap_top[granule >> HT_SEGMAP_LEAF_BITS];
    ht_segment **leaf = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (leaf || !create)
        return leaf;
    ht_segment **fresh = sys_mmap(HT_SEGMAP_LEAF * sizeof *fresh);
    if (!fresh)
        return NULL;
    if (!__atomic_compare_exchange_n(slot, &leaf, fresh, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        syscall(SYS_munmap, fresh, HT_SEGMAP_LEAF * sizeof *fresh);
        return leaf;
    }
    return fresh;
}

static bool set_entries(ht_segment *s, ht_segment *value)
{
    size_t first = (uintptr_t)s / HT_GRANULE, count = (s->size + HT_GRANULE - 1) / HT_GRANULE;
    for (size_t g = first; g < first + count; g++) {
        if (g >> HT_SEGMAP_BITS != 0)
            return false;
        ht_segment **leaf = leaf_for(g, value != NULL);
        if (!leaf)
            return false;
        __atomic_store_n(&leaf[g & (HT_SEGMAP_LEAF - 1)], value, __ATOMIC_RELEASE);
    }
    return true;
}

bool ht_segmap_register(ht_segment *s)
{
    if (set_entries(s, s))
        return true;
    set_entries(s, NULL); /* the entries written before the failure */
    return false;
}

void ht_segmap_unregister(ht_segment *s) { set_entries(s, NULL); }
