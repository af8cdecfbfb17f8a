/* Process lifecycle seen from inside a traced process: start-up, fork, exec,
 * module loads, OS mappings and thread names. (Thread exit is the trace
 * layer's own: see trace/emit.c.) */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "heaptrail/events.h"
#include "preload/real.h"
#include "unwind/walk.h"

#define EXPORT __attribute__((visibility("default")))

static void on_fork_child(void) { ht_emit_fork_child(); }

__attribute__((constructor)) static void heaptrail_preload_init(void)
{
    ht_resolve();
    ht_standalone_start();
    ht_emit_attach_process(); /* a no-op when attached already or not to be traced */
    pthread_atfork(NULL, NULL, on_fork_child);
    ht_modules_scan();
}

/* ---- modules -------------------------------------------------------------- */

#define MAX_MODULES 4096
static uint64_t known_bases[MAX_MODULES];
static size_t known_count;
static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct scan_state {
    uint64_t seen[MAX_MODULES];
    size_t seen_count;
} scan_state;

static bool known(uint64_t base)
{
    for (size_t i = 0; i < known_count; i++)
        if (known_bases[i] == base)
            return true;
    return false;
}

static size_t build_id(const struct dl_phdr_info *info, const unsigned char **id)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        const unsigned char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            size_t name = (nh->n_namesz + 3) & ~3u, desc = (nh->n_descsz + 3) & ~3u;
            const unsigned char *d = p + sizeof *nh + name;
            if (d + nh->n_descsz > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                memcmp(p + sizeof *nh, "GNU", 4) == 0) {
                *id = d;
                return nh->n_descsz;
            }
            p = d + desc;
        }
    }
    return 0;
}

static int on_module(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    scan_state *st = data;
    uint64_t base = info->dlpi_addr;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_LOAD) {
            uint64_t a = info->dlpi_phdr[i].p_vaddr, e = a + info->dlpi_phdr[i].p_memsz;
            lo = a < lo ? a : lo;
            hi = e > hi ? e : hi;
        }
    if (hi == 0)
        return 0;
    if (st->seen_count < MAX_MODULES)
        st->seen[st->seen_count++] = base; /* modules are told apart, loaded and unloaded by bias */
    if (known(base))
        return 0;
    const char *path = info->dlpi_name;
    static char exe[4096];
    if (!path || !*path) { /* the main program */
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = '\0';
        path = exe;
    }
    const unsigned char *id = NULL;
    size_t idlen = build_id(info, &id);
    uint64_t fixed[2] = {base, hi - lo};
    ht_emit_blob(HT_EVENT_MODULE_LOAD, fixed, 2, path, (uint32_t)strlen(path), id,
                 (uint32_t)idlen);
    return 0;
}

void ht_modules_scan(void)
{
    if (!ht_emit_recording())
        return;
    static scan_state st; /* under modules_lock */
    pthread_mutex_lock(&modules_lock);
    st.seen_count = 0;
    dl_iterate_phdr(on_module, &st);
    for (size_t i = 0; i < known_count; i++) {
        bool still = false;
        for (size_t k = 0; k < st.seen_count && !still; k++)
            still = st.seen[k] == known_bases[i];
        if (!still) {
            uint64_t base = known_bases[i];
            ht_emit(HT_EVENT_MODULE_UNLOAD, 0, &base, 1);
        }
    }
    memcpy(known_bases, st.seen, st.seen_count * sizeof st.seen[0]);
    known_count = st.seen_count;
    pthread_mutex_unlock(&modules_lock);
}

EXPORT void *dlopen(const char *file, int mode)
{
    ht_resolve();
    void *h = ht_real.dlopen ? ht_real.dlopen(file, mode) : NULL;
    if (h)
        ht_modules_scan();
    return h;
}

EXPORT int dlclose(void *handle)
{
    ht_resolve();
    int r = ht_real.dlclose ? ht_real.dlclose(handle) : -1;
    if (r == 0) {
        ht_unwind_forget(); /* its addresses may hold another object's code later */
        ht_modules_scan();
    }
    return r;
}

