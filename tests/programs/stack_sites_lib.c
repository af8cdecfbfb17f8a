/* The site in a shared library the program links. */
#include <stdlib.h>

#include "stack_sites.h"

__attribute__((noinline)) void *sites_lib_alloc(size_t n)
{
    void *p = malloc(n);
    SITE_KEEP(p);
    return p;
}
const int sites_lib_line = __LINE__ - 4;
