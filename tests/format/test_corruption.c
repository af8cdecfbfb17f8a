/* Corruption: damaged chunk headers and bodies, lying lengths and counts,
 * wrong versions and files that are not traces. Every damaged file gives an
 * error that names the file and the offset (or fails to open with one), never
 * a crash, a hang, a wrong event, or an allocation sized by the damage. */
#include <fcntl.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "heaptrail/trace.h"
#include "synth.h"
#include "tracefile.h"

static const uint32_t pids[] = {31, 32};
#define NPIDS (sizeof pids / sizeof pids[0])
#define SEED 21
#define EVENTS 400
#define MAX_CHUNKS 256

typedef struct fixture {
    char *dir;
    char *path;         /* where each damaged copy is written */
    unsigned char *file; /* the good file */
    size_t len;
    tf_chunk chunks[MAX_CHUNKS];
    size_t nchunks;
    unsigned char *copy;
} fixture;

static void load_good(fixture *f, bool uncompressed)
{
    char *path = tf_path(f->dir, "good.ht");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    synth_written w;
    assert_int_equal(synth_write(fd, SEED, pids, NPIDS, EVENTS, 1024, &w), 0);
    close(fd);
    size_t len;
    unsigned char *file = tf_load(path, &len);
    assert_non_null(file);
    free(f->file);
    f->file = uncompressed ? tf_uncompress(file, len, &len) : file;
    if (uncompressed)
        free(file);
    assert_non_null(f->file);
    f->len = len;
    uint64_t trailer;
    f->nchunks = tf_chunks(f->file, f->len, f->chunks, MAX_CHUNKS, &trailer);
    assert_int_equal(f->nchunks, w.chunks + 2);
    free(f->copy);
    f->copy = malloc(f->len);
    free(path);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = tf_tmpdir();
    f->path = tf_path(f->dir, "damaged.ht");
    load_good(f, false);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tf_rmtree(f->dir);
    free(f->dir);
    free(f->path);
    free(f->file);
    free(f->copy);
    free(f);
    return 0;
}

/* A fresh copy of the good file to damage, with its chunk list. */
static unsigned char *fresh(fixture *f, tf_chunk *chunks)
{
    memcpy(f->copy, f->file, f->len);
    memcpy(chunks, f->chunks, f->nchunks * sizeof *chunks);
    return f->copy;
}

/* Read the damaged copy to its end: it must fail to open, or fail while
 * reading, with a CORRUPT error naming the file and the offset; every event
 * delivered before must be right. */
static void expect_corrupt(fixture *f, const char *what, size_t arg)
{
    assert_int_equal(tf_save(f->path, f->copy, f->len), 0);
    ht_trace_error err;
    const ht_trace_error *e = &err;
    ht_trace *t = ht_trace_open(f->path, &err);
    if (t) {
        synth_check c;
        synth_check_init(&c, SEED, pids, NPIDS);
        const ht_event *ev;
        int r;
        while ((r = ht_trace_next(t, &ev)) == 1)
            if (synth_check_event(&c, ev) < 0)
                fail_msg("%s %zu: a wrong event was delivered: %s", what, arg, c.error);
        synth_check_free(&c);
        if (r != -1)
            fail_msg("%s %zu: read %llu events and ended without an error", what, arg,
                     (unsigned long long)ht_trace_get_status(t)->EventsRead);
        e = ht_trace_last_error(t);
        assert_non_null(e);
    }
    if (e->code != HT_TRACE_ERR_CORRUPT || !strstr(e->message, f->path) ||
        !strstr(e->message, "offset"))
        fail_msg("%s %zu: code %d, message \"%s\"", what, arg, e->code, e->message);
    ht_trace_close(t);
}

static void test_flipped_header_bytes(void **state)
{
    fixture *f = *state;
    tf_chunk c[MAX_CHUNKS];
    for (size_t i = 0; i < f->nchunks; i++)
        for (size_t b = 0; b < HT_CHUNK_HEADER_SIZE; b++) {
            unsigned char *file = fresh(f, c);
            file[c[i].offset + b] ^= (unsigned char)(1u << (b % 8));
            expect_corrupt(f, "header byte", (size_t)c[i].offset + b);
        }
}

