/* Trace writer: one open chunk per process, zstd-compressed when full. */
#include "heaptrail/writer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "bytes.h"
#include "chunk.h"
#include "codec.h"
#include "crc32c.h"
#include "schema.h"
#include "writer_heap.h"

/* Open chunks at once; past that the least recently used one is written. */
#define MAX_OPEN 64
/* Encoded chunks waiting to be compressed: for the compressor thread, four;
 * for the idle calls of HT_WRITER_COMPRESS_IDLE, eight. The recorder's
 * collector went up to 40-100 ms without an empty round in the python
 * workload (docs/PERFORMANCE.md), where a chunk fills in about 20 ms. */
#define QUEUE 8
#define QUEUE_THREAD 4
#define DEFAULT_CHUNK_BYTES (1u << 20)
#define MAX_CHUNK_EVENTS (1u << 20)

typedef struct open_chunk {
    uint32_t pid;
    uint64_t last_use;
    ht_chunk_encoder enc;
} open_chunk;

typedef struct index_entry {
    uint64_t offset, seq, ts_first, ts_last;
    uint32_t pid, count;
} index_entry;

/* An encoded event chunk on its way to the file. */
typedef struct queued_chunk {
    ht_chunk_header h;
    ht_buf raw;
} queued_chunk;

struct ht_writer {
    int fd;
    uint64_t offset;
    uint64_t seq;
    uint64_t use_clock;
    uint64_t events, chunks; /* in the chunks written so far */
    int level;
    uint32_t chunk_bytes;
    const ht_event_desc *descs;
    size_t desc_count;
    int16_t tag_of[256]; /* tag of each event type, -1 for none */
    open_chunk *open[MAX_OPEN];
    size_t open_count;
    open_chunk *last; /* the chunk of the latest event */
    /* From here to `lock`: the compressor's while it runs (the adding
     * thread uses them only once the queue is empty, or before the
     * compressor starts). */
    ZSTD_CCtx *zc;
    ht_buf packed;
    index_entry *index;
    size_t index_len, index_cap;
    /* The compressor thread: it compresses, checksums and writes the event
     * chunks the adding thread encoded, in the order they were queued, so
     * that the thread that adds events (the recorder's collector) only
     * encodes; zstd was a fifth of its instructions, and the traced program
     * waits for room while the collector is busy. Without it the adding
     * thread writes the chunks: in its idle calls (`idle`, up to QUEUE
     * chunks behind), or each one at once (pthread_create failed). */
    bool threaded, idle, stop;
    pthread_t compressor;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    unsigned queue_len; /* chunks that may wait */
    queued_chunk queue[QUEUE];
    uint64_t queued, written; /* chunks put in the queue, and taken out written */
    int error;                /* errno of the first failed write, or 0 */
};

static int write_all(ht_writer *w, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n) {
        ssize_t r = write(w->fd, b, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        b += r;
        n -= (size_t)r;
        w->offset += (uint64_t)r;
    }
    return 0;
}

