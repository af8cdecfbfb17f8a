/* The reader's state and the steps of reading a chunk, shared by the
 * one-event-at-a-time reader (reader.c) and the reader that decodes chunks
 * on worker threads (parallel.c). The steps that read the file take the
 * trace as const and report into their arguments, so that several threads
 * can run them on different chunks at once. */
#ifndef HT_FORMAT_READER_H
#define HT_FORMAT_READER_H

#include <zstd.h>

#include "bytes.h"
#include "chunk.h"
#include "codec.h"
#include "heaptrail/trace.h"
#include "schema.h"

struct ht_trace {
    int fd;
    char *path;
    uint64_t offset; /* next chunk header */
    ht_trace_info info;
    ht_trace_status status;
    ht_trace_error error;
    int failed;
    int at_end;

    char *host, *kernel, *recorder, *command;
    ht_event_desc descs[HT_MAX_EVENT_TYPES];
    size_t desc_count;

    ZSTD_DCtx *zd;
    ht_buf body, raw;
    ht_chunk_header chunk;
    uint64_t chunk_offset;
    uint32_t chunk_left; /* events still to decode in the current chunk */
    ht_chunk_decoder dec;
    ht_event event;
};

/* Errors about the file as a whole carry no offset. */
#define HT_NO_OFFSET UINT64_MAX

/* How the readable file ends (docs/FORMAT.md §9.3). */
typedef struct ht_reader_end {
    int complete, truncated;
    uint64_t truncated_at, trailing_bytes;
} ht_reader_end;

/* Fill *e with "FILE: offset N: what" (no offset: HT_NO_OFFSET). */
void ht_reader_format_error(const ht_trace *t, ht_trace_error *e, int code, uint64_t offset,
                            const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Reading stops with error *e. */
void ht_reader_fail(ht_trace *t, const ht_trace_error *e);

/* Read and check the chunk header at offset. Returns 1 with *h, 0 at the
 * end of the readable file with *end saying how it ends, -1 with *e. */
int ht_reader_header_at(const ht_trace *t, uint64_t offset, ht_chunk_header *h,
                        ht_reader_end *end, ht_trace_error *e);

/* Read, check and decompress the body of the chunk h at chunk_offset into
 * raw (body is the on-disk bytes). Returns 1, 0 when the file ends inside
 * the body, -1 with *e. */
int ht_reader_load_body(const ht_trace *t, ZSTD_DCtx *zd, const ht_chunk_header *h,
                        uint64_t chunk_offset, ht_buf *body, ht_buf *raw, ht_trace_error *e);

/* The end of a file cut inside the chunk at chunk_offset. */
void ht_reader_cut_body(const ht_trace *t, uint64_t chunk_offset, ht_reader_end *end);

/* Start decoding the EVENTS chunk h whose checked body is raw. Returns 1
 * when it holds events, 0 when it holds none, -1 with *e. */
int ht_reader_start_events(const ht_trace *t, const ht_chunk_header *h, uint64_t chunk_offset,
                           const ht_buf *raw, ht_chunk_decoder *d, ht_trace_error *e);

/* The errors of a chunk's events: event index failed (why), or bytes left
 * over after the last event. */
void ht_reader_event_error(const ht_trace *t, const ht_chunk_header *h, uint64_t chunk_offset,
                           uint32_t index, const char *why, ht_trace_error *e);
void ht_reader_leftover_error(const ht_trace *t, const ht_chunk_header *h, uint64_t chunk_offset,
                              ht_trace_error *e);

/* An EVENTS chunk with events is being delivered: count it in the status. */
void ht_reader_count_chunk(ht_trace *t, const ht_chunk_header *h);

/* Reading reached the end: record how in the status. */
void ht_reader_end_at(ht_trace *t, const ht_reader_end *end);

#endif
