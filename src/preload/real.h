/* The functions this library interposes, as the next object in the lookup
 * order provides them (glibc, or an allocator linked after us). */
#ifndef HT_PRELOAD_REAL_H
#define HT_PRELOAD_REAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "trace/emit.h"

typedef struct ht_real_functions {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    void (*free_sized)(void *, size_t);
    void (*free_aligned_sized)(void *, size_t, size_t);
    void *(*mmap)(void *, size_t, int, int, int, off_t);
    int (*munmap)(void *, size_t);
    void *(*mremap)(void *, size_t, size_t, int, ...);
    void *(*dlopen)(const char *, int);
    int (*dlclose)(void *);
    int (*execve)(const char *, char *const[], char *const[]);
    int (*execvpe)(const char *, char *const[], char *const[]);
    int (*fexecve)(int, char *const[], char *const[]);
    int (*pthread_setname_np)(unsigned long, const char *);
} ht_real_functions;

extern ht_real_functions ht_real HT_HIDDEN;

/* Resolve ht_real (once; cheap afterwards) and attach to the session. */
void ht_resolve(void) HT_HIDDEN;

/* Allocations made while ht_resolve itself runs (dlsym may allocate) come
 * from a static arena; they are never traced and never reach the real free. */
void *ht_boot_alloc(size_t size, size_t align) HT_HIDDEN;
#define HT_BOOT_BYTES (256u << 10)
extern unsigned char ht_boot_arena[HT_BOOT_BYTES] HT_HIDDEN;
/* Inline: every free asks. */
static inline bool ht_boot_owns(const void *p)
{
    return (const unsigned char *)p >= ht_boot_arena &&
           (const unsigned char *)p < ht_boot_arena + HT_BOOT_BYTES;
}
size_t ht_boot_size(const void *p) HT_HIDDEN;

/* True while ht_resolve runs on some thread. */
bool ht_resolving(void) HT_HIDDEN;

/* Standalone mode: start a collector when HEAPTRAIL_OUTPUT is set and there
 * is no session (see standalone.c). */
void ht_standalone_start(void) HT_HIDDEN;

/* Emit MODULE_LOAD / MODULE_UNLOAD for what changed since the last scan. */
void ht_modules_scan(void) HT_HIDDEN;

#endif
