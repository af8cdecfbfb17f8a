#include "synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/codec.h"
#include "heaptrail/writer.h"
#include "format/schema.h"

#define ADDR_RING 64
#define LONG_STRING 70000 /* longer than a zstd block and than the writer's small buffers */

struct synth_stream {
    uint64_t rng;
    uint32_t pid;
    uint64_t emitted;
    uint64_t time;
    uint64_t last_addr;
    uint64_t addrs[ADDR_RING];
    unsigned naddrs;
    uint64_t handles[4];
    uint32_t tids[6];
    char *strings[2];
    uint64_t frames[HT_MAX_FRAMES];
    ht_event ev;
};

/* splitmix64: tiny, and every seed gives a full-quality stream. */
static uint64_t next64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t below(synth_stream *s, uint64_t n) { return next64(&s->rng) % n; }

/* Integers: mostly small (as real traces are), often the extremes. */
static uint64_t any_u64(synth_stream *s)
{
    switch (below(s, 10)) {
    case 0: return 0;
    case 1: return UINT64_MAX;
    case 2: return UINT64_MAX - below(s, 3);
    case 3: return next64(&s->rng) >> below(s, 64);
    case 4: return 1ull << below(s, 64);
    default: return below(s, 5000);
    }
}

static uint32_t any_u32(synth_stream *s)
{
    switch (below(s, 8)) {
    case 0: return 0;
    case 1: return UINT32_MAX;
    case 2: return (uint32_t)next64(&s->rng);
    case 3: return 1u << below(s, 32);
    default: return (uint32_t)below(s, 300);
    }
}

static int32_t any_i32(synth_stream *s)
{
    switch (below(s, 8)) {
    case 0: return INT32_MIN;
    case 1: return INT32_MAX;
    case 2: return -1;
    case 3: return 0;
    case 4: return (int32_t)(uint32_t)next64(&s->rng);
    default: return (int32_t)below(s, 1000) - 500;
    }
}

static int64_t any_i64(synth_stream *s)
{
    switch (below(s, 8)) {
    case 0: return INT64_MIN;
    case 1: return INT64_MAX;
    case 2: return -1;
    case 3: return 0;
    case 4: return (int64_t)next64(&s->rng);
    default: return (int64_t)below(s, 1000000) - 500000;
    }
}

/* Addresses shaped for the address model: neighbours, repeats, and literals. */
static uint64_t new_address(synth_stream *s)
{
    uint64_t a;
    switch (below(s, 12)) {
    case 0: a = 0; break;
    case 1: a = UINT64_MAX; break;
    case 2: a = next64(&s->rng); break;
    case 3: a = s->last_addr - 16 * below(s, 1000); break;
    case 4: a = s->last_addr + 1 + below(s, 15); break;
    default: a = s->last_addr + 16 * (1 + below(s, 64)); break;
    }
    s->last_addr = a;
    s->addrs[s->naddrs++ % ADDR_RING] = a;
    return a;
}

static uint64_t old_address(synth_stream *s)
{
    if (s->naddrs == 0 || below(s, 10) == 0)
        return any_u64(s);
    unsigned avail = s->naddrs < ADDR_RING ? s->naddrs : ADDR_RING;
    return s->addrs[(s->naddrs - 1 - (unsigned)below(s, avail)) % ADDR_RING];
}

static uint64_t handle(synth_stream *s)
{
    if (below(s, 8) == 0)
        s->handles[below(s, 4)] = any_u64(s);
    return s->handles[below(s, 4)];
}

static ht_str any_string(synth_stream *s, int which)
{
    uint32_t len;
    switch (below(s, 8)) {
    case 0: len = 0; break;
    case 1:
        len = below(s, 500) == 0 ? LONG_STRING - (uint32_t)below(s, 10) : (uint32_t)below(s, 4096);
        break;
    default: len = (uint32_t)below(s, 48); break;
    }
    char *b = s->strings[which];
    for (uint32_t i = 0; i < len; i += 8) {
        uint64_t r = next64(&s->rng);
        memcpy(b + i, &r, len - i < 8 ? len - i : 8); /* any byte, NUL included */
    }
    return (ht_str){b, len};
}

