/* The heap API (heaptrail/heap.h): heap objects, the dispatch of each request
 * to its path, bad-pointer detection and reporting, validation, walking,
 * information classes, and fork.
 *
 * Which path serves a request:
 *   - a block of a small size class in this thread's lookaside: LOOKASIDE;
 *   - else one in this thread's run of LFH blocks, or a fresh batch taken
 *     from the class's LFH bin once it is open: LOWFRAG;
 *   - else the back end's free lists: MAINPATH, or SLOWPATH when the heap had
 *     to grow for it;
 *   - requests of HT_LARGE_MIN bytes and more: a mapping of their own, SLOWPATH.
 * A free reports, as its Source, the path that takes the block back. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "heap/heap_internal.h"
#include "heap/trace.h"

pthread_mutex_t ht_heaps_lock = PTHREAD_MUTEX_INITIALIZER;

/* The process heap lives in static storage, so that malloc works before
 * anything has been set up; its regions come on first use. */
static ht_heap process_heap_object = {
    .lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP,
};
static int process_heap_state; /* 0 not set up, 1 setting up, 2 ready; atomic */
static uint64_t next_serial = 2; /* 1 is the process heap's */

/* ---- reporting ----------------------------------------------------------------
 * Messages are formatted by hand into a stack buffer and written with one
 * system call: this runs inside malloc, perhaps with a damaged heap. */
typedef struct message {
    char text[320];
    size_t len;
} message;

static void put(message *m, const char *s)
{
    while (*s && m->len < sizeof m->text - 1)
        m->text[m->len++] = *s++;
}

static void put_hex(message *m, uint64_t v)
{
    char digits[19] = "0x";
    int n = 0;
    uint64_t t = v;
    do {
        n++;
        t >>= 4;
    } while (t);
    for (int i = n - 1; i >= 0; i--, v >>= 4)
        digits[2 + i] = "0123456789abcdef"[v & 15];
    digits[2 + n] = '\0';
    put(m, digits);
}

static void say(message *m)
{
    put(m, "\n");
    syscall(SYS_write, 2, m->text, m->len);
}

_Noreturn void ht_heap_corrupt(ht_heap *h, const void *where, const char *what)
{
    message m = {.len = 0};
    put(&m, "heaptrail heap ");
    put_hex(&m, (uint64_t)(uintptr_t)h);
    put(&m, ": heap damaged at ");
    put_hex(&m, (uint64_t)(uintptr_t)where);
    put(&m, ": ");
    put(&m, what);
    say(&m);
    abort();
}

static uint32_t policy_of(const ht_heap *h)
{
    return h && h->magic == HT_HEAP_MAGIC ? h->error_policy : process_heap_object.error_policy;
}

/* A call named `op` was given `p`, which is not what it should be. Reports
 * by the heap's policy; returns 0 with errno EINVAL when the policy lets the
 * program go on (`may_abort` false: never stop, the caller asked a question). */
__attribute__((cold, noinline)) static int bad_pointer(ht_heap *h, const char *op, const void *p, const char *what, bool may_abort)
{
    uint32_t policy = policy_of(h);
    if (policy != HT_HEAP_ON_ERROR_SILENT || (may_abort && policy == HT_HEAP_ON_ERROR_ABORT)) {
        message m = {.len = 0};
        put(&m, "heaptrail heap ");
        put_hex(&m, (uint64_t)(uintptr_t)h);
        put(&m, ": ");
        put(&m, op);
        put(&m, "(");
        put_hex(&m, (uint64_t)(uintptr_t)p);
        put(&m, "): ");
        put(&m, what);
        say(&m);
    }
    if (may_abort && policy == HT_HEAP_ON_ERROR_ABORT)
        abort();
    errno = EINVAL;
    return 0;
}

static bool valid_heap(const ht_heap *h) { return h && h->magic == HT_HEAP_MAGIC; }

/* A heap's random cookie, its low four bits clear for the blocks' states
 * (ht_tag_check). */
static uint32_t new_cookie(void) { return ht_pages_random32() & ~0xFu; }

/* ---- the heap's lock ------------------------------------------------------------
 * An adaptive mutex, which spins a while before it sleeps: the sections it
 * guards are short, and sleeping on one (a system call each way) costs more
 * than waiting it out. It is made recursive here, by its owner's identity,
 * for ht_heap_lock and the allocations of the thread that holds it. */
static void lock_heap(ht_heap *h)
{
    pthread_t self = pthread_self();
    if (__atomic_load_n(&h->lock_owner, __ATOMIC_RELAXED) == self) {
        h->lock_depth++; /* only this thread could have stored its own identity */
        return;
    }
    pthread_mutex_lock(&h->lock);
    __atomic_store_n(&h->lock_owner, self, __ATOMIC_RELAXED);
    h->lock_depth = 1;
}

/* False: this thread does not hold the lock. */
static bool unlock_heap(ht_heap *h)
{
    if (__atomic_load_n(&h->lock_owner, __ATOMIC_RELAXED) != pthread_self())
        return false;
    if (--h->lock_depth == 0) {
        __atomic_store_n(&h->lock_owner, (pthread_t)0, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&h->lock);
    }
    return true;
}

static void init_lock(ht_heap *h)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&h->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    h->lock_owner = 0;
    h->lock_depth = 0;
}

void ht_heap_lock_internal(ht_heap *h)
{
    if (!(h->flags & HT_HEAP_NO_SERIALIZE))
        lock_heap(h);
}

void ht_heap_unlock_internal(ht_heap *h)
{
    if (!(h->flags & HT_HEAP_NO_SERIALIZE))
        unlock_heap(h);
}

/* ---- set-up and the heaps' list --------------------------------------------- */
static void fork_prepare(void)
{
    pthread_mutex_lock(&ht_heaps_lock);
    for (ht_heap *h = &process_heap_object; h; h = h->next)
        lock_heap(h);
    pthread_mutex_lock(&ht_caches_lock);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&ht_caches_lock);
    for (ht_heap *h = &process_heap_object; h; h = h->next)
        unlock_heap(h);
    pthread_mutex_unlock(&ht_heaps_lock);
}

static void fork_child(void)
{
    /* Only this thread exists now, and it held every lock: start them afresh,
     * then take back what the vanished threads had cached. */
    pthread_mutex_init(&ht_caches_lock, NULL);
    for (ht_heap *h = &process_heap_object; h; h = h->next)
        init_lock(h);
    pthread_mutex_init(&ht_heaps_lock, NULL);
    ht_caches_fork_child();
}

static uint32_t policy_from_environment(void)
{
    extern char **environ;
    const char *v = environ ? getenv("HEAPTRAIL_HEAP_ERRORS") : NULL;
    if (v && strcmp(v, "report") == 0)
        return HT_HEAP_ON_ERROR_REPORT;
    if (v && strcmp(v, "silent") == 0)
        return HT_HEAP_ON_ERROR_SILENT;
    return HT_HEAP_ON_ERROR_ABORT;
}

