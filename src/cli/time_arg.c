#include "cli/time_arg.h"

#include <string.h>

int ht_cli_parse_time(const char *s, uint64_t *ns)
{
    /* By hand rather than strtod: exact nanoseconds, no locale, no exponents. */
    uint64_t whole = 0, frac = 0, frac_scale = 1;
    const char *p = s;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (whole > (UINT64_MAX - 9) / 10)
            return -1;
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (frac_scale < 1000000000u) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                frac_scale *= 10;
            }
    if (!digits)
        return -1;
    uint64_t unit;
    if (*p == '\0' || strcmp(p, "s") == 0)
        unit = 1000000000u;
    else if (strcmp(p, "ms") == 0)
        unit = 1000000u;
    else if (strcmp(p, "us") == 0)
        unit = 1000u;
    else if (strcmp(p, "ns") == 0)
        unit = 1u;
    else
        return -1;
    if (whole > UINT64_MAX / unit)
        return -1;
    *ns = whole * unit + frac * unit / frac_scale;
    return 0;
}
