/* The whole-trace reader with worker threads (see parallel.h).
 *
 * Chunks are claimed in file order: a claim reads the chunk header at the
 * running offset and moves the offset past its body, under the lock, which
 * is all that is sequential about a file. Reading, checking, decompressing
 * and decoding the body happen outside the lock, into the slot the claim
 * number names in a ring of slots. The consumer takes the slots in claim
 * order, so it sees the chunks in file order; the first slot that ends the
 * file (its end, a truncation, an error) ends the read, and what workers
 * claimed after it is dropped. */
#include "parallel.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"

enum slot_outcome {
    SLOT_EVENTS, /* an EVENTS chunk with events: records follow */
    SLOT_SKIP,   /* a checked chunk with nothing to deliver */
    SLOT_END,    /* the readable file ends here, as end says */
    SLOT_ERROR,  /* reading stops here with error */
};

typedef struct slot {
    uint64_t claim; /* claim number of the chunk in it */
    int ready;      /* the claim's work is done */
    int busy;       /* claimed and not yet released by the consumer */

    enum slot_outcome outcome;
    ht_chunk_header h;
    uint64_t offset;
    ht_reader_end end;
    ht_trace_error error;
    ht_buf body, raw;
    ht_chunk_decoder dec;

    ht_record *recs;
    uint32_t cap;
    uint32_t done;   /* events of the chunk decoded before recs */
    uint32_t nrecs;  /* records in recs */
    uint64_t lost;   /* events the LOST records in recs count */
    int failed;      /* error follows the records: the next event failed */
} slot;

typedef struct pipeline {
    ht_trace *t;
    uint32_t slice;       /* records per slice: HT_PARALLEL_SLICE or _ALONE */
    ht_record_plan plan;
    slot *slots;
    unsigned nslots;

    pthread_mutex_t lock;
    pthread_cond_t ready; /* a slot became ready */
    pthread_cond_t freed; /* a slot was released */
    uint64_t next_claim;
    uint64_t offset;      /* next chunk header to claim */
    int claims_over;      /* a claim ended the file: claim nothing more */
    int stop;
} pipeline;

/* ---- claiming and decoding (worker side) ---- */

/* Take the chunk at the running offset into s. Called under the lock (or
 * with no workers). */
static void claim(pipeline *p, slot *s)
{
    s->offset = p->offset;
    int r = ht_reader_header_at(p->t, p->offset, &s->h, &s->end, &s->error);
    if (r <= 0) {
        s->outcome = r == 0 ? SLOT_END : SLOT_ERROR;
        p->claims_over = 1;
        return;
    }
    p->offset += HT_CHUNK_HEADER_SIZE + (uint64_t)s->h.body_size;
    s->outcome = SLOT_EVENTS;
}

static int reserve_records(slot *s, uint32_t n)
{
    if (n <= s->cap)
        return 0;
    ht_record *r = realloc(s->recs, (size_t)n * sizeof *r);
    if (!r)
        return -1;
    s->recs = r;
    s->cap = n;
    return 0;
}

/* Decode the chunk's next events (at most p->slice) into s->recs.
 * The direct path first; when it finds the bytes malformed, the chunk is
 * decoded again from its start on the checked path, which says which
 * event failed and why. */
static void decode_slice(const pipeline *p, slot *s, ht_event *scratch)
{
    const ht_trace *t = p->t;
    uint32_t left = s->h.event_count - s->done;
    uint32_t max = left < p->slice ? left : p->slice;
    s->nrecs = 0;
    s->lost = 0;
    if (reserve_records(s, max) < 0) {
        ht_reader_format_error(t, &s->error, HT_TRACE_ERR_NOMEM, s->offset, "out of memory");
        s->failed = 1;
        return;
    }
    uint64_t lost = 0;
    if (ht_records_decode(&s->dec, &p->plan, scratch, s->recs, max, &lost) >= 0) {
        s->nrecs = max;
        s->lost = lost;
    } else {
        char why[200];
        (void)ht_reader_start_events(t, &s->h, s->offset, &s->raw, &s->dec, &s->error);
        for (uint32_t i = 0; i < s->done + max; i++) {
            if (!ht_decoder_next(&s->dec, scratch, why, sizeof why)) {
                ht_reader_event_error(t, &s->h, s->offset, i, why, &s->error);
                s->failed = 1;
                return;
            }
            if (i < s->done)
                continue;
            ht_record *r = &s->recs[s->nrecs++];
            ht_record_from_event(scratch, r);
            if (r->type == HT_EVENT_LOST && !(r->flags & HT_EVENT_FLAG_UNKNOWN_TYPE))
                s->lost += r->u.lost;
        }
    }
    if (s->done + max == s->h.event_count && !ht_decoder_done(&s->dec)) {
        /* Bytes after the last event: like ht_trace_next, deliver the events
         * before the last one, then the error. */
        const ht_record *last = &s->recs[--s->nrecs];
        if (last->type == HT_EVENT_LOST && !(last->flags & HT_EVENT_FLAG_UNKNOWN_TYPE))
            s->lost -= last->u.lost;
        ht_reader_leftover_error(t, &s->h, s->offset, &s->error);
        s->failed = 1;
    }
}