__attribute__((noinline, cold)) static void set_up_process_heap(void)
{
    int expected = 0;
    if (!__atomic_compare_exchange_n(&process_heap_state, &expected, 1, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(&process_heap_state, __ATOMIC_ACQUIRE) != 2)
            syscall(SYS_sched_yield);
        return;
    }
    ht_heap *h = &process_heap_object;
    h->serial = 1;
    h->cookie = new_cookie();
    h->compat = HT_HEAP_COMPAT_LFH;
    h->error_policy = policy_from_environment();
    ht_backend_init(h);
    ht_lookaside_init();
    h->magic = HT_HEAP_MAGIC;
    __atomic_store_n(&process_heap_state, 2, __ATOMIC_RELEASE);
    /* After the heap is ready: registering may allocate. */
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    ht_trace_attach();
    ht_trace_heap_event(HT_EVENT_HEAP_CREATE, h, 0);
}

ht_heap *ht_process_heap(void)
{
    if (ht_unlikely(__atomic_load_n(&process_heap_state, __ATOMIC_ACQUIRE) != 2))
        set_up_process_heap();
    return &process_heap_object;
}

void ht_heap_apply_environment(void) { ht_process_heap()->error_policy = policy_from_environment(); }

ht_heap *ht_heap_by_serial(uint64_t serial)
{
    for (ht_heap *h = &process_heap_object; h; h = h->next)
        if (h->serial == serial)
            return h;
    return NULL;
}

ht_heap *ht_heap_create(unsigned flags, size_t initial_size, size_t maximum_size)
{
    ht_process_heap();
    if (maximum_size && initial_size > maximum_size) {
        errno = EINVAL;
        return NULL;
    }
    /* A fixed-size heap's one region is its maximum; a growable heap starts
     * with at least half a granule. */
    size_t bytes = maximum_size ? maximum_size : initial_size > HT_GRANULE / 2 ? initial_size : HT_GRANULE / 2;
    ht_heap *h = ht_backend_new_heap(bytes, new_cookie(), maximum_size);
    if (!h) {
        errno = ENOMEM;
        return NULL;
    }
    h->flags = flags & (HT_HEAP_NO_SERIALIZE | HT_HEAP_GENERATE_EXCEPTIONS);
    h->compat = (flags & HT_HEAP_NO_SERIALIZE) || maximum_size ? HT_HEAP_COMPAT_STANDARD : HT_HEAP_COMPAT_LFH;
    h->error_policy = process_heap_object.error_policy;
    init_lock(h);
    h->serial = __atomic_fetch_add(&next_serial, 1, __ATOMIC_RELAXED);
    h->cache_slot = 1 + (uint32_t)(h->serial % (HT_CACHE_SLOTS - 1)); /* slot 0 is the process heap's */
    h->magic = HT_HEAP_MAGIC;
    pthread_mutex_lock(&ht_heaps_lock);
    ht_heap *last = &process_heap_object;
    while (last->next)
        last = last->next;
    last->next = h;
    h->prev = last;
    pthread_mutex_unlock(&ht_heaps_lock);
    ht_trace_heap_event(HT_EVENT_HEAP_CREATE, h, h->flags);
    ht_trace_extent(HT_EVENT_HEAP_EXPAND, h, h->segments, h->segments->size);
    return h;
}

int ht_heap_destroy(ht_heap *h)
{
    if (!valid_heap(h) || h == &process_heap_object) {
        errno = EINVAL;
        return 0;
    }
    pthread_mutex_lock(&ht_heaps_lock);
    h->prev->next = h->next;
    if (h->next)
        h->next->prev = h->prev;
    pthread_mutex_unlock(&ht_heaps_lock);
    ht_caches_forget_heap(h); /* other threads' caches of it are recognised as stale by serial */
    ht_trace_heap_event(HT_EVENT_HEAP_DESTROY, h, 0);
    ht_segment *first = NULL;
    for (ht_segment *s = h->segments, *next; s; s = next) {
        next = s->next;
        if (s->permanent) {
            first = s;
            continue;
        }
        ht_segmap_unregister(s);
        s->magic = 0;
        ht_pages_unmap(s, s->size);
    }
    h->magic = 0;
    pthread_mutex_destroy(&h->lock);
    ht_segmap_unregister(first);
    first->magic = 0;
    ht_pages_unmap(first, first->size);
    return 1;
}

size_t ht_process_heaps(ht_heap **heaps, size_t capacity)
{
    ht_process_heap();
    size_t n = 0;
    pthread_mutex_lock(&ht_heaps_lock);
    for (ht_heap *h = &process_heap_object; h; h = h->next, n++)
        if (heaps && n < capacity)
            heaps[n] = h;
    pthread_mutex_unlock(&ht_heaps_lock);
    return n;
}

/* ---- blocks -------------------------------------------------------------------- */
/* A live block as the full paths see it: its path's state, and where its
 * bookkeeping is: the header of a back-end or large block, the state word
 * (and page) of a size-class block. */
typedef struct live_block {
    void *p;
    unsigned state; /* HT_STATE_BUSY_MAIN, _LFH or _LARGE */
    ht_block *header;
    uint16_t *word;
    ht_lfh_page *page;
} live_block;

static size_t capacity_of(const live_block *b)
{
    if (b->state == HT_STATE_BUSY_LFH)
        return b->page->block_bytes;
    if (b->state == HT_STATE_BUSY_LARGE)
        return ht_large_capacity(b->header);
    return ht_main_capacity(b->header);
}

static size_t slack_of(const live_block *b)
{
    return b->state == HT_STATE_BUSY_LFH ? (size_t)(*b->word & ~HT_LFH_BUSY) : b->header->slack;
}

static void set_slack(live_block *b, size_t slack)
{
    if (b->state == HT_STATE_BUSY_LFH)
        *b->word = (uint16_t)(HT_LFH_BUSY | slack);
    else
        b->header->slack = (uint32_t)slack;
}

/* The largest class whose capacity fits in a block of `capacity` bytes. */
static inline unsigned class_within(size_t capacity)
{
    if (ht_likely(capacity <= 1024))
        return (unsigned)(capacity / 16) - 1; /* a multiple of 16: exact */
    unsigned c = ht_size_class(capacity);
    return ht_class_capacity(c) > capacity ? c - 1 : c;
}

/* Find the live block p of heap h. False after telling what is wrong in
 * *what. */
