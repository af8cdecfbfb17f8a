/* Compact records of decoded events (see records.h). */
#include "records.h"

#include <string.h>

/* Decoding paths of a tag. */
enum { PATH_EVENT = 0, PATH_ALLOC, PATH_FREE, PATH_REALLOC };

/* The most bytes one event on the direct path can take from each stream,
 * malformed or not: a varint is read to at most 10 bytes, an MRU or
 * ADDRESS literal is a varint marker and a varint; a realloc has two
 * addresses and two sizes, every heap event a handle (MRU) and a Source in
 * the misc stream. */
enum {
    MAX_TIME = 10,
    MAX_THREAD = 20,
    MAX_STACK = 10,
    MAX_SIZE = 20,
    MAX_ADDRESS = 40,
    MAX_MISC = 30,
};

static uint8_t clamp_source(uint32_t source)
{
    return source > HT_RECORD_SOURCE_MAX ? HT_RECORD_SOURCE_MAX : (uint8_t)source;
}

/* Known types whose records hold something else than the name. */
static int holds_facts(uint16_t type)
{
    switch (type) {
    case HT_EVENT_HEAP_ALLOC:
    case HT_EVENT_HEAP_FREE:
    case HT_EVENT_HEAP_REALLOC:
    case HT_EVENT_PROCESS_START:
    case HT_EVENT_PROCESS_EXIT:
    case HT_EVENT_LOST: return 1;
    default: return 0;
    }
}

const char *ht_record_name(const ht_record *rec)
{
    return (rec->flags & HT_EVENT_FLAG_UNKNOWN_TYPE) || !holds_facts(rec->type) ? rec->u.name
                                                                                : NULL;
}

void ht_record_from_event(const ht_event *ev, ht_record *rec)
{
    const ht_event_header *h = &ev->Header;
    memset(rec, 0, sizeof *rec);
    rec->time = h->TimeStamp;
    rec->tid = h->ThreadId;
    rec->type = h->Type;
    rec->flags = h->Flags;
    if (h->Flags & HT_EVENT_FLAG_UNKNOWN_TYPE) {
        rec->u.name = ev->Name;
        return;
    }
    switch (h->Type) {
    case HT_EVENT_HEAP_ALLOC:
        rec->source = clamp_source(ev->u.Alloc.Source);
        rec->u.heap.address = ev->u.Alloc.Address;
        rec->u.heap.size = ev->u.Alloc.Size;
        break;
    case HT_EVENT_HEAP_FREE:
        rec->source = clamp_source(ev->u.Free.Source);
        rec->u.heap.address = ev->u.Free.Address;
        break;
    case HT_EVENT_HEAP_REALLOC:
        rec->source = clamp_source(ev->u.Realloc.Source);
        rec->u.heap.address = ev->u.Realloc.NewAddress;
        rec->u.heap.old_address = ev->u.Realloc.OldAddress;
        rec->u.heap.size = ev->u.Realloc.NewSize;
        break;
    case HT_EVENT_PROCESS_START: {
        const ht_process_start *ps = &ev->u.ProcessStart;
        rec->u.start.command_line = ps->CommandLine.data;
        rec->u.start.command_line_len = ps->CommandLine.len;
        rec->u.start.executable = ps->Executable.data;
        rec->u.start.executable_len = ps->Executable.len;
        rec->u.start.parent_pid = ps->ParentPid;
        break;
    }
    case HT_EVENT_PROCESS_EXIT:
        rec->u.exit.status = ev->u.ProcessExit.ExitStatus;
        rec->u.exit.known = ev->u.ProcessExit.KnownStatus;
        break;
    case HT_EVENT_LOST: rec->u.lost = ev->u.Lost.EventsLost; break;
    default: rec->u.name = ev->Name; break;
    }
}

/* The direct path serves a descriptor only when it is, field for field, the
 * built-in one the path was written for: then the streams hold exactly what
 * the path reads, in its order. */
