/* Run a piece of a heap test in a forked child, with its stderr captured:
 * for the behaviours that end the process (abort on a bad pointer) and for
 * the messages the heap writes. */
#ifndef HT_TESTS_HEAP_CHILD_H
#define HT_TESTS_HEAP_CHILD_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct child_result {
    int status;      /* wait status */
    char err[4096];  /* what the child wrote on stderr */
} child_result;

static inline void run_in_child(void (*fn)(void *), void *arg, child_result *r)
{
    int fds[2];
    if (pipe(fds) != 0)
        abort();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        signal(SIGABRT, SIG_DFL);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t got;
    while (n < sizeof r->err - 1 && (got = read(fds[0], r->err + n, sizeof r->err - 1 - n)) > 0)
        n += (size_t)got;
    r->err[n] = '\0';
    close(fds[0]);
    waitpid(pid, &r->status, 0);
}

static inline int child_aborted(const child_result *r)
{
    return WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGABRT;
}

#endif
