/* Reading whole traces as records (src/format/records.c, parallel.c): with
 * any number of worker threads, the records, the status and the error must
 * be exactly what ht_trace_next gives, event for event, on good files, on
 * files with damaged event bytes (checksums made right, so the decoders see
 * them) and on files cut anywhere. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "format/parallel.h"
#include "heaptrail/trace.h"
#include "synth.h"
#include "tracefile.h"

static const uint32_t pids[] = {41, 42, 43};
#define NPIDS (sizeof pids / sizeof pids[0])
#define SEED 77
#define MAX_CHUNKS 512

/* One delivered event: its process and its record, with what the record
 * points to copied, so that two reads can be compared after the fact. */
typedef struct seen {
    uint32_t pid;
    ht_record rec;
    char text[2][64]; /* PROCESS_START's command line and executable, or a name */
} seen;

typedef struct reading {
    seen *ev;
    size_t n, cap;
    int result;
    ht_trace_status status;
    int failed;
    ht_trace_error error;
} reading;

static void keep(reading *r, uint32_t pid, const ht_record *rec)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->ev = realloc(r->ev, r->cap * sizeof *r->ev);
        assert_non_null(r->ev);
    }
    seen *s = &r->ev[r->n++];
    /* Field by field: the bytes of the union that a type does not use are
     * not defined. */
    memset(s, 0, sizeof *s);
    s->pid = pid;
    s->rec.time = rec->time;
    s->rec.tid = rec->tid;
    s->rec.type = rec->type;
    s->rec.flags = rec->flags;
    s->rec.source = rec->source;
    const char *name = ht_record_name(rec);
    if (name) {
        snprintf(s->text[0], sizeof s->text[0], "%s", name);
        return;
    }
    switch (rec->type) {
    case HT_EVENT_PROCESS_START: {
        uint32_t n0 = rec->u.start.command_line_len, n1 = rec->u.start.executable_len;
        memcpy(s->text[0], rec->u.start.command_line, n0 < 63 ? n0 : 63);
        memcpy(s->text[1], rec->u.start.executable, n1 < 63 ? n1 : 63);
        s->rec.u.start.command_line_len = n0;
        s->rec.u.start.executable_len = n1;
        s->rec.u.start.parent_pid = rec->u.start.parent_pid;
        break;
    }
    case HT_EVENT_PROCESS_EXIT: s->rec.u.exit = rec->u.exit; break;
    case HT_EVENT_LOST: s->rec.u.lost = rec->u.lost; break;
    case HT_EVENT_HEAP_REALLOC:
        s->rec.u.heap.old_address = rec->u.heap.old_address;
        /* fall through */
    case HT_EVENT_HEAP_ALLOC:
        s->rec.u.heap.size = rec->u.heap.size;
        /* fall through */
    default: s->rec.u.heap.address = rec->u.heap.address; break;
    }
}

static int on_records(uint32_t pid, const ht_record *recs, size_t n, void *ctx)
{
    for (size_t i = 0; i < n; i++)
        keep(ctx, pid, &recs[i]);
    return 0;
}

static void finish(reading *r, ht_trace *t, int result)
{
    r->result = result;
    r->status = *ht_trace_get_status(t);
    const ht_trace_error *e = ht_trace_last_error(t);
    r->failed = e != NULL;
    if (e)
        r->error = *e;
    ht_trace_close(t);
}

/* Returns 0, or -1 when the file does not open (then both reads agree). */
static int read_events(const char *path, reading *r)
{
    memset(r, 0, sizeof *r);
    ht_trace *t = ht_trace_open(path, NULL);
    if (!t)
        return -1;
    const ht_event *ev;
    int result;
    while ((result = ht_trace_next(t, &ev)) == 1) {
        ht_record rec;
        ht_record_from_event(ev, &rec);
        keep(r, ev->Header.ProcessId, &rec);
    }
    finish(r, t, result);
    return 0;
}

static void read_records(const char *path, unsigned workers, reading *r)
{
    memset(r, 0, sizeof *r);
    ht_trace *t = ht_trace_open(path, NULL);
    assert_non_null(t);
    finish(r, t, ht_trace_process_records(t, workers, on_records, r));
}

