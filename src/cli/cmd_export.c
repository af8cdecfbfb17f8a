/* heaptrail export: write a trace in a format other tools open. The same
 * reading loop serves `heaptrail flamegraph` and `heaptrail plot`, which are
 * exports to one picture format each. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/frames.h"
#include "cli/progress.h"
#include "cli/trace_open.h"
#include "cli/units.h"
#include "export/exporter.h"

const char cmd_export_usage[] =
    "usage: heaptrail export --format FORMAT -o OUT [--weight W] [--pid P]\n"
    "                        [--debug-dir DIR] [--sysroot DIR] FILE\n"
    "\n"
    "Write the trace FILE in a format another tool opens. OUT appears only when\n"
    "the whole export succeeded.\n"
    "\n"
    "Formats:\n"
    "  pprof      gzip'd profile.proto (go tool pprof, Pyroscope, Parca):\n"
    "             alloc_objects, alloc_space, inuse_objects, inuse_space by stack\n"
    "  ctf        a CTF 1.8 trace directory, every event (babeltrace2, Trace Compass)\n"
    "  heaptrack  heaptrack's data file of one process (heaptrack_print and _gui)\n"
    "  folded     folded stacks for flame graphs, one line per call stack\n"
    "  chrome     Chrome Trace Event JSON (Perfetto, chrome://tracing): live bytes\n"
    "             per process and per heap, process and module events\n"
    "  sqlite     an SQLite database: events, stacks, frames, modules, processes,\n"
    "             threads (docs/EXPORTS.md has the schema)\n"
    "\n"
    "  -o, --output OUT   the file (the directory for ctf) to write; - writes folded\n"
    "                     and chrome to standard output\n"
    "  --weight W         folded: what a stack counts: bytes (allocated there, the\n"
    "                     default), count (allocations), peak (bytes live at the\n"
    "                     process's peak) or leaked (bytes live when it ended)\n"
    "  --pid P            heaptrack: the process to export (default: the recorded\n"
    "                     command, the process of the trace's first event)\n"
    "  --debug-dir DIR    also look for separate debug info under DIR (repeatable)\n"
    "  --sysroot DIR      find the recorded modules under DIR\n"
    "\n"
    "Exit status: 0, 1 damaged trace or output not written, 2 usage error or not a\n"
    "trace.\n";

static size_t resolve_frames(void *context, uint32_t pid, uint32_t stack_id, ht_frame *out,
                             size_t max)
{
    return ht_cli_stacks_resolve(context, pid, stack_id, out, max);
}

/* Read the whole trace into the exporter. Returns what ht_trace_next last
 * returned, or -2 with a message in err when the exporter failed. */
static int read_trace(const ht_export_format *fmt, ht_exporter *x, ht_cli_stacks *stacks,
                      ht_trace *t, char *err, size_t errlen)
{
    const ht_event *ev;
    int r;
    while ((r = ht_cli_next(t, &ev)) == 1) {
        const ht_event_header *h = &ev->Header;
        int starts_or_exits = !(h->Flags & HT_EVENT_FLAG_UNKNOWN_TYPE) &&
                              (h->Type == HT_EVENT_PROCESS_START ||
                               h->Type == HT_EVENT_PROCESS_EXIT);
        /* An exit or an exec ends the image: the exporter resolves its
         * stacks before a new image's PROCESS_START makes the store forget
         * them. */
        if (starts_or_exits && fmt->image_end && fmt->image_end(x, h->ProcessId, err, errlen) < 0)
            return -2;
        if (stacks->store && ht_cli_stacks_take(stacks, ev) < 0) {
            snprintf(err, errlen, "out of memory");
            return -2;
        }
        if (fmt->event(x, ev, err, errlen) < 0)
            return -2;
    }
    return r;
}

