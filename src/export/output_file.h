/*
 * Output that appears whole or not at all: an export is written under a
 * temporary name in the directory of its destination and renamed over it
 * only when everything was written, so a failure (a full disk, a damaged
 * trace, an interrupted run) never leaves a partial file behind, nor
 * destroys what was at the destination before.
 *
 * "-" names standard output for formats that allow it: then there is no
 * temporary file, and a failure can only be reported.
 */
#ifndef HT_EXPORT_OUTPUT_FILE_H
#define HT_EXPORT_OUTPUT_FILE_H

#include <stddef.h>
#include <stdio.h>

typedef struct ht_output_file {
    char *path;      /* the destination */
    char *temp_path; /* where it is written until committed; NULL for stdout */
    FILE *fp;        /* open on temp_path (or stdout); NULL for a directory */
    int is_dir;      /* the output is a directory (ht_output_open_dir) */
} ht_output_file;

/* Open a file that will become path. Returns 0, or -1 with a message saying
 * what and where in err. */
int ht_output_open(ht_output_file *o, const char *path, char *err, size_t errlen);

/* Create a directory that will become path (which must not exist or be an
 * empty directory). Files go into o->temp_path until the commit. Returns 0,
 * or -1 with a message in err. */
int ht_output_open_dir(ht_output_file *o, const char *path, char *err, size_t errlen);

/* Flush, sync and rename into place. Returns 0, or -1 with a message in err
 * (the temporary output is then removed). Either way o is released. */
int ht_output_commit(ht_output_file *o, char *err, size_t errlen);

/* The end of writing: when the stream had an error, put its message in err
 * and return -1 (o stays, for ht_output_abort); otherwise commit. */
int ht_output_finish(ht_output_file *o, char *err, size_t errlen);

/* Remove the temporary output and release o. Safe on a zeroed o. */
void ht_output_abort(ht_output_file *o);

/* Write the message of the error that stopped writing o ("PATH: reason")
 * into err: errno's description, or the stream's error state. */
void ht_output_error(const ht_output_file *o, int saved_errno, char *err, size_t errlen);

#endif
