/* Allocation patterns for comparing allocators (bench/allocators.sh), each
 * run through the plain malloc family so that any allocator can be preloaded:
 *
 *   alloc_patterns churn   single thread, small objects (16-512 bytes) freed
 *                          and replaced at random in a working set of 64k
 *   alloc_patterns xthread producer/consumer pairs: every block is freed by
 *                          another thread than the one that allocated it
 *   alloc_patterns server  threads serving "requests": a burst of mixed-size
 *                          temporaries (16 bytes to 64 KiB, a few larger),
 *                          plus a cache of longer-lived entries replaced at random
 *
 * Each prints a checksum of what it wrote, so that a wrong allocator shows. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static uint64_t churn(void)
{
    enum { SET = 1 << 16, OPS = 30000000 };
    static unsigned char *set[SET];
    uint64_t rng = 88172645463325252ull, sum = 0;
    for (long i = 0; i < OPS; i++) {
        uint64_t r = next_random(&rng);
        size_t k = r % SET, size = 16 + (r >> 32) % 497;
        if (set[k])
            sum += set[k][0];
        free(set[k]);
        set[k] = malloc(size);
        set[k][0] = (unsigned char)size;
    }
    for (size_t k = 0; k < SET; k++)
        free(set[k]);
    return sum;
}

/* ---- producer/consumer -------------------------------------------------------- */
enum { QUEUE = 4096, PAIRS = 2, PER_PRODUCER = 10000000 };

typedef struct queue {
    void *slot[QUEUE];
    uint64_t head __attribute__((aligned(64)));
    uint64_t tail __attribute__((aligned(64)));
    uint64_t sum;
    uint64_t seed;
} queue;

static void *produce(void *arg)
{
    queue *q = arg;
    uint64_t rng = q->seed;
    for (long i = 0; i < PER_PRODUCER; i++) {
        size_t size = 16 + next_random(&rng) % 241;
        unsigned char *p = malloc(size);
        p[0] = (unsigned char)size;
        while (__atomic_load_n(&q->head, __ATOMIC_ACQUIRE) - __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE) == QUEUE)
            sched_yield(); /* the machine may have fewer cores than threads */
        q->slot[q->head % QUEUE] = p;
        __atomic_store_n(&q->head, q->head + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void *consume(void *arg)
{
    queue *q = arg;
    for (long i = 0; i < PER_PRODUCER; i++) {
        while (__atomic_load_n(&q->tail, __ATOMIC_ACQUIRE) == __atomic_load_n(&q->head, __ATOMIC_ACQUIRE))
            sched_yield();
        unsigned char *p = q->slot[q->tail % QUEUE];
        __atomic_store_n(&q->tail, q->tail + 1, __ATOMIC_RELEASE);
        q->sum += p[0];
        free(p);
    }
    return NULL;
}

static uint64_t xthread(void)
{
    static queue queues[PAIRS];
    pthread_t t[2 * PAIRS];
    for (int i = 0; i < PAIRS; i++) {
        queues[i].seed = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
        pthread_create(&t[2 * i], NULL, produce, &queues[i]);
        pthread_create(&t[2 * i + 1], NULL, consume, &queues[i]);
    }
    uint64_t sum = 0;
    for (int i = 0; i < 2 * PAIRS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < PAIRS; i++)
        sum += queues[i].sum;
    return sum;
}

/* ---- server ---------------------------------------------------------------------- */
enum { THREADS = 4, REQUESTS = 60000, CACHE = 4096 };

static size_t request_size(uint64_t r)
{
    unsigned kind = r % 100;
    if (kind < 70)
        return 16 + (r >> 8) % 240;          /* headers, small strings */
    if (kind < 95)
        return 256 + (r >> 8) % 3800;        /* bodies */
    if (kind < 99)
        return 4096 + (r >> 8) % 61440;      /* buffers */
    return 256 * 1024 + (r >> 8) % (768 * 1024); /* the odd large response */
}

static void *serve(void *arg)
{
    uint64_t rng = (uintptr_t)arg * 0x9E3779B97F4A7C15ull, sum = 0;
    static __thread unsigned char *cache[CACHE];
    for (int req = 0; req < REQUESTS; req++) {
        unsigned char *temp[32];
        unsigned n = 4 + next_random(&rng) % 28;
        for (unsigned i = 0; i < n; i++) {
            size_t size = request_size(next_random(&rng));
            temp[i] = malloc(size);
            memset(temp[i], (int)i, size < 64 ? size : 64);
            temp[i][size - 1] = 1;
        }
        if (n > 1)
            temp[1] = realloc(temp[1], request_size(next_random(&rng)));
        for (unsigned i = 0; i < n; i++) {
            sum += temp[i][0];
            free(temp[i]);
        }
        size_t k = next_random(&rng) % CACHE;
        free(cache[k]);
        size_t size = 32 + next_random(&rng) % 2000;
        cache[k] = malloc(size);
        cache[k][0] = (unsigned char)size;
    }
    for (size_t k = 0; k < CACHE; k++) {
        if (cache[k])
            sum += cache[k][0];
        free(cache[k]);
    }
    return (void *)(uintptr_t)sum;
}

static uint64_t server(void)
{
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, serve, (void *)(i + 1));
    uint64_t sum = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        sum += (uintptr_t)r;
    }
    return sum;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    uint64_t sum;
    if (strcmp(mode, "churn") == 0)
        sum = churn();
    else if (strcmp(mode, "xthread") == 0)
        sum = xthread();
    else if (strcmp(mode, "server") == 0)
        sum = server();
    else {
        fprintf(stderr, "usage: %s churn|xthread|server\n", argv[0]);
        return 2;
    }
    printf("%s %llu\n", mode, (unsigned long long)sum);
    return 0;
}
