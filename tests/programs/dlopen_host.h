/*
 * The contract between the dlopen program and the library it loads: the
 * library counts its marked allocations into the host's counters (the host is
 * linked with -rdynamic so that the library resolves this symbol to it), so
 * that even its constructor and destructor are counted after it is unloaded.
 */
#ifndef HT_TEST_DLOPEN_HOST_H
#define HT_TEST_DLOPEN_HOST_H

struct dl_counts {
    unsigned long allocs, frees, reallocs, bytes;
};

extern struct dl_counts dl_host_counts;

/* The library's entry point: one round of work. */
typedef void (*dl_work_fn)(unsigned round);
#define DL_WORK_SYMBOL "dl_work"

#endif
