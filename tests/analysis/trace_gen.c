/*
 * trace_gen: write a synthetic trace with the public writer API, for the
 * tests of the analysis commands.
 *
 *   trace_gen OUT < SCRIPT     one event per script line (below)
 *   trace_gen --random N OUT   N heap events of 4 processes, for speed runs
 *   trace_gen --steady N LIVE OUT
 *                              N heap events of one process in a steady state
 *                              of LIVE live blocks, for speed and memory runs
 *
 * Script lines (numbers in C syntax: 42, 0x2a; '#' starts a comment):
 *   time T                                  timestamp of the next events (else +1000 ns each)
 *   start PID PPID EXE [ARG...]             process_start (\xNN escapes in EXE and ARGs)
 *   exit PID STATUS
 *   alloc PID TID HEAP ADDR SIZE SOURCE [STACK]
 *   free PID TID HEAP ADDR SOURCE
 *   realloc PID TID HEAP NEW OLD NEWSIZE OLDSIZE SOURCE
 *   lost PID N
 *   thread_name PID TID NAME
 *   stack PID ID FRAME...
 *   module PID BASE SIZE PATH
 *   map PID ADDR LENGTH
 *   flush                                   write every open chunk now
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heaptrail/writer.h"

#define MAX_WORDS 64

static int fail(const char *what, unsigned lineno)
{
    fprintf(stderr, "trace_gen: line %u: %s\n", lineno, what);
    return 1;
}

/* Decode \xNN escapes in place; returns the new length. */
static size_t unescape(char *s)
{
    size_t o = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '\\' && s[i + 1] == 'x' && s[i + 2] && s[i + 3]) {
            char hex[3] = {s[i + 2], s[i + 3], 0};
            s[o++] = (char)strtoul(hex, NULL, 16);
            i += 3;
        } else {
            s[o++] = s[i];
        }
    }
    return o;
}

static uint64_t num(const char *s) { return strtoull(s, NULL, 0); }

static int run_script(ht_writer *w)
{
    char buf[8192];
    char args[8192];
    unsigned lineno = 0;
    uint64_t now = 1000000;
    uint64_t frames[MAX_WORDS];
    while (fgets(buf, sizeof buf, stdin)) {
        lineno++;
        char *hash = strchr(buf, '#');
        if (hash)
            *hash = '\0';
        char *word[MAX_WORDS];
        int n = 0;
        for (char *tok = strtok(buf, " \t\r\n"); tok && n < MAX_WORDS; tok = strtok(NULL, " \t\r\n"))
            word[n++] = tok;
        if (n == 0)
            continue;
        const char *cmd = word[0];
        if (strcmp(cmd, "time") == 0 && n == 2) {
            now = num(word[1]);
            continue;
        }
        if (strcmp(cmd, "flush") == 0) {
            if (ht_writer_flush(w) < 0)
                return fail("flush failed", lineno);
            continue;
        }
        ht_event ev;
        memset(&ev, 0, sizeof ev);
        ev.Header.TimeStamp = now;
        ev.Header.Cpu = HT_CPU_UNKNOWN;
        now += 1000;
        if (n >= 2)
            ev.Header.ProcessId = (uint32_t)num(word[1]);
        ev.Header.ThreadId = ev.Header.ProcessId;
        if (strcmp(cmd, "start") == 0 && n >= 4) {
            ev.Header.Type = HT_EVENT_PROCESS_START;
            ev.u.ProcessStart.ParentPid = (uint32_t)num(word[2]);
            size_t len = unescape(word[3]);
            ev.u.ProcessStart.Executable = (ht_str){word[3], (uint32_t)len};
            size_t at = 0;
            for (int i = 4; i < n; i++) {
                size_t l = unescape(word[i]);
                memcpy(args + at, word[i], l);
                at += l;
                args[at++] = '\0';
            }
            ev.u.ProcessStart.CommandLine = (ht_str){args, (uint32_t)at};
        } else if (strcmp(cmd, "exit") == 0 && n == 3) {
            ev.Header.Type = HT_EVENT_PROCESS_EXIT;
            ev.u.ProcessExit.ExitStatus = (int32_t)num(word[2]);
            ev.u.ProcessExit.KnownStatus = 1;
        } else if (strcmp(cmd, "alloc") == 0 && (n == 7 || n == 8)) {
            ev.Header.Type = HT_EVENT_HEAP_ALLOC;
            ev.Header.ThreadId = (uint32_t)num(word[2]);
            ev.u.Alloc = (ETW_HEAP_EVENT_ALLOC){num(word[3]), num(word[5]), num(word[4]),
                                                (uint32_t)num(word[6])};
            if (n == 8)
                ev.Header.StackId = (uint32_t)num(word[7]);
        } else if (strcmp(cmd, "free") == 0 && n == 6) {
            ev.Header.Type = HT_EVENT_HEAP_FREE;
            ev.Header.ThreadId = (uint32_t)num(word[2]);
            ev.u.Free = (ETW_HEAP_EVENT_FREE){num(word[3]), num(word[4]), (uint32_t)num(word[5])};
        } else if (strcmp(cmd, "realloc") == 0 && n == 9) {
            ev.Header.Type = HT_EVENT_HEAP_REALLOC;
            ev.Header.ThreadId = (uint32_t)num(word[2]);
            ev.u.Realloc = (ETW_HEAP_EVENT_REALLOC){num(word[3]), num(word[4]), num(word[5]),
                                                    num(word[6]), num(word[7]),
                                                    (uint32_t)num(word[8])};
        } else if (strcmp(cmd, "lost") == 0 && n == 3) {
            ev.Header.Type = HT_EVENT_LOST;
            ev.u.Lost = (ht_lost){num(word[2]), HT_LOSS_BUFFER_FULL};
        } else if (strcmp(cmd, "thread_name") == 0 && n == 4) {
            ev.Header.Type = HT_EVENT_THREAD_NAME;
            ev.Header.ThreadId = (uint32_t)num(word[2]);
            size_t len = unescape(word[3]);
            ev.u.ThreadName.Name = (ht_str){word[3], (uint32_t)len};
        } else if (strcmp(cmd, "stack") == 0 && n >= 3) {
            ev.Header.Type = HT_EVENT_STACK_DEFINE;
            for (int i = 3; i < n; i++)
                frames[i - 3] = num(word[i]);
            ev.u.StackDefine = (ht_stack_define){(uint32_t)num(word[2]), (uint32_t)(n - 3), frames};
        } else if (strcmp(cmd, "module") == 0 && n == 5) {
            ev.Header.Type = HT_EVENT_MODULE_LOAD;
            size_t len = unescape(word[4]);
            ev.u.ModuleLoad.Base = num(word[2]);
            ev.u.ModuleLoad.Size = num(word[3]);
            ev.u.ModuleLoad.Path = (ht_str){word[4], (uint32_t)len};
        } else if (strcmp(cmd, "map") == 0 && n == 4) {
            ev.Header.Type = HT_EVENT_OS_MAP;
            ev.u.OsMap = (ht_os_map){num(word[2]), num(word[3]), 3, 0x22};
        } else {
            return fail("cannot parse", lineno);
        }
        if (ht_writer_add(w, &ev) < 0)
            return fail(strerror(errno), lineno);
    }
    return 0;
}

