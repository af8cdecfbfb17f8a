/* heaptrail report as text: tables for a terminal, titles highlighted when
 * it is one. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/report.h"
#include "cli/units.h"

static double seconds(uint64_t ns) { return (double)ns / 1e9; }

static void title(const ht_report *r, const char *text)
{
    if (r->color)
        printf("\n\033[1m%s\033[0m\n", text);
    else
        printf("\n%s\n", text);
}

/* Raw bytes of a command line as one printable line. */
static void put_printable(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        fputc(c < 0x20 || c == 0x7F ? '?' : c, out);
    }
}

static void text_frames(const ht_report *r, const ht_cli_site *s)
{
    ht_cli_print_site_frames(stdout, s->frames, s->nframes, r->o->frames);
}

static void text_sites(ht_report *r, ht_report_rank by, const char *heading)
{
    size_t n = ht_report_ranked(r, by);
    const ht_cli_site **buf = r->ranking;
    if (!n)
        return;
    title(r, heading);
    char a[32], b[32], c[32], d[32], e[32], f[32];
    if (by == HT_RANK_WINDOW) {
        /* Bytes and blocks of each type; at an instant, only AOFO exists. */
        int lo = r->o->window == HT_REPORT_AT ? HT_AOFO : HT_AIFI;
        printf("  %3s", "#");
        for (int k = lo; k < HT_WINDOW_TYPES; k++)
            printf(" %11s %9s", ht_window_type_name((unsigned)k), "BLOCKS");
        fputc('\n', stdout);
        for (size_t i = 0; i < n; i++) {
            const ht_site *s = &buf[i]->fig;
            printf("  %3zu", i + 1);
            for (int k = lo; k < HT_WINDOW_TYPES; k++)
                printf(" %11s %9s", ht_cli_bytes(a, sizeof a, s->window_bytes[k]),
                       ht_cli_count(b, sizeof b, s->window_blocks[k]));
            fputc('\n', stdout);
            text_frames(r, buf[i]);
        }
        return;
    }
    printf("  %3s %13s %6s %11s %13s %11s %11s %10s\n", "#", "ALLOCATIONS", "%", "BYTES",
           "TEMPORARY", "PEAK", "LEAKED", "LIFETIME");
    uint64_t whole_second;
    uint64_t whole = ht_report_rank_key(&r->total, by, &whole_second);
    for (size_t i = 0; i < n; i++) {
        const ht_site *s = &buf[i]->fig;
        uint64_t second;
        uint64_t dead = s->allocs - s->leaked_blocks;
        printf("  %3zu %13s %5.1f%% %11s %13s %11s %11s %10s", i + 1,
               ht_cli_count(a, sizeof a, s->allocs), ht_report_percent(ht_report_rank_key(s, by, &second), whole),
               ht_cli_bytes(b, sizeof b, s->bytes), ht_cli_count(c, sizeof c, s->temporary),
               ht_cli_bytes(d, sizeof d, s->peak_bytes), ht_cli_bytes(e, sizeof e, s->leaked_bytes),
               dead ? ht_cli_duration(f, sizeof f, (double)s->lifetime_total / (double)dead) : "-");
        if (buf[i]->many_pids)
            printf("  (%u processes)", buf[i]->images);
        else
            printf("  (pid %" PRIu32 ")", s->pid);
        fputc('\n', stdout);
        text_frames(r, buf[i]);
    }
}

