#include "trace/collector.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "trace/clock.h"
#include "trace/session.h"
#include "trace/tsc.h"

/* Publish consumed room to a writer at least this often within a round, so
 * that a writer waiting on a full ring is not held for a whole round. */
#define TAIL_PUBLISH_EVERY 256

/* How long a realloc in progress may hold a round back (see the round). */
#define BUSY_PATIENCE_NS 100000000u

/* Heap events handed to the consumer at once: enough that the per-call
 * work (finding the process, its open chunk) is shared by many events, few
 * enough that they are still in the cache when the writer encodes them
 * after the summary has counted them. */
#define HEAP_RUN 256

/* The longest heap record: a REALLOC with a stack id. */
#define HEAP_RECORD_WORDS (HT_RECORD_HEADER_WORDS + 6)

typedef struct slot_state {
    uint64_t cursor;    /* == the slot's tail */
    uint64_t head;      /* head read at the start of the round */
    uint64_t lost_seen; /* writer's lost counter already reported */
    uint32_t pid, tid;  /* owner, copied when first seen */
    bool realloc_head;  /* the record at cursor is a complete REALLOC */
    uint32_t realloc_at; /* its place in realloc_heads, when realloc_head */
    uint32_t since_publish;
    bool dead;          /* owner gone: reclaim once drained */
} slot_state;

typedef struct ended_process {
    uint32_t pid;
    int status;
    bool known;
    uint64_t when;
} ended_process;

struct ht_collector {
    int fd;
    void *base;
    size_t size;
    ht_session_control *control;
    uint32_t slots, ring_bytes;
    uint64_t ring_mask; /* words of a ring - 1 (a power of two) */
    char path[64];
    slot_state *st;
    ended_process *ended;
    size_t nended, ended_cap;
    uint32_t *seen_pids;
    size_t nseen, seen_cap;
    uint64_t lost_no_slot_seen;
    uint32_t root_pid;
    ht_collector_stats stats;
    uint64_t scratch[HT_RECORD_MAX_WORDS];
    /* min-heap of slots by the time of their next due record; an entry whose
     * cursor is no longer the slot's is stale (the record went out early) */
    uint32_t *heap;
    uint64_t *heap_ts;
    uint64_t *heap_cursor;
    size_t heap_len;
    uint32_t run_slot; /* the slot the round delivers from now */
    bool run_more;     /* its next record is due next */
    uint32_t *realloc_heads; /* slots whose next record is a REALLOC */
    uint32_t nrealloc_heads;
    /* heap events waiting to go out in one run, all of process batch_pid */
    ht_record batch[HEAP_RUN];
    ht_heap_extra batch_extra[HEAP_RUN];
    uint32_t nbatch, batch_pid;
    /* The writers' clock: TSC ticks (converted on the way out) or ns. */
    bool tsc;
    ht_tsc_map tsc_map;
    uint64_t busy_patience; /* BUSY_PATIENCE_NS in the writers' clock */
};

ht_collector *ht_collector_create(uint32_t slots, uint32_t ring_bytes, uint32_t flags,
                                  uint32_t stack_depth, char *err, size_t errlen)
{
    ht_collector *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->fd = -1;
    c->base = MAP_FAILED;
    c->slots = slots;
    c->ring_bytes = ring_bytes;
    c->ring_mask = ring_bytes / 8 - 1;
    c->size = ht_session_bytes(slots, ring_bytes);
    c->st = calloc(slots, sizeof *c->st);
    c->heap = calloc(2 * (size_t)slots, sizeof *c->heap);
    c->heap_ts = calloc(2 * (size_t)slots, sizeof *c->heap_ts);
    c->heap_cursor = calloc(2 * (size_t)slots, sizeof *c->heap_cursor);
    c->realloc_heads = calloc(slots, sizeof *c->realloc_heads);
    if (!c->st || !c->heap || !c->heap_ts || !c->heap_cursor || !c->realloc_heads) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* A memfd, not a file in /dev/shm: no size limit of a mounted tmpfs, and
     * it disappears with the collector. Untouched ring pages cost nothing. */
    c->fd = memfd_create("heaptrail-session", MFD_CLOEXEC);
    if (c->fd < 0 || ftruncate(c->fd, (off_t)c->size) < 0) {
        snprintf(err, errlen, "cannot create the session memory: %s", strerror(errno));
        goto fail;
    }
    c->base = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
    if (c->base == MAP_FAILED) {
        snprintf(err, errlen, "cannot map the session memory: %s", strerror(errno));
        goto fail;
    }
    c->control = c->base;
    *c->control = (ht_session_control){.magic = HT_SESSION_MAGIC,
                                        .version = HT_SESSION_VERSION,
                                        .slot_count = slots,
                                        .ring_bytes = ring_bytes,
                                        .flags = flags,
                                        .stack_depth = stack_depth,
                                        .collector_pid = (uint32_t)getpid(),
                                        .state = HT_SESSION_RUNNING};
    c->tsc = flags & HT_SESSION_TSC;
    c->busy_patience = BUSY_PATIENCE_NS;
    if (c->tsc) {
        ht_tsc_map_init(&c->tsc_map);
        c->busy_patience = ht_tsc_ticks(&c->tsc_map, BUSY_PATIENCE_NS);
    }
    snprintf(c->path, sizeof c->path, "/proc/%d/fd/%d", (int)getpid(), c->fd);
    return c;
fail:
    ht_collector_destroy(c);
    return NULL;
}

