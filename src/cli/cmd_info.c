/* heaptrail info: what a trace file holds, without analysing it. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/trace_open.h"
#include "heaptrail/trace.h"

const char cmd_info_usage[] =
    "usage: heaptrail info FILE\n"
    "\n"
    "Print a trace's header (format version, recorder, host, clock, start time,\n"
    "command), its processes, duration, event counts by type, lost events, chunks,\n"
    "compression ratio and bytes per event, and whether the file was cut short.\n"
    "A truncated trace is read up to its last complete chunk, with a warning.\n";

typedef struct proc_row {
    uint32_t pid, ppid;
    char *command;
    uint64_t events;
} proc_row;

typedef struct info_state {
    uint64_t by_type[65536 / 64][64];
    proc_row *procs;
    size_t nprocs, cap;
    uint64_t first_ts, last_ts;
    uint64_t events;
} info_state;

static proc_row *proc_for(info_state *s, uint32_t pid, int new_image)
{
    for (size_t i = s->nprocs; i-- > 0;)
        if (s->procs[i].pid == pid && !(new_image && s->procs[i].command))
            return &s->procs[i];
    if (s->nprocs == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        proc_row *n = realloc(s->procs, cap * sizeof *n);
        if (!n)
            return NULL;
        s->procs = n;
        s->cap = cap;
    }
    proc_row *p = &s->procs[s->nprocs++];
    memset(p, 0, sizeof *p);
    p->pid = pid;
    return p;
}

static int on_event(const ht_event *ev, void *ctx)
{
    info_state *s = ctx;
    const ht_event_header *h = &ev->Header;
    if (s->events == 0 || h->TimeStamp < s->first_ts)
        s->first_ts = h->TimeStamp;
    if (h->TimeStamp > s->last_ts)
        s->last_ts = h->TimeStamp;
    s->events++;
    s->by_type[h->Type / 64][h->Type % 64]++;
    int start = h->Type == HT_EVENT_PROCESS_START && !(h->Flags & HT_EVENT_FLAG_UNKNOWN_TYPE);
    proc_row *p = proc_for(s, h->ProcessId, start);
    if (!p)
        return -1;
    p->events++;
    if (start) {
        p->ppid = ev->u.ProcessStart.ParentPid;
        const ht_str *cl = &ev->u.ProcessStart.CommandLine;
        p->command = malloc(cl->len + 1);
        if (!p->command)
            return -1;
        for (uint32_t i = 0; i < cl->len; i++)
            p->command[i] = cl->data[i] ? cl->data[i] : ' ';
        p->command[cl->len] = '\0';
        while (cl->len && p->command[strlen(p->command) - 1] == ' ' && strlen(p->command))
            p->command[strlen(p->command) - 1] = '\0';
    }
    return 0;
}

static void print_time(const char *label, uint64_t ns_since_epoch)
{
    time_t secs = (time_t)(ns_since_epoch / 1000000000u);
    struct tm tm;
    char buf[64] = "?";
    if (gmtime_r(&secs, &tm))
        strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    printf("%-16s %s.%03u UTC\n", label, buf, (unsigned)(ns_since_epoch / 1000000u % 1000u));
}

int cmd_info(int argc, char **argv)
{
    if (argc != 2)
        return ht_cli_usage_error("info", argc < 2 ? "no trace file given" : "too many arguments");
    ht_trace *t = ht_cli_open_trace("info", argv[1]);
    if (!t)
        return HT_EXIT_USAGE_OR_FAILURE;
    info_state *s = calloc(1, sizeof *s);
    if (!s) {
        ht_trace_close(t);
        ht_cli_error("info", "out of memory");
        return HT_EXIT_FAILURE;
    }
    int r = ht_cli_process(t, on_event, s);
    const ht_trace_info *in = ht_trace_get_info(t);
    const ht_trace_status *st = ht_trace_get_status(t);

    printf("%-16s %s\n", "file", argv[1]);
    printf("%-16s %u.%u\n", "format", in->VersionMajor, in->VersionMinor);
    printf("%-16s %s\n", "recorder", in->Recorder);
    printf("%-16s %s (%s)\n", "host", in->Host, in->Kernel);
    printf("%-16s %s\n", "command", in->Command);
    printf("%-16s id %u, resolution %u ns\n", "clock", in->Clock.ClockId, in->Clock.ResolutionNs);
    print_time("started", in->StartTimeNs + (uint64_t)in->Clock.RealtimeOffsetNs);
    uint64_t dur = s->events ? s->last_ts - s->first_ts : 0;
    printf("%-16s %.6f s\n", "duration", (double)dur / 1e9);
    printf("%-16s %" PRIu64 "\n", "events", s->events);
    for (unsigned ty = 0; ty < 65536; ty++) {
        uint64_t n = s->by_type[ty / 64][ty % 64];
        if (n) {
            const char *name = ht_event_type_name((uint16_t)ty);
            char unknown[32];
            if (!name) {
                snprintf(unknown, sizeof unknown, "type 0x%x", ty);
                name = unknown;
            }
            printf("  %-14s %" PRIu64 "\n", name, n);
        }
    }
    printf("%-16s %" PRIu64 "\n", "lost events", st->EventsLost);
    printf("%-16s %zu\n", "processes", s->nprocs);
    for (size_t i = 0; i < s->nprocs; i++)
        printf("  pid %-8u ppid %-8u %10" PRIu64 " events  %s\n", s->procs[i].pid,
               s->procs[i].ppid, s->procs[i].events,
               s->procs[i].command ? s->procs[i].command : "?");
    printf("%-16s %" PRIu64 "\n", "chunks", st->ChunksRead);
    printf("%-16s %" PRIu64 " bytes\n", "file size", st->FileSize);
    printf("%-16s %.2f (%" PRIu64 " -> %" PRIu64 " bytes)\n", "compression",
           st->CompressedBytes ? (double)st->RawBytes / (double)st->CompressedBytes : 0.0,
           st->RawBytes, st->CompressedBytes);
    printf("%-16s %.3f\n", "bytes/event",
           s->events ? (double)st->FileSize / (double)s->events : 0.0);
    printf("%-16s %s\n", "complete",
           st->Complete ? "yes" : st->Truncated ? "no (truncated)" : "no");
    int status = ht_cli_finish_trace("info", t, r);
    for (size_t i = 0; i < s->nprocs; i++)
        free(s->procs[i].command);
    free(s->procs);
    free(s);
    return status;
}