static bool find_block(ht_heap *h, void *p, live_block *b, const char **what)
{
    ht_segment *s = ht_segmap_lookup(p);
    if (!s) {
        *what = "not a block of any heaptrail heap (foreign pointer)";
        return false;
    }
    if (s->heap != h) {
        *what = valid_heap(s->heap) ? "the block belongs to another heap" : "not a live block";
        return false;
    }
    if (((uintptr_t)p & 15) != 0 || (uintptr_t)p - (uintptr_t)s < s->first_block + HT_BLOCK_HEADER) {
        *what = "not the start of a block";
        return false;
    }
    b->p = p;
    if (s->kind == HT_SEGMENT_LFH) {
        ht_lfh_page *page = ht_lfh_page_at(p);
        size_t i = ht_lfh_index(page, p); /* SIZE_MAX in a slice without a page: its span is 0 */
        if (i >= __atomic_load_n(&page->bump, __ATOMIC_RELAXED)) { /* the lock is not held */
            *what = "not the start of a live block";
            return false;
        }
        uint16_t *word = ht_lfh_state(p, page->shift);
        if (!(*word & HT_LFH_BUSY)) {
            *what = *word == HT_LFH_CACHED
                        ? "double free: the block is already free (resting in a lookaside or size-class cache)"
                        : "double free: the block is already free";
            return false;
        }
        *b = (live_block){.p = p, .state = HT_STATE_BUSY_LFH, .word = word, .page = page};
        return true;
    }
    ht_block *header = ht_header_of(p);
    unsigned state = ht_block_state(header, h->cookie);
    switch (state) {
    case HT_STATE_BUSY_MAIN:
    case HT_STATE_BUSY_LARGE:
        *b = (live_block){.p = p, .state = state, .header = header};
        return true;
    case HT_STATE_FREE:
        *what = "double free: the block is already free";
        return false;
    case HT_STATE_CACHED_MAIN:
        *what = "double free: the block is already free (resting in a lookaside or size-class cache)";
        return false;
    case 0:
        *what = "not the start of a live block, or its header is damaged";
        return false;
    default:
        *what = "not a block (the heap's own bookkeeping)";
        return false;
    }
}

/* Every header handed out carries a checked tag already (the path that
 * found it made or verified it): only its state changes. */
static inline void *hand_out(ht_block *b, unsigned busy_state, size_t size)
{
    ht_retag(b, busy_state);
    size_t capacity = busy_state == HT_STATE_BUSY_LARGE ? ht_large_capacity(b)
                                                        : ht_main_capacity(b);
    b->slack = (uint32_t)(capacity - size);
    return ht_payload_of(b);
}

/* A size-class block of class c handed out: busy, with its slack. */
static inline void *hand_out_lfh(void *p, size_t c, size_t capacity, size_t size)
{
    *ht_lfh_state(p, ht_lfh_class_shift(c)) = (uint16_t)(HT_LFH_BUSY | (capacity - size));
    return p;
}

/* This thread's cache of h, or NULL. The process heap's slot (0) and serial
 * (1) are constants, so that where the malloc family inlines this for it,
 * neither is loaded. A thread without caches has the empty ones, which match
 * no heap. */
static inline ht_heap_cache *cache_of(ht_heap *h)
{
    ht_thread_cache *tc = ht_thread_caches;
    bool process = h == &process_heap_object;
    ht_heap_cache *hc = &tc->slots[process ? 0 : h->cache_slot];
    return ht_likely(hc->serial == (process ? 1 : h->serial)) ? hc : NULL;
}

/* Stops the process. Reached by a jump from the fast path, which therefore
 * needs no stack frame: the compiler must not see that it never returns
 * (GCC's noipa; other compilers make a call of it). */
#if __has_attribute(noipa)
#define HT_OPAQUE noipa
#else
#define HT_OPAQUE noinline
#endif
__attribute__((cold, HT_OPAQUE, returns_nonnull)) static void *cached_block_damaged(ht_heap *h, void *p)
{
    ht_heap_corrupt(h, p, "a freed block was written to after its free (list link damaged)");
}

/* The lookaside's back-end blocks of the class of `size` (a class whose LFH
 * bin is not open, or a heap without the LFH), NULL when there are none: the
 * rare case, left to the full paths. The header must still read cached (a
 * use after free that wrote it shows here). */
static void *alloc_cached_main(ht_heap *h, size_t size)
{
    ht_heap_cache *hc = cache_of(h);
    ht_class_cache *cc = hc ? &hc->classes[ht_size_class(size)] : NULL;
    ht_block *b = cc ? cc->lookaside_main : NULL;
    if (!b)
        return NULL;
    if (ht_block_state(b, h->cookie) != HT_STATE_CACHED_MAIN)
        ht_heap_corrupt(h, ht_payload_of(b), "a freed block was written to after its free (header damaged)");
    cc->lookaside_main = *ht_block_link(b);
    cc->lookaside_room++;
    return hand_out(b, HT_STATE_BUSY_MAIN, size);
}

/* A block of this thread's medium lists with room for `size` bytes (above
 * HT_SMALL_MAX, below HT_LARGE_MIN), NULL when they have none: the head of
 * the class `size` falls in when it is large enough, else the head of the
 * next class, whose every block is. */
static void *alloc_cached_medium(ht_heap *h, size_t size)
{
    ht_heap_cache *hc = cache_of(h);
    if (!hc || hc->medium_bytes == 0)
        return NULL;
    unsigned k = ht_medium_class(size);
    ht_block *b = hc->medium[k];
    if ((!b || ht_main_capacity(b) < size) && (k + 1 == HT_MEDIUM_CLASSES || !(b = hc->medium[++k])))
        return NULL;
    if (ht_block_state(b, h->cookie) != HT_STATE_CACHED_MAIN)
        ht_heap_corrupt(h, ht_payload_of(b), "a freed block was written to after its free (header damaged)");
    hc->medium[k] = *ht_block_link(b);
    hc->medium_count[k]--;
    hc->medium_bytes -= ht_main_capacity(b);
    return hand_out(b, HT_STATE_BUSY_MAIN, size);
}

/* The state word of p, the head of a cache's list, when p is a cached
 * size-class block in a page of units of 2^shift bytes; NULL otherwise. The
 * list link that led to it may have been overwritten by a use after free: a
 * value outside the user address range (text, a small number) is caught
 * before it is followed, a pointer to anything but a cached block by its
 * state word. */
static inline uint16_t *cached_state(const void *p, unsigned shift)
{
    if (ht_unlikely((uintptr_t)p - HT_GRANULE >= ((uintptr_t)1 << 47) - HT_GRANULE))
        return NULL;
    uint16_t *word = ht_lfh_state(p, shift);
    return ht_likely(*word == HT_LFH_CACHED) ? word : NULL;
}

/* The cached paths of size-class blocks: this thread's lookaside, then its
 * LFH run. A block's capacity is its class's. */
static inline void *alloc_cached(ht_heap *h, size_t size, uint32_t *source)
{
    ht_heap_cache *hc = cache_of(h);
    if (ht_unlikely(hc == NULL))
        return NULL;
    size_t c = ht_size_class(size);
    ht_class_cache *cc = &hc->classes[c];
    void *p = cc->lookaside;
    uint16_t *word;
    if (ht_likely(p != NULL)) {
        if (ht_unlikely((word = cached_state(p, cc->shift)) == NULL))
            return cached_block_damaged(h, p);
        cc->lookaside = *ht_link(p);
        cc->lookaside_room++;
        *source = MEMORY_FROM_LOOKASIDE;
    } else if ((p = cc->run) != NULL) {
        if (ht_unlikely((word = cached_state(p, cc->shift)) == NULL))
            return cached_block_damaged(h, p);
        cc->run = *ht_link(p);
        *source = MEMORY_FROM_LOWFRAG;
    } else {
        return NULL;
    }
    /* Up to 1 KiB a class's capacity is a shift of its index. */
    size_t capacity = size <= 1024 ? ((size_t)c + 1) * 16 : ht_class_capacity((unsigned)c);
    *word = (uint16_t)(HT_LFH_BUSY | (capacity - size));
    return p;
}

