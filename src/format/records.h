/* Compact records: what whole-trace analyses need of each event, decoded a
 * chunk at a time.
 *
 * An ht_event is over 600 bytes, most of it the generic view of its fields,
 * and filling it costs more than the analysis of a heap event. A record is
 * 48 bytes and holds only the facts an analysis of live blocks reads: the
 * header (type, thread, time, unknown-type flag) and, by type, the heap
 * operation, the identity of a starting process, an exit status, a loss
 * count, or the type's name. Built-in heap events are decoded into records
 * directly, on a path without the per-field dispatch of ht_decoder_next;
 * every other event goes through ht_decoder_next, so both paths check the
 * bytes alike. */
#ifndef HT_FORMAT_RECORDS_H
#define HT_FORMAT_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "heaptrail/events.h"
#include "schema.h"

/* Source values above this are stored as it (no Source value is that large). */
#define HT_RECORD_SOURCE_MAX 255

typedef struct ht_record {
    uint64_t time;
    uint32_t tid;
    uint16_t type;  /* the event's type */
    uint8_t flags;  /* HT_EVENT_FLAG_*: an unknown type fills only name */
    uint8_t source; /* ALLOC, REALLOC, FREE: Source, at most HT_RECORD_SOURCE_MAX */
    union {
        struct { /* a field the type does not name is not defined */
            uint64_t address;     /* ALLOC Address, FREE Address, REALLOC NewAddress */
            uint64_t old_address; /* REALLOC OldAddress */
            uint64_t size;        /* ALLOC Size, REALLOC NewSize */
        } heap;
        struct {
            const char *command_line; /* point into the chunk's decoded body */
            const char *executable;
            uint32_t command_line_len, executable_len;
            uint32_t parent_pid;
        } start;
        struct {
            int32_t status;
            uint32_t known;
        } exit;
        uint64_t lost;    /* LOST: events lost */
        const char *name; /* any other type: its name in the trace's descriptors */
    } u;
} ht_record;

/* The type's name as the trace's descriptors give it, when the record holds
 * it (every type but the heap events, PROCESS_START, PROCESS_EXIT and LOST
 * this library knows), else NULL. */
const char *ht_record_name(const ht_record *rec);

/* The record of a decoded event (its strings stay the event's). */
void ht_record_from_event(const ht_event *ev, ht_record *rec);

/* How each tag of a trace's descriptor table is decoded: on the direct path
 * when its descriptor is exactly a built-in heap event's (same flags, same
 * fields in the same order with the same types and codecs), else through
 * ht_decoder_next. */
typedef struct ht_record_plan {
    uint8_t path[256];  /* by tag; tags the table does not describe take the checked path */
    uint16_t type[256]; /* the type of each tag on the direct path */
    /* By tag: the direct path stops before an event of this tag when the
     * size stream has this many bytes left or fewer (PTRDIFF_MAX: always,
     * -1: never), so that one comparison per event covers both. */
    ptrdiff_t size_stop[256];
} ht_record_plan;

void ht_record_plan_make(ht_record_plan *plan, const ht_event_desc *descs, size_t count);

/* Decode the next max events of the chunk d is decoding into recs, with ev
 * as scratch space for the events off the direct path, and add the events
 * their LOST records count to *lost. Returns max, or -1 when the bytes are
 * malformed somewhere in them: the caller then decodes the chunk again with
 * ht_decoder_next to learn which event and why. */
long ht_records_decode(ht_chunk_decoder *d, const ht_record_plan *plan, ht_event *ev,
                       ht_record *recs, uint32_t max, uint64_t *lost);

#endif
