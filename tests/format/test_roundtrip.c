/* Round trip: millions of synthetic events of every type, with extreme values
 * in every field, written through ht_writer and read back field by field;
 * and the same events written with the heap events as runs of records (the
 * recorder's way) make the same file, byte for byte, whichever thread
 * compresses them; a write that fails is reported. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "format/records.h"
#include "format/schema.h"
#include "format/writer_heap.h"
#include "heaptrail/trace.h"
#include "heaptrail/writer.h"
#include "synth.h"
#include "tracefile.h"

#define SEED 0x5EED0001ull
#define EVENTS 2000000ull

/* Several processes, 0 and the largest pid among them. */
static const uint32_t pids[] = {4242, 1, 0, UINT32_MAX, 77, 123456, 2};
#define NPIDS (sizeof pids / sizeof pids[0])

typedef struct fixture {
    char *dir;
    char *path;
    synth_written w;
} fixture;

static int write_trace(fixture *f, const char *name, uint64_t seed, const uint32_t *p, size_t np,
                       uint64_t n, uint32_t chunk_bytes)
{
    f->path = tf_path(f->dir, name);
    int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    int r = synth_write(fd, seed, p, np, n, chunk_bytes, &f->w);
    close(fd);
    return r;
}

static int setup_big(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = tf_tmpdir();
    *state = f;
    return write_trace(f, "big.ht", SEED, pids, NPIDS, EVENTS, 0);
}

