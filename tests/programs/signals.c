/*
 * signals: malloc and free inside signal handlers while the main loop is
 * itself allocating, so that a tracer's wrapper is re-entered on the same
 * thread at arbitrary points of its own work (between taking a timestamp and
 * committing an event, while setting up a thread's buffer, ...).
 *
 * SIGALRM comes from an interval timer, SIGUSR1 from a second thread aimed at
 * the main thread with pthread_kill. Each handler does malloc(777) + free.
 *
 * glibc's malloc is not async-signal-safe in general: a handler that needs an
 * arena lock the interrupted code holds would deadlock, with or without a
 * tracer. So the program keeps glibc itself out of the way: the main loop only
 * allocates sizes above glibc's per-thread cache limit (1032 bytes), and the
 * handlers only use the 777-byte slot, which is primed before the signals
 * start and is served from and returned to that per-thread cache without any
 * lock. Each handler blocks the other signal, so they never nest. Whatever is
 * left to deadlock or corrupt is the tracer's.
 *
 * It prints its counts as JSON: pid, allocs, frees (main loop and handlers
 * together), handler_allocs.
 *
 * usage: signals [HANDLER_RUNS_EACH]
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "marked.h"

static atomic_ulong alrm_runs, usr1_runs;
static atomic_int stop_sender;
static pthread_t main_thread;

static void handler(int sig)
{
    int saved = errno;
    char *p = malloc(mark_size(0));
    if (p) {
        ((volatile char *)p)[0] = (char)sig; /* keeps the compiler from eliding the pair */
        free(p);
        atomic_fetch_add(sig == SIGALRM ? &alrm_runs : &usr1_runs, 1);
    }
    errno = saved;
}

static void *sender(void *arg)
{
    struct timespec gap = {0, 100 * 1000};
    while (!atomic_load(&stop_sender)) {
        pthread_kill(main_thread, SIGUSR1);
        nanosleep(&gap, NULL);
    }
    return NULL;
}

static void install(int sig, int other)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, other);
    if (sigaction(sig, &sa, NULL) != 0) {
        perror("sigaction");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    unsigned long want = argc > 1 ? strtoul(argv[1], NULL, 10) : 200;
    unsigned long allocs = 0, frees = 0;

    /* Prime the 777-byte cache slot with a few blocks. */
    void *prime[3];
    for (int i = 0; i < 3; i++) {
        prime[i] = malloc(mark_size(0));
        if (!prime[i])
            return 1;
        ((volatile char *)prime[i])[0] = 0;
    }
    for (int i = 0; i < 3; i++)
        free(prime[i]);
    allocs += 3;
    frees += 3;

    install(SIGALRM, SIGUSR1);
    install(SIGUSR1, SIGALRM);
    main_thread = pthread_self();
    /* The sender must not take the timer's signals: start it with both
     * blocked (it inherits the mask), then unblock them here. */
    sigset_t both, old;
    sigemptyset(&both);
    sigaddset(&both, SIGALRM);
    sigaddset(&both, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &both, &old);
    pthread_t t;
    if ((errno = pthread_create(&t, NULL, sender, NULL))) {
        perror("pthread_create");
        return 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    struct itimerval it = {{0, 200}, {0, 200}};
    setitimer(ITIMER_REAL, &it, NULL);

    void *ring[32] = {0};
    time_t start = time(NULL);
    for (unsigned long n = 0; atomic_load(&alrm_runs) < want || atomic_load(&usr1_runs) < want;
         n++) {
        unsigned slot = (unsigned)(n % 32);
        if (ring[slot]) {
            free(ring[slot]);
            frees++;
        }
        ring[slot] = malloc(mark_size(1 + (unsigned)(n % (MARK_SLOTS - 1))));
        if (!ring[slot]) {
            perror("malloc");
            return 1;
        }
        ((volatile char *)ring[slot])[0] = 1;
        allocs++;
        if (n % 4096 == 0 && time(NULL) - start > 60) {
            fprintf(stderr, "signals: only %lu SIGALRM and %lu SIGUSR1 runs in 60 s\n",
                    atomic_load(&alrm_runs), atomic_load(&usr1_runs));
            return 1;
        }
    }

    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    atomic_store(&stop_sender, 1);
    pthread_join(t, NULL);
    pthread_sigmask(SIG_BLOCK, &both, NULL); /* the counts are final from here */
    for (unsigned s = 0; s < 32; s++)
        if (ring[s]) {
            free(ring[s]);
            frees++;
        }
    unsigned long h = atomic_load(&alrm_runs) + atomic_load(&usr1_runs);
    printf("{\"pid\": %d, \"allocs\": %lu, \"frees\": %lu, \"handler_allocs\": %lu}\n",
           (int)getpid(), allocs + h, frees + h, h);
    return 0;
}
