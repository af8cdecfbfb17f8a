/* heaptrail report: the answers a trace was recorded for, in one pass — a
 * summary, the top allocation sites by allocations, bytes, share of the peak,
 * leaks and temporaries, the window types of a time window, a size
 * histogram, and breakdowns per thread, Source and heap. This file reads the
 * options and the trace; report_text.c, report_json.c and report_html.c
 * write. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "cli/report.h"
#include "cli/site_reader.h"
#include "cli/time_arg.h"
#include "cli/trace_open.h"
#include "cli/units.h"
#include "export/output_file.h"

const char cmd_report_usage[] =
    "usage: heaptrail report [OPTIONS] FILE\n"
    "\n"
    "Summarize a trace: duration, processes, events, bytes allocated, the peak and\n"
    "when it was reached, leaks; the top allocation sites (call stacks) by number\n"
    "of allocations, bytes, share of the peak, leaked bytes and temporary\n"
    "allocations; a size histogram; allocations per thread, per Source and per heap.\n"
    "\n"
    "  --json              one JSON object with all of it\n"
    "  --html OUT          one self-contained HTML page with all of it, the heap\n"
    "                      over time and a flame graph of the bytes allocated\n"
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

/* ---- reading ---- */

static int fail(ht_report *r, const char *message)
{
    if (!r->failed)
        snprintf(r->error, sizeof r->error, "%s", message);
    r->failed = 1;
    return 1;
}

static int before_event(void *arg, const ht_event *ev)
{
    ht_report *r = arg;
    char err[sizeof r->error];
    return ht_report_pictures_before(r->pictures, ev, err, sizeof err) < 0 ? fail(r, err) : 0;
}

static int on_event(void *arg, const ht_event *ev)
{
    ht_report *r = arg;
    char err[sizeof r->error];
    if (ht_summary_add(r->summary, ev) < 0 || ht_breakdown_add(&r->breakdown, ev) < 0)
        return fail(r, "out of memory");
    if (r->pictures && ht_report_pictures_event(r->pictures, ev, err, sizeof err) < 0)
        return fail(r, err);
    return 0;
}

static void prefetch(void *arg, uint32_t pid, uint64_t address)
{
    ht_report *r = arg;
    ht_summary_prefetch(r->summary, pid, address);
}

static int on_image(void *arg, const ht_sites_image *image)
{
    ht_report *r = arg;
    return ht_cli_site_table_add_image(&r->table, image) < 0 ? fail(r, "out of memory") : 0;
}

/* ---- the command ---- */

