/* Forward compatibility: a file from a newer writer, built here chunk by
 * chunk, describes an event type this reader does not know (every field type
 * and codec), a known type with a field appended, a type above 0xFF, and
 * holds a chunk kind and a header record of its own. The reader decodes the
 * unknown events generically, keeps decoding the known ones, and skips what
 * it cannot use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "format/codec.h"
#include "format/schema.h"
#include "heaptrail/trace.h"
#include "tracefile.h"

#define NEW_TYPE 0x60
#define WIDE_TYPE 0x1234
#define EVENTS_PER_CHUNK 400
#define VALUE_AT(i) ((int32_t)offsetof(ht_event, Fields[i].Value))
#define BYTES_AT(i) ((int32_t)offsetof(ht_event, Fields[i].Bytes))

/* The fields of the new type: the encoder takes their values from the
 * generic view (Fields[i]) of the events this test writes. */
static const ht_field_desc new_fields[] = {
    {"Kind", HT_FT_U8, HT_CODEC_VARINT, VALUE_AT(0), -1},
    {"Generation", HT_FT_U16, HT_CODEC_ZIGZAG, VALUE_AT(1), -1},
    {"Count", HT_FT_U32, HT_CODEC_DELTA, VALUE_AT(2), -1},
    {"Bytes", HT_FT_U64, HT_CODEC_SIZE, VALUE_AT(3), -1},
    {"Where", HT_FT_U64, HT_CODEC_ADDRESS, VALUE_AT(4), -1},
    {"Heap", HT_FT_U64, HT_CODEC_MRU, VALUE_AT(5), -1},
    {"Bias", HT_FT_I32, HT_CODEC_ZIGZAG, VALUE_AT(6), -1},
    {"Skew", HT_FT_I64, HT_CODEC_ZIGZAG, VALUE_AT(7), -1},
    {"Label", HT_FT_STR, HT_CODEC_BLOB, BYTES_AT(8), -1},
    {"Roots", HT_FT_U64_ARRAY, HT_CODEC_FRAMES, BYTES_AT(9),
     (int32_t)offsetof(ht_event, Fields[9].Bytes.len)},
    {"Big", HT_FT_U64, HT_CODEC_DELTA, VALUE_AT(10), -1},
};
#define NEW_FIELDS (sizeof new_fields / sizeof new_fields[0])

typedef struct table {
    ht_event_desc d[HT_MAX_EVENT_TYPES];
    size_t n;
    int alloc, free, fresh, wide; /* tags */
} table;

static void build_table(table *t)
{
    size_t n;
    const ht_event_desc *b = ht_schema_builtin(&n);
    memcpy(t->d, b, n * sizeof *b);
    t->alloc = ht_schema_builtin_tag(HT_EVENT_HEAP_ALLOC);
    t->free = ht_schema_builtin_tag(HT_EVENT_HEAP_FREE);

    /* alloc, with a field a later version appended */
    ht_event_desc *a = &t->d[t->alloc];
    a->fields[a->field_count++] = (ht_field_desc){"Tag", HT_FT_U32, HT_CODEC_VARINT, VALUE_AT(15), -1};

    ht_event_desc *g = &t->d[n];
    *g = (ht_event_desc){.type = NEW_TYPE, .version = 3, .flags = HT_DESC_HAS_STACK | HT_DESC_HAS_CPU,
                         .name = "gc_mark", .field_count = NEW_FIELDS};
    memcpy(g->fields, new_fields, sizeof new_fields);
    t->fresh = (int)n++;

    /* the most fields an event may have, above the one-byte opcodes */
    ht_event_desc *w = &t->d[n];
    *w = (ht_event_desc){.type = WIDE_TYPE, .version = 1, .name = "wide", .field_count = HT_EVENT_MAX_FIELDS};
    for (int i = 0; i < HT_EVENT_MAX_FIELDS; i++) {
        w->fields[i] = (ht_field_desc){"", HT_FT_U64, HT_CODEC_VARINT, VALUE_AT(i), -1};
        w->fields[i].name[0] = (char)('a' + i);
    }
    t->wide = (int)n++;
    t->n = n;
}

static uint64_t rng = 0xC0FFEE;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint64_t any(void)
{
    switch (rnd() % 6) {
    case 0: return 0;
    case 1: return UINT64_MAX;
    case 2: return rnd();
    default: return rnd() % 1000;
    }
}

/* What each written event was: the event itself and its string and frames. */
typedef struct written {
    ht_event ev;
    int tag;
    char label[300];
    uint64_t roots[HT_MAX_FRAMES];
} written;

