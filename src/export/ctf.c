/* --format ctf: a Common Trace Format 1.8 trace directory, which
 * babeltrace2 and Trace Compass read. Every event of the trace becomes one
 * CTF event, its fields those the trace's own descriptors give it, so event
 * types this version does not know are exported too.
 *
 * The directory holds `metadata` (the TSDL description, written last, once
 * every event type has been met) and one stream file per process,
 * `stream_PID`, made of packets. CTF needs the timestamps of a stream to
 * never go back, while a process's events may (its threads' clocks are read
 * on different CPUs): a timestamp earlier than the one before it in its
 * stream is raised to it (docs/EXPORTS.md). Each process's packet is kept in
 * memory until it is full or the process exits, so memory follows the
 * running processes, not the events. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "export/exporter.h"
#include "export/output_file.h"
#include "export/utf8.h"
#include "symbols/u64map.h"

#define PACKET_BYTES (256 * 1024)
#define PACKET_MAGIC 0xC1FC1FC1u
/* packet header (magic, stream id) and context (begin, end, content size,
 * packet size, pid) */
#define PACKET_HEAD (4 + 4 + 8 + 8 + 8 + 8 + 4)

/* One event type as met in the trace: its fields' names and kinds. */
typedef struct event_class {
    uint16_t type;
    int known;
    char *name;
    uint32_t field_count;
    char *field_names[HT_EVENT_MAX_FIELDS];
    /* TSDL identifiers: the field's, and its length's for an array. */
    char *idents[HT_EVENT_MAX_FIELDS], *count_idents[HT_EVENT_MAX_FIELDS];
    uint8_t field_kinds[HT_EVENT_MAX_FIELDS]; /* IsString of the generic view */
    uint8_t field_signed[HT_EVENT_MAX_FIELDS];
} event_class;

/* The open packet of one process's stream. */
typedef struct stream {
    uint32_t pid;
    uint64_t first, last; /* timestamps of the packet's events (raised) */
    uint64_t floor;       /* the stream's last timestamp: none may be earlier */
    int started;          /* floor is set */
    unsigned char *buf;   /* events of the open packet */
    size_t len, cap;
} stream;

struct ht_exporter {
    ht_output_file out;
    const ht_trace_info *info;
    event_class *classes;
    size_t class_count, class_cap;
    ht_u64map class_index; /* hash(type, name) -> classes */
    stream *streams;
    size_t stream_count, stream_cap;
    ht_u64map stream_index; /* pid -> streams */
    uint64_t events;
};

static void destroy(ht_exporter *x)
{
    ht_output_abort(&x->out);
    for (size_t i = 0; i < x->class_count; i++) {
        free(x->classes[i].name);
        for (uint32_t k = 0; k < x->classes[i].field_count; k++) {
            free(x->classes[i].field_names[k]);
            free(x->classes[i].idents[k]);
            free(x->classes[i].count_idents[k]);
        }
    }
    for (size_t i = 0; i < x->stream_count; i++)
        free(x->streams[i].buf);
    free(x->classes);
    free(x->streams);
    ht_u64map_destroy(&x->class_index);
    ht_u64map_destroy(&x->stream_index);
    free(x);
}

static ht_exporter *create(const ht_export_options *o, char *err, size_t errlen)
{
    ht_exporter *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    x->info = o->info;
    ht_u64map_init(&x->class_index);
    ht_u64map_init(&x->stream_index);
    if (ht_output_open_dir(&x->out, o->output, err, errlen) < 0) {
        destroy(x);
        return NULL;
    }
    return x;
}

static int grow(void **array, size_t item, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(*array, n * item);
    if (!p)
        return -1;
    *array = p;
    *cap = n;
    return 0;
}

/* Signed fields of the built-in types (FORMAT.md §5.4: I32 and I64). */
static int is_signed(uint16_t type, const char *field)
{
    return (type == HT_EVENT_PROCESS_EXIT && !strcmp(field, "ExitStatus")) ||
           (type == HT_EVENT_CLOCK && !strcmp(field, "RealtimeOffsetNs"));
}

/* Whether c already uses ident for one of its first n fields. */
static int ident_taken(const event_class *c, uint32_t n, const char *ident)
{
    for (uint32_t k = 0; k < n; k++)
        if ((c->idents[k] && !strcmp(c->idents[k], ident)) ||
            (c->count_idents[k] && !strcmp(c->count_idents[k], ident)))
            return 1;
    return 0;
}

