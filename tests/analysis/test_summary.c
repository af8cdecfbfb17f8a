/* Unit tests of the streaming summary (src/analysis/summary.c): known event
 * sequences and the figures they must give. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "analysis/summary.h"
#include "format/records.h"

static uint64_t clock_ns = 1000;

static ht_event header(uint16_t type, uint32_t pid, uint32_t tid)
{
    ht_event ev;
    memset(&ev, 0, sizeof ev);
    ev.Header.Type = type;
    ev.Header.ProcessId = pid;
    ev.Header.ThreadId = tid;
    ev.Header.TimeStamp = clock_ns += 10;
    return ev;
}

static void add(ht_summary *s, const ht_event *ev) { assert_int_equal(ht_summary_add(s, ev), 0); }

static void start(ht_summary *s, uint32_t pid, uint32_t ppid, const char *cmdline, size_t len)
{
    ht_event ev = header(HT_EVENT_PROCESS_START, pid, pid);
    ev.u.ProcessStart.ParentPid = ppid;
    ev.u.ProcessStart.Executable = (ht_str){"/bin/x", 6};
    ev.u.ProcessStart.CommandLine = (ht_str){cmdline, (uint32_t)len};
    add(s, &ev);
}

static void process_exit(ht_summary *s, uint32_t pid)
{
    ht_event ev = header(HT_EVENT_PROCESS_EXIT, pid, pid);
    ev.u.ProcessExit.ExitStatus = 256;
    ev.u.ProcessExit.KnownStatus = 1;
    add(s, &ev);
}

static uint64_t alloc(ht_summary *s, uint32_t pid, uint32_t tid, uint64_t address, uint64_t size,
                      uint32_t source)
{
    ht_event ev = header(HT_EVENT_HEAP_ALLOC, pid, tid);
    ev.u.Alloc = (ETW_HEAP_EVENT_ALLOC){1, size, address, source};
    add(s, &ev);
    return ev.Header.TimeStamp;
}

static void heap_free(ht_summary *s, uint32_t pid, uint64_t address)
{
    ht_event ev = header(HT_EVENT_HEAP_FREE, pid, pid);
    ev.u.Free = (ETW_HEAP_EVENT_FREE){1, address, MEMORY_FROM_LOWFRAG};
    add(s, &ev);
}

static uint64_t heap_realloc(ht_summary *s, uint32_t pid, uint64_t new_address,
                             uint64_t old_address, uint64_t new_size)
{
    ht_event ev = header(HT_EVENT_HEAP_REALLOC, pid, pid);
    ev.u.Realloc = (ETW_HEAP_EVENT_REALLOC){1, new_address, old_address, new_size, 0,
                                            MEMORY_FROM_MAINPATH};
    add(s, &ev);
    return ev.Header.TimeStamp;
}

static const ht_process_summary *proc(const ht_summary *s, size_t i)
{
    const ht_process_summary *p = ht_summary_process(s, i);
    assert_non_null(p);
    return p;
}

static void test_peak_and_leaks(void **state)
{
    (void)state;
    ht_summary *s = ht_summary_create();
    assert_non_null(s);
    start(s, 10, 1, "prog\0-v\0", 8);
    alloc(s, 10, 10, 0x1000, 100, MEMORY_FROM_LOOKASIDE);
    uint64_t peak_at = alloc(s, 10, 11, 0x2000, 200, MEMORY_FROM_LOWFRAG);
    heap_free(s, 10, 0x1000);
    alloc(s, 10, 10, 0x3000, 50, MEMORY_FROM_LOWFRAG);
    alloc(s, 10, 10, 0x4000, 40, MEMORY_FROM_SLOWPATH);
    heap_free(s, 10, 0x4000);
    ht_summary_finish(s);

    assert_int_equal(ht_summary_process_count(s), 1);
    const ht_process_summary *p = proc(s, 0);
    assert_int_equal(p->pid, 10);
    assert_int_equal(p->ppid, 1);
    assert_true(p->started);
    assert_int_equal(p->command_len, 7);
    assert_memory_equal(p->command, "prog -v", 7);
    const ht_usage *u = &p->usage;
    assert_int_equal(u->events, 7);
    assert_int_equal(ht_summary_type_count(s, u, HT_EVENT_HEAP_ALLOC), 4);
    assert_int_equal(ht_summary_type_count(s, u, HT_EVENT_HEAP_FREE), 2);
    assert_int_equal(ht_summary_type_count(s, u, HT_EVENT_HEAP_REALLOC), 0);
    assert_int_equal(ht_summary_type_count(s, u, HT_EVENT_PROCESS_START), 1);
    assert_int_equal(u->bytes_allocated, 390);
    assert_int_equal(u->peak_bytes, 300);
    assert_int_equal(u->peak_time, peak_at);
    assert_int_equal(u->leaked_bytes, 250);
    assert_int_equal(u->leaked_blocks, 2);
    assert_int_equal(u->by_source[MEMORY_FROM_LOOKASIDE], 1);
    assert_int_equal(u->by_source[MEMORY_FROM_LOWFRAG], 2);
    assert_int_equal(u->by_source[MEMORY_FROM_SLOWPATH], 1);
    assert_int_equal(u->threads, 2);
    assert_int_equal(u->anomalies.free_unknown + u->anomalies.realloc_unknown +
                         u->anomalies.alloc_over_live,
                     0);
    const ht_usage *t = ht_summary_totals(s);
    assert_int_equal(t->events, 7);
    assert_int_equal(t->peak_bytes, 300);
    assert_int_equal(t->leaked_bytes, 250);
    assert_int_equal(t->threads, 2);
    assert_int_equal(t->last_time - t->first_time, 60);
    ht_summary_destroy(s);
}

static void test_realloc_accounting(void **state)
{
    (void)state;
    ht_summary *s = ht_summary_create();
    start(s, 20, 1, "r", 1);
    alloc(s, 20, 20, 0x1000, 100, MEMORY_FROM_LOWFRAG);
    uint64_t peak_at = heap_realloc(s, 20, 0x2000, 0x1000, 300); /* moves: live 300 */
    heap_realloc(s, 20, 0x2000, 0x2000, 50);                     /* in place: live 50 */
    heap_realloc(s, 20, 0x3000, 0, 70);                          /* realloc(NULL): live 120 */
    heap_realloc(s, 20, 0, 0x3000, 0);                           /* realloc(p, 0): live 50 */
    heap_free(s, 20, 0x2000);
    ht_summary_finish(s);
    const ht_usage *u = &proc(s, 0)->usage;
    assert_int_equal(u->bytes_allocated, 100 + 300 + 50 + 70);
    assert_int_equal(u->peak_bytes, 300);
    assert_int_equal(u->peak_time, peak_at);
    assert_int_equal(u->leaked_bytes, 0);
    assert_int_equal(u->leaked_blocks, 0);
    assert_int_equal(u->by_source[MEMORY_FROM_MAINPATH], 4);
    assert_int_equal(u->anomalies.realloc_unknown, 0);
    assert_int_equal(u->anomalies.free_unknown, 0);
    ht_summary_destroy(s);
}