static uint32_t any_frames(synth_stream *s)
{
    uint32_t depth;
    switch (below(s, 50)) {
    case 0: depth = HT_MAX_FRAMES; break;
    case 1: depth = 0; break;
    default: depth = (uint32_t)below(s, 48); break;
    }
    for (uint32_t k = 0; k < depth; k++)
        s->frames[k] = below(s, 16) == 0 ? any_u64(s) : 0x555555554000ull + below(s, 1u << 20);
    return depth;
}

static void next_time(synth_stream *s)
{
    uint64_t r = below(s, 2000);
    if (r == 0)
        s->time = 0;
    else if (r == 1)
        s->time = UINT64_MAX;
    else if (r < 10)
        s->time -= below(s, 1u << 24); /* clocks of different CPUs disagree a little */
    else
        s->time += below(s, 400);
}

/* The types other than alloc, free and realloc, which make most of a real trace. */
static const uint16_t rare_types[] = {
    HT_EVENT_HEAP_CREATE,   HT_EVENT_HEAP_DESTROY,  HT_EVENT_HEAP_EXPAND,  HT_EVENT_HEAP_SNAPSHOT,
    HT_EVENT_HEAP_CONTRACT, HT_EVENT_HEAP_LOCK,     HT_EVENT_HEAP_UNLOCK,  HT_EVENT_HEAP_VALIDATE,
    HT_EVENT_HEAP_WALK,     HT_EVENT_PROCESS_START, HT_EVENT_PROCESS_EXIT, HT_EVENT_THREAD_START,
    HT_EVENT_THREAD_EXIT,   HT_EVENT_THREAD_NAME,   HT_EVENT_MODULE_LOAD,  HT_EVENT_MODULE_UNLOAD,
    HT_EVENT_STACK_DEFINE,  HT_EVENT_OS_MAP,        HT_EVENT_OS_UNMAP,     HT_EVENT_OS_REMAP,
    HT_EVENT_LOST,          HT_EVENT_CLOCK,
};

static uint16_t pick_type(synth_stream *s)
{
    uint64_t r = below(s, 100);
    if (r < 30)
        return HT_EVENT_HEAP_ALLOC;
    if (r < 58)
        return HT_EVENT_HEAP_FREE;
    if (r < 66)
        return HT_EVENT_HEAP_REALLOC;
    return rare_types[below(s, sizeof rare_types / sizeof rare_types[0])];
}

/* One assignment per statement: the order of the generator's calls must not
 * depend on how a compiler orders an initializer list. */