static void test_flipped_body_bytes(void **state)
{
    fixture *f = *state;
    tf_chunk c[MAX_CHUNKS];
    for (size_t i = 0; i < f->nchunks; i++) {
        uint64_t body = c[i].offset + HT_CHUNK_HEADER_SIZE;
        (void)fresh(f, c);
        for (uint64_t at = body; at < c[i].end; at += (at + 1 == c[i].end || at < body + 16) ? 1 : 13) {
            unsigned char *file = fresh(f, c);
            file[at] ^= 0xFF;
            expect_corrupt(f, "body byte", (size_t)at);
        }
    }
}

typedef void (*header_edit)(ht_chunk_header *h);

static void body_huge(ht_chunk_header *h) { h->body_size = UINT32_MAX; }
static void body_over_bound(ht_chunk_header *h) { h->body_size = HT_CHUNK_MAX_BODY + 1; }
static void raw_over_bound(ht_chunk_header *h) { h->raw_size = HT_CHUNK_MAX_RAW + 1; }
static void body_shorter(ht_chunk_header *h) { h->body_size -= 1; }
static void body_longer(ht_chunk_header *h) { h->body_size += 1; }
static void body_empty(ht_chunk_header *h) { h->body_size = 0; }
static void raw_smaller(ht_chunk_header *h) { h->raw_size -= 1; }
static void raw_larger(ht_chunk_header *h) { h->raw_size += 1; }
static void compression_unknown(ht_chunk_header *h) { h->compression = 2; }
static void compression_swapped(ht_chunk_header *h) { h->compression ^= 1; }
static void count_huge(ht_chunk_header *h) { h->event_count = UINT32_MAX; }
static void count_more(ht_chunk_header *h) { h->event_count += 1; }
static void count_fewer(ht_chunk_header *h) { h->event_count -= 1; }
static void count_none(ht_chunk_header *h) { h->event_count = 0; }

/* Lying headers whose own checksum is right: the checks behind the checksum. */
static void lying_headers(fixture *f)
{
    static const header_edit any_chunk[] = {body_huge,   body_over_bound,     raw_over_bound,
                                            body_shorter, body_longer,        body_empty,
                                            raw_smaller,  raw_larger,         compression_unknown,
                                            compression_swapped};
    static const header_edit event_chunks[] = {count_huge, count_more, count_fewer, count_none};
    tf_chunk c[MAX_CHUNKS];
    for (size_t i = 0; i < f->nchunks; i++) {
        size_t n = sizeof any_chunk / sizeof any_chunk[0];
        size_t m = f->chunks[i].h.kind == HT_CHUNK_EVENTS ? sizeof event_chunks / sizeof event_chunks[0] : 0;
        for (size_t k = 0; k < n + m; k++) {
            unsigned char *file = fresh(f, c);
            ht_chunk_header h = c[i].h;
            (k < n ? any_chunk[k] : event_chunks[k - n])(&h);
            tf_repack_header(file, &c[i], &h);
            expect_corrupt(f, "lying header of chunk", i * 100 + k);
        }
    }
}

static void test_lying_headers(void **state)
{
    fixture *f = *state;
    lying_headers(f);
    load_good(f, true); /* and once more with stored (uncompressed) bodies */
    lying_headers(f);
}

/* The raw body of an uncompressed events chunk: its streams. */
typedef struct streams {
    size_t table_len;
    uint64_t len[7];
    uint64_t at[7]; /* file offsets */
} streams;

