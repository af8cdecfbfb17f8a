/* The site in a library the program loads with dlopen. */
#include <stdlib.h>

#include "stack_sites.h"

void *sites_dl_alloc(size_t n);
extern const int sites_dl_line;

__attribute__((noinline)) void *sites_dl_alloc(size_t n)
{
    void *p = malloc(n);
    SITE_KEEP(p);
    return p;
}
const int sites_dl_line = __LINE__ - 4;