static void *alloc_locked_paths(ht_heap *h, size_t size, uint32_t *source)
{
    if (h->maximum && size > h->maximum) {
        errno = ENOMEM;
        return NULL;
    }
    uint32_t compat = __atomic_load_n(&h->compat, __ATOMIC_RELAXED);
    if (size <= HT_SMALL_MAX) {
        unsigned c = ht_size_class(size);
        ht_heap_cache *hc = compat != HT_HEAP_COMPAT_STANDARD ? ht_cache_attach(h) : NULL;
        ht_heap_lock_internal(h);
        if (__atomic_load_n(&h->lfh[c].active, __ATOMIC_RELAXED)) {
            /* A batch another thread left, whole, else fresh blocks from the pages. */
            void *list = hc ? ht_lfh_pop_batch(h, c) : NULL;
            unsigned n = list ? ht_run_batch(c) : ht_lfh_take(h, c, &list, hc ? ht_run_batch(c) : 1);
            if (n) {
                /* The run is empty: the cached paths came first. */
                if (hc)
                    hc->classes[c].run = *ht_link(list);
                ht_heap_unlock_internal(h);
                *source = MEMORY_FROM_LOWFRAG;
                return hand_out_lfh(list, c, ht_class_capacity(c), size);
            }
        }
        bool grew;
        ht_block *b = ht_backend_alloc(h, ht_class_capacity(c) + HT_BLOCK_HEADER, &grew);
        if (b && compat == HT_HEAP_COMPAT_LFH)
            ht_lfh_note_demand(h, c);
        ht_heap_unlock_internal(h);
        if (!b)
            return NULL;
        *source = grew ? MEMORY_FROM_SLOWPATH : MEMORY_FROM_MAINPATH;
        return hand_out(b, HT_STATE_BUSY_MAIN, size);
    }
    ht_block *b;
    bool grew = true;
    ht_heap_lock_internal(h);
    if (size < HT_LARGE_MIN || h->maximum) {
        size_t bytes = ((size + 15) & ~(size_t)15) + HT_BLOCK_HEADER;
        b = bytes > size ? ht_backend_alloc(h, bytes, &grew) : NULL;
    } else {
        b = ht_large_alloc(h, size, 16);
    }
    ht_heap_unlock_internal(h);
    if (!b) {
        errno = ENOMEM;
        return NULL;
    }
    *source = grew ? MEMORY_FROM_SLOWPATH : MEMORY_FROM_MAINPATH;
    return hand_out(b, b->size16 ? HT_STATE_BUSY_MAIN : HT_STATE_BUSY_LARGE, size);
}

/* Every path but the cached ones. */
__attribute__((noinline)) static void *alloc_slow(ht_heap *h, unsigned flags, size_t size, uint32_t *source)
{
    if (ht_unlikely(!valid_heap(h))) {
        bad_pointer(h, "HeapAlloc", h, "not a heap handle", true);
        return NULL;
    }
    void *p = size <= HT_SMALL_MAX ? alloc_cached_main(h, size)
              : size < HT_LARGE_MIN ? alloc_cached_medium(h, size) : NULL;
    if (p) {
        *source = MEMORY_FROM_LOOKASIDE;
        return p;
    }
    p = alloc_locked_paths(h, size, source);
    if (!p && ((flags | h->flags) & HT_HEAP_GENERATE_EXCEPTIONS)) {
        message m = {.len = 0};
        put(&m, "heaptrail heap ");
        put_hex(&m, (uint64_t)(uintptr_t)h);
        put(&m, ": out of memory for a block of ");
        put_hex(&m, size);
        put(&m, " bytes (HT_HEAP_GENERATE_EXCEPTIONS)");
        say(&m);
        abort();
    }
    return p;
}

static inline void *alloc_any(ht_heap *h, unsigned flags, size_t size, uint32_t *source)
{
    void *p = size <= HT_SMALL_MAX ? alloc_cached(h, size, source) : NULL;
    return ht_likely(p != NULL) ? p : alloc_slow(h, flags, size, source);
}

/* Every allocation but the common one. */
__attribute__((noinline)) static void *alloc_full(ht_heap *h, unsigned flags, size_t size)
{
    uint32_t source;
    void *p = alloc_any(h, flags, size, &source);
    if (ht_unlikely(p == NULL))
        return NULL;
    /* A large block of a growable heap is a fresh mapping: zero already, and
     * writing it would make all of it resident. */
    if ((flags & HT_HEAP_ZERO_MEMORY) && (size < HT_LARGE_MIN || h->maximum))
        memset(p, 0, size);
    if (ht_unlikely(ht_heap_tracing()))
        ht_trace_alloc(h, p, size, source);
    return p;
}

/* The common allocation: a small block from this thread's caches, nobody
 * recording; NULL: take the full path. Up to 1 KiB, where a size's class is
 * a shift; the larger classes take the same caches one call further. */
static inline void *alloc_fast(ht_heap *h, size_t size)
{
    uint32_t source;
    return ht_likely(size <= 1024 && !ht_heap_tracing()) ? alloc_cached(h, size, &source) : NULL;
}

void *ht_heap_alloc(ht_heap *h, unsigned flags, size_t size)
{
    /* A zeroed block (calloc) takes the same fast path: a cached block is
     * dirty either way, and the memset is the only difference. */
    void *p = (flags & ~HT_HEAP_ZERO_MEMORY) == 0 ? alloc_fast(h, size) : NULL;
    if (ht_likely(p != NULL)) {
        if (flags & HT_HEAP_ZERO_MEMORY)
            memset(p, 0, size);
        return p;
    }
    return alloc_full(h, flags, size);
}

/* The process heap's set-up and every other path: out of line, so that the
 * fast path below reaches it by a jump and needs no stack frame. */
__attribute__((noinline)) static void *process_alloc_full(size_t size)
{
    return alloc_full(ht_process_heap(), 0, size);
}

/* No test that the heap is set up: until it is, no thread has a cache of it
 * (a thread makes its cache on the full path, which sets the heap up first),
 * so the fast path finds none and jumps to the full path. */
void *ht_process_heap_alloc(size_t size)
{
    void *p = alloc_fast(&process_heap_object, size);
    return ht_likely(p != NULL) ? p : process_alloc_full(size);
}