static int write_chunk(ht_writer *w, ht_chunk_header *h, const unsigned char *raw, size_t raw_len)
{
    const unsigned char *body = raw;
    size_t body_len = raw_len;
    h->compression = HT_COMPRESS_NONE;
    if (w->level > 0 && raw_len > 64) {
        size_t bound = ZSTD_compressBound(raw_len);
        w->packed.len = 0;
        if (!ht_buf_reserve(&w->packed, bound)) {
            errno = ENOMEM;
            return -1;
        }
        size_t n = ZSTD_compressCCtx(w->zc, w->packed.data, bound, raw, raw_len, w->level);
        if (!ZSTD_isError(n) && n < raw_len) {
            body = w->packed.data;
            body_len = n;
            h->compression = HT_COMPRESS_ZSTD;
        }
    }
    if (raw_len > HT_CHUNK_MAX_RAW) {
        errno = EFBIG;
        return -1;
    }
    h->seq = w->seq++;
    h->raw_size = (uint32_t)raw_len;
    h->body_size = (uint32_t)body_len;
    h->body_crc = ht_crc32c(0, body, body_len);
    unsigned char head[HT_CHUNK_HEADER_SIZE];
    ht_chunk_header_pack(h, head);
    uint64_t at = w->offset;
    if (write_all(w, head, sizeof head) < 0 || write_all(w, body, body_len) < 0)
        return -1;
    if (h->kind == HT_CHUNK_EVENTS) {
        if (w->index_len == w->index_cap) {
            size_t cap = w->index_cap ? w->index_cap * 2 : 64;
            index_entry *n = realloc(w->index, cap * sizeof *n);
            if (!n) {
                errno = ENOMEM;
                return -1;
            }
            w->index = n;
            w->index_cap = cap;
        }
        w->index[w->index_len++] = (index_entry){at, h->seq, h->ts_first, h->ts_last, h->pid,
                                                 h->event_count};
        w->chunks++;
        w->events += h->event_count;
    }
    return 0;
}

static void *compressor_main(void *arg)
{
    ht_writer *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->written == w->queued && !w->stop)
            pthread_cond_wait(&w->changed, &w->lock);
        if (w->written == w->queued)
            break;
        queued_chunk *q = &w->queue[w->written % w->queue_len];
        bool failed = w->error != 0;
        pthread_mutex_unlock(&w->lock);
        int e = 0;
        if (!failed && write_chunk(w, &q->h, q->raw.data, q->raw.len) < 0)
            e = errno ? errno : EIO;
        pthread_mutex_lock(&w->lock);
        if (e && !w->error)
            w->error = e;
        w->written++;
        pthread_cond_broadcast(&w->changed);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Start the compressor with every signal blocked: the recorder's own
 * handlers expect to run on its main thread. */