/* A TSDL identifier for a field name of the trace (untrusted: any bytes but
 * NUL) that none of c's first n fields uses: a leading underscore, which
 * CTF readers strip from field names and which keeps any name clear of
 * TSDL's keywords, then letters, digits and '_' (others become '_'), then a
 * number when needed to make it unique. NULL when memory ran out. */
static char *make_ident(const event_class *c, uint32_t n, const char *name, const char *suffix)
{
    size_t len = strlen(name) + strlen(suffix) + 24;
    char *id = malloc(len);
    if (!id)
        return NULL;
    size_t o = 0;
    id[o++] = '_';
    for (const char *p = name; *p; p++)
        id[o++] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
                      ? *p
                      : '_';
    strcpy(id + o, suffix);
    o += strlen(suffix);
    for (unsigned i = 2; ident_taken(c, n + 1, id); i++)
        snprintf(id + o, len - o, "_%u", i);
    return id;
}

/* The class id of ev's type, added when new; -1 when memory ran out. */
static int64_t class_of(ht_exporter *x, const ht_event *ev)
{
    const char *name = ev->Name ? ev->Name : "unknown";
    uint64_t h = ht_hash_bytes(name, strlen(name), ev->Header.Type);
    size_t cursor = 0;
    uint32_t i;
    while (ht_u64map_next(&x->class_index, h, &cursor, &i))
        if (x->classes[i].type == ev->Header.Type && !strcmp(x->classes[i].name, name))
            return i;
    if (x->class_count >= UINT16_MAX ||
        grow((void **)&x->classes, sizeof *x->classes, &x->class_cap, x->class_count + 1) < 0)
        return -1;
    event_class *c = &x->classes[x->class_count];
    memset(c, 0, sizeof *c);
    c->type = ev->Header.Type;
    c->known = !(ev->Header.Flags & HT_EVENT_FLAG_UNKNOWN_TYPE);
    if (!(c->name = strdup(name)))
        return -1;
    x->class_count++; /* from here on destroy frees what it holds */
    for (uint32_t k = 0; k < ev->FieldCount && k < HT_EVENT_MAX_FIELDS; k++) {
        const ht_field_value *f = &ev->Fields[k];
        if (!(c->field_names[k] = strdup(f->Name ? f->Name : "field")))
            return -1;
        c->field_count = k + 1;
        c->field_kinds[k] = f->IsString;
        if (f->IsString == 2 &&
            !(c->count_idents[k] = make_ident(c, k, c->field_names[k], "_length")))
            return -1;
        if (!(c->idents[k] = make_ident(c, k, c->field_names[k], "")))
            return -1;
        c->field_signed[k] = c->known && is_signed(c->type, c->field_names[k]);
    }
    if (ht_u64map_add(&x->class_index, h, (uint32_t)(x->class_count - 1)) < 0)
        return -1;
    return (int64_t)(x->class_count - 1);
}

static stream *stream_of(ht_exporter *x, uint32_t pid)
{
    size_t cursor = 0;
    uint32_t i;
    if (ht_u64map_next(&x->stream_index, pid, &cursor, &i))
        return &x->streams[i];
    if (grow((void **)&x->streams, sizeof *x->streams, &x->stream_cap, x->stream_count + 1) < 0 ||
        ht_u64map_add(&x->stream_index, pid, (uint32_t)x->stream_count) < 0)
        return NULL;
    stream *s = &x->streams[x->stream_count++];
    memset(s, 0, sizeof *s);
    s->pid = pid;
    return s;
}

static void put(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Append the stream's open packet to its file. */
static int flush_packet(ht_exporter *x, stream *s, char *err, size_t errlen)
{
    if (!s->len)
        return 0;
    unsigned char head[PACKET_HEAD];
    uint64_t bits = (uint64_t)(PACKET_HEAD + s->len) * 8;
    put(head, PACKET_MAGIC, 4);
    put(head + 4, 0, 4); /* stream class 0 */
    put(head + 8, s->first, 8);
    put(head + 16, s->last, 8);
    put(head + 24, bits, 8); /* content size */
    put(head + 32, bits, 8); /* packet size: no padding */
    put(head + 40, s->pid, 4);
    char path[4096];
    snprintf(path, sizeof path, "%s/stream_%" PRIu32, x->out.temp_path, s->pid);
    FILE *f = fopen(path, "ab");
    int bad = !f || fwrite(head, 1, sizeof head, f) != sizeof head ||
              fwrite(s->buf, 1, s->len, f) != s->len;
    int saved = errno;
    if (f && fclose(f) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    if (bad) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(saved));
        return -1;
    }
    s->len = 0;
    return 0;
}

