/* heaptrail report --html: one self-contained page — the summary, the heap
 * over time, a flame graph of the bytes allocated, the top-site tables and
 * the breakdowns. Nothing is fetched from anywhere: the pictures are the
 * plot and flamegraph exports, made in the same pass over the trace into a
 * private folder and embedded as data: URLs (the flame graph keeps its
 * script, which needs to be its own document). */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/report.h"
#include "cli/units.h"
#include "export/exporter.h"
#include "export/svg.h"

/* ---- the pictures ---- */

enum { PLOT, FLAME, PICTURES };

static const char *const picture_files[PICTURES] = {"heap.svg", "flame.svg"};

struct ht_report_pictures {
    char dir[4096];
    const ht_export_format *format[PICTURES];
    ht_exporter *x[PICTURES];
    char *svg[PICTURES]; /* read back after finish */
    size_t svg_len[PICTURES];
};

static size_t resolve(void *context, uint32_t pid, uint32_t stack_id, ht_frame *out, size_t max)
{
    return ht_cli_stacks_resolve(context, pid, stack_id, out, max);
}

ht_report_pictures *ht_report_pictures_create(ht_report *r, const ht_trace_info *info, char *err,
                                              size_t errlen)
{
    ht_report_pictures *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(p->dir, sizeof p->dir, "%s/heaptrail-report.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(p->dir)) {
        snprintf(err, errlen, "%s: cannot make a scratch folder: %m", p->dir);
        p->dir[0] = '\0';
        ht_report_pictures_destroy(p);
        return NULL;
    }
    p->format[PLOT] = &ht_export_plot;
    p->format[FLAME] = &ht_export_flamegraph;
    for (int k = 0; k < PICTURES; k++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", p->dir, picture_files[k]);
        ht_export_options o = {.output = path,
                               .trace_path = r->path,
                               .info = info,
                               .resolve = resolve,
                               .resolve_context = &r->stacks,
                               .weight = HT_WEIGHT_BYTES,
                               .split = HT_SPLIT_SOURCE,
                               .width = 1100};
        if (!(p->x[k] = p->format[k]->create(&o, err, errlen))) {
            ht_report_pictures_destroy(p);
            return NULL;
        }
    }
    return p;
}

int ht_report_pictures_before(ht_report_pictures *p, const ht_event *ev, char *err, size_t errlen)
{
    const ht_event_header *h = &ev->Header;
    if (h->Flags & HT_EVENT_FLAG_UNKNOWN_TYPE ||
        (h->Type != HT_EVENT_PROCESS_START && h->Type != HT_EVENT_PROCESS_EXIT))
        return 0;
    for (int k = 0; k < PICTURES; k++)
        if (p->format[k]->image_end && p->format[k]->image_end(p->x[k], h->ProcessId, err, errlen) < 0)
            return -1;
    return 0;
}

int ht_report_pictures_event(ht_report_pictures *p, const ht_event *ev, char *err, size_t errlen)
{
    for (int k = 0; k < PICTURES; k++)
        if (p->format[k]->event(p->x[k], ev, err, errlen) < 0)
            return -1;
    return 0;
}

static int read_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (!f)
        goto fail;
    for (;;) {
        if (n == cap) {
            char *grown = realloc(buf, cap = cap ? cap * 2 : 1 << 16);
            if (!grown)
                goto fail;
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f))
        goto fail;
    fclose(f);
    *data = buf;
    *len = n;
    return 0;
fail:
    snprintf(err, errlen, "%s: %m", path);
    if (f)
        fclose(f);
    free(buf);
    return -1;
}

int ht_report_pictures_finish(ht_report_pictures *p, char *err, size_t errlen)
{
    for (int k = 0; k < PICTURES; k++) {
        int r = p->format[k]->finish(p->x[k], err, errlen);
        p->format[k]->destroy(p->x[k]);
        p->x[k] = NULL;
        if (r < 0)
            return -1;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", p->dir, picture_files[k]);
        if (read_file(path, &p->svg[k], &p->svg_len[k], err, errlen) < 0)
            return -1;
    }
    return 0;
}

void ht_report_pictures_destroy(ht_report_pictures *p)
{
    if (!p)
        return;
    for (int k = 0; k < PICTURES; k++) {
        if (p->x[k])
            p->format[k]->destroy(p->x[k]);
        free(p->svg[k]);
    }
    if (p->dir[0]) {
        /* Whatever the exports left (their temporary files on failure). */
        DIR *d = opendir(p->dir);
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                char path[4400];
                snprintf(path, sizeof path, "%s/%s", p->dir, e->d_name);
                unlink(path);
            }
        if (d)
            closedir(d);
        rmdir(p->dir);
    }
    free(p);
}

