/* heaptrail stats: the figures of a whole trace, per process and in total. */
#include <errno.h>
#include <getopt.h>
#include <sched.h> /* sched_getaffinity */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/summary.h"
#include "cli/cli.h"
#include "cli/json.h"
#include "cli/trace_open.h"
#include "heaptrail/trace.h"

const char cmd_stats_usage[] =
    "usage: heaptrail stats [--json] [--threads N] FILE\n"
    "\n"
    "Read a whole trace and print, for each process image (a process, or what it\n"
    "became after an exec) and in total: events by type, bytes allocated, peak\n"
    "live bytes, bytes and blocks still live at the end (leaks), allocations by\n"
    "allocator path (Source), threads, lost events, duration and anomalies (frees\n"
    "and reallocs of addresses that are not live, allocations over live ones).\n"
    "Memory use follows the blocks live at one time, not the file's size.\n"
    "\n"
    "  --json         print one JSON object (see heaptrail-stats(1) for its fields)\n"
    "  --threads N    threads that read the trace (default: one per CPU); the\n"
    "                 figures are the same for any N\n"
    "\n"
    "Exit status: 0 success, 1 damaged trace (figures up to the damage are still\n"
    "printed), 2 usage error or not a trace. A truncated trace is read to its last\n"
    "complete chunk, with a warning.\n";

/* Out of memory in the event callback: stop reading (not a trace error). */
#define STOP_NOMEM 1

static int on_records(uint32_t pid, const ht_record *recs, size_t n, void *ctx)
{
    return ht_summary_add_records(ctx, pid, recs, n, NULL) < 0 ? STOP_NOMEM : 0;
}

/* Most threads --threads takes: more would only fill memory with chunks
 * waiting for the one thread that applies them. */
#define MAX_THREADS 64

/* Threads to read with when --threads is not given: the CPUs this process
 * may run on. */
static unsigned default_threads(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set) < MAX_THREADS ? (unsigned)CPU_COUNT(&set) : MAX_THREADS;
    return 1;
}

static double seconds(uint64_t ns) { return (double)ns / 1e9; }

static uint64_t duration_of(const ht_usage *u)
{
    return u->events ? u->last_time - u->first_time : 0;
}

/* ---- JSON ---- */

static void json_events(FILE *out, const ht_summary *s, const ht_usage *u)
{
    /* alloc, free and realloc always, then every other type seen */
    static const uint16_t heap[] = {HT_EVENT_HEAP_ALLOC, HT_EVENT_HEAP_FREE,
                                    HT_EVENT_HEAP_REALLOC};
    fputc('{', out);
    for (size_t i = 0; i < 3; i++)
        fprintf(out, "%s\"%s\":%" PRIu64, i ? "," : "", ht_event_type_name(heap[i]),
                ht_summary_type_count(s, u, heap[i]));
    uint16_t type;
    const char *name;
    for (size_t i = 0; (name = ht_summary_type(s, i, &type)); i++) {
        if (type == HT_EVENT_HEAP_ALLOC || type == HT_EVENT_HEAP_FREE ||
            type == HT_EVENT_HEAP_REALLOC || u->by_type[i] == 0)
            continue;
        fputc(',', out);
        ht_json_put_string(out, name, strlen(name));
        fprintf(out, ":%" PRIu64, u->by_type[i]);
    }
    fputc('}', out);
}

static void json_sources(FILE *out, const ht_usage *u)
{
    /* The documented paths always; "segmentheap" and "unknown" when seen. */
    fputc('{', out);
    for (unsigned i = MEMORY_FROM_LOOKASIDE; i <= MEMORY_FROM_INVALID; i++)
        fprintf(out, "%s\"%s\":%" PRIu64, i > MEMORY_FROM_LOOKASIDE ? "," : "",
                ht_summary_source_name(i), u->by_source[i]);
    static const unsigned rare[] = {MEMORY_FROM_SEGMENT_HEAP, 0};
    for (size_t i = 0; i < 2; i++)
        if (u->by_source[rare[i]])
            fprintf(out, ",\"%s\":%" PRIu64, ht_summary_source_name(rare[i]),
                    u->by_source[rare[i]]);
    fputc('}', out);
}

