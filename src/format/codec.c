#include "codec.h"

#include <stdio.h>
#include <string.h>

#include "records.h"

void ht_codec_state_reset(ht_codec_state *s) { memset(s, 0, sizeof *s); }

/* ---- models ------------------------------------------------------------ */

static inline unsigned addr_slot(uint64_t a)
{
    return (unsigned)(((a >> 4) * 0x9E3779B97F4A7C15ull) >> 52) & (HT_ADDR_TABLE - 1);
}

static inline void addr_remember(ht_addr_model *m, uint64_t a, unsigned slot)
{
    m->recent[m->recent_pos++ & (HT_ADDR_RECENT - 1)] = a;
    m->table[slot] = a;
    m->last = a;
}

/* Address kinds in the two low bits of the first varint. */
enum { ADDR_RECENT = 0, ADDR_TABLE = 1, ADDR_DELTA16 = 2, ADDR_LITERAL = 3 };

/* Write address a at p (room made); returns the byte after it. */
static inline unsigned char *addr_put(ht_chunk_encoder *e, unsigned char *p, uint64_t a)
{
    ht_addr_model *m = &e->state.addr;
    unsigned slot = addr_slot(a);
    if (m->table[slot] == a) {
        /* Still among the last HT_ADDR_RECENT remembered, where the table's
         * note of its place says: one byte. The entry is compared too, as
         * the table's first entries were never remembered. (An address
         * pushed out of the table by another while still recent is coded
         * otherwise: rare, and any correct code decodes the same.) */
        unsigned at = e->addr_pos[slot], back = m->recent_pos - 1 - at;
        if (back < HT_ADDR_RECENT && m->recent[at & (HT_ADDR_RECENT - 1)] == a)
            p = ht_put_varint_at(p, (uint64_t)back << 2 | ADDR_RECENT);
        else
            p = ht_put_varint_at(p, (uint64_t)slot << 2 | ADDR_TABLE);
    } else {
        int64_t delta = (int64_t)(a - m->last);
        uint64_t zz = ht_zigzag(delta / 16);
        if (delta % 16 == 0 && zz < (1ull << 61)) {
            p = ht_put_varint_at(p, zz << 2 | ADDR_DELTA16);
        } else {
            p = ht_put_varint_at(p, ADDR_LITERAL);
            p = ht_put_varint_at(p, a);
        }
    }
    e->addr_pos[slot] = m->recent_pos;
    addr_remember(m, a, slot);
    return p;
}

static inline void addr_encode(ht_chunk_encoder *e, ht_buf *out, uint64_t a)
{
    out->len = (size_t)(addr_put(e, out->data + out->len, a) - out->data);
}

static inline bool addr_decode(ht_addr_model *m, ht_cursor *in, uint64_t *a)
{
    uint64_t v = ht_get_varint(in);
    switch (v & 3) {
    case ADDR_RECENT:
        if ((v >> 2) >= HT_ADDR_RECENT)
            return false;
        *a = m->recent[(m->recent_pos - 1 - (unsigned)(v >> 2)) & (HT_ADDR_RECENT - 1)];
        break;
    case ADDR_TABLE:
        if ((v >> 2) >= HT_ADDR_TABLE)
            return false;
        *a = m->table[v >> 2];
        break;
    case ADDR_DELTA16:
        *a = m->last + (uint64_t)ht_unzigzag(v >> 2) * 16u;
        break;
    default:
        *a = ht_get_varint(in);
        break;
    }
    addr_remember(m, *a, addr_slot(*a));
    return in->ok;
}

static inline void mru_touch(ht_mru *m, unsigned i, uint64_t v)
{
    for (unsigned k = i; k > 0; k--) /* a few words: cheaper than a memmove call */
        m->v[k] = m->v[k - 1];
    m->v[0] = v;
}

