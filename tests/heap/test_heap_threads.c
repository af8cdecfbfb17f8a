/* Unit tests of the heap under threads: producers and consumers freeing each
 * other's blocks with their contents checked, thread churn, and fork in a
 * multi-threaded program. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "heaptrail/heap.h"

/* A block filled with a pattern derived from its serial number and size. */
static void fill(unsigned char *p, size_t size, uint64_t serial)
{
    for (size_t i = 0; i < size; i++)
        p[i] = (unsigned char)(serial * 131 + i * 7);
}

static int intact(const unsigned char *p, size_t size, uint64_t serial)
{
    for (size_t i = 0; i < size; i++)
        if (p[i] != (unsigned char)(serial * 131 + i * 7))
            return 0;
    return 1;
}

static size_t size_for(uint64_t x)
{
    x = x * 0x9E3779B97F4A7C15ull >> 40;
    if (x % 256 == 1)
        return (1 << 20) + x % 99; /* mapped on its own */
    if (x % 16 == 0)
        return x % 70000; /* back end */
    return x % 600;       /* lookaside and LFH */
}

/* ---- producers and consumers -------------------------------------------------- */
#define RING 1024

typedef struct item {
    unsigned char *p;
    size_t size;
    uint64_t serial;
} item;

typedef struct channel {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    item ring[RING];
    size_t head, tail;
    int done;
} channel;

typedef struct worker {
    ht_heap *heap;
    channel *ch;
    unsigned id;
    size_t count;
    size_t bad;
} worker;

static void *producer(void *arg)
{
    worker *w = arg;
    for (size_t i = 0; i < w->count; i++) {
        uint64_t serial = ((uint64_t)w->id << 32) | i;
        size_t size = size_for(serial);
        unsigned char *p = ht_heap_alloc(w->heap, 0, size);
        if (!p) {
            w->bad++;
            continue;
        }
        fill(p, size, serial);
        /* Some blocks are resized before they go. */
        if (i % 7 == 0) {
            size_t bigger = size + size_for(serial + 1) % 3000;
            p = ht_heap_realloc(w->heap, 0, p, bigger);
            if (!p || !intact(p, size, serial))
                w->bad++;
            if (p)
                fill(p, bigger, serial);
            size = bigger;
        }
        pthread_mutex_lock(&w->ch->lock);
        while (w->ch->head - w->ch->tail == RING)
            pthread_cond_wait(&w->ch->cond, &w->ch->lock);
        w->ch->ring[w->ch->head++ % RING] = (item){p, size, serial};
        pthread_cond_broadcast(&w->ch->cond);
        pthread_mutex_unlock(&w->ch->lock);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    worker *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->ch->lock);
        while (w->ch->head == w->ch->tail && !w->ch->done)
            pthread_cond_wait(&w->ch->cond, &w->ch->lock);
        if (w->ch->head == w->ch->tail) {
            pthread_mutex_unlock(&w->ch->lock);
            return NULL;
        }
        item it = w->ch->ring[w->ch->tail++ % RING];
        pthread_cond_broadcast(&w->ch->cond);
        pthread_mutex_unlock(&w->ch->lock);
        if (!it.p || !intact(it.p, it.size, it.serial) || ht_heap_size(w->heap, 0, it.p) != it.size)
            w->bad++;
        /* Keep a few of the blocks a while, with blocks of its own in between. */
        void *mine = ht_heap_alloc(w->heap, 0, it.size / 2);
        fill(mine, it.size / 2, it.serial);
        if (!ht_heap_free(w->heap, 0, it.p))
            w->bad++;
        if (!intact(mine, it.size / 2, it.serial))
            w->bad++;
        ht_heap_free(w->heap, 0, mine);
    }
}

static void run_cross_thread(ht_heap *heap, unsigned producers, unsigned consumers, size_t each)
{
    channel ch = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    worker w[16];
    pthread_t t[16];
    for (unsigned i = 0; i < producers + consumers; i++) {
        w[i] = (worker){.heap = heap, .ch = &ch, .id = i, .count = each};
        assert_int_equal(pthread_create(&t[i], NULL, i < producers ? producer : consumer, &w[i]), 0);
    }
    for (unsigned i = 0; i < producers; i++)
        pthread_join(t[i], NULL);
    pthread_mutex_lock(&ch.lock);
    ch.done = 1;
    pthread_cond_broadcast(&ch.cond);
    pthread_mutex_unlock(&ch.lock);
    size_t bad = 0;
    for (unsigned i = 0; i < producers + consumers; i++) {
        if (i >= producers)
            pthread_join(t[i], NULL);
        bad += w[i].bad;
    }
    assert_int_equal(bad, 0);
    assert_int_equal(ht_heap_validate(heap, 0, NULL), 1);
}

static void test_cross_thread_frees_process_heap(void **state)
{
    (void)state;
    run_cross_thread(ht_process_heap(), 3, 3, 20000);
}

static void test_cross_thread_frees_private_heap(void **state)
{
    (void)state;
    ht_heap *h = ht_heap_create(0, 0, 0);
    run_cross_thread(h, 2, 4, 20000);
    ht_heap_destroy(h);
}

