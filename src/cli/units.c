/* Quantities as the commands print and read them (see units.h). */
#include "cli/units.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ht_cli_bytes(char *buf, size_t len, uint64_t bytes)
{
    double v = (double)bytes;
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

const char *ht_cli_count(char *buf, size_t len, uint64_t count)
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, count);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < len; i++) {
        if (i && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

const char *ht_cli_duration(char *buf, size_t len, double ns)
{
    if (ns < 1e3)
        snprintf(buf, len, "%.0f ns", ns);
    else if (ns < 1e6)
        snprintf(buf, len, "%.1f us", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, len, "%.1f ms", ns / 1e6);
    else
        snprintf(buf, len, "%.2f s", ns / 1e9);
    return buf;
}

/* A whole decimal number, no sign, no blanks: its value, *end after it. */
static int parse_whole(const char *s, unsigned long long *v, char **end)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    *v = strtoull(s, end, 10);
    return errno ? -1 : 0;
}

int ht_cli_parse_size(const char *s, uint64_t *bytes)
{
    unsigned long long v;
    char *end;
    if (parse_whole(s, &v, &end) < 0)
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: break;
    }
    if (shift && *end == 'i')
        end++;
    if (*end == 'B' || (shift && *end == 'b'))
        end++;
    if (*end || v > UINT64_MAX >> shift)
        return -1;
    *bytes = (uint64_t)v << shift;
    return 0;
}

int ht_cli_parse_u32(const char *s, uint32_t *out)
{
    unsigned long long v;
    char *end;
    if (parse_whole(s, &v, &end) < 0 || *end || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int ht_cli_parse_count(const char *s, size_t *out)
{
    unsigned long long v;
    char *end;
    if (parse_whole(s, &v, &end) < 0 || *end || v > SIZE_MAX)
        return -1;
    *out = (size_t)v;
    return 0;
}
