/* heaptrail report: the answers a trace was recorded for, in one pass — a
 * summary, the top allocation sites by allocations, bytes, share of the peak,
 * leaks and temporaries, the window types of a time window, a size
 * histogram, and breakdowns per thread, Source and heap. Text for people,
 * --json for programs. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/breakdown.h"
#include "analysis/sites.h"
#include "analysis/summary.h"
#include "cli/cli.h"
#include "cli/frames.h"
#include "cli/json.h"
#include "cli/site_reader.h"
#include "cli/site_table.h"
#include "cli/time_arg.h"
#include "cli/trace_open.h"
#include "cli/units.h"

const char cmd_report_usage[] =
    "usage: heaptrail report [OPTIONS] FILE\n"
    "\n"
    "Summarize a trace: duration, processes, events, bytes allocated, the peak and\n"
    "when it was reached, leaks; the top allocation sites (call stacks) by number\n"
    "of allocations, bytes, share of the peak, leaked bytes and temporary\n"
    "allocations; a size histogram; allocations per thread, per Source and per heap.\n"
    "\n"
    "  --json              one JSON object with all of it\n"
    "  --top N             sites and rows per table (default 10, 0: all)\n"
    "  --frames N          frames shown per site (default 5, 0: all)\n"
    "  --pid P             only process P\n"
    "  --min-size S, --max-size S\n"
    "                      only blocks of S bytes or more / at most (units K, M, G)\n"
    "  --min-lifetime T, --max-lifetime T\n"
    "                      only blocks that lived at least / at most T (s, ms, us,\n"
    "                      ns); a leaked block lives until its process ended\n"
    "  --require-frame PATTERN\n"
    "                      only sites with a frame whose function matches PATTERN\n"
    "                      (shell wildcards); repeat to require several\n"
    "  --from T, --to T    a time window since the recording started: sites count\n"
    "                      the blocks live in it, typed AIFI, AIFO, AOFI, AOFO\n"
    "  --at T              the blocks outstanding at one instant\n"
    "  --debug-dir DIR     look for separate debug files in DIR too (repeatable)\n"
    "  --sysroot DIR       find the recorded modules under DIR\n"
    "\n"
    "Size, lifetime, window and frame filters choose the blocks the site tables\n"
    "count; the summary is the whole trace (or process), and the histogram and the\n"
    "breakdowns count the operations that pass --pid, the sizes and --from/--to.\n"
    "A temporary allocation is freed by its own thread with no other allocation of\n"
    "that thread in between. docs/ANALYSIS.md defines every figure.\n"
    "\n"
    "Exit status: 0, 1 damaged trace or output error, 2 usage or not a trace.\n";

#define MAX_REQUIRE 16

typedef struct report_options {
    int json;
    size_t top, frames;
    int by_pid;
    uint32_t pid;
    uint64_t min_size, max_size, min_lifetime, max_lifetime;
    enum { WINDOW_NONE, WINDOW_RANGE, WINDOW_AT } window;
    int has_from, has_to;
    uint64_t from, to, at; /* since the recording started */
    const char *require[MAX_REQUIRE];
    size_t nrequire;
} report_options;

typedef struct report {
    const report_options *o;
    uint64_t start;   /* the recording's start, trace clock */
    uint64_t from, to; /* the window, trace clock */
    ht_summary *summary;
    ht_breakdown breakdown;
    ht_sites *sites;
    ht_cli_stacks stacks;
    ht_cli_site_table table;
    /* Totals over the sites kept. */
    ht_site total;
    int color;
} report;

/* ---- reading ---- */

static int on_event(void *arg, const ht_event *ev)
{
    report *r = arg;
    return ht_summary_add(r->summary, ev) < 0 || ht_breakdown_add(&r->breakdown, ev) < 0;
}

static int on_image(void *arg, const ht_sites_image *image)
{
    report *r = arg;
    return ht_cli_site_table_add_image(&r->table, image) < 0;
}

/* ---- text helpers ---- */

static double seconds(uint64_t ns) { return (double)ns / 1e9; }

