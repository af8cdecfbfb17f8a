/* heaptrail report --json: one object with every table (man/heaptrail-report.1). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/json.h"
#include "cli/report.h"

static void json_site(const ht_cli_site *site, int window)
{
    const ht_site *s = &site->fig;
    uint64_t dead = s->allocs - s->leaked_blocks;
    printf("{\"allocations\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"temporary\":%" PRIu64
           ",\"temporary_bytes\":%" PRIu64 ",\"peak_blocks\":%" PRIu64 ",\"peak_bytes\":%" PRIu64
           ",\"leaked_blocks\":%" PRIu64 ",\"leaked_bytes\":%" PRIu64 ",\"mean_lifetime_ns\":",
           s->allocs, s->bytes, s->temporary, s->temporary_bytes, s->peak_blocks, s->peak_bytes,
           s->leaked_blocks, s->leaked_bytes);
    if (dead)
        printf("%" PRIu64, s->lifetime_total / dead);
    else
        fputs("null", stdout);
    printf(",\"pid\":%" PRIu32 ",\"processes\":%u", s->pid, site->many_pids ? site->images : 1);
    if (window) {
        fputs(",\"window\":{", stdout);
        for (int k = 0; k < HT_WINDOW_TYPES; k++)
            printf("%s\"%s\":{\"blocks\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", k ? "," : "",
                   ht_window_type_name((unsigned)k), s->window_blocks[k], s->window_bytes[k]);
        fputc('}', stdout);
    }
    fputs(",\"stack\":", stdout);
    ht_cli_json_frames(stdout, site->frames, site->nframes);
    fputc('}', stdout);
}

static void json_row(const ht_breakdown_row *row)
{
    printf("\"allocations\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"frees\":%" PRIu64, row->allocs,
           row->bytes, row->frees);
}

void ht_report_json(ht_report *r)
{
    const ht_usage *t = ht_summary_totals(r->summary);
    const ht_report_options *o = r->o;
    fputs("{\"trace\":", stdout);
    ht_json_put_string(stdout, r->path, strlen(r->path));
    fputs(",\"filters\":{", stdout);
    printf("\"pid\":");
    if (o->by_pid)
        printf("%" PRIu32, o->pid);
    else
        fputs("null", stdout);
    printf(",\"min_size\":%" PRIu64 ",\"max_size\":", o->min_size);
    if (o->max_size != UINT64_MAX)
        printf("%" PRIu64, o->max_size);
    else
        fputs("null", stdout);
    printf(",\"min_lifetime_ns\":%" PRIu64 ",\"max_lifetime_ns\":", o->min_lifetime);
    if (o->max_lifetime != UINT64_MAX)
        printf("%" PRIu64, o->max_lifetime);
    else
        fputs("null", stdout);
    fputs(",\"require_frames\":[", stdout);
    for (size_t i = 0; i < o->nrequire; i++) {
        if (i)
            fputc(',', stdout);
        ht_json_put_string(stdout, o->require[i], strlen(o->require[i]));
    }
    fputs("],\"from_ns\":", stdout);
    if (o->window)
        printf("%" PRIu64 ",\"to_ns\":%" PRIu64, r->from - r->start,
               r->to == UINT64_MAX ? UINT64_MAX : r->to - r->start);
    else
        fputs("null,\"to_ns\":null", stdout);
    printf(",\"at_ns\":");
    if (o->window == HT_REPORT_AT)
        printf("%" PRIu64, o->at);
    else
        fputs("null", stdout);

    uint64_t allocs = ht_summary_type_count(r->summary, t, HT_EVENT_HEAP_ALLOC);
    uint64_t reallocs = ht_summary_type_count(r->summary, t, HT_EVENT_HEAP_REALLOC);
    printf("},\"summary\":{\"duration_ns\":%" PRIu64 ",\"threads\":%" PRIu64
           ",\"events\":%" PRIu64 ",\"alloc\":%" PRIu64 ",\"free\":%" PRIu64
           ",\"realloc\":%" PRIu64 ",\"allocations\":%" PRIu64 ",\"bytes_allocated\":%" PRIu64
           ",\"peak_bytes\":%" PRIu64 ",\"peak_time_ns\":",
           t->events ? t->last_time - t->first_time : 0, t->threads, t->events, allocs,
           ht_summary_type_count(r->summary, t, HT_EVENT_HEAP_FREE), reallocs, allocs + reallocs,
           t->bytes_allocated, t->peak_bytes);
    if (t->peak_bytes)
        printf("%" PRIu64, t->peak_time - r->start);
    else
        fputs("null", stdout);
    printf(",\"leaked_bytes\":%" PRIu64 ",\"leaked_blocks\":%" PRIu64
           ",\"temporary\":%" PRIu64 ",\"temporary_bytes\":%" PRIu64 ",\"lost_events\":%" PRIu64
           ",\"processes\":[",
           t->leaked_bytes, t->leaked_blocks, r->total.temporary, r->total.temporary_bytes,
           t->lost_events);
    for (size_t i = 0; i < ht_summary_process_count(r->summary); i++) {
        const ht_process_summary *p = ht_summary_process(r->summary, i);
        const ht_usage *u = &p->usage;
        printf("%s{\"pid\":%" PRIu32 ",\"command\":", i ? "," : "", p->pid);
        if (p->started)
            ht_json_put_string(stdout, p->command, p->command_len);
        else
            fputs("null", stdout);
        printf(",\"allocations\":%" PRIu64 ",\"bytes_allocated\":%" PRIu64
               ",\"peak_bytes\":%" PRIu64 ",\"peak_time_ns\":",
               ht_summary_type_count(r->summary, u, HT_EVENT_HEAP_ALLOC) +
                   ht_summary_type_count(r->summary, u, HT_EVENT_HEAP_REALLOC),
               u->bytes_allocated, u->peak_bytes);
        if (u->peak_bytes)
            printf("%" PRIu64, u->peak_time - r->start);
        else
            fputs("null", stdout);
        printf(",\"leaked_bytes\":%" PRIu64 ",\"leaked_blocks\":%" PRIu64 "}", u->leaked_bytes,
               u->leaked_blocks);
    }
    fputs("]}", stdout);

    if (o->window) {
        fputs(",\"window\":{", stdout);
        for (int k = 0; k < HT_WINDOW_TYPES; k++)
            printf("%s\"%s\":{\"blocks\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", k ? "," : "",
                   ht_window_type_name((unsigned)k), r->total.window_blocks[k],
                   r->total.window_bytes[k]);
        fputc('}', stdout);
    }
    fputs(",\"top\":{", stdout);
    for (ht_report_rank by = HT_RANK_ALLOCS; by <= HT_RANK_WINDOW; by++) {
        if (by == HT_RANK_WINDOW && !o->window)
            break;
        printf("%s\"%s\":[", by ? "," : "", ht_report_rank_names[by]);
        size_t n = ht_report_ranked(r, by);
        const ht_cli_site **buf = r->ranking;
        for (size_t i = 0; i < n; i++) {
            if (i)
                fputc(',', stdout);
            json_site(buf[i], o->window != HT_REPORT_NO_WINDOW);
        }
        fputc(']', stdout);
    }
    fputs("}", stdout);

    ht_breakdown *bd = &r->breakdown;
    fputs(",\"histogram\":[", stdout);
    int first = 1;
    for (unsigned k = 0; k < HT_BREAKDOWN_BUCKETS; k++) {
        const ht_breakdown_row *h = &bd->histogram[k];
        if (!h->allocs)
            continue;
        uint64_t min = ht_breakdown_bucket_min(k);
        printf("%s{\"min_size\":%" PRIu64 ",\"max_size\":%" PRIu64 ",\"allocations\":%" PRIu64
               ",\"bytes\":%" PRIu64 "}",
               first ? "" : ",", min, k ? min * 2 - 1 : 0, h->allocs, h->bytes);
        first = 0;
    }
    fputs("],\"sources\":[", stdout);
    first = 1;
    for (unsigned k = 0; k < HT_BREAKDOWN_SOURCES; k++)
        if (bd->sources[k].allocs) {
            printf("%s{\"source\":\"%s\",\"allocations\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
                   first ? "" : ",", ht_report_source_label(k), bd->sources[k].allocs,
                   bd->sources[k].bytes);
            first = 0;
        }
    fputs("],\"threads\":[", stdout);
    size_t n = o->top && bd->nthreads > o->top ? o->top : bd->nthreads;
    for (size_t i = 0; i < n; i++) {
        const ht_thread_row *th = &bd->threads[i];
        printf("%s{\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"name\":", i ? "," : "", th->pid,
               th->tid);
        if (th->name[0])
            ht_json_put_string(stdout, th->name, strlen(th->name));
        else
            fputs("null", stdout);
        fputc(',', stdout);
        json_row(&th->ops);
        fputc('}', stdout);
    }
    fputs("],\"heaps\":[", stdout);
    n = o->top && bd->nheaps > o->top ? o->top : bd->nheaps;
    for (size_t i = 0; i < n; i++) {
        printf("%s{\"pid\":%" PRIu32 ",\"heap\":%" PRIu64 ",", i ? "," : "", bd->heaps[i].pid,
               bd->heaps[i].heap);
        json_row(&bd->heaps[i].ops);
        fputc('}', stdout);
    }
    fputs("]}\n", stdout);
}

