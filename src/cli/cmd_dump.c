/* heaptrail dump: every event of a trace, one line each (text, CSV or JSON
 * Lines): the tracerpt of heaptrail. Lines are built by hand into a stack
 * buffer and written through a large stdio buffer: printf per field would
 * cost more than decoding the event. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/frames.h"
#include "cli/json.h"
#include "cli/time_arg.h"
#include "cli/trace_open.h"
#include "cli/units.h"
#include "heaptrail/stacks.h"
#include "heaptrail/symbols.h"
#include "heaptrail/trace.h"

const char cmd_dump_usage[] =
    "usage: heaptrail dump [--format text|csv|json] [--pid P] [--tid T]\n"
    "                      [--event NAME[,NAME...]] FILE\n"
    "\n"
    "Print every event of a trace in file order, one line each.\n"
    "\n"
    "  --format text   readable lines: time since the recording started, pid, tid,\n"
    "                  event and its fields (the default)\n"
    "  --format csv    a header row, then time_ns,pid,tid,event,heap,address,size,\n"
    "                  old_address,old_size,source,stack_id,detail per event; empty\n"
    "                  cells where a column does not apply\n"
    "  --format json   JSON Lines: one object per event with the same keys (null\n"
    "                  where a column does not apply) and the event's own fields\n"
    "  --pid P         only the events of process P\n"
    "  --tid T         only the events of thread T\n"
    "  --event NAMES   only these event types (alloc, free, realloc, process_start,\n"
    "                  ...; 'heaptrail info' lists the types a trace holds)\n"
    "  --heap H        only the events of heap handle H (0x... or decimal)\n"
    "  --from T        only events at or after T, --to T only events before T: times\n"
    "                  since the recording started, as the text format prints them\n"
    "                  (1.5, 250ms, 30us, 100ns)\n"
    "  --stacks        the call stack of each event, resolved to functions, files\n"
    "                  and lines (text: indented lines; json: a \"stack\" list of\n"
    "                  {function, file, line, module, offset, inlined}, innermost\n"
    "                  first; csv: a last column \"stack\")\n"
    "  --debug-dir DIR also look for separate debug info under DIR (repeatable)\n"
    "  --sysroot DIR   find the recorded modules under DIR (a trace from another\n"
    "                  machine)\n"
    "\n"
    "Addresses and heap handles are printed in hexadecimal (0x...), other numbers\n"
    "in decimal, Source values by name (lookaside, lowfrag, mainpath, slowpath,\n"
    "invalid). Exit status: 0 success (also when the reader of the output goes\n"
    "away, as with '| head'), 1 damaged trace or write error, 2 usage error or not\n"
    "a trace.\n";

enum format { FORMAT_TEXT, FORMAT_CSV, FORMAT_JSON };

/* Source values that have a name of their own (MEMORY_FROM_* up to 6). */
#define HT_SOURCE_NAMES (MEMORY_FROM_SEGMENT_HEAP + 1)

/* ---- what an event shows ---- */

/* The columns every format has, for the events they apply to. */
enum {
    HAVE_HEAP = 1,
    HAVE_ADDRESS = 2,
    HAVE_SIZE = 4,
    HAVE_OLD_ADDRESS = 8,
    HAVE_OLD_SIZE = 16,
    HAVE_SOURCE = 32,
};

typedef struct columns {
    unsigned have;
    uint64_t heap, address, size, old_address, old_size;
    uint32_t source;
} columns;

/* The event's own fields: the CSV detail cell, JSON's extra keys. */
enum extra_kind {
    X_U64,
    X_I64,
    X_HEX,
    X_BOOL,
    X_STR,      /* bytes, shown as a string */
    X_ARGS,     /* NUL-separated arguments: a JSON array, spaces elsewhere */
    X_HEXBYTES, /* bytes shown as hex digits (build ids) */
    X_FRAMES,   /* return addresses */
};

typedef struct extra {
    const char *key;
    enum extra_kind kind;
    uint64_t u;
    int64_t i;
    ht_str s;
    const uint64_t *frames;
} extra;

#define MAX_EXTRAS HT_EVENT_MAX_FIELDS

typedef struct shown {
    columns c;
    extra x[MAX_EXTRAS];
    unsigned nx;
} shown;

static extra *add_extra(shown *sh, const char *key, enum extra_kind kind)
{
    extra *x = &sh->x[sh->nx++];
    x->key = key;
    x->kind = kind;
    return x;
}

static void x_u64(shown *sh, const char *key, uint64_t v) { add_extra(sh, key, X_U64)->u = v; }
static void x_i64(shown *sh, const char *key, int64_t v) { add_extra(sh, key, X_I64)->i = v; }
static void x_hex(shown *sh, const char *key, uint64_t v) { add_extra(sh, key, X_HEX)->u = v; }
static void x_bool(shown *sh, const char *key, int v) { add_extra(sh, key, X_BOOL)->u = v != 0; }
static void x_str(shown *sh, const char *key, ht_str v, enum extra_kind kind)
{
    add_extra(sh, key, kind)->s = v;
}

