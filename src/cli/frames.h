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

/* Resolve stack_id of pid into out (at most max frames, innermost first,
 * allocator frames dropped). Returns the frame count; 0 when the stack is
 * not defined. */
size_t ht_cli_resolve_stack(const ht_stacks *stacks, ht_symbolizer *symbols, uint32_t pid,
                            uint32_t stack_id, ht_frame *out, size_t max);

/* "function (file:line) [module+0xoffset]", " (inlined)" when it is. */
void ht_cli_print_frame(FILE *out, const ht_frame *f);

/* {"function","file","line","module","offset","inlined"}, null where unknown. */
void ht_cli_json_frame(FILE *out, const ht_frame *f);

#endif
