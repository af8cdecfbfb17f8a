/* libsym_shared.so: a function in a shared library the test links. */
#include "symlibs.h"

int sym_shared_function(sym_probe_fn probe, int x, int *line)
{
    int r = (*line = __LINE__, probe(x));
    return r * 3 + 1;
}
