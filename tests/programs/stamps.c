/*
 * Reads CLOCK_MONOTONIC right before and right after each of its marked
 * allocations, in two threads and in a fork child, over more than half a
 * second, and prints one line per allocation: "SIZE BEFORE AFTER PID". The
 * recording's time for each ALLOC must lie between the two, whichever clock
 * the writers used (integration test `clock`).
 *
 * usage: stamps [ROUNDS]
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "marked.h"

typedef struct stamp {
    size_t size;
    uint64_t before, after;
} stamp;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int rounds = 30;
static void *volatile kept;

/* A marked allocation per round, 20 ms apart (the recorder compares its
 * clocks every 100 ms). The main thread takes the even marked sizes, the
 * other thread the odd ones, so that a size names its thread. */
static void take_stamps(stamp *out, unsigned first)
{
    for (int i = 0; i < rounds; i++) {
        out[i].size = mark_size(first + 2 * (unsigned)i);
        out[i].before = now_ns();
        kept = malloc(out[i].size);
        out[i].after = now_ns();
        free(kept);
        struct timespec pause = {0, 20000000};
        nanosleep(&pause, NULL);
    }
}

static void print_stamps(const stamp *s)
{
    for (int i = 0; i < rounds; i++)
        printf("%zu %llu %llu %d\n", s[i].size, (unsigned long long)s[i].before,
               (unsigned long long)s[i].after, (int)getpid());
}

static void *thread_main(void *arg)
{
    take_stamps(arg, 1);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        rounds = atoi(argv[1]);
    if (rounds < 1 || rounds > 1000)
        return 2;
    stamp *mine = calloc((size_t)rounds, sizeof *mine);
    stamp *other = calloc((size_t)rounds, sizeof *other);
    if (!mine || !other)
        return 1;
    pthread_t t;
    if (pthread_create(&t, NULL, thread_main, other) != 0)
        return 1;
    take_stamps(mine, 0);
    pthread_join(t, NULL);
    print_stamps(mine);
    print_stamps(other);
    fflush(stdout);
    pid_t child = fork();
    if (child < 0)
        return 1;
    if (child == 0) {
        take_stamps(mine, 0);
        print_stamps(mine);
        return 0;
    }
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 1;
    return 0;
}
