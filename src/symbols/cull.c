/* Allocator frames at the top of a stack, by function name. */
#include <string.h>

#include "heaptrail/symbols.h"

static int allocator_function(const char *name)
{
    static const char *const prefixes[] = {"operator new", "operator delete"};
    static const char *const names[] = {"malloc", "calloc", "realloc", "reallocarray", "free",
                                        "posix_memalign", "aligned_alloc", "memalign", "valloc",
                                        "pvalloc", "__libc_malloc", "__libc_calloc",
                                        "__libc_realloc", "__libc_free", "__libc_memalign"};
    if (!name)
        return 0;
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

size_t ht_frames_allocator_prefix(const ht_frame *frames, size_t count)
{
    size_t n = 0;
    while (n < count && allocator_function(frames[n].function))
        n++;
    return n;
}
