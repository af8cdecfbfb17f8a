/*
 * Breakdowns of a trace's heap operations: a size histogram, and the
 * operations per thread, per Source and per heap. Counted per event, as the
 * events come: ALLOC and REALLOC (with a block) are allocations of their Size
 * or NewSize, FREE of a non-NULL pointer is a free. Memory follows the
 * number of threads and heaps, not the number of events.
 */
#ifndef HT_ANALYSIS_BREAKDOWN_H
#define HT_ANALYSIS_BREAKDOWN_H

#include <stddef.h>
#include <stdint.h>

#include "heaptrail/events.h"

/* Histogram buckets: bucket 0 holds size 0, bucket k (1..64) the sizes
 * from 2^(k-1) to 2^k - 1. */
#define HT_BREAKDOWN_BUCKETS 65

/* Source rows: the Source value for 0..6, HT_BREAKDOWN_SOURCES - 1 for any other. */
#define HT_BREAKDOWN_SOURCES 8

typedef struct ht_breakdown_row {
    uint64_t allocs, bytes, frees;
} ht_breakdown_row;

typedef struct ht_thread_row {
    uint32_t pid, tid;
    char name[16]; /* its last THREAD_NAME, NUL-terminated; empty when it had none */
    ht_breakdown_row ops;
} ht_thread_row;

typedef struct ht_heap_row {
    uint32_t pid;
    uint64_t heap; /* HeapHandle */
    ht_breakdown_row ops;
} ht_heap_row;

/* Which operations count: sizes (inclusive) and times ([from, to), trace
 * clock). Frees have no size: only the time applies to them. */
typedef struct ht_breakdown_filter {
    uint64_t min_size, max_size;
    uint64_t from, to;
} ht_breakdown_filter;

typedef struct ht_breakdown {
    ht_breakdown_filter filter;
    ht_breakdown_row histogram[HT_BREAKDOWN_BUCKETS]; /* frees stay 0 */
    ht_breakdown_row sources[HT_BREAKDOWN_SOURCES];   /* frees stay 0 */
    ht_thread_row *threads; /* in order of first sight */
    size_t nthreads, threads_cap;
    ht_heap_row *heaps;     /* in order of first sight */
    size_t nheaps, heaps_cap;
    /* Private: finding rows by key. */
    uint64_t *index;
    size_t index_mask;
} ht_breakdown;

/* Start empty, counting what passes filter (NULL: everything). */
void ht_breakdown_init(ht_breakdown *b, const ht_breakdown_filter *filter);
void ht_breakdown_destroy(ht_breakdown *b);

/* Take one event. Returns 0, or -1 when memory ran out. */
int ht_breakdown_add(ht_breakdown *b, const ht_event *event);

/* The histogram bucket of a size, and the smallest size of a bucket. */
unsigned ht_breakdown_bucket(uint64_t size);
uint64_t ht_breakdown_bucket_min(unsigned bucket);

#endif