static int teardown(void **state)
{
    fixture *f = *state;
    tf_rmtree(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

static ht_trace *open_ok(const char *path)
{
    ht_trace_error err;
    ht_trace *t = ht_trace_open(path, &err);
    if (!t)
        fail_msg("open: %s", err.message);
    return t;
}

/* Read everything with ht_trace_next and check every event and the status. */
static void read_and_check(const fixture *f, uint64_t seed, const uint32_t *p, size_t np,
                           uint64_t n)
{
    ht_trace *t = open_ok(f->path);
    synth_check c;
    synth_check_init(&c, seed, p, np);
    const ht_event *ev;
    int r;
    while ((r = ht_trace_next(t, &ev)) == 1)
        if (synth_check_event(&c, ev) < 0)
            fail_msg("%s", c.error);
    if (r < 0)
        fail_msg("read: %s", ht_trace_last_error(t)->message);
    assert_int_equal(ht_trace_next(t, &ev), 0); /* the end stays the end */
    assert_null(ht_trace_last_error(t));

    const ht_trace_status *st = ht_trace_get_status(t);
    assert_int_equal(c.events, n);
    assert_int_equal(st->EventsRead, n);
    assert_int_equal(st->ChunksRead, f->w.chunks);
    assert_int_equal(st->EventsLost, f->w.lost);
    assert_int_equal(st->EventsLost, c.lost);
    assert_int_equal(st->FileSize, f->w.bytes);
    assert_int_equal(st->Complete, 1);
    assert_int_equal(st->Truncated, 0);
    assert_int_equal(st->TrailingBytes, 0);
    assert_true(st->CompressedBytes > 0 && st->CompressedBytes < st->RawBytes);
    synth_check_free(&c);
    ht_trace_close(t);
}

static void test_next_returns_every_field(void **state)
{
    fixture *f = *state;
    assert_int_equal(f->w.events, EVENTS);
    assert_true(f->w.chunks >= NPIDS); /* one open chunk per process at least */
    for (unsigned ty = 0; ty < 256; ty++)
        if (ht_event_type_name((uint16_t)ty))
            assert_true(f->w.by_type[ty] > 0); /* every type was written */
    read_and_check(f, SEED, pids, NPIDS, EVENTS);
}

typedef struct delivery {
    synth_check check;
    uint64_t stop_after; /* stop when this many events were delivered */
} delivery;

static int on_event(const ht_event *ev, void *ctx)
{
    delivery *d = ctx;
    if (synth_check_event(&d->check, ev) < 0)
        fail_msg("%s", d->check.error);
    return d->check.events == d->stop_after ? 42 : 0;
}

static void test_process_delivers_and_stops(void **state)
{
    fixture *f = *state;
    ht_trace *t = open_ok(f->path);
    delivery d = {.stop_after = 123457};
    synth_check_init(&d.check, SEED, pids, NPIDS);

    /* The callback's value stops delivery and is returned. */
    assert_int_equal(ht_trace_process(t, on_event, &d), 42);
    assert_int_equal(d.check.events, d.stop_after);
    assert_int_equal(ht_trace_get_status(t)->EventsRead, d.stop_after);

    /* Pulling goes on with the event after the one that stopped it. */
    const ht_event *ev;
    assert_int_equal(ht_trace_next(t, &ev), 1);
    if (synth_check_event(&d.check, ev) < 0)
        fail_msg("%s", d.check.error);

    /* And delivery to the end returns 0 once every event was delivered. */
    d.stop_after = 0;
    assert_int_equal(ht_trace_process(t, on_event, &d), 0);
    assert_int_equal(d.check.events, EVENTS);
    assert_int_equal(ht_trace_get_status(t)->Complete, 1);
    assert_int_equal(ht_trace_process(t, on_event, &d), 0);
    assert_int_equal(d.check.events, EVENTS);
    synth_check_free(&d.check);
    ht_trace_close(t);
}

static void test_header_round_trip(void **state)
{
    fixture *f = *state;
    ht_trace *t = open_ok(f->path);
    const ht_trace_info *in = ht_trace_get_info(t), *want = synth_info();
    assert_int_equal(in->VersionMajor, HT_TRACE_FORMAT_MAJOR);
    assert_int_equal(in->VersionMinor, HT_TRACE_FORMAT_MINOR);
    assert_int_equal(in->Clock.ClockId, want->Clock.ClockId);
    assert_int_equal(in->Clock.ResolutionNs, want->Clock.ResolutionNs);
    assert_true(in->Clock.RealtimeOffsetNs == want->Clock.RealtimeOffsetNs);
    assert_int_equal(in->StartTimeNs, want->StartTimeNs);
    assert_string_equal(in->Host, want->Host);
    assert_string_equal(in->Kernel, want->Kernel);
    assert_string_equal(in->Recorder, want->Recorder);
    assert_string_equal(in->Command, want->Command);
    assert_int_equal(in->Options, want->Options);

    /* The file describes exactly the event types of events.h. */
    size_t builtin_count;
    ht_schema_builtin(&builtin_count);
    assert_int_equal(ht_trace_event_type_count(t), builtin_count);
    for (size_t i = 0; i < builtin_count; i++) {
        uint16_t type = 0;
        const char *name = ht_trace_event_type_name(t, i, &type);
        assert_non_null(name);
        assert_non_null(ht_event_type_name(type));
        assert_string_equal(name, ht_event_type_name(type));
    }
    assert_null(ht_trace_event_type_name(t, builtin_count, NULL));
    ht_trace_close(t);
}

static void test_empty_trace_without_header_strings(void **state)
{
    fixture *f = *state;
    char *path = tf_path(f->dir, "empty.ht");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    ht_trace_info info = {.Clock = {7, 0, 0}, .StartTimeNs = 0};
    char err[256];
    ht_writer *w = ht_writer_create(fd, &info, NULL, err, sizeof err);
    assert_non_null(w);
    assert_int_equal(ht_writer_finish(w), 0);
    ht_writer_destroy(w);
    close(fd);

    ht_trace *t = open_ok(path);
    const ht_trace_info *in = ht_trace_get_info(t);
    assert_string_equal(in->Host, "");
    assert_string_equal(in->Kernel, "");
    assert_string_equal(in->Recorder, "");
    assert_string_equal(in->Command, "");
    assert_int_equal(in->Clock.ClockId, 7);
    const ht_event *ev;
    assert_int_equal(ht_trace_next(t, &ev), 0);
    const ht_trace_status *st = ht_trace_get_status(t);
    assert_int_equal(st->Complete, 1);
    assert_int_equal(st->ChunksRead, 0);
    assert_int_equal(st->EventsRead, 0);
    ht_trace_close(t);
    free(path);
}

/* More processes than the writer keeps chunks open for, and small chunks:
 * chunks are written early and a process's events span many of them. */
static void test_many_processes_small_chunks(void **state)
{
    fixture *f = *state;
    uint32_t many[100];
    for (uint32_t i = 0; i < 100; i++)
        many[i] = 1000 + i * 7;
    fixture small = {.dir = f->dir};
    assert_int_equal(write_trace(&small, "many.ht", SEED + 1, many, 100, 200000, 4096), 0);
    assert_true(small.w.chunks > 100);
    read_and_check(&small, SEED + 1, many, 100, 200000);
    free(small.path);
}

/* The heap events as the recorder hands them over: runs of one process's
 * heap events as records plus their extra fields, every other event on its
 * own after the run before it. */
typedef struct heap_run {
    ht_record recs[64];
    ht_heap_extra extra[64];
    size_t n;
    uint32_t pid;
} heap_run;

static int flush_run(ht_writer *w, heap_run *run)
{
    int r = run->n ? ht_writer_add_heap(w, run->pid, run->recs, run->extra, run->n) : 0;
    run->n = 0;
    return r;
}

static int add_as_record(ht_writer *w, heap_run *run, const ht_event *ev)
{
    const ht_event_header *h = &ev->Header;
    if ((run->n && run->pid != h->ProcessId) || run->n == 64)
        if (flush_run(w, run) < 0)
            return -1;
    ht_record *r = &run->recs[run->n];
    ht_heap_extra *x = &run->extra[run->n];
    *r = (ht_record){.time = h->TimeStamp, .tid = h->ThreadId, .type = h->Type};
    switch (h->Type) {
    case HT_EVENT_HEAP_ALLOC:
        *x = (ht_heap_extra){ev->u.Alloc.HeapHandle, 0, h->StackId, ev->u.Alloc.Source};
        r->u.heap.address = ev->u.Alloc.Address;
        r->u.heap.size = ev->u.Alloc.Size;
        break;
    case HT_EVENT_HEAP_FREE:
        *x = (ht_heap_extra){ev->u.Free.HeapHandle, 0, h->StackId, ev->u.Free.Source};
        r->u.heap.address = ev->u.Free.Address;
        break;
    default:
        *x = (ht_heap_extra){ev->u.Realloc.HeapHandle, ev->u.Realloc.OldSize, h->StackId,
                             ev->u.Realloc.Source};
        r->u.heap.address = ev->u.Realloc.NewAddress;
        r->u.heap.old_address = ev->u.Realloc.OldAddress;
        r->u.heap.size = ev->u.Realloc.NewSize;
        break;
    }
    run->pid = h->ProcessId;
    run->n++;
    return 0;
}

/* A writer of 64 KiB chunks into a new file at path (its descriptor in *fd). */
static ht_writer *small_chunk_writer(const char *path, int compress, int *fd)
{
    *fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(*fd >= 0);
    char err[256];
    ht_writer_options opt = {.ChunkBytes = 65536, .Compress = compress};
    ht_writer *w = ht_writer_create(*fd, synth_info(), &opt, err, sizeof err);
    if (!w)
        fail_msg("ht_writer_create: %s", err);
    return w;
}

/* Write the test's events to path: synthetic events of every type, then a
 * long stretch of heap events alone (so that chunks fill up inside runs),
 * the heap events as runs of records when as_records is set. With
 * HT_WRITER_COMPRESS_IDLE, idle calls come every 5000 events in every other
 * stretch of 50000, and the queue fills up in the others. */
static void write_mixed(const char *path, bool as_records, int compress)
{
    enum { SYNTH = 200000, HEAP_ONLY = 200000 };
    int fd;
    unsigned idle_writes = 0;
    ht_writer *w = small_chunk_writer(path, compress, &fd); /* many chunks end inside a run */
    synth gen;
    synth_init(&gen, SEED + 2, pids, NPIDS);
    heap_run *run = calloc(1, sizeof *run);
    assert_non_null(run);
    ht_event heap_ev;
    for (unsigned i = 0; i < SYNTH + HEAP_ONLY; i++) {
        const ht_event *ev;
        if (i < SYNTH) {
            ev = synth_next(&gen);
        } else {
            /* One process's churn: an ALLOC and a FREE of each block. */
            unsigned k = i - SYNTH;
            memset(&heap_ev, 0, sizeof heap_ev);
            heap_ev.Header = (ht_event_header){.Type = k % 2 ? HT_EVENT_HEAP_FREE : HT_EVENT_HEAP_ALLOC,
                                               .ProcessId = 4242, .ThreadId = 4242 + k % 3,
                                               .TimeStamp = 1000000000ull + 37ull * k};
            uint64_t address = 0x7f0000001000ull + 48ull * (k / 2 % 5000);
            if (k % 2)
                heap_ev.u.Free = (ETW_HEAP_EVENT_FREE){1, address, MEMORY_FROM_LOOKASIDE};
            else
                heap_ev.u.Alloc = (ETW_HEAP_EVENT_ALLOC){1, 16 + k % 200, address, MEMORY_FROM_LOWFRAG};
            ev = &heap_ev;
        }
        uint16_t type = ev->Header.Type;
        if (as_records && (type == HT_EVENT_HEAP_ALLOC || type == HT_EVENT_HEAP_FREE ||
                           type == HT_EVENT_HEAP_REALLOC)) {
            assert_int_equal(add_as_record(w, run, ev), 0);
        } else {
            assert_int_equal(flush_run(w, run), 0);
            assert_int_equal(ht_writer_add(w, ev), 0);
        }
        if (i % 5000 == 0 && i / 50000 % 2 == 0) {
            int wrote = ht_writer_idle(w);
            assert_true(wrote == 0 || (wrote == 1 && compress == HT_WRITER_COMPRESS_IDLE));
            idle_writes += (unsigned)wrote;
        }
    }
    if (compress == HT_WRITER_COMPRESS_IDLE) /* and not only those the full queue forced */
        assert_true(idle_writes > 0);
    assert_int_equal(flush_run(w, run), 0);
    assert_int_equal(ht_writer_finish(w), 0);
    assert_int_equal(ht_writer_idle(w), 0); /* nothing waits after the end */
    ht_writer_destroy(w);
    close(fd);
    free(run);
    synth_free(&gen);
}

/* Write the test's events twice, each way as asked, and require the same
 * bytes. */
static void check_same_file(const fixture *f, bool a_records, int a_compress, bool b_records,
                            int b_compress)
{
    char *a_path = tf_path(f->dir, "a.ht"), *b_path = tf_path(f->dir, "b.ht");
    write_mixed(a_path, a_records, a_compress);
    write_mixed(b_path, b_records, b_compress);
    size_t a_len, b_len;
    unsigned char *a = tf_load(a_path, &a_len), *b = tf_load(b_path, &b_len);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a_len, b_len);
    assert_memory_equal(a, b, a_len);
    free(a);
    free(b);
    free(a_path);
    free(b_path);
}

static void test_heap_runs_write_the_same_file(void **state)
{
    check_same_file(*state, true, HT_WRITER_COMPRESS_THREAD, false, HT_WRITER_COMPRESS_THREAD);
}

/* Chunks compressed in idle calls, or when the queue is full, are the
 * chunks the writer's own thread writes, in the same order. */
static void test_idle_compression_writes_the_same_file(void **state)
{
    check_same_file(*state, true, HT_WRITER_COMPRESS_IDLE, true, HT_WRITER_COMPRESS_THREAD);
}

/* A file that cannot grow (RLIMIT_FSIZE: EFBIG) fails a later call of
 * either kind of writer with that errno, every call after it fails too, and
 * what was written reads as a trace cut after its last complete chunk. */
static void check_failed_write(const fixture *f, int compress)
{
    char *path = tf_path(f->dir, "full.ht");
    int fd;
    ht_writer *w = small_chunk_writer(path, compress, &fd);
    struct rlimit was, limit;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
    limit = was;
    limit.rlim_cur = 256 * 1024;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &limit), 0);
    synth gen;
    synth_init(&gen, SEED + 3, pids, NPIDS);
    int r = 0;
    for (unsigned i = 0; i < 2000000 && r == 0; i++) {
        r = ht_writer_add(w, synth_next(&gen));
        if (r == 0 && i % 1000 == 0)
            r = ht_writer_idle(w) < 0 ? -1 : 0;
    }
    if (r == 0)
        r = ht_writer_finish(w);
    int e = errno;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(r, -1);
    assert_int_equal(e, EFBIG);
    errno = 0;
    assert_int_equal(ht_writer_finish(w), -1);
    assert_int_equal(errno, EFBIG);
    ht_writer_destroy(w);
    close(fd);
    synth_free(&gen);

    ht_trace *t = open_ok(path);
    const ht_event *ev;
    while ((r = ht_trace_next(t, &ev)) == 1)
        ;
    const ht_trace_status *st = ht_trace_get_status(t);
    assert_int_equal(st->Complete, 0);
    assert_int_equal(st->Truncated, 1);
    assert_true(st->ChunksRead > 0 && st->FileSize <= limit.rlim_cur);
    ht_trace_close(t);
    free(path);
}