static void make_event(const table *t, written *w, uint32_t pid, uint64_t *time)
{
    ht_event *e = &w->ev;
    memset(e, 0, sizeof *e);
    static const int kinds[] = {0, 0, 1, 1, 2, 3};
    int kind = kinds[rnd() % 6];
    w->tag = kind == 0 ? t->alloc : kind == 1 ? t->fresh : kind == 2 ? t->free : t->wide;
    const ht_event_desc *d = &t->d[w->tag];
    *time += rnd() % 100;
    e->Header.Type = d->type;
    e->Header.ProcessId = pid;
    e->Header.ThreadId = (uint32_t)(rnd() % 3);
    e->Header.TimeStamp = *time;
    e->Header.Cpu = HT_CPU_UNKNOWN;
    if (d->flags & HT_DESC_HAS_STACK)
        e->Header.StackId = (uint32_t)any();
    if (d->flags & HT_DESC_HAS_CPU)
        e->Header.Cpu = (uint32_t)any();
    if (kind == 0) {
        e->u.Alloc = (ETW_HEAP_EVENT_ALLOC){.HeapHandle = any(), .Size = any(), .Address = any(),
                                            .Source = (uint32_t)any()};
        e->Fields[15].Value = (uint32_t)any();
    } else if (kind == 2) {
        e->u.Free = (ETW_HEAP_EVENT_FREE){.HeapHandle = any(), .Address = any(),
                                          .Source = (uint32_t)any()};
    } else if (kind == 3) {
        for (int i = 0; i < HT_EVENT_MAX_FIELDS; i++)
            e->Fields[i].Value = any();
    } else {
        for (unsigned i = 0; i < 8; i++)
            e->Fields[i].Value = any();
        uint32_t len = (uint32_t)(rnd() % 4 == 0 ? 0 : rnd() % sizeof w->label);
        for (uint32_t i = 0; i < len; i++)
            w->label[i] = (char)rnd();
        e->Fields[8].Bytes = (ht_str){w->label, len};
        uint32_t depth = (uint32_t)(rnd() % 10 == 0 ? HT_MAX_FRAMES : rnd() % 20);
        for (uint32_t i = 0; i < depth; i++)
            w->roots[i] = any();
        e->Fields[9].Bytes = (ht_str){(const char *)w->roots, depth};
        e->Fields[10].Value = any();
    }
}

/* Integer fields as the reader widens them to 64 bits. */
static uint64_t widened(const ht_field_desc *f, uint64_t v)
{
    switch (f->type) {
    case HT_FT_U8: return (uint8_t)v;
    case HT_FT_U16: return (uint16_t)v;
    case HT_FT_U32: return (uint32_t)v;
    case HT_FT_I32: return (uint64_t)(int64_t)(int32_t)v;
    default: return v;
    }
}

static void check_event(const table *t, const written *w, const ht_event *got, size_t index)
{
    const ht_event *e = &w->ev;
    const ht_event_desc *d = &t->d[w->tag];
    bool known = w->tag == t->alloc || w->tag == t->free;
    if (got->Header.Type != e->Header.Type || got->Header.Version != d->version ||
        got->Header.Flags != (known ? 0 : HT_EVENT_FLAG_UNKNOWN_TYPE) ||
        got->Header.ProcessId != e->Header.ProcessId || got->Header.ThreadId != e->Header.ThreadId ||
        got->Header.TimeStamp != e->Header.TimeStamp || got->Header.StackId != e->Header.StackId ||
        got->Header.Cpu != e->Header.Cpu)
        fail_msg("event %zu (%s): header differs", index, d->name);
    assert_string_equal(got->Name, d->name);
    assert_int_equal(got->FieldCount, d->field_count);
    for (unsigned i = 0; i < d->field_count; i++) {
        const ht_field_desc *f = &d->fields[i];
        const ht_field_value *v = &got->Fields[i];
        assert_string_equal(v->Name, f->name);
        if (f->type == HT_FT_STR) {
            const ht_str *s = (const ht_str *)((const char *)e + f->offset);
            assert_int_equal(v->IsString, 1);
            assert_int_equal(v->Bytes.len, s->len);
            assert_memory_equal(v->Bytes.data, s->data, s->len);
        } else if (f->type == HT_FT_U64_ARRAY) {
            assert_int_equal(v->IsString, 2);
            assert_int_equal(v->Bytes.len, e->Fields[i].Bytes.len * 8);
            assert_memory_equal(v->Bytes.data, w->roots, v->Bytes.len);
        } else {
            uint64_t raw;
            memcpy(&raw, (const char *)e + f->offset, 8);
            assert_int_equal(v->IsString, 0);
            if (v->Value != widened(f, raw))
                fail_msg("event %zu (%s) field %s: %llu, expected %llu", index, d->name, f->name,
                         (unsigned long long)v->Value, (unsigned long long)widened(f, raw));
        }
    }
    if (w->tag == t->alloc) {
        assert_int_equal(got->u.Alloc.HeapHandle, e->u.Alloc.HeapHandle);
        assert_int_equal(got->u.Alloc.Size, e->u.Alloc.Size);
        assert_int_equal(got->u.Alloc.Address, e->u.Alloc.Address);
        assert_int_equal(got->u.Alloc.Source, e->u.Alloc.Source);
    } else if (w->tag == t->free) {
        assert_int_equal(got->u.Free.HeapHandle, e->u.Free.HeapHandle);
        assert_int_equal(got->u.Free.Address, e->u.Free.Address);
        assert_int_equal(got->u.Free.Source, e->u.Free.Source);
    } else {
        assert_int_equal(got->u.Realloc.HeapHandle, 0); /* no union member for an unknown type */
    }
}

