/*
 * stress: a multi-threaded allocation workload that counts exactly what it
 * does, so that a trace of it can be checked event for event.
 *
 * What it exercises, all at once:
 *   - 4 producer and 4 consumer threads passing blocks through bounded queues,
 *     so most blocks are freed (or reallocated) by a thread other than the one
 *     that allocated them;
 *   - a churn thread that keeps creating and joining short-lived threads, each
 *     of which hands one block over to be freed after it has exited;
 *   - realloc chains on the main thread, including realloc(NULL, n) and
 *     realloc(p, 0);
 *   - every allocation entry point: malloc, calloc, realloc, reallocarray,
 *     posix_memalign, aligned_alloc, memalign;
 *   - a fork() while all of that runs, whose child allocates on its own and
 *     leaves with _exit();
 *   - free(NULL), which must leave no event;
 *   - a few deliberate leaks in each process.
 *
 * Every block has a marked size (marked.h). The program prints, as JSON on
 * stdout, per process: pid, allocs, frees, reallocs, bytes and leaked blocks,
 * counted the way the trace counts them: allocs = ALLOC + REALLOC events,
 * frees = FREE + REALLOC events, bytes = sum of the sizes of ALLOC and REALLOC
 * events (calloc counts nmemb * size).
 *
 * usage: stress [ITEMS_PER_PRODUCER]
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "marked.h"

#define PRODUCERS 4
#define CONSUMERS 4
#define QUEUE_SLOTS 256
#define CHURN_ROUNDS 60
#define CHURN_THREADS 4
#define CHURN_BLOCKS 20
#define CHAINS 200
#define PARENT_LEAKS 5
#define CHILD_LEAKS 3

typedef struct counts {
    atomic_ulong allocs, frees, reallocs, bytes, leaked;
} counts;

static counts C; /* this process's counts; reset in the fork child */

static void die(const char *what)
{
    fprintf(stderr, "stress: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Allocation wrappers: call the libc function, then count what the trace
 * should show. The first byte is written so that the block is really used. */
static void *counted(void *p, size_t size)
{
    if (!p)
        die("allocation failed");
    ((volatile char *)p)[0] = 1;
    atomic_fetch_add(&C.allocs, 1);
    atomic_fetch_add(&C.bytes, size);
    return p;
}

static void *m_malloc(size_t size) { return counted(malloc(size), size); }

static void m_free(void *p)
{
    free(p);
    atomic_fetch_add(&C.frees, 1);
}

/* realloc with the counting rules of the trace: realloc(NULL, n) is an alloc,
 * realloc(p, 0) frees (glibc returns NULL), anything else is a realloc that
 * counts as one alloc and one free. */
static void *m_realloc(void *p, size_t size)
{
    if (!p)
        return counted(realloc(NULL, size), size);
    if (size == 0) {
        if (realloc(p, 0) != NULL) { /* glibc frees and returns NULL */
            fprintf(stderr, "stress: realloc(p, 0) did not free\n");
            exit(1);
        }
        atomic_fetch_add(&C.frees, 1);
        return NULL;
    }
    /* Every other block through reallocarray, which glibc implements with
     * a call to realloc: one REALLOC still. */
    void *r = ((uintptr_t)p >> 4) & 1 ? reallocarray(p, 1, size) : realloc(p, size);
    if (!r)
        die("realloc");
    ((volatile char *)r)[size - 1] = 2;
    atomic_fetch_add(&C.allocs, 1);
    atomic_fetch_add(&C.frees, 1);
    atomic_fetch_add(&C.reallocs, 1);
    atomic_fetch_add(&C.bytes, size);
    return r;
}

/* One allocation through the entry point chosen by i. */
static void *alloc_any(unsigned i)
{
    size_t s = mark_size(i);
    void *p = NULL;
    switch (i % 8) {
    case 0:
        return m_malloc(s);
    case 1:
        return counted(calloc(1, s), s);
    case 2:
        s = mark_size3(i);
        return counted(calloc(3, s / 3), s);
    case 3:
        errno = posix_memalign(&p, 64, s);
        return counted(errno ? NULL : p, s);
    case 4:
        return counted(aligned_alloc(64, s), s);
    case 5:
        return counted(memalign(32, s), s);
    case 6:
        return counted(reallocarray(NULL, 1, s), s);
    default:
        return m_realloc(NULL, s);
    }
}

/* A bounded blocking queue of pointers; its storage is static, so the queue
 * itself never allocates. */
typedef struct queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    void *slot[QUEUE_SLOTS];
    unsigned head, len;
} queue;

static queue Q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
                  {0}, 0, 0};
