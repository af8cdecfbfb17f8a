/* JSON string escaping (see json.h). */
#include "cli/json.h"


/* Length of the valid UTF-8 sequence at p (end is the bound), or 0 when the
 * byte at p does not begin one: overlong forms, surrogates and code points
 * past U+10FFFF are not valid (RFC 3629). */
static size_t utf8_sequence(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

static void put_escape(FILE *out, unsigned c)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    fwrite_unlocked(e, 1, sizeof e, out);
}

void ht_json_put_string(FILE *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len, *run = p;
    putc_unlocked('"', out);
    while (p < end) {
        unsigned c = *p;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            p++;
            continue;
        }
        size_t n = c >= 0x80 ? utf8_sequence(p, end) : 0;
        if (n) {
            p += n;
            continue;
        }
        /* Flush the plain run, then escape this byte. */
        if (p > run)
            fwrite_unlocked(run, 1, (size_t)(p - run), out);
        switch (c) {
        case '"': fputs_unlocked("\\\"", out); break;
        case '\\': fputs_unlocked("\\\\", out); break;
        case '\n': fputs_unlocked("\\n", out); break;
        case '\t': fputs_unlocked("\\t", out); break;
        case '\r': fputs_unlocked("\\r", out); break;
        default: put_escape(out, c); break;
        }
        run = ++p;
    }
    if (p > run)
        fwrite_unlocked(run, 1, (size_t)(p - run), out);
    putc_unlocked('"', out);
}
