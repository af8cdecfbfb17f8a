/*
 * The export formats behind `heaptrail export`, `flamegraph` and `plot`.
 *
 * A command opens the trace and feeds every event, in reading order, to one
 * exporter; the exporter writes its output through output_file.h, so that
 * nothing is left behind unless finish succeeds. Formats that show call
 * stacks ask the command for resolved frames (the command owns the stack
 * store and the symbolizer, and culls allocator frames), through
 * ht_frame_resolver.
 *
 * Order of calls for each event: image_end (for PROCESS_START and
 * PROCESS_EXIT: the image of that pid may end here, and its stacks are still
 * resolvable), then the command takes the event into its stack store, then
 * event. At the end of the trace, finish ends the images still open and
 * writes the output; destroy after a failure removes it.
 *
 * Every function taking err fills it with a message that says what and where
 * when it fails (returns -1).
 */
#ifndef HT_EXPORT_EXPORTER_H
#define HT_EXPORT_EXPORTER_H

#include <stddef.h>
#include <stdint.h>

#include "heaptrail/events.h"
#include "heaptrail/symbols.h"
#include "heaptrail/trace.h"

/* Resolve stack_id of the current image of pid into at most max frames,
 * innermost first, allocator frames left out; returns the count (0: the
 * stack is not defined). */
typedef size_t (*ht_frame_resolver)(void *context, uint32_t pid, uint32_t stack_id,
                                    ht_frame *out, size_t max);

/* What a folded stack or flame graph counts for each call stack. */
enum ht_export_weight {
    HT_WEIGHT_BYTES,  /* bytes allocated (ALLOC Size, REALLOC NewSize) */
    HT_WEIGHT_COUNT,  /* allocations (ALLOC and REALLOC) */
    HT_WEIGHT_PEAK,   /* bytes live at the image's peak */
    HT_WEIGHT_LEAKED, /* bytes still live when the image ended */
};

/* What a plot stacks, and what the chrome export draws a counter for. */
enum ht_export_split { HT_SPLIT_SOURCE, HT_SPLIT_HEAP };

typedef struct ht_export_options {
    const char *output;          /* the file or directory to write; "-": stdout where allowed */
    const char *trace_path;      /* the trace, for titles */
    const ht_trace_info *info;   /* the trace header */
    ht_frame_resolver resolve;   /* NULL: no stacks */
    void *resolve_context;
    enum ht_export_weight weight; /* folded, flamegraph */
    enum ht_export_split split;   /* plot */
    int has_pid;                  /* heaptrack: the process to export */
    uint32_t pid;
    unsigned width;               /* plot, flamegraph: SVG width in pixels */
} ht_export_options;

typedef struct ht_exporter ht_exporter;

typedef struct ht_export_format {
    const char *name;
    int stdout_ok;    /* "-o -" writes to standard output */
    int needs_stacks; /* it shows call stacks: the command resolves them */
    ht_exporter *(*create)(const ht_export_options *options, char *err, size_t errlen);
    /* NULL when the format does not care where images end. */
    int (*image_end)(ht_exporter *x, uint32_t pid, char *err, size_t errlen);
    int (*event)(ht_exporter *x, const ht_event *event, char *err, size_t errlen);
    /* Write the rest and put the output in place. */
    int (*finish)(ht_exporter *x, char *err, size_t errlen);
    /* Release everything; output not finished is removed. */
    void (*destroy)(ht_exporter *x);
} ht_export_format;

/* The formats, one file each. */
extern const ht_export_format ht_export_pprof;
extern const ht_export_format ht_export_ctf;
extern const ht_export_format ht_export_heaptrack;
extern const ht_export_format ht_export_folded;
extern const ht_export_format ht_export_flamegraph;
extern const ht_export_format ht_export_plot;
extern const ht_export_format ht_export_chrome;
extern const ht_export_format ht_export_sqlite;

/* The format `heaptrail export --format name` writes ("pprof", "ctf",
 * "heaptrack", "folded", "chrome", "sqlite"), or NULL. */
const ht_export_format *ht_export_find(const char *name);

/* The picture a command of that name draws ("flamegraph", "plot"), or
 * NULL. */
const ht_export_format *ht_export_picture(const char *name);

#endif
