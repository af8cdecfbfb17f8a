/*
 * dlopen: load a library that allocates (in its constructor, its work
 * function and its destructor), call it, unload it, three times over; a
 * tracer must keep tracing through the loader's own allocations and module
 * loads and unloads. It prints its counts (its own and the library's
 * marked blocks together) as JSON.
 *
 * usage: dlopen LIBRARY
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "dlopen_host.h"
#include "marked.h"

struct dl_counts dl_host_counts;

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: dlopen LIBRARY\n");
        return 2;
    }
    for (unsigned round = 0; round < 3; round++) {
        void *keep = malloc(mark_size(round + 1)); /* alive across the load */
        if (!keep)
            return 1;
        ((volatile char *)keep)[0] = 1; /* used: a compiler may drop an unused malloc and free */
        dl_host_counts.allocs++;
        dl_host_counts.bytes += mark_size(round + 1);
        void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 1;
        }
        dl_work_fn work = (dl_work_fn)dlsym(h, DL_WORK_SYMBOL);
        if (!work) {
            fprintf(stderr, "dlsym: %s\n", dlerror());
            return 1;
        }
        work(round);
        if (dlclose(h) != 0) {
            fprintf(stderr, "dlclose: %s\n", dlerror());
            return 1;
        }
        free(keep);
        dl_host_counts.frees++;
    }
    printf("{\"allocs\": %lu, \"frees\": %lu, \"reallocs\": %lu, \"bytes\": %lu}\n",
           dl_host_counts.allocs, dl_host_counts.frees, dl_host_counts.reallocs,
           dl_host_counts.bytes);
    return 0;
}
