/* The encoder writes the built-in heap events through a fast path; a trace
 * must not depend on it. Encode the same heap-like event stream once with
 * the built-in descriptors (fast path), once with copies of them (which
 * the generic field loop handles) and once as compact records (the
 * recorder's way in): every stream must come out byte for byte the same,
 * and decode back to the same events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "format/codec.h"
#include "format/records.h"
#include "format/schema.h"

#define EVENTS 200000

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Allocation-like traffic: addresses reused soon after they are freed (the
 * recent-address model's hits), far jumps (its table and delta cases), a few
 * threads and heaps. */
static void make_event(ht_event *ev, uint64_t *live, size_t nlive, uint64_t ts)
{
    memset(ev, 0, sizeof *ev);
    ev->Header.TimeStamp = ts;
    ev->Header.ThreadId = 100 + (uint32_t)(next() % 3);
    ev->Header.StackId = (uint32_t)(next() % 5);
    size_t k = next() % nlive;
    uint64_t heap = next() % 4 ? 1 : 0x7f0000000000ull + (next() % 3) * 0x4000000;
    switch (next() % 4) {
    case 0:
        ev->Header.Type = HT_EVENT_HEAP_FREE;
        ev->u.Free = (ETW_HEAP_EVENT_FREE){heap, live[k], MEMORY_FROM_MAINPATH};
        break;
    case 1: {
        uint64_t moved = next() % 2 ? live[k] : live[k] + 16 * (next() % 64);
        ev->Header.Type = HT_EVENT_HEAP_REALLOC;
        ev->u.Realloc = (ETW_HEAP_EVENT_REALLOC){heap, moved, live[k], next() % 5000,
                                                 next() % 5000, MEMORY_FROM_SLOWPATH};
        live[k] = moved;
        break;
    }
    default:
        ev->Header.Type = HT_EVENT_HEAP_ALLOC;
        live[k] = next() % 8 ? live[(k + 1) % nlive] + 48 : 0x555555550000ull + 16 * (next() % 100000);
        ev->u.Alloc = (ETW_HEAP_EVENT_ALLOC){heap, next() % 300, live[k], MEMORY_FROM_MAINPATH};
        break;
    }
}

