#include "cli/progress.h"

#include <stdio.h>
#include <unistd.h>

#include "trace/clock.h"

#define SHOW_AFTER_NS 500000000u
#define EVERY_NS 100000000u

static struct {
    bool on, drawn;
    const char *name;
    uint64_t total, started, last;
} pg;

void ht_progress_begin(const char *name, uint64_t total, bool shown)
{
    pg.on = shown && total > 0 && isatty(STDERR_FILENO);
    pg.drawn = false;
    pg.name = name;
    pg.total = total;
    pg.started = pg.last = ht_now_ns();
}

void ht_progress_update(uint64_t done)
{
    if (!pg.on)
        return;
    uint64_t now = ht_now_ns();
    if (now - pg.started < SHOW_AFTER_NS || now - pg.last < EVERY_NS)
        return;
    pg.last = now;
    pg.drawn = true;
    double part = (double)(done < pg.total ? done : pg.total) / (double)pg.total;
    fprintf(stderr, "\rheaptrail %s: %3.0f%% of %.1f MiB, %.1f s\033[K", pg.name, part * 100,
            (double)pg.total / (1 << 20), (double)(now - pg.started) / 1e9);
    fflush(stderr);
}

void ht_progress_end(void)
{
    if (pg.drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    pg.on = pg.drawn = false;
}