/* Everything about the claimed chunk in s that does not depend on other
 * chunks: its body, checks, decompression and first records. */
static void work(const pipeline *p, slot *s, ZSTD_DCtx *zd, ht_event *scratch)
{
    s->done = 0;
    s->nrecs = 0;
    s->lost = 0;
    s->failed = 0;
    if (s->outcome != SLOT_EVENTS)
        return;
    int r = ht_reader_load_body(p->t, zd, &s->h, s->offset, &s->body, &s->raw, &s->error);
    if (r <= 0) {
        if (r == 0)
            ht_reader_cut_body(p->t, s->offset, &s->end);
        s->outcome = r == 0 ? SLOT_END : SLOT_ERROR;
        return;
    }
    if (s->h.kind != HT_CHUNK_EVENTS) {
        s->outcome = SLOT_SKIP; /* index chunks and kinds of newer writers */
        return;
    }
    r = ht_reader_start_events(p->t, &s->h, s->offset, &s->raw, &s->dec, &s->error);
    if (r <= 0) {
        s->outcome = r == 0 ? SLOT_SKIP : SLOT_ERROR;
        return;
    }
    decode_slice(p, s, scratch);
}

static void *worker(void *arg)
{
    pipeline *p = arg;
    ZSTD_DCtx *zd = ZSTD_createDCtx();
    ht_event *scratch = malloc(sizeof *scratch);
    pthread_mutex_lock(&p->lock);
    while (!p->stop && !p->claims_over) {
        slot *s = &p->slots[p->next_claim % p->nslots];
        if (s->busy) {
            pthread_cond_wait(&p->freed, &p->lock);
            continue;
        }
        s->claim = p->next_claim++;
        s->busy = 1;
        s->ready = 0;
        claim(p, s);
        pthread_mutex_unlock(&p->lock);
        if (zd && scratch) {
            work(p, s, zd, scratch);
        } else {
            ht_reader_format_error(p->t, &s->error, HT_TRACE_ERR_NOMEM, s->offset,
                                   "out of memory");
            s->outcome = SLOT_ERROR;
        }
        pthread_mutex_lock(&p->lock);
        s->ready = 1;
        pthread_cond_broadcast(&p->ready);
    }
    pthread_mutex_unlock(&p->lock);
    free(scratch);
    ZSTD_freeDCtx(zd);
    return NULL;
}

/* ---- consuming (calling thread) ---- */

/* Hand the slot's events to the callback, decoding the rest of a chunk
 * longer than a slice here. Returns 0 to go on, the callback's value, or -1
 * with the trace failed. */
static int deliver(pipeline *p, slot *s, ht_event *scratch, ht_records_callback cb, void *ctx)
{
    ht_trace *t = p->t;
    ht_reader_count_chunk(t, &s->h);
    for (;;) {
        if (s->nrecs) {
            t->status.EventsRead += s->nrecs;
            t->status.EventsLost += s->lost;
            int stop = cb(s->h.pid, s->recs, s->nrecs, ctx);
            if (stop)
                return stop;
            s->done += s->nrecs;
        }
        if (s->failed) {
            ht_reader_fail(t, &s->error);
            return -1;
        }
        if (s->done == s->h.event_count)
            return 0;
        decode_slice(p, s, scratch);
    }
}

