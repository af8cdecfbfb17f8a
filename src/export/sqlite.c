/* --format sqlite: the trace as an SQLite database for ad-hoc SQL. Every
 * event is a row of `events`; call stacks, their frames, the modules, the
 * process images and the threads are tables of their own, joined by ids.
 * docs/EXPORTS.md documents the schema; the indexes are built once at the
 * end, which is much faster than keeping them up to date row by row. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/exporter.h"
#include "export/output_file.h"
#include "export/stack_catalog.h"

static const char schema[] =
    "PRAGMA journal_mode=OFF;"
    "PRAGMA synchronous=OFF;"
    "PRAGMA user_version=1;"
    "CREATE TABLE trace(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE sources(source INTEGER PRIMARY KEY, name TEXT NOT NULL);"
    "CREATE TABLE processes(image INTEGER PRIMARY KEY, pid INTEGER NOT NULL,"
    " parent_pid INTEGER, executable TEXT, command_line TEXT, exec INTEGER NOT NULL DEFAULT 0,"
    " start_ns INTEGER, exit_ns INTEGER, exit_status INTEGER);"
    "CREATE TABLE threads(pid INTEGER NOT NULL, tid INTEGER NOT NULL, parent_tid INTEGER,"
    " name TEXT, start_ns INTEGER, exit_ns INTEGER, PRIMARY KEY(pid, tid)) WITHOUT ROWID;"
    "CREATE TABLE modules(id INTEGER PRIMARY KEY, image INTEGER NOT NULL, pid INTEGER NOT NULL,"
    " base INTEGER NOT NULL, size INTEGER NOT NULL, path TEXT NOT NULL, build_id TEXT,"
    " load_ns INTEGER NOT NULL, unload_ns INTEGER);"
    "CREATE TABLE frames(id INTEGER PRIMARY KEY, function TEXT, file TEXT, line INTEGER,"
    " module TEXT, module_offset INTEGER NOT NULL, inlined INTEGER NOT NULL);"
    "CREATE TABLE stacks(id INTEGER PRIMARY KEY, image INTEGER NOT NULL, pid INTEGER NOT NULL,"
    " stack_id INTEGER NOT NULL, depth INTEGER NOT NULL);"
    "CREATE TABLE stack_frames(stack INTEGER NOT NULL, position INTEGER NOT NULL,"
    " frame INTEGER NOT NULL, PRIMARY KEY(stack, position)) WITHOUT ROWID;"
    "CREATE TABLE events(id INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, pid INTEGER NOT NULL,"
    " tid INTEGER NOT NULL, cpu INTEGER, image INTEGER NOT NULL, type TEXT NOT NULL,"
    " heap INTEGER, address INTEGER, size INTEGER, old_address INTEGER, old_size INTEGER,"
    " source INTEGER, stack INTEGER);"
    "BEGIN;";

static const char indexes[] =
    "CREATE INDEX events_by_time ON events(time_ns);"
    "CREATE INDEX events_by_process ON events(pid, time_ns);"
    "CREATE INDEX events_by_type ON events(type);"
    "CREATE INDEX events_by_address ON events(address);"
    "CREATE INDEX events_by_stack ON events(stack);"
    "CREATE INDEX stacks_by_image ON stacks(image, stack_id);"
    "CREATE INDEX stack_frames_by_frame ON stack_frames(frame);"
    "CREATE INDEX frames_by_function ON frames(function);"
    "CREATE INDEX modules_by_image ON modules(image, base);"
    "CREATE INDEX processes_by_pid ON processes(pid);";

enum {
    ST_EVENT,
    ST_PROCESS,
    ST_PROCESS_START,
    ST_PROCESS_EXIT,
    ST_THREAD,
    ST_THREAD_EXIT,
    ST_THREAD_NAME,
    ST_MODULE,
    ST_MODULE_UNLOAD,
    ST_STACK,
    ST_STACK_FRAME,
    ST_FRAME,
    ST_COUNT
};

static const char *const statements[ST_COUNT] = {
    [ST_EVENT] = "INSERT INTO events VALUES(NULL,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_PROCESS] = "INSERT INTO processes(image, pid) VALUES(?,?)",
    [ST_PROCESS_START] = "UPDATE processes SET parent_pid=?, executable=?, command_line=?,"
                         " exec=?, start_ns=? WHERE image=?",
    [ST_PROCESS_EXIT] = "UPDATE processes SET exit_ns=?, exit_status=? WHERE image=?",
    [ST_THREAD] = "INSERT INTO threads(pid, tid, parent_tid, start_ns) VALUES(?,?,?,?)"
                  " ON CONFLICT(pid, tid) DO UPDATE SET parent_tid=excluded.parent_tid,"
                  " start_ns=excluded.start_ns, exit_ns=NULL",
    [ST_THREAD_EXIT] = "INSERT INTO threads(pid, tid, exit_ns) VALUES(?,?,?)"
                       " ON CONFLICT(pid, tid) DO UPDATE SET exit_ns=excluded.exit_ns",
    [ST_THREAD_NAME] = "INSERT INTO threads(pid, tid, name) VALUES(?,?,?)"
                       " ON CONFLICT(pid, tid) DO UPDATE SET name=excluded.name",
    [ST_MODULE] = "INSERT INTO modules VALUES(NULL,?,?,?,?,?,?,?,NULL)",
    [ST_MODULE_UNLOAD] = "UPDATE modules SET unload_ns=? WHERE id=(SELECT max(id) FROM modules"
                         " WHERE image=? AND base=? AND unload_ns IS NULL)",
    [ST_STACK] = "INSERT INTO stacks VALUES(?,?,?,?,?)",
    [ST_STACK_FRAME] = "INSERT INTO stack_frames VALUES(?,?,?)",
    [ST_FRAME] = "INSERT INTO frames VALUES(?,?,?,?,?,?,?)",
};

struct ht_exporter {
    ht_output_file out;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    ht_stack_catalog *catalog;
    uint32_t images_written; /* processes rows for images 1 .. this */
    uint32_t stacks_written; /* stacks rows for catalog indexes below this */
    uint32_t frames_written;
};