/* Room for n more bytes in the open packet. */
static unsigned char *room(stream *s, size_t n)
{
    if (grow((void **)&s->buf, 1, &s->cap, s->len + n) < 0)
        return NULL;
    unsigned char *p = s->buf + s->len;
    s->len += n;
    return p;
}

/* A string as CTF has it: NUL-terminated, so NULs inside (command lines)
 * become spaces. */
static int put_string(stream *s, const ht_str *str)
{
    unsigned char *p = room(s, (size_t)str->len + 1);
    if (!p)
        return -1;
    for (uint32_t i = 0; i < str->len; i++)
        p[i] = str->data[i] ? (unsigned char)str->data[i] : ' ';
    p[str->len] = 0;
    return 0;
}

static int event(ht_exporter *x, const ht_event *ev, char *err, size_t errlen)
{
    const ht_event_header *h = &ev->Header;
    int64_t id = class_of(x, ev);
    stream *s = id < 0 ? NULL : stream_of(x, h->ProcessId);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const event_class *c = &x->classes[id];
    uint64_t ts = h->TimeStamp;
    if (s->started && ts < s->floor)
        ts = s->floor;
    s->floor = ts;
    s->started = 1;
    if (s->len == 0)
        s->first = ts;
    s->last = ts;
    unsigned char *p = room(s, 2 + 8 + 4 + 4 + 4);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    put(p, (uint64_t)id, 2);
    put(p + 2, ts, 8);
    put(p + 10, h->ThreadId, 4);
    put(p + 14, h->Cpu, 4); /* HT_CPU_UNKNOWN reads as -1 */
    put(p + 18, h->StackId, 4);
    for (uint32_t k = 0; k < c->field_count; k++) {
        const ht_field_value *f = k < ev->FieldCount ? &ev->Fields[k] : NULL;
        ht_str empty = {"", 0};
        int r = 0;
        if (c->field_kinds[k] == 1) {
            r = put_string(s, f && f->IsString == 1 ? &f->Bytes : &empty);
        } else if (c->field_kinds[k] == 2) {
            uint32_t n = f && f->IsString == 2 ? f->Bytes.len / 8 : 0;
            unsigned char *q = room(s, 4 + (size_t)n * 8);
            if (q) {
                put(q, n, 4);
                memcpy(q + 4, f ? f->Bytes.data : "", (size_t)n * 8); /* little-endian u64s */
            }
            r = q ? 0 : -1;
        } else {
            unsigned char *q = room(s, 8);
            if (q)
                put(q, f && f->IsString == 0 ? f->Value : 0, 8);
            r = q ? 0 : -1;
        }
        if (r < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    x->events++;
    /* A process that exited writes nothing more: its packet can go, and
     * its buffer too, so that memory follows the running processes. */
    int exits = h->Type == HT_EVENT_PROCESS_EXIT && c->known;
    if ((s->len >= PACKET_BYTES || exits) && flush_packet(x, s, err, errlen) < 0)
        return -1;
    if (exits) {
        free(s->buf);
        s->buf = NULL;
        s->cap = 0;
    }
    return 0;
}

/* Write s as a TSDL string literal: quotes and backslashes escaped, control
 * characters left out, bytes that are not valid UTF-8 written as '?' (the
 * metadata is UTF-8 text). */
static void tsdl_string(FILE *f, const char *s)
{
    fputc('"', f);
    size_t len = s ? strlen(s) : 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '"' || p[i] == '\\') {
            fputc('\\', f);
            fputc(p[i], f);
        } else if (p[i] >= 0x20 && p[i] < 0x7F) {
            fputc(p[i], f);
        } else if (p[i] >= 0x80) {
            size_t n = ht_utf8_sequence(p + i, len - i);
            if (n) {
                fwrite(p + i, 1, n, f);
                i += n - 1;
            } else {
                fputc('?', f);
            }
        }
    }
    fputc('"', f);
}

static int is_address(const char *field)
{
    return strstr(field, "Address") || strstr(field, "Handle") || !strcmp(field, "Base");
}

