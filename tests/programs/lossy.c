/* For the --lossy test: stops its recorder (its parent) with SIGSTOP, makes
 * many more heap events than its buffer holds, then lets the recorder go on.
 * With nobody draining the buffer a lossy writer must drop; the test checks
 * that every drop is counted. Prints its own counts as JSON. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "marked.h"

int main(int argc, char **argv)
{
    unsigned long rounds = argc > 1 ? strtoul(argv[1], NULL, 10) : 50000;
    pid_t recorder = getppid();
    if (kill(recorder, SIGSTOP) != 0) {
        perror("lossy: SIGSTOP of the recorder");
        return 2;
    }
    unsigned long allocs = 0, frees = 0;
    marked_pairs(rounds, &allocs, &frees);
    kill(recorder, SIGCONT);
    printf("{\"pid\": %d, \"allocs\": %lu, \"frees\": %lu}\n", (int)getpid(), allocs, frees);
    return 0;
}
