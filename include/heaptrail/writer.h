/*
 * heaptrail/writer.h — writing heaptrail trace files.
 *
 * The collector of `heaptrail record` writes through this API; so can any
 * program that produces heap events of its own. Events are grouped into one
 * open chunk per process; a chunk is encoded when it reaches its size limit,
 * when ht_writer_flush is called, or at ht_writer_finish, which also writes
 * the time index and the end trailer. A chunk is written only after every
 * open chunk whose first event is older, so chunks follow one another in the
 * order of their first events. Encoded chunks wait in a short queue to be
 * compressed and written: by a thread of the writer's own, a few at most
 * behind the calling thread, or by the calling thread itself when it has
 * nothing else to do (HT_WRITER_COMPRESS_IDLE). A failed write is reported
 * by the next call that encodes or writes a chunk. One thread at a time may
 * call the functions of one writer.
 */
#ifndef HEAPTRAIL_WRITER_H
#define HEAPTRAIL_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "heaptrail/events.h"
#include "heaptrail/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ht_writer ht_writer;

/* Who compresses and writes the encoded chunks (ht_writer_options). */
enum {
    /* A thread of the writer's own: the calling thread only encodes. */
    HT_WRITER_COMPRESS_THREAD = 0,
    /* The calling thread, one chunk in each ht_writer_idle call, and in the
     * adding calls while the queue is full. For a caller whose work comes
     * and goes, on a machine with no processor to spare: a thread more would
     * run on the processors of the caller's neighbours (for the recorder,
     * the traced program). */
    HT_WRITER_COMPRESS_IDLE = 1,
};

typedef struct ht_writer_options {
    int CompressionLevel;   /* zstd level; 0 picks the default (3) */
    uint32_t ChunkBytes;    /* raw bytes per chunk before it is written (asked once per 64
                               heap events: a few KiB more at most); 0: 1 MiB */
    int Compress;           /* HT_WRITER_COMPRESS_* */
} ht_writer_options;

/* Start a trace on fd (which the writer does not close). info gives the
 * header; its Version fields are ignored. options may be NULL. Returns NULL
 * and a message in err on failure. */
ht_writer *ht_writer_create(int fd, const ht_trace_info *info, const ht_writer_options *options,
                            char *err, size_t errlen);

/* Add one event. Its Header.Type must be a type of events.h; the Name and
 * Fields members are ignored. Returns 0, or -1 with errno set (the file could
 * not be written, or memory ran out). */
int ht_writer_add(ht_writer *writer, const ht_event *event);

/* With HT_WRITER_COMPRESS_IDLE: compress and write the oldest chunk waiting
 * in the queue. Returns 1 when it wrote one, 0 when none waits (always 0
 * with the writer's own thread), -1 with errno set when the write failed. */
int ht_writer_idle(ht_writer *writer);

/* Write every open chunk now; they are in the file when this returns. */
int ht_writer_flush(ht_writer *writer);

/* Write the open chunk of one process now (after it exited, say). */
int ht_writer_flush_process(ht_writer *writer, uint32_t pid);

/* Flush, write the index and the trailer. The file is complete afterwards. */
int ht_writer_finish(ht_writer *writer);

/* Totals of what is in the file so far: events (in written chunks, so not
 * yet those of open chunks), event chunks and bytes. Waits for the chunks
 * on their way to the file. */
void ht_writer_totals(const ht_writer *writer, uint64_t *events, uint64_t *chunks,
                      uint64_t *bytes);

void ht_writer_destroy(ht_writer *writer);

#ifdef __cplusplus
}
#endif
#endif
