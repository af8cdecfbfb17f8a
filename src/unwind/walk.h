/* The fast stack walk: return addresses from the CFI rules of each frame,
 * cached per address.
 *
 * A rule read from .eh_frame (unwind/eh_frame.h) is packed into one word of a
 * process-wide table on first use, so that a frame seen before costs a table
 * probe and one or two loads from the stack. The table is lock-free (one
 * compare-and-swap to insert), allocation-free and shared by all threads; an
 * unloaded object's rules are forgotten, since another object may later take
 * its addresses. */
#ifndef HT_UNWIND_WALK_H
#define HT_UNWIND_WALK_H

#include <stdint.h>

/* Where a walk starts: the registers at one instruction. */
struct ht_unwind_start {
    uint64_t ip, sp, bp;
};

/* Fill *start with the registers at this point of the calling function. The
 * CFI of that very instruction tells where the function's caller is. rbp is
 * read first: the compiler may give it to an output (it has then saved the
 * caller's rbp, and the value read is not needed). */
#if defined(__x86_64__)
#define HT_UNWIND_HERE(start)                                                     \
    __asm__ volatile("mov %%rbp, %2\n\tmov %%rsp, %1\n\tlea 0(%%rip), %0"         \
                     : "=&r"((start)->ip), "=&r"((start)->sp), "=&r"((start)->bp))
#define HT_UNWIND_FAST 1
#else
#define HT_UNWIND_FAST 0
#endif

/* The walk gave up: a frame's rule is not one the fast walk follows (signal
 * frames, DWARF expressions, code without CFI); unwind that stack another way. */
#define HT_UNWIND_GAVE_UP (-1)

/* Write up to max addresses, innermost first: start->ip, then the return
 * address of each frame until the outermost one, leaving out the innermost
 * frames whose addresses lie in [skip_start, skip_end) (the caller's own).
 * Returns how many, or HT_UNWIND_GAVE_UP. */
int ht_unwind_walk(const struct ht_unwind_start *start, uint64_t *frames, unsigned max,
                   uintptr_t skip_start, uintptr_t skip_end) __attribute__((visibility("hidden")));

/* Forget every cached rule (after dlclose). Walks in progress stay safe:
 * they see either a rule that held before or none. */
void ht_unwind_forget(void) __attribute__((visibility("hidden")));

#endif
