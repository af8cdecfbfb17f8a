/* Uncommon paths of the writer side: attaching processes and threads to the
 * session, waiting for room, lifecycle (thread exit, fork, exec).
 *
 * Everything here may run inside malloc, before libc is fully initialised,
 * in a child between fork and exec, or in a signal handler: it allocates
 * nothing and calls the kernel directly where a libc call could re-enter the
 * interposed functions (mmap is one of them). */
#include "trace/emit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "heaptrail/events.h"
#include "trace/stack_table.h"

__thread ht_thread_state ht_thread __attribute__((tls_model("initial-exec")));
uint32_t ht_emit_mode;
uint32_t ht_emit_ring_bytes;
uint32_t ht_emit_session_flags;
uint32_t ht_emit_stack_depth;

static void *session_base;
static ht_session_control *control;
static int process_state; /* 0 not yet, 1 attached, 2 not traced, 3 attaching; atomic */
static uint32_t process_pid;
static uint32_t threads_attached; /* threads of this process that took a slot; atomic */
static pthread_key_t exit_key; /* its destructor closes an exiting thread's slot */

static void on_thread_exit(void *unused)
{
    (void)unused;
    ht_emit_thread_exit();
}

static long sys_gettid(void) { return syscall(SYS_gettid); }
static long sys_getpid(void) { return syscall(SYS_getpid); }

static void nap(long ns)
{
    struct timespec ts = {0, ns};
    syscall(SYS_nanosleep, &ts, NULL);
}

static bool collector_alive(void)
{
    if (__atomic_load_n(&control->state, __ATOMIC_ACQUIRE) != HT_SESSION_RUNNING)
        return false;
    return syscall(SYS_kill, control->collector_pid, 0) == 0 || errno != ESRCH;
}