static void fill_payload(synth_stream *s, ht_event *e)
{
    switch (e->Header.Type) {
    case HT_EVENT_HEAP_ALLOC:
        e->u.Alloc.HeapHandle = handle(s);
        e->u.Alloc.Size = any_u64(s);
        e->u.Alloc.Address = new_address(s);
        e->u.Alloc.Source = any_u32(s);
        break;
    case HT_EVENT_HEAP_FREE:
        e->u.Free.HeapHandle = handle(s);
        e->u.Free.Address = old_address(s);
        e->u.Free.Source = any_u32(s);
        break;
    case HT_EVENT_HEAP_REALLOC:
        e->u.Realloc.HeapHandle = handle(s);
        e->u.Realloc.OldAddress = old_address(s);
        e->u.Realloc.NewAddress = new_address(s);
        e->u.Realloc.NewSize = any_u64(s);
        e->u.Realloc.OldSize = any_u64(s);
        e->u.Realloc.Source = any_u32(s);
        break;
    case HT_EVENT_HEAP_CREATE:
        e->u.Create.HeapHandle = handle(s);
        e->u.Create.HeapFlags = any_u32(s);
        break;
    case HT_EVENT_HEAP_DESTROY:
    case HT_EVENT_HEAP_LOCK:
    case HT_EVENT_HEAP_UNLOCK:
    case HT_EVENT_HEAP_VALIDATE:
    case HT_EVENT_HEAP_WALK: e->u.Handle.HeapHandle = handle(s); break;
    case HT_EVENT_HEAP_EXPAND:
        e->u.Expand.HeapHandle = handle(s);
        e->u.Expand.CommittedSize = any_u64(s);
        e->u.Expand.CommitAddress = any_u64(s);
        e->u.Expand.FreeSpace = any_u64(s);
        e->u.Expand.CommittedSpace = any_u64(s);
        e->u.Expand.ReservedSpace = any_u64(s);
        e->u.Expand.NoOfUCRs = any_u32(s);
        break;
    case HT_EVENT_HEAP_CONTRACT:
        e->u.Contract.HeapHandle = handle(s);
        e->u.Contract.DeCommittedSize = any_u64(s);
        e->u.Contract.DeCommitAddress = any_u64(s);
        e->u.Contract.FreeSpace = any_u64(s);
        e->u.Contract.CommittedSpace = any_u64(s);
        e->u.Contract.ReservedSpace = any_u64(s);
        e->u.Contract.NoOfUCRs = any_u32(s);
        break;
    case HT_EVENT_HEAP_SNAPSHOT:
        e->u.SnapShot.HeapHandle = handle(s);
        e->u.SnapShot.FreeSpace = any_u64(s);
        e->u.SnapShot.CommittedSpace = any_u64(s);
        e->u.SnapShot.ReservedSpace = any_u64(s);
        e->u.SnapShot.HeapFlags = any_u32(s);
        break;
    case HT_EVENT_PROCESS_START:
        e->u.ProcessStart.ParentPid = any_u32(s);
        e->u.ProcessStart.Executable = any_string(s, 0);
        e->u.ProcessStart.CommandLine = any_string(s, 1);
        break;
    case HT_EVENT_PROCESS_EXIT:
        e->u.ProcessExit.ExitStatus = any_i32(s);
        e->u.ProcessExit.KnownStatus = any_u32(s);
        break;
    case HT_EVENT_THREAD_START: e->u.ThreadStart.ParentTid = any_u32(s); break;
    case HT_EVENT_THREAD_EXIT: break;
    case HT_EVENT_THREAD_NAME: e->u.ThreadName.Name = any_string(s, 0); break;
    case HT_EVENT_MODULE_LOAD:
        e->u.ModuleLoad.Base = any_u64(s);
        e->u.ModuleLoad.Size = any_u64(s);
        e->u.ModuleLoad.Path = any_string(s, 0);
        e->u.ModuleLoad.BuildId = any_string(s, 1);
        break;
    case HT_EVENT_MODULE_UNLOAD: e->u.ModuleUnload.Base = any_u64(s); break;
    case HT_EVENT_STACK_DEFINE:
        e->u.StackDefine.StackId = any_u32(s);
        e->u.StackDefine.Depth = any_frames(s);
        e->u.StackDefine.Frames = s->frames;
        break;
    case HT_EVENT_OS_MAP:
        e->u.OsMap.Address = any_u64(s);
        e->u.OsMap.Length = any_u64(s);
        e->u.OsMap.Protection = any_u32(s);
        e->u.OsMap.Flags = any_u32(s);
        break;
    case HT_EVENT_OS_UNMAP:
        e->u.OsUnmap.Address = any_u64(s);
        e->u.OsUnmap.Length = any_u64(s);
        break;
    case HT_EVENT_OS_REMAP:
        e->u.OsRemap.OldAddress = any_u64(s);
        e->u.OsRemap.OldLength = any_u64(s);
        e->u.OsRemap.NewAddress = any_u64(s);
        e->u.OsRemap.NewLength = any_u64(s);
        break;
    case HT_EVENT_LOST:
        e->u.Lost.EventsLost = any_u64(s);
        e->u.Lost.Reason = any_u32(s);
        break;
    case HT_EVENT_CLOCK:
        e->u.Clock.ClockId = any_u32(s);
        e->u.Clock.ResolutionNs = any_u32(s);
        e->u.Clock.RealtimeOffsetNs = any_i64(s);
        break;
    }
}

