/* The streaming trace summary (see summary.h). */
#include "analysis/summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/records.h"

#define NAME_MAX_LEN 64

typedef struct type_slot {
    uint16_t type;
    char name[NAME_MAX_LEN];
} type_slot;

struct ht_summary {
    ht_process_summary **procs; /* pointers, so that entries never move */
    size_t nprocs, cap;
    ht_idmap by_pid;            /* pid -> index of its latest entry */
    uint32_t last_pid;          /* one-entry cache: events come a chunk of one pid at a time */
    ht_process_summary *last;

    int16_t slot_of[256];       /* slot of each type number below 256, -1 when unseen */
    type_slot slots[HT_SUMMARY_MAX_TYPES];
    size_t nslots;

    uint64_t live_bytes;        /* sum over running images, for the trace-wide peak */
    ht_idmap threads;           /* every thread id of the trace */
    ht_usage totals;
};

ht_summary *ht_summary_create(void)
{
    ht_summary *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    memset(s->slot_of, 0xFF, sizeof s->slot_of);
    ht_idmap_init(&s->by_pid);
    ht_idmap_init(&s->threads);
    return s;
}

void ht_summary_destroy(ht_summary *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nprocs; i++) {
        ht_process_summary *p = s->procs[i];
        ht_live_destroy(&p->live);
        ht_idmap_destroy(&p->threads);
        free(p->command);
        free(p->executable);
        free(p);
    }
    free(s->procs);
    ht_idmap_destroy(&s->by_pid);
    ht_idmap_destroy(&s->threads);
    free(s);
}

static ht_process_summary *new_entry(ht_summary *s, uint32_t pid)
{
    if (s->nprocs == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        ht_process_summary **n = realloc(s->procs, cap * sizeof *n);
        if (!n)
            return NULL;
        s->procs = n;
        s->cap = cap;
    }
    ht_process_summary *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (ht_idmap_put(&s->by_pid, pid, (uint32_t)s->nprocs) < 0) {
        free(p);
        return NULL;
    }
    p->pid = pid;
    ht_live_init(&p->live);
    ht_idmap_init(&p->threads);
    s->procs[s->nprocs++] = p;
    s->last_pid = pid;
    s->last = p;
    return p;
}

static ht_process_summary *running_lookup(ht_summary *s, uint32_t pid);

/* The running entry of pid, or NULL when it has none. Inline: nearly every
 * event is of the process before it. */
static inline ht_process_summary *running(ht_summary *s, uint32_t pid)
{
    if (s->last && s->last_pid == pid && !s->last->ended)
        return s->last;
    return running_lookup(s, pid);
}

static ht_process_summary *running_lookup(ht_summary *s, uint32_t pid)
{
    uint32_t index;
    if (!ht_idmap_get(&s->by_pid, pid, &index) || s->procs[index]->ended)
        return NULL;
    s->last_pid = pid;
    s->last = s->procs[index];
    return s->last;
}

/* The image's end: what is live leaks, and its memory leaves the trace-wide sum. */
static void end_image(ht_summary *s, ht_process_summary *p)
{
    p->usage.leaked_bytes = p->usage.live_bytes;
    p->usage.leaked_blocks = p->usage.live_blocks;
    s->live_bytes -= p->usage.live_bytes;
    ht_live_destroy(&p->live);
    ht_idmap_destroy(&p->threads);
    p->ended = 1;
}

static char *copy_bytes(const ht_str *str, size_t *len)
{
    char *c = malloc(str->len + 1u);
    if (!c)
        return NULL;
    if (str->len)
        memcpy(c, str->data, str->len);
    c[str->len] = '\0';
    *len = str->len;
    return c;
}

/* Name the image from its PROCESS_START: the arguments, NUL-separated in the
 * event, read as one line. */
static int name_image(ht_process_summary *p, const ht_record *r)
{
    ht_str cl = {r->u.start.command_line, r->u.start.command_line_len};
    ht_str exe = {r->u.start.executable, r->u.start.executable_len};
    while (cl.len && cl.data[cl.len - 1] == '\0')
        cl.len--;
    if (!(p->command = copy_bytes(&cl, &p->command_len)) ||
        !(p->executable = copy_bytes(&exe, &p->executable_len)))
        return -1;
    for (size_t i = 0; i < p->command_len; i++)
        if (p->command[i] == '\0')
            p->command[i] = ' ';
    p->ppid = r->u.start.parent_pid;
    p->started = 1;
    return 0;
}

/* The entry a PROCESS_START belongs to: the running one if it has no name
 * yet, else a new one (after an exec, the old image ends first). */