static char poison; /* tells a consumer to stop; never freed */

static void q_push(void *p)
{
    pthread_mutex_lock(&Q.lock);
    while (Q.len == QUEUE_SLOTS)
        pthread_cond_wait(&Q.not_full, &Q.lock);
    Q.slot[(Q.head + Q.len++) % QUEUE_SLOTS] = p;
    pthread_cond_signal(&Q.not_empty);
    pthread_mutex_unlock(&Q.lock);
}

static void *q_pop(void)
{
    pthread_mutex_lock(&Q.lock);
    while (Q.len == 0)
        pthread_cond_wait(&Q.not_empty, &Q.lock);
    void *p = Q.slot[Q.head];
    Q.head = (Q.head + 1) % QUEUE_SLOTS;
    Q.len--;
    pthread_cond_signal(&Q.not_full);
    pthread_mutex_unlock(&Q.lock);
    return p;
}

static unsigned items_per_producer = 20000;
static atomic_uint produced; /* the fork waits for half of all items */

static void *producer(void *arg)
{
    unsigned base = (unsigned)(uintptr_t)arg * 1000003u;
    for (unsigned i = 0; i < items_per_producer; i++) {
        q_push(alloc_any(base + i));
        atomic_fetch_add(&produced, 1);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    unsigned n = 0;
    for (;;) {
        void *p = q_pop();
        if (p == &poison)
            return NULL;
        /* Every fifth block grows on this thread before it is freed: a
         * realloc of a block another thread allocated. */
        if (++n % 5 == 0)
            p = m_realloc(p, mark_size(n / 5));
        m_free(p);
    }
}

/* Blocks handed over by exited churn threads, freed by main at the end. */
static pthread_mutex_t handoff_lock = PTHREAD_MUTEX_INITIALIZER;
static void *handoff[CHURN_ROUNDS * CHURN_THREADS];
static unsigned handoff_len;

static void *churn_worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    void *keep[CHURN_BLOCKS];
    for (unsigned i = 0; i < CHURN_BLOCKS; i++)
        keep[i] = alloc_any(seed + i);
    keep[0] = m_realloc(keep[0], mark_size(seed + 9));
    keep[0] = m_realloc(keep[0], mark_size(seed + 10));
    for (unsigned i = 1; i < CHURN_BLOCKS; i++)
        m_free(keep[i]);
    pthread_mutex_lock(&handoff_lock);
    handoff[handoff_len++] = keep[0];
    pthread_mutex_unlock(&handoff_lock);
    return NULL;
}

static void *churn(void *arg)
{
    for (unsigned r = 0; r < CHURN_ROUNDS; r++) {
        pthread_t t[CHURN_THREADS];
        for (unsigned i = 0; i < CHURN_THREADS; i++)
            if ((errno = pthread_create(&t[i], NULL, churn_worker,
                                        (void *)(uintptr_t)(r * CHURN_THREADS + i))))
                die("pthread_create");
        for (unsigned i = 0; i < CHURN_THREADS; i++)
            pthread_join(t[i], NULL);
    }
    return NULL;
}

/* realloc chains: grow through several marked sizes, shrink back, end with
 * free() or realloc(p, 0). free(NULL) on the way must leave no trace. */
static void realloc_chains(unsigned salt)
{
    for (unsigned c = 0; c < CHAINS; c++) {
        void *p = m_realloc(NULL, mark_size(c + salt));
        for (unsigned step = 1; step <= 8; step++)
            p = m_realloc(p, mark_size(c + salt + step * (step % 2 ? 1 : 15)));
        free(NULL);
        if (c % 2)
            m_free(p);
        else
            p = m_realloc(p, 0);
    }
}