static void test_fast_path_matches_generic(void **state)
{
    (void)state;
    size_t count;
    const ht_event_desc *builtin = ht_schema_builtin(&count);
    ht_event_desc *copies = malloc(count * sizeof *copies);
    assert_non_null(copies);
    memcpy(copies, builtin, count * sizeof *copies);

    ht_chunk_encoder *fast = malloc(sizeof *fast), *generic = malloc(sizeof *generic),
                     *records = malloc(sizeof *records);
    assert_non_null(fast);
    assert_non_null(generic);
    assert_non_null(records);
    ht_encoder_init(fast);
    ht_encoder_init(generic);
    ht_encoder_init(records);
    uint64_t live[64];
    for (size_t i = 0; i < 64; i++)
        live[i] = 0x555555560000ull + 32 * i;
    ht_event *events = malloc(EVENTS * sizeof *events);
    ht_record *recs = malloc(EVENTS * sizeof *recs);
    ht_heap_extra *extras = calloc(EVENTS, sizeof *extras);
    assert_non_null(events);
    assert_non_null(recs);
    assert_non_null(extras);
    int16_t tag_of[256];
    for (int t = 0; t < 256; t++)
        tag_of[t] = (int16_t)ht_schema_builtin_tag((uint16_t)t);
    for (size_t i = 0; i < EVENTS; i++) {
        make_event(&events[i], live, 64, 1000 + 37 * i);
        int tag = ht_schema_builtin_tag(events[i].Header.Type);
        assert_true(ht_encoder_add(fast, (uint8_t)tag, &builtin[tag], &events[i]));
        assert_true(ht_encoder_add(generic, (uint8_t)tag, &copies[tag], &events[i]));
        ht_record *r = &recs[i];
        ht_record_from_event(&events[i], r);
        const ht_event *e = &events[i];
        ht_heap_extra *x = &extras[i];
        x->stack = e->Header.StackId;
        switch (e->Header.Type) {
        case HT_EVENT_HEAP_ALLOC: x->heap = e->u.Alloc.HeapHandle; x->source = e->u.Alloc.Source; break;
        case HT_EVENT_HEAP_FREE: x->heap = e->u.Free.HeapHandle; x->source = e->u.Free.Source; break;
        default:
            x->heap = e->u.Realloc.HeapHandle;
            x->source = e->u.Realloc.Source;
            x->old_size = e->u.Realloc.OldSize;
            break;
        }
    }
    /* The records in runs of several lengths, across the room made for
     * heap events (64 at a time): each call adds at least one. */
    static const size_t runs[] = {1, 5, 64, 200, 3};
    for (size_t i = 0, k = 0; i < EVENTS; k++) {
        size_t want = runs[k % 5] < EVENTS - i ? runs[k % 5] : EVENTS - i;
        size_t added = ht_encoder_add_heap_run(records, tag_of, builtin, recs + i, extras + i, want);
        assert_true(added >= 1 && added <= want);
        i += added;
    }
    assert_int_equal(records->count, EVENTS);
    assert_int_equal(records->ts_first, generic->ts_first);
    assert_int_equal(records->ts_last, generic->ts_last);
    for (int s = 0; s < HT_STREAM_COUNT; s++) {
        assert_int_equal(fast->streams[s].len, generic->streams[s].len);
        assert_memory_equal(fast->streams[s].data, generic->streams[s].data, fast->streams[s].len);
        assert_int_equal(records->streams[s].len, generic->streams[s].len);
        assert_memory_equal(records->streams[s].data, generic->streams[s].data,
                            records->streams[s].len);
    }

    ht_buf raw = {0};
    assert_true(ht_encoder_finish(fast, &raw));
    ht_chunk_decoder *dec = malloc(sizeof *dec);
    assert_non_null(dec);
    char why[200];
    assert_true(ht_decoder_start(dec, raw.data, raw.len, 7, builtin, count, why, sizeof why));
    ht_event *got = malloc(sizeof *got);
    assert_non_null(got);
    for (size_t i = 0; i < EVENTS; i++) {
        assert_true(ht_decoder_next(dec, got, why, sizeof why));
        assert_int_equal(got->Header.Type, events[i].Header.Type);
        assert_int_equal(got->Header.TimeStamp, events[i].Header.TimeStamp);
        assert_int_equal(got->Header.ThreadId, events[i].Header.ThreadId);
        assert_int_equal(got->Header.StackId, events[i].Header.StackId);
        assert_memory_equal(&got->u, &events[i].u, sizeof got->u.Realloc);
    }
    assert_true(ht_decoder_done(dec));

    free(got);
    free(dec);
    ht_buf_free(&raw);
    free(events);
    free(recs);
    free(extras);
    ht_encoder_free(fast);
    ht_encoder_free(generic);
    ht_encoder_free(records);
    free(fast);
    free(generic);
    free(records);
    free(copies);
}

/* An address among the last 16 remembered costs one byte in the address
 * stream, however the encoder finds it: blocks freed and allocated again
 * at once, and frees of the blocks allocated just before, as a program's
 * small-object churn does. The stream decodes back to the same addresses. */
