/* The TSC as the writers' clock: whether it may be, and its conversion to
 * CLOCK_MONOTONIC (see tsc.h). */
#include "trace/tsc.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "trace/clock.h"

#define CALIBRATE_NS 2000000ull /* the first measure of the ratio */
#define UPDATE_NS 100000000ull  /* between comparisons with CLOCK_MONOTONIC */
#define HORIZON_NS 1000000000ull /* a drift found is taken up over this long */
#define MAX_GAP_NS 1000000ull   /* further apart than this (a suspend): jump */

/* Whether the file's first line is `want` followed by a newline. */
static bool first_line_is(const char *path, const char *want)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    char line[128];
    bool is = fgets(line, sizeof line, f) && strcspn(line, "\n") == strlen(want) &&
              strncmp(line, want, strlen(want)) == 0;
    fclose(f);
    return is;
}

/* Whether the first "flags" line of /proc/cpuinfo names both flags. */
static bool cpu_has_flags(const char *a, const char *b)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (!f)
        return false;
    char line[4096];
    bool has = false;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        char *end = line + strcspn(line, "\n");
        *end++ = ' ';
        *end = '\0';
        char want_a[64], want_b[64];
        snprintf(want_a, sizeof want_a, " %s ", a);
        snprintf(want_b, sizeof want_b, " %s ", b);
        has = strstr(line, want_a) && strstr(line, want_b);
        break;
    }
    fclose(f);
    return has;
}

bool ht_tsc_usable(void)
{
    return HT_TSC_AVAILABLE &&
           first_line_is("/sys/devices/system/clocksource/clocksource0/current_clocksource",
                         "tsc") &&
           cpu_has_flags("constant_tsc", "nonstop_tsc");
}

/* A tick and CLOCK_MONOTONIC at one moment: the middle of the narrowest of
 * a few tries (one may be cut by preemption). */
static void read_pair(uint64_t *tick, uint64_t *ns)
{
    uint64_t narrowest = UINT64_MAX;
    *tick = *ns = 0; /* the first try always wins, which -O3 cannot tell */
    for (int i = 0; i < 5; i++) {
        uint64_t a = ht_tsc_read_ordered(), n = ht_now_ns(), b = ht_tsc_read_ordered();
        if (b - a < narrowest) {
            narrowest = b - a;
            *tick = a + (b - a) / 2;
            *ns = n;
        }
    }
}

static uint64_t ratio(uint64_t tick0, uint64_t ns0, uint64_t tick1, uint64_t ns1)
{
    if (tick1 <= tick0 || ns1 <= ns0)
        return (uint64_t)1 << 32; /* a counter that did not move: not reached when usable */
    return (uint64_t)(((unsigned __int128)(ns1 - ns0) << 32) / (tick1 - tick0));
}

void ht_tsc_map_init(ht_tsc_map *m)
{
    uint64_t tick0, ns0, tick1, ns1;
    read_pair(&tick0, &ns0);
    struct timespec pause = {0, (long)CALIBRATE_NS};
    nanosleep(&pause, NULL);
    read_pair(&tick1, &ns1);
    uint64_t rate = ratio(tick0, ns0, tick1, ns1);
    *m = (ht_tsc_map){.first_tick = tick0, .first_ns = ns0, .tick = tick1, .ns = ns1,
                      .rate = rate, .prev_tick = tick0, .prev_ns = ns0, .prev_rate = rate};
    m->next_tick = tick1 + ht_tsc_ticks(m, UPDATE_NS);
}

void ht_tsc_map_update_(ht_tsc_map *m)
{
    uint64_t tick, ns;
    read_pair(&tick, &ns);
    uint64_t at = ht_tsc_ns(m, tick); /* where the present piece puts this moment */
    m->prev_tick = m->tick;
    m->prev_ns = m->ns;
    m->prev_rate = m->rate;
    m->tick = tick;
    if (ns > at + MAX_GAP_NS || at > ns + MAX_GAP_NS) {
        /* The clocks parted (the machine slept): start over from here, at
         * the rate measured before. */
        m->ns = ns;
        m->first_tick = tick;
        m->first_ns = ns;
    } else {
        /* Go on from where the line is, aimed at where CLOCK_MONOTONIC will
         * be a horizon from now at the ratio measured since the start. */
        uint64_t rate = ratio(m->first_tick, m->first_ns, tick, ns);
        uint64_t horizon = (uint64_t)(((unsigned __int128)HORIZON_NS << 32) / rate);
        m->ns = at;
        m->rate = (uint64_t)(((unsigned __int128)(ns + HORIZON_NS - at) << 32) / horizon);
    }
    m->next_tick = tick + ht_tsc_ticks(m, UPDATE_NS);
}
