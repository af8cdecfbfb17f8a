/* libFuzzer target: any bytes, read as a trace file through the public reader
 * API, to the end. Beyond the sanitizers' findings it traps when the reader
 * breaks a promise of trace.h (an error without the file and offset, an
 * event with more fields than an event can have, counters out of step).
 * The same bytes are then read as records (format/parallel.h, the path of
 * whole-trace analyses, with its own direct decoder for heap events), with
 * no worker and with one: it must deliver the same events, field for field
 * where records keep them, and fail where the event reader failed.
 *
 * Checksums stop almost every mutation at the chunk header, so each input is
 * read twice: as it is, and with the checksums of its chunks made right,
 * which lets mutations reach the decompressor, the header records and the
 * event decoder. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "format/bytes.h"
#include "format/chunk.h"
#include "format/crc32c.h"
#include "format/parallel.h"
#include "format/records.h"
#include "heaptrail/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_reader: broken promise: %s\n", #cond);                           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Every byte the reader hands out is read, so that the sanitizers see a
 * string or an array that points outside its buffer. */
static volatile uint64_t sink;

static void touch(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += b[i];
    sink += s;
}

static void touch_str(ht_str s) { touch(s.data, s.len); }

static void touch_event(const ht_event *ev)
{
    CHECK(ev->Name != NULL);
    CHECK(ev->FieldCount <= HT_EVENT_MAX_FIELDS);
    touch(ev->Name, strlen(ev->Name));
    for (uint32_t i = 0; i < ev->FieldCount; i++) {
        const ht_field_value *f = &ev->Fields[i];
        CHECK(f->Name != NULL);
        touch(f->Name, strlen(f->Name));
        if (f->IsString)
            touch_str(f->Bytes);
        else
            sink += f->Value;
    }
    if (ev->Header.Flags & HT_EVENT_FLAG_UNKNOWN_TYPE)
        return;
    switch (ev->Header.Type) {
    case HT_EVENT_PROCESS_START:
        touch_str(ev->u.ProcessStart.Executable);
        touch_str(ev->u.ProcessStart.CommandLine);
        break;
    case HT_EVENT_THREAD_NAME: touch_str(ev->u.ThreadName.Name); break;
    case HT_EVENT_MODULE_LOAD:
        touch_str(ev->u.ModuleLoad.Path);
        touch_str(ev->u.ModuleLoad.BuildId);
        break;
    case HT_EVENT_STACK_DEFINE:
        touch(ev->u.StackDefine.Frames, ev->u.StackDefine.Depth * sizeof(uint64_t));
        break;
    default: sink += ev->u.Realloc.HeapHandle; break;
    }
}

/* What the event reader delivered, to compare the record reader with. */
typedef struct seen {
    ht_record *recs;
    uint32_t *pids;
    size_t count, cap, next;
} seen;

static void remember(seen *sn, const ht_event *ev)
{
    if (sn->count == sn->cap) {
        sn->cap = sn->cap ? sn->cap * 2 : 256;
        sn->recs = realloc(sn->recs, sn->cap * sizeof *sn->recs);
        sn->pids = realloc(sn->pids, sn->cap * sizeof *sn->pids);
        CHECK(sn->recs && sn->pids);
    }
    ht_record_from_event(ev, &sn->recs[sn->count]);
    sn->pids[sn->count++] = ev->Header.ProcessId;
}

static int compare_records(uint32_t pid, const ht_record *recs, size_t n, void *context)
{
    seen *sn = context;
    for (size_t i = 0; i < n; i++) {
        CHECK(sn->next < sn->count);
        const ht_record *a = &sn->recs[sn->next], *b = &recs[i];
        CHECK(sn->pids[sn->next] == pid);
        CHECK(a->type == b->type && a->tid == b->tid && a->time == b->time &&
              a->flags == b->flags);
        /* the fields each heap type names (records.h) */
        int known = !(a->flags & HT_EVENT_FLAG_UNKNOWN_TYPE);
        if (known && (a->type == HT_EVENT_HEAP_ALLOC || a->type == HT_EVENT_HEAP_FREE ||
                      a->type == HT_EVENT_HEAP_REALLOC))
            CHECK(a->source == b->source && a->u.heap.address == b->u.heap.address);
        if (known && (a->type == HT_EVENT_HEAP_ALLOC || a->type == HT_EVENT_HEAP_REALLOC))
            CHECK(a->u.heap.size == b->u.heap.size);
        if (known && a->type == HT_EVENT_HEAP_REALLOC)
            CHECK(a->u.heap.old_address == b->u.heap.old_address);
        sn->next++;
    }
    return 0;
}

