/* libsym_noaranges.so: a function in a library whose DWARF has no
 * .debug_aranges, as clang builds them by default (the build removes the
 * section). The test loads it with dlopen. */
#include "symlibs.h"

int sym_noaranges_function(sym_probe_fn probe, int x, int *line);

int sym_noaranges_function(sym_probe_fn probe, int x, int *line)
{
    int r = (*line = __LINE__, probe(x));
    return r * 7 + 3;
}
