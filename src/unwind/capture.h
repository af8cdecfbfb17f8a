/* Capturing the call stack of a heap operation inside a traced process.
 *
 * libunwind's unw_backtrace walks eh_frame/DWARF unwind tables (Debian's
 * binaries have no frame pointers) and caches what it decoded per address,
 * so that the frames that repeat (most of a stack) cost little the second
 * time. The tracer's own frames are culled from the top, the way WPA culls
 * RtlAllocateHeap: the stack starts at the caller of malloc. */
#ifndef HT_UNWIND_CAPTURE_H
#define HT_UNWIND_CAPTURE_H

#include <stdint.h>

#include "trace/emit.h"

#define HT_STACK_MAX_DEPTH 256

/* Fill frames with up to max return addresses, innermost first, without the
 * tracer's frames. Returns how many; 0 when the thread is already unwinding
 * (an allocation made by the unwinder itself) or the stack cannot be read. */
unsigned ht_unwind_capture(uint64_t *frames, unsigned max) HT_HIDDEN;

#endif