static void format_counts(char *buf, size_t size, const char *name, pid_t pid, const counts *c)
{
    snprintf(buf, size,
             "\"%s\": {\"pid\": %d, \"allocs\": %lu, \"frees\": %lu, \"reallocs\": %lu, "
             "\"bytes\": %lu, \"leaked_blocks\": %lu}",
             name, (int)pid, atomic_load(&c->allocs), atomic_load(&c->frees),
             atomic_load(&c->reallocs), atomic_load(&c->bytes), atomic_load(&c->leaked));
}

static void *leaks[PARENT_LEAKS + CHILD_LEAKS]; /* reachable, never freed */

/* The fork child: allocates on its own, leaks a few blocks, sends its counts
 * to the parent and leaves with _exit (no atexit, no stdio flush). */
static void child_main(int fd)
{
    memset(&C, 0, sizeof C); /* only this thread exists; nothing races */
    void *ring[32] = {0};
    for (unsigned i = 0; i < 3000; i++) {
        unsigned s = i % 32;
        if (ring[s])
            m_free(ring[s]);
        ring[s] = alloc_any(i * 7 + 3);
        if (i % 3 == 0)
            ring[s] = m_realloc(ring[s], mark_size(i + 1));
    }
    for (unsigned s = 0; s < 32; s++)
        m_free(ring[s]);
    realloc_chains(5);
    for (unsigned i = 0; i < CHILD_LEAKS; i++)
        leaks[i] = m_malloc(mark_size(i + 2));
    atomic_store(&C.leaked, CHILD_LEAKS);
    char buf[512];
    format_counts(buf, sizeof buf, "child", getpid(), &C);
    ssize_t w = write(fd, buf, strlen(buf));
    _exit(w == (ssize_t)strlen(buf) ? 0 : 3);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        items_per_producer = (unsigned)strtoul(argv[1], NULL, 10);
    pthread_t prod[PRODUCERS], cons[CONSUMERS], churner;
    for (unsigned i = 0; i < CONSUMERS; i++)
        if ((errno = pthread_create(&cons[i], NULL, consumer, NULL)))
            die("pthread_create");
    for (unsigned i = 0; i < PRODUCERS; i++)
        if ((errno = pthread_create(&prod[i], NULL, producer, (void *)(uintptr_t)i)))
            die("pthread_create");
    if ((errno = pthread_create(&churner, NULL, churn, NULL)))
        die("pthread_create");

    realloc_chains(0);

    /* Fork once half of the items are made, while every thread is busy. */
    while (atomic_load(&produced) < PRODUCERS * items_per_producer / 2)
        sched_yield();
    int pipefd[2];
    if (pipe(pipefd) != 0)
        die("pipe");
    fflush(stdout);
    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        close(pipefd[0]);
        child_main(pipefd[1]);
    }
    close(pipefd[1]);

    realloc_chains(3);
    for (unsigned i = 0; i < PRODUCERS; i++)
        pthread_join(prod[i], NULL);
    for (unsigned i = 0; i < CONSUMERS; i++)
        q_push(&poison);
    for (unsigned i = 0; i < CONSUMERS; i++)
        pthread_join(cons[i], NULL);
    pthread_join(churner, NULL);
    for (unsigned i = 0; i < handoff_len; i++)
        m_free(handoff[i]); /* allocated by threads that no longer exist */
    for (unsigned i = 0; i < PARENT_LEAKS; i++)
        leaks[CHILD_LEAKS + i] = m_malloc(mark_size(i + 4));
    atomic_store(&C.leaked, PARENT_LEAKS);

    char child_json[512];
    ssize_t n = 0, r;
    while ((r = read(pipefd[0], child_json + n, sizeof child_json - 1 - (size_t)n)) > 0)
        n += r;
    child_json[n > 0 ? n : 0] = '\0';
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        n <= 0) {
        fprintf(stderr, "stress: the fork child failed (status %d)\n", status);
        return 1;
    }
    char parent_json[512];
    format_counts(parent_json, sizeof parent_json, "parent", getpid(), &C);
    printf("{%s, %s}\n", parent_json, child_json);
    return 0;
}