/* Parse the command line into o; returns -1 after a usage error was printed. */
static int parse_options(int argc, char **argv, ht_report_options *o, ht_cli_stacks *stacks)
{
    enum { O_TOP = 256, O_FRAMES, O_PID, O_MIN_SIZE, O_MAX_SIZE, O_MIN_LIFE, O_MAX_LIFE,
           O_REQUIRE, O_FROM, O_TO, O_AT, O_DEBUG_DIR, O_SYSROOT };
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"html", required_argument, NULL, 'h'},
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
        case 'h': o->html = optarg; break;
        case O_TOP:
        case O_FRAMES:
            if (ht_cli_parse_count(optarg, &n) < 0) {
                ht_cli_usage_error("report", "--%s needs a count, not '%s'",
                                   c == O_TOP ? "top" : "frames", optarg);
                return -1;
            }
            *(c == O_TOP ? &o->top : &o->frames) = n;
            break;
        case O_PID:
            if (ht_cli_parse_count(optarg, &n) < 0 || n > UINT32_MAX) {
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
                if (o->window == HT_REPORT_AT) {
                    ht_cli_usage_error("report", "--at cannot go with --from or --to");
                    return -1;
                }
                o->window = HT_REPORT_WINDOW;
            } else if (c == O_AT) {
                if (o->window == HT_REPORT_WINDOW) {
                    ht_cli_usage_error("report", "--at cannot go with --from or --to");
                    return -1;
                }
                o->window = HT_REPORT_AT;
            }
            break;
        }
        case O_REQUIRE:
            if (o->nrequire == HT_REPORT_MAX_REQUIRE) {
                ht_cli_usage_error("report", "at most %d --require-frame", HT_REPORT_MAX_REQUIRE);
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
    if (o->json && o->html) {
        ht_cli_usage_error("report", "--json and --html: choose one");
        return -1;
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

/* Set the filters of the sites and the breakdowns from the options. */
static void set_filters(ht_report *r, ht_sites_filter *sf, ht_breakdown_filter *bf)
{
    const ht_report_options *o = r->o;
    *sf = ht_sites_filter_all();
    sf->min_size = o->min_size;
    sf->max_size = o->max_size;
    sf->min_lifetime = o->min_lifetime;
    sf->max_lifetime = o->max_lifetime;
    *bf = (ht_breakdown_filter){o->min_size, o->max_size, 0, UINT64_MAX};
    r->from = r->start;
    r->to = UINT64_MAX;
    if (o->window == HT_REPORT_AT) {
        r->from = r->start + o->at + 1; /* outstanding at T: born at or before T, dying after */
        r->to = r->from;
    } else if (o->window == HT_REPORT_WINDOW) {
        r->from = r->start + o->from;
        r->to = o->has_to ? r->start + o->to : UINT64_MAX;
        bf->from = r->from;
        bf->to = r->to;
    }
    if (o->window) {
        sf->window = 1;
        sf->from = r->from;
        sf->to = r->to;
    }
}

/* Write the HTML page into place (a temporary name renamed on success). */
static int write_html(ht_report *r, ht_report_pictures *p, char *err, size_t errlen)
{
    ht_output_file out;
    if (ht_output_open(&out, r->o->html, err, errlen) < 0)
        return -1;
    ht_report_html(r, p, out.fp);
    if (ht_output_finish(&out, err, errlen) < 0) {
        ht_output_abort(&out);
        return -1;
    }
    return 0;
}

int cmd_report(int argc, char **argv)
{
    ht_report_options o = {.top = 10, .frames = 5, .max_size = UINT64_MAX,
                           .max_lifetime = UINT64_MAX};
    ht_report r;
    memset(&r, 0, sizeof r);
    ht_cli_stacks_init(&r.stacks);
    if (parse_options(argc, argv, &o, &r.stacks) < 0)
        return HT_EXIT_USAGE;
    r.path = argv[optind];
    ht_trace *t = ht_cli_open_trace("report", r.path);
    if (!t)
        return HT_EXIT_USAGE_OR_FAILURE;
    r.o = &o;
    r.start = ht_trace_get_info(t)->StartTimeNs;
    const char *no_color = getenv("NO_COLOR");
    r.color = !o.json && !o.html && isatty(STDOUT_FILENO) && !(no_color && *no_color);

    ht_sites_filter sf;
    ht_breakdown_filter bf;
    set_filters(&r, &sf, &bf);
    ht_breakdown_init(&r.breakdown, &bf);
    r.summary = ht_summary_create();
    r.sites = ht_sites_create(&sf);
    ht_cli_site_table_init(&r.table, &r.stacks, o.require, o.nrequire);
    char err[1024] = "out of memory";
    int status = -2;
    if (r.summary && r.sites && ht_cli_stacks_open(&r.stacks) == 0 &&
        (!o.html || (r.pictures = ht_report_pictures_create(&r, ht_trace_get_info(t), err,
                                                            sizeof err)))) {
        ht_cli_site_reader reader = {.stacks = &r.stacks,
                                     .sites = r.sites,
                                     .by_pid = o.by_pid,
                                     .pid = o.pid,
                                     .image_ended = on_image,
                                     .before = o.html ? before_event : NULL,
                                     .event = on_event,
                                     .prefetch = prefetch,
                                     .context = &r};
        status = ht_cli_read_sites(t, &reader);
        if (r.failed)
            snprintf(err, sizeof err, "%s", r.error);
    }
    if (status >= 0) {
        ht_summary_finish(r.summary);
        ht_report_sort_breakdown(&r.breakdown);
        for (size_t i = 0; i < r.table.count; i++)
            ht_site_sum(&r.total, &r.table.sites[i].fig);
        r.ranking = malloc((r.table.count ? r.table.count : 1) * sizeof *r.ranking);
        if (!r.ranking)
            status = -2;
    }
    if (status >= 0) {
        if (o.html) {
            if (ht_report_pictures_finish(r.pictures, err, sizeof err) < 0 ||
                write_html(&r, r.pictures, err, sizeof err) < 0)
                status = -2;
        } else if (o.json) {
            ht_report_json(&r);
        } else {
            ht_report_text(&r);
        }
    }
    free(r.ranking);
    ht_report_pictures_destroy(r.pictures);
    ht_cli_site_table_destroy(&r.table);
    ht_sites_destroy(r.sites);
    ht_summary_destroy(r.summary);
    ht_breakdown_destroy(&r.breakdown);
    ht_cli_stacks_close(&r.stacks);
    if (status == -2) {
        ht_progress_end();
        ht_trace_close(t);
        ht_cli_error("report", "%s", err);
        return HT_EXIT_FAILURE;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        ht_trace_close(t);
        ht_cli_error("report", "cannot write the output: %s", strerror(errno));
        return HT_EXIT_FAILURE;
    }
    return ht_cli_finish_trace("report", t, status);
}
