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
#include "unwind/walk.h"

#define HT_STACK_MAX_DEPTH 256

/* The capture from registers read in the function that asks (NULL: where
 * they cannot be read); ht_unwind_capture below is the way to call it. */
unsigned ht_unwind_capture_from(const struct ht_unwind_start *here, uint64_t *frames,
                                unsigned max) HT_HIDDEN;

/* Fill frames with up to max return addresses, innermost first, without the
 * tracer's frames. Returns how many; 0 when the stack cannot be read, or
 * for an allocation libunwind itself made while walking this thread.
 * Inlined, so that the walk starts in the caller's frame: one frame fewer
 * to walk and cull. */
static inline __attribute__((always_inline)) unsigned ht_unwind_capture(uint64_t *frames,
                                                                        unsigned max)
{
#if HT_UNWIND_FAST
    struct ht_unwind_start here;
    HT_UNWIND_HERE(&here);
    return ht_unwind_capture_from(&here, frames, max);
#else
    return ht_unwind_capture_from(NULL, frames, max);
#endif
}

#endif