static void heap_space(shown *sh, uint64_t free_space, uint64_t committed, uint64_t reserved)
{
    x_u64(sh, "free_space", free_space);
    x_u64(sh, "committed_space", committed);
    x_u64(sh, "reserved_space", reserved);
}

static const char *loss_reason(uint32_t reason)
{
    switch (reason) {
    case HT_LOSS_BUFFER_FULL: return "buffer_full";
    case HT_LOSS_NO_BUFFER: return "no_buffer";
    case HT_LOSS_CORRUPT_BUFFER: return "corrupt_buffer";
    default: return "unknown";
    }
}

/* Sort an event's fields into the common columns and its own fields. */
static void show(const ht_event *ev, shown *sh)
{
    columns *c = &sh->c;
    c->have = 0;
    sh->nx = 0;
    if (ev->Header.Flags & HT_EVENT_FLAG_UNKNOWN_TYPE) {
        /* A type this library does not know: its fields as the trace describes them. */
        for (uint32_t i = 0; i < ev->FieldCount && i < MAX_EXTRAS; i++) {
            const ht_field_value *f = &ev->Fields[i];
            const char *key = f->Name ? f->Name : "field";
            if (f->IsString)
                x_str(sh, key, f->Bytes, X_STR);
            else
                x_u64(sh, key, f->Value);
        }
        return;
    }
    if (ev->Header.Cpu != HT_CPU_UNKNOWN) /* recorded for process and thread starts */
        x_u64(sh, "cpu", ev->Header.Cpu);
    switch (ev->Header.Type) {
    case HT_EVENT_HEAP_ALLOC:
        c->have = HAVE_HEAP | HAVE_ADDRESS | HAVE_SIZE | HAVE_SOURCE;
        c->heap = ev->u.Alloc.HeapHandle;
        c->address = ev->u.Alloc.Address;
        c->size = ev->u.Alloc.Size;
        c->source = ev->u.Alloc.Source;
        break;
    case HT_EVENT_HEAP_FREE:
        c->have = HAVE_HEAP | HAVE_ADDRESS | HAVE_SOURCE;
        c->heap = ev->u.Free.HeapHandle;
        c->address = ev->u.Free.Address;
        c->source = ev->u.Free.Source;
        break;
    case HT_EVENT_HEAP_REALLOC:
        c->have = HAVE_HEAP | HAVE_ADDRESS | HAVE_SIZE | HAVE_OLD_ADDRESS | HAVE_OLD_SIZE |
                  HAVE_SOURCE;
        c->heap = ev->u.Realloc.HeapHandle;
        c->address = ev->u.Realloc.NewAddress;
        c->size = ev->u.Realloc.NewSize;
        c->old_address = ev->u.Realloc.OldAddress;
        c->old_size = ev->u.Realloc.OldSize;
        c->source = ev->u.Realloc.Source;
        break;
    case HT_EVENT_HEAP_CREATE:
        c->have = HAVE_HEAP;
        c->heap = ev->u.Create.HeapHandle;
        x_hex(sh, "heap_flags", ev->u.Create.HeapFlags);
        break;
    case HT_EVENT_HEAP_DESTROY:
    case HT_EVENT_HEAP_LOCK:
    case HT_EVENT_HEAP_UNLOCK:
    case HT_EVENT_HEAP_VALIDATE:
    case HT_EVENT_HEAP_WALK:
        c->have = HAVE_HEAP;
        c->heap = ev->u.Handle.HeapHandle;
        break;
    case HT_EVENT_HEAP_EXPAND: {
        const ETW_HEAP_EVENT_EXPAND *e = &ev->u.Expand;
        c->have = HAVE_HEAP | HAVE_ADDRESS | HAVE_SIZE;
        c->heap = e->HeapHandle;
        c->address = e->CommitAddress;
        c->size = e->CommittedSize;
        heap_space(sh, e->FreeSpace, e->CommittedSpace, e->ReservedSpace);
        x_u64(sh, "ucrs", e->NoOfUCRs);
        break;
    }
    case HT_EVENT_HEAP_CONTRACT: {
        const ETW_HEAP_EVENT_CONTRACT *e = &ev->u.Contract;
        c->have = HAVE_HEAP | HAVE_ADDRESS | HAVE_SIZE;
        c->heap = e->HeapHandle;
        c->address = e->DeCommitAddress;
        c->size = e->DeCommittedSize;
        heap_space(sh, e->FreeSpace, e->CommittedSpace, e->ReservedSpace);
        x_u64(sh, "ucrs", e->NoOfUCRs);
        break;
    }
    case HT_EVENT_HEAP_SNAPSHOT: {
        const ETW_HEAP_EVENT_SNAPSHOT *e = &ev->u.SnapShot;
        c->have = HAVE_HEAP;
        c->heap = e->HeapHandle;
        heap_space(sh, e->FreeSpace, e->CommittedSpace, e->ReservedSpace);
        x_hex(sh, "heap_flags", e->HeapFlags);
        break;
    }
    case HT_EVENT_PROCESS_START:
        x_u64(sh, "ppid", ev->u.ProcessStart.ParentPid);
        x_str(sh, "executable", ev->u.ProcessStart.Executable, X_STR);
        x_str(sh, "argv", ev->u.ProcessStart.CommandLine, X_ARGS);
        break;
    case HT_EVENT_PROCESS_EXIT:
        x_i64(sh, "exit_status", ev->u.ProcessExit.ExitStatus);
        x_bool(sh, "status_known", ev->u.ProcessExit.KnownStatus);
        break;
    case HT_EVENT_THREAD_START:
        x_u64(sh, "parent_tid", ev->u.ThreadStart.ParentTid);
        break;
    case HT_EVENT_THREAD_NAME:
        x_str(sh, "name", ev->u.ThreadName.Name, X_STR);
        break;
    case HT_EVENT_MODULE_LOAD:
        c->have = HAVE_ADDRESS | HAVE_SIZE;
        c->address = ev->u.ModuleLoad.Base;
        c->size = ev->u.ModuleLoad.Size;
        x_str(sh, "path", ev->u.ModuleLoad.Path, X_STR);
        x_str(sh, "build_id", ev->u.ModuleLoad.BuildId, X_HEXBYTES);
        break;
    case HT_EVENT_MODULE_UNLOAD:
        c->have = HAVE_ADDRESS;
        c->address = ev->u.ModuleUnload.Base;
        break;
    case HT_EVENT_STACK_DEFINE: {
        x_u64(sh, "stack", ev->u.StackDefine.StackId);
        extra *x = add_extra(sh, "frames", X_FRAMES);
        x->frames = ev->u.StackDefine.Frames;
        x->u = ev->u.StackDefine.Depth;
        break;
    }
    case HT_EVENT_OS_MAP:
        c->have = HAVE_ADDRESS | HAVE_SIZE;
        c->address = ev->u.OsMap.Address;
        c->size = ev->u.OsMap.Length;
        x_hex(sh, "protection", ev->u.OsMap.Protection);
        x_hex(sh, "flags", ev->u.OsMap.Flags);
        break;
    case HT_EVENT_OS_UNMAP:
        c->have = HAVE_ADDRESS | HAVE_SIZE;
        c->address = ev->u.OsUnmap.Address;
        c->size = ev->u.OsUnmap.Length;
        break;
    case HT_EVENT_OS_REMAP:
        c->have = HAVE_ADDRESS | HAVE_SIZE | HAVE_OLD_ADDRESS | HAVE_OLD_SIZE;
        c->address = ev->u.OsRemap.NewAddress;
        c->size = ev->u.OsRemap.NewLength;
        c->old_address = ev->u.OsRemap.OldAddress;
        c->old_size = ev->u.OsRemap.OldLength;
        break;
    case HT_EVENT_LOST: {
        x_u64(sh, "events_lost", ev->u.Lost.EventsLost);
        extra *x = add_extra(sh, "reason", X_STR);
        x->s.data = loss_reason(ev->u.Lost.Reason);
        x->s.len = (uint32_t)strlen(x->s.data);
        break;
    }
    case HT_EVENT_CLOCK:
        x_u64(sh, "clock_id", ev->u.Clock.ClockId);
        x_u64(sh, "resolution_ns", ev->u.Clock.ResolutionNs);
        x_i64(sh, "realtime_offset_ns", ev->u.Clock.RealtimeOffsetNs);
        break;
    default: /* thread_exit: the header says it all */
        break;
    }
}

