/*
 * Allocation sites: what the blocks made at each call stack of a process
 * image did over their lives — how many, how many bytes, how many were
 * temporary, how much each stack held at its image's peak, how much it
 * leaked, and how its blocks fall into a time window.
 *
 * Feed every event of the trace in reading order. A block is born by an
 * ALLOC, or by a REALLOC at its NewAddress; it dies by a FREE, by a REALLOC
 * that moves it away (OldAddress), or when its image ends (exit, exec, end of
 * the trace: then it is leaked). A REALLOC is thus one death and one birth,
 * the new block belonging to the REALLOC's own stack. A block is accounted
 * when it dies, because only then are its lifetime and its window type known:
 * the filter (size, lifetime, window) applies to whole blocks.
 *
 * Definitions (docs/ANALYSIS.md says them for users):
 *   temporary  a block freed by the thread that allocated it with no other
 *              allocation (ALLOC or REALLOC) of that thread in between.
 *   peak       the image's peak is the first moment its live bytes were at
 *              their most (over every block, filtered or not); a site's peak
 *              figures are its blocks that were live at that moment and pass
 *              the filter. Unfiltered, the sites' peak bytes add up exactly
 *              to the image's peak.
 *   window     [from, to): a block allocated at a and dying at d (never, for
 *              a leaked block) is AIFI when from <= a and d < to, AIFO when
 *              from <= a < to <= d, AOFI when a < from <= d < to, AOFO when
 *              a < from and d >= to — WPA's four types. A block entirely
 *              before or after the window is not in it and, with a window
 *              set, is filtered out.
 * Memory follows the live blocks and the distinct stacks of the running
 * images, never the number of events.
 */
#ifndef HT_ANALYSIS_SITES_H
#define HT_ANALYSIS_SITES_H

#include <stddef.h>
#include <stdint.h>

#include "heaptrail/events.h"

/* Window types, indexes of ht_site.window_*. */
enum ht_window_type { HT_AIFI, HT_AIFO, HT_AOFI, HT_AOFO, HT_WINDOW_TYPES };

/* Name of a window type: "AIFI", "AIFO", "AOFI", "AOFO". */
const char *ht_window_type_name(unsigned type);

/* Which blocks count. Sizes and lifetimes are inclusive bounds. */
typedef struct ht_sites_filter {
    uint64_t min_size, max_size;         /* requested bytes */
    uint64_t min_lifetime, max_lifetime; /* ns; a leaked block lives to its image's end */
    int window;                          /* nonzero: only blocks in [from, to) */
    uint64_t from, to;                   /* trace clock, ns */
} ht_sites_filter;

/* The filter that keeps every block. */
ht_sites_filter ht_sites_filter_all(void);

/* The blocks of one image born at one stack (stack_id 0: recorded without a
 * stack), counted when they died and passed the filter. */
typedef struct ht_site {
    uint32_t pid;
    uint32_t stack_id;
    uint64_t allocs, bytes;                   /* blocks born here, and their sizes */
    uint64_t temporary, temporary_bytes;      /* of them, temporary */
    uint64_t peak_blocks, peak_bytes;         /* live at the image's peak */
    uint64_t leaked_blocks, leaked_bytes;     /* live when the image ended */
    uint64_t lifetime_total;                  /* sum of lifetimes (ns) of the dead, not leaked */
    uint64_t window_blocks[HT_WINDOW_TYPES];  /* with a window: blocks by type */
    uint64_t window_bytes[HT_WINDOW_TYPES];
} ht_site;

/* Add the figures of from to into (pid and stack_id stay into's). */
void ht_site_sum(ht_site *into, const ht_site *from);

/* An image that ended, with its sites. */
typedef struct ht_sites_image {
    uint32_t pid;
    uint64_t peak_bytes; /* live bytes at the peak, every block counted */
    uint64_t peak_time;  /* when it was first reached (0 when nothing was ever live) */
    uint64_t end_time;   /* the last event of the image */
    ht_site *sites;      /* ascending stack id; free() it */
    size_t count;
} ht_sites_image;

typedef struct ht_sites ht_sites;

ht_sites *ht_sites_create(const ht_sites_filter *filter);
void ht_sites_destroy(ht_sites *s);

/* Take one event: ALLOC, FREE and REALLOC change the blocks of the event's
 * process; other events only move its clock. Returns 0, or -1 when memory
 * ran out. */
int ht_sites_add(ht_sites *s, const ht_event *event);

/* The block at address of pid will be looked up soon: start fetching its
 * table slot into the cache (a hint; changes nothing). */
void ht_sites_prefetch(ht_sites *s, uint32_t pid, uint64_t address);

/* End the image of pid (its exit, its exec, or the end of the trace): its
 * live blocks die leaked, and *out receives its figures (count 0 and no
 * sites when nothing of pid was seen). pid is forgotten. Returns 0, or -1
 * when memory ran out (nothing is forgotten). */
int ht_sites_end_image(ht_sites *s, uint32_t pid, ht_sites_image *out);

/* A process whose image was not ended yet, for the end of the trace:
 * returns 1 and sets *pid, or 0 when there is none. */
int ht_sites_next_open(const ht_sites *s, uint32_t *pid);

#endif
