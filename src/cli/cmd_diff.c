/* heaptrail diff: the allocation sites whose allocations, bytes, share of the
 * peak or leaks changed between two traces, largest change first. Sites are
 * matched by their resolved frames (function, file, line; module and offset
 * where there is no symbol), so two runs of one program, or of two builds of
 * it, line up even though their addresses and pids differ. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/sites.h"
#include "cli/cli.h"
#include "cli/frames.h"
#include "cli/json.h"
#include "cli/site_reader.h"
#include "cli/site_table.h"
#include "cli/trace_open.h"
#include "cli/units.h"

const char cmd_diff_usage[] =
    "usage: heaptrail diff [OPTIONS] BEFORE AFTER\n"
    "\n"
    "Compare two traces site by site (a site is a call stack, matched between the\n"
    "traces by its functions, files and lines): the sites whose allocations, bytes\n"
    "allocated, share of the peak or leaked bytes changed, largest change first.\n"
    "\n"
    "  --sort WHAT         the change that orders the sites: bytes (the default),\n"
    "                      allocations, peak or leaked\n"
    "  --top N             sites shown (default 20, 0: all)\n"
    "  --frames N          frames shown per site (default 5, 0: all)\n"
    "  --json              one JSON object\n"
    "  --debug-dir DIR     look for separate debug files in DIR too (repeatable)\n"
    "  --sysroot DIR       find the recorded modules under DIR\n"
    "\n"
    "Exit status: 0, 1 damaged trace or output error, 2 usage or not a trace.\n";

enum measure { ALLOCATIONS, BYTES, PEAK, LEAKED, MEASURES };

static const char *const measure_names[MEASURES] = {"allocations", "bytes", "peak", "leaked"};

static uint64_t measure(const ht_cli_site *s, enum measure m)
{
    if (!s)
        return 0;
    switch (m) {
    case ALLOCATIONS: return s->fig.allocs;
    case BYTES: return s->fig.bytes;
    case PEAK: return s->fig.peak_bytes;
    default: return s->fig.leaked_bytes;
    }
}

/* One site of either trace, with its match in the other (NULL if none). */
typedef struct pair {
    const ht_cli_site *before, *after;
} pair;

static enum measure sort_measure;

static int64_t change(const pair *p, enum measure m)
{
    return (int64_t)(measure(p->after, m) - measure(p->before, m));
}

static uint64_t magnitude(int64_t v) { return v < 0 ? (uint64_t)-(v + 1) + 1 : (uint64_t)v; }

static int larger_change_first(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    uint64_t mx = magnitude(change(x, sort_measure)), my = magnitude(change(y, sort_measure));
    if (mx != my)
        return mx < my ? 1 : -1;
    for (enum measure m = 0; m < MEASURES; m++) {
        uint64_t sx = magnitude(change(x, m)), sy = magnitude(change(y, m));
        if (sx != sy)
            return sx < sy ? 1 : -1;
    }
    const ht_cli_site *sx = x->after ? x->after : x->before, *sy = y->after ? y->after : y->before;
    return sx->hash < sy->hash ? -1 : sx->hash > sy->hash;
}

/* One trace, read into its own site table. */
typedef struct side {
    const char *path;
    ht_trace *trace;
    ht_cli_stacks stacks;
    ht_sites *sites;
    ht_cli_site_table table;
    ht_site total;
} side;

static int add_image(void *arg, const ht_sites_image *image)
{
    side *s = arg;
    return ht_cli_site_table_add_image(&s->table, image) < 0;
}

/* Read path into s. Returns the exit status (HT_EXIT_OK when it was read). */
static int read_side(side *s)
{
    s->trace = ht_cli_open_trace("diff", s->path);
    if (!s->trace)
        return HT_EXIT_USAGE_OR_FAILURE;
    s->sites = ht_sites_create(NULL);
    ht_cli_site_table_init(&s->table, &s->stacks, NULL, 0);
    int status = -2;
    if (s->sites && ht_cli_stacks_open(&s->stacks) == 0) {
        ht_cli_site_reader reader = {.stacks = &s->stacks, .sites = s->sites,
                                      .image_ended = add_image, .context = s};
        status = ht_cli_read_sites(s->trace, &reader);
    }
    ht_trace *t = s->trace;
    s->trace = NULL;
    if (status == -2) {
        ht_trace_close(t);
        ht_cli_error("diff", "out of memory");
        return HT_EXIT_FAILURE;
    }
    for (size_t i = 0; i < s->table.count; i++)
        ht_site_sum(&s->total, &s->table.sites[i].fig);
    return ht_cli_finish_trace("diff", t, status);
}