/* The event exactly as a reader returns it: header fields the type does not
 * store (stack id, cpu) read back as "none". */
static const ht_event *stream_next(synth_stream *s)
{
    ht_event *e = &s->ev;
    memset(&e->Header, 0, sizeof e->Header);
    memset(&e->u, 0, sizeof e->u);
    uint16_t type = pick_type(s);
    size_t n;
    const ht_event_desc *desc = &ht_schema_builtin(&n)[ht_schema_builtin_tag(type)];
    next_time(s);
    e->Header.Type = type;
    e->Header.Version = 1;
    e->Header.ProcessId = s->pid;
    e->Header.TimeStamp = s->time;
    e->Header.ThreadId = below(s, 50) == 0 ? any_u32(s) : s->tids[below(s, 6)];
    e->Header.Cpu = HT_CPU_UNKNOWN;
    if (desc->flags & HT_DESC_HAS_CPU)
        e->Header.Cpu = below(s, 4) == 0 ? any_u32(s) : (uint32_t)below(s, 64);
    if (desc->flags & HT_DESC_HAS_STACK)
        e->Header.StackId = any_u32(s);
    e->Name = ht_event_type_name(type);
    fill_payload(s, e);
    s->emitted++;
    return e;
}

void synth_init(synth *s, uint64_t seed, const uint32_t *pids, size_t npids)
{
    s->pick = seed;
    s->count = npids;
    s->streams = calloc(npids, sizeof *s->streams);
    for (size_t i = 0; i < npids; i++) {
        synth_stream *st = calloc(1, sizeof *st);
        st->pid = pids[i];
        st->rng = seed ^ (0xD1B54A32D192ED03ull * (pids[i] + 1ull));
        st->time = next64(&st->rng) >> 20;
        st->last_addr = 0x7f0000000000ull + (below(st, 1u << 20) << 4);
        for (int k = 0; k < 4; k++)
            st->handles[k] = k == 0 ? 1 : next64(&st->rng);
        uint32_t tids[6] = {pids[i], pids[i] + 1, pids[i] + 2, (uint32_t)next64(&st->rng), 0,
                            UINT32_MAX};
        memcpy(st->tids, tids, sizeof tids);
        st->strings[0] = malloc(LONG_STRING);
        st->strings[1] = malloc(LONG_STRING);
        if (!st->strings[0] || !st->strings[1]) {
            fprintf(stderr, "synth: out of memory\n");
            abort();
        }
        s->streams[i] = st;
    }
}

void synth_free(synth *s)
{
    for (size_t i = 0; i < s->count; i++) {
        free(s->streams[i]->strings[0]);
        free(s->streams[i]->strings[1]);
        free(s->streams[i]);
    }
    free(s->streams);
    s->streams = NULL;
    s->count = 0;
}

const ht_event *synth_next(synth *s)
{
    /* The first process is a busy one, as the recorded program usually is. */
    uint64_t r = next64(&s->pick);
    size_t i = (r & 3) == 0 ? 0 : (size_t)((r >> 2) % s->count);
    return stream_next(s->streams[i]);
}

const ht_event *synth_next_of(synth *s, uint32_t pid)
{
    for (size_t i = 0; i < s->count; i++)
        if (s->streams[i]->pid == pid)
            return stream_next(s->streams[i]);
    return NULL;
}

