/* Reading a trace into allocation sites the way every site-based command
 * does (leaks, report, diff, the exports weighted by peak or leaks): each
 * process image is handed over when it ends — its exit, its exec, or the end
 * of the trace — while its stacks can still be resolved, since a new image
 * of the same pid makes the stack store forget the old one's stacks. */
#ifndef HT_CLI_SITE_READER_H
#define HT_CLI_SITE_READER_H

#include <stdint.h>

#include "analysis/sites.h"
#include "cli/frames.h"
#include "heaptrail/trace.h"

typedef struct ht_cli_site_reader {
    ht_cli_stacks *stacks; /* opened; takes every event */
    ht_sites *sites;       /* takes the events of the chosen process(es) */
    int by_pid;            /* nonzero: only the events of pid reach sites and event */
    uint32_t pid;
    /* An image with sites ended; its stacks resolve through stacks until
     * this returns. Nonzero stops the reading with -2. */
    int (*image_ended)(void *context, const ht_sites_image *image);
    /* Every event of the chosen process(es), before the stack store takes
     * it (an image's stacks still resolve on its exit or exec), or NULL.
     * Nonzero stops the reading with -2. */
    int (*before)(void *context, const ht_event *event);
    /* Every event of the chosen process(es), after the stores took it, or
     * NULL. Nonzero stops the reading with -2. */
    int (*event)(void *context, const ht_event *event);
    /* A heap event about address of pid comes soon: the consumer may start
     * fetching what it will look up (NULL: nothing to fetch). */
    void (*prefetch)(void *context, uint32_t pid, uint64_t address);
    void *context;
} ht_cli_site_reader;

/* Read the rest of trace. Heap events (ALLOC, FREE, REALLOC) are held back
 * a few at a time, so that the block each one touches is fetched into the
 * cache while the ones before it are handled: they reach the callbacks in
 * order, as copies of their header and heap fields (without the generic
 * Fields list, which no site consumer reads). Returns what ht_cli_next last returned (0 at the
 * end, negative when the trace is damaged), or -2 when memory ran out or a
 * callback failed. */
int ht_cli_read_sites(ht_trace *trace, const ht_cli_site_reader *reader);

#endif