/* ---- the line under construction ---- */

/* Room for the fixed part of any line: numbers, short names and keys. Strings
 * of unbounded length are streamed to the output after a flush. */
#define LINE_ROOM 1024

typedef struct line {
    FILE *out;
    size_t n;
    char buf[LINE_ROOM];
} line;

static inline void l_flush(line *l)
{
    fwrite_unlocked(l->buf, 1, l->n, l->out);
    l->n = 0;
}

/* Make room for n more bytes of the fixed part. */
static inline void l_room(line *l, size_t n)
{
    if (l->n + n > LINE_ROOM)
        l_flush(l);
}

static inline void l_mem(line *l, const char *s, size_t n)
{
    if (n > LINE_ROOM / 2) {
        l_flush(l);
        fwrite_unlocked(s, 1, n, l->out);
        return;
    }
    l_room(l, n);
    memcpy(l->buf + l->n, s, n);
    l->n += n;
}

static inline void l_str(line *l, const char *s) { l_mem(l, s, strlen(s)); }

static inline void l_char(line *l, char c)
{
    l_room(l, 1);
    l->buf[l->n++] = c;
}

/* Numbers are written straight into the line, from their last digit back:
 * building them in a scratch buffer and copying them stalls the stores. */
static inline void l_u64(line *l, uint64_t v)
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930"
                                "31323334353637383940414243444546474849505152535455565758596061"
                                "62636465666768697071727374757677787980818283848586878889909192"
                                "93949596979899";
    unsigned n = 1;
    for (uint64_t p = 10; n < 20 && v >= p; p *= 10)
        n++;
    l_room(l, n);
    char *end = l->buf + l->n + n;
    l->n += n;
    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        *--end = pairs[d + 1];
        *--end = pairs[d];
    }
    if (v >= 10) {
        *--end = pairs[v * 2 + 1];
        *--end = pairs[v * 2];
    } else {
        *--end = (char)('0' + v);
    }
}

