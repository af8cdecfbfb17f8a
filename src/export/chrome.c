/* --format chrome: the Chrome Trace Event format (JSON object form), which
 * Perfetto and chrome://tracing open. Each process gets a counter track of
 * its live heap bytes and one per heap, updated at every allocation, free
 * and reallocation; process, thread, module, heap and loss events become
 * instant events; process and thread names become metadata. Timestamps are
 * microseconds since the recording started, with nanosecond decimals. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/idmap.h"
#include "export/exporter.h"
#include "export/json_text.h"
#include "export/live_split.h"
#include "export/output_file.h"

struct ht_exporter {
    ht_output_file out;
    uint64_t start; /* trace clock at the start of the recording */
    ht_live_split *live; /* by heap */
    ht_idmap started;    /* pids whose start was seen: a second start is an exec */
    int first;           /* no event written yet */
};

static void destroy(ht_exporter *x)
{
    ht_output_abort(&x->out);
    ht_live_split_destroy(x->live);
    ht_idmap_destroy(&x->started);
    free(x);
}

static ht_exporter *create(const ht_export_options *o, char *err, size_t errlen)
{
    ht_exporter *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ht_idmap_init(&x->started);
    x->start = o->info->StartTimeNs;
    x->first = 1;
    if (!(x->live = ht_live_split_create(HT_SPLIT_HEAP))) {
        snprintf(err, errlen, "out of memory");
        destroy(x);
        return NULL;
    }
    if (ht_output_open(&x->out, o->output, err, errlen) < 0) {
        destroy(x);
        return NULL;
    }
    fputs("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"command\":", x->out.fp);
    const char *cmd = o->info->Command ? o->info->Command : "";
    ht_export_json_string(x->out.fp, cmd, strlen(cmd));
    fputs(",\"host\":", x->out.fp);
    const char *host = o->info->Host ? o->info->Host : "";
    ht_export_json_string(x->out.fp, host, strlen(host));
    fputs("},\n\"traceEvents\":[", x->out.fp);
    return x;
}

/* Start one event object: the separator, then the fields every event has. */
static void begin(ht_exporter *x, const char *ph, const char *name, const ht_event_header *h)
{
    FILE *f = x->out.fp;
    fputs(x->first ? "\n{" : ",\n{", f);
    x->first = 0;
    int64_t rel = (int64_t)(h->TimeStamp - x->start);
    uint64_t mag = rel < 0 ? (uint64_t)0 - (uint64_t)rel : (uint64_t)rel;
    fprintf(f, "\"ph\":\"%s\",\"name\":", ph);
    ht_export_json_string(f, name, strlen(name));
    fprintf(f, ",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"ts\":%s%" PRIu64 ".%03" PRIu64,
            h->ProcessId, h->ThreadId, rel < 0 ? "-" : "", mag / 1000, mag % 1000);
}

static void counter(ht_exporter *x, const ht_event_header *h, const char *name, uint64_t bytes)
{
    begin(x, "C", name, h);
    fprintf(x->out.fp, ",\"args\":{\"bytes\":%" PRIu64 "}}", bytes);
}

static void heap_counter(ht_exporter *x, const ht_event_header *h, uint64_t handle,
                         uint64_t bytes)
{
    char name[64];
    snprintf(name, sizeof name, "heap 0x%" PRIx64 " live bytes", handle);
    counter(x, h, name, bytes);
}

/* An allocation, free or reallocation: write the counters it changed. */
static int heap_event(ht_exporter *x, const ht_event *ev)
{
    ht_live_change c;
    if (ht_live_split_event(x->live, ev, &c) < 0)
        return -1;
    counter(x, &ev->Header, "live bytes", c.process_live);
    for (size_t i = 0; i < c.count; i++)
        heap_counter(x, &ev->Header, c.keys[i], c.live[i]);
    return 0;
}

/* The event that an exec's reset of the counters is written at. */
typedef struct reset_context {
    ht_exporter *x;
    const ht_event_header *h;
} reset_context;

static void heap_emptied(void *context, uint64_t handle)
{
    reset_context *r = context;
    heap_counter(r->x, r->h, handle, 0);
}

/* An exec: the new image starts with nothing live. */
static void new_image(ht_exporter *x, const ht_event_header *h)
{
    reset_context r = {x, h};
    if (ht_live_split_process(x->live, h->ProcessId))
        counter(x, h, "live bytes", 0);
    ht_live_split_reset(x->live, h->ProcessId, heap_emptied, &r);
}

static void string_arg(FILE *f, const char *key, const ht_str *s)
{
    fprintf(f, ",\"%s\":", key);
    ht_export_json_string(f, s->data ? s->data : "", s->len);
}

/* A command line's NUL separators as spaces. */
static void command_arg(FILE *f, const ht_str *s)
{
    fputs(",\"command\":\"", f);
    for (uint32_t i = 0; i < s->len; i++) {
        uint32_t j = i;
        while (j < s->len && s->data[j])
            j++;
        if (i)
            fputc(' ', f);
        ht_export_json_chars(f, s->data + i, j - i);
        i = j;
    }
    fputc('"', f);
}