static streams stream_layout(const unsigned char *file, const tf_chunk *c)
{
    streams s = {0};
    ht_cursor cur = ht_cursor_make(file + c->offset + HT_CHUNK_HEADER_SIZE, c->h.body_size);
    assert_int_equal(ht_get_u8(&cur), 7);
    for (int k = 0; k < 7; k++)
        s.len[k] = ht_get_varint(&cur);
    assert_true(cur.ok);
    s.table_len = (size_t)(cur.p - (file + c->offset + HT_CHUNK_HEADER_SIZE));
    uint64_t at = c->offset + HT_CHUNK_HEADER_SIZE + s.table_len;
    for (int k = 0; k < 7; k++) {
        s.at[k] = at;
        at += s.len[k];
    }
    return s;
}

enum { TAG, TIME, THREAD, SIZE, ADDRESS, STACK, MISC };

/* Bodies with the right checksum over wrong content: the decoder's checks. */
static void test_lying_bodies(void **state)
{
    fixture *f = *state;
    load_good(f, true);
    tf_chunk c[MAX_CHUNKS];
    for (size_t i = 0; i < f->nchunks; i++) {
        if (f->chunks[i].h.kind != HT_CHUNK_EVENTS)
            continue;
        unsigned char *file = fresh(f, c);
        streams s = stream_layout(file, &c[i]);
        uint64_t body = c[i].offset + HT_CHUNK_HEADER_SIZE;

        file[body] = 6; /* stream count */
        tf_fix_body_crc(file, &c[i]);
        expect_corrupt(f, "stream count in chunk", i);

        file = fresh(f, c);
        file[body + 1] ^= 0x01; /* first stream length: the lengths no longer add up */
        tf_fix_body_crc(file, &c[i]);
        expect_corrupt(f, "stream length in chunk", i);

        file = fresh(f, c);
        file[s.at[TAG]] = 0xFF; /* a tag beyond the descriptor table */
        tf_fix_body_crc(file, &c[i]);
        expect_corrupt(f, "tag in chunk", i);

        /* Streams of bytes that never end a varint, or of MRU indexes past the
         * end of the MRU: nothing decodes, nothing is left unread. */
        static const struct {
            int stream;
            unsigned char fill;
        } fills[] = {{TIME, 0xFF}, {THREAD, 0xFF}, {THREAD, 9}, {ADDRESS, 0xFF}, {MISC, 0xFF}, {SIZE, 0xFF}};
        for (size_t k = 0; k < sizeof fills / sizeof fills[0]; k++) {
            if (s.len[fills[k].stream] == 0)
                continue;
            file = fresh(f, c);
            memset(file + s.at[fills[k].stream], fills[k].fill, s.len[fills[k].stream]);
            tf_fix_body_crc(file, &c[i]);
            expect_corrupt(f, "stream filled in chunk", i * 100 + k);
        }
    }
}

/* The trace header's records, found in the uncompressed meta body. */
static uint64_t find_record(const unsigned char *file, const tf_chunk *meta, uint16_t key,
                            uint32_t *len)
{
    uint64_t at = meta->offset + HT_CHUNK_HEADER_SIZE;
    while (at + 6 <= meta->end) {
        uint32_t n = ht_load_u32(file + at + 2);
        if (ht_load_u16(file + at) == key) {
            *len = n;
            return at;
        }
        at += 6 + n;
    }
    *len = 0; /* fail_msg does not return, which the compiler cannot tell */
    fail_msg("meta record %u not found", key);
    return 0;
}