static void free_side(side *s)
{
    ht_cli_site_table_destroy(&s->table);
    ht_sites_destroy(s->sites);
    ht_cli_stacks_close(&s->stacks);
}

static void print_change(int64_t v, int bytes_unit)
{
    char human[32], signed_human[40];
    if (bytes_unit) {
        ht_cli_bytes(human, sizeof human, magnitude(v));
        snprintf(signed_human, sizeof signed_human, "%s%s", v < 0 ? "-" : v > 0 ? "+" : "",
                 human);
        printf(" %12s", signed_human);
    } else {
        printf(" %+12" PRId64, v);
    }
}

static void print_text(const side *a, const side *b, const pair *pairs, size_t n, size_t frames)
{
    char x[32], y[32];
    printf("heaptrail diff: %s -> %s\n\n", a->path, b->path);
    printf("  %-12s %14s %14s\n", "", "BEFORE", "AFTER");
    printf("  %-12s %14" PRIu64 " %14" PRIu64 "\n", "allocations", a->total.allocs,
           b->total.allocs);
    printf("  %-12s %14s %14s\n", "bytes", ht_cli_bytes(x, sizeof x, a->total.bytes),
           ht_cli_bytes(y, sizeof y, b->total.bytes));
    printf("  %-12s %14s %14s\n", "peak share",
           ht_cli_bytes(x, sizeof x, a->total.peak_bytes),
           ht_cli_bytes(y, sizeof y, b->total.peak_bytes));
    printf("  %-12s %14s %14s\n", "leaked",
           ht_cli_bytes(x, sizeof x, a->total.leaked_bytes),
           ht_cli_bytes(y, sizeof y, b->total.leaked_bytes));
    if (!n) {
        printf("\nNo site changed.\n");
        return;
    }
    printf("\n  %3s %12s %12s %12s %12s\n", "#", "ALLOCATIONS", "BYTES", "PEAK", "LEAKED");
    for (size_t i = 0; i < n; i++) {
        const pair *p = &pairs[i];
        printf("  %3zu", i + 1);
        print_change(change(p, ALLOCATIONS), 0);
        print_change(change(p, BYTES), 1);
        print_change(change(p, PEAK), 1);
        print_change(change(p, LEAKED), 1);
        printf("%s\n", !p->before ? "  (new site)" : !p->after ? "  (gone)" : "");
        const ht_cli_site *s = p->after ? p->after : p->before;
        ht_cli_print_site_frames(stdout, s->frames, s->nframes, frames);
    }
}

static void json_totals(const ht_site *t)
{
    printf("{\"allocations\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"peak_bytes\":%" PRIu64
           ",\"leaked_bytes\":%" PRIu64 "}",
           t->allocs, t->bytes, t->peak_bytes, t->leaked_bytes);
}

static void print_json(const side *a, const side *b, const pair *pairs, size_t n)
{
    static const char *const keys[MEASURES] = {"allocations", "bytes", "peak_bytes",
                                               "leaked_bytes"};
    fputs("{\"before\":", stdout);
    ht_json_put_string(stdout, a->path, strlen(a->path));
    fputs(",\"after\":", stdout);
    ht_json_put_string(stdout, b->path, strlen(b->path));
    fputs(",\"totals\":{\"before\":", stdout);
    json_totals(&a->total);
    fputs(",\"after\":", stdout);
    json_totals(&b->total);
    fputs("},\"sites\":[", stdout);
    for (size_t i = 0; i < n; i++) {
        const pair *p = &pairs[i];
        fputs(i ? ",{" : "{", stdout);
        for (enum measure m = 0; m < MEASURES; m++)
            printf("%s\"%s\":{\"before\":%" PRIu64 ",\"after\":%" PRIu64 ",\"change\":%" PRId64
                   "}",
                   m ? "," : "", keys[m], measure(p->before, m), measure(p->after, m),
                   change(p, m));
        const ht_cli_site *s = p->after ? p->after : p->before;
        fputs(",\"stack\":", stdout);
        ht_cli_json_frames(stdout, s->frames, s->nframes);
        fputc('}', stdout);
    }
    fputs("]}\n", stdout);
}