void ht_collector_destroy(ht_collector *c)
{
    if (!c)
        return;
    if (c->base != MAP_FAILED) {
        __atomic_store_n(&c->control->state, HT_SESSION_STOPPED, __ATOMIC_RELEASE);
        munmap(c->base, c->size);
    }
    if (c->fd >= 0)
        close(c->fd);
    free(c->st);
    free(c->heap);
    free(c->heap_ts);
    free(c->heap_cursor);
    free(c->realloc_heads);
    free(c->ended);
    free(c->seen_pids);
    free(c);
}

const char *ht_collector_session_path(const ht_collector *c) { return c->path; }

void ht_collector_set_root(ht_collector *c, pid_t pid)
{
    c->root_pid = (uint32_t)pid;
    __atomic_store_n(&c->control->root_pid, (uint32_t)pid, __ATOMIC_RELEASE);
}

void ht_collector_get_stats(const ht_collector *c, ht_collector_stats *out) { *out = c->stats; }

static bool pid_seen(ht_collector *c, uint32_t pid)
{
    for (size_t i = 0; i < c->nseen; i++)
        if (c->seen_pids[i] == pid)
            return true;
    return false;
}

static void note_pid(ht_collector *c, uint32_t pid)
{
    if (pid_seen(c, pid))
        return;
    if (c->nseen == c->seen_cap) {
        size_t cap = c->seen_cap ? c->seen_cap * 2 : 64;
        uint32_t *n = realloc(c->seen_pids, cap * sizeof *n);
        if (!n)
            return; /* only costs the exit event of this process */
        c->seen_pids = n;
        c->seen_cap = cap;
    }
    c->seen_pids[c->nseen++] = pid;
}

static bool ended_listed(ht_collector *c, uint32_t pid)
{
    for (size_t i = 0; i < c->nended; i++)
        if (c->ended[i].pid == pid)
            return true;
    return false;
}

void ht_collector_process_ended(ht_collector *c, pid_t pid, int status, bool known)
{
    if (ended_listed(c, (uint32_t)pid))
        return;
    if (c->nended == c->ended_cap) {
        size_t cap = c->ended_cap ? c->ended_cap * 2 : 16;
        ended_process *n = realloc(c->ended, cap * sizeof *n);
        if (!n)
            return;
        c->ended = n;
        c->ended_cap = cap;
    }
    c->ended[c->nended++] = (ended_process){(uint32_t)pid, status, known, ht_now_ns()};
}

bool ht_process_gone(pid_t pid)
{
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return true;
    /* A zombie has run its course even while its parent has not reaped it. */
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *close_paren = strrchr(buf, ')');
    return close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z';
}

void ht_collector_check_owners(ht_collector *c)
{
    uint32_t used = __atomic_load_n(&c->control->slots_used, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < used; i++) {
        ht_slot *s = ht_session_slot(c->base, i);
        if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != HT_SLOT_OWNED || c->st[i].dead)
            continue;
        uint32_t pid = s->pid, tid = s->tid;
        if (pid == 0)
            continue;
        bool process_gone = ht_process_gone((pid_t)pid);
        if (!process_gone && (syscall(SYS_tgkill, pid, tid, 0) == 0 || errno != ESRCH))
            continue;
        c->st[i].dead = true;
        if (process_gone)
            ht_collector_process_ended(c, (pid_t)pid, 0, false);
    }
}

uint32_t ht_collector_active_slots(const ht_collector *c)
{
    uint32_t used = __atomic_load_n(&c->control->slots_used, __ATOMIC_ACQUIRE), n = 0;
    for (uint32_t i = 0; i < used && i < c->slots; i++)
        n += __atomic_load_n(&ht_session_slot(c->base, i)->state, __ATOMIC_ACQUIRE) != HT_SLOT_FREE;
    return n;
}

/* ---- the round -------------------------------------------------------------- */

static inline uint64_t *ring_of(ht_collector *c, uint32_t i)
{
    return ht_session_ring(c->base, c->slots, c->ring_bytes, i);
}

static inline uint64_t ring_word(ht_collector *c, uint64_t *ring, uint64_t byte_pos)
{
    return __atomic_load_n(&ring[(byte_pos >> 3) & c->ring_mask], __ATOMIC_RELAXED);
}

/* The heap may hold a slot more than once: its entries are (slot, time of
 * the record, cursor of the record), and any whose cursor is not the slot's
 * current one is dropped when popped. Each slot adds at most one entry per
 * record, so the heap never holds more than twice the slots. */
static void heap_push(ht_collector *c, uint32_t slot, uint64_t ts)
{
    size_t k = c->heap_len++;
    while (k > 0) {
        size_t parent = (k - 1) / 2;
        if (c->heap_ts[parent] <= ts)
            break;
        c->heap[k] = c->heap[parent];
        c->heap_ts[k] = c->heap_ts[parent];
        c->heap_cursor[k] = c->heap_cursor[parent];
        k = parent;
    }
    c->heap[k] = slot;
    c->heap_ts[k] = ts;
    c->heap_cursor[k] = c->st[slot].cursor;
}

