/* Encoding and decoding of one chunk's events, driven by descriptors.
 *
 * Each event is split over column streams (tags, times, threads, sizes,
 * addresses, stacks, the rest) so that zstd sees similar bytes together; the
 * codecs' models (previous time, recent addresses, recent handles) are reset
 * at every chunk so that chunks decode independently. */
#ifndef HT_FORMAT_CODEC_H
#define HT_FORMAT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "heaptrail/events.h"
#include "schema.h"

#define HT_ADDR_RECENT 16
#define HT_ADDR_TABLE 4096
#define HT_MRU_SIZE 8
#define HT_MAX_FRAMES 1024

typedef struct ht_addr_model {
    uint64_t recent[HT_ADDR_RECENT];
    unsigned recent_pos;
    uint64_t last;
    uint64_t table[HT_ADDR_TABLE];
} ht_addr_model;

typedef struct ht_mru {
    uint64_t v[HT_MRU_SIZE];
} ht_mru;

/* Model state shared by encoder and decoder: both sides update it identically. */
typedef struct ht_codec_state {
    uint64_t prev_time;
    ht_mru threads;
    ht_mru handles;
    ht_addr_model addr;
    uint64_t delta_prev[HT_MAX_EVENT_TYPES][HT_EVENT_MAX_FIELDS];
} ht_codec_state;

void ht_codec_state_reset(ht_codec_state *s);

typedef struct ht_chunk_encoder {
    ht_codec_state state;
    /* The encoder's alone: the state.addr.recent_pos at which
     * state.addr.table[i] was last remembered, which finds a recent address
     * without searching the recent ones. */
    unsigned addr_pos[HT_ADDR_TABLE];
    ht_buf streams[HT_STREAM_COUNT];
    uint32_t heap_room; /* heap events every stream has room for, unchecked */
    uint32_t count;
    uint64_t ts_first, ts_last;
} ht_chunk_encoder;

void ht_encoder_init(ht_chunk_encoder *e);
void ht_encoder_free(ht_chunk_encoder *e);
void ht_encoder_reset(ht_chunk_encoder *e);

/* Append one event, described by desc (its tag is tag). False on memory exhaustion. */
bool ht_encoder_add(ht_chunk_encoder *e, uint8_t tag, const ht_event_desc *desc,
                    const ht_event *ev);

/* What the compact record of a heap event (records.h) leaves out, and the
 * encoder writes. */
typedef struct ht_heap_extra {
    uint64_t heap;     /* HeapHandle */
    uint64_t old_size; /* REALLOC OldSize */
    uint32_t stack;    /* StackId */
    uint32_t source;   /* Source, whole (the record keeps it clamped) */
} ht_heap_extra;

struct ht_record;

/* Append built-in heap events (ALLOC, FREE, REALLOC) given as their records
 * and the rest: the bytes are those ht_encoder_add writes for the same
 * events, without building them. tag_of[type] is each type's built-in tag
 * and descs[tag] its descriptor. Returns how many of the n were added:
 * fewer where the room made for heap events ran out (see whether the chunk
 * is full, then add the rest), or where a record is not a heap event; 0 for
 * that record, or on memory exhaustion. */
size_t ht_encoder_add_heap_run(ht_chunk_encoder *e, const int16_t *tag_of,
                               const ht_event_desc *descs, const struct ht_record *recs,
                               const ht_heap_extra *extra, size_t n);

/* Bytes the raw body would take now (at most: lengths are counted at their
 * widest). */
static inline size_t ht_encoder_raw_size(const ht_chunk_encoder *e)
{
    size_t n = 1 + HT_STREAM_COUNT * 10;
    for (int s = 0; s < HT_STREAM_COUNT; s++)
        n += e->streams[s].len;
    return n;
}

/* Write the raw body (stream table then streams) into out. */
bool ht_encoder_finish(const ht_chunk_encoder *e, ht_buf *out);

typedef struct ht_chunk_decoder {
    ht_codec_state state;
    ht_cursor streams[HT_STREAM_COUNT];
    const ht_event_desc *descs;
    size_t desc_count;
    uint32_t pid;
    uint64_t frames[HT_MAX_FRAMES];
} ht_chunk_decoder;

/* Prepare to decode a raw body. False (with why) when its stream table is bad. */
bool ht_decoder_start(ht_chunk_decoder *d, const unsigned char *raw, size_t len, uint32_t pid,
                      const ht_event_desc *descs, size_t desc_count, char *why, size_t whylen);

/* Decode the next event. False (with why) on malformed data. */
bool ht_decoder_next(ht_chunk_decoder *d, ht_event *ev, char *why, size_t whylen);

/* True when every stream was consumed exactly. */
bool ht_decoder_done(const ht_chunk_decoder *d);

#endif
