/* The writer side of a session: what a traced process does to put an event in
 * its thread's ring.
 *
 * Hot path (every heap operation): one load and branch when tracing is off;
 * when on, a signal-safe reservation in thread-local state, the timestamp, a
 * few stores into the ring and one release store of the ring head. No lock,
 * no system call, no allocation. Attaching a thread to a slot, waiting for
 * room and the process-level work are the uncommon paths in emit.c.
 *
 * Reentrancy: a signal handler that allocates while this thread is inside an
 * emit reserves after it and does not publish; the outer emit publishes both
 * (depth counts the nesting). */
#ifndef HT_TRACE_EMIT_H
#define HT_TRACE_EMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "heaptrail/events.h"
#include "trace/clock.h"
#include "trace/session.h"
#include "trace/tsc.h"

#define HT_HIDDEN __attribute__((visibility("hidden")))

typedef struct ht_thread_state {
    uint64_t *ring;      /* NULL until the thread owns a slot */
    ht_slot *slot;
    uint64_t mask;       /* ring words - 1 */
    uint64_t reserved;   /* bytes reserved so far: >= the published head */
    uint64_t tail_cache; /* last tail seen: room is known without a shared load */
    uint32_t depth;      /* emits in progress on this thread (signal nesting) */
    uint32_t flags;      /* HT_THREAD_* */
} ht_thread_state;

#define HT_THREAD_ATTACHING 0x1 /* inside attach: nested events are dropped, not recursed */
#define HT_THREAD_EXITED 0x2    /* its exit was emitted: a later slot is a continuation */
#define HT_THREAD_OFF 0x4       /* never trace this thread (no session) */

extern __thread ht_thread_state ht_thread __attribute__((tls_model("initial-exec"))) HT_HIDDEN;

/* Nonzero while this process records. Read on every heap operation. */
extern int ht_emit_enabled HT_HIDDEN;
extern uint32_t ht_emit_ring_bytes HT_HIDDEN;
extern uint32_t ht_emit_session_flags HT_HIDDEN;
extern uint32_t ht_emit_stack_depth HT_HIDDEN; /* 0: no stacks */
/* Nonzero once a second thread of this process has attached to the session:
 * from then on a block that one thread frees may be the next that another
 * allocates, and ht_stamp must order the two (see there). Never cleared but
 * in a fork child, which starts with one thread. */
extern int ht_emit_threads_share HT_HIDDEN;

/* Uncommon paths. */
bool ht_emit_attach_thread(void) HT_HIDDEN;
void ht_emit_wait_room(ht_thread_state *t, uint64_t end) HT_HIDDEN;
void ht_emit_count_lost(ht_thread_state *t) HT_HIDDEN;

/* Map the session named by HEAPTRAIL_SESSION and emit PROCESS_START. False
 * when this process is not to be traced. Safe to call more than once. */
bool ht_emit_attach_process(void) HT_HIDDEN;

/* Lifecycle hooks of the interposition layer. */
void ht_emit_thread_exit(void) HT_HIDDEN;
void ht_emit_fork_child(void) HT_HIDDEN;
void ht_emit_before_exec(void) HT_HIDDEN;
void ht_emit_exec_failed(void) HT_HIDDEN;

/* Emit a record with a variable payload (strings), cut to fit a record. */
void ht_emit_blob(uint32_t type, const uint64_t *fixed, unsigned nfixed, const void *a,
                  uint32_t alen, const void *b, uint32_t blen) HT_HIDDEN;

/* A record's stamp, in the session's clock (docs/RECORDING.md, "Clock").
 * The collector's order needs a stamp no earlier than what the event
 * observed (an ALLOC: the allocator's loads that found the block free), and
 * a FREE's or a realloc's start no later than the block's release after it.
 * The TSC read behind an lfence gives the first, a bare read the second:
 * it may happen early, never after the stores that follow it are seen. The
 * vDSO's CLOCK_MONOTONIC gives both. The first matters only when the block
 * may have been released by another thread: while this thread is the only
 * one of its process that records, its ring's order is the order, and the
 * bare read (half the cost) serves. A thread that attaches sets
 * ht_emit_threads_share before its first record, so a block it frees after
 * that reaches another thread only with the flag visible (x86 keeps loads
 * in order, and the flag's load follows the allocator's). */