static uint32_t heap_pop(ht_collector *c, uint64_t *cursor)
{
    uint32_t top = c->heap[0];
    *cursor = c->heap_cursor[0];
    size_t n = --c->heap_len;
    uint32_t last = c->heap[n];
    uint64_t last_ts = c->heap_ts[n], last_cursor = c->heap_cursor[n];
    size_t k = 0;
    for (;;) {
        size_t child = 2 * k + 1;
        if (child >= n)
            break;
        if (child + 1 < n && c->heap_ts[child + 1] < c->heap_ts[child])
            child++;
        if (c->heap_ts[child] >= last_ts)
            break;
        c->heap[k] = c->heap[child];
        c->heap_ts[k] = c->heap_ts[child];
        c->heap_cursor[k] = c->heap_cursor[child];
        k = child;
    }
    c->heap[k] = last;
    c->heap_ts[k] = last_ts;
    c->heap_cursor[k] = last_cursor;
    return top;
}

/* Hand the waiting heap events to the consumer. */
static int flush_heap_run(ht_collector *c, const ht_collector_consumer *to)
{
    uint32_t n = c->nbatch;
    if (n == 0)
        return 0;
    c->nbatch = 0;
    /* The run's stamps as they were written until now (the order is decided
     * on them), its times in ns from here on: one loop over the run. */
    if (c->tsc) {
        ht_tsc_map map = c->tsc_map;
        for (uint32_t k = 0; k < n; k++)
            c->batch[k].time = ht_tsc_ns(&map, c->batch[k].time);
    }
    c->stats.events += n;
    return to->heap(c->batch_pid, c->batch, c->batch_extra, n, to->context);
}

/* An event that is not a heap event: after the heap events before it. */
static int deliver(ht_collector *c, const ht_collector_consumer *to, ht_event *ev)
{
    if (flush_heap_run(c, to) < 0)
        return -1;
    c->stats.events++;
    return to->event(ev, to->context);
}

/* A heap event of slot ss, decoded into the run's next place. */
static int queue_heap(ht_collector *c, const ht_collector_consumer *to, const slot_state *ss)
{
    uint32_t at = c->nbatch;
    if (at && c->batch_pid != ss->pid) {
        /* The run so far is another process's: out with it, and ours first
         * in the next. */
        ht_record r = c->batch[at];
        ht_heap_extra x = c->batch_extra[at];
        if (flush_heap_run(c, to) < 0)
            return -1;
        c->batch[0] = r;
        c->batch_extra[0] = x;
    }
    c->batch_pid = ss->pid;
    if (++c->nbatch == HEAP_RUN)
        return flush_heap_run(c, to);
    return 0;
}

static int deliver_lost(ht_collector *c, const ht_collector_consumer *to, uint32_t pid,
                        uint32_t tid, uint64_t count, uint32_t reason)
{
    ht_event ev;
    memset(&ev, 0, sizeof ev);
    ev.Header = (ht_event_header){.Type = HT_EVENT_LOST, .Version = 1, .Cpu = HT_CPU_UNKNOWN,
                                  .ProcessId = pid, .ThreadId = tid, .TimeStamp = ht_now_ns()};
    ev.u.Lost.EventsLost = count;
    ev.u.Lost.Reason = reason;
    c->stats.lost += count;
    return deliver(c, to, &ev);
}

/* Now in the writers' clock, read after every earlier load and before
 * every later one (with the caller's fence for the vDSO clock). */
static uint64_t writers_now(ht_collector *c)
{
    if (!c->tsc)
        return ht_now_ns();
    uint64_t now = ht_tsc_read_fenced();
    ht_tsc_map_update(&c->tsc_map, now);
    return now;
}

/* A record's stamp as the trace's time: CLOCK_MONOTONIC ns. */
static inline uint64_t stamp_ns(const ht_collector *c, uint64_t stamp)
{
    return c->tsc ? ht_tsc_ns(&c->tsc_map, stamp) : stamp;
}

/* A record is damaged when its length does not fit what was committed: the
 * traced program wrote over its own ring. Drop the rest of the ring. */
static bool record_fits(uint64_t w0, uint64_t cursor, uint64_t head)
{
    uint32_t words = ht_record_words(w0);
    return words >= HT_RECORD_HEADER_WORDS && words <= HT_RECORD_MAX_WORDS &&
           cursor + (uint64_t)words * 8 <= head;
}

/* Payload of a blob record: `fixed` words, two lengths, then the bytes. */
static bool decode_blob(const uint64_t *p, uint32_t n, uint32_t fixed, ht_str *a, ht_str *b)
{
    if (n < fixed + 2)
        return false;
    uint64_t alen = p[fixed], blen = p[fixed + 1];
    uint64_t room = (uint64_t)(n - fixed - 2) * 8;
    if (alen > room || blen > room - alen)
        return false;
    const char *bytes = (const char *)&p[fixed + 2];
    *a = (ht_str){bytes, (uint32_t)alen};
    *b = (ht_str){bytes + alen, (uint32_t)blen};
    return true;
}

