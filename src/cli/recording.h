/* A recording in progress, as `heaptrail record` and `heaptrail collect`
 * run one: the output file, the session, the trace writer and the summary
 * that fills REALLOC's OldSize and gives the closing figures. */
#ifndef HT_CLI_RECORDING_H
#define HT_CLI_RECORDING_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "analysis/summary.h"
#include "heaptrail/writer.h"
#include "trace/collector.h"

typedef struct recording_options {
    const char *name;     /* the subcommand, for messages */
    const char *path;     /* the trace file */
    bool force;           /* overwrite an existing file */
    uint32_t session_flags; /* HT_SESSION_* */
    uint32_t ring_bytes;
    uint32_t stack_depth; /* frames per heap event; 0: no stacks */
    uint32_t trace_options; /* HT_TRACE_OPT_* for the header */
    const char *command;  /* the recorded command, for the header */
} recording_options;

typedef struct recording {
    const char *name;
    char path[PATH_MAX];
    int fd;
    ht_collector *collector;
    ht_writer *writer;
    ht_summary *summary;
    ht_collector_consumer consumer;
    bool write_failed;
    int write_errno;
} recording;

/* Create the output file (mode 0600, never through a symbolic link), the
 * session and the writer. Returns 0, or prints why not and returns -1 with
 * nothing left behind. */
int recording_start(recording *r, const recording_options *o);

/* Give up before anything was recorded: remove what was created. */
void recording_abandon(recording *r);

/* One round of collection (see ht_collector_round). */
long recording_round(recording *r, bool final);

/* Between two rounds, the first of which found `found` records (and other
 * news): after an empty one, compress a chunk that waits for it, or nap,
 * twice as long as the nap before up to 10 ms, from 0.1 ms; after another,
 * return at once. *idle_ns carries the nap from call to call (0 to start). */
void recording_pause(recording *r, long found, long *idle_ns);

/* Finish the file, print the summary unless quiet, release everything.
 * Returns HT_EXIT_OK or HT_EXIT_FAILURE (the file could not be written). */
int recording_finish(recording *r, bool quiet);

#endif
