/* A progress line on stderr while a command reads a large trace: only when
 * stderr is a terminal, only once the work has taken more than half a
 * second, at most ten updates a second, erased when the reading ends. */
#ifndef HT_CLI_PROGRESS_H
#define HT_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

/* Start measuring the reading of total bytes for command name. Nothing is
 * ever shown when shown is false (output that shares the terminal). */
void ht_progress_begin(const char *name, uint64_t total, bool shown);

/* done bytes of total are read. Cheap enough to call every few thousand
 * events. */
void ht_progress_update(uint64_t done);

/* Erase the line, if one was drawn. */
void ht_progress_end(void);

#endif