/* Turn the heap record whose first word is w0 and whose words are at w
 * into its compact form, its time still the stamp as written
 * (flush_heap_run converts it). w is scratch, or the ring itself where the
 * record lies in one piece: the program could change those words while they
 * are read, so each is loaded once, and what is checked is what is used.
 * Returns 1, or -1 for a malformed record. */
static inline __attribute__((always_inline)) int decode_heap(const slot_state *ss, uint64_t w0,
                                                            const uint64_t *w, ht_record *r,
                                                            ht_heap_extra *x)
{
    uint32_t type = ht_record_type(w0);
    /* Without its heap word, the payload is read as if it had one: p[0] is
     * then not read. */
    bool main_heap = ht_record_main_heap(w0);
    const uint64_t *p = w + HT_RECORD_HEADER_WORDS - main_heap;
    uint32_t n = ht_record_words(w0) - HT_RECORD_HEADER_WORDS + main_heap;
    x->stack = 0;
    if (ht_record_has_stack(w0)) {
        uint64_t stack = n ? __atomic_load_n(&p[n - 1], __ATOMIC_RELAXED) : UINT64_MAX;
        if (stack > UINT32_MAX)
            return -1;
        x->stack = (uint32_t)stack;
        n--;
    }
    /* Field by field: the union's other members are left as they were (a
     * field the type does not name is not defined), not zeroed each time. */
    r->time = __atomic_load_n(&w[1], __ATOMIC_RELAXED);
    r->tid = ss->tid;
    r->type = (uint16_t)type;
    r->flags = 0;
    r->source = (uint8_t)ht_record_arg(w0);
    x->heap = main_heap ? HT_HEAP_GLIBC_MAIN_ARENA : __atomic_load_n(&p[0], __ATOMIC_RELAXED);
    x->source = ht_record_arg(w0);
    x->old_size = 0;
    switch (type) {
    case HT_EVENT_HEAP_ALLOC:
        if (n != 3)
            return -1;
        r->u.heap.size = __atomic_load_n(&p[1], __ATOMIC_RELAXED);
        r->u.heap.address = __atomic_load_n(&p[2], __ATOMIC_RELAXED);
        return 1;
    case HT_EVENT_HEAP_FREE:
        if (n != 2)
            return -1;
        r->u.heap.address = __atomic_load_n(&p[1], __ATOMIC_RELAXED);
        return 1;
    default: /* HT_EVENT_HEAP_REALLOC; p[4] is when it began (realloc_first) */
        if (n != 5)
            return -1;
        r->u.heap.address = __atomic_load_n(&p[1], __ATOMIC_RELAXED);
        r->u.heap.old_address = __atomic_load_n(&p[2], __ATOMIC_RELAXED);
        r->u.heap.size = __atomic_load_n(&p[3], __ATOMIC_RELAXED);
        return 1;
    }
}

static bool is_heap_type(uint32_t type)
{
    return type == HT_EVENT_HEAP_ALLOC || type == HT_EVENT_HEAP_FREE ||
           type == HT_EVENT_HEAP_REALLOC;
}

/* Turn the record in scratch into an event. Returns 1, or -1 for a
 * malformed record. */