static void test_anomalies(void **state)
{
    (void)state;
    ht_summary *s = ht_summary_create();
    start(s, 30, 1, "a", 1);
    heap_free(s, 30, 0x9999);                        /* free of an unknown address */
    heap_free(s, 30, 0);                             /* free(NULL): nothing */
    alloc(s, 30, 30, 0x1000, 10, MEMORY_FROM_LOWFRAG);
    alloc(s, 30, 30, 0x1000, 20, MEMORY_FROM_LOWFRAG); /* over a live block */
    heap_realloc(s, 30, 0x5000, 0x7777, 5);          /* realloc of an unknown address */
    alloc(s, 30, 30, 0, 64, MEMORY_FROM_LOWFRAG);    /* failed allocation */
    ht_summary_finish(s);
    const ht_usage *u = &proc(s, 0)->usage;
    assert_int_equal(u->anomalies.free_unknown, 1);
    assert_int_equal(u->anomalies.alloc_over_live, 1);
    assert_int_equal(u->anomalies.realloc_unknown, 1);
    /* The replacing block counts, the replaced one is gone; the unknown
     * realloc's block is new. */
    assert_int_equal(u->leaked_bytes, 25);
    assert_int_equal(u->leaked_blocks, 2);
    assert_int_equal(u->peak_bytes, 25);
    assert_int_equal(u->bytes_allocated, 35);
    assert_int_equal(ht_summary_totals(s)->anomalies.free_unknown, 1);
    ht_summary_destroy(s);
}

/* A second PROCESS_START of a pid is an exec: a new entry, and the old
 * image's live blocks are its leaks. */
