/* libsym_split.so: the library whose debug info the tests move elsewhere. */
#include "symlibs.h"

int sym_split_function(sym_probe_fn probe, int x, int *line)
{
    int r = (*line = __LINE__, probe(x));
    return r * 7 + 3;
}
