/* The on-disk framing: file header, chunk headers and the end trailer
 * (docs/FORMAT.md is the normative description). */
#ifndef HT_FORMAT_CHUNK_H
#define HT_FORMAT_CHUNK_H

#include <stdbool.h>
#include <stdint.h>

#include "heaptrail/trace.h"

#define HT_FILE_MAGIC "HEAPTRL"  /* 8 bytes with its NUL */
#define HT_FILE_HEADER_SIZE 16
#define HT_FORMAT_MAJOR HT_TRACE_FORMAT_MAJOR
#define HT_FORMAT_MINOR HT_TRACE_FORMAT_MINOR

#define HT_CHUNK_MAGIC 0x4B435448u /* "HTCK" little-endian */
#define HT_CHUNK_HEADER_SIZE 64
#define HT_TRAILER_MAGIC "HTEND\0\0" /* 8 bytes with its NUL */
#define HT_TRAILER_SIZE 24

/* Bounds that keep a reader's memory finite whatever a file says. */
#define HT_CHUNK_MAX_BODY (64u << 20)
#define HT_CHUNK_MAX_RAW (64u << 20)

enum ht_chunk_kind {
    HT_CHUNK_META = 1,   /* trace header: clock, host, descriptors */
    HT_CHUNK_EVENTS = 2, /* events of one process */
    HT_CHUNK_INDEX = 3,  /* offsets and time ranges of the event chunks */
};

enum ht_chunk_compression {
    HT_COMPRESS_NONE = 0,
    HT_COMPRESS_ZSTD = 1,
};

typedef struct ht_chunk_header {
    uint16_t kind;
    uint16_t compression;
    uint64_t seq;
    uint32_t pid;
    uint32_t event_count;
    uint64_t ts_first;
    uint64_t ts_last;
    uint32_t body_size; /* bytes on disk after the header */
    uint32_t raw_size;  /* bytes after decompression */
    uint32_t body_crc;  /* CRC-32C of the on-disk body */
} ht_chunk_header;

void ht_chunk_header_pack(const ht_chunk_header *h, unsigned char out[HT_CHUNK_HEADER_SIZE]);

/* Unpack and check magic, header checksum and bounds. On failure, writes why. */
bool ht_chunk_header_unpack(const unsigned char in[HT_CHUNK_HEADER_SIZE], ht_chunk_header *h,
                            char *why, unsigned whylen);

/* Keys of the metadata chunk's records (key u16, length u32, value). */
enum ht_meta_key {
    HT_META_CLOCK = 1,       /* u32 clock id, u32 resolution ns, i64 realtime offset ns */
    HT_META_START_TIME = 2,  /* u64 trace-clock ns at the start of recording */
    HT_META_HOST = 3,        /* bytes */
    HT_META_COMMAND = 4,     /* bytes: the recorded command, arguments NUL-separated */
    HT_META_RECORDER = 5,    /* bytes: name and version of the program that wrote the file */
    HT_META_DESCRIPTORS = 6, /* the descriptor table */
    HT_META_KERNEL = 7,      /* bytes: uname release of the recording machine */
    HT_META_OPTIONS = 8,     /* u32 HT_TRACE_OPT_* */
};

#endif