static void test_exec_splits(void **state)
{
    (void)state;
    ht_summary *s = ht_summary_create();
    start(s, 40, 1, "sh\0-c\0prog\0", 11);
    alloc(s, 40, 40, 0x1000, 100, MEMORY_FROM_LOWFRAG);
    alloc(s, 40, 40, 0x2000, 5, MEMORY_FROM_LOWFRAG);
    heap_free(s, 40, 0x2000);
    start(s, 40, 1, "prog", 4);
    alloc(s, 40, 40, 0x1000, 30, MEMORY_FROM_LOWFRAG); /* the same address, a new image */
    heap_free(s, 40, 0x3000);                           /* unknown in this image */
    process_exit(s, 40);
    ht_summary_finish(s);

    assert_int_equal(ht_summary_process_count(s), 2);
    const ht_process_summary *sh = proc(s, 0), *prog = proc(s, 1);
    assert_memory_equal(sh->command, "sh -c prog", 10);
    assert_false(sh->after_exec);
    assert_false(sh->exited);
    assert_int_equal(sh->usage.events, 4);
    assert_int_equal(sh->usage.leaked_bytes, 100);
    assert_int_equal(sh->usage.leaked_blocks, 1);
    assert_memory_equal(prog->command, "prog", 4);
    assert_true(prog->after_exec);
    assert_true(prog->exited);
    assert_int_equal(prog->exit_status, 256);
    assert_int_equal(prog->usage.events, 4);
    assert_int_equal(prog->usage.anomalies.alloc_over_live, 0);
    assert_int_equal(prog->usage.anomalies.free_unknown, 1);
    assert_int_equal(prog->usage.leaked_bytes, 30);
    assert_int_equal(prog->usage.peak_bytes, 30);
    const ht_usage *t = ht_summary_totals(s);
    assert_int_equal(t->leaked_bytes, 130);
    assert_int_equal(t->leaked_blocks, 2);
    /* The first image's memory went with the exec: the sum never held both. */
    assert_int_equal(t->peak_bytes, 105);
    assert_int_equal(t->events, 8);
    ht_summary_destroy(s);
}

static void test_processes_and_global_peak(void **state)
{
    (void)state;
    ht_summary *s = ht_summary_create();
    start(s, 50, 1, "parent", 6);
    alloc(s, 50, 50, 0x1000, 100, MEMORY_FROM_LOWFRAG);
    start(s, 51, 50, "child", 5);
    alloc(s, 51, 51, 0x1000, 60, MEMORY_FROM_LOWFRAG); /* same address, other process */
    uint64_t peak_at = alloc(s, 51, 52, 0x2000, 40, MEMORY_FROM_LOWFRAG);
    process_exit(s, 51); /* its 100 bytes leak and leave the sum */
    alloc(s, 50, 50, 0x2000, 50, MEMORY_FROM_LOWFRAG);
    heap_free(s, 50, 0x1000);
    /* Pid 51 again after its exit: a new process, no name yet. */
    alloc(s, 51, 53, 0x1000, 7, MEMORY_FROM_LOWFRAG);
    ht_event lost = header(HT_EVENT_LOST, 50, 50);
    lost.u.Lost.EventsLost = 12;
    add(s, &lost);
    ht_summary_finish(s);

    assert_int_equal(ht_summary_process_count(s), 3);
    assert_int_equal(proc(s, 0)->usage.peak_bytes, 150);
    assert_int_equal(proc(s, 0)->usage.leaked_bytes, 50);
    assert_int_equal(proc(s, 0)->usage.lost_events, 12);
    assert_int_equal(proc(s, 1)->ppid, 50);
    assert_int_equal(proc(s, 1)->usage.peak_bytes, 100);
    assert_int_equal(proc(s, 1)->usage.leaked_bytes, 100);
    assert_int_equal(proc(s, 1)->usage.threads, 2);
    assert_false(proc(s, 2)->started);
    assert_null(proc(s, 2)->command);
    assert_int_equal(proc(s, 2)->pid, 51);
    assert_int_equal(proc(s, 2)->usage.leaked_bytes, 7);
    const ht_usage *t = ht_summary_totals(s);
    assert_int_equal(t->peak_bytes, 200);
    assert_int_equal(t->peak_time, peak_at);
    assert_int_equal(t->leaked_bytes, 157);
    assert_int_equal(t->leaked_blocks, 4);
    assert_int_equal(t->threads, 4);
    assert_int_equal(t->lost_events, 12);
    assert_int_equal(t->bytes_allocated, 257);
    ht_summary_destroy(s);
}