static void text_summary(const ht_report *r)
{
    const ht_usage *t = ht_summary_totals(r->summary);
    const ht_report_options *o = r->o;
    char a[32], b[32], c[32], d[32];
    printf("heaptrail report: %s\n", r->path);
    if (o->by_pid || o->min_size || o->max_size != UINT64_MAX || o->min_lifetime ||
        o->max_lifetime != UINT64_MAX || o->nrequire || o->window) {
        fputs("filters:", stdout);
        if (o->by_pid)
            printf(" pid %" PRIu32 ";", o->pid);
        if (o->min_size || o->max_size != UINT64_MAX)
            printf(" size %" PRIu64 "..%s bytes;", o->min_size,
                   o->max_size == UINT64_MAX ? "" : ht_cli_count(a, sizeof a, o->max_size));
        if (o->min_lifetime || o->max_lifetime != UINT64_MAX)
            printf(" lifetime %s..%s;", ht_cli_duration(a, sizeof a, (double)o->min_lifetime),
                   o->max_lifetime == UINT64_MAX ? ""
                                                 : ht_cli_duration(b, sizeof b, (double)o->max_lifetime));
        for (size_t i = 0; i < o->nrequire; i++)
            printf(" frame '%s';", o->require[i]);
        if (o->window == HT_REPORT_AT)
            printf(" outstanding at %.6f s;", seconds(o->at));
        else if (o->window == HT_REPORT_WINDOW)
            printf(" window %.6f s to %.6f s;", seconds(r->from - r->start),
                   o->has_to ? seconds(r->to - r->start) : seconds(t->last_time - r->start));
        fputc('\n', stdout);
    }
    title(r, "Summary");
    uint64_t dur = t->events ? t->last_time - t->first_time : 0;
    uint64_t allocs = ht_summary_type_count(r->summary, t, HT_EVENT_HEAP_ALLOC);
    uint64_t frees = ht_summary_type_count(r->summary, t, HT_EVENT_HEAP_FREE);
    uint64_t reallocs = ht_summary_type_count(r->summary, t, HT_EVENT_HEAP_REALLOC);
    printf("  %-14s %.6f s\n", "duration", seconds(dur));
    printf("  %-14s %zu\n", "processes", ht_summary_process_count(r->summary));
    printf("  %-14s %" PRIu64 "\n", "threads", t->threads);
    printf("  %-14s %s (alloc %s, ", "events", ht_cli_count(a, sizeof a, t->events),
           ht_cli_count(b, sizeof b, allocs));
    printf("free %s, ", ht_cli_count(a, sizeof a, frees));
    printf("realloc %s)\n", ht_cli_count(a, sizeof a, reallocs));
    printf("  %-14s %s in %s allocations\n", "allocated", ht_cli_bytes(a, sizeof a, t->bytes_allocated),
           ht_cli_count(b, sizeof b, allocs + reallocs));
    printf("  %-14s %s", "peak", ht_cli_bytes(a, sizeof a, t->peak_bytes));
    if (t->peak_bytes)
        printf(" at %.6f s", seconds(t->peak_time - r->start));
    fputc('\n', stdout);
    printf("  %-14s %s in %s blocks\n", "leaked", ht_cli_bytes(a, sizeof a, t->leaked_bytes),
           ht_cli_count(b, sizeof b, t->leaked_blocks));
    printf("  %-14s %s of %s allocations (%.1f%%), %s\n", "temporary",
           ht_cli_count(a, sizeof a, r->total.temporary), ht_cli_count(b, sizeof b, r->total.allocs),
           ht_report_percent(r->total.temporary, r->total.allocs),
           ht_cli_bytes(c, sizeof c, r->total.temporary_bytes));
    if (t->lost_events)
        printf("  %-14s %s: figures may be off\n", "lost events",
               ht_cli_count(a, sizeof a, t->lost_events));

    title(r, "Processes");
    printf("  %8s %13s %11s %11s %12s %11s  %s\n", "PID", "ALLOCATIONS", "ALLOCATED", "PEAK",
           "PEAK AT", "LEAKED", "COMMAND");
    for (size_t i = 0; i < ht_summary_process_count(r->summary); i++) {
        const ht_process_summary *p = ht_summary_process(r->summary, i);
        const ht_usage *u = &p->usage;
        char at[32] = "-";
        if (u->peak_bytes)
            snprintf(at, sizeof at, "%.6f s", seconds(u->peak_time - r->start));
        printf("  %8" PRIu32 " %13s %11s %11s %12s %11s  ", p->pid,
               ht_cli_count(a, sizeof a,
                     ht_summary_type_count(r->summary, u, HT_EVENT_HEAP_ALLOC) +
                         ht_summary_type_count(r->summary, u, HT_EVENT_HEAP_REALLOC)),
               ht_cli_bytes(b, sizeof b, u->bytes_allocated), ht_cli_bytes(c, sizeof c, u->peak_bytes), at,
               ht_cli_bytes(d, sizeof d, u->leaked_bytes));
        if (p->started)
            put_printable(stdout, p->command, p->command_len);
        else
            fputc('?', stdout);
        fputc('\n', stdout);
    }
}

static void text_row(const char *label, const ht_breakdown_row *row, uint64_t allocs_total,
                     int frees)
{
    char a[32], b[32], c[32];
    printf("  %-28s %13s %6.1f%% %11s", label, ht_cli_count(a, sizeof a, row->allocs),
           ht_report_percent(row->allocs, allocs_total), ht_cli_bytes(b, sizeof b, row->bytes));
    if (frees)
        printf(" %13s", ht_cli_count(c, sizeof c, row->frees));
    fputc('\n', stdout);
}