int cmd_diff(int argc, char **argv)
{
    static const struct option options[] = {{"sort", required_argument, NULL, 's'},
                                            {"top", required_argument, NULL, 't'},
                                            {"frames", required_argument, NULL, 'f'},
                                            {"json", no_argument, NULL, 'j'},
                                            {"debug-dir", required_argument, NULL, 'd'},
                                            {"sysroot", required_argument, NULL, 'r'},
                                            {NULL, 0, NULL, 0}};
    side a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    ht_cli_stacks_init(&a.stacks);
    ht_cli_stacks_init(&b.stacks);
    int json = 0;
    size_t top = 20, frames = 5;
    sort_measure = BYTES;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 's': {
            enum measure m = 0;
            while (m < MEASURES && strcmp(optarg, measure_names[m]) != 0)
                m++;
            if (m == MEASURES)
                return ht_cli_usage_error(
                    "diff", "--sort takes bytes, allocations, peak or leaked, not '%s'", optarg);
            sort_measure = m;
            break;
        }
        case 't':
        case 'f':
            if (ht_cli_parse_count(optarg, c == 't' ? &top : &frames) < 0)
                return ht_cli_usage_error("diff", "--%s needs a count, not '%s'",
                                          c == 't' ? "top" : "frames", optarg);
            break;
        case 'j': json = 1; break;
        case 'd':
            if (ht_cli_stacks_debug_dir(&a.stacks, "diff", optarg) ||
                ht_cli_stacks_debug_dir(&b.stacks, "diff", optarg))
                return HT_EXIT_USAGE;
            break;
        case 'r': a.stacks.options.sysroot = b.stacks.options.sysroot = optarg; break;
        default:
            return ht_cli_usage_error("diff", optopt ? "option '%s' needs a value"
                                                     : "unknown option '%s'",
                                      argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return ht_cli_usage_error("diff", argc - optind < 2 ? "two trace files are needed"
                                                            : "too many arguments");
    a.path = argv[optind];
    b.path = argv[optind + 1];
    int status = read_side(&a);
    if (status == HT_EXIT_OK)
        status = read_side(&b);
    pair *pairs = NULL;
    size_t n = 0;
    if (status == HT_EXIT_OK) {
        pairs = malloc((a.table.count + b.table.count + 1) * sizeof *pairs);
        if (!pairs) {
            ht_cli_error("diff", "out of memory");
            status = HT_EXIT_FAILURE;
        }
    }
    if (status == HT_EXIT_OK) {
        for (size_t i = 0; i < a.table.count; i++)
            pairs[n++] = (pair){&a.table.sites[i], ht_cli_site_table_find(&b.table, &a.table.sites[i])};
        for (size_t i = 0; i < b.table.count; i++)
            if (!ht_cli_site_table_find(&a.table, &b.table.sites[i]))
                pairs[n++] = (pair){NULL, &b.table.sites[i]};
        size_t changed = 0;
        for (size_t i = 0; i < n; i++) {
            enum measure m = 0;
            while (m < MEASURES && !change(&pairs[i], m))
                m++;
            if (m < MEASURES)
                pairs[changed++] = pairs[i];
        }
        qsort(pairs, changed, sizeof *pairs, larger_change_first);
        n = top && changed > top ? top : changed;
        if (json)
            print_json(&a, &b, pairs, n);
        else
            print_text(&a, &b, pairs, n, frames);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            ht_cli_error("diff", "cannot write the output: %s", strerror(errno));
            status = HT_EXIT_FAILURE;
        }
    }
    free(pairs);
    free_side(&a);
    free_side(&b);
    return status;
}