static inline void l_i64(line *l, int64_t v)
{
    if (v < 0) {
        l_char(l, '-');
        l_u64(l, (uint64_t)0 - (uint64_t)v);
    } else {
        l_u64(l, (uint64_t)v);
    }
}

static inline void l_hex(line *l, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    unsigned n = (unsigned)(64 - __builtin_clzll(v | 1) + 3) / 4;
    l_room(l, n + 2);
    char *p = l->buf + l->n;
    l->n += n + 2;
    p[0] = '0';
    p[1] = 'x';
    for (char *end = p + 2 + n; end > p + 2; v >>= 4)
        *--end = digits[v & 15];
}

/* Nanoseconds as seconds with nine decimals. */
static void l_seconds(line *l, int64_t ns)
{
    uint64_t a = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    char frac[10];
    uint64_t f = a % 1000000000u;
    for (int i = 8; i >= 0; i--, f /= 10)
        frac[i] = (char)('0' + f % 10);
    frac[9] = '\0';
    if (ns < 0)
        l_char(l, '-');
    l_u64(l, a / 1000000000u);
    l_char(l, '.');
    l_mem(l, frac, 9);
}

static void l_json_string(line *l, const char *s, size_t n)
{
    l_flush(l);
    ht_json_put_string(l->out, s, n);
}

/* A CSV cell holding s: quoted, with its quotes doubled, when it holds a
 * separator, a quote or a line break. */
static void l_csv_string(line *l, const char *s, size_t n)
{
    if (!memchr(s, ',', n) && !memchr(s, '"', n) && !memchr(s, '\n', n) && !memchr(s, '\r', n)) {
        l_mem(l, s, n);
        return;
    }
    l_flush(l);
    putc_unlocked('"', l->out);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            putc_unlocked('"', l->out);
        putc_unlocked(s[i], l->out);
    }
    putc_unlocked('"', l->out);
}

/* ---- the event's own fields, as text ("key=value ...") ---- */

/* Sink for the text rendering: the text format writes it as is, the CSV
 * detail cell inside quotes with quotes doubled. */
typedef struct text_sink {
    line *l;
    int csv;
} text_sink;

static void t_raw(text_sink *t, const char *s, size_t n)
{
    if (!t->csv) {
        l_mem(t->l, s, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            l_char(t->l, '"');
        l_char(t->l, s[i]);
    }
}

/* Strings in text are JSON strings: one event stays one line whatever bytes
 * the traced program gave. */
static void t_string(text_sink *t, const char *s, size_t n)
{
    if (!t->csv) {
        l_json_string(t->l, s, n);
        return;
    }
    /* In a CSV cell the bytes go as they are, CSV quoting keeps them whole. */
    t_raw(t, "\"", 1);
    t_raw(t, s, n);
    t_raw(t, "\"", 1);
}

static void text_extras(text_sink *t, const shown *sh)
{
    line *l = t->l;
    for (unsigned k = 0; k < sh->nx; k++) {
        const extra *x = &sh->x[k];
        if (k)
            l_char(l, ' ');
        t_raw(t, x->key, strlen(x->key));
        l_char(l, '=');
        switch (x->kind) {
        case X_U64: l_u64(l, x->u); break;
        case X_I64: l_i64(l, x->i); break;
        case X_HEX: l_hex(l, x->u); break;
        case X_BOOL: l_str(l, x->u ? "true" : "false"); break;
        case X_STR: t_string(t, x->s.data, x->s.len); break;
        case X_ARGS: {
            /* NUL-separated arguments read as one line */
            uint32_t n = x->s.len;
            while (n && x->s.data[n - 1] == '\0')
                n--;
            char *copy = NULL;
            if (n && memchr(x->s.data, '\0', n) && (copy = malloc(n))) {
                for (uint32_t i = 0; i < n; i++)
                    copy[i] = x->s.data[i] ? x->s.data[i] : ' ';
            }
            t_string(t, copy ? copy : x->s.data, n);
            free(copy);
            break;
        }
        case X_HEXBYTES: {
            static const char digits[] = "0123456789abcdef";
            for (uint32_t i = 0; i < x->s.len; i++) {
                unsigned char b = (unsigned char)x->s.data[i];
                l_char(l, digits[b >> 4]);
                l_char(l, digits[b & 15]);
            }
            break;
        }
        case X_FRAMES:
            for (uint64_t i = 0; i < x->u; i++) {
                if (i)
                    l_char(l, ';');
                l_hex(l, x->frames[i]);
            }
            break;
        }
    }
}

/* ---- call stacks (--stacks) ---- */

#define MAX_SHOWN_FRAMES 2048

/* The resolved stack of the event being printed. */
typedef struct stack_view {
    int have;  /* the event has a stack id (defined or not) */
    size_t n;
    ht_frame f[MAX_SHOWN_FRAMES];
} stack_view;

static void stacks_resolve(ht_cli_stacks *ss, const ht_event *ev, stack_view *sv)
{
    const ht_event_header *h = &ev->Header;
    sv->have = h->StackId != 0;
    sv->n = sv->have ? ht_cli_stacks_resolve(ss, h->ProcessId, h->StackId, sv->f, MAX_SHOWN_FRAMES)
                     : 0;
}

static void json_stack(line *l, const stack_view *sv)
{
    l_str(l, ",\"stack\":");
    if (!sv->have) {
        l_str(l, "null");
        return;
    }
    l_flush(l);
    putc_unlocked('[', l->out);
    for (size_t i = 0; i < sv->n; i++) {
        if (i)
            putc_unlocked(',', l->out);
        ht_cli_json_frame(l->out, &sv->f[i]);
    }
    putc_unlocked(']', l->out);
}

static void text_stack(line *l, const stack_view *sv)
{
    l_flush(l);
    for (size_t i = 0; i < sv->n; i++) {
        fprintf(l->out, "    #%zu ", i);
        ht_cli_print_frame(l->out, &sv->f[i]);
        putc_unlocked('\n', l->out);
    }
}

/* The csv "stack" cell: the frames as in text, separated by " | ". */
static void csv_stack(line *l, const stack_view *sv)
{
    char *cell = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&cell, &len);
    for (size_t i = 0; m && i < sv->n; i++) {
        if (i)
            fputs(" | ", m);
        ht_cli_print_frame(m, &sv->f[i]);
    }
    l_char(l, ',');
    if (m && fclose(m) == 0)
        l_csv_string(l, cell, len);
    free(cell);
}

