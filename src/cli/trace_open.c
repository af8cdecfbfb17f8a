#include "cli/trace_open.h"

#include <inttypes.h>
#include <stdbool.h>

#include "cli/cli.h"
#include "cli/progress.h"

static int open_status = HT_EXIT_FAILURE;
static bool progress_quiet;
static uint32_t until_update;

/* Events between two looks at the progress line. */
#define PROGRESS_EVERY 65536

void ht_cli_quiet_progress(void) { progress_quiet = true; }

int ht_cli_open_status(void) { return open_status; }

ht_trace *ht_cli_open_trace(const char *name, const char *path)
{
    ht_trace_error err;
    ht_trace *t = ht_trace_open(path, &err);
    if (!t) {
        ht_cli_error(name, "%s", err.message);
        open_status = err.code == HT_TRACE_ERR_NOT_TRACE ? HT_EXIT_USAGE : HT_EXIT_FAILURE;
        return NULL;
    }
    ht_progress_begin(name, ht_trace_get_status(t)->FileSize, !progress_quiet);
    until_update = PROGRESS_EVERY;
    return t;
}

int ht_cli_next(ht_trace *t, const ht_event **event)
{
    if (--until_update == 0) {
        until_update = PROGRESS_EVERY;
        ht_progress_update(ht_trace_get_status(t)->CompressedBytes);
    }
    return ht_trace_next(t, event);
}

int ht_cli_process(ht_trace *t, ht_event_callback callback, void *context)
{
    const ht_event *ev;
    int r;
    while ((r = ht_cli_next(t, &ev)) == 1) {
        int stop = callback(ev, context);
        if (stop)
            return stop;
    }
    return r;
}

typedef struct records_progress {
    ht_trace *trace;
    ht_records_callback callback;
    void *context;
} records_progress;

/* A call brings a slice of a chunk: a look at the progress line each time
 * costs nothing beside it. */
static int records_with_progress(uint32_t pid, const ht_record *recs, size_t n, void *ctx)
{
    records_progress *rp = ctx;
    ht_progress_update(ht_trace_get_status(rp->trace)->CompressedBytes);
    return rp->callback(pid, recs, n, rp->context);
}

int ht_cli_process_records(ht_trace *t, unsigned workers, ht_records_callback callback,
                           void *context)
{
    records_progress rp = {t, callback, context};
    return ht_trace_process_records(t, workers, records_with_progress, &rp);
}

int ht_cli_finish_trace(const char *name, ht_trace *t, int read_result)
{
    int status = HT_EXIT_OK;
    ht_progress_end();
    const ht_trace_status *st = ht_trace_get_status(t);
    if (read_result < 0) {
        const ht_trace_error *e = ht_trace_last_error(t);
        ht_cli_error(name, "%s", e ? e->message : "read failed");
        status = HT_EXIT_FAILURE;
    } else if (st->Truncated) {
        ht_cli_warn(name,
                    "trace is truncated: read %" PRIu64 " chunks up to offset %" PRIu64
                    "; %" PRIu64 " bytes of an incomplete chunk after it were ignored",
                    st->ChunksRead, st->TruncatedAt, st->TrailingBytes);
    }
    ht_trace_close(t);
    return status;
}
