/* The lookaside (MEMORY_FROM_LOOKASIDE) and the per-thread runs of LFH
 * blocks: the thread caches. A thread's cache of a heap holds, per size
 * class, the blocks this thread freed (the lookaside, LIFO, bounded; two
 * lists, one of size-class blocks and one of back-end blocks) and the blocks
 * it took in a batch from the LFH (the run). Both are plain lists
 * touched by their thread alone: an allocation or free that hits them takes
 * no lock and no atomic operation. A block freed by another thread than the
 * one that allocated it simply joins the freeing thread's lookaside.
 *
 * Cache memory comes from the kernel, and is recycled through a pool when
 * threads exit, so that thread churn costs no system call once warm. A
 * thread's caches go back to their heaps when it exits (a pthread key's
 * destructor); after that the thread works without caches, so that frees and
 * allocations made later in its exit (other destructors, TLS teardown) are
 * served and never lost. */
#include <pthread.h>
#include <string.h>

#include "heap/heap_internal.h"

/* A thread's caches before it makes them and after it exits: no slot is any
 * heap's (serial 0, which no heap has), so that a fast path finds no cache
 * by the serial it tests anyway, with no test for a missing one. Only read:
 * its pages are never touched. */
static ht_thread_cache no_caches;
__thread ht_thread_cache *ht_thread_caches __attribute__((tls_model("initial-exec"))) = &no_caches;
static __thread int thread_exited __attribute__((tls_model("initial-exec")));

/* Caches in use and idle ones. The lock is a leaf: nothing else is taken
 * while it is held. */
pthread_mutex_t ht_caches_lock = PTHREAD_MUTEX_INITIALIZER;
static ht_thread_cache *in_use;
static ht_thread_cache *idle;

static pthread_key_t exit_key;
static int exit_key_state; /* 0 none, 1 creating, 2 made; atomic */

/* A lookaside holds up to about 32 KiB of its class (4 to 256 blocks). */
uint16_t ht_lookaside_limits[HT_CLASS_COUNT];

void ht_lookaside_init(void)
{
    for (unsigned c = 0; c < HT_CLASS_COUNT; c++) {
        size_t per = 32768 / ht_class_capacity(c);
        ht_lookaside_limits[c] = per < 4 ? 4 : per > 256 ? 256 : (uint16_t)per;
    }
}

unsigned ht_run_batch(unsigned c)
{
    unsigned n = ht_lookaside_limits[c] / 4u;
    return n < 2 ? 2 : n > 64 ? 64 : n;
}

void ht_cache_give_back_main(ht_heap *h, ht_block *b)
{
    if (ht_block_state(b, h->cookie) != HT_STATE_CACHED_MAIN)
        ht_heap_corrupt(h, ht_payload_of(b), "a freed block was written to after its free (header damaged)");
    ht_tag_store(b, ht_make_tag(b, h->cookie, HT_STATE_BUSY_MAIN));
    ht_backend_free(h, b);
}

static void give_main_list(ht_heap *h, ht_block *b)
{
    while (b) {
        ht_block *next = *ht_block_link(b);
        ht_cache_give_back_main(h, b);
        b = next;
    }
}

bool ht_cache_give_back_medium(ht_heap_cache *hc)
{
    if (hc->medium_bytes == 0)
        return false;
    for (unsigned k = 0; k < HT_MEDIUM_CLASSES; k++) {
        give_main_list(hc->heap, hc->medium[k]);
        hc->medium[k] = NULL;
        hc->medium_count[k] = 0;
    }
    hc->medium_bytes = 0;
    return true;
}

bool ht_cache_flush(ht_heap_cache *hc, bool may_wait)
{
    if (hc->serial == 0)
        return true;
    /* The heaps' lock keeps the heap from being destroyed meanwhile. A thread
     * that may hold a heap's lock must not wait for it (the lock order is the
     * heaps' lock, then a heap's). */
    if (may_wait)
        pthread_mutex_lock(&ht_heaps_lock);
    else if (pthread_mutex_trylock(&ht_heaps_lock) != 0)
        return false;
    ht_heap *h = ht_heap_by_serial(hc->serial); /* NULL: destroyed, its memory is gone already */
    if (h) {
        ht_heap_lock_internal(h);
        for (unsigned c = 0; c < HT_CLASS_COUNT; c++) {
            ht_lfh_give_list(h, hc->classes[c].lookaside);
            ht_lfh_give_list(h, hc->classes[c].run);
            give_main_list(h, hc->classes[c].lookaside_main);
        }
        ht_cache_give_back_medium(hc);
        ht_heap_unlock_internal(h);
    }
    pthread_mutex_unlock(&ht_heaps_lock);
    hc->serial = 0;
    hc->heap = NULL;
    return true;
}

