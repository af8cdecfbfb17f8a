/* --format heaptrack: the data file heaptrack_print and heaptrack_gui read
 * (what heaptrack_interpret writes: file format version 2, one text line per
 * record, numbers in hexadecimal). heaptrack follows one process, so this
 * exports one (--pid, by default the first that started) with all its images.
 *
 * Records written: v (versions), X (the command line), s (strings, numbered
 * from 1), i (an instruction pointer: its module, function, file and line,
 * then the functions inlined there, outward), t (a call-tree node: an
 * instruction pointer under a parent node, numbered from 1), a (an
 * allocation kind: size and call-tree node, numbered from 0), + and - (an
 * allocation and a free of one kind), c (milliseconds since the start).
 * A reallocation is a free of the old block and an allocation of the new
 * one, as heaptrack records it. Memory follows the live blocks, the distinct
 * call stacks and the distinct (size, stack) pairs. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/live.h"
#include "export/exporter.h"
#include "export/output_file.h"
#include "export/stack_catalog.h"
#include "symbols/u64map.h"

/* heaptrack 1.5.0 and its file format 2, which all heaptrack versions since
 * 1.1 read. */
#define HEAPTRACK_VERSION 0x010500
#define FILE_FORMAT 2

typedef struct pair_key {
    uint64_t a, b;
} pair_key;

/* A map from pairs of numbers to the index they were given (from 1). */
typedef struct pair_map {
    pair_key *keys; /* by index - 1 */
    size_t count, cap;
    ht_u64map index;
} pair_map;

struct ht_exporter {
    ht_output_file out;
    ht_stack_catalog *catalog;
    int has_pid;
    uint32_t pid;
    uint64_t start;   /* trace clock at the start */
    uint64_t last_ms; /* the last c record */
    ht_live live;     /* address -> allocation kind of the followed process */
    pair_map strings; /* (hash, 0) -> s record; the texts are compared through texts */
    char **texts;
    pair_map ips;         /* (module string, offset) -> i record */
    pair_map nodes;       /* (parent node, ip) -> t record */
    pair_map kinds;       /* (size, node) -> a record + 1 */
    uint64_t *stack_node; /* catalog stack index -> t record (0: not yet) */
    size_t stack_node_cap;
    int described; /* the X record was written */
    int seen;      /* the process had an event */
};

static void pair_map_free(pair_map *m)
{
    free(m->keys);
    ht_u64map_destroy(&m->index);
}

/* The index of (a, b), 0 when not there. */
static uint64_t pair_find(const pair_map *m, uint64_t a, uint64_t b)
{
    uint64_t parts[2] = {a, b};
    uint64_t h = ht_hash_bytes(parts, sizeof parts, 0);
    size_t cursor = 0;
    uint32_t i;
    while (ht_u64map_next(&m->index, h, &cursor, &i))
        if (m->keys[i].a == a && m->keys[i].b == b)
            return (uint64_t)i + 1;
    return 0;
}

/* Give (a, b) the next index; 0 when memory ran out. */
static uint64_t pair_add(pair_map *m, uint64_t a, uint64_t b)
{
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        pair_key *grown = cap < UINT32_MAX ? realloc(m->keys, cap * sizeof *grown) : NULL;
        if (!grown)
            return 0;
        m->keys = grown;
        m->cap = cap;
    }
    uint64_t parts[2] = {a, b};
    if (ht_u64map_add(&m->index, ht_hash_bytes(parts, sizeof parts, 0), (uint32_t)m->count) < 0)
        return 0;
    m->keys[m->count++] = (pair_key){a, b};
    return m->count;
}

static void destroy(ht_exporter *x)
{
    ht_output_abort(&x->out);
    ht_stack_catalog_destroy(x->catalog);
    ht_live_destroy(&x->live);
    for (size_t i = 0; i < x->strings.count; i++)
        free(x->texts[i]);
    free(x->texts);
    pair_map_free(&x->strings);
    pair_map_free(&x->ips);
    pair_map_free(&x->nodes);
    pair_map_free(&x->kinds);
    free(x->stack_node);
    free(x);
}