/* A busy allocator's day: 4 processes, each with a pool of live blocks that
 * it allocates, frees and reallocates at random (xorshift: the same trace on
 * every run). */
static int run_random(ht_writer *w, uint64_t count)
{
    enum { PROCS = 4, POOL = 4096 };
    static uint64_t live[PROCS][POOL];
    uint64_t rng = 0x9E3779B97F4A7C15ull, next_addr = 0x10000, now = 1000000;
    ht_event ev;
    for (uint64_t i = 0; i < count; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        unsigned p = (unsigned)((i >> 12) % PROCS); /* runs of events per process, as chunks */
        unsigned slot = (unsigned)(rng >> 20) % POOL;
        memset(&ev.Header, 0, sizeof ev.Header);
        ev.Header.TimeStamp = now += 100;
        ev.Header.ProcessId = 1000 + p;
        ev.Header.ThreadId = 1000 + p + (unsigned)(rng & 3) * 100;
        ev.Header.Cpu = HT_CPU_UNKNOWN;
        ev.Header.StackId = (uint32_t)(rng >> 40) % 512 + 1;
        uint64_t size = 16 + (rng >> 50) % 512;
        unsigned source = 1 + (unsigned)(rng >> 33) % 4;
        uint64_t *a = &live[p][slot];
        if (*a == 0) {
            ev.Header.Type = HT_EVENT_HEAP_ALLOC;
            *a = next_addr += 64;
            ev.u.Alloc = (ETW_HEAP_EVENT_ALLOC){1, size, *a, source};
        } else if ((rng >> 8) % 4) {
            ev.Header.Type = HT_EVENT_HEAP_FREE;
            ev.u.Free = (ETW_HEAP_EVENT_FREE){1, *a, source};
            *a = 0;
        } else {
            ev.Header.Type = HT_EVENT_HEAP_REALLOC;
            uint64_t old = *a;
            *a = next_addr += 64;
            ev.u.Realloc = (ETW_HEAP_EVENT_REALLOC){1, *a, old, size, 0, source};
        }
        if (ht_writer_add(w, &ev) < 0) {
            perror("trace_gen");
            return 1;
        }
    }
    return 0;
}

static uint64_t xorshift(uint64_t *rng)
{
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    return *rng;
}

