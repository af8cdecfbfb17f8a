/* The writer side of a session: what a traced process does to put an event in
 * its thread's ring.
 *
 * Hot path (every heap operation): one load and branch when tracing is off;
 * when on, a signal-safe reservation in thread-local state, the timestamp, a
 * few stores into the ring and one release store of the ring head. No lock,
 * no system call, no allocation. Attaching a thread to a slot, waiting for
 * room and the process-level work are the uncommon paths in emit.c.
 *
 * Two ways in: ht_emit takes any record in any session; ht_emit_plain takes
 * a session's common case (HT_EMIT_PLAIN: no stacks, no loss, TSC stamps)
 * and tests none of what it leaves out, for the interposed functions.
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
    /* ht_emit_plain writes a record that ends at or before this byte
     * without another test: tail_cache plus the ring's size, or the end of
     * the ring's lap that holds `reserved` if that comes first. Read before
     * the reservation: one that a signal handler's record computes later may
     * belong to the next lap. */
    uint64_t limit;
    uint32_t depth;      /* emits in progress on this thread (signal nesting) */
    uint32_t flags;      /* HT_THREAD_* */
} ht_thread_state;

#define HT_THREAD_ATTACHING 0x1 /* inside attach: nested events are dropped, not recursed */
#define HT_THREAD_EXITED 0x2    /* its exit was emitted: a later slot is a continuation */
#define HT_THREAD_OFF 0x4       /* never trace this thread (no session) */

extern __thread ht_thread_state ht_thread __attribute__((tls_model("initial-exec"))) HT_HIDDEN;

/* How this process records, in the one word a heap operation reads first
 * (HT_EMIT_*; 0 while it does not). */
extern uint32_t ht_emit_mode HT_HIDDEN;
#define HT_EMIT_ON 0x1 /* this process records */
/* ...with no stacks, no loss and TSC stamps: ht_emit_plain serves. Set only
 * with HT_EMIT_ON, and cleared with it. */
#define HT_EMIT_PLAIN 0x2
/* A second thread of this process has attached to the session: from then on
 * a block that one thread frees may be the next that another allocates, and
 * the stamps must order the two (see ht_stamp). Never cleared but in a fork
 * child, which starts with one thread. */
#define HT_EMIT_SHARED 0x4

extern uint32_t ht_emit_ring_bytes HT_HIDDEN;
extern uint32_t ht_emit_session_flags HT_HIDDEN;
extern uint32_t ht_emit_stack_depth HT_HIDDEN; /* 0: no stacks */

static inline uint32_t ht_emit_mode_now(void)
{
    return __atomic_load_n(&ht_emit_mode, __ATOMIC_RELAXED);
}

/* Whether this process records. */
static inline bool ht_emit_recording(void) { return ht_emit_mode_now() & HT_EMIT_ON; }

/* Uncommon paths. */
bool ht_emit_attach_thread(void) HT_HIDDEN;
void ht_emit_wait_room(ht_thread_state *t, uint64_t end) HT_HIDDEN;
void ht_emit_count_lost(ht_thread_state *t) HT_HIDDEN;

/* ht_emit_plain's uncommon cases. _first: the thread has no slot yet;
 * attach it and emit through ht_emit. _rest: the record of word0 reserved
 * at byte p ends past t->limit; wait for room, write it, end the emit and
 * set the next limit. */
void ht_emit_plain_first(uint32_t type, uint32_t arg, unsigned n, uint64_t a, uint64_t b,
                         uint64_t c) HT_HIDDEN;
void ht_emit_plain_rest(uint64_t p, uint64_t word0, uint64_t stamp, uint64_t a, uint64_t b,
                        uint64_t c) HT_HIDDEN;

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
 * HT_EMIT_SHARED before its first record, so a block it frees after that
 * reaches another thread only with the flag visible (x86 keeps loads in
 * order, and the mode's load follows the allocator's). */
static inline uint64_t ht_stamp_tsc(uint32_t mode)
{
    return (mode & HT_EMIT_SHARED) ? ht_tsc_read_ordered() : ht_tsc_read();
}

static inline uint64_t ht_stamp(void)
{
    if (!(ht_emit_session_flags & HT_SESSION_TSC))
        return ht_now_ns();
    return ht_stamp_tsc(ht_emit_mode_now());
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
 * with t->ring set. Inlined by force: the compiler otherwise keeps one copy
 * for the several emits of realloc's path, and calls it. */
static inline __attribute__((always_inline)) bool ht_emit_begin(ht_thread_state *t, uint32_t type,
                                                               uint32_t arg, uint32_t words,
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

/* ht_emit for a heap record of n <= 3 payload words (a, b, c) in a process
 * whose mode, read by the caller, has HT_EMIT_PLAIN: no test for loss,
 * stacks or the clock, the payload in registers, one comparison with
 * t->limit for room and for the ring's end. The uncommon cases are calls
 * that take all they need as arguments, so that the caller keeps no
 * register across them: the thread's first record, and a record past the
 * limit. */
static inline __attribute__((always_inline)) void ht_emit_plain(uint32_t mode, uint32_t type,
                                                                uint32_t arg, unsigned n,
                                                                uint64_t a, uint64_t b,
                                                                uint64_t c)
{
    ht_thread_state *t = &ht_thread;
    if (__builtin_expect(t->ring == NULL, 0)) {
        ht_emit_plain_first(type, arg, n, a, b, c);
        return;
    }
    uint64_t stamp = type == HT_EVENT_HEAP_FREE ? ht_tsc_read() : ht_stamp_tsc(mode);
    unsigned words = HT_RECORD_HEADER_WORDS + n;
    uint64_t bytes = (uint64_t)words * 8, word0 = ht_record_word0(type, words, arg);
    t->depth++;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    uint64_t limit = t->limit;
    uint64_t p = ht_local_fetch_add(&t->reserved, bytes);
    if (__builtin_expect(p + bytes > limit, 0)) {
        ht_emit_plain_rest(p, word0, stamp, a, b, c);
        return;
    }
    uint64_t *at = t->ring + ((p >> 3) & t->mask);
    at[0] = word0;
    at[1] = stamp;
    at[2] = a;
    if (n > 1)
        at[3] = b;
    if (n > 2)
        at[4] = c;
    ht_emit_end(t);
}

#endif