static int write_metadata(ht_exporter *x, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/metadata", x->out.temp_path);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    const ht_trace_info *in = x->info;
    int64_t offset = in->Clock.RealtimeOffsetNs > 0 ? in->Clock.RealtimeOffsetNs : 0;
    fputs("/* CTF 1.8 */\n\n"
          "typealias integer { size = 16; align = 8; signed = false; } := uint16_t;\n"
          "typealias integer { size = 32; align = 8; signed = false; } := uint32_t;\n"
          "typealias integer { size = 32; align = 8; signed = true; } := int32_t;\n"
          "typealias integer { size = 64; align = 8; signed = false; } := uint64_t;\n"
          "typealias integer { size = 64; align = 8; signed = false; base = hex; } := hex64_t;\n"
          "typealias integer { size = 64; align = 8; signed = true; } := int64_t;\n\n"
          "trace {\n\tmajor = 1;\n\tminor = 8;\n\tbyte_order = le;\n"
          "\tpacket.header := struct {\n\t\tuint32_t magic;\n\t\tuint32_t stream_id;\n\t};\n};\n\n"
          "env {\n\tdomain = \"heaptrail\";\n\ttracer_name = \"heaptrail\";\n\thostname = ",
          f);
    tsdl_string(f, in->Host);
    fputs(";\n\tkernel_release = ", f);
    tsdl_string(f, in->Kernel);
    fputs(";\n\tcommand = ", f);
    tsdl_string(f, in->Command);
    fputs(";\n\trecorder = ", f);
    tsdl_string(f, in->Recorder);
    fprintf(f,
            ";\n};\n\n"
            "clock {\n\tname = monotonic;\n"
            "\tdescription = \"the recording machine's clock %" PRIu32 " (CLOCK_MONOTONIC)\";\n"
            "\tfreq = 1000000000;\n\tprecision = %" PRIu32 ";\n"
            "\toffset_s = %" PRId64 ";\n\toffset = %" PRId64 ";\n\tabsolute = FALSE;\n};\n\n"
            "typealias integer { size = 64; align = 8; signed = false;"
            " map = clock.monotonic.value; } := clock_t;\n\n"
            "stream {\n\tid = 0;\n"
            "\tpacket.context := struct {\n\t\tclock_t timestamp_begin;\n"
            "\t\tclock_t timestamp_end;\n\t\tuint64_t content_size;\n"
            "\t\tuint64_t packet_size;\n\t\tuint32_t pid;\n\t};\n"
            "\tevent.header := struct {\n\t\tuint16_t id;\n\t\tclock_t timestamp;\n\t};\n"
            "\tevent.context := struct {\n\t\tuint32_t tid;\n\t\tint32_t cpu;\n"
            "\t\tuint32_t stack_id;\n\t};\n};\n",
            in->Clock.ClockId, in->Clock.ResolutionNs, offset / 1000000000,
            offset % 1000000000);
    for (size_t i = 0; i < x->class_count; i++) {
        const event_class *c = &x->classes[i];
        fprintf(f, "\nevent {\n\tname = ");
        tsdl_string(f, c->name);
        fprintf(f, ";\n\tid = %zu;\n\tstream_id = 0;\n\tfields := struct {\n", i);
        for (uint32_t k = 0; k < c->field_count; k++) {
            const char *n = c->field_names[k];
            if (c->field_kinds[k] == 1)
                fprintf(f, "\t\tstring %s;\n", c->idents[k]);
            else if (c->field_kinds[k] == 2)
                fprintf(f, "\t\tuint32_t %s;\n\t\thex64_t %s[%s];\n", c->count_idents[k],
                        c->idents[k], c->count_idents[k]);
            else
                fprintf(f, "\t\t%s %s;\n",
                        c->field_signed[k] ? "int64_t" : is_address(n) ? "hex64_t" : "uint64_t",
                        c->idents[k]);
        }
        fputs("\t};\n};\n", f);
    }
    int bad = ferror(f);
    int saved = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    if (bad) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(saved));
        return -1;
    }
    return 0;
}

static int finish(ht_exporter *x, char *err, size_t errlen)
{
    for (size_t i = 0; i < x->stream_count; i++)
        if (flush_packet(x, &x->streams[i], err, errlen) < 0)
            return -1;
    if (write_metadata(x, err, errlen) < 0)
        return -1;
    return ht_output_commit(&x->out, err, errlen);
}

const ht_export_format ht_export_ctf = {
    .name = "ctf",
    .create = create,
    .event = event,
    .finish = finish,
    .destroy = destroy,
};
