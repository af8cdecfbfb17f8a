/* Interning call stacks inside a traced process: each distinct stack gets an
 * id and is written once (a STACK_DEFINE record); heap events carry the id.
 *
 * The table is shared by the threads of the process and takes no lock: a
 * stack is keyed by a 64-bit hash of its frames (two different stacks with
 * the same hash are taken for one: with a million stacks, odds of about one
 * in 10^7); the thread that claims a slot emits the definition and only then
 * publishes the id, so any event that carries the id is stamped after the
 * definition was committed and comes after it in the trace. Ids are per
 * process image: a forked child starts an empty table. */
#ifndef HT_TRACE_STACK_TABLE_H
#define HT_TRACE_STACK_TABLE_H

#include <stdint.h>

#include "trace/emit.h"

/* The id of this stack, defining it first if it is new; 0 for an empty one. */
uint32_t ht_stack_intern(const uint64_t *frames, unsigned depth) HT_HIDDEN;

/* In a forked child: forget the parent's ids. */
void ht_stack_table_reset(void) HT_HIDDEN;

#endif