static void start_compressor(ht_writer *w)
{
    if (pthread_mutex_init(&w->lock, NULL) != 0)
        return;
    if (pthread_cond_init(&w->changed, NULL) != 0) {
        pthread_mutex_destroy(&w->lock);
        return;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    w->queue_len = QUEUE_THREAD;
    w->threaded = pthread_create(&w->compressor, NULL, compressor_main, w) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (w->threaded)
        pthread_setname_np(w->compressor, "ht-compress"); /* for top -H and perf */
    if (!w->threaded) {
        pthread_cond_destroy(&w->changed);
        pthread_mutex_destroy(&w->lock);
    }
}

/* Compress and write the oldest queued chunk on the calling thread. The
 * first failure stays: the chunks after it are not written. */
static int write_queued(ht_writer *w)
{
    queued_chunk *q = &w->queue[w->written % w->queue_len];
    w->written++;
    if (!w->error && write_chunk(w, &q->h, q->raw.data, q->raw.len) < 0)
        w->error = errno ? errno : EIO;
    if (w->error) {
        errno = w->error;
        return -1;
    }
    return 0;
}

/* Wait until at most `ahead` chunks are still queued (writing them, without
 * the thread). Returns 0, or -1 with errno of a failed write. */
static int wait_queue(ht_writer *w, uint64_t ahead)
{
    if (w->idle) {
        while (w->queued - w->written > ahead)
            if (write_queued(w) < 0)
                return -1;
        return 0;
    }
    if (!w->threaded)
        return 0;
    pthread_mutex_lock(&w->lock);
    while (w->queued - w->written > ahead && !w->error)
        pthread_cond_wait(&w->changed, &w->lock);
    int e = w->error;
    pthread_mutex_unlock(&w->lock);
    if (e) {
        errno = e;
        return -1;
    }
    return 0;
}

static int flush_open(ht_writer *w, open_chunk *oc)
{
    if (oc->enc.count == 0)
        return 0;
    if (wait_queue(w, w->queue_len - 1) < 0)
        return -1;
    queued_chunk *q = &w->queue[w->queued % w->queue_len];
    q->raw.len = 0;
    if (!ht_encoder_finish(&oc->enc, &q->raw)) {
        errno = ENOMEM;
        return -1;
    }
    q->h = (ht_chunk_header){.kind = HT_CHUNK_EVENTS,
                             .pid = oc->pid,
                             .event_count = oc->enc.count,
                             .ts_first = oc->enc.ts_first,
                             .ts_last = oc->enc.ts_last};
    ht_encoder_reset(&oc->enc);
    if (!w->threaded) {
        w->queued++;
        return w->idle ? 0 : write_queued(w);
    }
    pthread_mutex_lock(&w->lock);
    w->queued++;
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

static bool put_meta(ht_buf *b, uint16_t key, const void *val, size_t len)
{
    return ht_buf_put_u16(b, key) && ht_buf_put_u32(b, (uint32_t)len) && ht_buf_append(b, val, len);
}

static bool put_meta_str(ht_buf *b, uint16_t key, const char *s)
{
    return s ? put_meta(b, key, s, strlen(s)) : true;
}

ht_writer *ht_writer_create(int fd, const ht_trace_info *info, const ht_writer_options *options,
                            char *err, size_t errlen)
{
    ht_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->zc = ZSTD_createCCtx())) {
        snprintf(err, errlen, "out of memory");
        free(w);
        return NULL;
    }
    w->fd = fd;
    w->level = options && options->CompressionLevel ? options->CompressionLevel : 3;
    w->chunk_bytes = options && options->ChunkBytes ? options->ChunkBytes : DEFAULT_CHUNK_BYTES;
    if (w->chunk_bytes > HT_CHUNK_MAX_RAW / 2)
        w->chunk_bytes = HT_CHUNK_MAX_RAW / 2;
    w->descs = ht_schema_builtin(&w->desc_count);
    for (unsigned type = 0; type < 256; type++)
        w->tag_of[type] = (int16_t)ht_schema_builtin_tag((uint16_t)type);

    unsigned char fh[HT_FILE_HEADER_SIZE] = {0};
    memcpy(fh, HT_FILE_MAGIC, 8);
    ht_store_u16(fh + 8, HT_FORMAT_MAJOR);
    ht_store_u16(fh + 10, HT_FORMAT_MINOR);

    ht_buf meta = {0};
    unsigned char clock[16];
    ht_store_u32(clock, info->Clock.ClockId);
    ht_store_u32(clock + 4, info->Clock.ResolutionNs);
    ht_store_u64(clock + 8, (uint64_t)info->Clock.RealtimeOffsetNs);
    ht_buf descs = {0};
    bool ok = put_meta(&meta, HT_META_CLOCK, clock, sizeof clock) &&
              put_meta(&meta, HT_META_START_TIME, &info->StartTimeNs, 8) &&
              put_meta(&meta, HT_META_OPTIONS, &info->Options, 4) &&
              put_meta_str(&meta, HT_META_HOST, info->Host) &&
              put_meta_str(&meta, HT_META_KERNEL, info->Kernel) &&
              put_meta_str(&meta, HT_META_RECORDER, info->Recorder) &&
              put_meta_str(&meta, HT_META_COMMAND, info->Command) &&
              ht_schema_serialize(w->descs, w->desc_count, &descs) &&
              put_meta(&meta, HT_META_DESCRIPTORS, descs.data, descs.len);
    ht_buf_free(&descs);
    if (!ok) {
        snprintf(err, errlen, "out of memory");
        ht_buf_free(&meta);
        ht_writer_destroy(w);
        return NULL;
    }
    ht_chunk_header h = {.kind = HT_CHUNK_META, .ts_first = info->StartTimeNs,
                         .ts_last = info->StartTimeNs};
    int saved = w->level;
    w->level = 0; /* the header stays readable with a hex dump */
    if (write_all(w, fh, sizeof fh) < 0 || write_chunk(w, &h, meta.data, meta.len) < 0) {
        snprintf(err, errlen, "cannot write the trace header: %s", strerror(errno));
        ht_buf_free(&meta);
        ht_writer_destroy(w);
        return NULL;
    }
    w->level = saved;
    ht_buf_free(&meta);
    w->queue_len = QUEUE;
    if (options && options->Compress == HT_WRITER_COMPRESS_IDLE)
        w->idle = true;
    else
        start_compressor(w);
    return w;
}