/* ---- the page ---- */

static void base64(FILE *out, const char *data, size_t len)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *d = (const unsigned char *)data;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)d[i + 1] << 8;
        if (i + 2 < len)
            v |= d[i + 2];
        fputc(digits[v >> 18 & 63], out);
        fputc(digits[v >> 12 & 63], out);
        fputc(i + 1 < len ? digits[v >> 6 & 63] : '=', out);
        fputc(i + 2 < len ? digits[v & 63] : '=', out);
    }
}

static void text(FILE *out, const char *s) { ht_svg_escape(out, s, strlen(s)); }

static const char style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1160px;color:#222}"
    "h1{font-size:1.6em;margin-bottom:0}h2{font-size:1.2em;margin-top:2em;"
    "border-bottom:1px solid #ccc}.trace{color:#666;margin-top:.2em}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .6em;"
    "text-align:right;white-space:nowrap}th{background:#f0f0f0}"
    "td.l,th.l{text-align:left}tr:nth-child(even){background:#fafafa}"
    ".stack{color:#555;font-family:monospace;font-size:12px;text-align:left;"
    "white-space:pre}.bar{background:#e8833a;height:.8em;display:inline-block}"
    "img,object{display:block;max-width:100%;border:1px solid #ddd}"
    ".note{color:#666}";

static void kv(FILE *out, const char *key, const char *value)
{
    fputs("<tr><th class=\"l\">", out);
    text(out, key);
    fputs("</th><td class=\"l\">", out);
    text(out, value);
    fputs("</td></tr>\n", out);
}