static int same_layout(const ht_event_desc *d, const ht_event_desc *b)
{
    if (d->type != b->type || strcmp(d->name, b->name) != 0 || d->flags != b->flags ||
        d->field_count != b->field_count)
        return 0;
    for (unsigned i = 0; i < d->field_count; i++)
        if (strcmp(d->fields[i].name, b->fields[i].name) != 0 ||
            d->fields[i].type != b->fields[i].type || d->fields[i].codec != b->fields[i].codec)
            return 0;
    return 1;
}

void ht_record_plan_make(ht_record_plan *plan, const ht_event_desc *descs, size_t count)
{
    static const struct {
        uint16_t type;
        uint8_t path;
    } direct[] = {{HT_EVENT_HEAP_ALLOC, PATH_ALLOC},
                  {HT_EVENT_HEAP_FREE, PATH_FREE},
                  {HT_EVENT_HEAP_REALLOC, PATH_REALLOC}};
    size_t nbuiltin;
    const ht_event_desc *builtin = ht_schema_builtin(&nbuiltin);
    memset(plan, 0, sizeof *plan);
    for (size_t tag = 0; tag < 256; tag++) {
        plan->path[tag] = PATH_EVENT;
        plan->size_stop[tag] = PTRDIFF_MAX;
    }
    for (size_t tag = 0; tag < count && tag < HT_MAX_EVENT_TYPES; tag++)
        for (size_t k = 0; k < sizeof direct / sizeof direct[0]; k++) {
            int b = ht_schema_builtin_tag(direct[k].type);
            if (b >= 0 && (size_t)b < nbuiltin && same_layout(&descs[tag], &builtin[b])) {
                plan->path[tag] = direct[k].path;
                plan->type[tag] = direct[k].type;
                /* FREEs read no sizes; the others up to MAX_SIZE bytes */
                plan->size_stop[tag] = direct[k].path == PATH_FREE ? -1 : MAX_SIZE - 1;
            }
        }
}

/* ---- the direct path ----------------------------------------------------
 * The same reads as ht_decoder_next, in runs of events that cannot reach
 * the end of any stream: before a run, each stream is checked to hold the
 * most bytes the run's events could take from it, so that no read inside
 * the run checks a bound. What the run still has to check (a varint longer
 * than ten bytes, an index out of range) sets one "bad" flag, looked at once
 * per call; an index out of range is clamped first, so that nothing is read
 * out of bounds, and a bad call is decoded again on the checked path. The
 * last events of a chunk, too close to a stream's end for a run, take the
 * checked path. */

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* LEB128 as ht_get_varint reads it, with the bound checked by the run. */
static ALWAYS_INLINE uint64_t varint(const unsigned char **pp, unsigned *bad)
{
    const unsigned char *p = *pp;
    uint64_t v = *p++;
    if (__builtin_expect(v >= 0x80, 0)) {
        /* Two bytes (a time delta, most sizes) without the loop: the first
         * byte's high bit taken off by subtraction. */
        uint64_t b = *p++;
        v += (b << 7) - 0x80;
        if (b >= 0x80) {
            v -= (uint64_t)0x80 << 7;
            for (unsigned shift = 14;; shift += 7) {
                b = *p++;
                v |= (b & 0x7F) << shift;
                if (b < 0x80)
                    break;
                if (shift == 63) { /* a tenth byte that says more follow */
                    *bad = 1;
                    break;
                }
            }
        }
    }
    *pp = p;
    return v;
}

static ALWAYS_INLINE uint64_t mru(ht_mru *m, const unsigned char **pp, unsigned *bad)
{
    uint64_t i = varint(pp, bad);
    uint64_t v;
    if (__builtin_expect(i == 0, 1))
        return m->v[0];
    if (i < HT_MRU_SIZE) {
        v = m->v[i];
    } else {
        *bad |= i > HT_MRU_SIZE;
        v = varint(pp, bad);
        i = HT_MRU_SIZE - 1;
    }
    /* Move the entries before i down one place: written out, as a loop
     * becomes a call to memmove for a few words. */
    _Static_assert(HT_MRU_SIZE == 8, "the cases below are the MRU's places");
    switch (i) {
    case 7: m->v[7] = m->v[6]; /* fall through */
    case 6: m->v[6] = m->v[5]; /* fall through */
    case 5: m->v[5] = m->v[4]; /* fall through */
    case 4: m->v[4] = m->v[3]; /* fall through */
    case 3: m->v[3] = m->v[2]; /* fall through */
    case 2: m->v[2] = m->v[1]; /* fall through */
    default: m->v[1] = m->v[0]; break;
    }
    m->v[0] = v;
    return v;
}

