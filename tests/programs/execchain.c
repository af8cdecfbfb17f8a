/*
 * execchain: start children every way a program can, so that a recorder
 * must follow each of them into one trace.
 *
 *   execchain top     allocates, then starts and waits for, in order:
 *                       fork + exec of /bin/true,
 *                       fork + exec of itself as a leaf,
 *                       posix_spawn of itself as a leaf,
 *                       vfork + exec of itself as a leaf;
 *                     prints JSON (its pid and marked counts, and each child's
 *                     pid, how it was started and the marked blocks expected
 *                     of it) and exits with status 7, which the recorder must
 *                     pass on.
 *   execchain leaf N  allocates and frees N marked blocks, exits 0.
 *
 * The children's argument vectors are built before fork/vfork: the child
 * does nothing but exec, as vfork requires.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "marked.h"

extern char **environ;

static int leaf(unsigned n)
{
    void **p = calloc(n, sizeof *p); /* unmarked: 8 * n bytes */
    if (!p)
        return 1;
    for (unsigned i = 0; i < n; i++) {
        p[i] = malloc(mark_size(i));
        if (!p[i])
            return 1;
        ((volatile char *)p[i])[0] = 1;
    }
    for (unsigned i = 0; i < n; i++)
        free(p[i]);
    free(p);
    return 0;
}

static void wait_ok(pid_t pid, const char *how)
{
    int status;
    if (pid <= 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "execchain: %s child failed\n", how);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "leaf") == 0)
        return leaf((unsigned)strtoul(argv[2], NULL, 10));
    if (argc != 2 || strcmp(argv[1], "top") != 0) {
        fprintf(stderr, "usage: execchain top | execchain leaf N\n");
        return 2;
    }

    static char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        perror("readlink /proc/self/exe");
        return 1;
    }
    self[len] = '\0';

    unsigned allocs = 0, frees = 0;
    void *mine[5];
    for (unsigned i = 0; i < 5; i++) {
        mine[i] = malloc(mark_size(i + 3));
        if (!mine[i])
            return 1;
        ((volatile char *)mine[i])[0] = 1;
        allocs++;
    }

    char *true_argv[] = {"/bin/true", NULL};
    char *leaf11[] = {self, "leaf", "11", NULL};
    char *leaf13[] = {self, "leaf", "13", NULL};
    char *leaf17[] = {self, "leaf", "17", NULL};
    pid_t pids[4];
    fflush(stdout);

    pids[0] = fork();
    if (pids[0] == 0) {
        execv(true_argv[0], true_argv);
        _exit(127);
    }
    wait_ok(pids[0], "fork+exec /bin/true");

    pids[1] = fork();
    if (pids[1] == 0) {
        execv(self, leaf11);
        _exit(127);
    }
    wait_ok(pids[1], "fork+exec");

    if (posix_spawn(&pids[2], self, NULL, NULL, leaf13, environ) != 0)
        pids[2] = -1;
    wait_ok(pids[2], "posix_spawn");

    pids[3] = vfork();
    if (pids[3] == 0) {
        execv(self, leaf17);
        _exit(127);
    }
    wait_ok(pids[3], "vfork+exec");

    for (unsigned i = 0; i < 5; i++) {
        free(mine[i]);
        frees++;
    }
    printf("{\"pid\": %d, \"allocs\": %u, \"frees\": %u, \"children\": ["
           "{\"pid\": %d, \"how\": \"fork+exec /bin/true\", \"command\": \"true\", \"marked\": 0}, "
           "{\"pid\": %d, \"how\": \"fork+exec\", \"command\": \"execchain leaf 11\", \"marked\": 11}, "
           "{\"pid\": %d, \"how\": \"posix_spawn\", \"command\": \"execchain leaf 13\", \"marked\": 13}, "
           "{\"pid\": %d, \"how\": \"vfork+exec\", \"command\": \"execchain leaf 17\", \"marked\": 17}]}\n",
           (int)getpid(), allocs, frees, (int)pids[0], (int)pids[1], (int)pids[2], (int)pids[3]);
    return 7;
}
