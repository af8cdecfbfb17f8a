/* Event descriptors: the self-description that every trace stores in its
 * metadata chunk. The encoder and the decoder are driven by descriptors alone,
 * so a reader decodes (or skips) event types it has never heard of; the table
 * of built-in descriptors also says where each field lives in ht_event. */
#ifndef HT_FORMAT_SCHEMA_H
#define HT_FORMAT_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heaptrail/events.h"

/* Field types as stored in descriptors (docs/FORMAT.md lists the values). */
enum ht_field_type {
    HT_FT_U8 = 1,
    HT_FT_U16 = 2,
    HT_FT_U32 = 3,
    HT_FT_U64 = 4,
    HT_FT_I32 = 5,
    HT_FT_I64 = 6,
    HT_FT_STR = 7,       /* length-prefixed bytes, an ht_str in ht_event */
    HT_FT_U64_ARRAY = 8, /* count-prefixed u64 values (stack frames) */
};

/* How a field's value is written: each codec writes into one column stream of
 * the chunk and may keep state that is reset at every chunk. */
enum ht_codec {
    HT_CODEC_VARINT = 1,  /* LEB128 of the value; misc stream */
    HT_CODEC_ZIGZAG = 2,  /* LEB128 of the zigzag of a signed value; misc stream */
    HT_CODEC_DELTA = 3,   /* zigzag delta to this field's previous value; misc stream */
    HT_CODEC_SIZE = 4,    /* LEB128; size stream */
    HT_CODEC_ADDRESS = 5, /* recent-address model (FORMAT.md); address stream */
    HT_CODEC_MRU = 6,     /* index into 8 most recent values, or a literal; misc stream */
    HT_CODEC_BLOB = 7,    /* LEB128 length then bytes; misc stream */
    HT_CODEC_FRAMES = 8,  /* LEB128 count then zigzag deltas between frames; misc stream */
};

/* Column streams of a chunk body, in their stored order. */
enum ht_stream {
    HT_STREAM_TAG,
    HT_STREAM_TIME,
    HT_STREAM_THREAD,
    HT_STREAM_SIZE,
    HT_STREAM_ADDRESS,
    HT_STREAM_STACK,
    HT_STREAM_MISC,
    HT_STREAM_COUNT
};

/* Descriptor flags: optional header fields an event type carries. */
#define HT_DESC_HAS_STACK 0x1 /* a stack id follows the thread (stack stream) */
#define HT_DESC_HAS_CPU 0x2   /* a cpu number follows (misc stream) */

#define HT_MAX_EVENT_TYPES 256
#define HT_MAX_NAME 64

typedef struct ht_field_desc {
    char name[HT_MAX_NAME];
    uint8_t type;  /* enum ht_field_type */
    uint8_t codec; /* enum ht_codec */
    /* Where the field lives in ht_event for built-in types; -1 when the field
     * has no home there (it is still listed in ht_event.Fields). */
    int32_t offset;
    int32_t count_offset; /* U64_ARRAY: where its uint32_t count lives */
} ht_field_desc;

typedef struct ht_event_desc {
    uint16_t type;
    uint8_t version;
    uint8_t flags; /* HT_DESC_* */
    char name[HT_MAX_NAME];
    uint8_t field_count;
    ht_field_desc fields[HT_EVENT_MAX_FIELDS];
    bool known; /* this library knows the type and fills its union member */
} ht_event_desc;

/* The descriptors heaptrail writes, in tag order. */
const ht_event_desc *ht_schema_builtin(size_t *count);

/* Tag of a built-in event type in the built-in table, or -1. */
int ht_schema_builtin_tag(uint16_t type);

/* Serialize / parse a descriptor table (the metadata chunk's "descriptors"
 * record). Parsing checks every length and value; on success, descriptors
 * whose name, version and fields match a built-in one get its offsets. */
struct ht_buf;
bool ht_schema_serialize(const ht_event_desc *descs, size_t count, struct ht_buf *out);
bool ht_schema_parse(const void *data, size_t len, ht_event_desc *descs, size_t *count,
                     char *err, size_t errlen);

#endif