/* The model's recent_pos and last are the caller's *pos and *last for the
 * run (the stores to the records would otherwise make the compiler load
 * them again at each event). The indexes of recent addresses are or-ed
 * into *recent, to be checked once at the end of the run: one of them is
 * out of range when the or of them all is. */
static ALWAYS_INLINE uint64_t address(ht_addr_model *m, unsigned *pos, uint64_t *last,
                                      uint64_t *recent, const unsigned char **pp, unsigned *bad)
{
    uint64_t v = varint(pp, bad);
    uint64_t a;
    /* In the order of their frequency in recorded traces: a recent address
     * (more than half), a step from the last one, the table, a literal. */
    if (__builtin_expect((v & 3) == 0, 1)) {
        *recent |= v >> 2;
        a = m->recent[(*pos - 1 - (unsigned)(v >> 2)) & (HT_ADDR_RECENT - 1)];
    } else if ((v & 3) == 2) {
        a = *last + (uint64_t)ht_unzigzag(v >> 2) * 16u;
    } else if ((v & 3) == 1) {
        *bad |= (v >> 2) >= HT_ADDR_TABLE;
        a = m->table[(v >> 2) & (HT_ADDR_TABLE - 1)];
    } else {
        a = varint(pp, bad);
    }
    m->recent[(*pos)++ & (HT_ADDR_RECENT - 1)] = a;
    m->table[((a >> 4) * 0x9E3779B97F4A7C15ull) >> 52] = a;
    *last = a;
    return a;
}

/* An MRU read whose front entry the caller keeps in *front: a one-byte 0,
 * nearly every read, takes it from there. */
static ALWAYS_INLINE uint64_t mru_front(ht_mru *m, uint64_t *front, const unsigned char **pp,
                                        unsigned *bad)
{
    if (__builtin_expect(**pp == 0, 1)) {
        (*pp)++;
        return *front;
    }
    *front = mru(m, pp, bad);
    return *front;
}

static size_t events_in(const ht_cursor *c, size_t per_event)
{
    return (size_t)(c->end - c->p) / per_event;
}

/* How many events from here can be read without reaching the end of a
 * stream that every event reads. The size stream is not one of them: FREEs
 * take nothing from it, so a chunk's sizes often end long before its
 * events, and the run checks it at each event that reads it. */
static size_t run_length(const ht_chunk_decoder *d)
{
    const ht_cursor *S = d->streams;
    size_t n = (size_t)(S[HT_STREAM_TAG].end - S[HT_STREAM_TAG].p);
    size_t k;
    if ((k = events_in(&S[HT_STREAM_TIME], MAX_TIME)) < n) n = k;
    if ((k = events_in(&S[HT_STREAM_THREAD], MAX_THREAD)) < n) n = k;
    if ((k = events_in(&S[HT_STREAM_STACK], MAX_STACK)) < n) n = k;
    if ((k = events_in(&S[HT_STREAM_ADDRESS], MAX_ADDRESS)) < n) n = k;
    if ((k = events_in(&S[HT_STREAM_MISC], MAX_MISC)) < n) n = k;
    return n;
}

/* Decode n events that run_length allows, stopping early at a tag off the
 * direct path or at an event whose sizes could reach the stream's end.
 * Returns the number decoded. */
