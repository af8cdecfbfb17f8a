/* heaptrail report: what the command read (its options, the summary, the
 * breakdowns and the sites of the trace) and what its outputs share — the
 * rankings of sites. cmd_report.c reads; report_text.c, report_json.c and
 * report_html.c write. */
#ifndef HT_CLI_REPORT_H
#define HT_CLI_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "analysis/breakdown.h"
#include "analysis/sites.h"
#include "analysis/summary.h"
#include "cli/frames.h"
#include "cli/site_table.h"
#include "heaptrail/trace.h"

#define HT_REPORT_MAX_REQUIRE 16

typedef struct ht_report_options {
    int json;
    const char *html; /* --html: write the HTML report to this file */
    size_t top, frames;
    int by_pid;
    uint32_t pid;
    uint64_t min_size, max_size, min_lifetime, max_lifetime;
    enum { HT_REPORT_NO_WINDOW, HT_REPORT_WINDOW, HT_REPORT_AT } window;
    int has_from, has_to;
    uint64_t from, to, at; /* since the recording started */
    const char *require[HT_REPORT_MAX_REQUIRE];
    size_t nrequire;
} ht_report_options;

typedef struct ht_report {
    const ht_report_options *o;
    const char *path;   /* the trace */
    uint64_t start;     /* the recording's start, trace clock */
    uint64_t from, to;  /* the window, trace clock */
    ht_summary *summary;
    ht_breakdown breakdown; /* threads and heaps most allocations first, once read */
    ht_sites *sites;
    ht_cli_stacks stacks;
    ht_cli_site_table table;
    ht_site total;      /* over the sites kept */
    const ht_cli_site **ranking; /* room for every site, for ht_report_ranked */
    int color;          /* text: highlight titles */
    struct ht_report_pictures *pictures; /* --html */
    int failed;         /* reading stopped: error says why */
    char error[1024];
} ht_report;

/* The orders of the site tables. */
typedef enum ht_report_rank {
    HT_RANK_ALLOCS,
    HT_RANK_BYTES,
    HT_RANK_PEAK,
    HT_RANK_LEAKED,
    HT_RANK_TEMPORARY,
    HT_RANK_WINDOW, /* bytes in the window, all types */
    HT_RANKS
} ht_report_rank;

/* "allocations", "bytes", "peak", "leaked", "temporary", "window". */
extern const char *const ht_report_rank_names[HT_RANKS];

/* The figure a site is ranked by, and the one that breaks ties in *second. */
uint64_t ht_report_rank_key(const ht_site *s, ht_report_rank by, uint64_t *second);

/* The sites whose figure is not zero, largest first, at most --top of them,
 * into r->ranking; returns how many. */
size_t ht_report_ranked(ht_report *r, ht_report_rank by);

/* Order the thread and heap rows, most allocations first. */
void ht_report_sort_breakdown(ht_breakdown *bd);

/* Allocations the breakdowns counted. */
uint64_t ht_report_allocations(const ht_breakdown *bd);

/* Name of a Source row of the breakdown. */
const char *ht_report_source_label(unsigned row);

/* part as a percentage of whole (0 when whole is 0). */
double ht_report_percent(uint64_t part, uint64_t whole);

/* The pictures of the HTML report (the heap over time, a flame graph of the
 * bytes allocated), drawn by the plot and flamegraph exports in the same
 * pass. Feed them the events the report reads: _before each event ahead of
 * the stack store (an exit or an exec ends an image), _event after it. The
 * functions that fail return -1 with a message saying what and where. */
typedef struct ht_report_pictures ht_report_pictures;
ht_report_pictures *ht_report_pictures_create(ht_report *r, const ht_trace_info *info, char *err,
                                              size_t errlen);
int ht_report_pictures_before(ht_report_pictures *p, const ht_event *ev, char *err, size_t errlen);
int ht_report_pictures_event(ht_report_pictures *p, const ht_event *ev, char *err, size_t errlen);
int ht_report_pictures_finish(ht_report_pictures *p, char *err, size_t errlen);
void ht_report_pictures_destroy(ht_report_pictures *p);

/* The outputs: text and JSON to stdout; the HTML page to out, with the
 * finished pictures (write errors stay in out's error state). */
void ht_report_text(ht_report *r);
void ht_report_json(ht_report *r);
void ht_report_html(ht_report *r, const ht_report_pictures *p, FILE *out);

#endif
