/* The interposed malloc family (wrap mode): each call goes to the real
 * allocator and emits its ETW heap event.
 *
 * A FREE is stamped before the block is released, and a REALLOC's record is
 * reserved (and stamped) before the real realloc runs: once a block is back
 * in the allocator another thread may get the same address, and its ALLOC
 * must come after our FREE in time. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "heaptrail/events.h"
#include "preload/glibc.h"
#include "preload/real.h"

#define EXPORT __attribute__((visibility("default")))

/* C23's sized frees, which older libc headers do not declare. */
void free_sized(void *p, size_t size);
void free_aligned_sized(void *p, size_t align, size_t size);
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

static inline bool ready(void)
{
    if (likely(ht_real.malloc != NULL))
        return true;
    ht_resolve();
    return __atomic_load_n((void **)&ht_real.malloc, __ATOMIC_ACQUIRE) != NULL;
}

static inline bool tracing(void) { return __atomic_load_n(&ht_emit_enabled, __ATOMIC_RELAXED); }

static inline void trace_alloc(void *p, size_t size)
{
    uint64_t heap;
    uint32_t source = ht_block_source(p, &heap);
    uint64_t payload[3] = {heap, size, (uint64_t)(uintptr_t)p};
    ht_emit(HT_EVENT_HEAP_ALLOC, source, payload, 3);
}

static inline void trace_free(void *p)
{
    uint64_t heap;
    uint32_t source = ht_block_source(p, &heap);
    uint64_t payload[2] = {heap, (uint64_t)(uintptr_t)p};
    ht_emit(HT_EVENT_HEAP_FREE, source, payload, 2);
}

EXPORT void *malloc(size_t size)
{
    if (unlikely(!ready()))
        return ht_boot_alloc(size, 16);
    void *p = ht_real.malloc(size);
    if (likely(p != NULL) && tracing())
        trace_alloc(p, size);
    return p;
}

EXPORT void free(void *p)
{
    if (unlikely(p == NULL) || unlikely(ht_boot_owns(p)))
        return;
    if (unlikely(!ready()))
        return; /* nothing but the boot arena can have handed out p yet */
    if (tracing())
        trace_free(p);
    ht_real.free(p);
}

EXPORT void *calloc(size_t n, size_t size)
{
    size_t total;
    if (unlikely(!ready())) {
        if (__builtin_mul_overflow(n, size, &total))
            return NULL;
        return ht_boot_alloc(total, 16); /* static memory is zeroed */
    }
    void *p = ht_real.calloc(n, size);
    if (likely(p != NULL) && tracing() && !__builtin_mul_overflow(n, size, &total))
        trace_alloc(p, total);
    return p;
}

/* realloc and reallocarray: `call` performs the real reallocation. */
static void *traced_realloc(void *old, size_t size, void *(*call)(void *, size_t, size_t),
                            size_t n, size_t m)
{
    if (!tracing())
        return call(old, n, m);
    if (old == NULL) {
        void *p = call(NULL, n, m);
        if (p)
            trace_alloc(p, size);
        return p;
    }
    if (size == 0) {
        /* glibc frees the block and returns NULL; another allocator may
         * return a new zero-size block, which is then an ALLOC of its own. */
        trace_free(old);
        void *p = call(old, n, m);
        if (p)
            trace_alloc(p, 0);
        return p;
    }
    ht_thread_state *t = &ht_thread;
    if (!t->ring && !ht_emit_attach_thread())
        return call(old, n, m);
    uint64_t w;
    bool kept = ht_emit_begin(t, HT_EVENT_HEAP_REALLOC, 0, HT_RECORD_HEADER_WORDS + 4, &w);
    void *p = call(old, n, m);
    if (kept) {
        uint64_t heap = HT_HEAP_UNKNOWN;
        uint32_t source = p ? ht_block_source(p, &heap) : 0;
        /* A failed realloc leaves the block alone: the reserved record
         * becomes a padding record the collector skips. */
        t->ring[(w - 2) & t->mask] = ht_record_word0(p ? HT_EVENT_HEAP_REALLOC : 0,
                                                     HT_RECORD_HEADER_WORDS + 4, source);
        t->ring[w & t->mask] = heap;
        t->ring[(w + 1) & t->mask] = (uint64_t)(uintptr_t)p;
        t->ring[(w + 2) & t->mask] = (uint64_t)(uintptr_t)old;
        t->ring[(w + 3) & t->mask] = size;
    }
    ht_emit_end(t);
    return p;
}

static void *call_realloc(void *old, size_t n, size_t unused)
{
    (void)unused;
    return ht_real.realloc(old, n);
}

static void *call_reallocarray(void *old, size_t n, size_t m)
{
    if (ht_real.reallocarray)
        return ht_real.reallocarray(old, n, m);
    size_t total;
    if (__builtin_mul_overflow(n, m, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return ht_real.realloc(old, total);
}

EXPORT void *realloc(void *old, size_t size)
{
    if (unlikely(!ready()) || unlikely(old && ht_boot_owns(old))) {
        /* A boot block moves to the real allocator as a fresh block. */
        void *p = ready() ? malloc(size) : ht_boot_alloc(size, 16);
        if (p && old) {
            size_t keep = ht_boot_size(old);
            memcpy(p, old, keep < size ? keep : size);
        }
        return p;
    }
    return traced_realloc(old, size, call_realloc, size, 0);
}

EXPORT void *reallocarray(void *old, size_t n, size_t m)
{
    size_t total;
    if (__builtin_mul_overflow(n, m, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (unlikely(!ready()) || unlikely(old && ht_boot_owns(old)))
        return realloc(old, total);
    return traced_realloc(old, total, call_reallocarray, n, m);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    if (unlikely(!ready())) {
        void *p = ht_boot_alloc(size, align);
        if (!p)
            return ENOMEM;
        *out = p;
        return 0;
    }
    int r = ht_real.posix_memalign(out, align, size);
    if (r == 0 && *out && tracing())
        trace_alloc(*out, size);
    return r;
}

/* aligned_alloc, memalign, valloc and pvalloc share one shape. */
#define ALIGNED_WRAPPER(name, params, call_args, boot_align, size_expr)                          \
    EXPORT void *name params                                                                   \
    {                                                                                          \
        if (unlikely(!ready()))                                                                \
            return ht_boot_alloc(size_expr, boot_align);                                       \
        void *p = ht_real.name call_args;                                                      \
        if (likely(p != NULL) && tracing())                                                    \
            trace_alloc(p, size_expr);                                                         \
        return p;                                                                              \
    }

ALIGNED_WRAPPER(aligned_alloc, (size_t align, size_t size), (align, size), align, size)
ALIGNED_WRAPPER(memalign, (size_t align, size_t size), (align, size), align, size)
ALIGNED_WRAPPER(valloc, (size_t size), (size), 4096, size)
ALIGNED_WRAPPER(pvalloc, (size_t size), (size), 4096, size)

/* C23's sized frees: the same event as free. Where libc lacks them they are
 * plain frees. */
EXPORT void free_sized(void *p, size_t size)
{
    if (ht_real.free_sized && p && !ht_boot_owns(p) && ready()) {
        if (tracing())
            trace_free(p);
        ht_real.free_sized(p, size);
        return;
    }
    free(p);
}

EXPORT void free_aligned_sized(void *p, size_t align, size_t size)
{
    if (ht_real.free_aligned_sized && p && !ht_boot_owns(p) && ready()) {
        if (tracing())
            trace_free(p);
        ht_real.free_aligned_sized(p, align, size);
        return;
    }
    free(p);
}