static void test_lying_trace_header(void **state)
{
    fixture *f = *state;
    tf_chunk c[MAX_CHUNKS];
    uint32_t len;
    assert_int_equal(f->chunks[0].h.compression, HT_COMPRESS_NONE);

    unsigned char *file = fresh(f, c);
    uint64_t at = find_record(file, &c[0], HT_META_DESCRIPTORS, &len);
    ht_store_u16(file + at + 6, 300); /* more descriptors than types exist */
    tf_fix_body_crc(file, &c[0]);
    expect_corrupt(f, "descriptor count", 300);

    /* The first descriptor's first field: u16 type, u8 version, u8 flags,
     * name, u8 field count, then the field's name, type and codec. */
    file = fresh(f, c);
    at = find_record(file, &c[0], HT_META_DESCRIPTORS, &len) + 6 + 2 + 4;
    at += 1 + file[at] + 1;
    at += 1 + file[at];
    file[at] = 99;
    tf_fix_body_crc(file, &c[0]);
    expect_corrupt(f, "field type", 99);

    file = fresh(f, c);
    at = find_record(file, &c[0], HT_META_DESCRIPTORS, &len);
    ht_store_u16(file + at, 999); /* a key nobody knows: the descriptors are gone */
    tf_fix_body_crc(file, &c[0]);
    expect_corrupt(f, "descriptors removed", 0);

    file = fresh(f, c);
    at = find_record(file, &c[0], HT_META_CLOCK, &len);
    ht_store_u32(file + at + 2, UINT32_MAX); /* a record longer than the chunk */
    tf_fix_body_crc(file, &c[0]);
    expect_corrupt(f, "record length", UINT32_MAX);

    /* A clock record cut short, an empty record of an unknown key filling the
     * rest, so that the records after it are still in step. */
    file = fresh(f, c);
    at = find_record(file, &c[0], HT_META_CLOCK, &len);
    assert_int_equal(len, 16);
    ht_store_u32(file + at + 2, len - 6);
    ht_store_u16(file + at + len, 0x7FFF);
    ht_store_u32(file + at + len + 2, 0);
    tf_fix_body_crc(file, &c[0]);
    expect_corrupt(f, "short clock record", 0);
}

/* Random bytes of random event chunks changed, checksums made right again:
 * whatever the decoder makes of them, it ends (with or without an error), and
 * an error names the file and the offset. */
static void test_random_damage_behind_checksums(void **state)
{
    fixture *f = *state;
    load_good(f, true);
    tf_chunk c[MAX_CHUNKS];
    uint64_t rng = 0x1234567;
    unsigned errors = 0;
    for (int round = 0; round < 1000; round++) {
        unsigned char *file = fresh(f, c);
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        size_t i = 1 + (size_t)(rng >> 33) % (f->nchunks - 2);
        uint64_t body = c[i].offset + HT_CHUNK_HEADER_SIZE;
        for (int k = 0; k <= round % 4; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            file[body + (rng >> 33) % c[i].h.body_size] = (unsigned char)(rng >> 20);
        }
        tf_fix_body_crc(file, &c[i]);
        assert_int_equal(tf_save(f->path, file, f->len), 0);
        ht_trace *t = ht_trace_open(f->path, NULL);
        assert_non_null(t);
        const ht_event *ev;
        int r;
        uint64_t n = 0;
        while ((r = ht_trace_next(t, &ev)) == 1)
            n++;
        assert_true(n <= EVENTS + 16);
        if (r < 0) {
            errors++;
            const ht_trace_error *e = ht_trace_last_error(t);
            assert_int_equal(e->code, HT_TRACE_ERR_CORRUPT);
            assert_non_null(strstr(e->message, f->path));
            assert_non_null(strstr(e->message, "offset"));
        }
        ht_trace_close(t);
    }
    assert_true(errors > 300); /* much of the damage is caught, not decoded as other values */
}

/* A header whose body runs past the end of the file reads as a cut file, and
 * what it promises is not allocated. */
static void test_body_past_the_end(void **state)
{
    fixture *f = *state;
    tf_chunk c[MAX_CHUNKS];
    unsigned char *file = fresh(f, c);
    size_t last = f->nchunks - 2; /* the last events chunk, before the index */
    ht_chunk_header h = c[last].h;
    h.body_size = HT_CHUNK_MAX_BODY;
    h.raw_size = HT_CHUNK_MAX_RAW;
    tf_repack_header(file, &c[last], &h);
    assert_int_equal(tf_save(f->path, file, f->len), 0);
    ht_trace *t = ht_trace_open(f->path, NULL);
    assert_non_null(t);
    const ht_event *ev;
    while (ht_trace_next(t, &ev) == 1)
        ;
    const ht_trace_status *st = ht_trace_get_status(t);
    assert_null(ht_trace_last_error(t));
    assert_int_equal(st->Truncated, 1);
    assert_int_equal(st->TruncatedAt, c[last].offset);
    /* glibc's count of mapped blocks still held (0 under a sanitizer's allocator). */
    assert_true(mallinfo2().hblkhd < (size_t)HT_CHUNK_MAX_BODY / 4);
    ht_trace_close(t);
}