static void test_failed_write_with_thread(void **state)
{
    check_failed_write(*state, HT_WRITER_COMPRESS_THREAD);
}

static void test_failed_write_with_idle_calls(void **state)
{
    check_failed_write(*state, HT_WRITER_COMPRESS_IDLE);
}

/* A run that holds a record of another type is refused with EINVAL. */
static void test_heap_run_of_another_type_is_refused(void **state)
{
    fixture *f = *state;
    char *path = tf_path(f->dir, "refused.ht");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    char err[256];
    ht_writer *w = ht_writer_create(fd, synth_info(), NULL, err, sizeof err);
    assert_non_null(w);
    ht_record recs[2] = {{.type = HT_EVENT_HEAP_ALLOC, .u.heap = {0x1000, 0, 16}},
                         {.type = HT_EVENT_PROCESS_EXIT}};
    ht_heap_extra extra[2] = {{.heap = 1}, {.heap = 1}};
    errno = 0;
    assert_int_equal(ht_writer_add_heap(w, 7, recs, extra, 2), -1);
    assert_int_equal(errno, EINVAL);
    ht_writer_destroy(w);
    close(fd);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_returns_every_field),
        cmocka_unit_test(test_process_delivers_and_stops),
        cmocka_unit_test(test_header_round_trip),
        cmocka_unit_test(test_empty_trace_without_header_strings),
        cmocka_unit_test(test_many_processes_small_chunks),
        cmocka_unit_test(test_heap_runs_write_the_same_file),
        cmocka_unit_test(test_idle_compression_writes_the_same_file),
        cmocka_unit_test(test_failed_write_with_thread),
        cmocka_unit_test(test_failed_write_with_idle_calls),
        cmocka_unit_test(test_heap_run_of_another_type_is_refused),
    };
    return cmocka_run_group_tests(tests, setup_big, teardown);
}
