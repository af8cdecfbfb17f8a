/* libsym_dlopen.so: a function in a library the test loads with dlopen. */
#include "symlibs.h"

int sym_dlopen_function(sym_probe_fn probe, int x, int *line);

int sym_dlopen_function(sym_probe_fn probe, int x, int *line)
{
    int r = (*line = __LINE__, probe(x));
    return r * 5 + 2;
}