const ht_trace_info *synth_info(void)
{
    static const ht_trace_info info = {
        .Clock = {1, 1, -1234567890123456789LL},
        .StartTimeNs = 0xFEDCBA9876543210ull,
        .Host = "testhost",
        .Kernel = "6.1.0-test",
        .Recorder = "synth 1.0",
        .Command = "prog --flag arg",
        .Options = 0x7,
    };
    return &info;
}

int synth_write(int fd, uint64_t seed, const uint32_t *pids, size_t npids, uint64_t n,
                uint32_t chunk_bytes, synth_written *out)
{
    char err[256];
    ht_writer_options opt = {.ChunkBytes = chunk_bytes};
    ht_writer *w = ht_writer_create(fd, synth_info(), &opt, err, sizeof err);
    if (!w) {
        fprintf(stderr, "synth_write: %s\n", err);
        return -1;
    }
    memset(out, 0, sizeof *out);
    synth gen;
    synth_init(&gen, seed, pids, npids);
    int r = 0;
    for (uint64_t i = 0; i < n && r == 0; i++) {
        const ht_event *ev = synth_next(&gen);
        r = ht_writer_add(w, ev);
        out->by_type[ev->Header.Type & 0xFF]++;
        if (ev->Header.Type == HT_EVENT_LOST)
            out->lost += ev->u.Lost.EventsLost;
    }
    if (r == 0)
        r = ht_writer_finish(w);
    if (r < 0)
        perror("synth_write");
    ht_writer_totals(w, &out->events, &out->chunks, &out->bytes);
    ht_writer_destroy(w);
    synth_free(&gen);
    return r;
}

/* ---- comparison ---------------------------------------------------------- */

enum { FV_INT = 0, FV_STR = 1, FV_ARRAY = 2 }; /* the values of ht_field_value.IsString */

typedef struct fval {
    const char *name;
    int kind;
    uint64_t value;
    const void *bytes;
    size_t len;
} fval;

#define I(nm, x) f[n++] = (fval){nm, FV_INT, (uint64_t)(x), NULL, 0}
#define S(nm, x) f[n++] = (fval){nm, FV_STR, 0, (x).data, (x).len}
#define A(nm, p, depth) f[n++] = (fval){nm, FV_ARRAY, 0, p, (size_t)(depth) * 8}

/* The fields of an event's union member, in descriptor order, with the names
 * of events.h: written out by hand so that the check does not trust the
 * library's own field table. */