/* Read path again as records and check them against what was seen;
 * failed: the event reader stopped on an error. */
static void read_records(const char *path, seen *sn, unsigned workers, int failed)
{
    ht_trace_error err;
    ht_trace *t = ht_trace_open(path, &err);
    CHECK(t != NULL); /* it opened a moment ago */
    sn->next = 0;
    int r = ht_trace_process_records(t, workers, compare_records, sn);
    CHECK(sn->next == sn->count);
    CHECK(failed ? r == -1 : r == 0);
    CHECK(ht_trace_get_status(t)->EventsRead == sn->count);
    ht_trace_close(t);
}

static void check_error(const ht_trace_error *e, const char *path)
{
    CHECK(e->code > HT_TRACE_OK && e->code <= HT_TRACE_ERR_NOMEM);
    CHECK(strstr(e->message, path) != NULL);
}

static void read_trace(const uint8_t *data, size_t size)
{
    /* One in-memory file, rewritten for each input: the reader takes a path. */
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-trace", MFD_CLOEXEC);
        if (fd < 0) {
            perror("memfd_create");
            abort();
        }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) < 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) {
        perror("fuzz_reader: memfd");
        abort();
    }

    ht_trace_error err;
    ht_trace *t = ht_trace_open(path, &err);
    if (!t) {
        check_error(&err, path);
        return;
    }
    const ht_trace_info *in = ht_trace_get_info(t);
    touch(in->Host, strlen(in->Host));
    touch(in->Kernel, strlen(in->Kernel));
    touch(in->Recorder, strlen(in->Recorder));
    touch(in->Command, strlen(in->Command));
    for (size_t i = 0; i < ht_trace_event_type_count(t); i++) {
        const char *name = ht_trace_event_type_name(t, i, NULL);
        CHECK(name != NULL);
        touch(name, strlen(name));
    }

    const ht_event *ev;
    uint64_t events = 0;
    int r;
    static seen sn;
    sn.count = 0;
    while ((r = ht_trace_next(t, &ev)) == 1) {
        touch_event(ev);
        remember(&sn, ev);
        events++;
    }
    const ht_trace_status *st = ht_trace_get_status(t);
    CHECK(st->EventsRead == events);
    CHECK(!(st->Complete && st->Truncated));
    CHECK(st->FileSize == size);
    if (r < 0) {
        const ht_trace_error *e = ht_trace_last_error(t);
        CHECK(e != NULL);
        check_error(e, path);
        CHECK(strstr(e->message, "offset") != NULL);
        CHECK(ht_trace_next(t, &ev) == -1);
    } else {
        CHECK(r == 0);
        CHECK(ht_trace_last_error(t) == NULL);
        CHECK(st->Complete || st->Truncated);
        CHECK(!st->Truncated || st->TruncatedAt + st->TrailingBytes == size);
        CHECK(ht_trace_next(t, &ev) == 0);
    }
    ht_trace_close(t);
    read_records(path, &sn, 0, r < 0);
    read_records(path, &sn, 1, r < 0);
}

/* Chunk header fields (docs/FORMAT.md): magic at 0, body size at 40, body
 * checksum at 48, header checksum at 60. */
static void fix_checksums(unsigned char *p, size_t size)
{
    size_t at = HT_FILE_HEADER_SIZE;
    while (size >= HT_CHUNK_HEADER_SIZE && at <= size - HT_CHUNK_HEADER_SIZE &&
           ht_load_u32(p + at) == HT_CHUNK_MAGIC) {
        size_t body = ht_load_u32(p + at + 40);
        size_t avail = size - at - HT_CHUNK_HEADER_SIZE;
        ht_store_u32(p + at + 48, ht_crc32c(0, p + at + HT_CHUNK_HEADER_SIZE, body < avail ? body : avail));
        ht_store_u32(p + at + 60, ht_crc32c(0, p + at, 60));
        if (body > avail)
            break;
        at += HT_CHUNK_HEADER_SIZE + body;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_trace(data, size);
    unsigned char *fixed = malloc(size ? size : 1);
    if (!fixed)
        abort();
    memcpy(fixed, data, size);
    fix_checksums(fixed, size);
    if (memcmp(fixed, data, size) != 0)
        read_trace(fixed, size);
    free(fixed);
    return 0;
}