/* Write v's place in m at p (room made); returns the byte after it. */
static inline unsigned char *mru_put(ht_mru *m, unsigned char *p, uint64_t v)
{
    if (m->v[0] == v) { /* the same thread or heap as last time: the common case */
        *p++ = 0;
        return p;
    }
    for (unsigned i = 1; i < HT_MRU_SIZE; i++)
        if (m->v[i] == v) {
            mru_touch(m, i, v);
            return ht_put_varint_at(p, i);
        }
    p = ht_put_varint_at(p, HT_MRU_SIZE);
    mru_touch(m, HT_MRU_SIZE - 1, v);
    return ht_put_varint_at(p, v);
}

static inline void mru_encode(ht_mru *m, ht_buf *out, uint64_t v)
{
    out->len = (size_t)(mru_put(m, out->data + out->len, v) - out->data);
}

static inline bool mru_decode(ht_mru *m, ht_cursor *in, uint64_t *v)
{
    uint64_t i = ht_get_varint(in);
    if (i < HT_MRU_SIZE) {
        *v = m->v[i];
        mru_touch(m, (unsigned)i, *v);
    } else if (i == HT_MRU_SIZE) {
        *v = ht_get_varint(in);
        mru_touch(m, HT_MRU_SIZE - 1, *v);
    } else {
        return false;
    }
    return in->ok;
}

/* ---- field access ------------------------------------------------------ */

static uint64_t load_field(const ht_event *ev, const ht_field_desc *f)
{
    const unsigned char *p = (const unsigned char *)ev + f->offset;
    switch (f->type) {
    case HT_FT_U8: return *p;
    case HT_FT_U16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case HT_FT_U32: { uint32_t v; memcpy(&v, p, 4); return v; }
    case HT_FT_I32: { int32_t v; memcpy(&v, p, 4); return (uint64_t)(int64_t)v; }
    default: { uint64_t v; memcpy(&v, p, 8); return v; }
    }
}

static void store_field(ht_event *ev, const ht_field_desc *f, uint64_t v)
{
    unsigned char *p = (unsigned char *)ev + f->offset;
    switch (f->type) {
    case HT_FT_U8: *p = (uint8_t)v; break;
    case HT_FT_U16: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
    case HT_FT_U32:
    case HT_FT_I32: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); break; }
    default: memcpy(p, &v, 8); break;
    }
}

/* ---- encoder ----------------------------------------------------------- */

void ht_encoder_init(ht_chunk_encoder *e)
{
    memset(e, 0, sizeof *e);
}

void ht_encoder_free(ht_chunk_encoder *e)
{
    for (int s = 0; s < HT_STREAM_COUNT; s++)
        ht_buf_free(&e->streams[s]);
}

void ht_encoder_reset(ht_chunk_encoder *e)
{
    ht_codec_state_reset(&e->state);
    memset(e->addr_pos, 0, sizeof e->addr_pos); /* a chunk's bytes depend on its events alone */
    for (int s = 0; s < HT_STREAM_COUNT; s++)
        e->streams[s].len = 0;
    e->count = 0;
    e->ts_first = e->ts_last = 0;
}

/* Worst case bytes one fixed-size field writes: a literal after a marker. */
#define FIELD_MAX 20

/* The built-in heap events, written field by field as the generic loop
 * below would write them (same streams, same order), without its per-field
 * dispatch: they are nearly every event of a trace. */
static bool is_builtin_heap(uint8_t tag, const ht_event_desc *desc)
{
    size_t n;
    return (desc->type == HT_EVENT_HEAP_ALLOC || desc->type == HT_EVENT_HEAP_FREE ||
            desc->type == HT_EVENT_HEAP_REALLOC) &&
           desc == &ht_schema_builtin(&n)[tag];
}

/* Heap events the streams are made ready for at once: checking the room of
 * seven streams for every event cost a tenth of the encoding. */
#define HEAP_EVENTS_PER_CHECK 64

/* The most bytes a built-in heap event writes into each stream (a REALLOC,
 * with every MRU and address a literal after its marker). */
