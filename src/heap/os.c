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
 * Flat: entry g is the segment that granule g (address / 4 MiB) falls in,
 * 2^26 entries over the 48-bit user address space. That is 512 MiB of
 * address space, reserved once and read-only: private read-only pages are
 * not charged against the commit limit, and a page never written reads as
 * zeros (the kernel's zero page), so an unknown address finds NULL without
 * a test per level. Registering a segment makes the page(s) of its entries
 * writable first (only those are ever committed: 4 KiB per 2 GiB of address
 * range that holds segments). The release store publishes a segment's
 * entries, written before its blocks are handed out, to a lookup on another
 * thread. */
#define MAP_ENTRIES ((size_t)1 << HT_SEGMAP_BITS)
#define MAP_BYTES (MAP_ENTRIES * sizeof(ht_segment *))
#define PAGE ((uintptr_t)4096)

ht_segment **ht_segmap;

static ht_segment **map_reserve(void)
{
    ht_segment **map = __atomic_load_n(&ht_segmap, __ATOMIC_ACQUIRE);
    if (map)
        return map;
    long r = syscall(SYS_mmap, NULL, MAP_BYTES, PROT_READ,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r < 0 && r > -4096)
        return NULL;
    ht_segment **fresh = (ht_segment **)r;
    if (!__atomic_compare_exchange_n(&ht_segmap, &map, fresh, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        syscall(SYS_munmap, fresh, MAP_BYTES);
        return map;
    }
    return fresh;
}

static bool set_entries(ht_segment *s, ht_segment *value)
{
    size_t first = (uintptr_t)s / HT_GRANULE, count = (s->size + HT_GRANULE - 1) / HT_GRANULE;
    if ((first + count - 1) >> HT_SEGMAP_BITS != 0)
        return false;
    ht_segment **map = value ? map_reserve() : __atomic_load_n(&ht_segmap, __ATOMIC_ACQUIRE);
    if (!map)
        return false;
    if (value) {
        /* Writable from the first entry's page to the last's: mprotect is
         * idempotent, and segments are few. */
        uintptr_t from = (uintptr_t)&map[first] & ~(PAGE - 1);
        uintptr_t to = ((uintptr_t)&map[first + count] + PAGE - 1) & ~(PAGE - 1);
        if (syscall(SYS_mprotect, from, to - from, PROT_READ | PROT_WRITE) != 0)
            return false;
    }
    for (size_t g = first; g < first + count; g++)
        __atomic_store_n(&map[g], value, __ATOMIC_RELEASE);
    return true;
}

/* A failure leaves the map as it was: set_entries writes nothing until its
 * entries are known to be writable. */
bool ht_segmap_register(ht_segment *s) { return set_entries(s, s); }

void ht_segmap_unregister(ht_segment *s) { set_entries(s, NULL); }