static void expect_open_error(fixture *f, const char *path, int code)
{
    ht_trace_error err;
    ht_trace *t = ht_trace_open(path, &err);
    if (t)
        fail_msg("%s opened", path);
    if (err.code != code || !strstr(err.message, path))
        fail_msg("%s: code %d (expected %d): %s", path, err.code, code, err.message);
}

static void test_versions(void **state)
{
    fixture *f = *state;
    tf_chunk c[MAX_CHUNKS];
    static const uint16_t majors[] = {0, HT_TRACE_FORMAT_MAJOR + 1, 0xFFFF};
    for (size_t k = 0; k < sizeof majors / sizeof majors[0]; k++) {
        unsigned char *file = fresh(f, c);
        ht_store_u16(file + 8, majors[k]);
        assert_int_equal(tf_save(f->path, file, f->len), 0);
        expect_open_error(f, f->path, HT_TRACE_ERR_VERSION);
    }

    /* A newer minor version of the same major is read. */
    unsigned char *file = fresh(f, c);
    ht_store_u16(file + 10, HT_TRACE_FORMAT_MINOR + 9);
    assert_int_equal(tf_save(f->path, file, f->len), 0);
    ht_trace *t = ht_trace_open(f->path, NULL);
    assert_non_null(t);
    assert_int_equal(ht_trace_get_info(t)->VersionMinor, HT_TRACE_FORMAT_MINOR + 9);
    const ht_event *ev;
    while (ht_trace_next(t, &ev) == 1)
        ;
    assert_int_equal(ht_trace_get_status(t)->EventsRead, EVENTS);
    assert_int_equal(ht_trace_get_status(t)->Complete, 1);
    ht_trace_close(t);
}

static void test_files_that_are_not_traces(void **state)
{
    fixture *f = *state;
    char *text = tf_path(f->dir, "notes.txt");
    const char words[] = "these are not the bytes you are looking for\n";
    assert_int_equal(tf_save(text, words, sizeof words - 1), 0);
    expect_open_error(f, text, HT_TRACE_ERR_NOT_TRACE);

    char *empty = tf_path(f->dir, "empty");
    assert_int_equal(tf_save(empty, "", 0), 0);
    expect_open_error(f, empty, HT_TRACE_ERR_NOT_TRACE);

    char *tiny = tf_path(f->dir, "tiny");
    assert_int_equal(tf_save(tiny, "HEA", 3), 0);
    expect_open_error(f, tiny, HT_TRACE_ERR_NOT_TRACE);

    /* The magic, then garbage where the trace header should be. */
    char *garbage = tf_path(f->dir, "garbage");
    unsigned char g[200];
    for (size_t i = 0; i < sizeof g; i++)
        g[i] = (unsigned char)(i * 37 + 11);
    memcpy(g, HT_FILE_MAGIC, 8);
    ht_store_u16(g + 8, HT_TRACE_FORMAT_MAJOR);
    assert_int_equal(tf_save(garbage, g, sizeof g), 0);
    expect_open_error(f, garbage, HT_TRACE_ERR_CORRUPT);

    char *missing = tf_path(f->dir, "no-such-file.ht");
    expect_open_error(f, missing, HT_TRACE_ERR_IO);

    char *dir = tf_path(f->dir, "a-directory");
    assert_int_equal(mkdir(dir, 0755), 0);
    expect_open_error(f, dir, HT_TRACE_ERR_IO);

    free(text);
    free(empty);
    free(tiny);
    free(garbage);
    free(missing);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flipped_header_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_body_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lying_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lying_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lying_trace_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_damage_behind_checksums, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_past_the_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_that_are_not_traces, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
