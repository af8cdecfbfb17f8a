/* heaptrail: dispatch to the subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "heaptrail/trace.h"

static const ht_builtin builtins[] = {
    {"record", cmd_record, "run a program and record its heap events (and its children's)",
     cmd_record_usage},
    {"collect", cmd_collect, "the recorder the preload library starts for HEAPTRAIL_OUTPUT",
     cmd_collect_usage},
    {"info", cmd_info, "summarize a trace file: header, processes, counts, loss, chunks",
     cmd_info_usage},
    {"stats", cmd_stats, "per-process figures: events, bytes, peak, leaks, sources, threads",
     cmd_stats_usage},
    {"dump", cmd_dump, "print every event as text, CSV or JSON Lines", cmd_dump_usage},
    {"leaks", cmd_leaks, "blocks still allocated when each process ended, grouped by stack",
     cmd_leaks_usage},
    {"report", cmd_report, "top allocation sites, peak, leaks, temporaries, sizes, windows",
     cmd_report_usage},
    {"diff", cmd_diff, "the allocation sites that grew or shrank between two traces",
     cmd_diff_usage},
    {"export", cmd_export, "write the trace for other tools: pprof, CTF, heaptrack, SQLite, ...",
     cmd_export_usage},
    {"flamegraph", cmd_flamegraph, "draw the call stacks as an interactive SVG flame graph",
     cmd_flamegraph_usage},
    {"plot", cmd_plot, "draw the heap in use over time as an SVG chart", cmd_plot_usage},
};

#define BUILTIN_COUNT (sizeof builtins / sizeof builtins[0])

const ht_builtin *ht_find_builtin(const char *name)
{
    for (size_t i = 0; i < BUILTIN_COUNT; i++)
        if (strcmp(builtins[i].name, name) == 0)
            return &builtins[i];
    return NULL;
}

static void vreport(const char *kind, const char *name, const char *fmt, va_list ap)
{
    fprintf(stderr, "heaptrail %s: %s", name, kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void ht_cli_error(const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport("", name, fmt, ap);
    va_end(ap);
}

void ht_cli_warn(const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport("warning: ", name, fmt, ap);
    va_end(ap);
}

int ht_cli_usage_error(const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport("", name, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try 'heaptrail help %s'.\n", name);
    return HT_EXIT_USAGE;
}

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: heaptrail [--version] [--help] COMMAND [ARGS]\n"
            "\n"
            "Heap event tracing for Linux: every allocation, free and reallocation, with the\n"
            "heap and the allocator path that served it.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < BUILTIN_COUNT; i++)
        fprintf(out, "  %-10s %s\n", builtins[i].name, builtins[i].summary);
    fprintf(out, "\n'heaptrail help COMMAND' describes one command.\n");
}

static int help(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stdout);
        return HT_EXIT_OK;
    }
    const ht_builtin *b = ht_find_builtin(argv[1]);
    if (!b) {
        fprintf(stderr, "heaptrail: no command '%s'; 'heaptrail --help' lists them\n", argv[1]);
        return HT_EXIT_USAGE;
    }
    fputs(b->usage, stdout);
    return HT_EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return HT_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        print_help(stdout);
        return HT_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("heaptrail %s (trace format %d.%d)\n", ht_version(), HT_TRACE_FORMAT_MAJOR,
               HT_TRACE_FORMAT_MINOR);
        return HT_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0)
        return help(argc - 1, argv + 1);
    const ht_builtin *b = ht_find_builtin(cmd);
    if (!b) {
        fprintf(stderr, "heaptrail: '%s' is not a command; 'heaptrail --help' lists them\n", cmd);
        return HT_EXIT_USAGE;
    }
    /* `heaptrail CMD --help` is the same as `heaptrail help CMD`. */
    if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        fputs(b->usage, stdout);
        return HT_EXIT_OK;
    }
    return b->run(argc - 1, argv + 1);
}