static ht_process_summary *start_image(ht_summary *s, uint32_t pid, const ht_record *r)
{
    ht_process_summary *p = running(s, pid);
    int exec = 0;
    if (p && p->started) {
        end_image(s, p);
        exec = 1;
        p = NULL;
    }
    if (!p && !(p = new_entry(s, pid)))
        return NULL;
    p->after_exec = exec;
    return name_image(p, r) < 0 ? NULL : p;
}

static int new_slot(ht_summary *s, const ht_record *r);

static inline int slot_for(ht_summary *s, const ht_record *r)
{
    uint16_t type = r->type;
    if (type < 256 && s->slot_of[type] >= 0)
        return s->slot_of[type];
    return new_slot(s, r);
}

/* A type not seen yet, or one numbered 256 or above. */
static int new_slot(ht_summary *s, const ht_record *r)
{
    uint16_t type = r->type;
    for (size_t i = 0; i < s->nslots; i++)
        if (s->slots[i].type == type)
            return (int)i;
    if (s->nslots == HT_SUMMARY_MAX_TYPES)
        return -1;
    type_slot *t = &s->slots[s->nslots];
    t->type = type;
    const char *name = ht_event_type_name(type);
    if (!name || (r->flags & HT_EVENT_FLAG_UNKNOWN_TYPE))
        name = ht_record_name(r);
    if (name)
        snprintf(t->name, sizeof t->name, "%s", name);
    else
        snprintf(t->name, sizeof t->name, "type_0x%x", type);
    if (type < 256)
        s->slot_of[type] = (int16_t)s->nslots;
    return (int)s->nslots++;
}

static int new_thread(ht_summary *s, ht_process_summary *p, uint32_t tid);

/* Where the cache keeps tid: a multiply, so that ids a round number apart
 * (a generator's, or a pid's threads) do not share a place. */
static inline unsigned tid_cache_slot(uint32_t tid)
{
    _Static_assert(HT_SUMMARY_TID_CACHE == 8, "three bits of the hash pick the place");
    return (unsigned)((tid * 0x9E3779B9u) >> 29);
}

static inline int note_thread(ht_summary *s, ht_process_summary *p, uint32_t tid)
{
    /* Threads interleave event by event: a small cache of the ones already
     * counted spares the sets nearly every lookup. */
    if (p->recent_tids[tid_cache_slot(tid)] == tid + 1)
        return 0;
    return new_thread(s, p, tid);
}

static int new_thread(ht_summary *s, ht_process_summary *p, uint32_t tid)
{
    uint32_t *cached = &p->recent_tids[tid_cache_slot(tid)];
    int r = ht_idmap_put(&p->threads, tid, 0);
    if (r < 0)
        return -1;
    if (r == 1) {
        /* new to the image; it may still be known to the trace (exec, pid reuse) */
        if (ht_idmap_put(&s->threads, tid, 0) < 0)
            return -1;
        p->usage.threads++;
    }
    *cached = tid + 1;
    return 0;
}

static inline unsigned source_slot(uint32_t source)
{
    return source < HT_SUMMARY_SOURCES ? source : 0;
}

/* Records looked at ahead of the one being added: enough to cover a miss
 * to memory, few enough that the lines are still in cache when used. */
#define PREFETCH_AHEAD 16

/* Start fetching the live-table slots record r will touch (inlined by
 * force, as ht_live_prefetch is). */
static inline __attribute__((always_inline)) void prefetch_record(const ht_process_summary *p,
                                                                  const ht_record *r)
{
    switch (r->type) {
    case HT_EVENT_HEAP_REALLOC:
        ht_live_prefetch(&p->live, r->u.heap.old_address);
        /* fall through */
    case HT_EVENT_HEAP_ALLOC:
    case HT_EVENT_HEAP_FREE:
        ht_live_prefetch(&p->live, r->u.heap.address);
        break;
    default:
        break;
    }
}

/* Bring the live figures up to date after a change of the live table, and
 * raise the peaks. */
static inline void settle(ht_summary *s, ht_process_summary *p, uint64_t ts)
{
    ht_usage *u = &p->usage;
    uint64_t now = ht_live_bytes(&p->live);
    s->live_bytes += now - u->live_bytes; /* modular: right for a decrease too */
    u->live_bytes = now;
    u->live_blocks = ht_live_count(&p->live);
    if (now > u->peak_bytes) {
        u->peak_bytes = now;
        u->peak_time = ts;
    }
    if (s->live_bytes > s->totals.peak_bytes) {
        s->totals.peak_bytes = s->live_bytes;
        s->totals.peak_time = ts;
    }
}

