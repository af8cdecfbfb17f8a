/*
 * The compilation units of a module by address, where libdw cannot tell
 * them. libdw finds the unit of an address through .debug_aranges, which
 * clang does not emit by default (it takes -gdwarf-aranges); libdw 0.188,
 * Debian 12's, then finds no unit for any address of the module, hence no
 * line and no scopes either, and a clang-built program's frames would have
 * function names from the symbol table only. The index reads every unit's
 * address ranges (DW_AT_ranges, or low_pc and high_pc) once, on the first
 * address of the module that libdw could not place, and then answers by
 * binary search.
 */
#ifndef HT_SYMBOLS_UNITS_H
#define HT_SYMBOLS_UNITS_H

#include <elfutils/libdwfl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ht_unit_range {
    Dwarf_Addr low, high; /* [low, high), DWARF addresses (no load bias) */
    Dwarf_Off unit;       /* the unit DIE's offset in .debug_info */
} ht_unit_range;

typedef struct ht_unit_index {
    ht_unit_range *ranges; /* sorted by low */
    size_t count;
    bool built;
} ht_unit_index;

/* The unit DIE of mod whose ranges hold DWARF address addr, in *unit.
 * False when none does, or when memory ran out building the index (which
 * is then tried again on the next call). */
bool ht_unit_index_find(ht_unit_index *index, Dwfl_Module *mod, Dwarf_Addr addr, Dwarf_Die *unit);

void ht_unit_index_destroy(ht_unit_index *index);

#endif