/* The fields a process entry and the totals share. */
static void json_usage(FILE *out, const ht_summary *s, const ht_usage *u)
{
    fprintf(out, "\"event_count\":%" PRIu64 ",\"events\":", u->events);
    json_events(out, s, u);
    fprintf(out,
            ",\"bytes_allocated\":%" PRIu64 ",\"peak_bytes\":%" PRIu64
            ",\"peak_time_ns\":%" PRIu64 ",\"leaked_bytes\":%" PRIu64
            ",\"leaked_blocks\":%" PRIu64 ",\"by_source\":",
            u->bytes_allocated, u->peak_bytes, u->peak_time, u->leaked_bytes, u->leaked_blocks);
    json_sources(out, u);
    fprintf(out,
            ",\"lost_events\":%" PRIu64 ",\"threads\":%" PRIu64 ",\"first_ns\":%" PRIu64
            ",\"last_ns\":%" PRIu64 ",\"duration_ns\":%" PRIu64
            ",\"anomalies\":{\"free_unknown\":%" PRIu64 ",\"realloc_unknown\":%" PRIu64
            ",\"alloc_over_live\":%" PRIu64 "}",
            u->lost_events, u->threads, u->events ? u->first_time : 0,
            u->events ? u->last_time : 0, duration_of(u), u->anomalies.free_unknown,
            u->anomalies.realloc_unknown, u->anomalies.alloc_over_live);
}

static void print_json(FILE *out, const char *path, const ht_summary *s,
                       const ht_trace_status *st)
{
    fputs("{\"file\":", out);
    ht_json_put_string(out, path, strlen(path));
    fprintf(out, ",\"complete\":%s,\"truncated\":%s,", st->Complete ? "true" : "false",
            st->Truncated ? "true" : "false");
    json_usage(out, s, ht_summary_totals(s));
    fputs(",\"processes\":[", out);
    for (size_t i = 0; i < ht_summary_process_count(s); i++) {
        const ht_process_summary *p = ht_summary_process(s, i);
        fprintf(out, "%s{\"pid\":%" PRIu32 ",\"ppid\":", i ? "," : "", p->pid);
        if (p->started)
            fprintf(out, "%" PRIu32, p->ppid);
        else
            fputs("null", out);
        fputs(",\"command\":", out);
        if (p->started)
            ht_json_put_string(out, p->command, p->command_len);
        else
            fputs("null", out);
        fputs(",\"executable\":", out);
        if (p->started)
            ht_json_put_string(out, p->executable, p->executable_len);
        else
            fputs("null", out);
        fprintf(out, ",\"exec\":%s,\"exited\":%s,\"exit_status\":", p->after_exec ? "true" : "false",
                p->exited ? "true" : "false");
        if (p->exited && p->exit_known)
            fprintf(out, "%" PRId32, p->exit_status);
        else
            fputs("null", out);
        fputc(',', out);
        json_usage(out, s, &p->usage);
        fputc('}', out);
    }
    fputs("]}\n", out);
}

/* ---- table ---- */

/* A command as one printable line: bytes that would break the table are shown
 * as '?'. */
static void put_command(FILE *out, const ht_process_summary *p)
{
    if (!p->started) {
        fputs("?", out);
        return;
    }
    for (size_t i = 0; i < p->command_len; i++) {
        unsigned char c = (unsigned char)p->command[i];
        fputc(c < 0x20 || c == 0x7F ? '?' : c, out);
    }
}

