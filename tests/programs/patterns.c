/* Allocation patterns whose figures a report must find exactly, each at a
 * site of its own and with a marked size of its own:
 *   temporaries  blocks freed right after they were allocated;
 *   peak         blocks all live together at the moment of the peak, made
 *                large enough that the peak is theirs;
 *   leaks        blocks never freed;
 *   window       blocks of the four window types around two marker blocks
 *                (allocated and freed at once) that a test turns into
 *                --from and --to: "early" blocks born before the window, half
 *                freed inside it (AOFI) and half after it (AOFO); "inside"
 *                blocks born in it, freed inside (AIFI) or after (AIFO).
 * An argument N (1 to 4) makes N times as many leaks, for diff to find.
 * Prints, as JSON, the sizes, counts and functions. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "marked.h"
#include "own_frame.h"

#define SITE_KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

/* Counts the compiler cannot see: an unrolled loop would make one site
 * several call sites. */
static volatile int temporaries = 40, peak_blocks = 60, leaks = 3, early_blocks = 8,
                    aifi_blocks = 5, aifo_blocks = 7;

/* Each site writes its own letter: identical functions would be folded. */
#define SITE(name, letter)                                                                     \
    OWN_FRAME static void *name(size_t n)                                                      \
    {                                                                                          \
        char *p = malloc(n);                                                                   \
        SITE_KEEP(p);                                                                          \
        if (p)                                                                                 \
            p[0] = letter;                                                                     \
        return p;                                                                              \
    }

SITE(make_temporary, 't')
SITE(make_peak, 'p')
SITE(make_leak, 'l')
SITE(make_early, 'e')
SITE(make_aifi, 'i')
SITE(make_aifo, 'o')
SITE(make_marker, 'm')

static void pause_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

#define TEMP_SIZE mark_size(1)
#define PEAK_SIZE (mark_size(4) * 16) /* 16 KiB blocks: the peak is theirs */
#define LEAK_SIZE mark_size(7)
#define EARLY_SIZE mark_size(10)
#define AIFI_SIZE mark_size(11)
#define AIFO_SIZE mark_size(13)
#define MARKER_SIZE mark_size(15)

int main(int argc, char **argv)
{
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1 || scale > 4) {
        fprintf(stderr, "patterns: the scale must be 1 to 4\n");
        return 2;
    }
    leaks *= scale;
    for (int i = 0; i < temporaries; i++)
        free(make_temporary(TEMP_SIZE));

    void *peak[64];
    for (int i = 0; i < peak_blocks; i++)
        peak[i] = make_peak(PEAK_SIZE);
    for (int i = 0; i < peak_blocks; i++)
        free(peak[i]);

    static void *volatile leaked[16];
    for (int i = 0; i < leaks; i++)
        leaked[i] = make_leak(LEAK_SIZE);
    SITE_KEEP(leaked);

    void *early[16], *aifo[16];
    for (int i = 0; i < early_blocks; i++)
        early[i] = make_early(EARLY_SIZE);
    pause_ms(30);
    free(make_marker(MARKER_SIZE)); /* the window opens */
    pause_ms(30);
    for (int i = 0; i < aifi_blocks; i++) {
        void *p = make_aifi(AIFI_SIZE);
        pause_ms(1);
        free(p);
    }
    for (int i = 0; i < aifo_blocks; i++)
        aifo[i] = make_aifo(AIFO_SIZE);
    for (int i = 0; i < early_blocks / 2; i++)
        free(early[i]);
    pause_ms(30);
    free(make_marker(MARKER_SIZE)); /* the window closes */
    pause_ms(30);
    for (int i = early_blocks / 2; i < early_blocks; i++)
        free(early[i]);
    for (int i = 0; i < aifo_blocks; i++)
        free(aifo[i]);

    printf("{\"temporary\": {\"function\": \"make_temporary\", \"size\": %zu, \"blocks\": %d},\n"
           " \"peak\": {\"function\": \"make_peak\", \"size\": %zu, \"blocks\": %d},\n"
           " \"leak\": {\"function\": \"make_leak\", \"size\": %zu, \"blocks\": %d},\n"
           " \"marker\": {\"function\": \"make_marker\", \"size\": %zu},\n"
           " \"early\": {\"function\": \"make_early\", \"size\": %zu, \"blocks\": %d},\n"
           " \"aifi\": {\"function\": \"make_aifi\", \"size\": %zu, \"blocks\": %d},\n"
           " \"aifo\": {\"function\": \"make_aifo\", \"size\": %zu, \"blocks\": %d}}\n",
           (size_t)TEMP_SIZE, temporaries, (size_t)PEAK_SIZE, peak_blocks, (size_t)LEAK_SIZE,
           leaks, (size_t)MARKER_SIZE, (size_t)EARLY_SIZE, early_blocks, (size_t)AIFI_SIZE,
           aifi_blocks, (size_t)AIFO_SIZE, aifo_blocks);
    return 0;
}