void *ht_heap_alloc_aligned(ht_heap *h, unsigned flags, size_t align, size_t size)
{
    if (align <= 16)
        return ht_heap_alloc(h, flags, size);
    if ((align & (align - 1)) != 0 || !valid_heap(h)) {
        errno = EINVAL;
        return NULL;
    }
    if (h->maximum && size > h->maximum) {
        errno = ENOMEM;
        return NULL;
    }
    ht_block *b = NULL;
    bool grew = true;
    ht_heap_lock_internal(h);
    if ((size < HT_LARGE_MIN || h->maximum) && align <= HT_GRANULE / 16) {
        size_t bytes = ((size + 15) & ~(size_t)15) + HT_BLOCK_HEADER;
        if (bytes > size)
            b = ht_backend_alloc_aligned(h, bytes < HT_MIN_BLOCK ? HT_MIN_BLOCK : bytes, align, &grew);
    } else {
        b = ht_large_alloc(h, size, align);
    }
    ht_heap_unlock_internal(h);
    if (!b) {
        if ((flags | h->flags) & HT_HEAP_GENERATE_EXCEPTIONS)
            alloc_any(h, flags, SIZE_MAX, &(uint32_t){0}); /* reports and aborts */
        errno = ENOMEM;
        return NULL;
    }
    void *p = hand_out(b, b->size16 ? HT_STATE_BUSY_MAIN : HT_STATE_BUSY_LARGE, size);
    if (flags & HT_HEAP_ZERO_MEMORY)
        memset(p, 0, size);
    if (ht_unlikely(ht_heap_tracing()))
        ht_trace_alloc(h, p, size, grew ? MEMORY_FROM_SLOWPATH : MEMORY_FROM_MAINPATH);
    return p;
}

/* The locked paths of a free. */
__attribute__((noinline)) static uint32_t release_locked(ht_heap *h, live_block *b)
{
    ht_heap_lock_internal(h);
    uint32_t source;
    if (b->state == HT_STATE_BUSY_LFH) {
        ht_lfh_free(h, b->p);
        source = MEMORY_FROM_LOWFRAG;
    } else if (b->state == HT_STATE_BUSY_MAIN) {
        ht_backend_free(h, b->header);
        source = MEMORY_FROM_MAINPATH;
    } else {
        ht_large_free(h, b->header);
        source = MEMORY_FROM_SLOWPATH;
    }
    ht_heap_unlock_internal(h);
    return source;
}

/* A live block joins a lookaside with room: a size-class block (its state
 * word says cached) or a back-end block (its tag does). */
static inline void push_lfh(ht_class_cache *cc, uint16_t *word, void *p)
{
    *word = HT_LFH_CACHED;
    *ht_link(p) = cc->lookaside;
    cc->lookaside = p;
    cc->lookaside_room--;
}

static inline void push_main(ht_class_cache *cc, ht_block *b)
{
    ht_tag_store(b, ht_tag_load(b) + HT_STATE_CACHED_DELTA);
    *ht_block_link(b) = cc->lookaside_main;
    cc->lookaside_main = b;
    cc->lookaside_room--;
}

/* The lookaside of class c is full: half of it goes back, then the block
 * joins it. Out of line: the fast free's rare case. */
__attribute__((noinline)) static void overflow_and_push_lfh(ht_heap_cache *hc, unsigned c, uint16_t *word, void *p)
{
    ht_cache_overflow(hc, c);
    push_lfh(&hc->classes[c], word, p);
}

__attribute__((noinline)) static void overflow_and_push_main(ht_heap_cache *hc, unsigned c, ht_block *b)
{
    ht_cache_overflow(hc, c);
    push_main(&hc->classes[c], b);
}

/* This thread's cache of h for a free, made on its first free of the heap
 * as on its first allocation: a thread that only frees (the consumer of a
 * producer/consumer pair) then keeps the blocks in its lookaside and hands
 * them on in batches, rather than taking the heap's lock for each. */
static ht_heap_cache *cache_for_free(ht_heap *h)
{
    ht_heap_cache *hc = cache_of(h);
    if (hc == NULL && __atomic_load_n(&h->compat, __ATOMIC_RELAXED) != HT_HEAP_COMPAT_STANDARD)
        hc = ht_cache_attach(h);
    return hc;
}

/* The lookaside class of a back-end block that a cache may take, or -1. */
static inline int cacheable_class(const ht_block *b)
{
    size_t capacity = ht_main_capacity(b);
    return capacity <= HT_SMALL_MAX + HT_BLOCK_HEADER ? (int)class_within(capacity) : -1;
}

/* This thread's cache, when its medium lists take back-end block b (of a
 * capacity above the size classes): b's class, *k, has room, and so has
 * the budget. NULL otherwise. */
static ht_heap_cache *medium_cache_taking(ht_heap *h, const ht_block *b, unsigned *k)
{
    size_t capacity = ht_main_capacity(b);
    if (capacity >= HT_LARGE_MIN)
        return NULL;
    ht_heap_cache *hc = cache_for_free(h);
    *k = ht_medium_class(capacity);
    return hc && hc->medium_count[*k] < HT_MEDIUM_PER_CLASS &&
                   hc->medium_bytes + capacity <= HT_MEDIUM_BUDGET
               ? hc
               : NULL;
}

/* Take a live block back; returns the Source of the path that took it. */
static uint32_t release(ht_heap *h, live_block *b)
{
    if (b->state == HT_STATE_BUSY_MAIN && cacheable_class(b->header) < 0) {
        unsigned k;
        ht_heap_cache *hc = medium_cache_taking(h, b->header, &k);
        if (hc) {
            ht_tag_store(b->header, ht_tag_load(b->header) + HT_STATE_CACHED_DELTA);
            *ht_block_link(b->header) = hc->medium[k];
            hc->medium[k] = b->header;
            hc->medium_count[k]++;
            hc->medium_bytes += ht_main_capacity(b->header);
            return MEMORY_FROM_LOOKASIDE;
        }
        return release_locked(h, b);
    }
    if (b->state != HT_STATE_BUSY_LARGE) {
        int c = b->state == HT_STATE_BUSY_LFH ? (int)b->page->class_index : cacheable_class(b->header);
        ht_heap_cache *hc = c >= 0 ? cache_for_free(h) : NULL;
        if (hc != NULL) {
            ht_class_cache *cc = &hc->classes[c];
            if (cc->lookaside_room == 0)
                ht_cache_overflow(hc, (unsigned)c);
            if (b->state == HT_STATE_BUSY_LFH)
                push_lfh(cc, b->word, b->p);
            else
                push_main(cc, b->header);
            return MEMORY_FROM_LOOKASIDE;
        }
    }
    return release_locked(h, b);
}

/* The Source a free of b would report, for the event stamped before it
 * (making the thread's cache, as release will). */
static uint32_t release_source(ht_heap *h, const live_block *b)
{
    if (b->state == HT_STATE_BUSY_LARGE)
        return MEMORY_FROM_SLOWPATH;
    unsigned k;
    if (b->state == HT_STATE_BUSY_MAIN && cacheable_class(b->header) < 0)
        return medium_cache_taking(h, b->header, &k) ? MEMORY_FROM_LOOKASIDE : MEMORY_FROM_MAINPATH;
    if ((b->state == HT_STATE_BUSY_LFH || cacheable_class(b->header) >= 0) && cache_for_free(h))
        return MEMORY_FROM_LOOKASIDE;
    return b->state == HT_STATE_BUSY_LFH ? MEMORY_FROM_LOWFRAG : MEMORY_FROM_MAINPATH;
}

