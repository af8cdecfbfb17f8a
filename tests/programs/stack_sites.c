/* Allocates at four sites whose place is known: in the program, through an
 * inlined function, in a linked shared library and in a dlopen'ed one. Each
 * site has its own marked size. Prints, as JSON, for each site: the size,
 * the function and line the innermost frame must show, and for the inlined
 * site the function and line of the frame it was inlined into. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "marked.h"
#include "own_frame.h"
#include "stack_sites.h"

OWN_FRAME static void *exe_alloc(size_t n)
{
    void *p = malloc(n);
    SITE_KEEP(p);
    return p;
}
static const int exe_line = __LINE__ - 4;

static inline __attribute__((always_inline)) void *inlined_alloc(size_t n)
{
    void *p = malloc(n);
    SITE_KEEP(p);
    return p;
}
static const int inlined_line = __LINE__ - 4;

OWN_FRAME static void *via_inline(size_t n)
{
    void *p = inlined_alloc(n);
    SITE_KEEP(p);
    return p;
}
static const int via_inline_line = __LINE__ - 4;

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: stack_sites PATH-OF-libstacksites_dl.so\n");
        return 2;
    }
    void *dl = dlopen(argv[1], RTLD_NOW);
    sites_dl_alloc_fn dl_alloc = dl ? (sites_dl_alloc_fn)dlsym(dl, "sites_dl_alloc") : NULL;
    const int *dl_line = dl ? dlsym(dl, "sites_dl_line") : NULL;
    if (!dl_alloc || !dl_line) {
        fprintf(stderr, "stack_sites: %s\n", dlerror());
        return 1;
    }
    free(exe_alloc(mark_size(1)));
    free(via_inline(mark_size(2)));
    free(sites_lib_alloc(mark_size(3)));
    free(dl_alloc(mark_size(4)));
    printf("{\"exe\": {\"size\": %zu, \"function\": \"exe_alloc\", \"file\": \"stack_sites.c\", "
           "\"line\": %d},\n",
           mark_size(1), exe_line);
    printf(" \"inline\": {\"size\": %zu, \"function\": \"inlined_alloc\", \"file\": "
           "\"stack_sites.c\", \"line\": %d, \"caller\": \"via_inline\", \"caller_line\": %d},\n",
           mark_size(2), inlined_line, via_inline_line);
    printf(" \"lib\": {\"size\": %zu, \"function\": \"sites_lib_alloc\", \"file\": "
           "\"stack_sites_lib.c\", \"line\": %d},\n",
           mark_size(3), sites_lib_line);
    printf(" \"dlopen\": {\"size\": %zu, \"function\": \"sites_dl_alloc\", \"file\": "
           "\"stack_sites_dl.c\", \"line\": %d}}\n",
           mark_size(4), *dl_line);
    return 0;
}
