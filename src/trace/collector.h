/* The collector side of a session (used by `heaptrail record`): creates the
 * shared memory, drains the rings in rounds, turns records into events, and
 * reclaims the slots of threads that finished or died.
 *
 * Ordering: a round starts by reading the clock T, and emits from each ring
 * only the records stamped before T, merged across rings by time. A record
 * that causally precedes another (the ALLOC of a block before its FREE on
 * another thread) was committed before the later one was stamped, so before
 * T, so it is emitted first (docs/RECORDING.md, "Ordering"). */
#ifndef HT_TRACE_COLLECTOR_H
#define HT_TRACE_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "format/codec.h"
#include "format/records.h"
#include "heaptrail/events.h"

typedef struct ht_collector ht_collector;

/* Where a round's events go. */
typedef struct ht_collector_consumer {
    /* Receives each event but the heap events, in order; returns 0 to go
     * on, -1 to fail the round. */
    int (*event)(const ht_event *event, void *context);
    /* Receives the heap events (ALLOC, FREE, REALLOC) in runs of one
     * process, in compact form: record i with extra[i] (its OldSize left 0
     * for the consumer, which knows the block, to fill in). Runs and single
     * events come in one order, the trace's. Returns as event does. */
    int (*heap)(uint32_t pid, const ht_record *recs, ht_heap_extra *extra, size_t n,
                void *context);
    void *context;
} ht_collector_consumer;

/* Create a session of `slots` rings of `ring_bytes` (a power of two) each;
 * flags are HT_SESSION_*, stack_depth the frames writers capture per heap
 * event (0: no stacks). */
ht_collector *ht_collector_create(uint32_t slots, uint32_t ring_bytes, uint32_t flags,
                                  uint32_t stack_depth, char *err, size_t errlen);
void ht_collector_destroy(ht_collector *c);

/* The value of HEAPTRAIL_SESSION for traced processes. */
const char *ht_collector_session_path(const ht_collector *c);

/* The first traced process (for --no-follow). */
void ht_collector_set_root(ht_collector *c, pid_t pid);

/* Drain one round. final: emit everything (every writer has finished).
 * Heap events may wait for the next round in a run not yet full, while each
 * round finds new ones; a round that finds none delivers them. Returns the
 * number of events taken from the rings, or -1 if the sink failed. */
long ht_collector_round(ht_collector *c, const ht_collector_consumer *to, bool final);

/* A process ended (reaped with status, or found gone with known = false):
 * once its rings are drained its PROCESS_EXIT is delivered, after all of its
 * events. */
void ht_collector_process_ended(ht_collector *c, pid_t pid, int status, bool known);

/* Check slot owners that are not our children: threads and processes that
 * vanished get their slots reclaimed and their exits reported. */
void ht_collector_check_owners(ht_collector *c);

/* Slots a thread owns or that still hold records: 0 once every traced
 * thread is gone and everything was collected. */
uint32_t ht_collector_active_slots(const ht_collector *c);

/* True when pid no longer runs: it does not exist, or it is a zombie. */
bool ht_process_gone(pid_t pid);

/* Counters for the summary. */
typedef struct ht_collector_stats {
    uint64_t events;
    uint64_t lost;
    uint64_t corrupt_records; /* records a traced process damaged */
    uint32_t slots_peak;
} ht_collector_stats;

void ht_collector_get_stats(const ht_collector *c, ht_collector_stats *out);

#endif