/* A new block at address (0: the allocation failed). */
static inline int add_block(ht_process_summary *p, uint64_t address, uint64_t size)
{
    if (address == 0)
        return 0;
    ht_live_block b = {.size = size};
    int r = ht_live_insert(&p->live, address, &b, NULL);
    if (r < 0)
        return -1;
    if (r == 0)
        p->usage.anomalies.alloc_over_live++;
    p->usage.bytes_allocated += size;
    return 0;
}

/* Take REALLOC r's old block out of p's live blocks. Returns the size it
 * had; 0 when it was not live (an anomaly, unless the old address is 0). */
static inline uint64_t remove_old_block(ht_process_summary *p, const ht_record *r)
{
    ht_live_block gone;
    if (r->u.heap.old_address && ht_live_remove(&p->live, r->u.heap.old_address, &gone))
        return gone.size;
    if (r->u.heap.old_address)
        p->usage.anomalies.realloc_unknown++;
    return 0;
}

/* An ALLOC, FREE or REALLOC of image p (heap semantics in summary.h), one
 * at a time (heap_run below does runs of them); a REALLOC's old size goes
 * to *old_size where that is not NULL. Inlined by force: it is the body of
 * ht_summary_add, which the recorder calls for every event, and a call
 * costs a tenth of the event. */
static inline __attribute__((always_inline)) int heap_event(ht_summary *s, ht_process_summary *p,
                                                            const ht_record *r,
                                                            uint64_t *old_size)
{
    ht_usage *u = &p->usage;
    switch (r->type) {
    case HT_EVENT_HEAP_ALLOC:
        u->by_source[source_slot(r->source)]++;
        if (add_block(p, r->u.heap.address, r->u.heap.size) < 0)
            return -1;
        break;
    case HT_EVENT_HEAP_FREE:
        if (r->u.heap.address && !ht_live_remove(&p->live, r->u.heap.address, NULL))
            u->anomalies.free_unknown++;
        break;
    default: { /* HT_EVENT_HEAP_REALLOC */
        u->by_source[source_slot(r->source)]++;
        uint64_t was = remove_old_block(p, r);
        if (old_size)
            *old_size = was;
        if (add_block(p, r->u.heap.address, r->u.heap.size) < 0)
            return -1;
        break;
    }
    }
    settle(s, p, r->time);
    return 0;
}

/* An ALLOC, FREE or REALLOC of a layout this library knows. */
static inline int is_heap(const ht_record *r)
{
    return !(r->flags & HT_EVENT_FLAG_UNKNOWN_TYPE) &&
           (r->type == HT_EVENT_HEAP_ALLOC || r->type == HT_EVENT_HEAP_FREE ||
            r->type == HT_EVENT_HEAP_REALLOC);
}

/* The counts every event of image p changes (inlined by force, as
 * heap_event is). */
static inline __attribute__((always_inline)) int count_event(ht_summary *s,
                                                             ht_process_summary *p,
                                                             const ht_record *r)
{
    ht_usage *u = &p->usage;
    if (u->events == 0 || r->time < u->first_time)
        u->first_time = r->time;
    if (r->time > u->last_time)
        u->last_time = r->time;
    u->events++;
    int slot = slot_for(s, r);
    if (slot >= 0)
        u->by_type[slot]++;
    return note_thread(s, p, r->tid);
}

/* The image an event of pid belongs to (PROCESS_START may begin one). */
static inline ht_process_summary *image_of(ht_summary *s, uint32_t pid, const ht_record *r,
                                           int known)
{
    if (r->type == HT_EVENT_PROCESS_START && known)
        return start_image(s, pid, r);
    ht_process_summary *p = running(s, pid);
    return p ? p : new_entry(s, pid);
}

static inline int add_record(ht_summary *s, uint32_t pid, const ht_record *r,
                             uint64_t *old_size)
{
    int known = !(r->flags & HT_EVENT_FLAG_UNKNOWN_TYPE);
    ht_process_summary *p = image_of(s, pid, r, known);
    if (!p || count_event(s, p, r) < 0)
        return -1;
    if (!known)
        return 0;
    switch (r->type) {
    case HT_EVENT_HEAP_ALLOC:
    case HT_EVENT_HEAP_FREE:
    case HT_EVENT_HEAP_REALLOC:
        return heap_event(s, p, r, old_size);
    case HT_EVENT_LOST:
        p->usage.lost_events += r->u.lost;
        return 0;
    case HT_EVENT_PROCESS_EXIT:
        p->exited = 1;
        p->exit_known = r->u.exit.known != 0;
        p->exit_status = r->u.exit.status;
        end_image(s, p);
        return 0;
    default:
        return 0;
    }
}

