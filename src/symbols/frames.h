/*
 * The frames one address of an open module stands for: the functions
 * inlined at it, innermost first, then the function it is really in.
 */
#ifndef HT_SYMBOLS_FRAMES_H
#define HT_SYMBOLS_FRAMES_H

#include <elfutils/libdwfl.h>
#include <stddef.h>
#include <stdint.h>

#include "heaptrail/symbols.h"
#include "symbols/strtab.h"
#include "symbols/units.h"

/* A growing array of frames. */
typedef struct ht_frame_vec {
    ht_frame *frames;
    size_t count, cap;
} ht_frame_vec;

/* Append a copy of *f. Returns 0, or -1 when memory ran out. */
int ht_frame_vec_push(ht_frame_vec *v, const ht_frame *f);

void ht_frame_vec_destroy(ht_frame_vec *v);

/* Append the frames of pc, an address of mod (dwfl addresses are module
 * offsets, see module.c): from the DWARF scopes when there is DWARF,
 * otherwise one frame named by the symbol table (flag HT_FRAME_NO_DEBUG_INFO).
 * The last frame appended is never inlined, the ones before it always are.
 * units is mod's unit index, for DWARF without .debug_aranges. Names and
 * files are interned in strings; module and module_offset are left for the
 * caller. Returns 0, or -1 when memory ran out. */
int ht_frames_describe(Dwfl_Module *mod, ht_unit_index *units, uint64_t pc, ht_strtab *strings,
                       ht_frame_vec *out);

#endif
