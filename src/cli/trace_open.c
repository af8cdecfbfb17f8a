#include "cli/trace_open.h"

#include <inttypes.h>

#include "cli/cli.h"

static int open_status = HT_EXIT_FAILURE;

int ht_cli_open_status(void) { return open_status; }

ht_trace *ht_cli_open_trace(const char *name, const char *path)
{
    ht_trace_error err;
    ht_trace *t = ht_trace_open(path, &err);
    if (!t) {
        ht_cli_error(name, "%s", err.message);
        open_status = err.code == HT_TRACE_ERR_NOT_TRACE ? HT_EXIT_USAGE : HT_EXIT_FAILURE;
    }
    return t;
}

int ht_cli_finish_trace(const char *name, ht_trace *t, int read_result)
{
    int status = HT_EXIT_OK;
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