static int consume(pipeline *p, unsigned workers, ht_records_callback cb, void *ctx)
{
    ht_trace *t = p->t;
    ht_event *scratch = malloc(sizeof *scratch);
    if (!scratch) {
        ht_trace_error e;
        ht_reader_format_error(t, &e, HT_TRACE_ERR_NOMEM, p->offset, "out of memory");
        ht_reader_fail(t, &e);
        return -1;
    }
    int result = 0;
    for (uint64_t n = 0;; n++) {
        slot *s = &p->slots[n % p->nslots];
        if (workers == 0) {
            s->claim = n;
            claim(p, s);
            work(p, s, t->zd, scratch);
        } else {
            pthread_mutex_lock(&p->lock);
            while (!(s->busy && s->claim == n && s->ready))
                pthread_cond_wait(&p->ready, &p->lock);
            pthread_mutex_unlock(&p->lock);
        }
        int over = 1;
        switch (s->outcome) {
        case SLOT_EVENTS:
            result = deliver(p, s, scratch, cb, ctx);
            over = result != 0;
            break;
        case SLOT_SKIP: over = 0; break;
        case SLOT_END: ht_reader_end_at(t, &s->end); break;
        case SLOT_ERROR:
            ht_reader_fail(t, &s->error);
            result = -1;
            break;
        }
        if (workers) {
            pthread_mutex_lock(&p->lock);
            s->busy = 0;
            pthread_cond_broadcast(&p->freed);
            pthread_mutex_unlock(&p->lock);
        }
        if (over)
            break;
    }
    free(scratch);
    return result;
}

/* Events left in a chunk that ht_trace_next began: delivered first, one
 * record at a time, so that nothing is read twice or skipped. */
static int finish_started_chunk(ht_trace *t, ht_records_callback cb, void *ctx)
{
    while (t->chunk_left > 0) {
        const ht_event *ev;
        int r = ht_trace_next(t, &ev);
        if (r <= 0)
            return r;
        ht_record rec;
        ht_record_from_event(ev, &rec);
        int stop = cb(ev->Header.ProcessId, &rec, 1, ctx);
        if (stop)
            return stop;
    }
    return 0;
}

int ht_trace_process_records(ht_trace *t, unsigned workers, ht_records_callback cb, void *ctx)
{
    if (t->failed)
        return -1;
    if (t->at_end)
        return 0;
    int r = finish_started_chunk(t, cb, ctx);
    if (r != 0 || t->at_end) {
        t->at_end = 1;
        return r;
    }
    pipeline p = {.t = t, .offset = t->offset, .nslots = workers ? 2 * workers + 1 : 1};
    ht_record_plan_make(&p.plan, t->descs, t->desc_count);
    p.slots = calloc(p.nslots, sizeof *p.slots);
    pthread_t *threads = calloc(workers ? workers : 1, sizeof *threads);
    if (!p.slots || !threads) {
        free(p.slots);
        free(threads);
        ht_trace_error e;
        ht_reader_format_error(t, &e, HT_TRACE_ERR_NOMEM, t->offset, "out of memory");
        ht_reader_fail(t, &e);
        return -1;
    }
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.ready, NULL);
    pthread_cond_init(&p.freed, NULL);
    /* Threads that cannot be started leave their work to the others (all
     * of it to the calling thread when none starts). */
    unsigned started = 0;
    p.slice = workers ? HT_PARALLEL_SLICE : HT_PARALLEL_SLICE_ALONE;
    while (started < workers && pthread_create(&threads[started], NULL, worker, &p) == 0)
        started++;
    r = consume(&p, started, cb, ctx);
    pthread_mutex_lock(&p.lock);
    p.stop = 1;
    pthread_cond_broadcast(&p.freed);
    pthread_mutex_unlock(&p.lock);
    for (unsigned i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    for (unsigned i = 0; i < p.nslots; i++) {
        ht_buf_free(&p.slots[i].body);
        ht_buf_free(&p.slots[i].raw);
        free(p.slots[i].recs);
    }
    pthread_cond_destroy(&p.freed);
    pthread_cond_destroy(&p.ready);
    pthread_mutex_destroy(&p.lock);
    free(p.slots);
    free(threads);
    t->at_end = 1;
    return r;
}
