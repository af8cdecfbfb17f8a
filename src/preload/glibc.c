#include "preload/glibc.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

bool ht_glibc_chunks;
bool ht_glibc_arena_lookup;

void ht_glibc_verify(void *real_malloc)
{
    Dl_info info;
    if (!real_malloc || !dladdr(real_malloc, &info) || !info.dli_fname)
        return;
    const char *base = strrchr(info.dli_fname, '/');
    base = base ? base + 1 : info.dli_fname;
    if (strncmp(base, "libc.so.", 8) != 0 || !dlsym(RTLD_DEFAULT, "gnu_get_libc_version"))
        return;
    ht_glibc_chunks = true;
    /* With huge-page heaps the heap alignment differs: report the heap by its
     * address instead of reading heap_info at a guessed place. */
    const char *tunables = getenv("GLIBC_TUNABLES");
    ht_glibc_arena_lookup = !tunables || !strstr(tunables, "hugetlb");
}