static unsigned fields_of(const ht_event *e, fval *f)
{
    unsigned n = 0;
    switch (e->Header.Type) {
    case HT_EVENT_HEAP_ALLOC:
        I("HeapHandle", e->u.Alloc.HeapHandle);
        I("Size", e->u.Alloc.Size);
        I("Address", e->u.Alloc.Address);
        I("Source", e->u.Alloc.Source);
        break;
    case HT_EVENT_HEAP_FREE:
        I("HeapHandle", e->u.Free.HeapHandle);
        I("Address", e->u.Free.Address);
        I("Source", e->u.Free.Source);
        break;
    case HT_EVENT_HEAP_REALLOC:
        I("HeapHandle", e->u.Realloc.HeapHandle);
        I("NewAddress", e->u.Realloc.NewAddress);
        I("OldAddress", e->u.Realloc.OldAddress);
        I("NewSize", e->u.Realloc.NewSize);
        I("OldSize", e->u.Realloc.OldSize);
        I("Source", e->u.Realloc.Source);
        break;
    case HT_EVENT_HEAP_CREATE:
        I("HeapHandle", e->u.Create.HeapHandle);
        I("HeapFlags", e->u.Create.HeapFlags);
        break;
    case HT_EVENT_HEAP_DESTROY:
    case HT_EVENT_HEAP_LOCK:
    case HT_EVENT_HEAP_UNLOCK:
    case HT_EVENT_HEAP_VALIDATE:
    case HT_EVENT_HEAP_WALK: I("HeapHandle", e->u.Handle.HeapHandle); break;
    case HT_EVENT_HEAP_EXPAND:
        I("HeapHandle", e->u.Expand.HeapHandle);
        I("CommittedSize", e->u.Expand.CommittedSize);
        I("CommitAddress", e->u.Expand.CommitAddress);
        I("FreeSpace", e->u.Expand.FreeSpace);
        I("CommittedSpace", e->u.Expand.CommittedSpace);
        I("ReservedSpace", e->u.Expand.ReservedSpace);
        I("NoOfUCRs", e->u.Expand.NoOfUCRs);
        break;
    case HT_EVENT_HEAP_SNAPSHOT:
        I("HeapHandle", e->u.SnapShot.HeapHandle);
        I("FreeSpace", e->u.SnapShot.FreeSpace);
        I("CommittedSpace", e->u.SnapShot.CommittedSpace);
        I("ReservedSpace", e->u.SnapShot.ReservedSpace);
        I("HeapFlags", e->u.SnapShot.HeapFlags);
        break;
    case HT_EVENT_HEAP_CONTRACT:
        I("HeapHandle", e->u.Contract.HeapHandle);
        I("DeCommittedSize", e->u.Contract.DeCommittedSize);
        I("DeCommitAddress", e->u.Contract.DeCommitAddress);
        I("FreeSpace", e->u.Contract.FreeSpace);
        I("CommittedSpace", e->u.Contract.CommittedSpace);
        I("ReservedSpace", e->u.Contract.ReservedSpace);
        I("NoOfUCRs", e->u.Contract.NoOfUCRs);
        break;
    case HT_EVENT_PROCESS_START:
        I("ParentPid", e->u.ProcessStart.ParentPid);
        S("Executable", e->u.ProcessStart.Executable);
        S("CommandLine", e->u.ProcessStart.CommandLine);
        break;
    case HT_EVENT_PROCESS_EXIT:
        I("ExitStatus", (int64_t)e->u.ProcessExit.ExitStatus);
        I("KnownStatus", e->u.ProcessExit.KnownStatus);
        break;
    case HT_EVENT_THREAD_START: I("ParentTid", e->u.ThreadStart.ParentTid); break;
    case HT_EVENT_THREAD_EXIT: break;
    case HT_EVENT_THREAD_NAME: S("Name", e->u.ThreadName.Name); break;
    case HT_EVENT_MODULE_LOAD:
        I("Base", e->u.ModuleLoad.Base);
        I("Size", e->u.ModuleLoad.Size);
        S("Path", e->u.ModuleLoad.Path);
        S("BuildId", e->u.ModuleLoad.BuildId);
        break;
    case HT_EVENT_MODULE_UNLOAD: I("Base", e->u.ModuleUnload.Base); break;
    case HT_EVENT_STACK_DEFINE:
        I("StackId", e->u.StackDefine.StackId);
        A("Frames", e->u.StackDefine.Frames, e->u.StackDefine.Depth);
        break;
    case HT_EVENT_OS_MAP:
        I("Address", e->u.OsMap.Address);
        I("Length", e->u.OsMap.Length);
        I("Protection", e->u.OsMap.Protection);
        I("Flags", e->u.OsMap.Flags);
        break;
    case HT_EVENT_OS_UNMAP:
        I("Address", e->u.OsUnmap.Address);
        I("Length", e->u.OsUnmap.Length);
        break;
    case HT_EVENT_OS_REMAP:
        I("OldAddress", e->u.OsRemap.OldAddress);
        I("OldLength", e->u.OsRemap.OldLength);
        I("NewAddress", e->u.OsRemap.NewAddress);
        I("NewLength", e->u.OsRemap.NewLength);
        break;
    case HT_EVENT_LOST:
        I("EventsLost", e->u.Lost.EventsLost);
        I("Reason", e->u.Lost.Reason);
        break;
    case HT_EVENT_CLOCK:
        I("ClockId", e->u.Clock.ClockId);
        I("ResolutionNs", e->u.Clock.ResolutionNs);
        I("RealtimeOffsetNs", e->u.Clock.RealtimeOffsetNs);
        break;
    }
    return n;
}

