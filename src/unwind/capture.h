/* Capturing the call stack of a heap operation inside a traced process.
 *
 * Debian's binaries have no frame pointers, so stacks are walked with the
 * eh_frame CFI rules: first by the fast walk of unwind/walk.h (each rule
 * decoded once per address, then a table probe and a load or two a frame);
 * a stack it gives up on (a signal frame, DWARF expressions, code without
 * CFI) is walked again by libunwind's unw_backtrace, which knows them all.
 * The tracer's own frames are culled from the top, the way WPA culls
 * RtlAllocateHeap: the stack starts at the caller of malloc. */
#ifndef HT_UNWIND_CAPTURE_H
#define HT_UNWIND_CAPTURE_H

#include <stdint.h>

#include "trace/emit.h"

#define HT_STACK_MAX_DEPTH 256

/* Fill frames with up to max return addresses, innermost first, without the
 * tracer's frames. Returns how many; 0 when the stack cannot be read, or
 * for an allocation libunwind itself made while walking this thread. */
unsigned ht_unwind_capture(uint64_t *frames, unsigned max) HT_HIDDEN;

#endif
