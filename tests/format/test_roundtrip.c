/* Round trip: millions of synthetic events of every type, with extreme values
 * in every field, written through ht_writer and read back field by field. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "format/schema.h"
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_returns_every_field),
        cmocka_unit_test(test_process_delivers_and_stops),
        cmocka_unit_test(test_header_round_trip),
        cmocka_unit_test(test_empty_trace_without_header_strings),
        cmocka_unit_test(test_many_processes_small_chunks),
    };
    return cmocka_run_group_tests(tests, setup_big, teardown);
}
