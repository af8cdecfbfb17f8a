/* Leaks marked blocks from two sites of known line, frees others, and forks
 * a child that leaks one block of its own. Prints, as JSON, what a leak
 * report must find: for each site its size, block count, function and line,
 * and for the child its pid, size, function and line. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "marked.h"
#include "own_frame.h"

/* Keep the call a call (no tail call): the site's own frame must stay. */
#define SITE_KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

/* Where the leaked pointers go, so that no compiler sees them die. */
static void *volatile sink;

/* Each site stores its own mark in its block: identical functions would be
 * folded into one, and the report would name only one of them. */
OWN_FRAME static void *leak_small(size_t n)
{
    char *p = malloc(n);
    SITE_KEEP(p);
    if (p)
        p[0] = 's';
    return p;
}
static const int leak_small_line = __LINE__ - 6;

OWN_FRAME static void *leak_large(size_t n)
{
    char *p = calloc(1, n);
    SITE_KEEP(p);
    if (p)
        p[0] = 'l';
    return p;
}
static const int leak_large_line = __LINE__ - 6;

OWN_FRAME static void *leak_in_child(size_t n)
{
    char *p = malloc(n);
    SITE_KEEP(p);
    if (p)
        p[0] = 'c';
    return p;
}
static const int leak_in_child_line = __LINE__ - 6;

enum { SMALL_BLOCKS = 3, LARGE_BLOCKS = 2, FREED_BLOCKS = 5 };

/* Loop counts the compiler cannot see: an unrolled loop would make one site
 * several call sites, each a stack of its own. */
static volatile int small_blocks = SMALL_BLOCKS, large_blocks = LARGE_BLOCKS,
                    freed_blocks = FREED_BLOCKS;

int main(void)
{
    for (int i = 0; i < small_blocks; i++)
        sink = leak_small(mark_size(5));
    for (int i = 0; i < large_blocks; i++)
        sink = leak_large(mark_size(9));
    /* Blocks of the same sites that are freed: not leaks. */
    for (int i = 0; i < freed_blocks; i++) {
        free(leak_small(mark_size(5)));
        free(leak_large(mark_size(9)));
    }
    /* A block that moves: the realloc'ed copy is freed, nothing is left. */
    free(realloc(leak_small(mark_size(2)), mark_size(3)));
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) {
        perror("leaky: fork");
        return 1;
    }
    if (child == 0) {
        sink = leak_in_child(mark_size(12));
        _exit(0);
    }
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status)) {
        fprintf(stderr, "leaky: the child failed\n");
        return 1;
    }
    printf("{\"pid\": %d, \"file\": \"leaky.c\",\n"
           " \"sites\": [{\"function\": \"leak_small\", \"line\": %d, \"size\": %zu, "
           "\"blocks\": %d},\n"
           "           {\"function\": \"leak_large\", \"line\": %d, \"size\": %zu, "
           "\"blocks\": %d}],\n"
           " \"child\": {\"pid\": %d, \"function\": \"leak_in_child\", \"line\": %d, "
           "\"size\": %zu, \"blocks\": 1}}\n",
           (int)getpid(), leak_small_line, mark_size(5), SMALL_BLOCKS, leak_large_line,
           mark_size(9), LARGE_BLOCKS, (int)child, leak_in_child_line, mark_size(12));
    return 0;
}