static inline uint64_t ht_stamp(void)
{
    if (!(ht_emit_session_flags & HT_SESSION_TSC))
        return ht_now_ns();
    return __atomic_load_n(&ht_emit_threads_share, __ATOMIC_RELAXED) ? ht_tsc_read_ordered()
                                                                     : ht_tsc_read();
}

static inline uint64_t ht_stamp_before_release(void)
{
    return (ht_emit_session_flags & HT_SESSION_TSC) ? ht_tsc_read() : ht_now_ns();
}

/* Add v to *p atomically with respect to signal handlers on this thread
 * only: a plain read-modify-write instruction cannot be split by a signal,
 * and needs no bus lock since no other thread touches the word. */
static inline uint64_t ht_local_fetch_add(uint64_t *p, uint64_t v)
{
#if defined(__x86_64__)
    __asm__ volatile("xaddq %0, %1" : "+r"(v), "+m"(*p) : : "memory");
    return v;
#else
    return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
#endif
}

/* Reserve room for a record of `words` words (header included) and write its
 * header. Returns false when the record is dropped (no slot, or lossy and
 * full); ht_emit_end must follow either way once ht_emit_begin was called
 * with t->ring set. */
static inline bool ht_emit_begin(ht_thread_state *t, uint32_t type, uint32_t arg, uint32_t words,
                                 uint64_t *pos)
{
    uint64_t bytes = (uint64_t)words * 8;
    t->depth++;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if ((ht_emit_session_flags & HT_SESSION_LOSSY) &&
        t->reserved + bytes - t->tail_cache > ht_emit_ring_bytes) {
        t->tail_cache = __atomic_load_n(&t->slot->tail, __ATOMIC_ACQUIRE);
        if (t->reserved + bytes - t->tail_cache > ht_emit_ring_bytes) {
            ht_emit_count_lost(t);
            return false;
        }
    }
    uint64_t p = ht_local_fetch_add(&t->reserved, bytes);
    if (__builtin_expect(p + bytes - t->tail_cache > ht_emit_ring_bytes, 0))
        ht_emit_wait_room(t, p + bytes);
    /* In locals: a store into the ring could alias the state's words, and
     * would make the compiler load them again for the next store. */
    uint64_t *ring = t->ring, mask = t->mask, w = p >> 3;
    ring[w & mask] = ht_record_word0(type, words, arg);
    ring[(w + 1) & mask] = type == HT_EVENT_HEAP_FREE ? ht_stamp_before_release() : ht_stamp();
    *pos = w + HT_RECORD_HEADER_WORDS;
    return true;
}

/* Publish what this thread wrote, unless an outer emit is still in progress
 * (we are in a signal handler that interrupted it): that one publishes. */
static inline void ht_emit_end(ht_thread_state *t)
{
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (--t->depth == 0)
        __atomic_store_n(&t->slot->head, t->reserved, __ATOMIC_RELEASE);
}

/* Write one record of n payload words. Inlined by force, so that the
 * payload of a call site with a constant n is stored word by word from
 * registers; a record that does not wrap around the ring's end (nearly
 * all) is stored without masking each index. */
static inline __attribute__((always_inline)) void ht_emit(uint32_t type, uint32_t arg,
                                                          const uint64_t *payload, unsigned n)
{
    ht_thread_state *t = &ht_thread;
    if (__builtin_expect(t->ring == NULL, 0) && !ht_emit_attach_thread())
        return;
    uint64_t w;
    if (ht_emit_begin(t, type, arg, HT_RECORD_HEADER_WORDS + n, &w)) {
        uint64_t *ring = t->ring, mask = t->mask, at = w & mask;
        if (__builtin_expect(at + n <= mask + 1, 1)) {
            for (unsigned i = 0; i < n; i++)
                ring[at + i] = payload[i];
        } else {
            for (unsigned i = 0; i < n; i++)
                ring[(w + i) & mask] = payload[i];
        }
    }
    ht_emit_end(t);
}

#endif