void ht_cache_overflow(ht_heap_cache *hc, unsigned c)
{
    ht_class_cache *cc = &hc->classes[c];
    ht_heap *h = hc->heap;
    uint32_t limit = ht_lookaside_limits[c], keep = limit / 2u; /* it holds limit - room */
    unsigned over = limit - cc->lookaside_room - keep, batch = ht_run_batch(c);
    ht_heap_lock_internal(h);
    /* Back-end blocks first: the class's LFH serves it from now on. */
    ht_block *m = cc->lookaside_main;
    for (; over > 0 && m; over--) {
        ht_block *next = *ht_block_link(m);
        ht_cache_give_back_main(h, m);
        m = next;
    }
    cc->lookaside_main = m;
    /* Whole batches go to the LFH bin, for a thread that runs out (the
     * consumer of a producer/consumer pair) to take in one step; what the bin
     * does not keep goes back to the pages, a page's run of blocks at a time.
     * The size-class list holds at least `over` blocks: the two lists hold
     * limit - room together, and the back-end list is empty when over is
     * not 0. */
    void *b = cc->lookaside;
    bool exchange = __atomic_load_n(&h->lfh[c].active, __ATOMIC_RELAXED);
    while (exchange && over >= batch) {
        void *last = b;
        for (unsigned i = 1; i < batch; i++)
            last = *ht_link(last);
        void *rest = *ht_link(last);
        *ht_link(last) = NULL;
        if (!ht_lfh_push_batch(h, c, b)) {
            *ht_link(last) = rest; /* the bin is full: the list stays whole */
            break;
        }
        b = rest;
        over -= batch;
    }
    while (over > 0)
        b = ht_lfh_give_run(h, b, &over);
    cc->lookaside = b;
    cc->lookaside_room = limit - keep;
    ht_heap_unlock_internal(h);
}

/* A thread's cache goes back: its blocks to the heaps, the cache itself from
 * the list in use to the idle one, for the next thread to take. */
static void retire(ht_thread_cache *tc)
{
    for (unsigned i = 0; i < HT_CACHE_SLOTS; i++)
        ht_cache_flush(&tc->slots[i], true);
    pthread_mutex_lock(&ht_caches_lock);
    if (tc->prev)
        tc->prev->next = tc->next;
    else
        in_use = tc->next;
    if (tc->next)
        tc->next->prev = tc->prev;
    tc->next = idle;
    idle = tc;
    pthread_mutex_unlock(&ht_caches_lock);
}

static void on_thread_exit(void *value)
{
    ht_thread_cache *tc = value;
    thread_exited = 1;
    ht_thread_caches = &no_caches;
    retire(tc);
}

static bool make_exit_key(void)
{
    int state = __atomic_load_n(&exit_key_state, __ATOMIC_ACQUIRE);
    if (state == 2)
        return true;
    int expected = 0;
    if (!__atomic_compare_exchange_n(&exit_key_state, &expected, 1, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return expected == 2; /* another thread makes it: do without caches meanwhile */
    if (pthread_key_create(&exit_key, on_thread_exit) != 0) {
        __atomic_store_n(&exit_key_state, 0, __ATOMIC_RELEASE);
        return false;
    }
    __atomic_store_n(&exit_key_state, 2, __ATOMIC_RELEASE);
    return true;
}

static ht_thread_cache *thread_cache(void)
{
    ht_thread_cache *tc = ht_thread_caches;
    if (tc != &no_caches)
        return tc;
    if (thread_exited)
        return NULL;
    if (!make_exit_key())
        return NULL;
    pthread_mutex_lock(&ht_caches_lock);
    tc = idle;
    if (tc)
        idle = tc->next;
    pthread_mutex_unlock(&ht_caches_lock);
    if (!tc) {
        tc = ht_pages_map(sizeof *tc, 4096);
        if (!tc)
            return NULL;
    }
    memset(tc->slots, 0, sizeof tc->slots);
    pthread_mutex_lock(&ht_caches_lock);
    tc->prev = NULL;
    tc->next = in_use;
    if (in_use)
        in_use->prev = tc;
    in_use = tc;
    pthread_mutex_unlock(&ht_caches_lock);
    /* Set before the key: pthread_setspecific may allocate, and that
     * allocation must find this cache rather than make another. */
    ht_thread_caches = tc;
    pthread_setspecific(exit_key, tc);
    return tc;
}

ht_heap_cache *ht_cache_attach(ht_heap *h)
{
    ht_thread_cache *tc = thread_cache();
    if (!tc)
        return NULL;
    ht_heap_cache *hc = &tc->slots[h->cache_slot];
    if (hc->serial == h->serial)
        return hc;
    if (!ht_cache_flush(hc, false)) /* another heap used the slot */
        return NULL;
    memset(hc->classes, 0, sizeof hc->classes);
    memset(hc->medium, 0, sizeof hc->medium);
    memset(hc->medium_count, 0, sizeof hc->medium_count);
    hc->medium_bytes = 0;
    for (unsigned c = 0; c < HT_CLASS_COUNT; c++) {
        hc->classes[c].lookaside_room = ht_lookaside_limits[c];
        hc->classes[c].shift = ht_lfh_class_shift(c);
    }
    hc->heap = h;
    hc->serial = h->serial;
    return hc;
}

void ht_caches_forget_heap(ht_heap *h)
{
    ht_thread_cache *tc = ht_thread_caches;
    for (unsigned i = 0; i < HT_CACHE_SLOTS; i++)
        if (tc->slots[i].serial == h->serial) {
            tc->slots[i].serial = 0;
            tc->slots[i].heap = NULL;
        }
}

void ht_caches_fork_child(void)
{
    ht_thread_cache *mine = ht_thread_caches, *tc = in_use;
    while (tc) {
        ht_thread_cache *next = tc->next;
        if (tc != mine) {
            retire(tc);
        }
        tc = next;
    }
}
