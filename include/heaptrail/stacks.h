/*
 * heaptrail/stacks.h — the call stacks of a trace.
 *
 * Heap events carry a stack id (ht_event_header.StackId); each id is defined
 * once per process image by a STACK_DEFINE event that comes before the
 * events that use it. Feed every event to ht_stacks_add and look stacks up
 * by (process, id). A new image of a process (an exec: a second
 * PROCESS_START for the pid) starts its ids afresh, and so does the store.
 * Memory grows with the distinct stacks, not with the events.
 */
#ifndef HEAPTRAIL_STACKS_H
#define HEAPTRAIL_STACKS_H

#include <stdint.h>

#include "heaptrail/events.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ht_stacks ht_stacks;

ht_stacks *ht_stacks_create(void);
void ht_stacks_destroy(ht_stacks *stacks);

/* Take what concerns stacks from one event (STACK_DEFINE, PROCESS_START).
 * Returns 0, or -1 when memory ran out. */
int ht_stacks_add(ht_stacks *stacks, const ht_event *event);

/* The return addresses of stack id of process pid, innermost first, and
 * their number in *depth; NULL when the trace did not define it (id 0, or a
 * definition lost with dropped events). Valid until the store changes. */
const uint64_t *ht_stacks_get(const ht_stacks *stacks, uint32_t pid, uint32_t id,
                              uint32_t *depth);

#ifdef __cplusplus
}
#endif
#endif
