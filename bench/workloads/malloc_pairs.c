/* The cost of the allocator's common paths, for counting with callgrind:
 * N malloc+free pairs by one thread.
 *
 *   malloc_pairs N         blocks of 16-128 bytes, each freed 256 pairs
 *                          after its malloc (a ring): every free finds room
 *                          in the allocator's thread cache and every malloc
 *                          takes a block back from it
 *   malloc_pairs N churn   blocks of 16-512 bytes freed at random from a
 *                          working set of 64k (alloc_patterns' churn): the
 *                          caches overflow and refill
 *
 * Instructions per pair: the difference of two counts (N = 2 M and N = 1 M)
 * over 1 M, which removes the start-up and the set-up of the loop. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    int churn = argc > 2 && strcmp(argv[2], "churn") == 0;
    static unsigned char *set[1 << 16];
    uint32_t mask = churn ? (1u << 16) - 1 : 255, span = churn ? 497 : 113;
    uint32_t rng = 2463534242u;
    unsigned sum = 0;
    for (long i = 0; i < n; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        uint32_t k = churn ? (rng >> 9) & mask : (uint32_t)i & mask;
        free(set[k]);
        size_t size = 16 + rng % span;
        set[k] = malloc(size);
        set[k][0] = (unsigned char)size;
        sum += set[k][0];
    }
    for (uint32_t k = 0; k <= mask; k++)
        free(set[k]);
    printf("%u\n", sum);
    return 0;
}
