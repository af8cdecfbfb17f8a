/* Reading a whole trace as records, with the chunks checked, decompressed
 * and decoded on worker threads while the calling thread consumes them in
 * file order.
 *
 * Chunks are independent (docs/FORMAT.md §3), so any number of them can be
 * decoded at once; the consumer still sees every event in the order
 * ht_trace_next would deliver it, the same errors (an event that fails a
 * check is never delivered, the events before it are) and the same status
 * counters. Memory: at most 2 × workers + 1 chunks in flight, each with its
 * body, its decoded body and the records of up to HT_PARALLEL_SLICE events
 * (one chunk and HT_PARALLEL_SLICE_ALONE records without workers). */
#ifndef HT_FORMAT_PARALLEL_H
#define HT_FORMAT_PARALLEL_H

#include <stddef.h>
#include <stdint.h>

#include "heaptrail/trace.h"
#include "records.h"

/* Records handed over per call at most (a chunk holding more comes in
 * several calls): when workers decode, a whole chunk of the writer's usual
 * size, decoded ahead of the consumer; when the calling thread decodes too,
 * few enough that they are still in cache when they are consumed. */
#define HT_PARALLEL_SLICE (1u << 18)
#define HT_PARALLEL_SLICE_ALONE (1u << 12)

/* Receives the next n records, all of process pid, in file order. Returns 0
 * to go on, anything else to stop. */
typedef int (*ht_records_callback)(uint32_t pid, const ht_record *recs, size_t n, void *context);

/* Deliver every remaining event of trace as records. workers: threads that
 * decode besides the calling one (0: the calling thread decodes too).
 * Returns 0 at the end of the file, the callback's nonzero value when it
 * stopped, -1 on error (see ht_trace_last_error). Afterwards the trace is
 * at its end: a stopped read does not resume. */
int ht_trace_process_records(ht_trace *trace, unsigned workers, ht_records_callback callback,
                             void *context);

#endif