/* For the fast paths, p in segment s of heap h: its state word when it is
 * a busy size-class block (checked on its page's lines, the descriptor and
 * the state words, not on its own), with its page in *page; NULL
 * otherwise. */
static inline uint16_t *busy_lfh(ht_segment *s, void *p, ht_lfh_page **page)
{
    ht_lfh_page *pg = ht_lfh_page_in(s, p);
    if (ht_unlikely(((uintptr_t)p & pg->misalign) != 0))
        return NULL;
    uint16_t *word = ht_lfh_state(p, pg->shift);
    if (ht_unlikely(!(*word & HT_LFH_BUSY)))
        return NULL;
    *page = pg;
    return word;
}

/* Its header when p is a busy back-end block of up to 1 KiB of capacity in
 * segment s of heap h, else NULL. */
static inline ht_block *busy_main(ht_heap *h, ht_segment *s, void *p)
{
    ht_block *header = ht_header_of(p);
    if (ht_unlikely(((uintptr_t)p & 15) != 0 || (uintptr_t)header - (uintptr_t)s < s->first_block ||
                    ht_tag_state(header, h->cookie) != HT_STATE_BUSY_MAIN ||
                    header->size16 > (1024 + HT_BLOCK_HEADER) / 16))
        return NULL;
    return header;
}

/* Up to 1 KiB of capacity a back-end block's class is its size less the
 * header, in 16-byte units, less one. */
static inline unsigned main_class(const ht_block *header) { return header->size16 - 2; }

/* For the fast paths: p when it is a busy block of heap h that they may take
 * (busy_lfh, busy_main), with its bookkeeping in *b; false otherwise, and the
 * full path then tells a bad pointer from the rest. */
static inline bool busy_block(ht_heap *h, void *p, live_block *b)
{
    ht_segment *s = ht_segmap_lookup(p);
    if (ht_unlikely(s == NULL || s->heap != h))
        return false;
    if (ht_likely(s->kind == HT_SEGMENT_LFH)) {
        b->state = HT_STATE_BUSY_LFH;
        return (b->word = busy_lfh(s, p, &b->page)) != NULL;
    }
    b->state = HT_STATE_BUSY_MAIN;
    return (b->header = busy_main(h, s, p)) != NULL;
}

/* The class of a block busy_block accepted. */
static inline unsigned fast_class(const live_block *b)
{
    return b->state == HT_STATE_BUSY_LFH ? b->page->class_index : main_class(b->header);
}

/* The common free: a live block of this heap into this thread's lookaside,
 * nobody recording. False: take the full path (which tells a bad pointer
 * from a block that only missed the cache). The two kinds of block take
 * separate code: the size-class one is the common case. */
static inline bool free_fast(ht_heap *h, void *p)
{
    ht_segment *s = ht_segmap_lookup(p);
    if (ht_unlikely(s == NULL || s->heap != h))
        return false;
    if (ht_likely(s->kind == HT_SEGMENT_LFH)) {
        ht_lfh_page *page;
        uint16_t *word = busy_lfh(s, p, &page);
        if (word == NULL)
            return false;
        ht_heap_cache *hc = cache_of(h);
        if (ht_unlikely(hc == NULL || ht_heap_tracing()))
            return false;
        unsigned c = page->class_index;
        ht_class_cache *cc = &hc->classes[c];
        if (ht_unlikely(cc->lookaside_room == 0))
            overflow_and_push_lfh(hc, c, word, p);
        else
            push_lfh(cc, word, p);
        return true;
    }
    ht_block *header = busy_main(h, s, p);
    if (header == NULL)
        return false;
    ht_heap_cache *hc = cache_of(h);
    if (ht_unlikely(hc == NULL || ht_heap_tracing()))
        return false;
    unsigned c = main_class(header);
    ht_class_cache *cc = &hc->classes[c];
    if (ht_unlikely(cc->lookaside_room == 0))
        overflow_and_push_main(hc, c, header);
    else
        push_main(cc, header);
    return true;
}

__attribute__((noinline)) static int free_slow(ht_heap *h, void *p)
{
    live_block b;
    const char *what;
    if (ht_unlikely(!find_block(h, p, &b, &what))) {
        if (ht_heap_tracing())
            ht_trace_free(h, p, MEMORY_FROM_INVALID);
        return bad_pointer(h, "HeapFree", p, what, true);
    }
    if (ht_unlikely(ht_heap_tracing()))
        ht_trace_free(h, p, release_source(h, &b));
    release(h, &b);
    return 1;
}

int ht_heap_free(ht_heap *h, unsigned flags, void *p)
{
    (void)flags;
    if (ht_unlikely(p == NULL))
        return 1;
    return ht_likely(free_fast(h, p)) ? 1 : free_slow(h, p);
}

/* Out of line, as process_alloc_full is. */
__attribute__((noinline)) static void process_free_slow(void *p) { free_slow(ht_process_heap(), p); }

void ht_process_heap_free(void *p)
{
    if (ht_unlikely(!free_fast(&process_heap_object, p)))
        process_free_slow(p);
}

size_t ht_heap_size(ht_heap *h, unsigned flags, const void *p)
{
    (void)flags;
    live_block b;
    const char *what;
    if (!find_block(h, (void *)p, &b, &what)) {
        bad_pointer(h, "HeapSize", p, what, true);
        return (size_t)-1;
    }
    return capacity_of(&b) - slack_of(&b);
}

size_t ht_heap_usable_size(ht_heap *h, const void *p)
{
    live_block b;
    const char *what;
    if (!find_block(h, (void *)p, &b, &what)) {
        bad_pointer(h, "malloc_usable_size", p, what, true);
        return 0;
    }
    return capacity_of(&b);
}

/* The capacity of q, a block just handed out. */
static size_t capacity_at(ht_heap *h, void *q)
{
    live_block b;
    const char *what;
    return find_block(h, q, &b, &what) ? capacity_of(&b) : 0;
}

/* The common realloc: a live small block of this heap to a new size of up to
 * 1 KiB, nobody recording. The block stays where it is when it fits and would
 * not waste most of itself; else it moves to a block from this thread's
 * caches and joins the lookaside, as a malloc and a free would take them.
 * NULL: take the full path, which tells a bad pointer from a block that only
 * missed the caches. */
static inline void *realloc_fast(ht_heap *h, void *p, size_t size)
{
    live_block b;
    if (!busy_block(h, p, &b))
        return NULL;
    size_t capacity = b.state == HT_STATE_BUSY_LFH ? b.page->block_bytes
                                                   : ht_main_capacity(b.header);
    if (size <= capacity && size >= capacity / 2) {
        set_slack(&b, capacity - size);
        return p;
    }
    if (capacity > 1024)
        return NULL;
    uint32_t source;
    void *q = alloc_cached(h, size, &source);
    if (ht_unlikely(q == NULL))
        return NULL;
    size_t keep = ht_lfh_page_at(q)->block_bytes; /* the cached paths give size-class blocks */
    memcpy(q, p, keep < capacity ? keep : capacity);
    ht_heap_cache *hc = cache_of(h); /* there is one: alloc_cached found it */
    unsigned c = fast_class(&b);
    ht_class_cache *cc = &hc->classes[c];
    if (b.state == HT_STATE_BUSY_LFH) {
        if (ht_unlikely(cc->lookaside_room == 0))
            overflow_and_push_lfh(hc, c, b.word, p);
        else
            push_lfh(cc, b.word, p);
    } else {
        if (ht_unlikely(cc->lookaside_room == 0))
            overflow_and_push_main(hc, c, b.header);
        else
            push_main(cc, b.header);
    }
    return q;
}