static uint32_t run(ht_chunk_decoder *d, const ht_record_plan *plan, ht_record *recs, uint32_t n,
                    unsigned *bad)
{
    ht_codec_state *st = &d->state;
    ht_cursor *S = d->streams;
    /* The cursors and the model's hot fields in locals: through the
     * pointers, every store to a record would make the compiler load them
     * again. */
    const unsigned char *tag_p = S[HT_STREAM_TAG].p, *time_p = S[HT_STREAM_TIME].p,
                        *thread_p = S[HT_STREAM_THREAD].p, *stack_p = S[HT_STREAM_STACK].p,
                        *size_p = S[HT_STREAM_SIZE].p, *addr_p = S[HT_STREAM_ADDRESS].p,
                        *misc_p = S[HT_STREAM_MISC].p;
    const unsigned char *size_end = S[HT_STREAM_SIZE].end;
    uint64_t now = st->prev_time;
    uint64_t thread = st->threads.v[0];
    unsigned pos = st->addr.recent_pos;
    uint64_t last = st->addr.last;
    unsigned broken = 0;
    uint64_t recent = 0;
    ht_record *r = recs, *end = recs + n;
    for (; r < end; r++) {
        unsigned tag = *tag_p;
        if (size_end - size_p <= plan->size_stop[tag])
            break;
        unsigned path = plan->path[tag];
        tag_p++;
        /* The streams are independent: each one is read in its own order,
         * here the misc stream's two fields together. */
        now += (uint64_t)ht_unzigzag(varint(&time_p, &broken));
        r->time = now;
        r->tid = (uint32_t)mru_front(&st->threads, &thread, &thread_p, &broken);
        (void)varint(&stack_p, &broken);
        if (__builtin_expect(*misc_p == 0, 1)) /* the heap handle: kept in the MRU only */
            misc_p++;
        else
            (void)mru(&st->handles, &misc_p, &broken);
        r->type = plan->type[tag];
        r->flags = 0;
        /* A one-byte Source (nearly all) needs no clamping: written this
         * way, the test is the varint's own. */
        uint64_t source = varint(&misc_p, &broken);
        r->source = source < 0x80 ? (uint8_t)source : clamp_source((uint32_t)source);
        switch (path) {
        case PATH_ALLOC: /* old_address, and for a FREE size, are not the type's: not written */
            r->u.heap.size = varint(&size_p, &broken);
            r->u.heap.address = address(&st->addr, &pos, &last, &recent, &addr_p, &broken);
            break;
        case PATH_FREE:
            r->u.heap.address = address(&st->addr, &pos, &last, &recent, &addr_p, &broken);
            break;
        default:
            r->u.heap.address = address(&st->addr, &pos, &last, &recent, &addr_p, &broken);
            r->u.heap.old_address = address(&st->addr, &pos, &last, &recent, &addr_p, &broken);
            r->u.heap.size = varint(&size_p, &broken);
            (void)varint(&size_p, &broken); /* OldSize: the analyses know it from the live block */
            break;
        }
    }
    *bad |= broken | (recent >= HT_ADDR_RECENT);
    st->prev_time = now;
    st->addr.recent_pos = pos;
    st->addr.last = last;
    S[HT_STREAM_TAG].p = tag_p;
    S[HT_STREAM_TIME].p = time_p;
    S[HT_STREAM_THREAD].p = thread_p;
    S[HT_STREAM_STACK].p = stack_p;
    S[HT_STREAM_SIZE].p = size_p;
    S[HT_STREAM_ADDRESS].p = addr_p;
    S[HT_STREAM_MISC].p = misc_p;
    return (uint32_t)(r - recs);
}

long ht_records_decode(ht_chunk_decoder *d, const ht_record_plan *plan, ht_event *ev,
                       ht_record *recs, uint32_t max, uint64_t *lost)
{
    unsigned bad = 0;
    char why[8]; /* the checked path's message is not kept: the caller redoes it */
    uint32_t i = 0;
    while (i < max) {
        size_t n = run_length(d);
        if (n > max - i)
            n = max - i;
        i += run(d, plan, recs + i, (uint32_t)n, &bad);
        if (i == max)
            break;
        /* A tag off the direct path, or the end of a stream near. */
        if (!ht_decoder_next(d, ev, why, sizeof why))
            return -1;
        ht_record *r = &recs[i++];
        ht_record_from_event(ev, r);
        if (r->type == HT_EVENT_LOST && !(r->flags & HT_EVENT_FLAG_UNKNOWN_TYPE))
            *lost += r->u.lost;
    }
    return bad ? -1 : (long)max;
}
