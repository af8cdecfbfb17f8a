/*
 * libhtdlwork.so: the library the dlopen program loads and unloads. Its
 * constructor allocates a marked block and its destructor frees it, so
 * allocations also happen inside dlopen() and dlclose(), while the loader
 * holds its own lock; dl_work allocates, reallocates and frees.
 */
#include <stdlib.h>

#include "dlopen_host.h"
#include "marked.h"

void dl_work(unsigned round);

static void *held; /* lives from load to unload */

static void *count_alloc(void *p, size_t size)
{
    if (!p)
        abort();
    ((volatile char *)p)[0] = 1;
    dl_host_counts.allocs++;
    dl_host_counts.bytes += size;
    return p;
}

__attribute__((constructor)) static void on_load(void)
{
    held = count_alloc(malloc(mark_size(7)), mark_size(7));
}

__attribute__((destructor)) static void on_unload(void)
{
    free(held);
    dl_host_counts.frees++;
}

void dl_work(unsigned round)
{
    void *p[40];
    for (unsigned i = 0; i < 40; i++)
        p[i] = count_alloc(calloc(1, mark_size(round + i)), mark_size(round + i));
    for (unsigned i = 0; i < 40; i += 4) {
        size_t s = mark_size(round + i + 5);
        p[i] = realloc(p[i], s);
        if (!p[i])
            abort();
        dl_host_counts.allocs++;
        dl_host_counts.frees++;
        dl_host_counts.reallocs++;
        dl_host_counts.bytes += s;
    }
    for (unsigned i = 0; i < 40; i++) {
        free(p[i]);
        dl_host_counts.frees++;
    }
}