static void test_recent_addresses_take_one_byte(void **state)
{
    (void)state;
    size_t count;
    const ht_event_desc *builtin = ht_schema_builtin(&count);
    ht_chunk_encoder *enc = malloc(sizeof *enc);
    assert_non_null(enc);
    ht_encoder_init(enc);
    enum { BLOCKS = 8, ROUNDS = 5000 };
    uint64_t block[BLOCKS];
    ht_event ev;
    for (int k = 0; k < BLOCKS; k++) {
        block[k] = 0x555555560000ull + 48 * (uint64_t)k;
        memset(&ev, 0, sizeof ev);
        ev.Header.Type = HT_EVENT_HEAP_ALLOC;
        ev.u.Alloc = (ETW_HEAP_EVENT_ALLOC){1, 32, block[k], MEMORY_FROM_MAINPATH};
        int tag = ht_schema_builtin_tag(ev.Header.Type);
        assert_true(ht_encoder_add(enc, (uint8_t)tag, &builtin[tag], &ev));
    }
    /* Each block comes back every BLOCKS rounds, 2 * BLOCKS - 2 addresses
     * after it was last remembered; after the first BLOCKS rounds (some
     * blocks' first use comes later than that) every address is recent. */
    size_t before = 0;
    for (int i = 0; i < ROUNDS; i++) {
        if (i == BLOCKS)
            before = enc->streams[HT_STREAM_ADDRESS].len;
        uint64_t a = block[(i * 5) % BLOCKS];
        for (int kind = 0; kind < 2; kind++) {
            memset(&ev, 0, sizeof ev);
            ev.Header.TimeStamp = (uint64_t)(2 * i + kind);
            if (kind == 0) {
                ev.Header.Type = HT_EVENT_HEAP_FREE;
                ev.u.Free = (ETW_HEAP_EVENT_FREE){1, a, MEMORY_FROM_MAINPATH};
            } else {
                ev.Header.Type = HT_EVENT_HEAP_ALLOC;
                ev.u.Alloc = (ETW_HEAP_EVENT_ALLOC){1, 32, a, MEMORY_FROM_MAINPATH};
            }
            int tag = ht_schema_builtin_tag(ev.Header.Type);
            assert_true(ht_encoder_add(enc, (uint8_t)tag, &builtin[tag], &ev));
        }
    }
    assert_int_equal(enc->streams[HT_STREAM_ADDRESS].len - before, 2 * (ROUNDS - BLOCKS));

    ht_buf raw = {0};
    assert_true(ht_encoder_finish(enc, &raw));
    ht_chunk_decoder *dec = malloc(sizeof *dec);
    assert_non_null(dec);
    char why[128];
    assert_true(ht_decoder_start(dec, raw.data, raw.len, BLOCKS + 2 * ROUNDS, builtin, count, why,
                                 sizeof why));
    for (int k = 0; k < BLOCKS; k++) {
        assert_true(ht_decoder_next(dec, &ev, why, sizeof why));
        assert_int_equal(ev.u.Alloc.Address, block[k]);
    }
    for (int i = 0; i < ROUNDS; i++) {
        uint64_t a = block[(i * 5) % BLOCKS];
        assert_true(ht_decoder_next(dec, &ev, why, sizeof why));
        assert_int_equal(ev.u.Free.Address, a);
        assert_true(ht_decoder_next(dec, &ev, why, sizeof why));
        assert_int_equal(ev.u.Alloc.Address, a);
    }
    assert_true(ht_decoder_done(dec));
    free(dec);
    ht_buf_free(&raw);
    ht_encoder_free(enc);
    free(enc);
}

/* A run stops before a record that is not a heap event, and a run that
 * starts with one adds nothing. */
static void test_heap_run_stops_at_other_events(void **state)
{
    (void)state;
    size_t count;
    const ht_event_desc *builtin = ht_schema_builtin(&count);
    int16_t tag_of[256];
    for (int t = 0; t < 256; t++)
        tag_of[t] = (int16_t)ht_schema_builtin_tag((uint16_t)t);
    ht_chunk_encoder *e = malloc(sizeof *e);
    assert_non_null(e);
    ht_encoder_init(e);
    ht_record recs[4] = {
        {.time = 10, .tid = 1, .type = HT_EVENT_HEAP_ALLOC, .u.heap = {.address = 0x1000, .size = 8}},
        {.time = 11, .tid = 1, .type = HT_EVENT_HEAP_FREE, .u.heap = {.address = 0x1000}},
        {.time = 12, .tid = 1, .type = HT_EVENT_THREAD_START},
        {.time = 13, .tid = 1, .type = HT_EVENT_HEAP_FREE, .u.heap = {.address = 0x2000}},
    };
    ht_heap_extra extra[4] = {{0}};
    assert_int_equal(ht_encoder_add_heap_run(e, tag_of, builtin, recs, extra, 4), 2);
    assert_int_equal(ht_encoder_add_heap_run(e, tag_of, builtin, recs + 2, extra + 2, 2), 0);
    assert_int_equal(e->count, 2);
    assert_int_equal(e->ts_first, 10);
    assert_int_equal(e->ts_last, 11);
    ht_encoder_free(e);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_fast_path_matches_generic),
                                       cmocka_unit_test(test_recent_addresses_take_one_byte),
                                       cmocka_unit_test(test_heap_run_stops_at_other_events)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
