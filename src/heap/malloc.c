/* The malloc family on the process heap: libheaptrail-malloc.so, preloaded
 * into unmodified programs. C's functions, glibc's __libc_* names and C++'s
 * operators new and delete (plain, array, nothrow, sized, aligned) all land
 * on ht_heap_*.
 *
 * It works before any constructor has run (the process heap sets itself up
 * on first use), in a forked child (the heap's fork handlers) and while a
 * thread exits (its caches go back first, later calls take the locked
 * paths). Under `heaptrail record --heap=heaptrail` the heap emits its events
 * into the recording session. */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heap/heap_internal.h"
#include "heap/trace.h"

#define EXPORT __attribute__((visibility("default")))

/* C23's sized frees, which older libc headers do not declare. */
void free_sized(void *p, size_t size);
void free_aligned_sized(void *p, size_t align, size_t size);
size_t malloc_usable_size(void *p);
void *memalign(size_t align, size_t size);
void *valloc(size_t size);
void *pvalloc(size_t size);

static inline ht_heap *heap(void) { return ht_process_heap(); }

/* The two hottest entry points take the heap's fast paths inline (link-time
 * optimisation sees across the files; the slow paths stay calls). */
__attribute__((flatten)) EXPORT void *malloc(size_t size) { return ht_process_heap_alloc(size); }

__attribute__((flatten)) EXPORT void free(void *p)
{
    if (p)
        ht_process_heap_free(p);
}

EXPORT void *calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return ht_heap_alloc(heap(), HT_HEAP_ZERO_MEMORY, total);
}

EXPORT void *realloc(void *p, size_t size)
{
    if (!p)
        return ht_heap_alloc(heap(), 0, size);
    if (size == 0) { /* glibc's behaviour: free, and no block */
        ht_heap_free(heap(), 0, p);
        return NULL;
    }
    return ht_heap_realloc(heap(), 0, p, size);
}

EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
    if (align == 0 || (align & (align - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    return ht_heap_alloc_aligned(heap(), 0, align, size);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    int saved = errno;
    void *p = ht_heap_alloc_aligned(heap(), 0, align, size);
    errno = saved;
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

EXPORT void *memalign(size_t align, size_t size)
{
    /* glibc rounds an alignment that is not a power of two up to one. */
    size_t a = 16;
    while (a < align && a)
        a <<= 1;
    if (!a) {
        errno = EINVAL;
        return NULL;
    }
    return ht_heap_alloc_aligned(heap(), 0, a, size);
}

static size_t page_size(void)
{
    static size_t page;
    if (!page)
        page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

EXPORT void *valloc(size_t size) { return ht_heap_alloc_aligned(heap(), 0, page_size(), size); }

EXPORT void *pvalloc(size_t size)
{
    size_t page = page_size(), rounded = (size + page - 1) & ~(page - 1);
    if (rounded < size) {
        errno = ENOMEM;
        return NULL;
    }
    return ht_heap_alloc_aligned(heap(), 0, page, rounded ? rounded : page);
}

EXPORT size_t malloc_usable_size(void *p) { return p ? ht_heap_usable_size(heap(), p) : 0; }

EXPORT void free_sized(void *p, size_t size)
{
    (void)size;
    free(p);
}

EXPORT void free_aligned_sized(void *p, size_t align, size_t size)
{
    (void)align, (void)size;
    free(p);
}

/* glibc's internal names, which some programs and libraries call directly. */
void *__libc_malloc(size_t size);
void __libc_free(void *p);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t align, size_t size);
void *__libc_valloc(size_t size);
void *__libc_pvalloc(size_t size);
EXPORT void *__libc_malloc(size_t size) { return malloc(size); }
EXPORT void __libc_free(void *p) { free(p); }
EXPORT void *__libc_calloc(size_t n, size_t size) { return calloc(n, size); }
EXPORT void *__libc_realloc(void *p, size_t size) { return realloc(p, size); }
EXPORT void *__libc_memalign(size_t align, size_t size) { return memalign(align, size); }
EXPORT void *__libc_valloc(size_t size) { return valloc(size); }
EXPORT void *__libc_pvalloc(size_t size) { return pvalloc(size); }

/* ---- C++ ---------------------------------------------------------------------
 * The throwing operators must call the new-handler and throw std::bad_alloc
 * when memory runs out, which C cannot do: on that (rare) path they hand the
 * request to the next definition in the lookup order, libstdc++'s, which
 * retries through malloc (this heap) and does both. */
void *_Znwm(size_t size);
void *_Znam(size_t size);
void *_ZnwmSt11align_val_t(size_t size, size_t align);
void *_ZnamSt11align_val_t(size_t size, size_t align);
void *_ZnwmRKSt9nothrow_t(size_t size, const void *tag);
void *_ZnamRKSt9nothrow_t(size_t size, const void *tag);
void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t size, size_t align, const void *tag);
void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t size, size_t align, const void *tag);
void _ZdlPv(void *p);
void _ZdaPv(void *p);
void _ZdlPvm(void *p, size_t size);
void _ZdaPvm(void *p, size_t size);
void _ZdlPvSt11align_val_t(void *p, size_t align);
void _ZdaPvSt11align_val_t(void *p, size_t align);
void _ZdlPvmSt11align_val_t(void *p, size_t size, size_t align);
void _ZdaPvmSt11align_val_t(void *p, size_t size, size_t align);
void _ZdlPvRKSt9nothrow_t(void *p, const void *tag);
void _ZdaPvRKSt9nothrow_t(void *p, const void *tag);
void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align, const void *tag);
void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align, const void *tag);