static int fail(ht_exporter *x, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", x->out.path,
             x->db ? sqlite3_errmsg(x->db) : "cannot open the database");
    return -1;
}

static void destroy(ht_exporter *x)
{
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(x->st[i]);
    sqlite3_close(x->db);
    ht_output_abort(&x->out);
    ht_stack_catalog_destroy(x->catalog);
    free(x);
}

/* Bind an unsigned value: SQLite integers are signed 64-bit, so values of
 * 2^63 and above (kernel addresses, handles) read back negative, with the
 * same bits. */
static void bind_u64(sqlite3_stmt *s, int i, uint64_t v) { sqlite3_bind_int64(s, i, (int64_t)v); }

static void bind_text(sqlite3_stmt *s, int i, const char *data, size_t len)
{
    if (data)
        sqlite3_bind_text(s, i, data, (int)len, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

static int step(ht_exporter *x, int which)
{
    sqlite3_stmt *s = x->st[which];
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int put_trace_key(ht_exporter *x, const char *key, const char *text, int64_t number)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(x->db, "INSERT INTO trace VALUES(?,?)", -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    if (text)
        sqlite3_bind_text(s, 2, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_int64(s, 2, number);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int describe_trace(ht_exporter *x, const ht_export_options *o)
{
    const ht_trace_info *in = o->info;
    if (put_trace_key(x, "command", in->Command ? in->Command : "", 0) < 0 ||
        put_trace_key(x, "host", in->Host ? in->Host : "", 0) < 0 ||
        put_trace_key(x, "kernel", in->Kernel ? in->Kernel : "", 0) < 0 ||
        put_trace_key(x, "recorder", in->Recorder ? in->Recorder : "", 0) < 0 ||
        put_trace_key(x, "start_ns", NULL, (int64_t)in->StartTimeNs) < 0 ||
        put_trace_key(x, "realtime_offset_ns", NULL, in->Clock.RealtimeOffsetNs) < 0 ||
        put_trace_key(x, "options", NULL, in->Options) < 0)
        return -1;
    char sql[128];
    for (uint32_t s = MEMORY_FROM_LOOKASIDE; s <= MEMORY_FROM_SEGMENT_HEAP; s++) {
        snprintf(sql, sizeof sql, "INSERT INTO sources VALUES(%" PRIu32 ",'%s')", s,
                 ht_source_name(s));
        if (sqlite3_exec(x->db, sql, NULL, NULL, NULL) != SQLITE_OK)
            return -1;
    }
    return 0;
}

static ht_exporter *create(const ht_export_options *o, char *err, size_t errlen)
{
    ht_exporter *x = calloc(1, sizeof *x);
    if (!x || !(x->catalog = ht_stack_catalog_create(o->resolve, o->resolve_context))) {
        free(x);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (ht_output_open(&x->out, o->output, err, errlen) < 0) {
        destroy(x);
        return NULL;
    }
    /* SQLite writes the file itself, by name. */
    fclose(x->out.fp);
    x->out.fp = NULL;
    if (sqlite3_open_v2(x->out.temp_path, &x->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_exec(x->db, schema, NULL, NULL, NULL) != SQLITE_OK || describe_trace(x, o) < 0) {
        fail(x, err, errlen);
        destroy(x);
        return NULL;
    }
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(x->db, statements[i], -1, SQLITE_PREPARE_PERSISTENT, &x->st[i],
                               NULL) != SQLITE_OK) {
            fail(x, err, errlen);
            destroy(x);
            return NULL;
        }
    return x;
}

/* Rows for the images, stacks and frames the catalog has met since the
 * last call. */
static int write_new_rows(ht_exporter *x, uint32_t image)
{
    for (; x->images_written < image; x->images_written++) {
        uint32_t serial = x->images_written + 1;
        sqlite3_bind_int64(x->st[ST_PROCESS], 1, serial);
        sqlite3_bind_int64(x->st[ST_PROCESS], 2, ht_stack_catalog_image_pid(x->catalog, serial));
        if (step(x, ST_PROCESS) < 0)
            return -1;
    }
    for (; x->frames_written < ht_stack_catalog_frame_count(x->catalog); x->frames_written++) {
        const ht_frame *f = ht_stack_catalog_frame(x->catalog, x->frames_written);
        sqlite3_stmt *s = x->st[ST_FRAME];
        sqlite3_bind_int64(s, 1, x->frames_written);
        bind_text(s, 2, f->function, f->function ? strlen(f->function) : 0);
        bind_text(s, 3, f->file, f->file ? strlen(f->file) : 0);
        if (f->line)
            sqlite3_bind_int64(s, 4, f->line);
        bind_text(s, 5, f->module, f->module ? strlen(f->module) : 0);
        bind_u64(s, 6, f->module_offset);
        sqlite3_bind_int(s, 7, f->inlined != 0);
        if (step(x, ST_FRAME) < 0)
            return -1;
    }
    for (; x->stacks_written < ht_stack_catalog_count(x->catalog); x->stacks_written++) {
        uint32_t i = x->stacks_written, n;
        const uint32_t *ids = ht_stack_catalog_frames(x->catalog, i, &n);
        uint32_t img = ht_stack_catalog_stack_image(x->catalog, i);
        sqlite3_stmt *s = x->st[ST_STACK];
        sqlite3_bind_int64(s, 1, i);
        sqlite3_bind_int64(s, 2, img);
        sqlite3_bind_int64(s, 3, ht_stack_catalog_image_pid(x->catalog, img));
        sqlite3_bind_int64(s, 4, ht_stack_catalog_stack_id(x->catalog, i));
        sqlite3_bind_int64(s, 5, n);
        if (step(x, ST_STACK) < 0)
            return -1;
        for (uint32_t k = 0; k < n; k++) {
            s = x->st[ST_STACK_FRAME];
            sqlite3_bind_int64(s, 1, i);
            sqlite3_bind_int64(s, 2, k);
            sqlite3_bind_int64(s, 3, ids[k]);
            if (step(x, ST_STACK_FRAME) < 0)
                return -1;
        }
    }
    return 0;
}

/* A command line's NUL separators as spaces, into a buffer of its own. */
static int bind_command(sqlite3_stmt *s, int i, const ht_str *cmd)
{
    char *text = malloc(cmd->len + 1);
    if (!text)
        return -1;
    for (uint32_t k = 0; k < cmd->len; k++)
        text[k] = cmd->data[k] ? cmd->data[k] : ' ';
    size_t len = cmd->len;
    while (len && text[len - 1] == ' ' && !cmd->data[len - 1])
        len--;
    sqlite3_bind_text(s, i, text, (int)len, free);
    return 0;
}

static int process_and_thread_rows(ht_exporter *x, const ht_event *ev, uint32_t image)
{
    const ht_event_header *h = &ev->Header;
    sqlite3_stmt *s;
    switch (h->Type) {
    case HT_EVENT_PROCESS_START:
        s = x->st[ST_PROCESS_START];
        sqlite3_bind_int64(s, 1, ev->u.ProcessStart.ParentPid);
        bind_text(s, 2, ev->u.ProcessStart.Executable.data, ev->u.ProcessStart.Executable.len);
        if (bind_command(s, 3, &ev->u.ProcessStart.CommandLine) < 0)
            return -1;
        sqlite3_bind_int(s, 4, ht_stack_catalog_image_exec(x->catalog, image));
        bind_u64(s, 5, h->TimeStamp);
        sqlite3_bind_int64(s, 6, image);
        return step(x, ST_PROCESS_START);
    case HT_EVENT_PROCESS_EXIT:
        s = x->st[ST_PROCESS_EXIT];
        bind_u64(s, 1, h->TimeStamp);
        if (ev->u.ProcessExit.KnownStatus)
            sqlite3_bind_int64(s, 2, ev->u.ProcessExit.ExitStatus);
        sqlite3_bind_int64(s, 3, image);
        return step(x, ST_PROCESS_EXIT);
    case HT_EVENT_THREAD_START:
        s = x->st[ST_THREAD];
        sqlite3_bind_int64(s, 1, h->ProcessId);
        sqlite3_bind_int64(s, 2, h->ThreadId);
        sqlite3_bind_int64(s, 3, ev->u.ThreadStart.ParentTid);
        bind_u64(s, 4, h->TimeStamp);
        return step(x, ST_THREAD);
    case HT_EVENT_THREAD_EXIT:
        s = x->st[ST_THREAD_EXIT];
        sqlite3_bind_int64(s, 1, h->ProcessId);
        sqlite3_bind_int64(s, 2, h->ThreadId);
        bind_u64(s, 3, h->TimeStamp);
        return step(x, ST_THREAD_EXIT);
    case HT_EVENT_THREAD_NAME:
        s = x->st[ST_THREAD_NAME];
        sqlite3_bind_int64(s, 1, h->ProcessId);
        sqlite3_bind_int64(s, 2, h->ThreadId);
        bind_text(s, 3, ev->u.ThreadName.Name.data ? ev->u.ThreadName.Name.data : "",
                  ev->u.ThreadName.Name.len);
        return step(x, ST_THREAD_NAME);
    default:
        return 0;
    }
}

static int module_rows(ht_exporter *x, const ht_event *ev, uint32_t image)
{
    const ht_event_header *h = &ev->Header;
    sqlite3_stmt *s;
    if (h->Type == HT_EVENT_MODULE_LOAD) {
        const ht_module_load *m = &ev->u.ModuleLoad;
        s = x->st[ST_MODULE];
        sqlite3_bind_int64(s, 1, image);
        sqlite3_bind_int64(s, 2, h->ProcessId);
        bind_u64(s, 3, m->Base);
        bind_u64(s, 4, m->Size);
        bind_text(s, 5, m->Path.data ? m->Path.data : "", m->Path.len);
        if (m->BuildId.len) {
            char *hex = malloc((size_t)m->BuildId.len * 2 + 1);
            if (!hex)
                return -1;
            for (uint32_t k = 0; k < m->BuildId.len; k++)
                snprintf(hex + 2 * k, 3, "%02x", (unsigned char)m->BuildId.data[k]);
            sqlite3_bind_text(s, 6, hex, (int)(m->BuildId.len * 2), free);
        }
        bind_u64(s, 7, h->TimeStamp);
        return step(x, ST_MODULE);
    }
    if (h->Type == HT_EVENT_MODULE_UNLOAD) {
        s = x->st[ST_MODULE_UNLOAD];
        bind_u64(s, 1, h->TimeStamp);
        sqlite3_bind_int64(s, 2, image);
        bind_u64(s, 3, ev->u.ModuleUnload.Base);
        return step(x, ST_MODULE_UNLOAD);
    }
    return 0;
}

/* The columns heap, address, size, old_address, old_size and source of an
 * event (docs/EXPORTS.md says which apply to which type). */
static void bind_event_columns(sqlite3_stmt *s, const ht_event *ev)
{
    enum { HEAP = 7, ADDRESS, SIZE, OLD_ADDRESS, OLD_SIZE, SOURCE };
    switch (ev->Header.Type) {
    case HT_EVENT_HEAP_ALLOC:
        bind_u64(s, HEAP, ev->u.Alloc.HeapHandle);
        bind_u64(s, ADDRESS, ev->u.Alloc.Address);
        bind_u64(s, SIZE, ev->u.Alloc.Size);
        sqlite3_bind_int64(s, SOURCE, ev->u.Alloc.Source);
        break;
    case HT_EVENT_HEAP_FREE:
        bind_u64(s, HEAP, ev->u.Free.HeapHandle);
        bind_u64(s, ADDRESS, ev->u.Free.Address);
        sqlite3_bind_int64(s, SOURCE, ev->u.Free.Source);
        break;
    case HT_EVENT_HEAP_REALLOC:
        bind_u64(s, HEAP, ev->u.Realloc.HeapHandle);
        bind_u64(s, ADDRESS, ev->u.Realloc.NewAddress);
        bind_u64(s, SIZE, ev->u.Realloc.NewSize);
        bind_u64(s, OLD_ADDRESS, ev->u.Realloc.OldAddress);
        bind_u64(s, OLD_SIZE, ev->u.Realloc.OldSize);
        sqlite3_bind_int64(s, SOURCE, ev->u.Realloc.Source);
        break;
    case HT_EVENT_HEAP_CREATE:
        bind_u64(s, HEAP, ev->u.Create.HeapHandle);
        break;
    case HT_EVENT_HEAP_DESTROY:
    case HT_EVENT_HEAP_LOCK:
    case HT_EVENT_HEAP_UNLOCK:
    case HT_EVENT_HEAP_VALIDATE:
    case HT_EVENT_HEAP_WALK:
        bind_u64(s, HEAP, ev->u.Handle.HeapHandle);
        break;
    case HT_EVENT_HEAP_EXPAND:
        bind_u64(s, HEAP, ev->u.Expand.HeapHandle);
        bind_u64(s, ADDRESS, ev->u.Expand.CommitAddress);
        bind_u64(s, SIZE, ev->u.Expand.CommittedSize);
        break;
    case HT_EVENT_HEAP_CONTRACT:
        bind_u64(s, HEAP, ev->u.Contract.HeapHandle);
        bind_u64(s, ADDRESS, ev->u.Contract.DeCommitAddress);
        bind_u64(s, SIZE, ev->u.Contract.DeCommittedSize);
        break;
    case HT_EVENT_HEAP_SNAPSHOT:
        bind_u64(s, HEAP, ev->u.SnapShot.HeapHandle);
        bind_u64(s, SIZE, ev->u.SnapShot.CommittedSpace);
        break;
    case HT_EVENT_MODULE_LOAD:
        bind_u64(s, ADDRESS, ev->u.ModuleLoad.Base);
        bind_u64(s, SIZE, ev->u.ModuleLoad.Size);
        break;
    case HT_EVENT_MODULE_UNLOAD:
        bind_u64(s, ADDRESS, ev->u.ModuleUnload.Base);
        break;
    case HT_EVENT_OS_MAP:
        bind_u64(s, ADDRESS, ev->u.OsMap.Address);
        bind_u64(s, SIZE, ev->u.OsMap.Length);
        break;
    case HT_EVENT_OS_UNMAP:
        bind_u64(s, ADDRESS, ev->u.OsUnmap.Address);
        bind_u64(s, SIZE, ev->u.OsUnmap.Length);
        break;
    case HT_EVENT_OS_REMAP:
        bind_u64(s, ADDRESS, ev->u.OsRemap.NewAddress);
        bind_u64(s, SIZE, ev->u.OsRemap.NewLength);
        bind_u64(s, OLD_ADDRESS, ev->u.OsRemap.OldAddress);
        bind_u64(s, OLD_SIZE, ev->u.OsRemap.OldLength);
        break;
    case HT_EVENT_LOST:
        bind_u64(s, SIZE, ev->u.Lost.EventsLost);
        break;
    default:
        break;
    }
}

static int event(ht_exporter *x, const ht_event *ev, char *err, size_t errlen)
{
    const ht_event_header *h = &ev->Header;
    int known = !(h->Flags & HT_EVENT_FLAG_UNKNOWN_TYPE);
    if (ht_stack_catalog_event(x->catalog, ev) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    uint32_t image = ht_stack_catalog_image(x->catalog, h->ProcessId);
    uint32_t stack = 0;
    if (!image || (h->StackId && ht_stack_catalog_get(x->catalog, h->ProcessId, h->StackId,
                                                      &stack) < 0)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (write_new_rows(x, image) < 0 ||
        (known && (process_and_thread_rows(x, ev, image) < 0 || module_rows(x, ev, image) < 0)))
        return fail(x, err, errlen);
    sqlite3_stmt *s = x->st[ST_EVENT];
    bind_u64(s, 1, h->TimeStamp);
    sqlite3_bind_int64(s, 2, h->ProcessId);
    sqlite3_bind_int64(s, 3, h->ThreadId);
    if (h->Cpu != HT_CPU_UNKNOWN)
        sqlite3_bind_int64(s, 4, h->Cpu);
    sqlite3_bind_int64(s, 5, image);
    const char *name = known ? ht_event_type_name(h->Type) : NULL;
    if (!name)
        name = ev->Name ? ev->Name : "unknown";
    sqlite3_bind_text(s, 6, name, -1, SQLITE_TRANSIENT);
    if (known)
        bind_event_columns(s, ev);
    if (h->StackId)
        sqlite3_bind_int64(s, 13, stack);
    return step(x, ST_EVENT) < 0 ? fail(x, err, errlen) : 0;
}

static int finish(ht_exporter *x, char *err, size_t errlen)
{
    if (sqlite3_exec(x->db, "COMMIT;", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(x->db, indexes, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(x->db, "ANALYZE;", NULL, NULL, NULL) != SQLITE_OK)
        return fail(x, err, errlen);
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(x->st[i]);
        x->st[i] = NULL;
    }
    int rc = sqlite3_close(x->db);
    x->db = NULL;
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", x->out.path, sqlite3_errstr(rc));
        return -1;
    }
    return ht_output_commit(&x->out, err, errlen);
}

const ht_export_format ht_export_sqlite = {
    .name = "sqlite",
    .needs_stacks = 1,
    .create = create,
    .event = event,
    .finish = finish,
    .destroy = destroy,
};