static ht_exporter *create(const ht_export_options *o, char *err, size_t errlen)
{
    ht_exporter *x = calloc(1, sizeof *x);
    if (!x || !(x->catalog = ht_stack_catalog_create(o->resolve, o->resolve_context))) {
        free(x);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ht_live_init(&x->live);
    ht_u64map_init(&x->strings.index);
    ht_u64map_init(&x->ips.index);
    ht_u64map_init(&x->nodes.index);
    ht_u64map_init(&x->kinds.index);
    x->has_pid = o->has_pid;
    x->pid = o->pid;
    x->start = o->info->StartTimeNs;
    if (ht_output_open(&x->out, o->output, err, errlen) < 0) {
        destroy(x);
        return NULL;
    }
    fprintf(x->out.fp, "v %x %x\n", HEAPTRACK_VERSION, FILE_FORMAT);
    return x;
}

/* The s record of text (NUL-terminated), written when new; 0 when memory
 * ran out. A string record runs to the end of its line: line breaks
 * become spaces. */
static uint64_t string_of(ht_exporter *x, const char *text)
{
    uint64_t h = ht_hash_bytes(text, strlen(text), 0);
    uint64_t parts[2] = {h, 0};
    uint64_t key = ht_hash_bytes(parts, sizeof parts, 0);
    size_t cursor = 0;
    uint32_t i;
    while (ht_u64map_next(&x->strings.index, key, &cursor, &i))
        if (x->strings.keys[i].a == h && !strcmp(x->texts[i], text))
            return (uint64_t)i + 1;
    char *copy = strdup(text);
    char **texts = copy ? realloc(x->texts, (x->strings.count + 1) * sizeof *texts) : NULL;
    if (!texts) {
        free(copy);
        return 0;
    }
    x->texts = texts;
    x->texts[x->strings.count] = copy;
    uint64_t id = pair_add(&x->strings, h, 0);
    if (!id) {
        free(copy);
        return 0;
    }
    fputs("s ", x->out.fp);
    for (const char *p = text; *p; p++)
        fputc(*p == '\n' || *p == '\r' ? ' ' : *p, x->out.fp);
    fputc('\n', x->out.fp);
    return id;
}

/* The i record of one return address: frames ids[0 .. n-1], inlined
 * functions first and the function they are in last. */
static uint64_t ip_of(ht_exporter *x, const uint32_t *ids, size_t n)
{
    const ht_frame *real = ht_stack_catalog_frame(x->catalog, ids[n - 1]);
    uint64_t module = string_of(x, real->module ? real->module : "");
    if (!module)
        return 0;
    uint64_t id = pair_find(&x->ips, module, real->module_offset);
    if (id)
        return id;
    /* Strings first: a record refers only to records before it. */
    uint64_t fn[64], file[64];
    size_t m = n < 64 ? n : 64;
    for (size_t k = 0; k < m; k++) {
        const ht_frame *f = ht_stack_catalog_frame(x->catalog, ids[k]);
        char buf[128];
        fn[k] = string_of(x, ht_stack_catalog_frame_name(f, buf, sizeof buf));
        file[k] = f->file ? string_of(x, f->file) : 0;
        if (!fn[k] || (f->file && !file[k]))
            return 0;
    }
    if (!(id = pair_add(&x->ips, module, real->module_offset)))
        return 0;
    fprintf(x->out.fp, "i %" PRIx64 " %" PRIx64, real->module_offset, module);
    /* heaptrack's reader stops at the first frame without a file: such a
     * frame ends the list. */
    for (size_t k = 0; k < m; k++) {
        const ht_frame *f = ht_stack_catalog_frame(x->catalog, ids[k]);
        fprintf(x->out.fp, " %" PRIx64, fn[k]);
        if (!file[k])
            break;
        fprintf(x->out.fp, " %" PRIx64 " %" PRIx32, file[k], f->line);
    }
    fputc('\n', x->out.fp);
    return id;
}

/* The t record of catalog stack index, with its callers' records. */
static uint64_t node_of(ht_exporter *x, uint32_t index)
{
    if (index < x->stack_node_cap && x->stack_node[index])
        return x->stack_node[index];
    if (index >= x->stack_node_cap) {
        size_t cap = x->stack_node_cap ? x->stack_node_cap * 2 : 1024;
        while (cap <= index)
            cap *= 2;
        uint64_t *grown = realloc(x->stack_node, cap * sizeof *grown);
        if (!grown)
            return 0;
        memset(grown + x->stack_node_cap, 0, (cap - x->stack_node_cap) * sizeof *grown);
        x->stack_node = grown;
        x->stack_node_cap = cap;
    }
    uint32_t n;
    const uint32_t *ids = ht_stack_catalog_frames(x->catalog, index, &n);
    uint64_t parent = 0;
    if (n == 0) {
        /* A stack that was not recorded: one node that says so. */
        uint64_t name = string_of(x, ht_stack_catalog_stack_id(x->catalog, index)
                                         ? "[stack not recorded]"
                                         : "[no stack]");
        uint64_t ip = name ? pair_find(&x->ips, 0, name | 1ULL << 63) : 0;
        if (name && !ip) {
            if (!(ip = pair_add(&x->ips, 0, name | 1ULL << 63)))
                return 0;
            fprintf(x->out.fp, "i 0 0 %" PRIx64 "\n", name);
        }
        if (!ip)
            return 0;
        parent = pair_find(&x->nodes, 0, ip);
        if (!parent) {
            if (!(parent = pair_add(&x->nodes, 0, ip)))
                return 0;
            fprintf(x->out.fp, "t %" PRIx64 " 0\n", ip);
        }
    }
    /* Outermost first: each return address a node under its caller's. */
    for (uint32_t end = n; end > 0;) {
        uint32_t begin = end - 1;
        while (begin > 0 && ht_stack_catalog_frame(x->catalog, ids[begin - 1])->inlined)
            begin--;
        uint64_t ip = ip_of(x, ids + begin, end - begin);
        if (!ip)
            return 0;
        uint64_t node = pair_find(&x->nodes, parent, ip);
        if (!node) {
            if (!(node = pair_add(&x->nodes, parent, ip)))
                return 0;
            fprintf(x->out.fp, "t %" PRIx64 " %" PRIx64 "\n", ip, parent);
        }
        parent = node;
        end = begin;
    }
    x->stack_node[index] = parent;
    return parent;
}

/* An allocation of size at the event's stack, at address. */
static int allocated(ht_exporter *x, const ht_event_header *h, uint64_t address, uint64_t size)
{
    uint32_t index;
    if (ht_stack_catalog_get(x->catalog, h->ProcessId, h->StackId, &index) < 0)
        return -1;
    uint64_t node = node_of(x, index);
    if (!node)
        return -1;
    uint64_t kind = pair_find(&x->kinds, size, node);
    if (!kind) {
        if (!(kind = pair_add(&x->kinds, size, node)))
            return -1;
        fprintf(x->out.fp, "a %" PRIx64 " %" PRIx64 "\n", size, node);
    }
    ht_live_block b = {kind - 1}, old;
    int r = ht_live_insert(&x->live, address, &b, &old);
    if (r < 0)
        return -1;
    if (r == 0) /* allocated again without a free: the old block is gone */
        fprintf(x->out.fp, "- %" PRIx64 "\n", old.size);
    fprintf(x->out.fp, "+ %" PRIx64 "\n", kind - 1);
    return 0;
}

static void freed(ht_exporter *x, uint64_t address)
{
    ht_live_block b;
    if (ht_live_remove(&x->live, address, &b))
        fprintf(x->out.fp, "- %" PRIx64 "\n", b.size);
}

static void describe(ht_exporter *x, const ht_process_start *ps)
{
    fputs("X ", x->out.fp);
    for (uint32_t i = 0; i < ps->CommandLine.len; i++) {
        char c = ps->CommandLine.data[i];
        fputc(c == '\0' || c == '\n' || c == '\r' ? ' ' : c, x->out.fp);
    }
    fputc('\n', x->out.fp);
    x->described = 1;
}

static int event(ht_exporter *x, const ht_event *ev, char *err, size_t errlen)
{
    const ht_event_header *h = &ev->Header;
    if (h->Flags & HT_EVENT_FLAG_UNKNOWN_TYPE)
        return 0;
    if (!x->has_pid) {
        x->has_pid = 1;
        x->pid = h->ProcessId;
    }
    if (h->ProcessId != x->pid)
        return 0;
    x->seen = 1;
    if (ht_stack_catalog_event(x->catalog, ev) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    uint64_t ms = h->TimeStamp > x->start ? (h->TimeStamp - x->start) / 1000000 : 0;
    if (ms > x->last_ms) {
        fprintf(x->out.fp, "c %" PRIx64 "\n", ms);
        x->last_ms = ms;
    }
    int r = 0;
    switch (h->Type) {
    case HT_EVENT_PROCESS_START:
        /* A later start is an exec: the old image's blocks are gone, their
         * addresses free for the new one. */
        if (x->described)
            ht_live_destroy(&x->live);
        else
            describe(x, &ev->u.ProcessStart);
        break;
    case HT_EVENT_HEAP_ALLOC:
        r = allocated(x, h, ev->u.Alloc.Address, ev->u.Alloc.Size);
        break;
    case HT_EVENT_HEAP_FREE:
        freed(x, ev->u.Free.Address);
        break;
    case HT_EVENT_HEAP_REALLOC:
        freed(x, ev->u.Realloc.OldAddress);
        r = allocated(x, h, ev->u.Realloc.NewAddress, ev->u.Realloc.NewSize);
        break;
    default:
        break;
    }
    if (r < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (ferror(x->out.fp)) {
        ht_output_error(&x->out, errno, err, errlen);
        return -1;
    }
    return 0;
}

static int finish(ht_exporter *x, char *err, size_t errlen)
{
    if (!x->seen) {
        if (x->has_pid)
            snprintf(err, errlen, "the trace has no process %" PRIu32, x->pid);
        else
            snprintf(err, errlen, "the trace has no events");
        return -1;
    }
    /* A process whose start was not recorded: name it by its pid. */
    if (!x->described)
        fprintf(x->out.fp, "X pid %" PRIu32 "\n", x->pid);
    /* The end of the recording, so that the last interval has a length. */
    fprintf(x->out.fp, "c %" PRIx64 "\n", x->last_ms + 1);
    return ht_output_finish(&x->out, err, errlen);
}

const ht_export_format ht_export_heaptrack = {
    .name = "heaptrack",
    .needs_stacks = 1,
    .create = create,
    .event = event,
    .finish = finish,
    .destroy = destroy,
};
