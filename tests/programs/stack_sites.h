/* Allocation sites at known lines, for the stack test: each site allocates
 * one marked size and says where its call to malloc is. */
#ifndef HT_TEST_STACK_SITES_H
#define HT_TEST_STACK_SITES_H

#include <stddef.h>

/* Keep the call a call (no tail call): the site's own frame must stay. */
#define SITE_KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

/* In libstacksites.so, linked to the program. */
void *sites_lib_alloc(size_t n);
extern const int sites_lib_line;

/* In libstacksites_dl.so, loaded with dlopen: "sites_dl_alloc" and
 * "sites_dl_line". */
typedef void *(*sites_dl_alloc_fn)(size_t n);

#endif
