/* Call stacks as the commands show them: resolved to frames with the
 * allocator's frames left out, one frame as text or as a JSON object. Every
 * command that prints stacks (dump --stacks, leaks) goes through here, so
 * they show the same frames the same way. */
#ifndef HT_CLI_FRAMES_H
#define HT_CLI_FRAMES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "heaptrail/stacks.h"
#include "heaptrail/symbols.h"

#define HT_CLI_MAX_DEBUG_DIRS 16

/* What a command needs to show stacks: the trace's stack definitions, a
 * symbolizer, and the --debug-dir / --sysroot options that configure it. */
typedef struct ht_cli_stacks {
    ht_stacks *store;
    ht_symbolizer *symbols;
    const char *debug_dirs[HT_CLI_MAX_DEBUG_DIRS];
    ht_symbolizer_options options;
} ht_cli_stacks;

/* Empty, with default options. */
void ht_cli_stacks_init(ht_cli_stacks *s);

/* --debug-dir DIR for command name: 0, or a usage error printed and
 * HT_EXIT_USAGE returned. */
int ht_cli_stacks_debug_dir(ht_cli_stacks *s, const char *name, const char *dir);

/* Create the store and the symbolizer. 0, or -1 when memory ran out. */
int ht_cli_stacks_open(ht_cli_stacks *s);

/* Feed one event (every event, shown or not: a process's stacks and
 * modules are defined once). 0, or -1 when memory ran out. */
int ht_cli_stacks_take(ht_cli_stacks *s, const ht_event *event);

/* Resolve stack_id of pid into out (at most max frames, innermost first,
 * allocator frames dropped). Returns the frame count; 0 when the stack is
 * not defined. */
size_t ht_cli_stacks_resolve(ht_cli_stacks *s, uint32_t pid, uint32_t stack_id, ht_frame *out,
                             size_t max);

void ht_cli_stacks_close(ht_cli_stacks *s);

/* "function (file:line) [module+0xoffset]", " (inlined)" when it is. */
void ht_cli_print_frame(FILE *out, const ht_frame *f);

/* {"function","file","line","module","offset","inlined"}, null where unknown. */
void ht_cli_json_frame(FILE *out, const ht_frame *f);

/* The n frames of a site under its table row, innermost first: at most max
 * (0: all), then how many were left out; "(no stack)" when n is 0. */
void ht_cli_print_site_frames(FILE *out, const ht_frame *f, size_t n, size_t max);

/* The n frames as a JSON list of ht_cli_json_frame objects. */
void ht_cli_json_frames(FILE *out, const ht_frame *f, size_t n);

#endif