static const uint8_t heap_event_max[HT_STREAM_COUNT] = {
    [HT_STREAM_TAG] = 1,      [HT_STREAM_TIME] = 10,    [HT_STREAM_THREAD] = FIELD_MAX,
    [HT_STREAM_SIZE] = 2 * FIELD_MAX, [HT_STREAM_ADDRESS] = 2 * FIELD_MAX,
    [HT_STREAM_STACK] = 10,   [HT_STREAM_MISC] = 2 * FIELD_MAX,
};

static bool make_heap_room(ht_chunk_encoder *e)
{
    for (int s = 0; s < HT_STREAM_COUNT; s++)
        if (!ht_buf_reserve(&e->streams[s], (size_t)HEAP_EVENTS_PER_CHECK * heap_event_max[s]))
            return false;
    e->heap_room = HEAP_EVENTS_PER_CHECK;
    return true;
}

/* Each stream's next byte, while heap events are written: in locals, not
 * loaded from and stored to the encoder's buffers at every field. */
typedef struct heap_out {
    unsigned char *at[HT_STREAM_COUNT];
} heap_out;

static inline void heap_out_load(const ht_chunk_encoder *e, heap_out *o)
{
    for (int s = 0; s < HT_STREAM_COUNT; s++)
        o->at[s] = e->streams[s].data + e->streams[s].len;
}

static inline void heap_out_store(ht_chunk_encoder *e, const heap_out *o)
{
    for (int s = 0; s < HT_STREAM_COUNT; s++)
        e->streams[s].len = (size_t)(o->at[s] - e->streams[s].data);
}

/* A heap event's header and fields, room made. */
static inline __attribute__((always_inline)) void put_heap_event(ht_chunk_encoder *e, heap_out *o,
                                                                 uint8_t tag, bool has_stack,
                                                                 const ht_record *r,
                                                                 const ht_heap_extra *x)
{
    ht_codec_state *st = &e->state;
    unsigned char **at = o->at;
    *at[HT_STREAM_TAG]++ = tag;
    at[HT_STREAM_TIME] =
        ht_put_varint_at(at[HT_STREAM_TIME], ht_zigzag((int64_t)(r->time - st->prev_time)));
    st->prev_time = r->time;
    at[HT_STREAM_THREAD] = mru_put(&st->threads, at[HT_STREAM_THREAD], r->tid);
    if (has_stack)
        at[HT_STREAM_STACK] = ht_put_varint_at(at[HT_STREAM_STACK], x->stack);
    at[HT_STREAM_MISC] = mru_put(&st->handles, at[HT_STREAM_MISC], x->heap);
    switch (r->type) {
    case HT_EVENT_HEAP_ALLOC:
        at[HT_STREAM_SIZE] = ht_put_varint_at(at[HT_STREAM_SIZE], r->u.heap.size);
        at[HT_STREAM_ADDRESS] = addr_put(e, at[HT_STREAM_ADDRESS], r->u.heap.address);
        break;
    case HT_EVENT_HEAP_FREE:
        at[HT_STREAM_ADDRESS] = addr_put(e, at[HT_STREAM_ADDRESS], r->u.heap.address);
        break;
    default: /* HT_EVENT_HEAP_REALLOC */
        at[HT_STREAM_ADDRESS] = addr_put(e, at[HT_STREAM_ADDRESS], r->u.heap.address);
        at[HT_STREAM_ADDRESS] = addr_put(e, at[HT_STREAM_ADDRESS], r->u.heap.old_address);
        at[HT_STREAM_SIZE] = ht_put_varint_at(at[HT_STREAM_SIZE], r->u.heap.size);
        at[HT_STREAM_SIZE] = ht_put_varint_at(at[HT_STREAM_SIZE], x->old_size);
        break;
    }
    at[HT_STREAM_MISC] = ht_put_varint_at(at[HT_STREAM_MISC], x->source);
}

/* The chunk's time bounds, count and room after n heap events stamped from
 * first to last. */
