/* Finding the real functions, and the static arena that serves allocations
 * made while we look for them. */
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

#include "preload/glibc.h"
#include "preload/real.h"

ht_real_functions ht_real;

static int resolve_state; /* 0 not done, 1 running, 2 done; atomic */

unsigned char ht_boot_arena[HT_BOOT_BYTES] __attribute__((aligned(64)));
static size_t boot_used; /* atomic */

/* Each boot block is preceded by 16 bytes holding its size. */
void *ht_boot_alloc(size_t size, size_t align)
{
    if (align < 16)
        align = 16;
    size_t need = size + 16 + align;
    if (size > HT_BOOT_BYTES || need > HT_BOOT_BYTES)
        return NULL;
    size_t at = __atomic_fetch_add(&boot_used, need, __ATOMIC_RELAXED);
    if (at + need > HT_BOOT_BYTES)
        return NULL;
    uintptr_t p = ((uintptr_t)ht_boot_arena + at + 16 + align - 1) & ~(uintptr_t)(align - 1);
    ((size_t *)p)[-1] = size;
    return (void *)p;
}

size_t ht_boot_size(const void *p) { return ((const size_t *)p)[-1]; }

bool ht_resolving(void) { return __atomic_load_n(&resolve_state, __ATOMIC_ACQUIRE) == 1; }

#define LOOKUP(name) (ht_real.name = (__typeof__(ht_real.name))dlsym(RTLD_NEXT, #name))

void ht_resolve(void)
{
    /* The first caller resolves; a concurrent or recursive caller (dlsym may
     * allocate) returns at once and is served by the boot arena meanwhile. */
    int expected = 0;
    if (!__atomic_compare_exchange_n(&resolve_state, &expected, 1, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return;
    LOOKUP(free);
    LOOKUP(calloc);
    LOOKUP(realloc);
    LOOKUP(posix_memalign);
    LOOKUP(aligned_alloc);
    LOOKUP(memalign);
    LOOKUP(valloc);
    LOOKUP(pvalloc);
    LOOKUP(free_sized);
    LOOKUP(free_aligned_sized);
    LOOKUP(mmap);
    LOOKUP(munmap);
    LOOKUP(mremap);
    LOOKUP(dlopen);
    LOOKUP(dlclose);
    LOOKUP(execve);
    LOOKUP(execvpe);
    LOOKUP(fexecve);
    LOOKUP(pthread_setname_np);
    void *m = dlsym(RTLD_NEXT, "malloc");
    ht_glibc_verify(m);
    /* malloc last: the wrappers take a non-NULL malloc to mean "all resolved". */
    __atomic_store_n((void **)&ht_real.malloc, m, __ATOMIC_RELEASE);
    __atomic_store_n(&resolve_state, 2, __ATOMIC_RELEASE);
    ht_emit_attach_process();
}