static int decode_record(ht_collector *c, const slot_state *ss, ht_event *ev)
{
    const uint64_t *w = c->scratch;
    uint32_t type = ht_record_type(w[0]), words = ht_record_words(w[0]);
    /* A heap event without its heap word is read as if it had one (see
     * decode_heap); heap below is what p[0] stands for. */
    bool main_heap = is_heap_type(type) && ht_record_main_heap(w[0]);
    const uint64_t *p = w + HT_RECORD_HEADER_WORDS - main_heap;
    uint32_t n = words - HT_RECORD_HEADER_WORDS + main_heap;
    uint64_t heap = main_heap ? HT_HEAP_GLIBC_MAIN_ARENA : p[0];
    memset(&ev->u, 0, sizeof ev->u);
    ev->Header = (ht_event_header){.Type = (uint16_t)type, .Version = 1, .Cpu = HT_CPU_UNKNOWN,
                                   .ProcessId = ss->pid, .ThreadId = ss->tid,
                                   .TimeStamp = stamp_ns(c, w[1])};
    if (ht_record_has_stack(w[0])) {
        if (n == 0 || p[n - 1] > UINT32_MAX)
            return -1;
        ev->Header.StackId = (uint32_t)p[--n];
    }
    ht_str unused;
    switch (type) {
    case HT_EVENT_HEAP_ALLOC:
        if (n != 3)
            return -1;
        ev->u.Alloc = (ETW_HEAP_EVENT_ALLOC){heap, p[1], p[2], ht_record_arg(w[0])};
        return 1;
    case HT_EVENT_HEAP_FREE:
        if (n != 2)
            return -1;
        ev->u.Free = (ETW_HEAP_EVENT_FREE){heap, p[1], ht_record_arg(w[0])};
        return 1;
    case HT_EVENT_HEAP_REALLOC:
        if (n != 5)
            return -1;
        ev->u.Realloc = (ETW_HEAP_EVENT_REALLOC){heap, p[1], p[2], p[3], 0, ht_record_arg(w[0])};
        return 1;
    case HT_EVENT_HEAP_CREATE:
        if (n != 2)
            return -1;
        ev->u.Create = (ETW_HEAP_EVENT_CREATE){p[0], (uint32_t)p[1]};
        return 1;
    case HT_EVENT_HEAP_DESTROY:
    case HT_EVENT_HEAP_LOCK:
    case HT_EVENT_HEAP_UNLOCK:
    case HT_EVENT_HEAP_VALIDATE:
    case HT_EVENT_HEAP_WALK:
        if (n != 1)
            return -1;
        ev->u.Handle.HeapHandle = p[0];
        return 1;
    case HT_EVENT_HEAP_EXPAND:
    case HT_EVENT_HEAP_CONTRACT:
        /* The two share their layout. */
        if (n != 7)
            return -1;
        ev->u.Expand = (ETW_HEAP_EVENT_EXPAND){p[0], p[1], p[2], p[3], p[4], p[5], (uint32_t)p[6]};
        return 1;
    case HT_EVENT_HEAP_SNAPSHOT:
        if (n != 5)
            return -1;
        ev->u.SnapShot = (ETW_HEAP_EVENT_SNAPSHOT){p[0], p[1], p[2], p[3], (uint32_t)p[4]};
        return 1;
    case HT_EVENT_OS_MAP:
        if (n != 3)
            return -1;
        ev->u.OsMap = (ht_os_map){p[0], p[1], (uint32_t)p[2], (uint32_t)(p[2] >> 32)};
        return 1;
    case HT_EVENT_OS_UNMAP:
        if (n != 2)
            return -1;
        ev->u.OsUnmap = (ht_os_unmap){p[0], p[1]};
        return 1;
    case HT_EVENT_OS_REMAP:
        if (n != 4)
            return -1;
        ev->u.OsRemap = (ht_os_remap){p[0], p[1], p[2], p[3]};
        return 1;
    case HT_EVENT_THREAD_START:
        if (n != 2)
            return -1;
        ev->u.ThreadStart.ParentTid = (uint32_t)p[0];
        ev->Header.Cpu = (uint32_t)p[1];
        return 1;
    case HT_EVENT_THREAD_EXIT:
        return n == 0 ? 1 : -1;
    case HT_EVENT_MODULE_UNLOAD:
        if (n != 1)
            return -1;
        ev->u.ModuleUnload.Base = p[0];
        return 1;
    case HT_EVENT_STACK_DEFINE:
        if (n < 2 || p[0] > UINT32_MAX || p[1] != n - 2)
            return -1;
        ev->u.StackDefine = (ht_stack_define){(uint32_t)p[0], (uint32_t)p[1], &p[2]};
        return 1;
    case HT_EVENT_THREAD_NAME:
        return decode_blob(p, n, 0, &ev->u.ThreadName.Name, &unused) ? 1 : -1;
    case HT_EVENT_PROCESS_START:
        if (n < 2)
            return -1;
        ev->u.ProcessStart.ParentPid = (uint32_t)p[0];
        ev->Header.Cpu = (uint32_t)p[1];
        return decode_blob(p, n, 2, &ev->u.ProcessStart.Executable,
                           &ev->u.ProcessStart.CommandLine)
                   ? 1
                   : -1;
    case HT_EVENT_MODULE_LOAD:
        if (n < 2)
            return -1;
        ev->u.ModuleLoad.Base = p[0];
        ev->u.ModuleLoad.Size = p[1];
        return decode_blob(p, n, 2, &ev->u.ModuleLoad.Path, &ev->u.ModuleLoad.BuildId) ? 1 : -1;
    default:
        return -1;
    }
}

static void publish_tail(ht_collector *c, uint32_t i)
{
    __atomic_store_n(&ht_session_slot(c->base, i)->tail, c->st[i].cursor, __ATOMIC_RELEASE);
    c->st[i].since_publish = 0;
}

/* Put slot i in the list of slots whose next record is a REALLOC, or take
 * it out. */
static void change_realloc_head(ht_collector *c, uint32_t i, bool is)
{
    slot_state *ss = &c->st[i];
    if (is) {
        ss->realloc_at = c->nrealloc_heads;
        c->realloc_heads[c->nrealloc_heads++] = i;
    } else {
        uint32_t moved = c->realloc_heads[--c->nrealloc_heads];
        c->realloc_heads[ss->realloc_at] = moved;
        c->st[moved].realloc_at = ss->realloc_at;
    }
    ss->realloc_head = is;
}

static inline void set_realloc_head(ht_collector *c, uint32_t i, bool is)
{
    if (is != c->st[i].realloc_head)
        change_realloc_head(c, i, is);
}

/* Look at the record now at slot i's cursor: note whether it is a REALLOC,
 * and have it delivered this round if it is due. */
