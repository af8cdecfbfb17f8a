/* For the damaged-ring test: a traced program that writes over its own
 * recording buffer, as a program with a stray pointer might. It stops its
 * recorder (its parent) with SIGSTOP, makes heap events that wait in its
 * ring unread, overwrites the header of the first of them with one of a
 * heap event that is never that long, lets the recorder go on and waits until
 * it has read past the damage, then makes more events. The recorder must
 * drop what it cannot parse, count it, and record what came after. Prints
 * its counts after the damage as JSON. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "heaptrail/events.h"
#include "marked.h"
#include "trace/session.h"

/* The session's mapping in this process, found by the memfd's name. */
static unsigned char *find_session(void)
{
    FILE *maps = fopen("/proc/self/maps", "re");
    if (!maps)
        return NULL;
    char line[512];
    unsigned long start = 0;
    while (fgets(line, sizeof line, maps))
        if (strstr(line, "heaptrail-session") && sscanf(line, "%lx-", &start) == 1)
            break;
    fclose(maps);
    return (unsigned char *)start;
}

/* Whether process pid is stopped: read without allocating. */
static int stopped(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' && paren[2] == 'T';
}

/* Sleep a millisecond without allocating; false after ten seconds of them. */
static int wait_a_little(unsigned *waited)
{
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
    return ++*waited < 10000;
}

int main(int argc, char **argv)
{
    unsigned long after = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
    unsigned char *base = find_session();
    if (!base) {
        fprintf(stderr, "scribble: no session mapped (not recorded?)\n");
        return 2;
    }
    const ht_session_control *control = (const ht_session_control *)base;
    pid_t recorder = getppid();
    unsigned waited = 0;
    if (kill(recorder, SIGSTOP) != 0) {
        perror("scribble: SIGSTOP of the recorder");
        return 2;
    }
    while (!stopped(recorder))
        if (!wait_a_little(&waited)) {
            fprintf(stderr, "scribble: the recorder did not stop\n");
            return 2;
        }
    /* This thread's slot. The recorder, stopped, has read its head at most
     * as far as it is now: the records written from here on are unread. */
    uint32_t tid = (uint32_t)gettid();
    ht_slot *slot = NULL;
    uint32_t index = 0;
    for (uint32_t i = 0; i < control->slots_used; i++) {
        ht_slot *s = ht_session_slot(base, i);
        if (s->state == HT_SLOT_OWNED && s->tid == tid) {
            slot = s;
            index = i;
        }
    }
    if (!slot) {
        kill(recorder, SIGCONT);
        fprintf(stderr, "scribble: no slot of this thread\n");
        return 2;
    }
    uint64_t unread = __atomic_load_n(&slot->head, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < 100; i++) {
        void *volatile p = malloc(mark_size(i));
        free(p);
    }
    uint64_t *ring = ht_session_ring(base, control->slot_count, control->ring_bytes, index);
    uint64_t mask = control->ring_bytes / 8 - 1;
    /* The first unread record keeps its length, so that the records after
     * it stay where a reader looks for them, and becomes a heap event that
     * is never that long with its argument cleared (no stack, heap word
     * present): a FREE where it was 5 words (such an ALLOC's length), else
     * an ALLOC. */
    uint64_t *first = &ring[(unread / 8) & mask];
    uint32_t words = ht_record_words(*first);
    *first = ht_record_word0(words == 5 ? HT_EVENT_HEAP_FREE : HT_EVENT_HEAP_ALLOC, words, 0);
    uint64_t damaged_to = slot->head;
    kill(recorder, SIGCONT);
    waited = 0;
    while (__atomic_load_n(&slot->tail, __ATOMIC_ACQUIRE) < damaged_to)
        if (!wait_a_little(&waited)) {
            fprintf(stderr, "scribble: the recorder did not read past the damage\n");
            return 2;
        }

    unsigned long allocs = 0, frees = 0;
    marked_pairs(after, &allocs, &frees);
    printf("{\"pid\": %d, \"allocs\": %lu, \"frees\": %lu}\n", (int)getpid(), allocs, frees);
    return 0;
}