static void text_breakdowns(ht_report *r)
{
    ht_breakdown *bd = &r->breakdown;
    uint64_t total = ht_report_allocations(bd);
    char label[64], a[32], b[32];
    unsigned lo = HT_BREAKDOWN_BUCKETS, hi = 0;
    uint64_t most = 0;
    for (unsigned k = 0; k < HT_BREAKDOWN_BUCKETS; k++)
        if (bd->histogram[k].allocs) {
            lo = lo < k ? lo : k;
            hi = k;
            most = most > bd->histogram[k].allocs ? most : bd->histogram[k].allocs;
        }
    if (lo <= hi) {
        title(r, "Sizes");
        printf("  %-28s %13s %7s %11s\n", "REQUESTED SIZE", "ALLOCATIONS", "%", "BYTES");
        for (unsigned k = lo; k <= hi; k++) {
            uint64_t min = ht_breakdown_bucket_min(k);
            if (k <= 1)
                snprintf(label, sizeof label, "%" PRIu64, min);
            else
                snprintf(label, sizeof label, "%s - %s", ht_cli_bytes(a, sizeof a, min),
                         ht_cli_bytes(b, sizeof b, min * 2 - 1));
            char row[96];
            snprintf(row, sizeof row, "%s", label);
            const ht_breakdown_row *h = &bd->histogram[k];
            printf("  %-28s %13s %6.1f%% %11s  ", row, ht_cli_count(a, sizeof a, h->allocs),
                   ht_report_percent(h->allocs, total), ht_cli_bytes(b, sizeof b, h->bytes));
            int bar = (int)(40 * h->allocs / most);
            for (int i = 0; i < bar; i++)
                fputc('#', stdout);
            fputc('\n', stdout);
        }
    }

    if (bd->nthreads) {
        title(r, "Threads");
        printf("  %-28s %13s %7s %11s %13s\n", "PID/TID NAME", "ALLOCATIONS", "%", "BYTES",
               "FREES");
        size_t n = r->o->top && bd->nthreads > r->o->top ? r->o->top : bd->nthreads;
        for (size_t i = 0; i < n; i++) {
            const ht_thread_row *t = &bd->threads[i];
            snprintf(label, sizeof label, "%" PRIu32 "/%" PRIu32 " ", t->pid, t->tid);
            size_t len = strlen(label);
            for (size_t k = 0; t->name[k] && len + 1 < sizeof label; k++)
                label[len++] = (unsigned char)t->name[k] < 0x20 ? '?' : t->name[k];
            label[len] = '\0';
            text_row(label, &t->ops, total, 1);
        }
        if (n < bd->nthreads)
            printf("  ... %zu more threads\n", bd->nthreads - n);
    }

    if (total) {
        title(r, "Sources");
        printf("  %-28s %13s %7s %11s\n", "SOURCE", "ALLOCATIONS", "%", "BYTES");
        for (unsigned k = 0; k < HT_BREAKDOWN_SOURCES; k++)
            if (bd->sources[k].allocs)
                text_row(ht_report_source_label(k), &bd->sources[k], total, 0);
    }

    if (bd->nheaps) {
        title(r, "Heaps");
        printf("  %-28s %13s %7s %11s %13s\n", "PID HEAP", "ALLOCATIONS", "%", "BYTES", "FREES");
        size_t n = r->o->top && bd->nheaps > r->o->top ? r->o->top : bd->nheaps;
        for (size_t i = 0; i < n; i++) {
            snprintf(label, sizeof label, "%" PRIu32 " 0x%" PRIx64, bd->heaps[i].pid,
                     bd->heaps[i].heap);
            text_row(label, &bd->heaps[i].ops, total, 1);
        }
        if (n < bd->nheaps)
            printf("  ... %zu more heaps\n", bd->nheaps - n);
    }
}

void ht_report_text(ht_report *r)
{
    text_summary(r);
    if (r->o->window) {
        title(r, r->o->window == HT_REPORT_AT ? "Outstanding at the instant"
                                           : "Window types (AIFI AIFO AOFI AOFO)");
        char a[32], b[32];
        for (int k = 0; k < HT_WINDOW_TYPES; k++)
            if (r->o->window == HT_REPORT_WINDOW || k == HT_AOFO)
                printf("  %-6s %13s blocks %11s\n", ht_window_type_name((unsigned)k),
                       ht_cli_count(a, sizeof a, r->total.window_blocks[k]),
                       ht_cli_bytes(b, sizeof b, r->total.window_bytes[k]));
        text_sites(r, HT_RANK_WINDOW,
                   r->o->window == HT_REPORT_AT ? "Top sites outstanding at the instant"
                                                : "Top sites in the window");
    }
    text_sites(r, HT_RANK_ALLOCS, "Top sites by allocations");
    text_sites(r, HT_RANK_BYTES, "Top sites by bytes allocated");
    text_sites(r, HT_RANK_PEAK, "Top sites by share of the peak");
    text_sites(r, HT_RANK_LEAKED, "Top sites by leaked bytes");
    text_sites(r, HT_RANK_TEMPORARY, "Top sites by temporary allocations");
    text_breakdowns(r);
}

