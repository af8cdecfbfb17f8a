#include "cli/recording.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/units.h"
#include "format/writer_heap.h"
#include "trace/clock.h"
#include "trace/session.h"
#include "trace/tsc.h"

static int open_output(const recording_options *o, char *path, size_t pathlen)
{
    snprintf(path, pathlen, "%s", o->path);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (S_ISLNK(st.st_mode)) {
            ht_cli_error(o->name, "%s is a symbolic link; refusing to write through it", path);
            return -1;
        }
        if (!o->force) {
            ht_cli_error(o->name, "%s exists; use -f to overwrite it", path);
            return -1;
        }
        if (!S_ISREG(st.st_mode)) {
            ht_cli_error(o->name, "%s is not a regular file", path);
            return -1;
        }
    }
    int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (o->force ? O_TRUNC : O_EXCL);
    int fd = open(path, flags, 0600);
    if (fd < 0) {
        ht_cli_error(o->name, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    /* An existing file kept its mode through O_TRUNC: a trace is private. */
    if (fchmod(fd, 0600) < 0) {
        ht_cli_error(o->name, "cannot set the mode of %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* The first failed write is kept, to be reported at the end; nothing is
 * written after it, and collection goes on (the program must not stall). */
static void write_failed(recording *s)
{
    s->write_failed = true;
    s->write_errno = errno;
}

static int sink_event(const ht_event *ev, void *ctx)
{
    recording *s = ctx;
    if (ht_summary_add(s->summary, ev) < 0)
        return -1;
    if (!s->write_failed && ht_writer_add(s->writer, ev) < 0)
        write_failed(s);
    if (ev->Header.Type == HT_EVENT_PROCESS_EXIT && !s->write_failed)
        ht_writer_flush_process(s->writer, ev->Header.ProcessId);
    return 0;
}

/* Records the summary takes at a time (the collector hands over runs of
 * at most this many). */
#define SINK_PIECE 256

static int sink_heap(uint32_t pid, const ht_record *recs, ht_heap_extra *extra, size_t n,
                     void *ctx)
{
    recording *s = ctx;
    /* The program does not know a realloc's previous size; the summary
     * does, from its live blocks as they are right before the realloc. */
    uint64_t old[SINK_PIECE];
    for (size_t at = 0; at < n; at += SINK_PIECE) {
        size_t k = n - at < SINK_PIECE ? n - at : SINK_PIECE;
        if (ht_summary_add_records(s->summary, pid, recs + at, k, old) < 0)
            return -1;
        for (size_t i = 0; i < k; i++)
            if (recs[at + i].type == HT_EVENT_HEAP_REALLOC)
                extra[at + i].old_size = old[i];
    }
    if (!s->write_failed && ht_writer_add_heap(s->writer, pid, recs, extra, n) < 0)
        write_failed(s);
    return 0;
}

static void print_summary(const char *name, const char *path, const ht_summary *sum,
                          const ht_collector_stats *cs, uint64_t file_bytes, uint64_t written)
{
    const ht_usage *t = ht_summary_totals(sum);
    char alloc[32], peak[32], leak[32], size[32];
    ht_cli_bytes(alloc, sizeof alloc, t->bytes_allocated);
    ht_cli_bytes(peak, sizeof peak, t->peak_bytes);
    ht_cli_bytes(leak, sizeof leak, t->leaked_bytes);
    ht_cli_bytes(size, sizeof size, file_bytes);
    fprintf(stderr,
            "heaptrail %s: %zu process%s, %" PRIu64 " events, %" PRIu64 " lost\n"
            "heaptrail %s: allocated %s, peak %s, leaked %s in %" PRIu64 " blocks\n"
            "heaptrail %s: wrote %s (%s, %" PRIu64 " events, %.2f bytes/event)\n",
            name, ht_summary_process_count(sum), ht_summary_process_count(sum) == 1 ? "" : "es",
            cs->events, cs->lost, name, alloc, peak, leak, t->leaked_blocks, name, path, size,
            written, written ? (double)file_bytes / (double)written : 0.0);
}

/* Who compresses the trace's chunks. A thread of the writer's own pays
 * where a processor is left for it: beside the collector and a program
 * that keeps one busy, that makes three. With fewer, it took the program's
 * processor from it (docs/PERFORMANCE.md), and the collector compresses in
 * its empty rounds instead. HEAPTRAIL_COMPRESS chooses (auto, thread,
 * idle). Returns the HT_WRITER_COMPRESS_* value, or -1 for a bad value. */
static int compress_mode(const char *name)
{
    const char *how = getenv("HEAPTRAIL_COMPRESS");
    if (how && strcmp(how, "thread") == 0)
        return HT_WRITER_COMPRESS_THREAD;
    if (how && strcmp(how, "idle") == 0)
        return HT_WRITER_COMPRESS_IDLE;
    if (how && strcmp(how, "auto") != 0) {
        ht_cli_error(name, "HEAPTRAIL_COMPRESS is '%s': it can be 'auto', 'thread' or 'idle'",
                     how);
        return -1;
    }
    cpu_set_t cpus;
    int usable = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
    return usable >= 3 ? HT_WRITER_COMPRESS_THREAD : HT_WRITER_COMPRESS_IDLE;
}

int recording_start(recording *r, const recording_options *o)
{
    memset(r, 0, sizeof *r);
    r->name = o->name;
    /* The writers' clock: the TSC where it is usable (trace/tsc.h), unless
     * HEAPTRAIL_CLOCK asks for CLOCK_MONOTONIC. */
    uint32_t session_flags = o->session_flags;
    const char *clock = getenv("HEAPTRAIL_CLOCK");
    if (clock && strcmp(clock, "auto") != 0 && strcmp(clock, "monotonic") != 0) {
        ht_cli_error(o->name, "HEAPTRAIL_CLOCK is '%s': it can be 'auto' or 'monotonic'", clock);
        return -1;
    }
    if ((!clock || strcmp(clock, "auto") == 0) && ht_tsc_usable())
        session_flags |= HT_SESSION_TSC;
    ht_writer_options wo = {.Compress = compress_mode(o->name)};
    if (wo.Compress < 0)
        return -1;
    r->fd = open_output(o, r->path, sizeof r->path);
    if (r->fd < 0)
        return -1;
    char err[256];
    r->collector = ht_collector_create(HT_SESSION_DEFAULT_SLOTS, o->ring_bytes, session_flags,
                                       o->stack_depth, err, sizeof err);
    if (!r->collector) {
        ht_cli_error(o->name, "%s", err);
        recording_abandon(r);
        return -1;
    }
    /* The header: clock, host, command. */
    struct utsname un;
    uname(&un);
    struct timespec mono, real, res;
    clock_gettime(HT_TRACE_CLOCK, &mono);
    clock_gettime(CLOCK_REALTIME, &real);
    clock_getres(HT_TRACE_CLOCK, &res);
    char recorder[64];
    snprintf(recorder, sizeof recorder, "heaptrail %s", ht_version());
    ht_trace_info info = {
        .Clock = {HT_TRACE_CLOCK, (uint32_t)res.tv_nsec,
                  ((int64_t)real.tv_sec - mono.tv_sec) * 1000000000 + (real.tv_nsec - mono.tv_nsec)},
        .StartTimeNs = (uint64_t)mono.tv_sec * 1000000000u + (uint64_t)mono.tv_nsec,
        .Host = un.nodename, .Kernel = un.release, .Recorder = recorder, .Command = o->command,
        .Options = o->trace_options | (o->stack_depth ? HT_TRACE_OPT_STACKS : 0)};
    r->writer = ht_writer_create(r->fd, &info, &wo, err, sizeof err);
    r->summary = ht_summary_create();
    if (!r->writer || !r->summary) {
        ht_cli_error(o->name, "%s: %s", r->path, r->writer ? "out of memory" : err);
        recording_abandon(r);
        return -1;
    }
    r->consumer = (ht_collector_consumer){sink_event, sink_heap, r};
    return 0;
}

void recording_abandon(recording *r)
{
    ht_writer_destroy(r->writer);
    ht_summary_destroy(r->summary);
    ht_collector_destroy(r->collector);
    unlink(r->path);
    close(r->fd);
}

long recording_round(recording *r, bool final)
{
    return ht_collector_round(r->collector, &r->consumer, final);
}

void recording_pause(recording *r, long found, long *idle_ns)
{
    if (found > 0) {
        *idle_ns = 0;
        return;
    }
    /* An empty round is the time to compress a chunk that waits. */
    if (!r->write_failed) {
        int wrote = ht_writer_idle(r->writer);
        if (wrote < 0)
            write_failed(r);
        if (wrote != 0) {
            *idle_ns = 0;
            return;
        }
    }
    *idle_ns = *idle_ns ? (*idle_ns * 2 > 10000000 ? 10000000 : *idle_ns * 2) : 100000;
    struct timespec ts = {0, *idle_ns};
    nanosleep(&ts, NULL);
}

int recording_finish(recording *r, bool quiet)
{
    int status = HT_EXIT_OK;
    ht_summary_finish(r->summary);
    ht_collector_stats cs;
    ht_collector_get_stats(r->collector, &cs);
    if (!r->write_failed && ht_writer_finish(r->writer) < 0) {
        r->write_failed = true;
        r->write_errno = errno;
    }
    uint64_t bytes = 0, written = 0;
    ht_writer_totals(r->writer, &written, NULL, &bytes);
    if (r->write_failed) {
        ht_cli_error(r->name,
                     "cannot write %s: %s; it holds %" PRIu64 " of the %" PRIu64
                     " events collected (up to its last complete chunk)",
                     r->path, strerror(r->write_errno), written, cs.events);
        status = HT_EXIT_FAILURE;
    }
    if (close(r->fd) < 0 && status == HT_EXIT_OK) {
        ht_cli_error(r->name, "cannot write %s: %s", r->path, strerror(errno));
        status = HT_EXIT_FAILURE;
    }
    if (!quiet)
        print_summary(r->name, r->path, r->summary, &cs, bytes, written);
    ht_writer_destroy(r->writer);
    ht_summary_destroy(r->summary);
    ht_collector_destroy(r->collector);
    return status;
}