static inline void note_heap_events(ht_chunk_encoder *e, size_t n, uint64_t first, uint64_t last)
{
    if (e->count == 0 || first < e->ts_first)
        e->ts_first = first;
    if (e->count == 0 || last > e->ts_last)
        e->ts_last = last;
    e->count += (uint32_t)n;
    e->heap_room -= (uint32_t)n;
}

static bool add_heap_one(ht_chunk_encoder *e, uint8_t tag, const ht_event_desc *desc,
                         const ht_record *r, const ht_heap_extra *x)
{
    if (!e->heap_room && !make_heap_room(e))
        return false;
    heap_out o;
    heap_out_load(e, &o);
    put_heap_event(e, &o, tag, desc->flags & HT_DESC_HAS_STACK, r, x);
    heap_out_store(e, &o);
    note_heap_events(e, 1, r->time, r->time);
    return true;
}

size_t ht_encoder_add_heap_run(ht_chunk_encoder *e, const int16_t *tag_of,
                               const ht_event_desc *descs, const ht_record *recs,
                               const ht_heap_extra *extra, size_t n)
{
    if (!e->heap_room && !make_heap_room(e))
        return 0;
    size_t take = n < e->heap_room ? n : e->heap_room, i;
    uint64_t first = UINT64_MAX, last = 0;
    heap_out o;
    heap_out_load(e, &o);
    for (i = 0; i < take; i++) {
        const ht_record *r = &recs[i];
        if (r->type != HT_EVENT_HEAP_ALLOC && r->type != HT_EVENT_HEAP_FREE &&
            r->type != HT_EVENT_HEAP_REALLOC)
            break;
        int tag = tag_of[r->type];
        put_heap_event(e, &o, (uint8_t)tag, descs[tag].flags & HT_DESC_HAS_STACK, r, &extra[i]);
        first = r->time < first ? r->time : first;
        last = r->time > last ? r->time : last;
    }
    heap_out_store(e, &o);
    if (i)
        note_heap_events(e, i, first, last);
    return i;
}

/* Any event, field by field as its descriptor says. */
static bool add_fields(ht_chunk_encoder *e, uint8_t tag, const ht_event_desc *desc,
                       const ht_event *ev)
{
    ht_codec_state *st = &e->state;
    ht_buf *S = e->streams;
    for (unsigned i = 0; i < desc->field_count; i++) {
        const ht_field_desc *f = &desc->fields[i];
        if (f->type == HT_FT_STR) {
            ht_str s;
            memcpy(&s, (const unsigned char *)ev + f->offset, sizeof s);
            if (!ht_buf_put_varint(&S[HT_STREAM_MISC], s.len) ||
                !ht_buf_append(&S[HT_STREAM_MISC], s.data, s.len))
                return false;
            continue;
        }
        if (f->type == HT_FT_U64_ARRAY) {
            const uint64_t *frames;
            uint32_t n;
            memcpy(&frames, (const unsigned char *)ev + f->offset, sizeof frames);
            memcpy(&n, (const unsigned char *)ev + f->count_offset, sizeof n);
            if (n > HT_MAX_FRAMES)
                n = HT_MAX_FRAMES;
            if (!ht_buf_reserve(&S[HT_STREAM_MISC], 10 * ((size_t)n + 1)))
                return false;
            ht_buf_put_varint_unchecked(&S[HT_STREAM_MISC], n);
            uint64_t prev = 0;
            for (uint32_t k = 0; k < n; k++) {
                ht_buf_put_varint_unchecked(&S[HT_STREAM_MISC],
                                            ht_zigzag((int64_t)(frames[k] - prev)));
                prev = frames[k];
            }
            continue;
        }
        uint64_t v = load_field(ev, f);
        switch (f->codec) {
        case HT_CODEC_VARINT: ht_buf_put_varint_unchecked(&S[HT_STREAM_MISC], v); break;
        case HT_CODEC_ZIGZAG: ht_buf_put_varint_unchecked(&S[HT_STREAM_MISC], ht_zigzag((int64_t)v)); break;
        case HT_CODEC_DELTA:
            ht_buf_put_varint_unchecked(&S[HT_STREAM_MISC],
                                        ht_zigzag((int64_t)(v - st->delta_prev[tag][i])));
            st->delta_prev[tag][i] = v;
            break;
        case HT_CODEC_SIZE: ht_buf_put_varint_unchecked(&S[HT_STREAM_SIZE], v); break;
        case HT_CODEC_ADDRESS: addr_encode(e, &S[HT_STREAM_ADDRESS], v); break;
        case HT_CODEC_MRU: mru_encode(&st->handles, &S[HT_STREAM_MISC], v); break;
        default: return false;
        }
    }
    return true;
}

