/* Synthetic events for the format tests: a reproducible sequence of events of
 * every type, with extreme values in every field, spread over several
 * processes.
 *
 * Each process has its own random stream, so the sequence of one process can
 * be regenerated on its own: a reader returns chunks (one process each) in
 * file order, not in the order the events were written, but it keeps the
 * order of each process's events, which is what the checks rely on. */
#ifndef HT_TESTS_SYNTH_H
#define HT_TESTS_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "heaptrail/events.h"
#include "heaptrail/trace.h"

typedef struct synth_stream synth_stream;

typedef struct synth {
    uint64_t pick;           /* random state that chooses the process of each event */
    size_t count;
    synth_stream **streams;
} synth;

/* A generator for seed over the given pids (copied). */
void synth_init(synth *s, uint64_t seed, const uint32_t *pids, size_t npids);
void synth_free(synth *s);

/* The next event of the whole sequence. Valid until the next call. */
const ht_event *synth_next(synth *s);

/* The next event of process pid's own sequence, or NULL if pid is not one of
 * the generator's processes. */
const ht_event *synth_next_of(synth *s, uint32_t pid);

/* NULL when got is what a reader must return for expected, else a description
 * of the first difference (in a static buffer). */
const char *synth_diff(const ht_event *expected, const ht_event *got);

/* The header every synthetic trace carries. */
const ht_trace_info *synth_info(void);

typedef struct synth_written {
    uint64_t events, chunks, bytes;
    uint64_t lost;          /* sum of the LOST events written, wrapping */
    uint64_t by_type[256];  /* events written per type */
} synth_written;

/* Write the first n events of the generator for seed to fd through
 * ht_writer (chunk_bytes 0: the writer's default) and finish the file.
 * Returns 0, or -1 with a message on stderr. */
int synth_write(int fd, uint64_t seed, const uint32_t *pids, size_t npids, uint64_t n,
                uint32_t chunk_bytes, synth_written *out);

/* Reading side: checks events against the regenerated per-process sequences. */
typedef struct synth_check {
    synth gen;
    uint64_t events;
    uint64_t lost; /* sum of the LOST events, wrapping as the reader's counter does */
    char error[512];
} synth_check;

void synth_check_init(synth_check *c, uint64_t seed, const uint32_t *pids, size_t npids);
void synth_check_free(synth_check *c);

/* 0 when ev is the next event of its process, else -1 with c->error set. */
int synth_check_event(synth_check *c, const ht_event *ev);

#endif