static void assert_same(const reading *a, const reading *b, const char *what, size_t arg)
{
    if (a->result != b->result || a->n != b->n || a->failed != b->failed)
        fail_msg("%s %zu: result %d/%d, events %zu/%zu, failed %d/%d", what, arg, a->result,
                 b->result, a->n, b->n, a->failed, b->failed);
    for (size_t i = 0; i < a->n; i++)
        if (memcmp(&a->ev[i], &b->ev[i], sizeof a->ev[i]) != 0)
            fail_msg("%s %zu: event %zu differs (type %u/%u)", what, arg, i, a->ev[i].rec.type,
                     b->ev[i].rec.type);
    const ht_trace_status *x = &a->status, *y = &b->status;
    if (x->ChunksRead != y->ChunksRead || x->EventsRead != y->EventsRead ||
        x->EventsLost != y->EventsLost || x->CompressedBytes != y->CompressedBytes ||
        x->RawBytes != y->RawBytes || x->Complete != y->Complete ||
        x->Truncated != y->Truncated || x->TruncatedAt != y->TruncatedAt ||
        x->TrailingBytes != y->TrailingBytes)
        fail_msg("%s %zu: status differs", what, arg);
    if (a->failed && (a->error.code != b->error.code || a->error.offset != b->error.offset ||
                      strcmp(a->error.message, b->error.message) != 0))
        fail_msg("%s %zu: \"%s\" / \"%s\"", what, arg, a->error.message, b->error.message);
}

/* Both ways of reading path agree, with 0 and 1 workers, and 3 when all is
 * set. */
static void compare_with(const char *path, const char *what, size_t arg, bool all)
{
    reading ref, got;
    if (read_events(path, &ref) < 0)
        return;
    static const unsigned workers[] = {0, 1, 3};
    for (size_t w = 0; w < (all ? 3u : 2u); w++) {
        read_records(path, workers[w], &got);
        assert_same(&ref, &got, what, arg);
        free(got.ev);
    }
    free(ref.ev);
}

static void compare(const char *path, const char *what, size_t arg)
{
    compare_with(path, what, arg, true);
}

typedef struct fixture {
    char *dir, *path, *damaged;
    unsigned char *file;
    size_t len;
    tf_chunk chunks[MAX_CHUNKS];
    size_t nchunks;
} fixture;

static void write_trace(fixture *f, uint64_t events, uint32_t chunk_bytes, int uncompressed)
{
    int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    synth_written w;
    assert_int_equal(synth_write(fd, SEED, pids, NPIDS, events, chunk_bytes, &w), 0);
    close(fd);
    free(f->file);
    f->file = tf_load(f->path, &f->len);
    assert_non_null(f->file);
    if (uncompressed) {
        size_t len;
        unsigned char *u = tf_uncompress(f->file, f->len, &len);
        assert_non_null(u);
        free(f->file);
        f->file = u;
        f->len = len;
        assert_int_equal(tf_save(f->path, f->file, f->len), 0);
    }
    uint64_t trailer;
    f->nchunks = tf_chunks(f->file, f->len, f->chunks, MAX_CHUNKS, &trailer);
    assert_true(f->nchunks > 2);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = tf_tmpdir();
    f->path = tf_path(f->dir, "good.ht");
    f->damaged = tf_path(f->dir, "damaged.ht");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tf_rmtree(f->dir);
    free(f->dir);
    free(f->path);
    free(f->damaged);
    free(f->file);
    free(f);
    return 0;
}

/* Every event type with extreme values, in many small chunks. */
static void test_good_file(void **state)
{
    fixture *f = *state;
    write_trace(f, 8000, 4096, 0);
    compare(f->path, "good file", 0);
}

/* A chunk of more events than one hand-over holds: the rest of it is decoded
 * in further slices, with the codec state carried on. */