bool ht_encoder_add(ht_chunk_encoder *e, uint8_t tag, const ht_event_desc *desc,
                    const ht_event *ev)
{
    ht_codec_state *st = &e->state;
    ht_buf *S = e->streams;
    const ht_event_header *h = &ev->Header;

    if (is_builtin_heap(tag, desc)) {
        /* The parts put_heap_event reads. */
        ht_record r = {.time = h->TimeStamp, .tid = h->ThreadId, .type = desc->type};
        ht_heap_extra x = {.stack = h->StackId};
        switch (desc->type) {
        case HT_EVENT_HEAP_ALLOC:
            x.heap = ev->u.Alloc.HeapHandle;
            x.source = ev->u.Alloc.Source;
            r.u.heap.address = ev->u.Alloc.Address;
            r.u.heap.size = ev->u.Alloc.Size;
            break;
        case HT_EVENT_HEAP_FREE:
            x.heap = ev->u.Free.HeapHandle;
            x.source = ev->u.Free.Source;
            r.u.heap.address = ev->u.Free.Address;
            break;
        default:
            x.heap = ev->u.Realloc.HeapHandle;
            x.source = ev->u.Realloc.Source;
            x.old_size = ev->u.Realloc.OldSize;
            r.u.heap.address = ev->u.Realloc.NewAddress;
            r.u.heap.old_address = ev->u.Realloc.OldAddress;
            r.u.heap.size = ev->u.Realloc.NewSize;
            break;
        }
        return add_heap_one(e, tag, desc, &r, &x);
    }

    if (!ht_buf_reserve(&S[HT_STREAM_TAG], 1) || !ht_buf_reserve(&S[HT_STREAM_TIME], 10) ||
        !ht_buf_reserve(&S[HT_STREAM_THREAD], FIELD_MAX) ||
        !ht_buf_reserve(&S[HT_STREAM_STACK], 10) ||
        !ht_buf_reserve(&S[HT_STREAM_SIZE], 2 * FIELD_MAX) ||
        !ht_buf_reserve(&S[HT_STREAM_ADDRESS], 2 * FIELD_MAX) ||
        !ht_buf_reserve(&S[HT_STREAM_MISC], (size_t)(desc->field_count + 1) * FIELD_MAX))
        return false;
    e->heap_room = 0; /* this event may take the room made for heap events */

    S[HT_STREAM_TAG].data[S[HT_STREAM_TAG].len++] = tag;
    ht_buf_put_varint_unchecked(&S[HT_STREAM_TIME],
                                ht_zigzag((int64_t)(h->TimeStamp - st->prev_time)));
    st->prev_time = h->TimeStamp;
    mru_encode(&st->threads, &S[HT_STREAM_THREAD], h->ThreadId);
    if (desc->flags & HT_DESC_HAS_STACK)
        ht_buf_put_varint_unchecked(&S[HT_STREAM_STACK], h->StackId);
    if (desc->flags & HT_DESC_HAS_CPU)
        ht_buf_put_varint_unchecked(&S[HT_STREAM_MISC], (uint32_t)(h->Cpu + 1));
    if (!add_fields(e, tag, desc, ev))
        return false;

    if (e->count == 0 || h->TimeStamp < e->ts_first)
        e->ts_first = h->TimeStamp;
    if (e->count == 0 || h->TimeStamp > e->ts_last)
        e->ts_last = h->TimeStamp;
    e->count++;
    return true;
}

