/* The units of a module by address: see units.h. */
#include "symbols/units.h"

#include <elfutils/libdw.h>
#include <stdlib.h>
#include <string.h>

static int by_low(const void *a, const void *b)
{
    const ht_unit_range *x = a, *y = b;
    return x->low < y->low ? -1 : x->low > y->low;
}

static bool build(ht_unit_index *index, Dwfl_Module *mod)
{
    ht_unit_range *ranges = NULL;
    size_t count = 0, cap = 0;
    Dwarf_Addr bias;
    for (Dwarf_Die *unit = dwfl_module_nextcu(mod, NULL, &bias); unit;
         unit = dwfl_module_nextcu(mod, unit, &bias)) {
        Dwarf_Addr base, low, high;
        for (ptrdiff_t at = 0; (at = dwarf_ranges(unit, at, &base, &low, &high)) > 0;) {
            if (high <= low)
                continue;
            if (count == cap) {
                size_t grown = cap ? cap * 2 : 64;
                ht_unit_range *more = realloc(ranges, grown * sizeof *more);
                if (!more) {
                    free(ranges);
                    return false;
                }
                ranges = more;
                cap = grown;
            }
            ranges[count++] = (ht_unit_range){.low = low, .high = high, .unit = dwarf_dieoffset(unit)};
        }
    }
    if (count)
        qsort(ranges, count, sizeof *ranges, by_low); /* qsort's array must not be NULL */
    index->ranges = ranges;
    index->count = count;
    index->built = true;
    return true;
}

bool ht_unit_index_find(ht_unit_index *index, Dwfl_Module *mod, Dwarf_Addr addr, Dwarf_Die *unit)
{
    if (!index->built && !build(index, mod))
        return false;
    /* The last range starting at or below addr. */
    size_t lo = 0, hi = index->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (index->ranges[mid].low <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || addr >= index->ranges[lo - 1].high)
        return false;
    Dwarf_Addr bias;
    Dwarf *dwarf = dwfl_module_getdwarf(mod, &bias);
    return dwarf && dwarf_offdie(dwarf, index->ranges[lo - 1].unit, unit) != NULL;
}

void ht_unit_index_destroy(ht_unit_index *index)
{
    free(index->ranges);
    memset(index, 0, sizeof *index);
}