int ht_cli_export_command(const char *name, const char *format, int argc, char **argv)
{
    static const struct option options[] = {{"format", required_argument, NULL, 'f'},
                                            {"output", required_argument, NULL, 'o'},
                                            {"weight", required_argument, NULL, 'w'},
                                            {"by", required_argument, NULL, 'b'},
                                            {"pid", required_argument, NULL, 'p'},
                                            {"width", required_argument, NULL, 'W'},
                                            {"debug-dir", required_argument, NULL, 'd'},
                                            {"sysroot", required_argument, NULL, 'r'},
                                            {NULL, 0, NULL, 0}};
    /* Which options each command takes: export takes every one but --by and
     * --width, flamegraph and plot their own. */
    const int is_export = strcmp(name, "export") == 0;
    const int is_plot = strcmp(name, "plot") == 0;
    ht_export_options opt;
    memset(&opt, 0, sizeof opt);
    opt.width = is_plot ? 1000 : 1200;
    ht_cli_stacks stacks;
    ht_cli_stacks_init(&stacks);
    int has_weight = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:", options, NULL)) != -1) {
        const char *bad = NULL;
        switch (c) {
        case 'f':
            if (!is_export)
                bad = "--format";
            format = optarg;
            break;
        case 'o': opt.output = optarg; break;
        case 'w':
            if (is_plot)
                bad = "--weight";
            else if (!strcmp(optarg, "bytes"))
                opt.weight = HT_WEIGHT_BYTES;
            else if (!strcmp(optarg, "count"))
                opt.weight = HT_WEIGHT_COUNT;
            else if (!strcmp(optarg, "peak"))
                opt.weight = HT_WEIGHT_PEAK;
            else if (!strcmp(optarg, "leaked"))
                opt.weight = HT_WEIGHT_LEAKED;
            else
                return ht_cli_usage_error(
                    name, "--weight is bytes, count, peak or leaked, not '%s'", optarg);
            has_weight = 1;
            break;
        case 'b':
            if (!is_plot)
                bad = "--by";
            else if (!strcmp(optarg, "source"))
                opt.split = HT_SPLIT_SOURCE;
            else if (!strcmp(optarg, "heap"))
                opt.split = HT_SPLIT_HEAP;
            else
                return ht_cli_usage_error(name, "--by is source or heap, not '%s'", optarg);
            break;
        case 'p':
            if (!is_export)
                bad = "--pid";
            else if (ht_cli_parse_u32(optarg, &opt.pid) < 0)
                return ht_cli_usage_error(name, "--pid needs a process id, not '%s'", optarg);
            opt.has_pid = 1;
            break;
        case 'W':
            if (is_export)
                bad = "--width";
            else if (ht_cli_parse_u32(optarg, &opt.width) < 0 || opt.width < (is_plot ? 400u : 200u) ||
                     opt.width > 20000)
                return ht_cli_usage_error(name, "--width needs %u to 20000 pixels, not '%s'",
                                          is_plot ? 400u : 200u, optarg);
            break;
        case 'd':
            if (is_plot)
                bad = "--debug-dir";
            else if (ht_cli_stacks_debug_dir(&stacks, name, optarg))
                return HT_EXIT_USAGE;
            break;
        case 'r':
            if (is_plot)
                bad = "--sysroot";
            stacks.options.sysroot = optarg;
            break;
        default:
            return ht_cli_usage_error(name, optopt ? "option '%s' needs a value"
                                                   : "unknown option '%s'",
                                      argv[optind - 1]);
        }
        if (bad)
            return ht_cli_usage_error(name, "unknown option '%s'", bad);
    }
    if (argc - optind != 1)
        return ht_cli_usage_error(name, argc - optind < 1 ? "no trace file given"
                                                          : "too many arguments");
    if (!format)
        return ht_cli_usage_error(name, "no --format given");
    const ht_export_format *fmt = is_export ? ht_export_find(format) : ht_export_picture(format);
    if (!fmt)
        return ht_cli_usage_error(name, "no export format '%s'", format);
    if (!opt.output)
        return ht_cli_usage_error(name, "no output given (-o OUT)");
    if (!strcmp(opt.output, "-") && !fmt->stdout_ok)
        return ht_cli_usage_error(name, "the %s format cannot be written to standard output",
                                  fmt->name);
    if (has_weight && strcmp(format, "folded") && strcmp(format, "flamegraph"))
        return ht_cli_usage_error(name, "--weight is for the folded format");
    if (opt.has_pid && strcmp(format, "heaptrack"))
        return ht_cli_usage_error(name, "--pid is for the heaptrack format");

    /* The export on standard output shares the terminal with the progress
     * line. */
    if (!strcmp(opt.output, "-") && isatty(STDOUT_FILENO))
        ht_cli_quiet_progress();
    const char *path = argv[optind];
    ht_trace *t = ht_cli_open_trace(name, path);
    if (!t)
        return HT_EXIT_USAGE_OR_FAILURE;
    char err[1024] = "out of memory";
    if (fmt->needs_stacks) {
        if (ht_cli_stacks_open(&stacks) < 0) {
            ht_cli_stacks_close(&stacks);
            ht_trace_close(t);
            ht_cli_error(name, "out of memory");
            return HT_EXIT_FAILURE;
        }
        opt.resolve = resolve_frames;
        opt.resolve_context = &stacks;
    }
    opt.trace_path = path;
    opt.info = ht_trace_get_info(t);
    ht_exporter *x = fmt->create(&opt, err, sizeof err);
    int r = x ? read_trace(fmt, x, &stacks, t, err, sizeof err) : -2;
    if (r >= 0 && fmt->finish(x, err, sizeof err) < 0)
        r = -2;
    if (x)
        fmt->destroy(x);
    ht_cli_stacks_close(&stacks);
    if (r == -2) {
        ht_progress_end();
        ht_trace_close(t);
        ht_cli_error(name, "%s", err);
        return HT_EXIT_FAILURE;
    }
    /* A damaged trace: the reader's error; the output was removed. */
    return ht_cli_finish_trace(name, t, r);
}

int cmd_export(int argc, char **argv) { return ht_cli_export_command("export", NULL, argc, argv); }
