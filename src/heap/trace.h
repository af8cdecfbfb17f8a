/* The heap's events. In libheaptrail-malloc.so (HT_HEAP_TRACE defined) they
 * go into the recording session through trace/emit.h; tracing off costs the
 * load and branch of ht_heap_tracing(). In libheaptrail, which is never part
 * of a recording session, they compile to nothing.
 *
 * Ordering: an ALLOC is emitted after the block was taken, a FREE before the
 * block is given back, and a moving REALLOC after the new block was taken and
 * before the old one is given back, so that a block's events come in the
 * order its owners had it. */
#ifndef HT_HEAP_TRACE_H
#define HT_HEAP_TRACE_H

#include "heap/heap_internal.h"

#ifdef HT_HEAP_TRACE
#include "preload/real.h"
#include "trace/emit.h"
#include "trace/stack_table.h"
#include "unwind/capture.h"

static inline bool ht_heap_tracing(void) { return ht_emit_recording(); }

/* Join the recording session as soon as the process heap exists, so that
 * the blocks of the program's start are in the trace too. */
static inline void ht_trace_attach(void) { ht_emit_attach_process(); }

static inline uint64_t ht_trace_handle(const struct ht_heap *h) { return (uint64_t)(uintptr_t)h; }

/* With stacks on, the stack id is the payload's last word. No stack while
 * the preload layer looks up the functions it wraps: the unwinder would call
 * one of them (mmap) before it is known. */
static inline unsigned ht_trace_stack(uint64_t *payload, unsigned n, uint32_t *arg)
{
    if (ht_resolving())
        return n;
    uint64_t frames[HT_STACK_MAX_DEPTH];
    unsigned depth = ht_unwind_capture(frames, ht_emit_stack_depth);
    payload[n] = ht_stack_intern(frames, depth);
    *arg |= HT_RECORD_STACK;
    return n + 1;
}

__attribute__((noinline, unused)) static void ht_trace_alloc(const struct ht_heap *h, const void *p, size_t size,
                                                     uint32_t source)
{
    uint64_t payload[4] = {ht_trace_handle(h), size, (uint64_t)(uintptr_t)p};
    unsigned n = ht_emit_stack_depth ? ht_trace_stack(payload, 3, &source) : 3;
    ht_emit(HT_EVENT_HEAP_ALLOC, source, payload, n);
}

__attribute__((noinline, unused)) static void ht_trace_free(const struct ht_heap *h, const void *p, uint32_t source)
{
    uint64_t payload[3] = {ht_trace_handle(h), (uint64_t)(uintptr_t)p};
    unsigned n = ht_emit_stack_depth && (ht_emit_session_flags & HT_SESSION_FREE_STACKS)
                     ? ht_trace_stack(payload, 2, &source)
                     : 2;
    ht_emit(HT_EVENT_HEAP_FREE, source, payload, n);
}

__attribute__((noinline, unused)) static void ht_trace_realloc(const struct ht_heap *h, const void *p, const void *old,
                                                       size_t size, uint32_t source)
{
    /* The fifth word is when the reallocation began; the old block is still
     * ours at this point, so the record's own time will do. */
    uint64_t payload[6] = {ht_trace_handle(h), (uint64_t)(uintptr_t)p, (uint64_t)(uintptr_t)old, size,
                           ht_stamp()};
    unsigned n = ht_emit_stack_depth ? ht_trace_stack(payload, 5, &source) : 5;
    ht_emit(HT_EVENT_HEAP_REALLOC, source, payload, n);
}

/* Create, Destroy, Lock, Unlock, Validate, Walk: the handle, and Create's flags. */
static inline void ht_trace_heap_event(uint32_t type, const struct ht_heap *h, unsigned flags)
{
    if (!ht_heap_tracing())
        return;
    uint64_t payload[2] = {ht_trace_handle(h), flags};
    ht_emit(type, 0, payload, type == HT_EVENT_HEAP_CREATE ? 2 : 1);
}

/* Expand and Contract: the range committed or decommitted and the heap's figures after it. */
static inline void ht_trace_extent(uint32_t type, const struct ht_heap *h, const void *at, size_t bytes)
{
    if (!ht_heap_tracing())
        return;
    uint64_t payload[7] = {ht_trace_handle(h), bytes, (uint64_t)(uintptr_t)at, h->free_space,
                           h->committed, h->committed, 0};
    ht_emit(type, 0, payload, 7);
}

static inline void ht_trace_snapshot(const struct ht_heap *h)
{
    if (!ht_heap_tracing())
        return;
    uint64_t payload[5] = {ht_trace_handle(h), h->free_space, h->committed, h->committed, h->flags};
    ht_emit(HT_EVENT_HEAP_SNAPSHOT, 0, payload, 5);
}

#else

static inline bool ht_heap_tracing(void) { return false; }
static inline void ht_trace_attach(void) {}
static inline void ht_trace_alloc(const struct ht_heap *h, const void *p, size_t size, uint32_t source)
{
    (void)h, (void)p, (void)size, (void)source;
}
static inline void ht_trace_free(const struct ht_heap *h, const void *p, uint32_t source)
{
    (void)h, (void)p, (void)source;
}
static inline void ht_trace_realloc(const struct ht_heap *h, const void *p, const void *old, size_t size,
                                    uint32_t source)
{
    (void)h, (void)p, (void)old, (void)size, (void)source;
}
static inline void ht_trace_heap_event(uint32_t type, const struct ht_heap *h, unsigned flags)
{
    (void)type, (void)h, (void)flags;
}
static inline void ht_trace_extent(uint32_t type, const struct ht_heap *h, const void *at, size_t bytes)
{
    (void)type, (void)h, (void)at, (void)bytes;
}
static inline void ht_trace_snapshot(const struct ht_heap *h) { (void)h; }

#endif
#endif