/* The collector went away: stop tracing rather than wait for it forever. */
static void give_up(void)
{
    __atomic_fetch_and(&ht_emit_mode, ~(uint32_t)(HT_EMIT_ON | HT_EMIT_PLAIN), __ATOMIC_RELAXED);
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t n = 0;
    while (n < cap) {
        long r = syscall(SYS_read, fd, buf + n, cap - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    syscall(SYS_close, fd);
    return n;
}

/* The CPU, for the events where one system call per process or thread is
 * cheap enough (heap events carry none). */
static uint64_t current_cpu(void)
{
    unsigned cpu;
    return syscall(SYS_getcpu, &cpu, NULL, NULL) == 0 ? cpu : HT_CPU_UNKNOWN;
}

static void emit_process_start(void)
{
    /* Static buffers: this runs once per process image, never concurrently
     * with itself (the caller holds the attach state). */
    static char exe[4096], cmd[16384];
    long e = syscall(SYS_readlink, "/proc/self/exe", exe, sizeof exe);
    size_t c = read_file("/proc/self/cmdline", cmd, sizeof cmd);
    uint64_t fixed[2] = {(uint64_t)syscall(SYS_getppid), current_cpu()};
    ht_emit_blob(HT_EVENT_PROCESS_START, fixed, 2, exe, e > 0 ? (uint32_t)e : 0, cmd, (uint32_t)c);
}

/* getenv, or the kernel's copy of the initial environment when this runs
 * before libc has set up environ (allocations made by the dynamic loader). */
static const char *early_getenv(const char *name)
{
    extern char **environ;
    if (environ)
        return getenv(name);
    static char env[32768];
    static size_t n;
    if (!n) {
        n = read_file("/proc/self/environ", env, sizeof env - 1);
        env[n] = '\0';
    }
    size_t key = strlen(name);
    for (size_t i = 0; i < n; i += strlen(env + i) + 1)
        if (strncmp(env + i, name, key) == 0 && env[i + key] == '=')
            return env + i + key + 1;
    return NULL;
}

/* A process sent to a session that cannot be joined (its recorder is gone,
 * say) runs untraced: say so rather than lose its events silently. Raw
 * writes: this may run inside malloc. */
static void say_not_traced(const char *path)
{
    static const char head[] = "heaptrail: cannot join the recording session ",
                      tail[] = "; this process is not traced\n";
    syscall(SYS_write, 2, head, sizeof head - 1);
    syscall(SYS_write, 2, path, strlen(path));
    syscall(SYS_write, 2, tail, sizeof tail - 1);
}

bool ht_emit_attach_process(void)
{
    int expected = 0;
    if (!__atomic_compare_exchange_n(&process_state, &expected, 3, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        /* Another thread is attaching right now: wait for its verdict. */
        while ((expected = __atomic_load_n(&process_state, __ATOMIC_ACQUIRE)) == 3)
            nap(100000);
        return expected == 1;
    }
    const char *path = early_getenv(HT_SESSION_ENV);
    if (!path && early_getenv(HT_OUTPUT_ENV)) {
        /* The preload's constructor starts a collector for this process
         * (standalone mode); until then nothing is recorded. */
        __atomic_store_n(&process_state, 0, __ATOMIC_RELEASE);
        return false;
    }
    int fd = path ? (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC) : -1;
    ht_session_control c;
    struct stat st;
    void *base = MAP_FAILED;
    if (fd >= 0 && syscall(SYS_pread64, fd, &c, sizeof c, 0) == (long)sizeof c &&
        c.magic == HT_SESSION_MAGIC && c.version == HT_SESSION_VERSION &&
        syscall(SYS_fstat, fd, &st) == 0 &&
        (uint64_t)st.st_size == ht_session_bytes(c.slot_count, c.ring_bytes))
        base = (void *)syscall(SYS_mmap, NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
                               MAP_SHARED, fd, 0);
    if (fd >= 0)
        syscall(SYS_close, fd);
    uint32_t pid = (uint32_t)sys_getpid();
    if (path && base == MAP_FAILED)
        say_not_traced(path);
    /* --no-follow: the first process to attach is the root. The recorder
     * also names it once fork returns, but the root may start children
     * before that: it claims the place itself, so that they find it taken. */
    uint32_t root = 0;
    if (base != MAP_FAILED && (c.flags & HT_SESSION_NO_FOLLOW)) {
        ht_session_control *shared = base;
        if (!__atomic_compare_exchange_n(&shared->root_pid, &root, pid, false, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE) &&
            root == pid)
            root = 0;
    }
    if (base == MAP_FAILED || root != 0) {
        if (base != MAP_FAILED)
            syscall(SYS_munmap, base, (size_t)st.st_size);
        __atomic_store_n(&process_state, 2, __ATOMIC_RELEASE);
        return false;
    }
    pthread_key_create(&exit_key, on_thread_exit);
    session_base = base;
    control = base;
    process_pid = pid;
    ht_emit_ring_bytes = c.ring_bytes;
    ht_emit_session_flags = c.flags;
    ht_emit_stack_depth = c.stack_depth;
    bool plain = (c.flags & HT_SESSION_TSC) && !(c.flags & HT_SESSION_LOSSY) && c.stack_depth == 0;
    __atomic_fetch_or(&ht_emit_mode, HT_EMIT_ON | (plain ? HT_EMIT_PLAIN : 0), __ATOMIC_RELEASE);
    __atomic_store_n(&process_state, 1, __ATOMIC_RELEASE);
    emit_process_start();
    return true;
}

static void note_slot_used(uint32_t i)
{
    uint32_t used = __atomic_load_n(&control->slots_used, __ATOMIC_RELAXED);
    while (used < i + 1 && !__atomic_compare_exchange_n(&control->slots_used, &used, i + 1, true,
                                                        __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        ;
}

/* The lowest free slot: the collector visits the slots below the highest
 * index ever used on each round, so the indices stay as low as the number of
 * threads alive at once allows (a slot taken at the thread id's place put a
 * single-threaded program's ring near the middle of the 1024, and every
 * round then looked at some 1000 empty slots four times). */
static ht_slot *claim_slot(void)
{
    uint32_t n = control->slot_count;
    for (uint32_t i = 0; i < n; i++) {
        ht_slot *s = ht_session_slot(session_base, i);
        uint32_t expected = HT_SLOT_FREE;
        if (__atomic_load_n(&s->state, __ATOMIC_RELAXED) == HT_SLOT_FREE &&
            __atomic_compare_exchange_n(&s->state, &expected, HT_SLOT_OWNED, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            note_slot_used(i);
            return s;
        }
    }
    return NULL;
}

/* t->limit from the tail last seen and the lap `reserved` is in. */
static void set_limit(ht_thread_state *t)
{
    uint64_t room_end = t->tail_cache + ht_emit_ring_bytes;
    uint64_t lap_end = (t->reserved | (ht_emit_ring_bytes - 1)) + 1;
    t->limit = room_end < lap_end ? room_end : lap_end;
}

bool ht_emit_attach_thread(void)
{
    ht_thread_state *t = &ht_thread;
    if (t->flags & (HT_THREAD_ATTACHING | HT_THREAD_OFF))
        return false;
    int ps = __atomic_load_n(&process_state, __ATOMIC_ACQUIRE);
    if (ps == 2 || (ps != 1 && !ht_emit_attach_process())) {
        if (__atomic_load_n(&process_state, __ATOMIC_ACQUIRE) == 2)
            t->flags |= HT_THREAD_OFF; /* for good; a pending start may attach later */
        return false;
    }
    if (t->ring)
        return true; /* attaching the process emitted through this thread already */
    if (!ht_emit_recording())
        return false;
    t->flags |= HT_THREAD_ATTACHING;
    uint32_t tid = (uint32_t)sys_gettid();
    ht_slot *s;
    while (!(s = claim_slot())) {
        /* Every slot is owned: in lossy mode the event is dropped; otherwise
         * wait for the collector to reclaim the slots of finished threads. */
        if ((ht_emit_session_flags & HT_SESSION_LOSSY) || !collector_alive()) {
            __atomic_fetch_add(&control->lost_no_slot, 1, __ATOMIC_RELAXED);
            if (!collector_alive())
                give_up();
            t->flags &= ~HT_THREAD_ATTACHING;
            return false;
        }
        nap(1000000);
    }
    /* Before this thread's first record: see ht_stamp. */
    if (__atomic_add_fetch(&threads_attached, 1, __ATOMIC_RELAXED) > 1)
        __atomic_fetch_or(&ht_emit_mode, HT_EMIT_SHARED, __ATOMIC_SEQ_CST);
    s->pid = process_pid;
    s->tid = tid;
    uint32_t index = (uint32_t)(((char *)s - ((char *)session_base + HT_SESSION_CONTROL_BYTES)) /
                                HT_SLOT_HEADER_BYTES);
    t->ring = ht_session_ring(session_base, control->slot_count, control->ring_bytes, index);
    t->slot = s;
    t->mask = control->ring_bytes / 8 - 1;
    t->reserved = __atomic_load_n(&s->head, __ATOMIC_RELAXED);
    t->tail_cache = __atomic_load_n(&s->tail, __ATOMIC_ACQUIRE);
    set_limit(t);
    t->flags &= ~HT_THREAD_ATTACHING;
    /* The key's destructor runs only for threads that set a value. For keys
     * past glibc's first block this allocates: the ring is ready by now. */
    pthread_setspecific(exit_key, (void *)1);
    if (!(t->flags & HT_THREAD_EXITED)) {
        uint64_t start[2] = {0 /* the parent is not known to the thread itself */, current_cpu()};
        ht_emit(HT_EVENT_THREAD_START, 0, start, 2);
        char name[16] = {0};
        if (prctl(PR_GET_NAME, name) == 0)
            ht_emit_blob(HT_EVENT_THREAD_NAME, NULL, 0, name, (uint32_t)strnlen(name, 16), NULL, 0);
    }
    return true;
}

void ht_emit_wait_room(ht_thread_state *t, uint64_t end)
{
    for (unsigned spins = 1;; spins++) {
        t->tail_cache = __atomic_load_n(&t->slot->tail, __ATOMIC_ACQUIRE);
        if (end - t->tail_cache <= ht_emit_ring_bytes)
            return;
        /* Asking whether the collector lives costs a system call: not on
         * every turn. */
        if (spins % 64 == 0 && !collector_alive()) {
            give_up();
            return; /* nobody reads the ring any more: overwriting it is harmless */
        }
        if (spins < 64)
            syscall(SYS_sched_yield);
        else
            nap(50000);
    }
}

void ht_emit_plain_first(uint32_t type, uint32_t arg, unsigned n, uint64_t a, uint64_t b,
                         uint64_t c)
{
    uint64_t payload[3] = {a, b, c};
    ht_emit(type, arg, payload, n);
}

void ht_emit_plain_rest(uint64_t p, uint64_t word0, uint64_t stamp, uint64_t a, uint64_t b,
                        uint64_t c)
{
    ht_thread_state *t = &ht_thread;
    uint32_t words = ht_record_words(word0);
    uint64_t end = p + (uint64_t)words * 8;
    t->tail_cache = __atomic_load_n(&t->slot->tail, __ATOMIC_ACQUIRE);
    if (end - t->tail_cache > ht_emit_ring_bytes)
        ht_emit_wait_room(t, end);
    uint64_t record[HT_RECORD_HEADER_WORDS + 3] = {word0, stamp, a, b, c};
    for (uint32_t i = 0; i < words; i++)
        t->ring[((p >> 3) + i) & t->mask] = record[i];
    set_limit(t);
    ht_emit_end(t);
}

void ht_emit_count_lost(ht_thread_state *t) { ht_local_fetch_add(&t->slot->lost, 1); }

void ht_emit_blob(uint32_t type, const uint64_t *fixed, unsigned nfixed, const void *a,
                  uint32_t alen, const void *b, uint32_t blen)
{
    /* Payload: the fixed words, the two lengths, then both byte strings packed
     * into words, written straight into the ring (no staging buffer: this may
     * run on a thread with a small stack). Long strings are cut to fit. */
    ht_thread_state *t = &ht_thread;
    if (!t->ring && !ht_emit_attach_thread())
        return;
    uint64_t room = (HT_RECORD_MAX_WORDS - HT_RECORD_HEADER_WORDS - nfixed - 2) * 8;
    if (room > ht_emit_ring_bytes / 4)
        room = ht_emit_ring_bytes / 4;
    if (alen > room)
        alen = (uint32_t)room;
    if (blen > room - alen)
        blen = (uint32_t)(room - alen);
    uint32_t total = alen + blen;
    uint32_t words = HT_RECORD_HEADER_WORDS + nfixed + 2 + (total + 7) / 8;
    uint64_t w;
    if (ht_emit_begin(t, type, 0, words, &w)) {
        for (unsigned i = 0; i < nfixed; i++)
            t->ring[w++ & t->mask] = fixed[i];
        t->ring[w++ & t->mask] = alen;
        t->ring[w++ & t->mask] = blen;
        for (uint32_t off = 0; off < total; off += 8) {
            unsigned char chunk[8] = {0};
            for (uint32_t k = 0; k < 8 && off + k < total; k++) {
                uint32_t at = off + k;
                chunk[k] = at < alen ? ((const unsigned char *)a)[at]
                                     : ((const unsigned char *)b)[at - alen];
            }
            uint64_t word;
            memcpy(&word, chunk, 8);
            t->ring[w++ & t->mask] = word;
        }
    }
    ht_emit_end(t);
}

static void release_slot(ht_thread_state *t)
{
    if (!t->ring)
        return;
    __atomic_store_n(&t->slot->head, t->reserved, __ATOMIC_RELEASE);
    __atomic_store_n(&t->slot->state, HT_SLOT_CLOSED, __ATOMIC_RELEASE);
    t->ring = NULL;
    t->slot = NULL;
}

void ht_emit_thread_exit(void)
{
    ht_thread_state *t = &ht_thread;
    if (!t->ring || t->depth)
        return;
    ht_emit(HT_EVENT_THREAD_EXIT, 0, NULL, 0);
    release_slot(t);
    t->flags |= HT_THREAD_EXITED;
}

void ht_emit_fork_child(void)
{
    /* The child has a copy of this thread's state but must not write into its
     * parent's slot, which is shared memory. It gets its own on next use. */
    ht_thread_state *t = &ht_thread;
    t->ring = NULL;
    t->slot = NULL;
    t->depth = 0;
    ht_stack_table_reset();
    t->flags &= ~(HT_THREAD_EXITED | HT_THREAD_ATTACHING);
    if (__atomic_load_n(&process_state, __ATOMIC_ACQUIRE) != 1)
        return;
    process_pid = (uint32_t)sys_getpid();
    threads_attached = 0;
    ht_emit_mode &= ~(uint32_t)HT_EMIT_SHARED;
    if ((ht_emit_session_flags & HT_SESSION_NO_FOLLOW) && control->root_pid != process_pid) {
        give_up();
        __atomic_store_n(&process_state, 2, __ATOMIC_RELEASE);
        return;
    }
    if (ht_emit_recording())
        emit_process_start();
}

void ht_emit_before_exec(void)
{
    /* A vfork child shares this thread's memory: only the process that owns
     * the slot may close it. */
    ht_thread_state *t = &ht_thread;
    if (t->ring && t->slot->pid == (uint32_t)sys_getpid() && t->depth == 0)
        release_slot(t);
}

void ht_emit_exec_failed(void)
{
    ht_thread.flags |= HT_THREAD_EXITED; /* same thread, new slot: no second THREAD_START */
}