static void queue_next(ht_collector *c, uint32_t i, uint64_t before)
{
    slot_state *ss = &c->st[i];
    bool is_realloc = false;
    if (ss->cursor < ss->head) {
        uint64_t *ring = ring_of(c, i);
        uint64_t w0 = ring_word(c, ring, ss->cursor);
        if (!record_fits(w0, ss->cursor, ss->head)) {
            heap_push(c, i, 0); /* handled (as damage) first */
        } else {
            uint64_t ts = ring_word(c, ring, ss->cursor + 8);
            is_realloc = ht_record_type(w0) == HT_EVENT_HEAP_REALLOC &&
                         ht_record_words(w0) == HT_RECORD_HEADER_WORDS + 5 +
                                                    ht_record_has_stack(w0) -
                                                    ht_record_main_heap(w0);
            if (ts < before) {
                /* The slot the round is taking records from goes on while
                 * its next record is due before any other: no need to
                 * push it only to pop it again. */
                if (i == c->run_slot && (c->heap_len == 0 || ts < c->heap_ts[0]))
                    c->run_more = true;
                else
                    heap_push(c, i, ts);
            }
        }
    }
    set_realloc_head(c, i, is_realloc);
}

/* A record of slot i about to go out creates a block at address (an ALLOC,
 * or a REALLOC's new block) at time ts. If another thread of the process has
 * a REALLOC waiting whose old block is that address and which began before
 * ts, that realloc freed the address first: it must go out first. Returns
 * that slot, or -1. */
static int32_t realloc_first(ht_collector *c, uint32_t i, uint64_t address, uint64_t ts)
{
    uint32_t pid = c->st[i].pid;
    for (uint32_t k = 0; k < c->nrealloc_heads; k++) {
        uint32_t j = c->realloc_heads[k];
        slot_state *o = &c->st[j];
        if (j == i || o->pid != pid)
            continue;
        uint64_t *ring = ring_of(c, j);
        uint64_t no_heap_word = ht_record_main_heap(ring_word(c, ring, o->cursor)) ? 8 : 0;
        uint64_t old = ring_word(c, ring, o->cursor + 8 * 4 - no_heap_word);
        uint64_t began = ring_word(c, ring, o->cursor + 8 * 6 - no_heap_word);
        if (old == address && began < ts)
            return (int32_t)j;
    }
    return -1;
}

static int emit_ended(ht_collector *c, const ht_collector_consumer *to)
{
    size_t keep = 0;
    for (size_t e = 0; e < c->nended; e++) {
        ended_process *ep = &c->ended[e];
        bool drained = true;
        uint32_t used = __atomic_load_n(&c->control->slots_used, __ATOMIC_ACQUIRE);
        for (uint32_t i = 0; i < used && drained; i++) {
            ht_slot *s = ht_session_slot(c->base, i);
            if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != HT_SLOT_FREE && s->pid == ep->pid &&
                c->st[i].cursor != __atomic_load_n(&s->head, __ATOMIC_ACQUIRE))
                drained = false;
        }
        if (!drained) {
            c->ended[keep++] = *ep;
            continue;
        }
        for (uint32_t i = 0; i < used; i++) {
            ht_slot *s = ht_session_slot(c->base, i);
            if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != HT_SLOT_FREE && s->pid == ep->pid)
                c->st[i].dead = true;
        }
        if (pid_seen(c, ep->pid)) {
            ht_event ev;
            memset(&ev, 0, sizeof ev);
            ev.Header = (ht_event_header){.Type = HT_EVENT_PROCESS_EXIT, .Version = 1,
                                          .Cpu = HT_CPU_UNKNOWN, .ProcessId = ep->pid,
                                          .ThreadId = ep->pid, .TimeStamp = ep->when};
            ev.u.ProcessExit.ExitStatus = ep->status;
            ev.u.ProcessExit.KnownStatus = ep->known;
            if (deliver(c, to, &ev) < 0)
                return -1;
        }
    }
    c->nended = keep;
    return 0;
}

static void reclaim(ht_collector *c, uint32_t used)
{
    for (uint32_t i = 0; i < used; i++) {
        ht_slot *s = ht_session_slot(c->base, i);
        slot_state *ss = &c->st[i];
        uint32_t state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
        if (state == HT_SLOT_FREE || !(state == HT_SLOT_CLOSED || ss->dead))
            continue;
        if (ss->cursor != __atomic_load_n(&s->head, __ATOMIC_ACQUIRE))
            continue;
        __atomic_store_n(&s->head, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&s->tail, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&s->lost, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&s->busy_since, 0, __ATOMIC_RELAXED); /* a thread that died mid-realloc */
        s->pid = s->tid = 0;
        s->generation++;
        set_realloc_head(c, i, false);
        *ss = (slot_state){0};
        __atomic_store_n(&s->state, HT_SLOT_FREE, __ATOMIC_RELEASE);
    }
}

/* Copy the record of `words` words at slot i's cursor to scratch, where
 * the program cannot change it while it is checked and decoded: in one
 * piece unless it wraps around the ring's end. */
static inline void copy_record(ht_collector *c, uint32_t i, uint32_t words)
{
    uint64_t *ring = ring_of(c, i);
    uint64_t cursor = c->st[i].cursor, first = (cursor >> 3) & c->ring_mask;
    if (words <= HEAP_RECORD_WORDS && first + HEAP_RECORD_WORDS <= c->ring_mask + 1) {
        /* A heap record: a copy of fixed length, inlined (what follows the
         * record is copied too, and not looked at). */
        memcpy(c->scratch, &ring[first], HEAP_RECORD_WORDS * 8);
    } else if (first + words <= c->ring_mask + 1) {
        memcpy(c->scratch, &ring[first], (size_t)words * 8);
    } else {
        for (uint32_t k = 0; k < words; k++)
            c->scratch[k] = ring_word(c, ring, cursor + 8 * k);
    }
}