/* ---- the three formats ---- */

/* Names with their lengths, looked up once rather than measured per event. */
typedef struct name_len {
    const char *s;
    size_t len;
} name_len;

static name_len type_names[256];
static name_len source_names[HT_SOURCE_NAMES];

static void learn_names(void)
{
    for (unsigned ty = 0; ty < 256; ty++) {
        const char *n = ht_event_type_name((uint16_t)ty);
        type_names[ty] = (name_len){n, n ? strlen(n) : 0};
    }
    for (unsigned src = 0; src < HT_SOURCE_NAMES; src++) {
        const char *n = ht_source_name(src);
        source_names[src] = (name_len){n, strlen(n)};
    }
}

static inline name_len source_name(uint32_t source)
{
    /* Values past the table are all "unknown", like value 0. */
    return source_names[source < HT_SOURCE_NAMES ? source : 0];
}

/* The event's name; *trusted when it is one of this library's (plain ASCII,
 * no quoting needed) rather than a name read from the trace. */
static inline name_len event_name(const ht_event *ev, int *trusted)
{
    uint16_t type = ev->Header.Type;
    if (!(ev->Header.Flags & HT_EVENT_FLAG_UNKNOWN_TYPE) && type < 256 && type_names[type].s) {
        *trusted = 1;
        return type_names[type];
    }
    *trusted = 0;
    const char *n = ev->Name ? ev->Name : "unknown";
    return (name_len){n, strlen(n)};
}

static void csv_header(line *l, int stacks)
{
    l_str(l, "time_ns,pid,tid,event,heap,address,size,old_address,old_size,source,stack_id,"
             "detail");
    l_str(l, stacks ? ",stack\n" : "\n");
}

static void csv_event(line *l, const ht_event *ev, const shown *sh, const stack_view *sv)
{
    const ht_event_header *h = &ev->Header;
    const columns *c = &sh->c;
    int trusted;
    name_len name = event_name(ev, &trusted);
    l_u64(l, h->TimeStamp);
    l_char(l, ',');
    l_u64(l, h->ProcessId);
    l_char(l, ',');
    l_u64(l, h->ThreadId);
    l_char(l, ',');
    if (trusted)
        l_mem(l, name.s, name.len);
    else
        l_csv_string(l, name.s, name.len);
    l_char(l, ',');
    if (c->have & HAVE_HEAP)
        l_hex(l, c->heap);
    l_char(l, ',');
    if (c->have & HAVE_ADDRESS)
        l_hex(l, c->address);
    l_char(l, ',');
    if (c->have & HAVE_SIZE)
        l_u64(l, c->size);
    l_char(l, ',');
    if (c->have & HAVE_OLD_ADDRESS)
        l_hex(l, c->old_address);
    l_char(l, ',');
    if (c->have & HAVE_OLD_SIZE)
        l_u64(l, c->old_size);
    l_char(l, ',');
    if (c->have & HAVE_SOURCE) {
        name_len src = source_name(c->source);
        l_mem(l, src.s, src.len);
    }
    l_char(l, ',');
    if (h->StackId)
        l_u64(l, h->StackId);
    l_char(l, ',');
    if (sh->nx) {
        text_sink t = {l, 1};
        l_char(l, '"');
        text_extras(&t, sh);
        l_char(l, '"');
    }
    if (sv)
        csv_stack(l, sv);
    l_char(l, '\n');
}

