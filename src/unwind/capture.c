#include "unwind/capture.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <link.h>
#include <stdbool.h>
#include <string.h>

/* Set while this thread unwinds: libunwind may allocate or map memory, and
 * those calls come back through the interposed functions. */
static __thread bool unwinding __attribute__((tls_model("initial-exec")));

/* The text of this library, found once: frames inside it are ours. */
static uintptr_t self_start, self_end;
static int self_known; /* 0 not yet, 1 found; atomic */

static int find_self(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    uintptr_t probe = (uintptr_t)data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
        if (probe >= start && probe < end) {
            self_start = start;
            self_end = end;
            return 1;
        }
    }
    return 0;
}

unsigned ht_unwind_capture(uint64_t *frames, unsigned max)
{
    if (unwinding)
        return 0;
    unwinding = true;
    if (!__atomic_load_n(&self_known, __ATOMIC_ACQUIRE)) {
        dl_iterate_phdr(find_self, (void *)(uintptr_t)ht_unwind_capture);
        __atomic_store_n(&self_known, 1, __ATOMIC_RELEASE);
    }
    /* A few frames more than asked for: ours are dropped from the top. */
    void *raw[HT_STACK_MAX_DEPTH + 8];
    if (max > HT_STACK_MAX_DEPTH)
        max = HT_STACK_MAX_DEPTH;
    int n = unw_backtrace(raw, (int)max + 8);
    unsigned skip = 0;
    while (skip < (unsigned)(n > 0 ? n : 0) && (uintptr_t)raw[skip] >= self_start &&
           (uintptr_t)raw[skip] < self_end)
        skip++;
    unsigned count = n > (int)skip ? (unsigned)n - skip : 0;
    if (count > max)
        count = max;
    _Static_assert(sizeof(void *) == sizeof(uint64_t), "a frame is copied as it is");
    memcpy(frames, &raw[skip], (size_t)count * sizeof *frames);
    unwinding = false;
    return count;
}
