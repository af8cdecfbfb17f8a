/*
 * The streaming summary of a trace: what `heaptrail stats` prints.
 *
 * Feed it every event in reading order; it keeps one entry per process image
 * (a process, or what it became after an exec) with its identity, its event
 * counts, the bytes it allocated, its live, peak and leaked bytes, the
 * allocator paths that served it, its threads, lost events and anomalies;
 * and the same figures over the whole trace. Memory follows the blocks live
 * at one time (one live table per running image), not the file's length.
 *
 * Heap semantics:
 *   ALLOC   adds a live block of Size bytes at Address.
 *   FREE    removes the block at Address.
 *   REALLOC moves a live block: the one at OldAddress goes, one of NewSize
 *           bytes at NewAddress comes; live bytes change by NewSize minus the
 *           size recorded for OldAddress (nothing when it was not live).
 *   Address 0 is never a block: ALLOC or REALLOC returning it failed (or,
 *   for a realloc to size 0, freed), FREE and REALLOC of it touch nothing.
 *   Blocks still live when an image ends (exit, exec, end of the trace) are
 *   that image's leaks.
 * Inconsistent input (a free of an address that is not live, say, after lost
 * events) is counted as an anomaly and the figures stay consistent.
 *
 * Processes: a PROCESS_START names the image (pid, ppid, command line). A
 * second one for the same pid is an exec: a new entry begins. After a
 * PROCESS_EXIT, a later event of that pid begins a new entry too (pid reuse).
 * Events of a pid before any PROCESS_START make an entry with no identity.
 *
 * Peaks: each image's peak is exact (its events come in time order). The
 * trace-wide peak is the peak of the sum over images in reading order; the
 * file stores each process's events in its own chunks, so when processes run
 * at the same time this is the peak of one order consistent with each
 * process's own timeline: never below the largest image's peak, never above
 * the sum of their peaks.
 */
#ifndef HT_ANALYSIS_SUMMARY_H
#define HT_ANALYSIS_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/idmap.h"
#include "analysis/live.h"
#include "heaptrail/events.h"

/* Distinct event types a summary counts; a trace describes at most this many. */
#define HT_SUMMARY_MAX_TYPES 256

/* Threads each image remembers as already counted, to skip its thread set. */
#define HT_SUMMARY_TID_CACHE 8

/* by_source slots: the Source value for 1..6, slot 0 for any other value. */
#define HT_SUMMARY_SOURCES 7

typedef struct ht_anomalies {
    uint64_t free_unknown;    /* FREE of an address that is not live */
    uint64_t realloc_unknown; /* REALLOC whose OldAddress is not live */
    uint64_t alloc_over_live; /* ALLOC or REALLOC returning an address still live */
} ht_anomalies;

/* The figures kept for each image and for the whole trace. */
typedef struct ht_usage {
    uint64_t events;
    uint64_t by_type[HT_SUMMARY_MAX_TYPES]; /* by type slot, see ht_summary_type */
    uint64_t bytes_allocated; /* sum of ALLOC Size and REALLOC NewSize */
    uint64_t live_bytes, live_blocks;
    uint64_t peak_bytes, peak_time; /* most live bytes at once, and when first reached */
    uint64_t leaked_bytes, leaked_blocks; /* live when the image ended; set when it ends */
    uint64_t by_source[HT_SUMMARY_SOURCES]; /* ALLOC and REALLOC events by Source */
    uint64_t lost_events;
    uint64_t threads;                /* distinct thread ids */
    uint64_t first_time, last_time;  /* of its events; meaningful when events > 0 */
    ht_anomalies anomalies;
} ht_usage;

/* One process image. */
typedef struct ht_process_summary {
    uint32_t pid, ppid;
    int started;      /* a PROCESS_START named it: ppid and command are known */
    int after_exec;   /* it began with an exec: an earlier entry has the same pid */
    int exited;       /* a PROCESS_EXIT was seen */
    int32_t exit_status;
    int exit_known;   /* the exit status was observed */
    /* Raw bytes, not NUL-free in general (NULL when not started): the command
     * line with its arguments joined by spaces, and the executable's path. */
    char *command;
    size_t command_len;
    char *executable;
    size_t executable_len;
    ht_usage usage;

    /* Private to summary.c: state while the image runs. */
    int ended;
    ht_live live;
    ht_idmap threads;
    uint32_t recent_tids[HT_SUMMARY_TID_CACHE]; /* tid + 1 of threads already counted */
} ht_process_summary;

typedef struct ht_summary ht_summary;

ht_summary *ht_summary_create(void);
void ht_summary_destroy(ht_summary *s);

/* Account for one event. Returns 0, or -1 when memory ran out. */
int ht_summary_add(ht_summary *s, const ht_event *ev);

struct ht_record;

/* Account for n events of process pid, as records (format/records.h), in
 * reading order: the same as ht_summary_add for each, faster. Where
 * old_sizes is not NULL, old_sizes[i] of each REALLOC recs[i] gets the size
 * its old block had right before it, 0 when that was not live (the recorder
 * fills REALLOC's OldSize with it); the other entries are left alone.
 * Returns 0, or -1 when memory ran out. */
int ht_summary_add_records(ht_summary *s, uint32_t pid, const struct ht_record *recs, size_t n,
                           uint64_t *old_sizes);

/* The block at address of pid's running image will be looked up soon: start
 * fetching its table slot into the cache. */
void ht_summary_prefetch(ht_summary *s, uint32_t pid, uint64_t address);

/* The trace is over: end every image still running (its live blocks become
 * its leaks), free the live tables and compute the totals. Call once, after
 * the last ht_summary_add. */
void ht_summary_finish(ht_summary *s);

/* Images in order of their first event. */
size_t ht_summary_process_count(const ht_summary *s);
const ht_process_summary *ht_summary_process(const ht_summary *s, size_t index);

/* The whole trace (after ht_summary_finish): sums over the images, except
 * peak_bytes/peak_time (the sum's peak, see above), threads (distinct thread
 * ids of the trace), first_time/last_time (of the trace) and live_* (what
 * the images left live, the same as leaked_*). */
const ht_usage *ht_summary_totals(const ht_summary *s);

/* Event types seen, as slots of ht_usage.by_type in order of first sight:
 * the name of slot index (and its type number in *type), or NULL past the
 * last one. Names are ht_event_type_name's, or the trace's own for types
 * this library does not know. */
const char *ht_summary_type(const ht_summary *s, size_t index, uint16_t *type);

/* Events of the given type in u (0 when the type was never seen). */
uint64_t ht_summary_type_count(const ht_summary *s, const ht_usage *u, uint16_t type);

/* Name of a by_source slot: ht_source_name of its Source value, or "unknown". */
const char *ht_summary_source_name(unsigned slot);

#endif