static void put_events_chunk(ht_buf *file, const table *t, written *w, size_t n, uint64_t seq,
                             bool compress)
{
    ht_chunk_encoder *enc = malloc(sizeof *enc);
    ht_encoder_init(enc);
    for (size_t i = 0; i < n; i++)
        assert_true(ht_encoder_add(enc, (uint8_t)w[i].tag, &t->d[w[i].tag], &w[i].ev));
    ht_buf raw = {0};
    assert_true(ht_encoder_finish(enc, &raw));
    ht_chunk_header h = {.kind = HT_CHUNK_EVENTS, .seq = seq, .pid = w[0].ev.Header.ProcessId,
                         .event_count = enc->count, .ts_first = enc->ts_first,
                         .ts_last = enc->ts_last};
    tf_put_chunk(file, &h, compress, raw.data, raw.len);
    ht_buf_free(&raw);
    ht_encoder_free(enc);
    free(enc);
}

static void test_newer_writer(void **state)
{
    table *t = calloc(1, sizeof *t);
    build_table(t);
    written *w = calloc(2 * EVENTS_PER_CHUNK, sizeof *w);
    uint64_t time = 1000;
    for (size_t i = 0; i < 2 * EVENTS_PER_CHUNK; i++)
        make_event(t, &w[i], i < EVENTS_PER_CHUNK ? 100 : 200, &time);

    ht_buf file = {0}, meta = {0}, descs = {0};
    tf_put_file_header(&file, HT_TRACE_FORMAT_MAJOR, HT_TRACE_FORMAT_MINOR + 1);
    unsigned char clock[16] = {1};
    tf_put_meta(&meta, HT_META_CLOCK, clock, sizeof clock);
    tf_put_meta(&meta, 0x4000, "a record of a newer writer", 26);
    tf_put_meta(&meta, HT_META_HOST, "newer", 5);
    assert_true(ht_schema_serialize(t->d, t->n, &descs));
    tf_put_meta(&meta, HT_META_DESCRIPTORS, descs.data, (uint32_t)descs.len);
    ht_chunk_header h = {.kind = HT_CHUNK_META};
    tf_put_chunk(&file, &h, false, meta.data, meta.len);

    put_events_chunk(&file, t, w, EVENTS_PER_CHUNK, 1, false);
    h = (ht_chunk_header){.kind = 77, .seq = 2};
    tf_put_chunk(&file, &h, true, "a chunk kind of a newer writer", 30);
    put_events_chunk(&file, t, w + EVENTS_PER_CHUNK, EVENTS_PER_CHUNK, 3, true);
    h = (ht_chunk_header){.kind = HT_CHUNK_INDEX, .seq = 4};
    uint64_t index_at = file.len;
    tf_put_chunk(&file, &h, false, "\0\0\0\0", 4);
    tf_put_trailer(&file, index_at, 5);

    char *dir = tf_tmpdir();
    char *path = tf_path(dir, "newer.ht");
    assert_int_equal(tf_save(path, file.data, file.len), 0);
    ht_trace_error err;
    ht_trace *tr = ht_trace_open(path, &err);
    if (!tr)
        fail_msg("%s", err.message);
    assert_string_equal(ht_trace_get_info(tr)->Host, "newer");
    assert_int_equal(ht_trace_event_type_count(tr), t->n);
    uint16_t type;
    assert_string_equal(ht_trace_event_type_name(tr, (size_t)t->fresh, &type), "gc_mark");
    assert_int_equal(type, NEW_TYPE);

    const ht_event *ev;
    size_t n = 0;
    int r;
    while ((r = ht_trace_next(tr, &ev)) == 1) {
        assert_true(n < 2 * EVENTS_PER_CHUNK);
        check_event(t, &w[n], ev, n);
        n++;
    }
    if (r < 0)
        fail_msg("%s", ht_trace_last_error(tr)->message);
    const ht_trace_status *st = ht_trace_get_status(tr);
    assert_int_equal(n, 2 * EVENTS_PER_CHUNK);
    assert_int_equal(st->ChunksRead, 2);
    assert_int_equal(st->Complete, 1);
    ht_trace_close(tr);

    tf_rmtree(dir);
    free(dir);
    free(path);
    ht_buf_free(&file);
    ht_buf_free(&meta);
    ht_buf_free(&descs);
    free(w);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_newer_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
