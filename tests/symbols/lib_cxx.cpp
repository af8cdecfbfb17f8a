// libsym_cxx.so: a C++ method, whose name must come back demangled.
#include "symlibs.h"

namespace ht_demo {

struct Widget {
    int size;
    __attribute__((noinline)) int grow(sym_probe_fn probe, int x, int *line);
};

int Widget::grow(sym_probe_fn probe, int x, int *line)
{
    int r = (*line = __LINE__, probe(x));
    size += r;
    return size * 11;
}

} // namespace ht_demo

int sym_cxx_entry(sym_probe_fn probe, int x, int *line)
{
    ht_demo::Widget w = {x};
    return w.grow(probe, x, line) + 1;
}
