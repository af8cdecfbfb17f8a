/* What the outputs of heaptrail report share (see report.h). */
#include "cli/report.h"

#include <stdlib.h>

double ht_report_percent(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

const char *const ht_report_rank_names[HT_RANKS] = {"allocations", "bytes", "peak",
                                                    "leaked",      "temporary", "window"};

static uint64_t window_bytes(const ht_site *s)
{
    uint64_t b = 0;
    for (int k = 0; k < HT_WINDOW_TYPES; k++)
        b += s->window_bytes[k];
    return b;
}

uint64_t ht_report_rank_key(const ht_site *s, ht_report_rank by, uint64_t *second)
{
    switch (by) {
    case HT_RANK_ALLOCS: *second = s->bytes; return s->allocs;
    case HT_RANK_BYTES: *second = s->allocs; return s->bytes;
    case HT_RANK_PEAK: *second = s->peak_blocks; return s->peak_bytes;
    case HT_RANK_LEAKED: *second = s->leaked_blocks; return s->leaked_bytes;
    case HT_RANK_TEMPORARY: *second = s->temporary_bytes; return s->temporary;
    default: *second = s->allocs; return window_bytes(s);
    }
}

static ht_report_rank sort_by; /* for larger_first: qsort takes no context */

static int larger_first(const void *a, const void *b)
{
    const ht_cli_site *x = *(const ht_cli_site *const *)a, *y = *(const ht_cli_site *const *)b;
    uint64_t x2, y2;
    uint64_t x1 = ht_report_rank_key(&x->fig, sort_by, &x2), y1 = ht_report_rank_key(&y->fig, sort_by, &y2);
    if (x1 != y1)
        return x1 < y1 ? 1 : -1;
    if (x2 != y2)
        return x2 < y2 ? 1 : -1;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

size_t ht_report_ranked(ht_report *r, ht_report_rank by)
{
    const ht_cli_site **out = r->ranking;
    size_t n = 0;
    for (size_t i = 0; i < r->table.count; i++) {
        uint64_t second;
        if (ht_report_rank_key(&r->table.sites[i].fig, by, &second))
            out[n++] = &r->table.sites[i];
    }
    sort_by = by;
    qsort(out, n, sizeof *out, larger_first);
    return r->o->top && n > r->o->top ? r->o->top : n;
}

static int threads_first(const void *a, const void *b)
{
    const ht_thread_row *x = a, *y = b;
    return x->ops.allocs != y->ops.allocs ? (x->ops.allocs < y->ops.allocs ? 1 : -1)
                                          : (x->tid > y->tid) - (x->tid < y->tid);
}

static int heaps_first(const void *a, const void *b)
{
    const ht_heap_row *x = a, *y = b;
    return x->ops.allocs != y->ops.allocs ? (x->ops.allocs < y->ops.allocs ? 1 : -1)
                                          : (x->heap > y->heap) - (x->heap < y->heap);
}

uint64_t ht_report_allocations(const ht_breakdown *bd)
{
    uint64_t n = 0;
    for (unsigned k = 0; k < HT_BREAKDOWN_SOURCES; k++)
        n += bd->sources[k].allocs;
    return n;
}

const char *ht_report_source_label(unsigned row)
{
    return row < HT_BREAKDOWN_SOURCES - 1 ? ht_source_name(row) : "other";
}

void ht_report_sort_breakdown(ht_breakdown *bd)
{
    qsort(bd->threads, bd->nthreads, sizeof *bd->threads, threads_first);
    qsort(bd->heaps, bd->nheaps, sizeof *bd->heaps, heaps_first);
}
