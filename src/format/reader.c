/* Trace reader: checks every chunk, decodes one chunk at a time. */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "crc32c.h"

void ht_reader_format_error(const ht_trace *t, ht_trace_error *e, int code, uint64_t offset,
                            const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    e->code = code;
    e->offset = offset;
    if (offset == HT_NO_OFFSET)
        snprintf(e->message, sizeof e->message, "%s: %s", t->path, what);
    else
        snprintf(e->message, sizeof e->message, "%s: offset %llu: %s", t->path,
                 (unsigned long long)offset, what);
}

void ht_reader_fail(ht_trace *t, const ht_trace_error *e)
{
    t->error = *e;
    t->failed = 1;
}

/* Record an error on t, and in *out when given. */
static void set_error(ht_trace *t, ht_trace_error *out, int code, uint64_t offset,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void set_error(ht_trace *t, ht_trace_error *out, int code, uint64_t offset,
                      const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    ht_trace_error e;
    ht_reader_format_error(t, &e, code, offset, "%s", what);
    ht_reader_fail(t, &e);
    if (out)
        *out = e;
}

/* Read exactly n bytes at off. Returns n, or fewer at the end of the file, or -1. */
static ssize_t read_at(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static char *dup_bytes(const unsigned char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
        /* NUL-separated arguments read as one line */
        for (size_t i = 0; i < n; i++)
            if (s[i] == '\0')
                s[i] = ' ';
    }
    return s;
}

int ht_reader_load_body(const ht_trace *t, ZSTD_DCtx *zd, const ht_chunk_header *h,
                        uint64_t chunk_offset, ht_buf *body, ht_buf *raw, ht_trace_error *e)
{
    uint64_t at = chunk_offset + HT_CHUNK_HEADER_SIZE;
    /* A body that runs past the end of the file is a cut file (or a lying
     * header): find out before allocating what the header promises. */
    unsigned char last;
    ssize_t got = h->body_size ? read_at(t->fd, &last, 1, at + h->body_size - 1) : 1;
    if (got < 0) {
        ht_reader_format_error(t, e, HT_TRACE_ERR_IO, at, "read failed: %s", strerror(errno));
        return -1;
    }
    if (got == 0)
        return 0;
    body->len = 0;
    if (!ht_buf_reserve(body, h->body_size)) {
        ht_reader_format_error(t, e, HT_TRACE_ERR_NOMEM, chunk_offset, "out of memory");
        return -1;
    }
    ssize_t n = read_at(t->fd, body->data, h->body_size, at);
    if (n < 0) {
        ht_reader_format_error(t, e, HT_TRACE_ERR_IO, at, "read failed: %s", strerror(errno));
        return -1;
    }
    if ((size_t)n < h->body_size)
        return 0;
    body->len = (size_t)n;
    if (ht_crc32c(0, body->data, body->len) != h->body_crc) {
        ht_reader_format_error(t, e, HT_TRACE_ERR_CORRUPT, chunk_offset,
                               "chunk %llu: body checksum mismatch", (unsigned long long)h->seq);
        return -1;
    }
    raw->len = 0;
    if (h->compression == HT_COMPRESS_NONE) {
        if (!ht_buf_append(raw, body->data, body->len)) {
            ht_reader_format_error(t, e, HT_TRACE_ERR_NOMEM, chunk_offset, "out of memory");
            return -1;
        }
        return 1;
    }
    if (!ht_buf_reserve(raw, h->raw_size + 1)) {
        ht_reader_format_error(t, e, HT_TRACE_ERR_NOMEM, chunk_offset, "out of memory");
        return -1;
    }
    /* The frame must decompress to exactly raw_size bytes: one byte more of
     * room lets a lying frame be caught rather than cut. */
    size_t r = ZSTD_decompressDCtx(zd, raw->data, h->raw_size + 1, body->data, body->len);
    if (ZSTD_isError(r) || r != h->raw_size) {
        ht_reader_format_error(t, e, HT_TRACE_ERR_CORRUPT, chunk_offset,
                               "chunk %llu: body does not decompress to its %u bytes (%s)",
                               (unsigned long long)h->seq, h->raw_size,
                               ZSTD_isError(r) ? ZSTD_getErrorName(r) : "wrong size");
        return -1;
    }
    raw->len = r;
    return 1;
}

int ht_reader_header_at(const ht_trace *t, uint64_t offset, ht_chunk_header *h,
                        ht_reader_end *end, ht_trace_error *e)
{
    unsigned char head[HT_CHUNK_HEADER_SIZE];
    ssize_t n = read_at(t->fd, head, sizeof head, offset);
    if (n < 0) {
        ht_reader_format_error(t, e, HT_TRACE_ERR_IO, offset, "read failed: %s", strerror(errno));
        return -1;
    }
    /* Only a whole trailer says the writer finished: a file cut inside it is
     * truncated like one cut anywhere else. */
    memset(end, 0, sizeof *end);
    if (n >= HT_TRAILER_SIZE && memcmp(head, HT_TRAILER_MAGIC, 8) == 0) {
        end->complete = 1;
        return 0;
    }
    if ((size_t)n < sizeof head) {
        end->truncated = 1;
        end->truncated_at = offset;
        end->trailing_bytes = (uint64_t)n;
        return 0;
    }
    char why[200];
    if (!ht_chunk_header_unpack(head, h, why, sizeof why)) {
        ht_reader_format_error(t, e, HT_TRACE_ERR_CORRUPT, offset, "%s", why);
        return -1;
    }
    return 1;
}

void ht_reader_end_at(ht_trace *t, const ht_reader_end *end)
{
    t->status.Complete = end->complete;
    t->status.Truncated = end->truncated;
    t->status.TruncatedAt = end->truncated_at;
    t->status.TrailingBytes = end->trailing_bytes;
}

void ht_reader_cut_body(const ht_trace *t, uint64_t chunk_offset, ht_reader_end *end)
{
    memset(end, 0, sizeof *end);
    end->truncated = 1;
    end->truncated_at = chunk_offset;
    end->trailing_bytes =
        t->status.FileSize > chunk_offset ? t->status.FileSize - chunk_offset : 0;
}

/* Load, check and decompress the body of t->chunk into t->raw. Returns 1, 0
 * when the file ends inside the body (truncated), -1 on error. */
static int load_body(ht_trace *t, ht_trace_error *err)
{
    ht_trace_error e;
    int r = ht_reader_load_body(t, t->zd, &t->chunk, t->chunk_offset, &t->body, &t->raw, &e);
    if (r < 0) {
        ht_reader_fail(t, &e);
        if (err)
            *err = e;
    }
    return r;
}

/* Read the chunk header at t->offset. Returns 1 with t->chunk set, 0 at the
 * end of the readable file (the status says how it ends), -1 on error. */
static int next_chunk_header(ht_trace *t, ht_trace_error *err)
{
    ht_trace_error e;
    ht_reader_end end;
    int r = ht_reader_header_at(t, t->offset, &t->chunk, &end, &e);
    if (r < 0) {
        ht_reader_fail(t, &e);
        if (err)
            *err = e;
    } else if (r == 0) {
        ht_reader_end_at(t, &end);
    } else {
        t->chunk_offset = t->offset;
    }
    return r;
}

static void truncated_here(ht_trace *t)
{
    ht_reader_end end;
    ht_reader_cut_body(t, t->chunk_offset, &end);
    ht_reader_end_at(t, &end);
}

static int parse_meta(ht_trace *t, ht_trace_error *err)
{
    ht_cursor c = ht_cursor_make(t->raw.data, t->raw.len);
    int have_desc = 0;
    while (c.ok && c.p < c.end) {
        uint16_t key = ht_get_u16(&c);
        uint32_t len = ht_get_u32(&c);
        const unsigned char *v = ht_get_bytes(&c, len);
        if (!v)
            break;
        ht_cursor vc = ht_cursor_make(v, len);
        switch (key) {
        case HT_META_CLOCK:
            t->info.Clock.ClockId = ht_get_u32(&vc);
            t->info.Clock.ResolutionNs = ht_get_u32(&vc);
            t->info.Clock.RealtimeOffsetNs = (int64_t)ht_get_u64(&vc);
            break;
        case HT_META_START_TIME: t->info.StartTimeNs = ht_get_u64(&vc); break;
        case HT_META_OPTIONS: t->info.Options = ht_get_u32(&vc); break;
        case HT_META_HOST: free(t->host); t->host = dup_bytes(v, len); break;
        case HT_META_KERNEL: free(t->kernel); t->kernel = dup_bytes(v, len); break;
        case HT_META_RECORDER: free(t->recorder); t->recorder = dup_bytes(v, len); break;
        case HT_META_COMMAND: free(t->command); t->command = dup_bytes(v, len); break;
        case HT_META_DESCRIPTORS: {
            char why[200];
            if (!ht_schema_parse(v, len, t->descs, &t->desc_count, why, sizeof why)) {
                set_error(t, err, HT_TRACE_ERR_CORRUPT, t->chunk_offset, "trace header: %s", why);
                return -1;
            }
            have_desc = 1;
            break;
        }
        default: break; /* a newer writer's record: skipped */
        }
        if (!vc.ok) {
            set_error(t, err, HT_TRACE_ERR_CORRUPT, t->chunk_offset,
                      "trace header: record %u is too short", key);
            return -1;
        }
    }
    if (!c.ok || !have_desc) {
        set_error(t, err, HT_TRACE_ERR_CORRUPT, t->chunk_offset,
                  !c.ok ? "trace header: records run past the chunk"
                        : "trace header: no event descriptors");
        return -1;
    }
    t->info.Host = t->host ? t->host : "";
    t->info.Kernel = t->kernel ? t->kernel : "";
    t->info.Recorder = t->recorder ? t->recorder : "";
    t->info.Command = t->command ? t->command : "";
    return 0;
}

ht_trace *ht_trace_open(const char *path, ht_trace_error *err)
{
    ht_trace *t = calloc(1, sizeof *t);
    if (!t || !(t->path = strdup(path)) || !(t->zd = ZSTD_createDCtx())) {
        if (err)
            snprintf(err->message, sizeof err->message, "%s: out of memory", path),
                err->code = HT_TRACE_ERR_NOMEM;
        if (t)
            free(t->path);
        free(t);
        return NULL;
    }
    t->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (t->fd < 0) {
        set_error(t, err, HT_TRACE_ERR_IO, HT_NO_OFFSET, "cannot open: %s", strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(t->fd, &st) < 0) {
        set_error(t, err, HT_TRACE_ERR_IO, HT_NO_OFFSET, "cannot stat: %s", strerror(errno));
        goto fail;
    }
    t->status.FileSize = (uint64_t)st.st_size;
    if (S_ISDIR(st.st_mode)) {
        set_error(t, err, HT_TRACE_ERR_IO, HT_NO_OFFSET, "is a directory");
        goto fail;
    }
    unsigned char fh[HT_FILE_HEADER_SIZE];
    ssize_t n = read_at(t->fd, fh, sizeof fh, 0);
    if (n < 0) {
        set_error(t, err, HT_TRACE_ERR_IO, 0, "read failed: %s", strerror(errno));
        goto fail;
    }
    if ((size_t)n < 8 || memcmp(fh, HT_FILE_MAGIC, 8) != 0) {
        set_error(t, err, HT_TRACE_ERR_NOT_TRACE, HT_NO_OFFSET, "not a heaptrail trace");
        goto fail;
    }
    if ((size_t)n < sizeof fh) {
        set_error(t, err, HT_TRACE_ERR_CORRUPT, 0, "file ends inside the file header");
        goto fail;
    }
    t->info.VersionMajor = ht_load_u16(fh + 8);
    t->info.VersionMinor = ht_load_u16(fh + 10);
    if (t->info.VersionMajor != HT_FORMAT_MAJOR) {
        set_error(t, err, HT_TRACE_ERR_VERSION, 8,
                  "format version %u.%u; this reader reads version %d.x", t->info.VersionMajor,
                  t->info.VersionMinor, HT_FORMAT_MAJOR);
        goto fail;
    }
    t->offset = HT_FILE_HEADER_SIZE;
    int r = next_chunk_header(t, err);
    if (r == 0 || (r == 1 && t->chunk.kind != HT_CHUNK_META)) {
        set_error(t, err, HT_TRACE_ERR_CORRUPT, HT_FILE_HEADER_SIZE,
                  r == 0 ? "file ends before the trace header is complete"
                         : "first chunk is not the trace header");
        goto fail;
    }
    if (r < 0)
        goto fail;
    r = load_body(t, err);
    if (r == 0) {
        set_error(t, err, HT_TRACE_ERR_CORRUPT, t->chunk_offset,
                  "file ends before the trace header is complete");
        goto fail;
    }
    if (r < 0 || parse_meta(t, err) < 0)
        goto fail;
    t->offset = t->chunk_offset + HT_CHUNK_HEADER_SIZE + t->chunk.body_size;
    t->status.Truncated = 0;
    return t;
fail:
    ht_trace_close(t);
    return NULL;
}

void ht_trace_close(ht_trace *t)
{
    if (!t)
        return;
    if (t->fd >= 0)
        close(t->fd);
    ZSTD_freeDCtx(t->zd);
    ht_buf_free(&t->body);
    ht_buf_free(&t->raw);
    free(t->host);
    free(t->kernel);
    free(t->recorder);
    free(t->command);
    free(t->path);
    free(t);
}

const ht_trace_info *ht_trace_get_info(const ht_trace *t) { return &t->info; }
const ht_trace_status *ht_trace_get_status(const ht_trace *t) { return &t->status; }
const ht_trace_error *ht_trace_last_error(const ht_trace *t) { return t->failed ? &t->error : NULL; }

size_t ht_trace_event_type_count(const ht_trace *t) { return t->desc_count; }

const char *ht_trace_event_type_name(const ht_trace *t, size_t index, uint16_t *type)
{
    if (index >= t->desc_count)
        return NULL;
    if (type)
        *type = t->descs[index].type;
    return t->descs[index].name;
}

int ht_reader_start_events(const ht_trace *t, const ht_chunk_header *h, uint64_t chunk_offset,
                           const ht_buf *raw, ht_chunk_decoder *d, ht_trace_error *e)
{
    char why[200];
    if (!ht_decoder_start(d, raw->data, raw->len, h->pid, t->descs, t->desc_count, why,
                          sizeof why)) {
        ht_reader_format_error(t, e, HT_TRACE_ERR_CORRUPT, chunk_offset, "chunk %llu: %s",
                               (unsigned long long)h->seq, why);
        return -1;
    }
    /* A header that counts no events over a body that holds some would hide
     * them: a damaged count, not an empty chunk. */
    if (h->event_count == 0) {
        if (!ht_decoder_done(d)) {
            ht_reader_format_error(t, e, HT_TRACE_ERR_CORRUPT, chunk_offset,
                                   "chunk %llu: its header counts no events but its body holds some",
                                   (unsigned long long)h->seq);
            return -1;
        }
        return 0;
    }
    return 1;
}

void ht_reader_event_error(const ht_trace *t, const ht_chunk_header *h, uint64_t chunk_offset,
                           uint32_t index, const char *why, ht_trace_error *e)
{
    ht_reader_format_error(t, e, HT_TRACE_ERR_CORRUPT, chunk_offset, "chunk %llu, event %u: %s",
                           (unsigned long long)h->seq, index, why);
}

void ht_reader_leftover_error(const ht_trace *t, const ht_chunk_header *h, uint64_t chunk_offset,
                              ht_trace_error *e)
{
    ht_reader_format_error(t, e, HT_TRACE_ERR_CORRUPT, chunk_offset,
                           "chunk %llu: bytes left over after its %u events",
                           (unsigned long long)h->seq, h->event_count);
}

void ht_reader_count_chunk(ht_trace *t, const ht_chunk_header *h)
{
    t->status.ChunksRead++;
    t->status.CompressedBytes += h->body_size;
    t->status.RawBytes += h->raw_size;
}

/* Advance to the next events chunk with events. Returns 1, 0 at the end, -1. */
static int open_next_events_chunk(ht_trace *t)
{
    for (;;) {
        int r = next_chunk_header(t, NULL);
        if (r <= 0)
            return r;
        r = load_body(t, NULL);
        if (r == 0) {
            truncated_here(t);
            return 0;
        }
        if (r < 0)
            return -1;
        t->offset = t->chunk_offset + HT_CHUNK_HEADER_SIZE + t->chunk.body_size;
        if (t->chunk.kind != HT_CHUNK_EVENTS)
            continue; /* index chunks and kinds of newer writers */
        ht_trace_error e;
        r = ht_reader_start_events(t, &t->chunk, t->chunk_offset, &t->raw, &t->dec, &e);
        if (r < 0) {
            ht_reader_fail(t, &e);
            return -1;
        }
        if (r == 0)
            continue;
        t->chunk_left = t->chunk.event_count;
        ht_reader_count_chunk(t, &t->chunk);
        return 1;
    }
}

int ht_trace_next(ht_trace *t, const ht_event **event)
{
    if (t->failed)
        return -1;
    if (t->at_end)
        return 0;
    while (t->chunk_left == 0) {
        int r = open_next_events_chunk(t);
        if (r <= 0) {
            if (r == 0)
                t->at_end = 1;
            return r;
        }
    }
    char why[200];
    ht_trace_error e;
    if (!ht_decoder_next(&t->dec, &t->event, why, sizeof why)) {
        ht_reader_event_error(t, &t->chunk, t->chunk_offset, t->chunk.event_count - t->chunk_left,
                              why, &e);
        ht_reader_fail(t, &e);
        return -1;
    }
    if (--t->chunk_left == 0 && !ht_decoder_done(&t->dec)) {
        ht_reader_leftover_error(t, &t->chunk, t->chunk_offset, &e);
        ht_reader_fail(t, &e);
        return -1;
    }
    t->status.EventsRead++;
    if (t->event.Header.Type == HT_EVENT_LOST && !(t->event.Header.Flags & HT_EVENT_FLAG_UNKNOWN_TYPE))
        t->status.EventsLost += t->event.u.Lost.EventsLost;
    *event = &t->event;
    return 1;
}

int ht_trace_process(ht_trace *t, ht_event_callback cb, void *ctx)
{
    const ht_event *ev;
    int r;
    while ((r = ht_trace_next(t, &ev)) == 1) {
        int stop = cb(ev, ctx);
        if (stop)
            return stop;
    }
    return r;
}
