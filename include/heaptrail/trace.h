/*
 * heaptrail/trace.h — reading heaptrail trace files.
 *
 * The shape of ETW's OpenTrace / ProcessTrace: open a file, then either pull
 * events one at a time (ht_trace_next) or have them delivered to a callback
 * (ht_trace_process). Trace files are untrusted input: every length and count
 * is checked, memory stays bounded by one chunk, and a damaged file yields an
 * error naming the file and the offset, never a crash.
 *
 * A file whose writer was killed is read up to its last complete chunk; the
 * status says so (truncated) and where it was cut.
 */
#ifndef HEAPTRAIL_TRACE_H
#define HEAPTRAIL_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "heaptrail/events.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ht_trace ht_trace;

/* The format version this library writes; it reads every MINOR of this MAJOR. */
#define HT_TRACE_FORMAT_MAJOR 1
#define HT_TRACE_FORMAT_MINOR 0

/* Error codes; the message says what and where. */
enum ht_trace_errcode {
    HT_TRACE_OK = 0,
    HT_TRACE_ERR_IO = 1,          /* the file could not be opened or read */
    HT_TRACE_ERR_NOT_TRACE = 2,   /* the file is not a heaptrail trace */
    HT_TRACE_ERR_VERSION = 3,     /* a format version this reader does not read */
    HT_TRACE_ERR_CORRUPT = 4,     /* damaged content (checksum, impossible lengths, ...) */
    HT_TRACE_ERR_NOMEM = 5,
};

typedef struct ht_trace_error {
    int code;           /* enum ht_trace_errcode */
    uint64_t offset;    /* file offset the error refers to */
    char message[512];  /* "FILE: offset N: what is wrong" */
} ht_trace_error;

/* Options of the recording, as stored in the trace header. */
#define HT_TRACE_OPT_LOSSY 0x1     /* --lossy: writers dropped (and counted) rather than wait */
#define HT_TRACE_OPT_NO_FOLLOW 0x2 /* children were not traced */
#define HT_TRACE_OPT_STACKS 0x4    /* heap events carry stack ids */

/* The trace header. Strings are NUL-terminated and owned by the trace. */
typedef struct ht_trace_info {
    uint16_t VersionMajor;
    uint16_t VersionMinor;
    ht_clock Clock;
    uint64_t StartTimeNs;  /* trace-clock time when recording started */
    const char *Host;      /* hostname of the recording machine */
    const char *Kernel;    /* its kernel release */
    const char *Recorder;  /* program and version that wrote the file */
    const char *Command;   /* the recorded command, arguments separated by spaces */
    uint32_t Options;      /* HT_TRACE_OPT_* */
} ht_trace_info;

/* Where reading stands. Counters grow as events are read. */
typedef struct ht_trace_status {
    uint64_t FileSize;
    uint64_t ChunksRead;      /* event chunks decoded so far */
    uint64_t EventsRead;
    uint64_t EventsLost;      /* sum of the LOST events read so far */
    uint64_t CompressedBytes; /* on-disk body bytes of the event chunks read */
    uint64_t RawBytes;        /* their decompressed size */
    int Complete;             /* the end trailer was reached: the writer finished */
    int Truncated;            /* the file ends before its trailer */
    uint64_t TruncatedAt;     /* end of the last complete chunk when Truncated */
    uint64_t TrailingBytes;   /* bytes of an incomplete chunk after it */
} ht_trace_status;

/* Open a trace. Returns NULL and fills err (when given) on failure. */
ht_trace *ht_trace_open(const char *path, ht_trace_error *err);

void ht_trace_close(ht_trace *trace);

const ht_trace_info *ht_trace_get_info(const ht_trace *trace);

const ht_trace_status *ht_trace_get_status(const ht_trace *trace);

/* The error that stopped the last call, or NULL. */
const ht_trace_error *ht_trace_last_error(const ht_trace *trace);

/* Read the next event into *event (the pointer stays valid until the next
 * call). Returns 1 for an event, 0 at the end of the readable file (check
 * the status for truncation), -1 on error (see ht_trace_last_error). */
int ht_trace_next(ht_trace *trace, const ht_event **event);

/* Callback for ht_trace_process: return 0 to go on, anything else to stop. */
typedef int (*ht_event_callback)(const ht_event *event, void *context);

/* Deliver every remaining event to callback. Returns 0 at the end of the
 * file, the callback's nonzero value if it stopped, or -1 on error. */
int ht_trace_process(ht_trace *trace, ht_event_callback callback, void *context);

/* Number of event types the file describes, and their names (for tools that
 * list what a file holds). Returns NULL past the end. */
size_t ht_trace_event_type_count(const ht_trace *trace);
const char *ht_trace_event_type_name(const ht_trace *trace, size_t index, uint16_t *type);

/* The library version, "MAJOR.MINOR.PATCH". */
const char *ht_version(void);

#ifdef __cplusplus
}
#endif
#endif
