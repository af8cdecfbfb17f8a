/* make_trace: write a synthetic trace (every event type, extreme values) for
 * the command-line tests and the fuzzing corpus, and print what it holds, one
 * "LABEL<TAB>COUNT" line each, labelled as `heaptrail info` labels them. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "synth.h"
#include "tracefile.h"

static int usage(void)
{
    fprintf(stderr,
            "usage: make_trace [-n EVENTS] [-s SEED] [-p PROCESSES] [-c CHUNK_BYTES] [-u] FILE\n"
            "  -u  store every chunk body uncompressed\n");
    return 2;
}

static int store_uncompressed(const char *path)
{
    size_t len, out_len;
    unsigned char *file = tf_load(path, &len);
    unsigned char *out = file ? tf_uncompress(file, len, &out_len) : NULL;
    int r = out ? tf_save(path, out, out_len) : -1;
    free(file);
    free(out);
    if (r < 0)
        fprintf(stderr, "make_trace: cannot rewrite %s uncompressed\n", path);
    return r;
}

int main(int argc, char **argv)
{
    unsigned long long events = 1000, seed = 1, processes = 2, chunk_bytes = 0;
    int uncompressed = 0, opt;
    while ((opt = getopt(argc, argv, "n:s:p:c:u")) != -1) {
        switch (opt) {
        case 'n': events = strtoull(optarg, NULL, 0); break;
        case 's': seed = strtoull(optarg, NULL, 0); break;
        case 'p': processes = strtoull(optarg, NULL, 0); break;
        case 'c': chunk_bytes = strtoull(optarg, NULL, 0); break;
        case 'u': uncompressed = 1; break;
        default: return usage();
        }
    }
    if (optind + 1 != argc || processes == 0 || processes > 1000 || chunk_bytes > UINT32_MAX)
        return usage();

    uint32_t pids[1000];
    for (unsigned i = 0; i < processes; i++)
        pids[i] = 1000 + i;
    int fd = open(argv[optind], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(argv[optind]);
        return 1;
    }
    synth_written w;
    int r = synth_write(fd, seed, pids, processes, events, (uint32_t)chunk_bytes, &w);
    if (close(fd) < 0 || r < 0 || (uncompressed && store_uncompressed(argv[optind]) < 0))
        return 1;

    printf("events\t%llu\n", (unsigned long long)w.events);
    printf("lost events\t%llu\n", (unsigned long long)w.lost);
    printf("chunks\t%llu\n", (unsigned long long)w.chunks);
    for (unsigned ty = 0; ty < 256; ty++)
        if (w.by_type[ty])
            printf("%s\t%llu\n", ht_event_type_name((uint16_t)ty), (unsigned long long)w.by_type[ty]);
    return 0;
}