/* Every realloc but the common one: out of line, so that the fast path above
 * saves no registers it does not use. */
__attribute__((noinline)) static void *realloc_full(ht_heap *h, unsigned flags, void *p, size_t size)
{
    live_block b;
    const char *what = "a NULL block cannot be reallocated";
    if (!p || !find_block(h, p, &b, &what)) {
        if (ht_heap_tracing())
            ht_trace_free(h, p, MEMORY_FROM_INVALID);
        bad_pointer(h, "HeapReAlloc", p, what, p != NULL);
        return NULL;
    }
    if (h->maximum && size > h->maximum) {
        errno = ENOMEM;
        return NULL;
    }
    size_t capacity = capacity_of(&b), old_size = capacity - slack_of(&b);
    bool in_place_only = flags & HT_HEAP_REALLOC_IN_PLACE_ONLY;
    void *q = NULL;
    uint32_t source = MEMORY_FROM_MAINPATH;
    if (b.state == HT_STATE_BUSY_LARGE && (size >= HT_LARGE_MIN / 2 || in_place_only)) {
        ht_heap_lock_internal(h);
        ht_block *nb = ht_large_resize(h, b.header, size, !in_place_only);
        ht_heap_unlock_internal(h);
        if (!nb)
            return NULL;
        q = ht_payload_of(nb);
        source = MEMORY_FROM_SLOWPATH;
    } else if (b.state != HT_STATE_BUSY_LARGE && size <= capacity && (size >= capacity / 2 || in_place_only)) {
        /* Fits, and not so much smaller that the block would waste most of itself. */
        set_slack(&b, capacity - size);
        q = p;
        source = b.state == HT_STATE_BUSY_LFH ? MEMORY_FROM_LOWFRAG : MEMORY_FROM_MAINPATH;
    } else if (b.state == HT_STATE_BUSY_MAIN && (size < HT_LARGE_MIN || h->maximum) &&
               (size > HT_SMALL_MAX || in_place_only)) {
        size_t bytes = ((size + 15) & ~(size_t)15) + HT_BLOCK_HEADER;
        if (bytes < HT_MIN_BLOCK)
            bytes = HT_MIN_BLOCK;
        ht_heap_lock_internal(h);
        bool resized = bytes > size && ht_backend_resize(h, b.header, bytes);
        /* A neighbour this thread freed may wait in its medium lists: for a
         * block that must stay where it is, they go back and join their
         * neighbours first (another thread's cannot be taken from it). */
        ht_heap_cache *hc;
        if (!resized && in_place_only && bytes > size && (hc = cache_of(h)) && ht_cache_give_back_medium(hc))
            resized = ht_backend_resize(h, b.header, bytes);
        ht_heap_unlock_internal(h);
        if (resized) {
            set_slack(&b, capacity_of(&b) - size);
            q = p;
        }
    }
    if (!q) {
        if (in_place_only) {
            errno = ENOMEM;
            return NULL;
        }
        q = alloc_any(h, flags & ~HT_HEAP_GENERATE_EXCEPTIONS, size, &source);
        if (!q) {
            if ((flags | h->flags) & HT_HEAP_GENERATE_EXCEPTIONS)
                alloc_any(h, flags, size, &source); /* reports and aborts */
            return NULL;
        }
        size_t keep = capacity_at(h, q);
        memcpy(q, p, keep < capacity ? keep : capacity);
        if ((flags & HT_HEAP_ZERO_MEMORY) && size > old_size)
            memset((char *)q + old_size, 0, size - old_size);
        if (ht_unlikely(ht_heap_tracing()))
            ht_trace_realloc(h, q, p, size, source);
        release(h, &b);
        return q;
    }
    if ((flags & HT_HEAP_ZERO_MEMORY) && size > old_size)
        memset((char *)q + old_size, 0, size - old_size);
    if (ht_unlikely(ht_heap_tracing()))
        ht_trace_realloc(h, q, p, size, source);
    return q;
}

void *ht_heap_realloc(ht_heap *h, unsigned flags, void *p, size_t size)
{
    void *q = flags == 0 && p != NULL && size <= 1024 && !ht_heap_tracing() ? realloc_fast(h, p, size) : NULL;
    return ht_likely(q != NULL) ? q : realloc_full(h, flags, p, size);
}

/* ---- validation --------------------------------------------------------------- */
int ht_heap_validate(ht_heap *h, unsigned flags, const void *p)
{
    (void)flags;
    if (!valid_heap(h))
        return bad_pointer(h, "HeapValidate", h, "not a heap handle", false);
    ht_trace_heap_event(HT_EVENT_HEAP_VALIDATE, h, 0);
    if (p) {
        live_block b;
        const char *what;
        return find_block(h, (void *)p, &b, &what) ? 1 : bad_pointer(h, "HeapValidate", p, what, false);
    }
    const char *what = NULL;
    const void *where = NULL;
    ht_heap_lock_internal(h);
    bool ok = ht_backend_check(h, &what, &where);
    for (ht_segment *s = h->segments; ok && s; s = s->next)
        if (s->kind == HT_SEGMENT_LARGE) {
            ht_block *b = (ht_block *)((char *)s + s->first_block);
            if (ht_block_state(b, h->cookie) != HT_STATE_BUSY_LARGE || b->slack >= s->size) {
                ok = false;
                what = "large block header damaged";
                where = ht_payload_of(b);
            }
        } else if (s->kind == HT_SEGMENT_LFH) {
            ok = ht_lfh_check_segment((ht_lfh_segment *)s, &what, &where);
        }
    ht_heap_unlock_internal(h);
    return ok ? 1 : bad_pointer(h, "HeapValidate", where, what, false);
}

/* ---- walking ------------------------------------------------------------------ */
static int walk_region(ht_segment *s, ht_heap_entry *e)
{
    if (!s) {
        errno = ENOENT;
        return 0;
    }
    *e = (ht_heap_entry){.data = s, .size = s->size, .overhead = s->first_block,
                         .region_index = s->index, .flags = HT_HEAP_ENTRY_REGION};
    return 1;
}

static int walk_block(ht_segment *s, const live_block *b, bool busy, ht_heap_entry *e)
{
    size_t capacity = capacity_of(b), slack = busy ? slack_of(b) : 0;
    size_t header = b->state == HT_STATE_BUSY_LFH ? 0 : HT_BLOCK_HEADER;
    *e = (ht_heap_entry){.data = b->p,
                         .size = capacity - slack,
                         .overhead = header + slack,
                         .region_index = s->index,
                         .flags = busy ? HT_HEAP_ENTRY_BUSY : 0};
    return 1;
}