/* Events of one process added as one call's records. */
static void add_as_records(ht_summary *s, uint32_t pid, const ht_event *evs, size_t n)
{
    ht_record recs[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++)
        ht_record_from_event(&evs[i], &recs[i]);
    assert_int_equal(ht_summary_add_records(s, pid, recs, n, NULL), 0);
}

static ht_event alloc_event(uint32_t pid, uint64_t address, uint64_t size)
{
    ht_event ev = header(HT_EVENT_HEAP_ALLOC, pid, pid);
    ev.u.Alloc = (ETW_HEAP_EVENT_ALLOC){1, size, address, MEMORY_FROM_LOWFRAG};
    return ev;
}

static ht_event realloc_event(uint32_t pid, uint64_t new_address, uint64_t old_address,
                              uint64_t new_size)
{
    ht_event ev = header(HT_EVENT_HEAP_REALLOC, pid, pid);
    ev.u.Realloc = (ETW_HEAP_EVENT_REALLOC){1, new_address, old_address, new_size, 0,
                                            MEMORY_FROM_MAINPATH};
    return ev;
}

/* The recorder's REALLOC OldSize: the size the old block had right before
 * the realloc, in the same call as the events before it; 0 for a block
 * that was not live, which is an anomaly unless its address is 0. Entries
 * of the other records are left alone. */
static void test_records_give_realloc_old_sizes(void **state)
{
    (void)state;
    ht_summary *s = ht_summary_create();
    assert_non_null(s);
    ht_event evs[6] = {
        alloc_event(7, 0x1000, 100),         realloc_event(7, 0x2000, 0x1000, 200),
        realloc_event(7, 0x3000, 0x2000, 300), realloc_event(7, 0x4000, 0x9000, 40),
        realloc_event(7, 0x5000, 0, 50),     alloc_event(7, 0x6000, 60),
    };
    ht_record recs[6];
    for (size_t i = 0; i < 6; i++)
        ht_record_from_event(&evs[i], &recs[i]);
    uint64_t old[6] = {11, 11, 11, 11, 11, 11};
    assert_int_equal(ht_summary_add_records(s, 7, recs, 6, old), 0);
    uint64_t want[6] = {11, 100, 200, 0, 0, 11};
    assert_memory_equal(old, want, sizeof want);
    ht_summary_finish(s);
    assert_int_equal(ht_summary_totals(s)->anomalies.realloc_unknown, 1);
    assert_int_equal(ht_summary_totals(s)->live_bytes, 300 + 40 + 50 + 60);
    ht_summary_destroy(s);
}

/* Through records, while another image holds memory: the sum rises past
 * the trace-wide peak while the image stays below its own peak. */
static void test_records_global_peak(void **state)
{
    (void)state;
    ht_summary *s = ht_summary_create();
    ht_event b[2] = {alloc_event(61, 0x1000, 50), header(HT_EVENT_HEAP_FREE, 61, 61)};
    b[1].u.Free = (ETW_HEAP_EVENT_FREE){1, 0x1000, MEMORY_FROM_LOWFRAG};
    add_as_records(s, 61, b, 2); /* 61 peaks at 50 alone */
    ht_event a = alloc_event(60, 0x1000, 100);
    add_as_records(s, 60, &a, 1); /* the sum: 100 */
    ht_event b2 = alloc_event(61, 0x2000, 40);
    add_as_records(s, 61, &b2, 1); /* the sum: 140, with 61 at 40 */
    ht_summary_finish(s);
    assert_int_equal(proc(s, 0)->usage.peak_bytes, 50);
    assert_int_equal(proc(s, 1)->usage.peak_bytes, 100);
    assert_int_equal(ht_summary_totals(s)->peak_bytes, 140);
    assert_int_equal(ht_summary_totals(s)->peak_time, b2.Header.TimeStamp);
    ht_summary_destroy(s);
}

/* Events whose layout the library does not know are counted by name but not
 * read as heap events. */