/* A long-running program's heap: after LIVE allocations, each step frees
 * (or, one time in eight, reallocates) a live block picked at random and the
 * next step allocates a new one, so the live set stays at LIVE blocks however
 * long the trace. Freed addresses are reused last-freed first, as glibc's
 * per-thread caches do; sizes are small, as most of a program's blocks are. */
static int run_steady(ht_writer *w, uint64_t count, uint64_t live_blocks)
{
    if (live_blocks == 0) {
        fprintf(stderr, "trace_gen: --steady needs at least one live block\n");
        return 2;
    }
    uint64_t *live = calloc(live_blocks, sizeof *live);
    uint64_t *freed = calloc(live_blocks, sizeof *freed);
    if (!live || !freed) {
        free(live);
        free(freed);
        fprintf(stderr, "trace_gen: out of memory\n");
        return 1;
    }
    uint64_t rng = 0x9E3779B97F4A7C15ull, top = 0x5555550000, now = 1000000;
    uint64_t nfreed = 0, filled = 0, hole = 0;
    int have_hole = 0;
    ht_event ev;
    memset(&ev, 0, sizeof ev);
    ev.Header.Type = HT_EVENT_PROCESS_START;
    ev.Header.ProcessId = ev.Header.ThreadId = 4242;
    ev.Header.TimeStamp = now;
    ev.Header.Cpu = HT_CPU_UNKNOWN;
    ev.u.ProcessStart = (ht_process_start){1, {"/usr/bin/steady", 15}, {"steady", 7}};
    int r = ht_writer_add(w, &ev) < 0;
    for (uint64_t i = 0; i < count && !r; i++) {
        uint64_t x = xorshift(&rng);
        memset(&ev.Header, 0, sizeof ev.Header);
        ev.Header.TimeStamp = now += 50 + (x & 127);
        ev.Header.ProcessId = 4242;
        ev.Header.ThreadId = 4242 + (unsigned)(x >> 60 & 3);
        ev.Header.Cpu = HT_CPU_UNKNOWN;
        uint64_t size = 16 + 16 * (x >> 20 & 7) + ((x >> 23 & 31) == 0 ? (x >> 28 & 4095) : 0);
        if (filled < live_blocks || have_hole) {
            uint64_t slot = filled < live_blocks ? filled++ : hole;
            uint64_t fresh = nfreed ? freed[--nfreed] : (top += (size + 31) & ~(uint64_t)15);
            have_hole = 0;
            live[slot] = fresh;
            ev.Header.Type = HT_EVENT_HEAP_ALLOC;
            ev.u.Alloc = (ETW_HEAP_EVENT_ALLOC){1, size, fresh, MEMORY_FROM_MAINPATH};
        } else {
            uint64_t slot = (x >> 32) % live_blocks;
            if ((x >> 8 & 7) == 0) {
                uint64_t fresh = nfreed ? freed[--nfreed] : (top += (size + 31) & ~(uint64_t)15);
                ev.Header.Type = HT_EVENT_HEAP_REALLOC;
                ev.u.Realloc = (ETW_HEAP_EVENT_REALLOC){1, fresh, live[slot], size, 0,
                                                        MEMORY_FROM_MAINPATH};
                freed[nfreed++] = live[slot];
                live[slot] = fresh;
            } else {
                ev.Header.Type = HT_EVENT_HEAP_FREE;
                ev.u.Free = (ETW_HEAP_EVENT_FREE){1, live[slot], MEMORY_FROM_MAINPATH};
                freed[nfreed++] = live[slot];
                hole = slot;
                have_hole = 1;
            }
        }
        r = ht_writer_add(w, &ev) < 0;
    }
    free(live);
    free(freed);
    if (r)
        perror("trace_gen");
    return r;
}

int main(int argc, char **argv)
{
    int random = argc == 4 && strcmp(argv[1], "--random") == 0;
    int steady = argc == 5 && strcmp(argv[1], "--steady") == 0;
    if (argc != 2 && !random && !steady) {
        fprintf(stderr, "usage: trace_gen OUT < SCRIPT | trace_gen --random N OUT |\n"
                        "       trace_gen --steady N LIVE OUT\n");
        return 2;
    }
    const char *out = argv[argc - 1];
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(out);
        return 1;
    }
    ht_trace_info info = {.Clock = {1, 1, 0}, .StartTimeNs = 1000000, .Host = "test",
                          .Kernel = "test", .Recorder = "trace_gen", .Command = "synthetic"};
    char err[256];
    ht_writer *w = ht_writer_create(fd, &info, NULL, err, sizeof err);
    if (!w) {
        fprintf(stderr, "trace_gen: %s\n", err);
        return 1;
    }
    int r = random   ? run_random(w, strtoull(argv[2], NULL, 0))
            : steady ? run_steady(w, strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0))
                     : run_script(w);
    if (r == 0 && ht_writer_finish(w) < 0) {
        perror("trace_gen");
        r = 1;
    }
    ht_writer_destroy(w);
    close(fd);
    return r;
}