static void test_chunk_longer_than_a_slice(void **state)
{
    fixture *f = *state;
    const uint32_t one[] = {9};
    int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    synth_written w;
    assert_int_equal(synth_write(fd, SEED, one, 1, HT_PARALLEL_SLICE + 5000, 32u << 20, &w), 0);
    close(fd);
    assert_true(w.chunks < 3); /* nearly all of them in one chunk */
    compare_with(f->path, "long chunk", 0, false);
}

/* Damaged bytes in the decoded bodies of event chunks, checksums made right:
 * a damaged event stops the reading at the same event with the same error,
 * whichever decoding path met it. */
static void test_damaged_events(void **state)
{
    fixture *f = *state;
    write_trace(f, 1500, 4096, 1);
    unsigned char *copy = malloc(f->len);
    size_t tried = 0;
    for (size_t i = 0; i < f->nchunks; i++) {
        if (f->chunks[i].h.kind != HT_CHUNK_EVENTS)
            continue;
        uint64_t body = f->chunks[i].offset + HT_CHUNK_HEADER_SIZE;
        for (uint64_t at = body; at < f->chunks[i].end; at += 61 + at % 7) {
            for (unsigned flip = 0; flip < 2; flip++) {
                memcpy(copy, f->file, f->len);
                copy[at] ^= flip ? 0x80 : 0x7F; /* a continuation bit, or the value */
                tf_chunk c = f->chunks[i];
                tf_fix_body_crc(copy, &c);
                assert_int_equal(tf_save(f->damaged, copy, f->len), 0);
                compare_with(f->damaged, "damaged byte", (size_t)at, false);
                tried++;
            }
        }
    }
    assert_true(tried > 150);
    free(copy);
}

/* Files cut at every chunk boundary and inside chunks. */
static void test_cut_files(void **state)
{
    fixture *f = *state;
    write_trace(f, 1500, 2048, 0);
    for (size_t i = 1; i < f->nchunks; i++) {
        uint64_t cuts[] = {f->chunks[i].offset, f->chunks[i].offset + 10,
                           f->chunks[i].offset + HT_CHUNK_HEADER_SIZE + 1, f->chunks[i].end - 1};
        for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
            assert_int_equal(tf_save(f->damaged, f->file, cuts[k]), 0);
            compare_with(f->damaged, "cut at", (size_t)cuts[k], false);
        }
    }
}

/* A callback that stops: its value comes back, nothing after it is read. */
static int stop_after_100(uint32_t pid, const ht_record *recs, size_t n, void *ctx)
{
    (void)pid;
    (void)recs;
    size_t *seen_events = ctx;
    *seen_events += n;
    return *seen_events >= 100 ? 7 : 0;
}

static void test_callback_stops(void **state)
{
    fixture *f = *state;
    write_trace(f, 5000, 2048, 0);
    for (unsigned workers = 0; workers < 3; workers++) {
        ht_trace *t = ht_trace_open(f->path, NULL);
        assert_non_null(t);
        size_t n = 0;
        assert_int_equal(ht_trace_process_records(t, workers, stop_after_100, &n), 7);
        assert_true(n >= 100 && n < 5000);
        const ht_event *ev;
        assert_int_equal(ht_trace_next(t, &ev), 0); /* a stopped read does not resume */
        ht_trace_close(t);
    }
}

/* Events that ht_trace_next began a chunk with, then records: nothing is
 * delivered twice or skipped. */
static void test_after_next(void **state)
{
    fixture *f = *state;
    write_trace(f, 4000, 4096, 0);
    reading ref, got;
    assert_int_equal(read_events(f->path, &ref), 0);
    memset(&got, 0, sizeof got);
    ht_trace *t = ht_trace_open(f->path, NULL);
    assert_non_null(t);
    const ht_event *ev;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(ht_trace_next(t, &ev), 1);
        ht_record rec;
        ht_record_from_event(ev, &rec);
        keep(&got, ev->Header.ProcessId, &rec);
    }
    finish(&got, t, ht_trace_process_records(t, 2, on_records, &got));
    assert_same(&ref, &got, "after next", 0);
    free(ref.ev);
    free(got.ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunk_longer_than_a_slice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_after_next, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
