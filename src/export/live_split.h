/*
 * Live heap bytes of each process, split by a key: the heap handle or the
 * Source of the event that made each block. Each block is kept under the key
 * of the event that made it, so its free takes it back from there whatever
 * heap or path the free names. Memory follows the live blocks and the keys.
 *
 * The chrome export draws a counter per heap from it, the plot a layer per
 * Source or per heap.
 */
#ifndef HT_EXPORT_LIVE_SPLIT_H
#define HT_EXPORT_LIVE_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "export/exporter.h"
#include "heaptrail/events.h"

typedef struct ht_live_split ht_live_split;

/* What one event changed: the process's live bytes, and the keys whose live
 * bytes changed (at most three: a reallocation frees under one key and
 * allocates under another, and its new address may replace a block that was
 * never freed). */
typedef struct ht_live_change {
    uint64_t process_live;
    size_t count;
    uint64_t keys[3];
    uint64_t live[3];
} ht_live_change;

ht_live_split *ht_live_split_create(enum ht_export_split split);
void ht_live_split_destroy(ht_live_split *s);

/* Apply an ALLOC, FREE or REALLOC (other events change nothing: count 0).
 * 0, or -1 when memory ran out. */
int ht_live_split_event(ht_live_split *s, const ht_event *event, ht_live_change *change);

/* A new image of pid (exec), or its exit: its blocks are gone and their
 * memory is freed. Calls changed (when not NULL) for every key of pid that
 * had live blocks (now none). */
void ht_live_split_reset(ht_live_split *s, uint32_t pid,
                        void (*changed)(void *context, uint64_t key), void *context);

/* The live bytes of pid now. */
uint64_t ht_live_split_process(ht_live_split *s, uint32_t pid);

#endif