static void j_key(line *l, const char *key)
{
    l_char(l, ',');
    l_char(l, '"');
    l_str(l, key);
    l_str(l, "\":");
}

static void j_hex(line *l, const char *key, int have, uint64_t v)
{
    j_key(l, key);
    if (!have) {
        l_str(l, "null");
        return;
    }
    l_char(l, '"');
    l_hex(l, v);
    l_char(l, '"');
}

static void j_u64(line *l, const char *key, int have, uint64_t v)
{
    j_key(l, key);
    if (have)
        l_u64(l, v);
    else
        l_str(l, "null");
}

static void json_extras(line *l, const shown *sh, int generic)
{
    if (generic && sh->nx)
        l_str(l, ",\"fields\":{");
    for (unsigned k = 0; k < sh->nx; k++) {
        const extra *x = &sh->x[k];
        if (generic) {
            /* Field names come from the trace: escape them. */
            if (k)
                l_char(l, ',');
            l_json_string(l, x->key, strlen(x->key));
            l_char(l, ':');
        } else {
            j_key(l, x->key);
        }
        switch (x->kind) {
        case X_U64: l_u64(l, x->u); break;
        case X_I64: l_i64(l, x->i); break;
        case X_HEX:
            l_char(l, '"');
            l_hex(l, x->u);
            l_char(l, '"');
            break;
        case X_BOOL: l_str(l, x->u ? "true" : "false"); break;
        case X_STR: l_json_string(l, x->s.data, x->s.len); break;
        case X_ARGS: {
            l_char(l, '[');
            const char *p = x->s.data, *end = p + x->s.len;
            for (int first = 1; p < end; first = 0) {
                const char *z = memchr(p, '\0', (size_t)(end - p));
                size_t n = z ? (size_t)(z - p) : (size_t)(end - p);
                if (!first)
                    l_char(l, ',');
                l_json_string(l, p, n);
                p += n + 1;
            }
            l_char(l, ']');
            break;
        }
        case X_HEXBYTES: {
            static const char digits[] = "0123456789abcdef";
            l_char(l, '"');
            for (uint32_t i = 0; i < x->s.len; i++) {
                unsigned char b = (unsigned char)x->s.data[i];
                l_char(l, digits[b >> 4]);
                l_char(l, digits[b & 15]);
            }
            l_char(l, '"');
            break;
        }
        case X_FRAMES:
            l_char(l, '[');
            for (uint64_t i = 0; i < x->u; i++) {
                if (i)
                    l_char(l, ',');
                l_char(l, '"');
                l_hex(l, x->frames[i]);
                l_char(l, '"');
            }
            l_char(l, ']');
            break;
        }
    }
    if (generic && sh->nx)
        l_char(l, '}');
}

static void json_event(line *l, const ht_event *ev, const shown *sh, const stack_view *sv)
{
    const ht_event_header *h = &ev->Header;
    const columns *c = &sh->c;
    int trusted;
    name_len name = event_name(ev, &trusted);
    l_str(l, "{\"time_ns\":");
    l_u64(l, h->TimeStamp);
    l_str(l, ",\"pid\":");
    l_u64(l, h->ProcessId);
    l_str(l, ",\"tid\":");
    l_u64(l, h->ThreadId);
    l_str(l, ",\"event\":");
    if (trusted) {
        l_char(l, '"');
        l_mem(l, name.s, name.len);
        l_char(l, '"');
    } else {
        l_json_string(l, name.s, name.len);
    }
    j_hex(l, "heap", c->have & HAVE_HEAP, c->heap);
    j_hex(l, "address", c->have & HAVE_ADDRESS, c->address);
    j_u64(l, "size", c->have & HAVE_SIZE, c->size);
    j_hex(l, "old_address", c->have & HAVE_OLD_ADDRESS, c->old_address);
    j_u64(l, "old_size", c->have & HAVE_OLD_SIZE, c->old_size);
    j_key(l, "source");
    if (c->have & HAVE_SOURCE) {
        name_len src = source_name(c->source);
        l_char(l, '"');
        l_mem(l, src.s, src.len);
        l_char(l, '"');
    } else {
        l_str(l, "null");
    }
    j_u64(l, "stack_id", h->StackId != 0, h->StackId);
    json_extras(l, sh, (h->Flags & HT_EVENT_FLAG_UNKNOWN_TYPE) != 0);
    if (sv)
        json_stack(l, sv);
    l_str(l, "}\n");
}