static char diff_buf[512];

#define DIFF(...) (snprintf(diff_buf, sizeof diff_buf, __VA_ARGS__), diff_buf)

static const char *fval_diff(const char *where, const fval *want, const fval *got)
{
    if (want->kind == FV_INT && got->value != want->value)
        return DIFF("%s %s: %llu, expected %llu", where, want->name,
                    (unsigned long long)got->value, (unsigned long long)want->value);
    if (want->kind != FV_INT &&
        (got->len != want->len || (want->len && memcmp(got->bytes, want->bytes, want->len))))
        return DIFF("%s %s: %zu bytes differ from the %zu expected", where, want->name, got->len,
                    want->len);
    return NULL;
}

const char *synth_diff(const ht_event *exp, const ht_event *got)
{
    const ht_event_header *a = &exp->Header, *b = &got->Header;
#define HDR(field)                                                                                 \
    if (a->field != b->field)                                                                      \
        return DIFF("header %s: %llu, expected %llu", #field, (unsigned long long)b->field,        \
                    (unsigned long long)a->field);
    HDR(Type) HDR(Version) HDR(Flags) HDR(Cpu) HDR(ProcessId) HDR(ThreadId) HDR(TimeStamp)
    HDR(StackId)
#undef HDR
    if (!got->Name || strcmp(got->Name, exp->Name) != 0)
        return DIFF("name %s, expected %s", got->Name ? got->Name : "(null)", exp->Name);
    fval want[HT_EVENT_MAX_FIELDS], have[HT_EVENT_MAX_FIELDS];
    unsigned n = fields_of(exp, want);
    fields_of(got, have);
    if (got->FieldCount != n)
        return DIFF("%s: %u fields, expected %u", exp->Name, got->FieldCount, n);
    for (unsigned i = 0; i < n; i++) {
        const char *d = fval_diff("member", &want[i], &have[i]);
        if (d)
            return d;
        const ht_field_value *g = &got->Fields[i];
        if (!g->Name || strcmp(g->Name, want[i].name) != 0 || g->IsString != want[i].kind)
            return DIFF("Fields[%u]: %s (kind %u), expected %s (kind %d)", i,
                        g->Name ? g->Name : "(null)", g->IsString, want[i].name, want[i].kind);
        fval generic = {g->Name, g->IsString, g->Value, g->Bytes.data, g->Bytes.len};
        if ((d = fval_diff("Fields", &want[i], &generic)))
            return d;
    }
    return NULL;
}

void synth_check_init(synth_check *c, uint64_t seed, const uint32_t *pids, size_t npids)
{
    memset(c, 0, sizeof *c);
    synth_init(&c->gen, seed, pids, npids);
}

void synth_check_free(synth_check *c) { synth_free(&c->gen); }

int synth_check_event(synth_check *c, const ht_event *ev)
{
    uint64_t index = c->events++;
    const ht_event *exp = synth_next_of(&c->gen, ev->Header.ProcessId);
    if (!exp) {
        snprintf(c->error, sizeof c->error, "event %llu: pid %u was never written",
                 (unsigned long long)index, ev->Header.ProcessId);
        return -1;
    }
    const char *d = synth_diff(exp, ev);
    if (d) {
        snprintf(c->error, sizeof c->error, "event %llu (pid %u, type 0x%x): %s",
                 (unsigned long long)index, ev->Header.ProcessId, exp->Header.Type, d);
        return -1;
    }
    if (ev->Header.Type == HT_EVENT_LOST)
        c->lost += ev->u.Lost.EventsLost;
    return 0;
}
