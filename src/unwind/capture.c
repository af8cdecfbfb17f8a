#include "unwind/capture.h"

#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* Set while this thread unwinds with libunwind: it may allocate or map
 * memory, and those calls come back through the interposed functions. */
static __thread bool unwinding __attribute__((tls_model("initial-exec")));

/* This library's mapping: frames inside it are ours. */
static uintptr_t self_start, self_end;
static int self_known; /* 0 not yet, 1 found; atomic */

/* HEAPTRAIL_UNWIND_CHECK=1: every stack the fast walk finds is walked again
 * by libunwind and compared, and the counts are printed at exit (the tests
 * run real programs so). */
static bool checking;
static unsigned long stacks_checked, stacks_differing; /* atomic */

static void find_self(void)
{
    struct dl_find_object self;
    if (_dl_find_object((void *)(uintptr_t)ht_unwind_capture_from, &self) == 0) {
        self_start = (uintptr_t)self.dlfo_map_start;
        self_end = (uintptr_t)self.dlfo_map_end;
    }
    const char *check = getenv("HEAPTRAIL_UNWIND_CHECK");
    checking = check && strcmp(check, "1") == 0;
    __atomic_store_n(&self_known, 1, __ATOMIC_RELEASE);
}

/* The stack by libunwind, our frames culled the same way. */
static unsigned capture_by_libunwind(uint64_t *frames, unsigned max)
{
    /* A few frames more than asked for: ours are dropped from the top. */
    uint64_t raw[HT_STACK_MAX_DEPTH + 8];
    unwinding = true;
    _Static_assert(sizeof(void *) == sizeof(uint64_t), "a frame is stored as it is");
    int n = unw_backtrace((void **)raw, (int)max + 8);
    unwinding = false;
    unsigned skip = 0;
    while (skip < (unsigned)(n > 0 ? n : 0) && raw[skip] >= self_start && raw[skip] < self_end)
        skip++;
    unsigned count = n > (int)skip ? (unsigned)n - skip : 0;
    if (count > max)
        count = max;
    memcpy(frames, &raw[skip], (size_t)count * sizeof *frames);
    return count;
}

static void check(const uint64_t *frames, unsigned count, unsigned max)
{
    uint64_t theirs[HT_STACK_MAX_DEPTH];
    unsigned n = capture_by_libunwind(theirs, max);
    __atomic_fetch_add(&stacks_checked, 1, __ATOMIC_RELAXED);
    if (n != count || memcmp(frames, theirs, (size_t)n * sizeof *frames) != 0)
        __atomic_fetch_add(&stacks_differing, 1, __ATOMIC_RELAXED);
}

__attribute__((destructor)) static void report_check(void)
{
    if (!checking)
        return;
    char line[160];
    int len = snprintf(line, sizeof line, "heaptrail: unwind check (pid %d): %lu stacks, %lu differ from libunwind\n",
                       (int)getpid(), __atomic_load_n(&stacks_checked, __ATOMIC_RELAXED),
                       __atomic_load_n(&stacks_differing, __ATOMIC_RELAXED));
    if (write(STDERR_FILENO, line, (size_t)len) < 0)
        return; /* nowhere else to say it */
}

unsigned ht_unwind_capture_from(const struct ht_unwind_start *here, uint64_t *frames,
                                unsigned max)
{
    if (!__atomic_load_n(&self_known, __ATOMIC_ACQUIRE))
        find_self();
    if (max > HT_STACK_MAX_DEPTH)
        max = HT_STACK_MAX_DEPTH;
    if (here) {
        int walked = ht_unwind_walk(here, frames, max, self_start, self_end);
        if (walked != HT_UNWIND_GAVE_UP) {
            if (checking && !unwinding)
                check(frames, (unsigned)walked, max);
            return (unsigned)walked;
        }
    }
    if (unwinding)
        return 0; /* an allocation libunwind made */
    return capture_by_libunwind(frames, max);
}