static void text_event(line *l, uint64_t start_ns, const ht_event *ev, const shown *sh,
                       const stack_view *sv)
{
    const ht_event_header *h = &ev->Header;
    const columns *c = &sh->c;
    int trusted;
    name_len name = event_name(ev, &trusted);
    l_seconds(l, (int64_t)(h->TimeStamp - start_ns));
    l_str(l, " pid=");
    l_u64(l, h->ProcessId);
    l_str(l, " tid=");
    l_u64(l, h->ThreadId);
    l_char(l, ' ');
    if (trusted)
        l_mem(l, name.s, name.len);
    else
        l_json_string(l, name.s, name.len);
    if (c->have & HAVE_HEAP) {
        l_str(l, " heap=");
        l_hex(l, c->heap);
    }
    if (c->have & HAVE_ADDRESS) {
        l_str(l, " address=");
        l_hex(l, c->address);
    }
    if (c->have & HAVE_SIZE) {
        l_str(l, " size=");
        l_u64(l, c->size);
    }
    if (c->have & HAVE_OLD_ADDRESS) {
        l_str(l, " old_address=");
        l_hex(l, c->old_address);
    }
    if (c->have & HAVE_OLD_SIZE) {
        l_str(l, " old_size=");
        l_u64(l, c->old_size);
    }
    if (c->have & HAVE_SOURCE) {
        name_len src = source_name(c->source);
        l_str(l, " source=");
        l_mem(l, src.s, src.len);
    }
    if (h->StackId) {
        l_str(l, " stack_id=");
        l_u64(l, h->StackId);
    }
    if (sh->nx) {
        text_sink t = {l, 0};
        l_char(l, ' ');
        text_extras(&t, sh);
    }
    l_char(l, '\n');
    if (sv)
        text_stack(l, sv);
}

/* ---- filters ---- */

typedef struct filter {
    int by_pid, by_tid, by_type, by_heap, by_from, by_to;
    uint32_t pid, tid;
    uint64_t heap;
    uint64_t from_ns, to_ns; /* trace-clock times, the start of the recording added */
    uint8_t types[65536 / 8]; /* bit per event type */
} filter;

/* The type named name: one this library knows, or one the trace describes. */
static int type_named(const ht_trace *t, const char *name, size_t len, uint16_t *type)
{
    for (unsigned ty = 0; ty < 256; ty++) {
        const char *n = ht_event_type_name((uint16_t)ty);
        if (n && strlen(n) == len && memcmp(n, name, len) == 0) {
            *type = (uint16_t)ty;
            return 1;
        }
    }
    const char *n;
    for (size_t i = 0; (n = ht_trace_event_type_name(t, i, type)); i++)
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return 1;
    return 0;
}