/* The entry at back-end or large block b or after it; the END sentinel
 * leads to the next region. */
static int walk_from(ht_heap *h, ht_segment *s, ht_block *b, ht_heap_entry *e)
{
    unsigned state = ht_block_state(b, h->cookie);
    if (state == HT_STATE_END)
        return walk_region(s->next, e);
    bool busy = state == HT_STATE_BUSY_MAIN || state == HT_STATE_BUSY_LARGE;
    live_block lb = {.p = ht_payload_of(b), .state = state == HT_STATE_BUSY_LARGE ? state : HT_STATE_BUSY_MAIN,
                     .header = b};
    return walk_block(s, &lb, busy, e);
}

/* The entry at block `index` of the page in `slot` of LFH segment s, or the
 * next one cut in the segment's pages, or the next region. */
static int walk_lfh_from(ht_segment *s, unsigned slot, size_t index, ht_heap_entry *e)
{
    uint64_t used = ((ht_lfh_segment *)s)->used_slices;
    for (; slot < HT_LFH_SLICES; slot++, index = 0) {
        char *slice = (char *)s + (size_t)slot * HT_LFH_SLICE;
        ht_lfh_page *page = &((ht_lfh_segment *)s)->pages[slot];
        if (((used >> slot) & 1) && index < page->bump) {
            void *p = slice + page->blocks_offset + index * page->block_bytes;
            live_block b = {.p = p, .state = HT_STATE_BUSY_LFH, .word = ht_lfh_state(p, page->shift), .page = page};
            return walk_block(s, &b, *b.word & HT_LFH_BUSY, e);
        }
    }
    return walk_region(s->next, e);
}

int ht_heap_walk(ht_heap *h, ht_heap_entry *e)
{
    if (!valid_heap(h) || !e) {
        errno = EINVAL;
        return 0;
    }
    if (!e->data)
        ht_trace_heap_event(HT_EVENT_HEAP_WALK, h, 0);
    ht_heap_lock_internal(h);
    int r;
    ht_segment *s = e->data ? ht_segmap_lookup(e->data) : NULL;
    if (!e->data) {
        r = walk_region(h->segments, e);
    } else if (!s || s->heap != h) {
        errno = EINVAL;
        r = 0;
    } else if (s->kind == HT_SEGMENT_LFH) {
        size_t i = 0;
        unsigned slot = 1;
        if (!(e->flags & HT_HEAP_ENTRY_REGION)) {
            ht_lfh_page *page = ht_lfh_page_at(e->data);
            slot = (unsigned)(((uintptr_t)e->data & (HT_GRANULE - 1)) / HT_LFH_SLICE);
            i = slot > 0 ? ht_lfh_index(page, e->data) : SIZE_MAX;
        }
        if (i == SIZE_MAX) {
            errno = EINVAL;
            r = 0;
        } else {
            r = walk_lfh_from(s, slot, e->flags & HT_HEAP_ENTRY_REGION ? 0 : i + 1, e);
        }
    } else if (e->flags & HT_HEAP_ENTRY_REGION) {
        r = walk_from(h, s, (ht_block *)((char *)s + s->first_block), e);
    } else if (s->kind == HT_SEGMENT_LARGE) {
        r = walk_region(s->next, e);
    } else {
        r = walk_from(h, s, ht_backend_next(ht_header_of(e->data)), e);
    }
    ht_heap_unlock_internal(h);
    return r;
}

/* ---- compaction, locking, information --------------------------------------- */
size_t ht_heap_compact(ht_heap *h, unsigned flags)
{
    (void)flags;
    if (!valid_heap(h)) {
        errno = EINVAL;
        return 0;
    }
    ht_heap_cache *hc = cache_of(h);
    if (hc)
        ht_cache_flush(hc, true);
    ht_heap_lock_internal(h);
    ht_lfh_trim(h);
    h->spare = NULL;
    ht_backend_trim(h);
    size_t largest = ht_backend_largest_free(h);
    ht_trace_snapshot(h);
    ht_heap_unlock_internal(h);
    errno = 0; /* 0 with errno 0: the heap has no free block */
    return largest;
}

int ht_heap_lock(ht_heap *h)
{
    if (!valid_heap(h) || (h->flags & HT_HEAP_NO_SERIALIZE)) {
        errno = EINVAL;
        return 0;
    }
    lock_heap(h);
    ht_trace_heap_event(HT_EVENT_HEAP_LOCK, h, 0);
    return 1;
}

int ht_heap_unlock(ht_heap *h)
{
    if (!valid_heap(h) || (h->flags & HT_HEAP_NO_SERIALIZE)) {
        errno = EINVAL;
        return 0;
    }
    ht_trace_heap_event(HT_EVENT_HEAP_UNLOCK, h, 0);
    if (!unlock_heap(h)) {
        errno = EPERM;
        return 0;
    }
    return 1;
}

int ht_heap_query(ht_heap *h, int info_class, void *out, size_t length, size_t *needed)
{
    if (!valid_heap(h)) {
        errno = EINVAL;
        return 0;
    }
    if (needed)
        *needed = sizeof(uint32_t);
    if (info_class != HT_HEAP_COMPATIBILITY_INFORMATION && info_class != HT_HEAP_ERROR_POLICY_INFORMATION) {
        errno = EINVAL;
        return 0;
    }
    if (!out || length < sizeof(uint32_t)) {
        errno = ERANGE;
        return 0;
    }
    uint32_t v = info_class == HT_HEAP_COMPATIBILITY_INFORMATION ? __atomic_load_n(&h->compat, __ATOMIC_RELAXED)
                                                                 : h->error_policy;
    memcpy(out, &v, sizeof v);
    return 1;
}

int ht_heap_set(ht_heap *h, int info_class, const void *in, size_t length)
{
    uint32_t v;
    if (!valid_heap(h) || !in || length < sizeof v) {
        errno = EINVAL;
        return 0;
    }
    memcpy(&v, in, sizeof v);
    if (info_class == HT_HEAP_ERROR_POLICY_INFORMATION && v <= HT_HEAP_ON_ERROR_SILENT) {
        h->error_policy = v;
        return 1;
    }
    if (info_class != HT_HEAP_COMPATIBILITY_INFORMATION || v > HT_HEAP_COMPAT_LFH ||
        v < __atomic_load_n(&h->compat, __ATOMIC_RELAXED) ||
        (v == HT_HEAP_COMPAT_LFH && ((h->flags & HT_HEAP_NO_SERIALIZE) || h->maximum))) {
        errno = EINVAL;
        return 0;
    }
    __atomic_store_n(&h->compat, v, __ATOMIC_RELAXED);
    return 1;
}

void ht_heap_snapshot_all(void)
{
    if (!ht_heap_tracing())
        return;
    pthread_mutex_lock(&ht_heaps_lock);
    for (ht_heap *h = &process_heap_object; h; h = h->next)
        ht_trace_snapshot(h);
    pthread_mutex_unlock(&ht_heaps_lock);
}