/* ---- thread churn ----------------------------------------------------------------- */
typedef struct churn_arg {
    ht_heap *heap;
    unsigned seed;
    void *keep; /* a block left for the main thread to check and free */
} churn_arg;

static void *short_lived(void *arg)
{
    churn_arg *a = arg;
    void *blocks[64];
    for (unsigned round = 0; round < 4; round++) {
        for (unsigned i = 0; i < 64; i++) {
            size_t size = size_for(a->seed * 64 + i) % 2000;
            blocks[i] = ht_heap_alloc(a->heap, 0, size);
            fill(blocks[i], size, a->seed + i);
        }
        for (unsigned i = 0; i < 64; i++)
            ht_heap_free(a->heap, 0, blocks[i]);
    }
    a->keep = ht_heap_alloc(a->heap, 0, 100);
    fill(a->keep, 100, a->seed);
    return NULL; /* its caches go back to the heap as it exits */
}

static void test_thread_churn(void **state)
{
    (void)state;
    ht_heap *h = ht_heap_create(0, 0, 0);
    for (unsigned wave = 0; wave < 150; wave++) {
        pthread_t t[4];
        churn_arg a[4];
        for (unsigned i = 0; i < 4; i++) {
            a[i] = (churn_arg){.heap = i % 2 ? h : ht_process_heap(), .seed = wave * 4 + i};
            assert_int_equal(pthread_create(&t[i], NULL, short_lived, &a[i]), 0);
        }
        for (unsigned i = 0; i < 4; i++) {
            pthread_join(t[i], NULL);
            assert_true(intact(a[i].keep, 100, a[i].seed));
            assert_int_equal(ht_heap_free(a[i].heap, 0, a[i].keep), 1);
        }
    }
    assert_int_equal(ht_heap_validate(h, 0, NULL), 1);
    assert_int_equal(ht_heap_validate(ht_process_heap(), 0, NULL), 1);
    /* Nothing leaked into exited threads' caches: the heap shrinks back to
     * its first region once compacted. */
    ht_heap_compact(h, 0);
    ht_heap_entry e = {0};
    unsigned busy = 0;
    while (ht_heap_walk(h, &e))
        busy += (e.flags & HT_HEAP_ENTRY_BUSY) != 0;
    assert_int_equal(busy, 0);
    ht_heap_destroy(h);
}

/* A block above the size classes that a thread frees waits in that thread's
 * medium lists until it exits; then it is the heap's again. */
typedef struct freed_elsewhere {
    ht_heap *heap;
    void *block;
} freed_elsewhere;

static void *free_and_exit(void *arg)
{
    freed_elsewhere *f = arg;
    ht_heap_free(f->heap, 0, f->block);
    return NULL;
}

static void test_medium_blocks_return_at_thread_exit(void **state)
{
    (void)state;
    ht_heap *h = ht_heap_create(0, 0, 0);
    ht_heap_alloc(h, 0, 100);
    freed_elsewhere f = {.heap = h, .block = ht_heap_alloc(h, 0, 300000)};
    ht_heap_alloc(h, 0, 100); /* neighbours on both sides stay busy */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, free_and_exit, &f), 0);
    pthread_join(t, NULL);
    /* This thread's lists are empty: the back end's only fit is the block. */
    assert_ptr_equal(ht_heap_alloc(h, 0, 300000), f.block);
    assert_int_equal(ht_heap_validate(h, 0, NULL), 1);
    ht_heap_destroy(h);
}

/* ---- fork in a multi-threaded program --------------------------------------------- */
static volatile int stop_spinning;

static void *spinner(void *arg)
{
    ht_heap *h = arg;
    uint64_t n = 0;
    while (!__atomic_load_n(&stop_spinning, __ATOMIC_RELAXED)) {
        void *p = ht_heap_alloc(h, 0, size_for(n++) % 5000);
        ht_heap_free(h, 0, p);
    }
    return NULL;
}

static void test_fork_while_threads_allocate(void **state)
{
    (void)state;
    ht_heap *h = ht_heap_create(0, 0, 0);
    pthread_t t[3];
    stop_spinning = 0;
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, spinner, i ? h : ht_process_heap()), 0);
    for (unsigned round = 0; round < 40; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            /* The other threads are gone, perhaps in the middle of an
             * allocation: both heaps must work and be whole. */
            int ok = 1;
            for (unsigned i = 0; i < 2000 && ok; i++) {
                size_t size = size_for(i) % 5000;
                unsigned char *p = ht_heap_alloc(i % 2 ? h : ht_process_heap(), 0, size);
                fill(p, size, i);
                ok = intact(p, size, i) && ht_heap_free(i % 2 ? h : ht_process_heap(), 0, p);
            }
            ok = ok && ht_heap_validate(h, 0, NULL) && ht_heap_validate(ht_process_heap(), 0, NULL);
            _exit(ok ? 0 : 1);
        }
        assert_true(pid > 0);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    __atomic_store_n(&stop_spinning, 1, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    ht_heap_destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cross_thread_frees_process_heap),
        cmocka_unit_test(test_cross_thread_frees_private_heap),
        cmocka_unit_test(test_thread_churn),
        cmocka_unit_test(test_medium_blocks_return_at_thread_exit),
        cmocka_unit_test(test_fork_while_threads_allocate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
