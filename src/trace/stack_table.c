#include "trace/stack_table.h"

#include <stdbool.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "heaptrail/events.h"

#define TABLE_SLOTS (1u << 20) /* 16 MiB of address space, touched as used */
#define MAX_PROBES 64
#define READY_SPINS 1000

typedef struct stack_slot {
    uint64_t key;   /* hash of the frames; 0: empty */
    uint32_t id;
    uint32_t ready; /* the id is there (and its definition committed) */
} stack_slot;

static stack_slot *table;
static int table_state; /* 0 none, 1 mapped, 2 could not be mapped; atomic */
static uint32_t next_id = 1;

/* Fold two words into one: the high and low halves of their 128-bit
 * product, xored. Every bit of each factor reaches every bit of the result. */
static inline uint64_t fold(uint64_t a, uint64_t b)
{
    __uint128_t p = (__uint128_t)a * b;
    return (uint64_t)p ^ (uint64_t)(p >> 64);
}

/* Two frames per multiply, as the wyhash family does (this runs on every
 * allocation). A factor of zero would absorb the other: the constant that
 * the first of each pair is xored with has its top bit set, which no user
 * address has, and the chained value meets the second only by chance. */
static uint64_t hash_frames(const uint64_t *frames, unsigned depth)
{
    const uint64_t k0 = 0xA0761D6478BD642Full, k1 = 0xE7037ED1A0B428DBull;
    uint64_t h = k1 ^ depth;
    unsigned i = 0;
    for (; i + 2 <= depth; i += 2)
        h = fold(frames[i] ^ k0, frames[i + 1] ^ h);
    if (i < depth)
        h = fold(frames[i] ^ k0, h ^ k1);
    h = fold(h ^ k0, k1 ^ depth);
    return h ? h : 1;
}

static stack_slot *get_table(void)
{
    int st = __atomic_load_n(&table_state, __ATOMIC_ACQUIRE);
    if (st == 1)
        return table;
    if (st == 2)
        return NULL;
    /* Mapped directly: malloc is what we are tracing. Two threads racing here
     * each map; the loser unmaps its copy. */
    void *p = (void *)syscall(SYS_mmap, NULL, (size_t)TABLE_SLOTS * sizeof(stack_slot),
                              PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                              -1, 0);
    if (p == MAP_FAILED) {
        __atomic_store_n(&table_state, 2, __ATOMIC_RELEASE);
        return NULL;
    }
    stack_slot *expected = NULL;
    if (!__atomic_compare_exchange_n(&table, &expected, (stack_slot *)p, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        syscall(SYS_munmap, p, (size_t)TABLE_SLOTS * sizeof(stack_slot));
    __atomic_store_n(&table_state, 1, __ATOMIC_RELEASE);
    return table;
}

/* STACK_DEFINE: id, depth, frames, written straight into the ring. */
static uint32_t define(const uint64_t *frames, unsigned depth)
{
    uint32_t id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
    ht_thread_state *t = &ht_thread;
    if (!t->ring && !ht_emit_attach_thread())
        return id;
    uint64_t w;
    if (ht_emit_begin(t, HT_EVENT_STACK_DEFINE, 0, HT_RECORD_HEADER_WORDS + 2 + depth, &w)) {
        t->ring[w++ & t->mask] = id;
        t->ring[w++ & t->mask] = depth;
        for (unsigned i = 0; i < depth; i++)
            t->ring[w++ & t->mask] = frames[i];
    }
    ht_emit_end(t);
    return id;
}

uint32_t ht_stack_intern(const uint64_t *frames, unsigned depth)
{
    if (depth == 0)
        return 0;
    stack_slot *t = get_table();
    uint64_t key = hash_frames(frames, depth);
    if (!t)
        return define(frames, depth);
    for (unsigned probe = 0; probe < MAX_PROBES; probe++) {
        stack_slot *s = &t[(key + probe) & (TABLE_SLOTS - 1)];
        uint64_t k = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);
        if (k == 0) {
            uint64_t empty = 0;
            if (!__atomic_compare_exchange_n(&s->key, &empty, key, false, __ATOMIC_ACQ_REL,
                                             __ATOMIC_ACQUIRE)) {
                k = empty; /* someone else claimed it: look at what they put there */
            } else {
                /* Ours: define, then publish. Readers that find it not
                 * ready wait for the id, so none uses it before the
                 * definition. */
                uint32_t id = define(frames, depth);
                __atomic_store_n(&s->id, id, __ATOMIC_RELAXED);
                __atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
                return id;
            }
        }
        if (k != key)
            continue;
        for (unsigned spin = 0; spin < READY_SPINS; spin++) {
            if (__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE))
                return __atomic_load_n(&s->id, __ATOMIC_RELAXED);
#if defined(__x86_64__)
            __builtin_ia32_pause();
#endif
        }
        /* The definer is held up (a signal handler interrupted it, say): a
         * definition of our own costs a record, waiting could cost a hang. */
        return define(frames, depth);
    }
    return define(frames, depth); /* a crowded neighbourhood: define without interning */
}

void ht_stack_table_reset(void)
{
    stack_slot *t = __atomic_load_n(&table, __ATOMIC_ACQUIRE);
    if (t) {
        /* Fresh zero pages in place of the parent's entries. */
        syscall(SYS_mmap, t, (size_t)TABLE_SLOTS * sizeof(stack_slot), PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    }
    __atomic_store_n(&next_id, 1, __ATOMIC_RELAXED);
}