bool ht_encoder_finish(const ht_chunk_encoder *e, ht_buf *out)
{
    if (!ht_buf_reserve(out, ht_encoder_raw_size(e)))
        return false;
    out->data[out->len++] = HT_STREAM_COUNT;
    for (int s = 0; s < HT_STREAM_COUNT; s++)
        ht_buf_put_varint_unchecked(out, e->streams[s].len);
    for (int s = 0; s < HT_STREAM_COUNT; s++)
        ht_buf_append(out, e->streams[s].data, e->streams[s].len);
    return true;
}

/* ---- decoder ----------------------------------------------------------- */

bool ht_decoder_start(ht_chunk_decoder *d, const unsigned char *raw, size_t len, uint32_t pid,
                      const ht_event_desc *descs, size_t desc_count, char *why, size_t whylen)
{
    ht_cursor c = ht_cursor_make(raw, len);
    unsigned n = ht_get_u8(&c);
    if (!c.ok || n != HT_STREAM_COUNT) {
        snprintf(why, whylen, "chunk body has %u streams, expected %d", n, HT_STREAM_COUNT);
        return false;
    }
    uint64_t lens[HT_STREAM_COUNT];
    uint64_t total = 0;
    for (int s = 0; s < HT_STREAM_COUNT; s++) {
        lens[s] = ht_get_varint(&c);
        total += lens[s];
        if (!c.ok || lens[s] > len || total > len) {
            snprintf(why, whylen, "chunk body stream %d has an impossible length", s);
            return false;
        }
    }
    if (total != (uint64_t)(c.end - c.p)) {
        snprintf(why, whylen, "chunk body streams add up to %llu bytes, body has %zu",
                 (unsigned long long)total, (size_t)(c.end - c.p));
        return false;
    }
    for (int s = 0; s < HT_STREAM_COUNT; s++) {
        d->streams[s] = ht_cursor_make(c.p, lens[s]);
        c.p += lens[s];
    }
    ht_codec_state_reset(&d->state);
    d->descs = descs;
    d->desc_count = desc_count;
    d->pid = pid;
    return true;
}

bool ht_decoder_done(const ht_chunk_decoder *d)
{
    for (int s = 0; s < HT_STREAM_COUNT; s++)
        if (d->streams[s].p != d->streams[s].end)
            return false;
    return true;
}