static void test_unknown_types(void **state)
{
    (void)state;
    ht_summary *s = ht_summary_create();
    ht_event ev = header(HT_EVENT_HEAP_ALLOC, 60, 60);
    ev.Header.Flags = HT_EVENT_FLAG_UNKNOWN_TYPE;
    ev.Name = "alloc";
    add(s, &ev);
    ev = header(0x1234, 60, 60);
    ev.Header.Flags = HT_EVENT_FLAG_UNKNOWN_TYPE;
    ev.Name = "custom_probe";
    add(s, &ev);
    add(s, &ev);
    ht_summary_finish(s);
    const ht_usage *u = &proc(s, 0)->usage;
    assert_int_equal(u->events, 3);
    assert_int_equal(u->bytes_allocated, 0);
    assert_int_equal(u->live_blocks, 0);
    assert_int_equal(ht_summary_type_count(s, u, 0x1234), 2);
    uint16_t type;
    assert_string_equal(ht_summary_type(s, 1, &type), "custom_probe");
    assert_int_equal(type, 0x1234);
    assert_null(ht_summary_type(s, 2, &type));
    ht_summary_destroy(s);
}

/* Many blocks of many threads: the figures match a direct count. */
static void test_volume(void **state)
{
    (void)state;
    enum { N = 200000 };
    ht_summary *s = ht_summary_create();
    start(s, 70, 1, "bulk", 4);
    uint64_t allocated = 0;
    for (uint64_t i = 0; i < N; i++) {
        alloc(s, 70, 70 + (uint32_t)(i % 8), 0x100000 + i * 32, i % 64 + 1, MEMORY_FROM_LOWFRAG);
        allocated += i % 64 + 1;
    }
    for (uint64_t i = 0; i < N; i += 2)
        heap_free(s, 70, 0x100000 + i * 32);
    ht_summary_finish(s);
    const ht_usage *u = &proc(s, 0)->usage;
    assert_int_equal(u->bytes_allocated, allocated);
    assert_int_equal(u->peak_bytes, allocated);
    assert_int_equal(u->leaked_blocks, N / 2);
    uint64_t leaked = 0;
    for (uint64_t i = 1; i < N; i += 2)
        leaked += i % 64 + 1;
    assert_int_equal(u->leaked_bytes, leaked);
    assert_int_equal(u->threads, 8);
    assert_int_equal(u->by_source[MEMORY_FROM_LOWFRAG], N);
    ht_summary_destroy(s);
}

/* A mixed sequence of events of two processes, the way a trace brings them
 * (runs of one process at a time): starts, execs, exits, blocks at few
 * addresses (so that frees and reallocs find them, or do not), losses,
 * unknown types and many threads. */
static size_t mixed_events(ht_event *evs, size_t max)
{
    uint64_t rng = 0x2545F4914F6CDD1Dull;
    size_t n = 0;
    while (n < max) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        uint32_t pid = 80 + (uint32_t)(n / 300 % 2); /* runs of 300 events per process */
        uint32_t tid = pid + (uint32_t)(rng >> 59) * 1000;
        uint64_t address = 0x7000 + (rng >> 20) % 64 * 16;
        unsigned what = (unsigned)(rng >> 8) % 100;
        ht_event ev;
        if (what < 40) {
            ev = header(HT_EVENT_HEAP_ALLOC, pid, tid);
            ev.u.Alloc = (ETW_HEAP_EVENT_ALLOC){1, (rng >> 40) % 100, what < 2 ? 0 : address,
                                                (uint32_t)(rng >> 30) % 9};
        } else if (what < 75) {
            ev = header(HT_EVENT_HEAP_FREE, pid, tid);
            ev.u.Free = (ETW_HEAP_EVENT_FREE){1, what < 42 ? 0 : address, 2};
        } else if (what < 92) {
            ev = header(HT_EVENT_HEAP_REALLOC, pid, tid);
            ev.u.Realloc = (ETW_HEAP_EVENT_REALLOC){1, address, 0x7000 + (rng >> 44) % 64 * 16,
                                                    (rng >> 40) % 300, 0, 300};
        } else if (what < 94) {
            ev = header(HT_EVENT_PROCESS_START, pid, pid);
            ev.u.ProcessStart = (ht_process_start){1, {"/bin/y", 6}, {"y\0-v\0", 5}};
        } else if (what < 95) {
            ev = header(HT_EVENT_PROCESS_EXIT, pid, pid);
            ev.u.ProcessExit = (ht_process_exit){(int32_t)(rng >> 50), 1};
        } else if (what < 97) {
            ev = header(HT_EVENT_LOST, pid, tid);
            ev.u.Lost = (ht_lost){(rng >> 50) + 1, HT_LOSS_BUFFER_FULL};
        } else if (what < 98) {
            ev = header(HT_EVENT_HEAP_ALLOC, pid, tid);
            ev.Header.Flags = HT_EVENT_FLAG_UNKNOWN_TYPE; /* a layout this library does not bind */
            ev.Name = "alloc";
        } else {
            ev = header(0x4321, pid, tid);
            ev.Header.Flags = HT_EVENT_FLAG_UNKNOWN_TYPE;
            ev.Name = "probe";
        }
        evs[n++] = ev;
    }
    return n;
}

