/* The interposed malloc family (wrap mode): each call goes to the real
 * allocator and emits its ETW heap event.
 *
 * A FREE is stamped before the block is released: once it is back in the
 * allocator another thread may get the same address, and that ALLOC must be
 * stamped after our FREE. ALLOC and REALLOC are stamped after the call, so
 * after the FREE that released the block they were given. A REALLOC that
 * moves also frees inside the call: see traced_realloc. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "heaptrail/events.h"
#include "preload/glibc.h"
#include "preload/real.h"
#include "trace/stack_table.h"
#include "unwind/capture.h"

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

/* The id of the stack that here was read in. Out of line: the frames'
 * array stays off the frames of the functions that call it. */
static __attribute__((noinline)) uint64_t stack_id(const struct ht_unwind_start *here)
{
    uint64_t frames[HT_STACK_MAX_DEPTH];
    unsigned depth = ht_unwind_capture_from(here, frames, ht_emit_stack_depth);
    return ht_stack_intern(frames, depth);
}

/* With stacks on, the stack id becomes the payload's last word and the
 * record says so. Returns the payload length. */
static inline unsigned add_stack(uint64_t *payload, unsigned n, uint32_t *arg,
                                 const struct ht_unwind_start *here)
{
    payload[n] = stack_id(here);
    *arg |= HT_RECORD_STACK;
    return n + 1;
}

/* A heap record whose payload starts with the heap handle: without it when
 * the handle is the main arena's (nearly every block of a single-threaded
 * program), the record saying so (HT_RECORD_MAIN_HEAP) and a word shorter.
 * Separate calls for the two constant lengths (see ht_emit). */
static inline __attribute__((always_inline)) void emit_heap(uint32_t type, uint32_t source,
                                                            const uint64_t *payload, unsigned n)
{
    if (payload[0] == HT_HEAP_GLIBC_MAIN_ARENA)
        ht_emit(type, source | HT_RECORD_MAIN_HEAP, payload + 1, n - 1);
    else
        ht_emit(type, source, payload, n);
}

/* Where the stack walk starts: the registers of the interposed function,
 * read in it (trace_alloc and trace_free are inlined into it), so that its
 * frame is the only one of ours the walk passes. They go to the
 * out-of-line paths as three arguments, which need no stack frame. Where
 * they cannot be read, the walk starts inside the capture. */
#if HT_UNWIND_FAST
#define READ_HERE(here) HT_UNWIND_HERE(&(here))
#define HERE_OR_NULL(here) (&(here))
#else
#define READ_HERE(here) ((void)0)
#define HERE_OR_NULL(here) ((void)(here), (const struct ht_unwind_start *)NULL)
#endif

/* The record of a session that is not plain (stacks, loss, the vDSO
 * clock). Out of line: the registers and the frame its work needs stay off
 * the interposed functions' common path. */
static __attribute__((noinline)) void alloc_general(void *p, size_t size, uint64_t ip, uint64_t sp,
                                                    uint64_t bp)
{
    struct ht_unwind_start here = {ip, sp, bp};
    uint64_t heap;
    uint32_t source = ht_block_source(p, &heap);
    uint64_t payload[4] = {heap, size, (uint64_t)(uintptr_t)p};
    /* Two calls, so that each has a constant length (see ht_emit). */
    if (ht_emit_stack_depth) {
        unsigned n = add_stack(payload, 3, &source, HERE_OR_NULL(here));
        emit_heap(HT_EVENT_HEAP_ALLOC, source, payload, n);
    } else {
        emit_heap(HT_EVENT_HEAP_ALLOC, source, payload, 3);
    }
}

static __attribute__((noinline)) void free_general(void *p, uint64_t ip, uint64_t sp, uint64_t bp)
{
    struct ht_unwind_start here = {ip, sp, bp};
    uint64_t heap;
    uint32_t source = ht_block_source(p, &heap);
    uint64_t payload[3] = {heap, (uint64_t)(uintptr_t)p};
    if (ht_emit_stack_depth && (ht_emit_session_flags & HT_SESSION_FREE_STACKS)) {
        unsigned n = add_stack(payload, 2, &source, HERE_OR_NULL(here));
        emit_heap(HT_EVENT_HEAP_FREE, source, payload, n);
    } else {
        emit_heap(HT_EVENT_HEAP_FREE, source, payload, 2);
    }
}

/* Trace the allocation of p, which the allocator just returned: the mode is
 * read after its work (see ht_stamp). */
static inline __attribute__((always_inline)) void trace_alloc(void *p, size_t size)
{
    uint32_t mode = ht_emit_mode_now();
    if (likely(mode & HT_EMIT_PLAIN)) {
        uint64_t heap;
        uint32_t source = ht_block_source(p, &heap);
        if (heap == HT_HEAP_GLIBC_MAIN_ARENA)
            ht_emit_plain(mode, HT_EVENT_HEAP_ALLOC, source | HT_RECORD_MAIN_HEAP, 2, size,
                          (uintptr_t)p, 0);
        else
            ht_emit_plain(mode, HT_EVENT_HEAP_ALLOC, source, 3, heap, size, (uintptr_t)p);
    } else if (mode & HT_EMIT_ON) {
        struct ht_unwind_start here = {0, 0, 0};
        READ_HERE(here);
        alloc_general(p, size, here.ip, here.sp, here.bp);
    }
}

