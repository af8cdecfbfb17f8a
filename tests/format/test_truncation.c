/* Truncation: a file cut anywhere (the writer was killed, the disk filled)
 * reads up to its last complete chunk, says so in the status, and never
 * reports an error; a file cut before its trace header is complete does not
 * open. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "heaptrail/trace.h"
#include "synth.h"
#include "tracefile.h"

static const uint32_t pids[] = {5, 6, 7};
#define NPIDS (sizeof pids / sizeof pids[0])
#define MAX_CHUNKS 4096

typedef struct fixture {
    char *dir;
    char *cut_path;
    unsigned char *file;
    size_t len;
    uint64_t seed;
    tf_chunk chunks[MAX_CHUNKS];
    size_t nchunks;
    uint64_t trailer;
} fixture;

static void make_file(fixture *f, uint64_t seed, uint64_t events, uint32_t chunk_bytes)
{
    char *path = tf_path(f->dir, "whole.ht");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    synth_written w;
    assert_int_equal(synth_write(fd, seed, pids, NPIDS, events, chunk_bytes, &w), 0);
    close(fd);
    free(f->file);
    f->file = tf_load(path, &f->len);
    assert_non_null(f->file);
    f->seed = seed;
    f->nchunks = tf_chunks(f->file, f->len, f->chunks, MAX_CHUNKS, &f->trailer);
    assert_int_equal(f->nchunks, w.chunks + 2); /* the events chunks, the header and the index */
    assert_int_equal(f->trailer + HT_TRAILER_SIZE, f->len);
    free(path);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = tf_tmpdir();
    f->cut_path = tf_path(f->dir, "cut.ht");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tf_rmtree(f->dir);
    free(f->dir);
    free(f->cut_path);
    free(f->file);
    free(f);
    return 0;
}

/* Check the reading of the first cut bytes of the file. */
static void check_cut(fixture *f, size_t cut)
{
    assert_int_equal(tf_save(f->cut_path, f->file, cut), 0);
    ht_trace_error err;
    ht_trace *t = ht_trace_open(f->cut_path, &err);

    if (cut < f->chunks[0].end) {
        /* The trace header is incomplete: nothing can be read. */
        if (t)
            fail_msg("cut at %zu inside the trace header: opened", cut);
        assert_non_null(strstr(err.message, f->cut_path));
        if (cut < 8) {
            assert_int_equal(err.code, HT_TRACE_ERR_NOT_TRACE); /* not even the magic */
        } else {
            if (err.code != HT_TRACE_ERR_CORRUPT)
                fail_msg("cut at %zu: code %d: %s", cut, err.code, err.message);
            assert_non_null(strstr(err.message, "offset"));
        }
        return;
    }
    if (!t)
        fail_msg("cut at %zu: %s", cut, err.message);

    /* What the complete chunks before the cut hold. */
    uint64_t events = 0, chunks = 0, last_end = f->chunks[0].end;
    for (size_t i = 0; i < f->nchunks && f->chunks[i].end <= cut; i++) {
        last_end = f->chunks[i].end;
        if (f->chunks[i].h.kind == HT_CHUNK_EVENTS) {
            events += f->chunks[i].h.event_count;
            chunks++;
        }
    }

    synth_check c;
    synth_check_init(&c, f->seed, pids, NPIDS);
    const ht_event *ev;
    int r;
    while ((r = ht_trace_next(t, &ev)) == 1)
        if (synth_check_event(&c, ev) < 0)
            fail_msg("cut at %zu: %s", cut, c.error);
    if (r != 0)
        fail_msg("cut at %zu: %s", cut, ht_trace_last_error(t)->message);
    const ht_trace_status *st = ht_trace_get_status(t);
    if (c.events != events || st->EventsRead != events || st->ChunksRead != chunks)
        fail_msg("cut at %zu: %llu events in %llu chunks, expected %llu in %llu", cut,
                 (unsigned long long)c.events, (unsigned long long)st->ChunksRead,
                 (unsigned long long)events, (unsigned long long)chunks);
    assert_int_equal(st->FileSize, cut);
    if (cut == f->len) {
        assert_int_equal(st->Complete, 1);
        assert_int_equal(st->Truncated, 0);
    } else {
        if (st->Complete || !st->Truncated || st->TruncatedAt != last_end)
            fail_msg("cut at %zu: complete %d, truncated %d at %llu; expected truncated at %llu",
                     cut, st->Complete, st->Truncated, (unsigned long long)st->TruncatedAt,
                     (unsigned long long)last_end);
        assert_int_equal(st->TrailingBytes, cut - last_end);
    }
    synth_check_free(&c);
    ht_trace_close(t);
}

/* A small file with chunks of a few hundred bytes, cut at every offset: inside
 * the file header, every chunk header and body, at every chunk boundary and
 * inside the trailer. */
static void test_every_offset_of_a_small_file(void **state)
{
    fixture *f = *state;
    make_file(f, 11, 90, 200);
    assert_true(f->nchunks > 10);
    assert_true(f->len < 32768);
    for (size_t cut = 0; cut <= f->len; cut++)
        check_cut(f, cut);
}

/* A larger file with compressed chunks, cut at the places that matter. */
static void test_chosen_offsets_of_a_larger_file(void **state)
{
    fixture *f = *state;
    make_file(f, 12, 6000, 8192);
    size_t compressed = 0;
    for (size_t i = 0; i < f->nchunks; i++) {
        const tf_chunk *c = &f->chunks[i];
        compressed += c->h.compression == HT_COMPRESS_ZSTD;
        size_t at[] = {c->offset,       c->offset + 1,   c->offset + 8,
                       c->offset + 63,  c->offset + 64,  c->offset + 65,
                       (c->offset + c->end) / 2,         c->end - 1};
        for (size_t k = 0; k < sizeof at / sizeof at[0]; k++)
            if (at[k] <= c->end)
                check_cut(f, at[k]);
    }
    assert_true(compressed > 2);
    for (size_t cut = f->trailer; cut <= f->len; cut++)
        check_cut(f, cut);
    for (size_t cut = 0; cut <= HT_FILE_HEADER_SIZE + 1; cut++)
        check_cut(f, cut);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_offset_of_a_small_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chosen_offsets_of_a_larger_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