static void summary(ht_report *r, FILE *out)
{
    const ht_usage *t = ht_summary_totals(r->summary);
    char a[64], b[64], line[256];
    fputs("<h2>Summary</h2>\n<table>\n", out);
    snprintf(line, sizeof line, "%.6f s",
             t->events ? (double)(t->last_time - t->first_time) / 1e9 : 0.0);
    kv(out, "duration", line);
    snprintf(line, sizeof line, "%zu", ht_summary_process_count(r->summary));
    kv(out, "processes", line);
    snprintf(line, sizeof line, "%" PRIu64, t->threads);
    kv(out, "threads", line);
    uint64_t allocs = ht_summary_type_count(r->summary, t, HT_EVENT_HEAP_ALLOC) +
                      ht_summary_type_count(r->summary, t, HT_EVENT_HEAP_REALLOC);
    snprintf(line, sizeof line, "%s", ht_cli_count(a, sizeof a, t->events));
    kv(out, "events", line);
    snprintf(line, sizeof line, "%s in %s allocations", ht_cli_bytes(a, sizeof a, t->bytes_allocated),
             ht_cli_count(b, sizeof b, allocs));
    kv(out, "allocated", line);
    if (t->peak_bytes)
        snprintf(line, sizeof line, "%s at %.6f s", ht_cli_bytes(a, sizeof a, t->peak_bytes),
                 (double)(t->peak_time - r->start) / 1e9);
    else
        snprintf(line, sizeof line, "0 B");
    kv(out, "peak", line);
    snprintf(line, sizeof line, "%s in %s blocks", ht_cli_bytes(a, sizeof a, t->leaked_bytes),
             ht_cli_count(b, sizeof b, t->leaked_blocks));
    kv(out, "leaked", line);
    snprintf(line, sizeof line, "%s of %s allocations (%.1f%%)",
             ht_cli_count(a, sizeof a, r->total.temporary),
             ht_cli_count(b, sizeof b, r->total.allocs),
             ht_report_percent(r->total.temporary, r->total.allocs));
    kv(out, "temporary", line);
    if (t->lost_events) {
        snprintf(line, sizeof line, "%s: figures may be off", ht_cli_count(a, sizeof a, t->lost_events));
        kv(out, "lost events", line);
    }
    fputs("</table>\n<h2>Processes</h2>\n<table>\n<tr><th>pid</th><th>allocations</th>"
          "<th>allocated</th><th>peak</th><th>leaked</th><th class=\"l\">command</th></tr>\n",
          out);
    for (size_t i = 0; i < ht_summary_process_count(r->summary); i++) {
        const ht_process_summary *p = ht_summary_process(r->summary, i);
        const ht_usage *u = &p->usage;
        char c[64], d[64];
        fprintf(out, "<tr><td>%" PRIu32 "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                     "<td class=\"l\">",
                p->pid,
                ht_cli_count(a, sizeof a,
                             ht_summary_type_count(r->summary, u, HT_EVENT_HEAP_ALLOC) +
                                 ht_summary_type_count(r->summary, u, HT_EVENT_HEAP_REALLOC)),
                ht_cli_bytes(b, sizeof b, u->bytes_allocated), ht_cli_bytes(c, sizeof c, u->peak_bytes),
                ht_cli_bytes(d, sizeof d, u->leaked_bytes));
        if (p->started)
            ht_svg_escape(out, p->command, p->command_len);
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
}

static void pictures(const ht_report_pictures *p, FILE *out)
{
    fputs("<h2>Heap over time</h2>\n<img alt=\"live bytes over time, per Source\" "
          "src=\"data:image/svg+xml;base64,",
          out);
    base64(out, p->svg[PLOT], p->svg_len[PLOT]);
    fputs("\">\n<h2>Flame graph: bytes allocated</h2>\n<p class=\"note\">Click a frame to zoom, "
          "hover for its figures.</p>\n<object type=\"image/svg+xml\" "
          "aria-label=\"flame graph of the bytes allocated\" data=\"data:image/svg+xml;base64,",
          out);
    base64(out, p->svg[FLAME], p->svg_len[FLAME]);
    fputs("\"></object>\n", out);
}

static void stack_cell(FILE *out, const ht_cli_site *s, size_t max)
{
    fputs("<td class=\"stack\">", out);
    if (!s->nframes)
        fputs("(no stack)", out);
    size_t shown = max && s->nframes > max ? max : s->nframes;
    char buf[64];
    for (size_t i = 0; i < shown; i++) {
        const ht_frame *f = &s->frames[i];
        if (i)
            fputc('\n', out);
        text(out, ht_cli_frame_name(f, buf, sizeof buf));
        if (f->file) {
            fputs(" (", out);
            text(out, f->file);
            fprintf(out, ":%" PRIu32 ")", f->line);
        }
        if (f->inlined)
            fputs(" (inlined)", out);
    }
    if (shown < s->nframes)
        fprintf(out, "\n... %zu more frames", s->nframes - shown);
    fputs("</td>", out);
}

static void site_table(ht_report *r, FILE *out, ht_report_rank by, const char *heading)
{
    size_t n = ht_report_ranked(r, by);
    if (!n)
        return;
    fprintf(out, "<h2>%s</h2>\n<table>\n<tr><th>#</th><th>allocations</th><th>bytes</th>"
                 "<th>temporary</th><th>peak</th><th>leaked</th>",
            heading);
    if (by == HT_RANK_WINDOW)
        for (int k = 0; k < HT_WINDOW_TYPES; k++)
            fprintf(out, "<th>%s</th>", ht_window_type_name((unsigned)k));
    fputs("<th class=\"l\">stack</th></tr>\n", out);
    for (size_t i = 0; i < n; i++) {
        const ht_site *s = &r->ranking[i]->fig;
        char a[64], b[64], c[64], d[64], e[64];
        fprintf(out, "<tr><td>%zu</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>",
                i + 1, ht_cli_count(a, sizeof a, s->allocs), ht_cli_bytes(b, sizeof b, s->bytes),
                ht_cli_count(c, sizeof c, s->temporary), ht_cli_bytes(d, sizeof d, s->peak_bytes),
                ht_cli_bytes(e, sizeof e, s->leaked_bytes));
        if (by == HT_RANK_WINDOW)
            for (int k = 0; k < HT_WINDOW_TYPES; k++)
                fprintf(out, "<td>%s</td>", ht_cli_bytes(a, sizeof a, s->window_bytes[k]));
        stack_cell(out, r->ranking[i], r->o->frames);
        fputs("</tr>\n", out);
    }
    fputs("</table>\n", out);
}

static void row(FILE *out, const char *label, const ht_breakdown_row *rw, uint64_t total,
                uint64_t most, int frees)
{
    char a[64], b[64], c[64];
    fputs("<tr><td class=\"l\">", out);
    text(out, label);
    fprintf(out, "</td><td>%s</td><td>%.1f%%</td><td>%s</td>", ht_cli_count(a, sizeof a, rw->allocs),
            ht_report_percent(rw->allocs, total), ht_cli_bytes(b, sizeof b, rw->bytes));
    if (frees)
        fprintf(out, "<td>%s</td>", ht_cli_count(c, sizeof c, rw->frees));
    else
        fprintf(out, "<td class=\"l\"><span class=\"bar\" style=\"width:%.0fpx\"></span></td>",
                most ? 300.0 * (double)rw->allocs / (double)most : 0.0);
    fputs("</tr>\n", out);
}

static void breakdowns(ht_report *r, FILE *out)
{
    ht_breakdown *bd = &r->breakdown;
    uint64_t total = ht_report_allocations(bd), most = 0;
    char label[96], a[32], b[32];
    for (unsigned k = 0; k < HT_BREAKDOWN_BUCKETS; k++)
        if (bd->histogram[k].allocs > most)
            most = bd->histogram[k].allocs;
    if (total) {
        fputs("<h2>Sizes</h2>\n<table>\n<tr><th class=\"l\">requested size</th><th>allocations</th>"
              "<th>%</th><th>bytes</th><th></th></tr>\n",
              out);
        for (unsigned k = 0; k < HT_BREAKDOWN_BUCKETS; k++) {
            if (!bd->histogram[k].allocs)
                continue;
            uint64_t min = ht_breakdown_bucket_min(k);
            if (k <= 1)
                snprintf(label, sizeof label, "%" PRIu64 " B", min);
            else
                snprintf(label, sizeof label, "%s - %s", ht_cli_bytes(a, sizeof a, min),
                         ht_cli_bytes(b, sizeof b, min * 2 - 1));
            row(out, label, &bd->histogram[k], total, most, 0);
        }
        fputs("</table>\n<h2>Sources</h2>\n<table>\n<tr><th class=\"l\">Source</th>"
              "<th>allocations</th><th>%</th><th>bytes</th><th></th></tr>\n",
              out);
        most = 0;
        for (unsigned k = 0; k < HT_BREAKDOWN_SOURCES; k++)
            if (bd->sources[k].allocs > most)
                most = bd->sources[k].allocs;
        for (unsigned k = 0; k < HT_BREAKDOWN_SOURCES; k++)
            if (bd->sources[k].allocs)
                row(out, ht_report_source_label(k), &bd->sources[k], total, most, 0);
        fputs("</table>\n", out);
    }
    size_t n = r->o->top && bd->nthreads > r->o->top ? r->o->top : bd->nthreads;
    if (n) {
        fputs("<h2>Threads</h2>\n<table>\n<tr><th class=\"l\">pid/tid name</th>"
              "<th>allocations</th><th>%</th><th>bytes</th><th>frees</th></tr>\n",
              out);
        for (size_t i = 0; i < n; i++) {
            const ht_thread_row *t = &bd->threads[i];
            snprintf(label, sizeof label, "%" PRIu32 "/%" PRIu32 " %s", t->pid, t->tid, t->name);
            row(out, label, &t->ops, total, 0, 1);
        }
        fputs("</table>\n", out);
    }
    n = r->o->top && bd->nheaps > r->o->top ? r->o->top : bd->nheaps;
    if (n) {
        fputs("<h2>Heaps</h2>\n<table>\n<tr><th class=\"l\">pid heap</th><th>allocations</th>"
              "<th>%</th><th>bytes</th><th>frees</th></tr>\n",
              out);
        for (size_t i = 0; i < n; i++) {
            snprintf(label, sizeof label, "%" PRIu32 " 0x%" PRIx64, bd->heaps[i].pid,
                     bd->heaps[i].heap);
            row(out, label, &bd->heaps[i].ops, total, 0, 1);
        }
        fputs("</table>\n", out);
    }
}

void ht_report_html(ht_report *r, const ht_report_pictures *p, FILE *out)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"generator\" content=\"heaptrail " HEAPTRAIL_VERSION "\">\n<title>heaptrail report: ",
          out);
    text(out, r->path);
    fprintf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>heaptrail report</h1>\n"
                 "<p class=\"trace\">",
            style);
    text(out, r->path);
    fputs("</p>\n", out);
    summary(r, out);
    pictures(p, out);
    if (r->o->window)
        site_table(r, out, HT_RANK_WINDOW,
                   r->o->window == HT_REPORT_AT ? "Top sites outstanding at the instant"
                                                : "Top sites in the window");
    site_table(r, out, HT_RANK_ALLOCS, "Top sites by allocations");
    site_table(r, out, HT_RANK_BYTES, "Top sites by bytes allocated");
    site_table(r, out, HT_RANK_PEAK, "Top sites by share of the peak");
    site_table(r, out, HT_RANK_LEAKED, "Top sites by leaked bytes");
    site_table(r, out, HT_RANK_TEMPORARY, "Top sites by temporary allocations");
    breakdowns(r, out);
    fputs("</body>\n</html>\n", out);
}