int ht_summary_add(ht_summary *s, const ht_event *ev)
{
    ht_record r;
    ht_record_from_event(ev, &r);
    /* A heap event of a running image, as in ht_summary_add_records. */
    ht_process_summary *p = running(s, ev->Header.ProcessId);
    if (p && is_heap(&r))
        return count_event(s, p, &r) < 0 || heap_event(s, p, &r, NULL) < 0 ? -1 : 0;
    return add_record(s, ev->Header.ProcessId, &r, NULL);
}


/* Apply the heap events at the start of recs (n of them) to image p, up to
 * the first record of another kind or of a heap type not counted yet (its
 * slot comes first, in order of sight): the same as count_event and
 * heap_event for each, with what every event changes (counts, first and
 * last time, live and peak figures) kept in locals and written back once,
 * and the thread set looked at only when the thread changes. Sets *applied
 * to the records applied; returns 0, or -1 when memory ran out. */
static int heap_run(ht_summary *s, ht_process_summary *p, const ht_record *recs, size_t n,
                    uint64_t *old_sizes, size_t *applied)
{
    ht_usage *u = &p->usage;
    const ht_live *live = &p->live;
    int slot_alloc = s->slot_of[HT_EVENT_HEAP_ALLOC], slot_free = s->slot_of[HT_EVENT_HEAP_FREE],
        slot_realloc = s->slot_of[HT_EVENT_HEAP_REALLOC];
    /* The types the run takes: a type without a slot is matched by no
     * record (no type number is that large). */
    uint32_t alloc = slot_alloc >= 0 ? HT_EVENT_HEAP_ALLOC : UINT32_MAX,
             free_ = slot_free >= 0 ? HT_EVENT_HEAP_FREE : UINT32_MAX,
             realloc_ = slot_realloc >= 0 ? HT_EVENT_HEAP_REALLOC : UINT32_MAX;
    uint64_t allocs = 0, frees = 0, reallocs = 0;
    uint64_t first = u->events ? u->first_time : UINT64_MAX, last = u->last_time;
    /* What the other running images hold: the trace-wide sum is this plus
     * p's live bytes while p is the only image that changes. */
    uint64_t others = s->live_bytes - u->live_bytes;
    uint64_t peak = u->peak_bytes, peak_time = u->peak_time;
    uint64_t all_peak = s->totals.peak_bytes, all_peak_time = s->totals.peak_time;
    /* A peak can rise only when p's live bytes reach this. Alone, p's bytes
     * are the sum: the lower of the two peaks is the one to pass. With
     * others running, both are checked at every event (0). */
    uint64_t rise = others ? 0 : peak < all_peak ? peak : all_peak;
    uint32_t noted = 0; /* tid + 1 of the last thread noted, 0 before any */
    int result = 0;
    size_t i = 0;
    for (; i < n; i++) {
        const ht_record *r = &recs[i];
        if (i + PREFETCH_AHEAD < n)
            prefetch_record(p, &recs[i + PREFETCH_AHEAD]);
        if (r->flags & HT_EVENT_FLAG_UNKNOWN_TYPE)
            break;
        uint32_t type = r->type;
        if (type == alloc) {
            allocs++;
            u->by_source[source_slot(r->source)]++;
            if (add_block(p, r->u.heap.address, r->u.heap.size) < 0) {
                result = -1;
                break;
            }
        } else if (type == free_) {
            frees++;
            if (r->u.heap.address && !ht_live_remove(&p->live, r->u.heap.address, NULL))
                u->anomalies.free_unknown++;
        } else if (type == realloc_) {
            reallocs++;
            u->by_source[source_slot(r->source)]++;
            uint64_t was = remove_old_block(p, r);
            if (old_sizes)
                old_sizes[i] = was;
            if (add_block(p, r->u.heap.address, r->u.heap.size) < 0) {
                result = -1;
                break;
            }
        } else {
            break;
        }
        uint64_t ts = r->time;
        first = ts < first ? ts : first;
        last = ts > last ? ts : last;
        uint64_t now = ht_live_bytes(live);
        if (now >= rise) {
            if (now > peak) {
                peak = now;
                peak_time = ts;
            }
            if (others + now > all_peak) {
                all_peak = others + now;
                all_peak_time = ts;
            }
            if (!others)
                rise = peak < all_peak ? peak : all_peak;
        }
        if (r->tid + 1 != noted) {
            if (note_thread(s, p, r->tid) < 0) {
                result = -1;
                break;
            }
            noted = r->tid + 1;
        }
    }
    if (i) {
        u->events += i;
        if (slot_alloc >= 0)
            u->by_type[slot_alloc] += allocs;
        if (slot_free >= 0)
            u->by_type[slot_free] += frees;
        if (slot_realloc >= 0)
            u->by_type[slot_realloc] += reallocs;
        u->first_time = first;
        u->last_time = last;
        u->live_bytes = ht_live_bytes(live);
        u->live_blocks = ht_live_count(live);
        s->live_bytes = others + u->live_bytes;
        u->peak_bytes = peak;
        u->peak_time = peak_time;
        s->totals.peak_bytes = all_peak;
        s->totals.peak_time = all_peak_time;
    }
    *applied = i;
    return result;
}

