/* Quantities as the commands print and read them (see units.h). */
#include "cli/units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ht_cli_human_bytes(char *buf, size_t len, double v)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

int ht_cli_parse_size(const char *s, uint64_t *bytes)
{
    static const struct {
        const char *name;
        unsigned shift;
    } units[] = {{"", 0},     {"B", 0},   {"K", 10},  {"KiB", 10}, {"M", 20},
                 {"MiB", 20}, {"G", 30},  {"GiB", 30}};
    if (*s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (strcmp(end, units[i].name) == 0) {
            if (v > UINT64_MAX >> units[i].shift)
                return -1;
            *bytes = (uint64_t)v << units[i].shift;
            return 0;
        }
    return -1;
}