/* Write oc, after every open chunk that began before it: chunks then follow
 * one another in the order of their first events, so that a reader meets
 * what a process did (its modules, say) before what its children, which
 * began later, did with it. */
static int flush_through(ht_writer *w, open_chunk *oc)
{
    for (;;) {
        open_chunk *first = oc;
        for (size_t i = 0; i < w->open_count; i++)
            if (w->open[i]->enc.count && w->open[i]->enc.ts_first < first->enc.ts_first)
                first = w->open[i];
        if (flush_open(w, first) < 0)
            return -1;
        if (first == oc)
            return 0;
    }
}

static open_chunk *chunk_for(ht_writer *w, uint32_t pid)
{
    if (w->last && w->last->pid == pid) /* events come in runs of one process */
        return w->last;
    open_chunk *lru = NULL;
    for (size_t i = 0; i < w->open_count; i++) {
        if (w->open[i]->pid == pid)
            return w->open[i];
        if (!lru || w->open[i]->last_use < lru->last_use)
            lru = w->open[i];
    }
    if (w->open_count == MAX_OPEN) {
        if (flush_through(w, lru) < 0)
            return NULL;
        lru->pid = pid;
        return lru;
    }
    open_chunk *oc = malloc(sizeof *oc);
    if (!oc) {
        errno = ENOMEM;
        return NULL;
    }
    ht_encoder_init(&oc->enc);
    oc->pid = pid;
    w->open[w->open_count++] = oc;
    return oc;
}

/* Whether the open chunk oc is full and must be written now. Asked when the
 * encoder next checks its room: after any event but a heap event, and once
 * per run of heap events it made room for (a chunk may so pass chunk_bytes
 * by a few kilobytes). */
static bool chunk_full(const ht_writer *w, const open_chunk *oc)
{
    return oc->enc.heap_room == 0 &&
           (ht_encoder_raw_size(&oc->enc) >= w->chunk_bytes || oc->enc.count >= MAX_CHUNK_EVENTS);
}

/* The open chunk of pid, now the latest used. */
static open_chunk *use_chunk(ht_writer *w, uint32_t pid)
{
    open_chunk *oc = chunk_for(w, pid);
    if (oc) {
        w->last = oc;
        oc->last_use = ++w->use_clock;
    }
    return oc;
}

int ht_writer_add(ht_writer *w, const ht_event *ev)
{
    int tag = ev->Header.Type < 256 ? w->tag_of[ev->Header.Type] : -1;
    if (tag < 0) {
        errno = EINVAL;
        return -1;
    }
    open_chunk *oc = use_chunk(w, ev->Header.ProcessId);
    if (!oc)
        return -1;
    if (!ht_encoder_add(&oc->enc, (uint8_t)tag, &w->descs[tag], ev)) {
        errno = ENOMEM;
        return -1;
    }
    return chunk_full(w, oc) ? flush_through(w, oc) : 0;
}

int ht_writer_add_heap(ht_writer *w, uint32_t pid, const ht_record *recs,
                       const ht_heap_extra *extra, size_t n)
{
    open_chunk *oc = use_chunk(w, pid);
    if (!oc)
        return -1;
    for (size_t i = 0; i < n;) {
        size_t added =
            ht_encoder_add_heap_run(&oc->enc, w->tag_of, w->descs, recs + i, extra + i, n - i);
        if (added == 0) {
            uint16_t type = recs[i].type;
            errno = type == HT_EVENT_HEAP_ALLOC || type == HT_EVENT_HEAP_FREE ||
                            type == HT_EVENT_HEAP_REALLOC
                        ? ENOMEM
                        : EINVAL;
            return -1;
        }
        i += added;
        if (chunk_full(w, oc) && flush_through(w, oc) < 0)
            return -1;
    }
    return 0;
}