/* Trace the release of p, which the allocator is about to take back. */
static inline __attribute__((always_inline)) void trace_free(void *p)
{
    uint32_t mode = ht_emit_mode_now();
    if (likely(mode & HT_EMIT_PLAIN)) {
        uint64_t heap;
        uint32_t source = ht_block_source(p, &heap);
        if (heap == HT_HEAP_GLIBC_MAIN_ARENA)
            ht_emit_plain(mode, HT_EVENT_HEAP_FREE, source | HT_RECORD_MAIN_HEAP, 1, (uintptr_t)p,
                          0, 0);
        else
            ht_emit_plain(mode, HT_EVENT_HEAP_FREE, source, 2, heap, (uintptr_t)p, 0);
    } else if (mode & HT_EMIT_ON) {
        struct ht_unwind_start here = {0, 0, 0};
        READ_HERE(here);
        free_general(p, here.ip, here.sp, here.bp);
    }
}

EXPORT void *malloc(size_t size)
{
    if (unlikely(!ready()))
        return ht_boot_alloc(size, 16);
    void *p = ht_real.malloc(size);
    if (likely(p != NULL))
        trace_alloc(p, size);
    return p;
}

EXPORT void free(void *p)
{
    if (unlikely(p == NULL) || unlikely(ht_boot_owns(p)))
        return;
    if (unlikely(!ready()))
        return; /* nothing but the boot arena can have handed out p yet */
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
    if (likely(p != NULL) && !__builtin_mul_overflow(n, size, &total))
        trace_alloc(p, total);
    return p;
}

/* realloc, and reallocarray once its product is known. Both go to the real
 * realloc: glibc's reallocarray calls realloc through the symbol we
 * interpose, which would make each of its calls two events. */
static void *traced_realloc(void *old, size_t size)
{
    if (!ht_emit_recording())
        return ht_real.realloc(old, size);
    if (old == NULL) {
        void *p = ht_real.realloc(NULL, size);
        if (p)
            trace_alloc(p, size);
        return p;
    }
    if (size == 0) {
        /* glibc frees the block and returns NULL; another allocator may
         * return a new zero-size block, which is then an ALLOC of its own. */
        trace_free(old);
        void *p = ht_real.realloc(old, size);
        if (p)
            trace_alloc(p, 0);
        return p;
    }
    /* A realloc that moves frees its old block inside the call, where another
     * thread may get it before our record is stamped. busy_since tells the
     * collector to hold back everything stamped after t1 until this record
     * is in; the record carries t1 so that the collector can put it before
     * such an allocation. */
    ht_thread_state *t = &ht_thread;
    if (!t->ring && !ht_emit_attach_thread())
        return ht_real.realloc(old, size);
    uint64_t *busy = &t->slot->busy_since;
    bool mine = __atomic_load_n(busy, __ATOMIC_RELAXED) == 0; /* not nested in a handler's */
    uint64_t t1 = ht_stamp_before_release();
    if (mine)
        __atomic_store_n(busy, t1, __ATOMIC_SEQ_CST); /* visible before the old block is */
    void *p = ht_real.realloc(old, size);
    if (p) { /* a failed realloc leaves the block alone: nothing happened */
        uint64_t heap;
        uint32_t source = ht_block_source(p, &heap);
        uint64_t payload[6] = {heap, (uint64_t)(uintptr_t)p, (uint64_t)(uintptr_t)old, size, t1};
        if (ht_emit_stack_depth) {
            struct ht_unwind_start here = {0, 0, 0};
            READ_HERE(here);
            /* Its own statement: add_stack sets the record's stack flag in
             * source, and an argument list may read source before or after
             * another argument's call (clang reads it first). */
            unsigned words = add_stack(payload, 5, &source, HERE_OR_NULL(here));
            emit_heap(HT_EVENT_HEAP_REALLOC, source, payload, words);
        } else {
            emit_heap(HT_EVENT_HEAP_REALLOC, source, payload, 5);
        }
    }
    if (mine)
        __atomic_store_n(busy, 0, __ATOMIC_RELEASE);
    return p;
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
    return traced_realloc(old, size);
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
    return traced_realloc(old, total);
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
    if (r == 0 && *out)
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
        if (likely(p != NULL))                                                                 \
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
        trace_free(p);
        ht_real.free_sized(p, size);
        return;
    }
    free(p);
}

EXPORT void free_aligned_sized(void *p, size_t align, size_t size)
{
    if (ht_real.free_aligned_sized && p && !ht_boot_owns(p) && ready()) {
        trace_free(p);
        ht_real.free_aligned_sized(p, align, size);
        return;
    }
    free(p);
}