int ht_summary_add_records(ht_summary *s, uint32_t pid, const ht_record *recs, size_t n,
                           uint64_t *old_sizes)
{
    /* Heap events make nearly every record, and each one looks up a block
     * of a table far larger than the caches: the lookups of the records
     * ahead are started early (in heap_run), so that their misses overlap.
     * The image changes only at a record of another kind. */
    ht_process_summary *p = running(s, pid);
    size_t i = 0;
    while (i < n) {
        if (p) {
            size_t applied;
            if (heap_run(s, p, recs + i, n - i, old_sizes ? old_sizes + i : NULL, &applied) < 0)
                return -1;
            i += applied;
            if (i == n)
                break;
        }
        if (add_record(s, pid, &recs[i], old_sizes ? &old_sizes[i] : NULL) < 0)
            return -1;
        p = running(s, pid);
        i++;
    }
    return 0;
}

static void add_usage(ht_usage *t, const ht_usage *u)
{
    if (u->events) {
        if (t->events == 0 || u->first_time < t->first_time)
            t->first_time = u->first_time;
        if (u->last_time > t->last_time)
            t->last_time = u->last_time;
    }
    t->events += u->events;
    for (size_t i = 0; i < HT_SUMMARY_MAX_TYPES; i++)
        t->by_type[i] += u->by_type[i];
    t->bytes_allocated += u->bytes_allocated;
    t->live_bytes += u->live_bytes;
    t->live_blocks += u->live_blocks;
    t->leaked_bytes += u->leaked_bytes;
    t->leaked_blocks += u->leaked_blocks;
    for (size_t i = 0; i < HT_SUMMARY_SOURCES; i++)
        t->by_source[i] += u->by_source[i];
    t->lost_events += u->lost_events;
    t->anomalies.free_unknown += u->anomalies.free_unknown;
    t->anomalies.realloc_unknown += u->anomalies.realloc_unknown;
    t->anomalies.alloc_over_live += u->anomalies.alloc_over_live;
}

void ht_summary_finish(ht_summary *s)
{
    ht_usage *t = &s->totals;
    uint64_t peak = t->peak_bytes, peak_time = t->peak_time;
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < s->nprocs; i++) {
        ht_process_summary *p = s->procs[i];
        if (!p->ended)
            end_image(s, p);
        add_usage(t, &p->usage);
    }
    t->peak_bytes = peak;
    t->peak_time = peak_time;
    t->threads = ht_idmap_count(&s->threads);
    ht_idmap_destroy(&s->threads);
    ht_idmap_destroy(&s->by_pid);
    s->last = NULL;
}

size_t ht_summary_process_count(const ht_summary *s) { return s->nprocs; }

const ht_process_summary *ht_summary_process(const ht_summary *s, size_t index)
{
    return index < s->nprocs ? s->procs[index] : NULL;
}

const ht_usage *ht_summary_totals(const ht_summary *s) { return &s->totals; }

const char *ht_summary_type(const ht_summary *s, size_t index, uint16_t *type)
{
    if (index >= s->nslots)
        return NULL;
    if (type)
        *type = s->slots[index].type;
    return s->slots[index].name;
}

uint64_t ht_summary_type_count(const ht_summary *s, const ht_usage *u, uint16_t type)
{
    for (size_t i = 0; i < s->nslots; i++)
        if (s->slots[i].type == type)
            return u->by_type[i];
    return 0;
}

const char *ht_summary_source_name(unsigned slot)
{
    return slot > 0 && slot < HT_SUMMARY_SOURCES ? ht_source_name(slot) : "unknown";
}

void ht_summary_prefetch(ht_summary *s, uint32_t pid, uint64_t address)
{
    ht_process_summary *p = running(s, pid);
    if (p)
        ht_live_prefetch(&p->live, address);
}