/* Fill the type filter from "NAME[,NAME...]"; on failure print why and return -1. */
static int select_types(filter *f, const ht_trace *t, const char *list)
{
    f->by_type = 1;
    for (const char *p = list;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        uint16_t type;
        if (!type_named(t, p, len, &type)) {
            ht_cli_usage_error("dump", "no event type '%.*s' ('heaptrail info FILE' lists them)",
                               (int)len, p);
            return -1;
        }
        f->types[type / 8] |= (uint8_t)(1u << (type % 8));
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static inline int wanted(const filter *f, const ht_event_header *h)
{
    return (!f->by_pid || h->ProcessId == f->pid) && (!f->by_tid || h->ThreadId == f->tid) &&
           (!f->by_type || (f->types[h->Type / 8] >> (h->Type % 8) & 1)) &&
           (!f->by_from || h->TimeStamp >= f->from_ns) && (!f->by_to || h->TimeStamp < f->to_ns);
}

/* The heap filter needs the event's columns: events without a heap fail it. */
static inline int heap_wanted(const filter *f, const shown *sh)
{
    return !f->by_heap || ((sh->c.have & HAVE_HEAP) && sh->c.heap == f->heap);
}

/* ---- the command ---- */

#define OUTPUT_BUFFER (1u << 20)

int cmd_dump(int argc, char **argv)
{
    static const struct option options[] = {{"format", required_argument, NULL, 'f'},
                                            {"pid", required_argument, NULL, 'p'},
                                            {"tid", required_argument, NULL, 't'},
                                            {"event", required_argument, NULL, 'e'},
                                            {"heap", required_argument, NULL, 'H'},
                                            {"from", required_argument, NULL, 'F'},
                                            {"to", required_argument, NULL, 'T'},
                                            {"stacks", no_argument, NULL, 's'},
                                            {"debug-dir", required_argument, NULL, 'd'},
                                            {"sysroot", required_argument, NULL, 'r'},
                                            {NULL, 0, NULL, 0}};
    ht_cli_stacks ss;
    ht_cli_stacks_init(&ss);
    int stacks = 0;
    static filter f; /* 8 KiB of type bits: not on the stack */
    memset(&f, 0, sizeof f);
    enum format format = FORMAT_TEXT;
    const char *events = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "text") == 0)
                format = FORMAT_TEXT;
            else if (strcmp(optarg, "csv") == 0)
                format = FORMAT_CSV;
            else if (strcmp(optarg, "json") == 0)
                format = FORMAT_JSON;
            else
                return ht_cli_usage_error("dump", "unknown format '%s' (text, csv or json)",
                                          optarg);
            break;
        case 'p':
            if (ht_cli_parse_u32(optarg, &f.pid) < 0)
                return ht_cli_usage_error("dump", "--pid needs a process id, not '%s'", optarg);
            f.by_pid = 1;
            break;
        case 't':
            if (ht_cli_parse_u32(optarg, &f.tid) < 0)
                return ht_cli_usage_error("dump", "--tid needs a thread id, not '%s'", optarg);
            f.by_tid = 1;
            break;
        case 'e': events = optarg; break;
        case 'H': {
            char *end;
            errno = 0;
            f.heap = strtoull(optarg, &end, 0);
            if (errno || end == optarg || *end || *optarg == '-')
                return ht_cli_usage_error("dump", "--heap needs a heap handle (0x...), not '%s'",
                                          optarg);
            f.by_heap = 1;
            break;
        }
        case 'F':
        case 'T':
            if (ht_cli_parse_time(optarg, c == 'F' ? &f.from_ns : &f.to_ns) < 0)
                return ht_cli_usage_error("dump", "--%s needs a time such as 1.5 or 250ms, not '%s'",
                                          c == 'F' ? "from" : "to", optarg);
            *(c == 'F' ? &f.by_from : &f.by_to) = 1;
            break;
        case 's': stacks = 1; break;
        case 'd':
            if (ht_cli_stacks_debug_dir(&ss, "dump", optarg))
                return HT_EXIT_USAGE;
            break;
        case 'r': ss.options.sysroot = optarg; break;
        default:
            return ht_cli_usage_error("dump", optopt ? "option '%s' needs a value"
                                                     : "unknown option '%s'",
                                      argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return ht_cli_usage_error("dump", argc - optind < 1 ? "no trace file given"
                                                            : "too many arguments");
    if (isatty(STDOUT_FILENO))
        ht_cli_quiet_progress(); /* the events themselves go to the terminal */
    ht_trace *t = ht_cli_open_trace("dump", argv[optind]);
    if (!t)
        return HT_EXIT_USAGE_OR_FAILURE;
    if (events && select_types(&f, t, events) < 0) {
        ht_trace_close(t);
        return HT_EXIT_USAGE;
    }

    /* A reader that goes away (| head) ends the dump quietly: see EPIPE
     * instead of dying of SIGPIPE, and stop. */
    signal(SIGPIPE, SIG_IGN);
    static line l;
    l.out = stdout;
    l.n = 0;
    setvbuf(stdout, NULL, _IOFBF, OUTPUT_BUFFER);
    uint64_t start_ns = ht_trace_get_info(t)->StartTimeNs;
    f.from_ns += start_ns;
    f.to_ns += start_ns;
    learn_names();
    if (format == FORMAT_CSV)
        csv_header(&l, stacks);

    static stack_view sv; /* thousands of frames: not on the stack */
    if (stacks && ht_cli_stacks_open(&ss) < 0) {
        ht_cli_stacks_close(&ss);
        ht_trace_close(t);
        ht_cli_error("dump", "out of memory");
        return HT_EXIT_FAILURE;
    }
    shown sh;
    const ht_event *ev;
    int r, out_of_memory = 0;
    while ((r = ht_cli_next(t, &ev)) == 1) {
        if (stacks && ht_cli_stacks_take(&ss, ev) < 0) {
            out_of_memory = 1;
            break;
        }
        if (!wanted(&f, &ev->Header))
            continue;
        show(ev, &sh);
        if (!heap_wanted(&f, &sh))
            continue;
        const stack_view *svp = NULL;
        if (stacks) {
            stacks_resolve(&ss, ev, &sv);
            svp = &sv;
        }
        switch (format) {
        case FORMAT_CSV: csv_event(&l, ev, &sh, svp); break;
        case FORMAT_JSON: json_event(&l, ev, &sh, svp); break;
        case FORMAT_TEXT: text_event(&l, start_ns, ev, &sh, svp); break;
        }
        if (ferror_unlocked(stdout))
            break;
    }
    ht_cli_stacks_close(&ss);
    if (out_of_memory) {
        l_flush(&l);
        ht_trace_close(t);
        ht_cli_error("dump", "out of memory");
        return HT_EXIT_FAILURE;
    }
    l_flush(&l);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int quiet = errno == EPIPE;
        ht_trace_close(t);
        if (quiet)
            return HT_EXIT_OK;
        ht_cli_error("dump", "cannot write the output: %s", strerror(errno));
        return HT_EXIT_FAILURE;
    }
    return ht_cli_finish_trace("dump", t, r);
}