bool ht_decoder_next(ht_chunk_decoder *d, ht_event *ev, char *why, size_t whylen)
{
    ht_codec_state *st = &d->state;
    ht_cursor *S = d->streams;
    unsigned tag = ht_get_u8(&S[HT_STREAM_TAG]);
    if (!S[HT_STREAM_TAG].ok || tag >= d->desc_count) {
        snprintf(why, whylen, "event tag %u is not in the descriptor table", tag);
        return false;
    }
    const ht_event_desc *desc = &d->descs[tag];

    memset(&ev->Header, 0, sizeof ev->Header);
    memset(&ev->u, 0, sizeof ev->u);
    ev->Header.Type = desc->type;
    ev->Header.Version = desc->version;
    ev->Header.Flags = desc->known ? 0 : HT_EVENT_FLAG_UNKNOWN_TYPE;
    ev->Header.ProcessId = d->pid;
    ev->Header.Cpu = HT_CPU_UNKNOWN;
    ev->Name = desc->name;
    ev->FieldCount = desc->field_count;

    st->prev_time += (uint64_t)ht_unzigzag(ht_get_varint(&S[HT_STREAM_TIME]));
    ev->Header.TimeStamp = st->prev_time;
    uint64_t tid;
    if (!mru_decode(&st->threads, &S[HT_STREAM_THREAD], &tid) || !S[HT_STREAM_TIME].ok) {
        snprintf(why, whylen, "bad time or thread of a %s event", desc->name);
        return false;
    }
    ev->Header.ThreadId = (uint32_t)tid;
    if (desc->flags & HT_DESC_HAS_STACK)
        ev->Header.StackId = (uint32_t)ht_get_varint(&S[HT_STREAM_STACK]);
    if (desc->flags & HT_DESC_HAS_CPU)
        ev->Header.Cpu = (uint32_t)ht_get_varint(&S[HT_STREAM_MISC]) - 1;

    for (unsigned i = 0; i < desc->field_count; i++) {
        const ht_field_desc *f = &desc->fields[i];
        ht_field_value *fv = &ev->Fields[i];
        fv->Name = f->name;
        fv->IsString = 0;
        fv->Value = 0;
        fv->Bytes.data = NULL;
        fv->Bytes.len = 0;
        ht_cursor *misc = &S[HT_STREAM_MISC];
        if (f->type == HT_FT_STR) {
            uint64_t n = ht_get_varint(misc);
            const unsigned char *p = misc->ok && n <= UINT32_MAX ? ht_get_bytes(misc, n) : NULL;
            if (!p) {
                snprintf(why, whylen, "string field %s of a %s event runs past its stream",
                         f->name, desc->name);
                return false;
            }
            fv->IsString = 1;
            fv->Bytes.data = (const char *)p;
            fv->Bytes.len = (uint32_t)n;
            if (f->offset >= 0)
                memcpy((unsigned char *)ev + f->offset, &fv->Bytes, sizeof fv->Bytes);
            continue;
        }
        if (f->type == HT_FT_U64_ARRAY) {
            uint64_t n = ht_get_varint(misc);
            if (!misc->ok || n > HT_MAX_FRAMES) {
                snprintf(why, whylen, "array field %s of a %s event has a bad count", f->name,
                         desc->name);
                return false;
            }
            uint64_t prev = 0;
            for (uint64_t k = 0; k < n; k++) {
                prev += (uint64_t)ht_unzigzag(ht_get_varint(misc));
                d->frames[k] = prev;
            }
            if (!misc->ok) {
                snprintf(why, whylen, "array field %s of a %s event runs past its stream",
                         f->name, desc->name);
                return false;
            }
            fv->IsString = 2;
            fv->Bytes.data = (const char *)d->frames;
            fv->Bytes.len = (uint32_t)(n * sizeof(uint64_t));
            if (f->offset >= 0 && f->count_offset >= 0) {
                const uint64_t *frames = d->frames;
                uint32_t n32 = (uint32_t)n;
                memcpy((unsigned char *)ev + f->offset, &frames, sizeof frames);
                memcpy((unsigned char *)ev + f->count_offset, &n32, sizeof n32);
            }
            continue;
        }
        uint64_t v = 0;
        bool ok = true;
        switch (f->codec) {
        case HT_CODEC_VARINT: v = ht_get_varint(misc); break;
        case HT_CODEC_ZIGZAG: v = (uint64_t)ht_unzigzag(ht_get_varint(misc)); break;
        case HT_CODEC_DELTA:
            v = st->delta_prev[tag][i] + (uint64_t)ht_unzigzag(ht_get_varint(misc));
            st->delta_prev[tag][i] = v;
            break;
        case HT_CODEC_SIZE: v = ht_get_varint(&S[HT_STREAM_SIZE]); break;
        case HT_CODEC_ADDRESS: ok = addr_decode(&st->addr, &S[HT_STREAM_ADDRESS], &v); break;
        case HT_CODEC_MRU: ok = mru_decode(&st->handles, misc, &v); break;
        default: ok = false; break;
        }
        if (!ok || !misc->ok || !S[HT_STREAM_SIZE].ok) {
            snprintf(why, whylen, "field %s of a %s event is malformed", f->name, desc->name);
            return false;
        }
        fv->Value = v;
        if (f->offset >= 0)
            store_field(ev, f, v);
    }
    if (!S[HT_STREAM_STACK].ok || !S[HT_STREAM_MISC].ok) {
        snprintf(why, whylen, "a %s event runs past its streams", desc->name);
        return false;
    }
    return true;
}