static double percent(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static void title(const report *r, const char *text)
{
    if (r->color)
        printf("\n\033[1m%s\033[0m\n", text);
    else
        printf("\n%s\n", text);
}

/* A count with thousands separators: "1,234,567". */
static const char *count(char *buf, size_t len, uint64_t v)
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < len; i++) {
        if (i && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

static const char *bytes(char *buf, size_t len, uint64_t v)
{
    return ht_cli_human_bytes(buf, len, (double)v);
}

static const char *duration(char *buf, size_t len, double ns)
{
    if (ns < 1e3)
        snprintf(buf, len, "%.0f ns", ns);
    else if (ns < 1e6)
        snprintf(buf, len, "%.1f us", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, len, "%.1f ms", ns / 1e6);
    else
        snprintf(buf, len, "%.2f s", ns / 1e9);
    return buf;
}

/* Raw bytes of a command line as one printable line. */
static void put_printable(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        fputc(c < 0x20 || c == 0x7F ? '?' : c, out);
    }
}

/* ---- site rankings ---- */

typedef enum rank { BY_ALLOCS, BY_BYTES, BY_PEAK, BY_LEAKED, BY_TEMPORARY, BY_WINDOW } rank;

static const char *const rank_names[] = {"allocations", "bytes", "peak", "leaked", "temporary",
                                         "window"};

static uint64_t window_bytes(const ht_site *s)
{
    uint64_t b = 0;
    for (int k = 0; k < HT_WINDOW_TYPES; k++)
        b += s->window_bytes[k];
    return b;
}

static uint64_t rank_key(const ht_site *s, rank by, uint64_t *second)
{
    switch (by) {
    case BY_ALLOCS: *second = s->bytes; return s->allocs;
    case BY_BYTES: *second = s->allocs; return s->bytes;
    case BY_PEAK: *second = s->peak_blocks; return s->peak_bytes;
    case BY_LEAKED: *second = s->leaked_blocks; return s->leaked_bytes;
    case BY_TEMPORARY: *second = s->temporary_bytes; return s->temporary;
    default: *second = s->allocs; return window_bytes(s);
    }
}

static rank sort_by;

static int larger_first(const void *a, const void *b)
{
    const ht_cli_site *x = *(const ht_cli_site *const *)a, *y = *(const ht_cli_site *const *)b;
    uint64_t x2, y2;
    uint64_t x1 = rank_key(&x->fig, sort_by, &x2), y1 = rank_key(&y->fig, sort_by, &y2);
    if (x1 != y1)
        return x1 < y1 ? 1 : -1;
    if (x2 != y2)
        return x2 < y2 ? 1 : -1;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

/* The sites with a nonzero key, best first, at most top (0: all). */
static size_t ranked(const report *r, rank by, const ht_cli_site **out)
{
    size_t n = 0;
    for (size_t i = 0; i < r->table.count; i++) {
        uint64_t second;
        if (rank_key(&r->table.sites[i].fig, by, &second))
            out[n++] = &r->table.sites[i];
    }
    sort_by = by;
    qsort(out, n, sizeof *out, larger_first);
    return r->o->top && n > r->o->top ? r->o->top : n;
}

static void text_frames(const report *r, const ht_cli_site *s)
{
    ht_cli_print_site_frames(stdout, s->frames, s->nframes, r->o->frames);
}

static void text_sites(const report *r, rank by, const char *heading, const ht_cli_site **buf)
{
    size_t n = ranked(r, by, buf);
    if (!n)
        return;
    title(r, heading);
    char a[32], b[32], c[32], d[32], e[32], f[32];
    if (by == BY_WINDOW) {
        /* Bytes and blocks of each type; at an instant, only AOFO exists. */
        int lo = r->o->window == WINDOW_AT ? HT_AOFO : HT_AIFI;
        printf("  %3s", "#");
        for (int k = lo; k < HT_WINDOW_TYPES; k++)
            printf(" %11s %9s", ht_window_type_name((unsigned)k), "BLOCKS");
        fputc('\n', stdout);
        for (size_t i = 0; i < n; i++) {
            const ht_site *s = &buf[i]->fig;
            printf("  %3zu", i + 1);
            for (int k = lo; k < HT_WINDOW_TYPES; k++)
                printf(" %11s %9s", bytes(a, sizeof a, s->window_bytes[k]),
                       count(b, sizeof b, s->window_blocks[k]));
            fputc('\n', stdout);
            text_frames(r, buf[i]);
        }
        return;
    }
    printf("  %3s %13s %6s %11s %13s %11s %11s %10s\n", "#", "ALLOCATIONS", "%", "BYTES",
           "TEMPORARY", "PEAK", "LEAKED", "LIFETIME");
    uint64_t whole_second;
    uint64_t whole = rank_key(&r->total, by, &whole_second);
    for (size_t i = 0; i < n; i++) {
        const ht_site *s = &buf[i]->fig;
        uint64_t second;
        uint64_t dead = s->allocs - s->leaked_blocks;
        printf("  %3zu %13s %5.1f%% %11s %13s %11s %11s %10s", i + 1,
               count(a, sizeof a, s->allocs), percent(rank_key(s, by, &second), whole),
               bytes(b, sizeof b, s->bytes), count(c, sizeof c, s->temporary),
               bytes(d, sizeof d, s->peak_bytes), bytes(e, sizeof e, s->leaked_bytes),
               dead ? duration(f, sizeof f, (double)s->lifetime_total / (double)dead) : "-");
        if (buf[i]->many_pids)
            printf("  (%u processes)", buf[i]->images);
        else
            printf("  (pid %" PRIu32 ")", s->pid);
        fputc('\n', stdout);
        text_frames(r, buf[i]);
    }
}

/* ---- text ---- */

static void text_summary(const report *r, const char *path)
{
    const ht_usage *t = ht_summary_totals(r->summary);
    const report_options *o = r->o;
    char a[32], b[32], c[32], d[32];
    printf("heaptrail report: %s\n", path);
    if (o->by_pid || o->min_size || o->max_size != UINT64_MAX || o->min_lifetime ||
        o->max_lifetime != UINT64_MAX || o->nrequire || o->window) {
        fputs("filters:", stdout);
        if (o->by_pid)
            printf(" pid %" PRIu32 ";", o->pid);
        if (o->min_size || o->max_size != UINT64_MAX)
            printf(" size %" PRIu64 "..%s bytes;", o->min_size,
                   o->max_size == UINT64_MAX ? "" : count(a, sizeof a, o->max_size));
        if (o->min_lifetime || o->max_lifetime != UINT64_MAX)
            printf(" lifetime %s..%s;", duration(a, sizeof a, (double)o->min_lifetime),
                   o->max_lifetime == UINT64_MAX ? ""
                                                 : duration(b, sizeof b, (double)o->max_lifetime));
        for (size_t i = 0; i < o->nrequire; i++)
            printf(" frame '%s';", o->require[i]);
        if (o->window == WINDOW_AT)
            printf(" outstanding at %.6f s;", seconds(o->at));
        else if (o->window == WINDOW_RANGE)
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
    printf("  %-14s %s (alloc %s, ", "events", count(a, sizeof a, t->events),
           count(b, sizeof b, allocs));
    printf("free %s, ", count(a, sizeof a, frees));
    printf("realloc %s)\n", count(a, sizeof a, reallocs));
    printf("  %-14s %s in %s allocations\n", "allocated", bytes(a, sizeof a, t->bytes_allocated),
           count(b, sizeof b, allocs + reallocs));
    printf("  %-14s %s", "peak", bytes(a, sizeof a, t->peak_bytes));
    if (t->peak_bytes)
        printf(" at %.6f s", seconds(t->peak_time - r->start));
    fputc('\n', stdout);
    printf("  %-14s %s in %s blocks\n", "leaked", bytes(a, sizeof a, t->leaked_bytes),
           count(b, sizeof b, t->leaked_blocks));
    printf("  %-14s %s of %s allocations (%.1f%%), %s\n", "temporary",
           count(a, sizeof a, r->total.temporary), count(b, sizeof b, r->total.allocs),
           percent(r->total.temporary, r->total.allocs),
           bytes(c, sizeof c, r->total.temporary_bytes));
    if (t->lost_events)
        printf("  %-14s %s: figures may be off\n", "lost events",
               count(a, sizeof a, t->lost_events));

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
               count(a, sizeof a,
                     ht_summary_type_count(r->summary, u, HT_EVENT_HEAP_ALLOC) +
                         ht_summary_type_count(r->summary, u, HT_EVENT_HEAP_REALLOC)),
               bytes(b, sizeof b, u->bytes_allocated), bytes(c, sizeof c, u->peak_bytes), at,
               bytes(d, sizeof d, u->leaked_bytes));
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
    printf("  %-28s %13s %6.1f%% %11s", label, count(a, sizeof a, row->allocs),
           percent(row->allocs, allocs_total), bytes(b, sizeof b, row->bytes));
    if (frees)
        printf(" %13s", count(c, sizeof c, row->frees));
    fputc('\n', stdout);
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

static uint64_t breakdown_allocs(const ht_breakdown *bd)
{
    uint64_t n = 0;
    for (unsigned k = 0; k < HT_BREAKDOWN_SOURCES; k++)
        n += bd->sources[k].allocs;
    return n;
}

static const char *source_label(unsigned k)
{
    return k < HT_BREAKDOWN_SOURCES - 1 ? ht_source_name(k) : "other";
}

static void text_breakdowns(report *r)
{
    ht_breakdown *bd = &r->breakdown;
    uint64_t total = breakdown_allocs(bd);
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
                snprintf(label, sizeof label, "%s - %s", bytes(a, sizeof a, min),
                         bytes(b, sizeof b, min * 2 - 1));
            char row[96];
            snprintf(row, sizeof row, "%s", label);
            const ht_breakdown_row *h = &bd->histogram[k];
            printf("  %-28s %13s %6.1f%% %11s  ", row, count(a, sizeof a, h->allocs),
                   percent(h->allocs, total), bytes(b, sizeof b, h->bytes));
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
        qsort(bd->threads, bd->nthreads, sizeof *bd->threads, threads_first);
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
                text_row(source_label(k), &bd->sources[k], total, 0);
    }

    if (bd->nheaps) {
        title(r, "Heaps");
        printf("  %-28s %13s %7s %11s %13s\n", "PID HEAP", "ALLOCATIONS", "%", "BYTES", "FREES");
        qsort(bd->heaps, bd->nheaps, sizeof *bd->heaps, heaps_first);
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

static void print_text(report *r, const char *path, const ht_cli_site **buf)
{
    text_summary(r, path);
    if (r->o->window) {
        title(r, r->o->window == WINDOW_AT ? "Outstanding at the instant"
                                           : "Window types (AIFI AIFO AOFI AOFO)");
        char a[32], b[32];
        for (int k = 0; k < HT_WINDOW_TYPES; k++)
            if (r->o->window == WINDOW_RANGE || k == HT_AOFO)
                printf("  %-6s %13s blocks %11s\n", ht_window_type_name((unsigned)k),
                       count(a, sizeof a, r->total.window_blocks[k]),
                       bytes(b, sizeof b, r->total.window_bytes[k]));
        text_sites(r, BY_WINDOW,
                   r->o->window == WINDOW_AT ? "Top sites outstanding at the instant"
                                             : "Top sites in the window",
                   buf);
    }
    text_sites(r, BY_ALLOCS, "Top sites by allocations", buf);
    text_sites(r, BY_BYTES, "Top sites by bytes allocated", buf);
    text_sites(r, BY_PEAK, "Top sites by share of the peak", buf);
    text_sites(r, BY_LEAKED, "Top sites by leaked bytes", buf);
    text_sites(r, BY_TEMPORARY, "Top sites by temporary allocations", buf);
    text_breakdowns(r);
}

/* ---- JSON ---- */

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

static void print_json(report *r, const char *path, const ht_cli_site **buf)
{
    const ht_usage *t = ht_summary_totals(r->summary);
    const report_options *o = r->o;
    fputs("{\"trace\":", stdout);
    ht_json_put_string(stdout, path, strlen(path));
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
    if (o->window == WINDOW_AT)
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
    for (rank by = BY_ALLOCS; by <= BY_WINDOW; by++) {
        if (by == BY_WINDOW && !o->window)
            break;
        printf("%s\"%s\":[", by ? "," : "", rank_names[by]);
        size_t n = ranked(r, by, buf);
        for (size_t i = 0; i < n; i++) {
            if (i)
                fputc(',', stdout);
            json_site(buf[i], o->window != WINDOW_NONE);
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
                   first ? "" : ",", source_label(k), bd->sources[k].allocs,
                   bd->sources[k].bytes);
            first = 0;
        }
    fputs("],\"threads\":[", stdout);
    qsort(bd->threads, bd->nthreads, sizeof *bd->threads, threads_first);
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
    qsort(bd->heaps, bd->nheaps, sizeof *bd->heaps, heaps_first);
    n = o->top && bd->nheaps > o->top ? o->top : bd->nheaps;
    for (size_t i = 0; i < n; i++) {
        printf("%s{\"pid\":%" PRIu32 ",\"heap\":%" PRIu64 ",", i ? "," : "", bd->heaps[i].pid,
               bd->heaps[i].heap);
        json_row(&bd->heaps[i].ops);
        fputc('}', stdout);
    }
    fputs("]}\n", stdout);
}

/* ---- the command ---- */

static int parse_count(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v > SIZE_MAX)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* Parse the command line into o; returns -1 after a usage error was printed. */
static int parse_options(int argc, char **argv, report_options *o, ht_cli_stacks *stacks)
{
    enum { O_TOP = 256, O_FRAMES, O_PID, O_MIN_SIZE, O_MAX_SIZE, O_MIN_LIFE, O_MAX_LIFE,
           O_REQUIRE, O_FROM, O_TO, O_AT, O_DEBUG_DIR, O_SYSROOT };
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"top", required_argument, NULL, O_TOP},
        {"frames", required_argument, NULL, O_FRAMES},
        {"pid", required_argument, NULL, O_PID},
        {"min-size", required_argument, NULL, O_MIN_SIZE},
        {"max-size", required_argument, NULL, O_MAX_SIZE},
        {"min-lifetime", required_argument, NULL, O_MIN_LIFE},
        {"max-lifetime", required_argument, NULL, O_MAX_LIFE},
        {"require-frame", required_argument, NULL, O_REQUIRE},
        {"from", required_argument, NULL, O_FROM},
        {"to", required_argument, NULL, O_TO},
        {"at", required_argument, NULL, O_AT},
        {"debug-dir", required_argument, NULL, O_DEBUG_DIR},
        {"sysroot", required_argument, NULL, O_SYSROOT},
        {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        size_t n;
        switch (c) {
        case 'j': o->json = 1; break;
        case O_TOP:
        case O_FRAMES:
            if (parse_count(optarg, &n) < 0) {
                ht_cli_usage_error("report", "--%s needs a count, not '%s'",
                                   c == O_TOP ? "top" : "frames", optarg);
                return -1;
            }
            *(c == O_TOP ? &o->top : &o->frames) = n;
            break;
        case O_PID:
            if (parse_count(optarg, &n) < 0 || n > UINT32_MAX) {
                ht_cli_usage_error("report", "--pid needs a process id, not '%s'", optarg);
                return -1;
            }
            o->by_pid = 1;
            o->pid = (uint32_t)n;
            break;
        case O_MIN_SIZE:
        case O_MAX_SIZE:
            if (ht_cli_parse_size(optarg, c == O_MIN_SIZE ? &o->min_size : &o->max_size) < 0) {
                ht_cli_usage_error("report", "--%s needs a size such as 64, 4K or 1M, not '%s'",
                                   c == O_MIN_SIZE ? "min-size" : "max-size", optarg);
                return -1;
            }
            break;
        case O_MIN_LIFE:
        case O_MAX_LIFE:
        case O_FROM:
        case O_TO:
        case O_AT: {
            uint64_t *to = c == O_MIN_LIFE ? &o->min_lifetime
                           : c == O_MAX_LIFE ? &o->max_lifetime
                           : c == O_FROM     ? &o->from
                           : c == O_TO       ? &o->to
                                             : &o->at;
            if (ht_cli_parse_time(optarg, to) < 0) {
                ht_cli_usage_error("report", "'%s' is not a time (such as 1.5, 250ms, 40us)",
                                   optarg);
                return -1;
            }
            if (c == O_FROM || c == O_TO) {
                *(c == O_FROM ? &o->has_from : &o->has_to) = 1;
                if (o->window == WINDOW_AT) {
                    ht_cli_usage_error("report", "--at cannot go with --from or --to");
                    return -1;
                }
                o->window = WINDOW_RANGE;
            } else if (c == O_AT) {
                if (o->window == WINDOW_RANGE) {
                    ht_cli_usage_error("report", "--at cannot go with --from or --to");
                    return -1;
                }
                o->window = WINDOW_AT;
            }
            break;
        }
        case O_REQUIRE:
            if (o->nrequire == MAX_REQUIRE) {
                ht_cli_usage_error("report", "at most %d --require-frame", MAX_REQUIRE);
                return -1;
            }
            o->require[o->nrequire++] = optarg;
            break;
        case O_DEBUG_DIR:
            if (ht_cli_stacks_debug_dir(stacks, "report", optarg))
                return -1;
            break;
        case O_SYSROOT: stacks->options.sysroot = optarg; break;
        default:
            ht_cli_usage_error("report", optopt ? "option '%s' needs a value"
                                                : "unknown option '%s'",
                               argv[optind - 1]);
            return -1;
        }
    }
    if (o->min_size > o->max_size || o->min_lifetime > o->max_lifetime) {
        ht_cli_usage_error("report", "a minimum is above its maximum");
        return -1;
    }
    if (o->has_from && o->has_to && o->from >= o->to) {
        ht_cli_usage_error("report", "--from must come before --to");
        return -1;
    }
    if (argc - optind != 1) {
        ht_cli_usage_error("report", argc - optind < 1 ? "no trace file given"
                                                       : "too many arguments");
        return -1;
    }
    return 0;
}

int cmd_report(int argc, char **argv)
{
    report_options o = {.top = 10, .frames = 5, .max_size = UINT64_MAX, .max_lifetime = UINT64_MAX};
    report r;
    memset(&r, 0, sizeof r);
    ht_cli_stacks_init(&r.stacks);
    if (parse_options(argc, argv, &o, &r.stacks) < 0)
        return HT_EXIT_USAGE;
    const char *path = argv[optind];
    ht_trace *t = ht_cli_open_trace("report", path);
    if (!t)
        return HT_EXIT_USAGE_OR_FAILURE;
    r.o = &o;
    r.start = ht_trace_get_info(t)->StartTimeNs;
    const char *no_color = getenv("NO_COLOR");
    r.color = !o.json && isatty(STDOUT_FILENO) && !(no_color && *no_color);

    ht_sites_filter sf = ht_sites_filter_all();
    sf.min_size = o.min_size;
    sf.max_size = o.max_size;
    sf.min_lifetime = o.min_lifetime;
    sf.max_lifetime = o.max_lifetime;
    ht_breakdown_filter bf = {o.min_size, o.max_size, 0, UINT64_MAX};
    r.from = r.start;
    r.to = UINT64_MAX;
    if (o.window == WINDOW_AT) {
        r.from = r.start + o.at + 1; /* outstanding at T: born at or before T, dying after */
        r.to = r.from;
    } else if (o.window == WINDOW_RANGE) {
        r.from = r.start + o.from;
        r.to = o.has_to ? r.start + o.to : UINT64_MAX;
        bf.from = r.from;
        bf.to = r.to;
    }
    if (o.window) {
        sf.window = 1;
        sf.from = r.from;
        sf.to = r.to;
    }
    ht_breakdown_init(&r.breakdown, &bf);
    r.summary = ht_summary_create();
    r.sites = ht_sites_create(&sf);
    ht_cli_site_table_init(&r.table, &r.stacks, o.require, o.nrequire);
    int status = -2;
    if (r.summary && r.sites && ht_cli_stacks_open(&r.stacks) == 0) {
        ht_cli_site_reader reader = {&r.stacks, r.sites, o.by_pid, o.pid, on_image, on_event, &r};
        status = ht_cli_read_sites(t, &reader);
    }
    const ht_cli_site **buf = NULL;
    if (status >= 0) {
        ht_summary_finish(r.summary);
        for (size_t i = 0; i < r.table.count; i++) {
            ht_site_sum(&r.total, &r.table.sites[i].fig);
        }
        buf = malloc((r.table.count ? r.table.count : 1) * sizeof *buf);
        if (!buf)
            status = -2;
    }
    if (status >= 0) {
        if (o.json)
            print_json(&r, path, buf);
        else
            print_text(&r, path, buf);
    }
    free(buf);
    ht_cli_site_table_destroy(&r.table);
    ht_sites_destroy(r.sites);
    ht_summary_destroy(r.summary);
    ht_breakdown_destroy(&r.breakdown);
    ht_cli_stacks_close(&r.stacks);
    if (status == -2) {
        ht_trace_close(t);
        ht_cli_error("report", "out of memory");
        return HT_EXIT_FAILURE;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        ht_trace_close(t);
        ht_cli_error("report", "cannot write the output: %s", strerror(errno));
        return HT_EXIT_FAILURE;
    }
    return ht_cli_finish_trace("report", t, status);
}