static void assert_same_usage(const ht_usage *a, const ht_usage *b)
{
    assert_memory_equal(a, b, sizeof *a);
}

/* Records in runs of any length give the figures events give one by one;
 * extreme: with sizes that make the live bytes wrap around, and times that
 * go back now and then (a malformed trace's). */
static void check_records_match_events(int extreme)
{
    enum { N = 20000 };
    static ht_event evs[N];
    static ht_record recs[N];
    size_t n = mixed_events(evs, N);
    for (size_t i = 0; extreme && i < n; i++) {
        if (i % 7 == 3)
            evs[i].Header.TimeStamp -= 1000;
        if (evs[i].Header.Type == HT_EVENT_HEAP_ALLOC && i % 5 == 1)
            evs[i].u.Alloc.Size = UINT64_MAX - i;
        else if (evs[i].Header.Type == HT_EVENT_HEAP_REALLOC && i % 3 == 1)
            evs[i].u.Realloc.NewSize = (uint64_t)1 << 63;
    }
    ht_summary *one = ht_summary_create(), *runs = ht_summary_create();
    for (size_t i = 0; i < n; i++) {
        add(one, &evs[i]);
        ht_record_from_event(&evs[i], &recs[i]);
    }
    /* Runs end where the process changes, and at lengths from 1 up. */
    size_t i = 0, len = 1;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && j - i < len && evs[j].Header.ProcessId == evs[i].Header.ProcessId)
            j++;
        assert_int_equal(ht_summary_add_records(runs, evs[i].Header.ProcessId, &recs[i], j - i, NULL),
                         0);
        i = j;
        len = len * 3 % 97 + 1;
    }
    ht_summary_finish(one);
    ht_summary_finish(runs);
    assert_int_equal(ht_summary_process_count(one), ht_summary_process_count(runs));
    assert_true(ht_summary_process_count(one) > 4); /* the sequence did exec and exit */
    for (size_t k = 0; k < ht_summary_process_count(one); k++) {
        const ht_process_summary *a = ht_summary_process(one, k), *b = ht_summary_process(runs, k);
        assert_int_equal(a->pid, b->pid);
        assert_int_equal(a->ppid, b->ppid);
        assert_int_equal(a->started, b->started);
        assert_int_equal(a->after_exec, b->after_exec);
        assert_int_equal(a->exited, b->exited);
        assert_int_equal(a->exit_status, b->exit_status);
        assert_int_equal(a->command_len, b->command_len);
        if (a->command_len)
            assert_memory_equal(a->command, b->command, a->command_len);
        assert_same_usage(&a->usage, &b->usage);
    }
    assert_same_usage(ht_summary_totals(one), ht_summary_totals(runs));
    const ht_usage *t = ht_summary_totals(one);
    assert_true(t->anomalies.free_unknown > 0 && t->anomalies.realloc_unknown > 0 &&
                t->anomalies.alloc_over_live > 0 && t->lost_events > 0 && t->leaked_blocks > 0);
    uint16_t type;
    for (size_t k = 0; ht_summary_type(one, k, &type); k++) {
        uint16_t other;
        assert_string_equal(ht_summary_type(one, k, &type), ht_summary_type(runs, k, &other));
        assert_int_equal(type, other);
    }
    ht_summary_destroy(one);
    ht_summary_destroy(runs);
}

static void test_records_match_events(void **state)
{
    (void)state;
    check_records_match_events(0);
}

static void test_records_match_extreme_events(void **state)
{
    (void)state;
    check_records_match_events(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peak_and_leaks),
        cmocka_unit_test(test_realloc_accounting),
        cmocka_unit_test(test_anomalies),
        cmocka_unit_test(test_exec_splits),
        cmocka_unit_test(test_processes_and_global_peak),
        cmocka_unit_test(test_records_global_peak),
        cmocka_unit_test(test_unknown_types),
        cmocka_unit_test(test_volume),
        cmocka_unit_test(test_records_match_events),
        cmocka_unit_test(test_records_give_realloc_old_sizes),
        cmocka_unit_test(test_records_match_extreme_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