static void print_table(FILE *out, const char *path, const ht_summary *s,
                        const ht_trace_status *st)
{
    const ht_usage *t = ht_summary_totals(s);
    fprintf(out, "%-18s %s%s\n", "trace", path,
            st->Truncated ? " (truncated)" : st->Complete ? "" : " (incomplete)");
    fprintf(out, "%-18s %.6f s\n", "duration", seconds(duration_of(t)));
    fprintf(out, "%-18s %" PRIu64 "\n", "events", t->events);
    uint16_t type;
    const char *name;
    for (size_t i = 0; (name = ht_summary_type(s, i, &type)); i++)
        if (t->by_type[i])
            fprintf(out, "  %-16s %" PRIu64 "\n", name, t->by_type[i]);
    fprintf(out, "%-18s %" PRIu64 "\n", "bytes allocated", t->bytes_allocated);
    fprintf(out, "%-18s %" PRIu64 " bytes", "peak live", t->peak_bytes);
    if (t->peak_bytes)
        fprintf(out, " at %.6f s", seconds(t->peak_time - t->first_time));
    fputc('\n', out);
    fprintf(out, "%-18s %" PRIu64 " bytes in %" PRIu64 " blocks\n", "leaked", t->leaked_bytes,
            t->leaked_blocks);
    fprintf(out, "%-18s", "by source");
    int any = 0;
    for (unsigned i = 0; i < HT_SUMMARY_SOURCES; i++)
        if (t->by_source[i]) {
            fprintf(out, " %s %" PRIu64, ht_summary_source_name(i), t->by_source[i]);
            any = 1;
        }
    fputs(any ? "\n" : " -\n", out);
    fprintf(out, "%-18s %" PRIu64 "\n", "threads", t->threads);
    fprintf(out, "%-18s %" PRIu64 "\n", "lost events", t->lost_events);
    fprintf(out,
            "%-18s %" PRIu64 " frees of unknown addresses, %" PRIu64
            " reallocs of unknown addresses, %" PRIu64 " allocations over live blocks\n",
            "anomalies", t->anomalies.free_unknown, t->anomalies.realloc_unknown,
            t->anomalies.alloc_over_live);
    fprintf(out, "\n%8s %8s %10s %10s %10s %10s %14s %12s %12s %8s  %s\n", "PID", "PPID", "EVENTS",
            "ALLOCS", "FREES", "REALLOCS", "ALLOCATED", "PEAK", "LEAKED", "BLOCKS", "COMMAND");
    for (size_t i = 0; i < ht_summary_process_count(s); i++) {
        const ht_process_summary *p = ht_summary_process(s, i);
        const ht_usage *u = &p->usage;
        fprintf(out, "%8" PRIu32 " ", p->pid);
        if (p->started)
            fprintf(out, "%8" PRIu32, p->ppid);
        else
            fprintf(out, "%8s", "?");
        fprintf(out,
                " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %14" PRIu64
                " %12" PRIu64 " %12" PRIu64 " %8" PRIu64 "  %s",
                u->events, ht_summary_type_count(s, u, HT_EVENT_HEAP_ALLOC),
                ht_summary_type_count(s, u, HT_EVENT_HEAP_FREE),
                ht_summary_type_count(s, u, HT_EVENT_HEAP_REALLOC), u->bytes_allocated,
                u->peak_bytes, u->leaked_bytes, u->leaked_blocks, p->after_exec ? "(exec) " : "");
        put_command(out, p);
        fputc('\n', out);
    }
}

int cmd_stats(int argc, char **argv)
{
    static const struct option options[] = {{"json", no_argument, NULL, 'j'},
                                            {"threads", required_argument, NULL, 't'},
                                            {NULL, 0, NULL, 0}};
    int json = 0, c;
    unsigned threads = default_threads();
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == 'j') {
            json = 1;
        } else if (c == 't') {
            char *end;
            errno = 0;
            unsigned long n = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || n < 1 || n > MAX_THREADS)
                return ht_cli_usage_error("stats", "--threads takes a number from 1 to %d, not '%s'",
                                          MAX_THREADS, optarg);
            threads = (unsigned)n;
        } else if (c == '?' && optopt == 't') {
            return ht_cli_usage_error("stats", "--threads needs a number");
        } else {
            return ht_cli_usage_error("stats", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return ht_cli_usage_error("stats", argc - optind < 1 ? "no trace file given"
                                                             : "too many arguments");
    const char *path = argv[optind];
    ht_trace *t = ht_cli_open_trace("stats", path);
    if (!t)
        return HT_EXIT_USAGE_OR_FAILURE;
    ht_summary *s = ht_summary_create();
    if (!s) {
        ht_trace_close(t);
        ht_cli_error("stats", "out of memory");
        return HT_EXIT_FAILURE;
    }
    /* One thread applies the events in order; the others check, decompress
     * and decode the chunks ahead of it. */
    int r = ht_cli_process_records(t, threads - 1, on_records, s);
    if (r == STOP_NOMEM) {
        ht_summary_destroy(s);
        ht_trace_close(t);
        ht_cli_error("stats", "out of memory");
        return HT_EXIT_FAILURE;
    }
    ht_summary_finish(s);
    const ht_trace_status *st = ht_trace_get_status(t);
    if (json)
        print_json(stdout, path, s, st);
    else
        print_table(stdout, path, s, st);
    ht_summary_destroy(s);
    int status = ht_cli_finish_trace("stats", t, r);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        ht_cli_error("stats", "cannot write the output");
        return HT_EXIT_FAILURE;
    }
    return status;
}
