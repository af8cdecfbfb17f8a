/* Breakdowns of heap operations (see breakdown.h). Threads and heaps are
 * found through one open-addressing index whose slots hold a row number and
 * a bit saying which array it is in; the rows themselves hold the keys. */
#include "analysis/breakdown.h"

#include <stdlib.h>
#include <string.h>

#define HEAP_ROW (1ull << 63)

void ht_breakdown_init(ht_breakdown *b, const ht_breakdown_filter *filter)
{
    memset(b, 0, sizeof *b);
    if (filter)
        b->filter = *filter;
    else
        b->filter = (ht_breakdown_filter){0, UINT64_MAX, 0, UINT64_MAX};
}

void ht_breakdown_destroy(ht_breakdown *b)
{
    free(b->threads);
    free(b->heaps);
    free(b->index);
    memset(b, 0, sizeof *b);
}

unsigned ht_breakdown_bucket(uint64_t size)
{
    return size ? 64 - (unsigned)__builtin_clzll(size) : 0;
}

uint64_t ht_breakdown_bucket_min(unsigned bucket)
{
    return bucket ? 1ull << (bucket - 1) : 0;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static uint64_t thread_hash(uint32_t pid, uint32_t tid) { return mix((uint64_t)pid << 32 | tid); }

static uint64_t heap_hash(uint32_t pid, uint64_t heap)
{
    return mix(heap ^ mix(pid + 0x9E3779B97F4A7C15ull));
}

static uint64_t slot_hash(const ht_breakdown *b, uint64_t v)
{
    size_t i = (size_t)(v & ~HEAP_ROW) - 1;
    return v & HEAP_ROW ? heap_hash(b->heaps[i].pid, b->heaps[i].heap)
                        : thread_hash(b->threads[i].pid, b->threads[i].tid);
}

static int grow_index(ht_breakdown *b)
{
    size_t cap = b->index ? (b->index_mask + 1) * 2 : 64;
    uint64_t *fresh = calloc(cap, sizeof *fresh);
    if (!fresh)
        return -1;
    for (size_t i = 0; b->index && i <= b->index_mask; i++) {
        uint64_t v = b->index[i];
        if (!v)
            continue;
        size_t j = (size_t)slot_hash(b, v) & (cap - 1);
        while (fresh[j])
            j = (j + 1) & (cap - 1);
        fresh[j] = v;
    }
    free(b->index);
    b->index = fresh;
    b->index_mask = cap - 1;
    return 0;
}

/* Make room for one more row in the index and in *rows. */
static int reserve(ht_breakdown *b, void **rows, size_t count, size_t *cap, size_t size)
{
    size_t used = b->nthreads + b->nheaps;
    if ((!b->index || (used + 1) * 2 > b->index_mask + 1) && grow_index(b) < 0)
        return -1;
    if (count < *cap)
        return 0;
    size_t grown_cap = *cap ? *cap * 2 : 16;
    void *grown = realloc(*rows, grown_cap * size);
    if (!grown)
        return -1;
    *rows = grown;
    *cap = grown_cap;
    return 0;
}

static ht_thread_row *thread_row(ht_breakdown *b, uint32_t pid, uint32_t tid)
{
    size_t i = b->index ? (size_t)thread_hash(pid, tid) & b->index_mask : 0;
    for (; b->index && b->index[i]; i = (i + 1) & b->index_mask) {
        uint64_t v = b->index[i];
        ht_thread_row *r = &b->threads[(v & ~HEAP_ROW) - 1];
        if (!(v & HEAP_ROW) && r->pid == pid && r->tid == tid)
            return r;
    }
    if (reserve(b, (void **)&b->threads, b->nthreads, &b->threads_cap, sizeof *b->threads) < 0)
        return NULL;
    for (i = (size_t)thread_hash(pid, tid) & b->index_mask; b->index[i];)
        i = (i + 1) & b->index_mask;
    ht_thread_row *r = &b->threads[b->nthreads++];
    memset(r, 0, sizeof *r);
    r->pid = pid;
    r->tid = tid;
    b->index[i] = b->nthreads;
    return r;
}

static ht_heap_row *heap_row(ht_breakdown *b, uint32_t pid, uint64_t heap)
{
    size_t i = b->index ? (size_t)heap_hash(pid, heap) & b->index_mask : 0;
    for (; b->index && b->index[i]; i = (i + 1) & b->index_mask) {
        uint64_t v = b->index[i];
        ht_heap_row *r = &b->heaps[(v & ~HEAP_ROW) - 1];
        if ((v & HEAP_ROW) && r->pid == pid && r->heap == heap)
            return r;
    }
    if (reserve(b, (void **)&b->heaps, b->nheaps, &b->heaps_cap, sizeof *b->heaps) < 0)
        return NULL;
    for (i = (size_t)heap_hash(pid, heap) & b->index_mask; b->index[i];)
        i = (i + 1) & b->index_mask;
    ht_heap_row *r = &b->heaps[b->nheaps++];
    memset(r, 0, sizeof *r);
    r->pid = pid;
    r->heap = heap;
    b->index[i] = HEAP_ROW | b->nheaps;
    return r;
}

static int count_alloc(ht_breakdown *b, const ht_event_header *h, uint64_t heap, uint64_t size,
                       uint32_t source)
{
    if (size < b->filter.min_size || size > b->filter.max_size)
        return 0;
    ht_breakdown_row *bucket = &b->histogram[ht_breakdown_bucket(size)];
    bucket->allocs++;
    bucket->bytes += size;
    ht_breakdown_row *src = &b->sources[source < HT_BREAKDOWN_SOURCES - 1 ? source
                                                                         : HT_BREAKDOWN_SOURCES - 1];
    src->allocs++;
    src->bytes += size;
    ht_thread_row *t = thread_row(b, h->ProcessId, h->ThreadId);
    ht_heap_row *hp = t ? heap_row(b, h->ProcessId, heap) : NULL;
    if (!hp)
        return -1;
    t->ops.allocs++;
    t->ops.bytes += size;
    hp->ops.allocs++;
    hp->ops.bytes += size;
    return 0;
}

static int count_free(ht_breakdown *b, const ht_event_header *h, uint64_t heap)
{
    ht_thread_row *t = thread_row(b, h->ProcessId, h->ThreadId);
    ht_heap_row *hp = t ? heap_row(b, h->ProcessId, heap) : NULL;
    if (!hp)
        return -1;
    t->ops.frees++;
    hp->ops.frees++;
    return 0;
}

int ht_breakdown_add(ht_breakdown *b, const ht_event *ev)
{
    const ht_event_header *h = &ev->Header;
    if (h->Type == HT_EVENT_THREAD_NAME) {
        ht_thread_row *t = thread_row(b, h->ProcessId, h->ThreadId);
        if (!t)
            return -1;
        size_t n = ev->u.ThreadName.Name.len;
        if (n >= sizeof t->name)
            n = sizeof t->name - 1;
        memcpy(t->name, ev->u.ThreadName.Name.data, n);
        t->name[n] = '\0';
        return 0;
    }
    if (h->TimeStamp < b->filter.from || h->TimeStamp >= b->filter.to)
        return 0;
    switch (h->Type) {
    case HT_EVENT_HEAP_ALLOC: {
        const ETW_HEAP_EVENT_ALLOC *a = &ev->u.Alloc;
        return a->Address ? count_alloc(b, h, a->HeapHandle, a->Size, a->Source) : 0;
    }
    case HT_EVENT_HEAP_REALLOC: {
        const ETW_HEAP_EVENT_REALLOC *r = &ev->u.Realloc;
        return r->NewAddress ? count_alloc(b, h, r->HeapHandle, r->NewSize, r->Source) : 0;
    }
    case HT_EVENT_HEAP_FREE:
        return ev->u.Free.Address ? count_free(b, h, ev->u.Free.HeapHandle) : 0;
    default:
        return 0;
    }
}