static void process_name(ht_exporter *x, const ht_event *ev)
{
    FILE *f = x->out.fp;
    const ht_str *exe = &ev->u.ProcessStart.Executable;
    const char *data = exe->data ? exe->data : "";
    size_t len = exe->len;
    const char *slash = memrchr(data, '/', len);
    if (slash) {
        len -= (size_t)(slash + 1 - data);
        data = slash + 1;
    }
    begin(x, "M", "process_name", &ev->Header);
    fputs(",\"args\":{\"name\":", f);
    ht_export_json_string(f, data, len);
    fputs("}}", f);
}

static int event(ht_exporter *x, const ht_event *ev, char *err, size_t errlen)
{
    const ht_event_header *h = &ev->Header;
    FILE *f = x->out.fp;
    if (h->Flags & HT_EVENT_FLAG_UNKNOWN_TYPE)
        return 0;
    int status = 0;
    switch (h->Type) {
    case HT_EVENT_HEAP_ALLOC:
    case HT_EVENT_HEAP_FREE:
    case HT_EVENT_HEAP_REALLOC:
        status = heap_event(x, ev);
        break;
    case HT_EVENT_PROCESS_START: {
        uint32_t seen;
        int known = ht_idmap_get(&x->started, h->ProcessId, &seen);
        if (known)
            new_image(x, h);
        else if (ht_idmap_put(&x->started, h->ProcessId, 1) < 0)
            status = -1;
        process_name(x, ev);
        begin(x, "i", known ? "exec" : "process start", h);
        fprintf(f, ",\"s\":\"p\",\"args\":{\"parent_pid\":%" PRIu32, ev->u.ProcessStart.ParentPid);
        string_arg(f, "executable", &ev->u.ProcessStart.Executable);
        command_arg(f, &ev->u.ProcessStart.CommandLine);
        fputs("}}", f);
        break;
    }
    case HT_EVENT_PROCESS_EXIT:
        /* Its counters keep their last values (what it leaked); its blocks
         * need no memory any more. */
        ht_live_split_reset(x->live, h->ProcessId, NULL, NULL);
        begin(x, "i", "process exit", h);
        fprintf(f, ",\"s\":\"p\",\"args\":{\"exit_status\":%" PRId32 ",\"known\":%s}}",
                ev->u.ProcessExit.ExitStatus, ev->u.ProcessExit.KnownStatus ? "true" : "false");
        break;
    case HT_EVENT_THREAD_START:
        begin(x, "i", "thread start", h);
        fprintf(f, ",\"s\":\"t\",\"args\":{\"parent_tid\":%" PRIu32 "}}",
                ev->u.ThreadStart.ParentTid);
        break;
    case HT_EVENT_THREAD_EXIT:
        begin(x, "i", "thread exit", h);
        fputs(",\"s\":\"t\"}", f);
        break;
    case HT_EVENT_THREAD_NAME:
        begin(x, "M", "thread_name", h);
        fputs(",\"args\":{\"name\":", f);
        ht_export_json_string(f, ev->u.ThreadName.Name.data ? ev->u.ThreadName.Name.data : "",
                              ev->u.ThreadName.Name.len);
        fputs("}}", f);
        break;
    case HT_EVENT_MODULE_LOAD:
        begin(x, "i", "module load", h);
        fprintf(f, ",\"s\":\"p\",\"args\":{\"base\":\"0x%" PRIx64 "\",\"size\":%" PRIu64,
                ev->u.ModuleLoad.Base, ev->u.ModuleLoad.Size);
        string_arg(f, "path", &ev->u.ModuleLoad.Path);
        fputs("}}", f);
        break;
    case HT_EVENT_HEAP_CREATE:
    case HT_EVENT_HEAP_DESTROY:
        begin(x, "i", h->Type == HT_EVENT_HEAP_CREATE ? "heap create" : "heap destroy", h);
        fprintf(f, ",\"s\":\"p\",\"args\":{\"heap\":\"0x%" PRIx64 "\"}}",
                h->Type == HT_EVENT_HEAP_CREATE ? ev->u.Create.HeapHandle
                                                : ev->u.Handle.HeapHandle);
        break;
    case HT_EVENT_LOST:
        begin(x, "i", "events lost", h);
        fprintf(f, ",\"s\":\"g\",\"args\":{\"events\":%" PRIu64 ",\"reason\":%" PRIu32 "}}",
                ev->u.Lost.EventsLost, ev->u.Lost.Reason);
        break;
    default:
        break;
    }
    if (status < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (ferror(f)) {
        ht_output_error(&x->out, errno, err, errlen);
        return -1;
    }
    return 0;
}

static int finish(ht_exporter *x, char *err, size_t errlen)
{
    fputs("\n]}\n", x->out.fp);
    return ht_output_finish(&x->out, err, errlen);
}

const ht_export_format ht_export_chrome = {
    .name = "chrome",
    .stdout_ok = 1,
    .create = create,
    .event = event,
    .finish = finish,
    .destroy = destroy,
};