/* Slot i's record went out: move past it. */
static inline void advance(ht_collector *c, uint32_t i, uint32_t words, uint64_t before)
{
    slot_state *ss = &c->st[i];
    ss->cursor += (uint64_t)words * 8;
    if (++ss->since_publish >= TAIL_PUBLISH_EVERY)
        publish_tail(c, i);
    queue_next(c, i, before);
}

/* Damaged ring: what is left of slot i's cannot be parsed. Count it. */
static int drop_damaged(ht_collector *c, const ht_collector_consumer *to, uint32_t i,
                        uint64_t before)
{
    slot_state *ss = &c->st[i];
    uint64_t left = ss->head - ss->cursor;
    c->stats.corrupt_records++;
    ss->cursor = ss->head;
    publish_tail(c, i);
    queue_next(c, i, before);
    return deliver_lost(c, to, ss->pid, ss->tid, left / 40 + 1, HT_LOSS_CORRUPT_BUFFER);
}

/* Deliver slot i's record of `words` words, which is not a heap event.
 * Apart: its event is large, and the frame of the heap events' path would
 * carry it. */
static __attribute__((noinline)) int deliver_other(ht_collector *c, const ht_collector_consumer *to,
                                                   uint32_t i, uint32_t words, uint64_t before)
{
    ht_event ev;
    copy_record(c, i, words);
    if (decode_record(c, &c->st[i], &ev) < 0)
        return drop_damaged(c, to, i, before);
    if (deliver(c, to, &ev) < 0)
        return -1;
    advance(c, i, words, before);
    return 0;
}

/* Deliver the record at slot i's cursor and advance. depth bounds the chain
 * of reallocs that may have to go out before it. */
static int deliver_next(ht_collector *c, const ht_collector_consumer *to, uint32_t i,
                        uint64_t before, int depth)
{
    slot_state *ss = &c->st[i];
    uint64_t w0 = ring_word(c, ring_of(c, i), ss->cursor);
    uint32_t words = ht_record_words(w0);
    if (!record_fits(w0, ss->cursor, ss->head))
        return drop_damaged(c, to, i, before);
    if (!is_heap_type(ht_record_type(w0)))
        return deliver_other(c, to, i, words, before);
    ht_record *rec = &c->batch[c->nbatch];
    copy_record(c, i, words);
    if (decode_heap(ss, w0, c->scratch, rec, &c->batch_extra[c->nbatch]) < 0)
        return drop_damaged(c, to, i, before);
    uint64_t created = rec->type != HT_EVENT_HEAP_FREE ? rec->u.heap.address : 0;
    int32_t first = created && depth < 16 ? realloc_first(c, i, created, rec->time) : -1;
    if (first >= 0) {
        /* The scratch copy and the run's next place are overwritten by the
         * other record: ours is read again after. */
        if (deliver_next(c, to, (uint32_t)first, before, depth + 1) < 0)
            return -1;
        return deliver_next(c, to, i, before, depth + 1);
    }
    if (queue_heap(c, to, ss) < 0)
        return -1;
    advance(c, i, words, before);
    return 0;
}

/* The round's run from slot i, whose record at the cursor is due: its heap
 * records one after another, each read and checked once, for as long as
 * each is due (the first is; the others must be stamped before `before`
 * and before every other slot's next record) and no other thread has a
 * REALLOC waiting (realloc_first could then ask for that one first).
 * Returns 1 when the run stopped at a record that is not due, or at the end
 * of what was committed (the slot is then queued as queue_next does); 0 when
 * the record at the cursor is due, or damaged, but is not one for this path
 * (another event, damage, a realloc to order): deliver_next takes it; -1 on
 * a consumer error. */
