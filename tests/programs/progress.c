/*
 * progress: allocate marked blocks in an endless loop and publish how many
 * allocations have completed, for the SIGKILL test.
 *
 * usage: progress PIDFILE PROGRESSFILE
 *
 * It writes its pid to PIDFILE, then loops: malloc a marked block, count it,
 * and every 256 allocations overwrite PROGRESSFILE with the count (a fixed
 * width record written with one pwrite, so a reader after a SIGKILL sees a
 * whole number). A count is published only after the allocations it counts
 * have returned, so a trace that loses no committed event holds at least that
 * many marked ALLOC events. The loop keeps at most 64 blocks alive.
 *
 * It gives up after 120 s (exit 3) so that a broken test cannot leave it
 * running for ever.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "marked.h"

static void publish(int fd, unsigned long n)
{
    char rec[32];
    int len = snprintf(rec, sizeof rec, "%20lu\n", n);
    if (pwrite(fd, rec, (size_t)len, 0) != len) {
        perror("progress: pwrite");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: progress PIDFILE PROGRESSFILE\n");
        return 2;
    }
    int prog = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (prog < 0) {
        perror(argv[2]);
        return 1;
    }
    publish(prog, 0);
    FILE *pf = fopen(argv[1], "w");
    if (!pf || fprintf(pf, "%d\n", (int)getpid()) < 0 || fclose(pf) != 0) {
        perror(argv[1]);
        return 1;
    }
    void *ring[64] = {0};
    time_t start = time(NULL);
    for (unsigned long n = 1;; n++) {
        unsigned slot = (unsigned)(n % 64);
        free(ring[slot]);
        ring[slot] = malloc(mark_size((unsigned)n));
        if (!ring[slot]) {
            perror("progress: malloc");
            return 1;
        }
        ((volatile char *)ring[slot])[0] = 1;
        if (n % 256 == 0) {
            publish(prog, n);
            if (time(NULL) - start > 120) {
                fprintf(stderr, "progress: not killed after 120 s, giving up\n");
                return 3;
            }
        }
    }
}