int ht_writer_flush_process(ht_writer *w, uint32_t pid)
{
    for (size_t i = 0; i < w->open_count; i++)
        if (w->open[i]->pid == pid)
            return flush_through(w, w->open[i]);
    return 0;
}

int ht_writer_idle(ht_writer *w)
{
    if (!w->idle || w->written == w->queued)
        return 0;
    return write_queued(w) < 0 ? -1 : 1;
}

int ht_writer_flush(ht_writer *w)
{
    /* Oldest data first, so that a reader sees chunks in roughly time order. */
    for (;;) {
        open_chunk *first = NULL;
        for (size_t i = 0; i < w->open_count; i++)
            if (w->open[i]->enc.count &&
                (!first || w->open[i]->enc.ts_first < first->enc.ts_first))
                first = w->open[i];
        if (!first)
            return wait_queue(w, 0);
        if (flush_open(w, first) < 0)
            return -1;
    }
}

int ht_writer_finish(ht_writer *w)
{
    if (ht_writer_flush(w) < 0)
        return -1;
    ht_buf idx = {0};
    bool ok = ht_buf_put_u32(&idx, (uint32_t)w->index_len);
    for (size_t i = 0; ok && i < w->index_len; i++) {
        index_entry *e = &w->index[i];
        ok = ht_buf_put_u64(&idx, e->offset) && ht_buf_put_u64(&idx, e->seq) &&
             ht_buf_put_u32(&idx, e->pid) && ht_buf_put_u32(&idx, e->count) &&
             ht_buf_put_u64(&idx, e->ts_first) && ht_buf_put_u64(&idx, e->ts_last);
    }
    if (!ok) {
        ht_buf_free(&idx);
        errno = ENOMEM;
        return -1;
    }
    uint64_t index_at = w->offset;
    ht_chunk_header h = {.kind = HT_CHUNK_INDEX};
    int r = write_chunk(w, &h, idx.data, idx.len);
    ht_buf_free(&idx);
    if (r < 0)
        return -1;
    unsigned char trailer[HT_TRAILER_SIZE];
    memcpy(trailer, HT_TRAILER_MAGIC, 8);
    ht_store_u64(trailer + 8, index_at);
    ht_store_u64(trailer + 16, w->seq);
    return write_all(w, trailer, sizeof trailer);
}

void ht_writer_totals(const ht_writer *w, uint64_t *events, uint64_t *chunks, uint64_t *bytes)
{
    /* The compressor's counts, once it has written what is queued (a
     * failed write shows in the next call that writes). */
    (void)wait_queue((ht_writer *)w, 0);
    if (events)
        *events = w->events;
    if (chunks)
        *chunks = w->chunks;
    if (bytes)
        *bytes = w->offset;
}

void ht_writer_destroy(ht_writer *w)
{
    if (!w)
        return;
    if (w->threaded) {
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_broadcast(&w->changed);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->compressor, NULL);
        pthread_cond_destroy(&w->changed);
        pthread_mutex_destroy(&w->lock);
    }
    if (w->idle)
        (void)wait_queue(w, 0); /* what the thread would have written before it stopped */
    for (size_t i = 0; i < w->open_count; i++) {
        ht_encoder_free(&w->open[i]->enc);
        free(w->open[i]);
    }
    for (size_t i = 0; i < QUEUE; i++)
        ht_buf_free(&w->queue[i].raw);
    ZSTD_freeCCtx(w->zc);
    ht_buf_free(&w->packed);
    free(w->index);
    free(w);
}