typedef void *(*operator_new)(size_t);
typedef void *(*operator_new_aligned)(size_t, size_t);

static void *next_new(const char *symbol, size_t size)
{
    operator_new f = (operator_new)dlsym(RTLD_NEXT, symbol);
    if (!f)
        abort();
    return f(size);
}

static void *next_new_aligned(const char *symbol, size_t size, size_t align)
{
    operator_new_aligned f = (operator_new_aligned)dlsym(RTLD_NEXT, symbol);
    if (!f)
        abort();
    return f(size, align);
}

EXPORT void *_Znwm(size_t size)
{
    void *p = ht_heap_alloc(heap(), 0, size);
    return p ? p : next_new("_Znwm", size);
}

EXPORT void *_Znam(size_t size)
{
    void *p = ht_heap_alloc(heap(), 0, size);
    return p ? p : next_new("_Znam", size);
}

EXPORT void *_ZnwmSt11align_val_t(size_t size, size_t align)
{
    void *p = ht_heap_alloc_aligned(heap(), 0, align, size);
    return p ? p : next_new_aligned("_ZnwmSt11align_val_t", size, align);
}

EXPORT void *_ZnamSt11align_val_t(size_t size, size_t align)
{
    void *p = ht_heap_alloc_aligned(heap(), 0, align, size);
    return p ? p : next_new_aligned("_ZnamSt11align_val_t", size, align);
}

/* nothrow forms: NULL on failure. */
EXPORT void *_ZnwmRKSt9nothrow_t(size_t size, const void *tag)
{
    (void)tag;
    return ht_heap_alloc(heap(), 0, size);
}

EXPORT void *_ZnamRKSt9nothrow_t(size_t size, const void *tag)
{
    (void)tag;
    return ht_heap_alloc(heap(), 0, size);
}

EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t size, size_t align, const void *tag)
{
    (void)tag;
    return ht_heap_alloc_aligned(heap(), 0, align, size);
}

EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t size, size_t align, const void *tag)
{
    (void)tag;
    return ht_heap_alloc_aligned(heap(), 0, align, size);
}

/* Every delete: the block knows its size and alignment. */
EXPORT void _ZdlPv(void *p) { free(p); }
EXPORT void _ZdaPv(void *p) { free(p); }
EXPORT void _ZdlPvm(void *p, size_t size) { free_sized(p, size); }
EXPORT void _ZdaPvm(void *p, size_t size) { free_sized(p, size); }
EXPORT void _ZdlPvSt11align_val_t(void *p, size_t align) { free_aligned_sized(p, align, 0); }
EXPORT void _ZdaPvSt11align_val_t(void *p, size_t align) { free_aligned_sized(p, align, 0); }
EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t size, size_t align) { free_aligned_sized(p, align, size); }
EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t size, size_t align) { free_aligned_sized(p, align, size); }
EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *tag)
{
    (void)tag;
    free(p);
}
EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *tag)
{
    (void)tag;
    free(p);
}
EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align, const void *tag)
{
    (void)align, (void)tag;
    free(p);
}
EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align, const void *tag)
{
    (void)align, (void)tag;
    free(p);
}

/* ---- process start and end ------------------------------------------------------ */
__attribute__((constructor)) static void heaptrail_malloc_init(void)
{
    /* The heap may have been set up before libc's environment was: read the
     * error policy again now that it is. */
    ht_heap_apply_environment();
}

__attribute__((destructor)) static void heaptrail_malloc_fini(void)
{
    /* The figures each heap ends with, as ETW's rundown gives them. */
    ht_heap_snapshot_all();
}