/* ---- OS mappings (VirtualAlloc / VirtualFree) ------------------------------ */

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    ht_resolve();
    void *p = ht_real.mmap(addr, len, prot, flags, fd, off);
    if (p != MAP_FAILED && ht_emit_recording()) {
        uint64_t payload[3] = {(uint64_t)(uintptr_t)p, len, (uint64_t)(uint32_t)prot | (uint64_t)(uint32_t)flags << 32};
        ht_emit(HT_EVENT_OS_MAP, 0, payload, 3);
    }
    return p;
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
    __attribute__((alias("mmap")));

EXPORT int munmap(void *addr, size_t len)
{
    ht_resolve();
    if (ht_emit_recording()) {
        uint64_t payload[2] = {(uint64_t)(uintptr_t)addr, len};
        ht_emit(HT_EVENT_OS_UNMAP, 0, payload, 2);
    }
    return ht_real.munmap(addr, len);
}

EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
    ht_resolve();
    void *want = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        want = va_arg(ap, void *);
        va_end(ap);
    }
    void *p = ht_real.mremap(old, old_len, new_len, flags, want);
    if (p != MAP_FAILED && ht_emit_recording()) {
        uint64_t payload[4] = {(uint64_t)(uintptr_t)old, old_len, (uint64_t)(uintptr_t)p, new_len};
        ht_emit(HT_EVENT_OS_REMAP, 0, payload, 4);
    }
    return p;
}

/* ---- exec ------------------------------------------------------------------ */

/* Hand the thread's slot back before the image is replaced; the new image
 * attaches afresh and announces itself with PROCESS_START. */
EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    ht_resolve();
    ht_emit_before_exec();
    int r = ht_real.execve(path, argv, envp);
    ht_emit_exec_failed();
    return r;
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    ht_resolve();
    ht_emit_before_exec();
    int r = ht_real.execvpe(file, argv, envp);
    ht_emit_exec_failed();
    return r;
}

EXPORT int execv(const char *path, char *const argv[])
{
    extern char **environ;
    return execve(path, argv, environ);
}

EXPORT int execvp(const char *file, char *const argv[])
{
    extern char **environ;
    return execvpe(file, argv, environ);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    ht_resolve();
    ht_emit_before_exec();
    int r = ht_real.fexecve(fd, argv, envp);
    ht_emit_exec_failed();
    return r;
}

/* execl, execlp and execle: collect the arguments on the stack. */
#define COLLECT_ARGS(first, last_arg, argv)                                                      \
    size_t argc_ = 1;                                                                          \
    va_list ap_;                                                                               \
    va_start(ap_, last_arg);                                                                   \
    while (va_arg(ap_, char *))                                                                \
        argc_++;                                                                               \
    va_end(ap_);                                                                               \
    char *argv[argc_ + 1];                                                                     \
    argv[0] = (char *)(first);                                                                 \
    va_start(ap_, last_arg);                                                                   \
    for (size_t i_ = 1; i_ <= argc_; i_++)                                                     \
        argv[i_] = va_arg(ap_, char *);

EXPORT int execl(const char *path, const char *arg, ...)
{
    extern char **environ;
    COLLECT_ARGS(arg, arg, argv)
    va_end(ap_);
    return execve(path, argv, environ);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
    extern char **environ;
    COLLECT_ARGS(arg, arg, argv)
    va_end(ap_);
    return execvpe(file, argv, environ);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
    COLLECT_ARGS(arg, arg, argv)
    char *const *envp = va_arg(ap_, char *const *);
    va_end(ap_);
    return execve(path, argv, envp);
}

/* ---- thread names ------------------------------------------------------------ */

EXPORT int pthread_setname_np(pthread_t thread, const char *name)
{
    ht_resolve();
    int r = ht_real.pthread_setname_np(thread, name);
    if (r == 0 && thread == pthread_self() && ht_emit_recording())
        ht_emit_blob(HT_EVENT_THREAD_NAME, NULL, 0, name, (uint32_t)strnlen(name, 64), NULL, 0);
    return r;
}
