/* Opening and finishing a trace the way every subcommand does: errors name
 * the file and the offset, a file that is not a trace exits 2, a truncated
 * trace is read to its last complete chunk with a warning. */
#ifndef HT_CLI_TRACE_OPEN_H
#define HT_CLI_TRACE_OPEN_H

#include "format/parallel.h"
#include "heaptrail/trace.h"

/* Returned by a subcommand when ht_cli_open_trace failed: it holds the exit
 * status that open chose (2 for "not a trace", 1 otherwise). */
#define HT_EXIT_USAGE_OR_FAILURE ht_cli_open_status()

/* Open path for subcommand name; on failure print the error and return NULL.
 * A progress line is shown on a terminal while it is read (see progress.h),
 * unless ht_cli_quiet_progress is called first. */
ht_trace *ht_cli_open_trace(const char *name, const char *path);

/* No progress line: the command's own output goes to the same terminal as
 * it reads. */
void ht_cli_quiet_progress(void);

/* ht_trace_next, keeping the progress line up to date. */
int ht_cli_next(ht_trace *trace, const ht_event **event);

/* ht_trace_process through ht_cli_next. */
int ht_cli_process(ht_trace *trace, ht_event_callback callback, void *context);

/* ht_trace_process_records with workers decoding threads, keeping the
 * progress line up to date. */
int ht_cli_process_records(ht_trace *trace, unsigned workers, ht_records_callback callback,
                           void *context);

/* Exit status of the last failed ht_cli_open_trace. */
int ht_cli_open_status(void);

/* After reading (read_result is what ht_trace_process returned): print the
 * error or the truncation warning, close the trace, return the exit status. */
int ht_cli_finish_trace(const char *name, ht_trace *trace, int read_result);

#endif