static int run_heap_records(ht_collector *c, const ht_collector_consumer *to, uint32_t i,
                            uint64_t before)
{
    slot_state *ss = &c->st[i];
    uint64_t *ring = ring_of(c, i);
    uint64_t due = c->heap_len && c->heap_ts[0] < before ? c->heap_ts[0] : before;
    if (c->nbatch && c->batch_pid != ss->pid && flush_heap_run(c, to) < 0)
        return -1;
    c->batch_pid = ss->pid;
    /* Our own flag may be stale here (it is set again on the way out): it
     * counts once either way. No other slot's flag changes during the run. */
    if (c->nrealloc_heads > (ss->realloc_head ? 1u : 0u) && ss->cursor < ss->head)
        return 0;
    /* The slot's and the run's counters in locals (a store into the run
     * could alias them), written back before anything that reads them. */
    uint64_t cursor = ss->cursor, head = ss->head, mask = c->ring_mask;
    uint32_t nbatch = c->nbatch, since = ss->since_publish;
    int result = 1;
    for (bool first = true; cursor < head; first = false) {
        uint64_t w0 = __atomic_load_n(&ring[(cursor >> 3) & mask], __ATOMIC_RELAXED);
        if (!record_fits(w0, cursor, head)) {
            result = 0;
            break;
        }
        uint64_t ts = __atomic_load_n(&ring[((cursor >> 3) + 1) & mask], __ATOMIC_RELAXED);
        if (!first && ts >= due)
            break;
        if (!is_heap_type(ht_record_type(w0))) {
            result = 0;
            break;
        }
        uint32_t words = ht_record_words(w0);
        uint64_t at = (cursor >> 3) & mask;
        const uint64_t *w = &ring[at];
        if (at + words > mask + 1) {
            ss->cursor = cursor;
            copy_record(c, i, words); /* in two pieces */
            w = c->scratch;
        }
        if (decode_heap(ss, w0, w, &c->batch[nbatch], &c->batch_extra[nbatch]) < 0) {
            result = 0;
            break;
        }
        cursor += (uint64_t)words * 8;
        if (++since >= TAIL_PUBLISH_EVERY) {
            ss->cursor = cursor;
            publish_tail(c, i);
            since = 0;
        }
        if (++nbatch == HEAP_RUN) {
            ss->cursor = cursor;
            ss->since_publish = since;
            c->nbatch = nbatch;
            if (flush_heap_run(c, to) < 0)
                return -1;
            nbatch = c->nbatch;
        }
    }
    ss->cursor = cursor;
    ss->since_publish = since;
    c->nbatch = nbatch;
    if (result)
        queue_next(c, i, before);
    return result;
}

long ht_collector_round(ht_collector *c, const ht_collector_consumer *to, bool final)
{
    uint64_t before = final ? UINT64_MAX : writers_now(c);
    /* The clock read precedes every head read: the fenced TSC read, or the
     * vDSO's store of the time, which the fence waits for. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    uint64_t start_events = c->stats.events + c->nbatch;
    uint32_t used = __atomic_load_n(&c->control->slots_used, __ATOMIC_ACQUIRE);
    if (used > c->slots)
        used = c->slots;
    if (used > c->stats.slots_peak)
        c->stats.slots_peak = used;

    uint64_t no_slot = __atomic_load_n(&c->control->lost_no_slot, __ATOMIC_RELAXED);
    if (no_slot > c->lost_no_slot_seen) {
        if (deliver_lost(c, to, c->root_pid, 0, no_slot - c->lost_no_slot_seen,
                         HT_LOSS_NO_BUFFER) < 0)
            return -1;
        c->lost_no_slot_seen = no_slot;
    }

    /* A realloc in progress holds back what was stamped after it began
     * (its old block may already be someone else's), unless it has taken so
     * long that its thread is stopped or stuck: then order gives way to
     * progress. Each slot's busy mark is read before its head, so a mark
     * found clear means its record is already in. */
    c->heap_len = 0;
    c->run_slot = UINT32_MAX; /* also after a round that failed half way */
    uint64_t round_start = before;
    for (uint32_t i = 0; i < used; i++) {
        ht_slot *s = ht_session_slot(c->base, i);
        slot_state *ss = &c->st[i];
        if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == HT_SLOT_FREE)
            continue;
        uint64_t busy = __atomic_load_n(&s->busy_since, __ATOMIC_ACQUIRE);
        if (busy && busy < before && round_start - busy < c->busy_patience && !ss->dead)
            before = busy;
        ss->head = __atomic_load_n(&s->head, __ATOMIC_ACQUIRE);
        if (ss->pid == 0) {
            ss->pid = s->pid;
            ss->tid = s->tid;
            note_pid(c, ss->pid);
        }
        uint64_t lost = __atomic_load_n(&s->lost, __ATOMIC_RELAXED);
        if (lost > ss->lost_seen) {
            if (deliver_lost(c, to, ss->pid, ss->tid, lost - ss->lost_seen,
                             HT_LOSS_BUFFER_FULL) < 0)
                return -1;
            ss->lost_seen = lost;
        }
    }
    for (uint32_t i = 0; i < used; i++)
        if (__atomic_load_n(&ht_session_slot(c->base, i)->state, __ATOMIC_ACQUIRE) != HT_SLOT_FREE)
            queue_next(c, i, before);

    while (c->heap_len) {
        uint64_t cursor;
        uint32_t i = heap_pop(c, &cursor);
        if (cursor != c->st[i].cursor)
            continue; /* that record already went out ahead of its time */
        c->run_slot = i;
        do {
            c->run_more = false;
            int taken = run_heap_records(c, to, i, before);
            if (taken < 0 || (taken == 0 && deliver_next(c, to, i, before, 0) < 0))
                return -1;
        } while (c->run_more);
    }
    c->run_slot = UINT32_MAX;
    /* A run not yet full waits for the next round's records while records
     * keep coming: rounds follow each other closely then (tens of records
     * each), and a run cut at every round cost the consumers' per-run work
     * that often. It goes out when a round finds nothing new, before any
     * other event, and at the end. */
    long taken = (long)(c->stats.events + c->nbatch - start_events);
    if ((final || taken == 0) && flush_heap_run(c, to) < 0)
        return -1;
    for (uint32_t i = 0; i < used; i++)
        if (c->st[i].since_publish)
            publish_tail(c, i);
    if (emit_ended(c, to) < 0)
        return -1;
    reclaim(c, used);
    return taken;
}
