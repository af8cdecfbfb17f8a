/*
 * Leak accounting: the blocks each process image still holds, each with the
 * stack id of the event that made it, grouped by stack when the image ends.
 *
 * Feed every heap event (ALLOC adds a block, FREE removes it, REALLOC moves
 * it: the old address goes, the new one comes with the new size and the
 * REALLOC's own stack id). When an image ends (its process exits, execs, or
 * the trace ends), ht_leaks_end_image hands its blocks over as groups and
 * forgets them. Each process has its own table, so a forked child's blocks
 * never mix with its parent's at the same addresses. Memory follows the live
 * blocks, never the number of events.
 */
#ifndef HT_ANALYSIS_LEAKS_H
#define HT_ANALYSIS_LEAKS_H

#include <stddef.h>
#include <stdint.h>

#include "heaptrail/events.h"

typedef struct ht_leaks ht_leaks;

/* The blocks of one image that share a stack id. */
typedef struct ht_leak_group {
    uint32_t pid;
    uint32_t stack_id; /* 0: the events had no stack */
    uint64_t blocks;
    uint64_t bytes;
} ht_leak_group;

ht_leaks *ht_leaks_create(void);
void ht_leaks_destroy(ht_leaks *l);

/* Take one event: ALLOC, FREE and REALLOC change the blocks of the event's
 * process, other events are ignored. Returns 0, or -1 when memory ran out. */
int ht_leaks_add(ht_leaks *l, const ht_event *event);

/* End the image of pid: *groups receives its live blocks grouped by stack id
 * (ascending), *count their number (both 0 / NULL when it holds none); free
 * *groups with free(). pid's blocks are forgotten. Returns 0, or -1 when
 * memory ran out (the blocks are kept). */
int ht_leaks_end_image(ht_leaks *l, uint32_t pid, ht_leak_group **groups, size_t *count);

/* A process whose image still holds blocks, for the end of the trace:
 * returns 1 and sets *pid, or 0 when there is none. */
int ht_leaks_next_open(const ht_leaks *l, uint32_t *pid);

#endif
