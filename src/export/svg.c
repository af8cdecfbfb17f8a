/* Shared SVG writing: see svg.h. */
#include "export/svg.h"

#include <inttypes.h>

#include "export/utf8.h"

void ht_svg_begin(FILE *f, unsigned width, unsigned height)
{
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
            "<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" "
            "height=\"%u\" viewBox=\"0 0 %u %u\" font-family=\"Verdana, DejaVu Sans, sans-serif\" "
            "font-size=\"12\">\n"
            "<rect x=\"0\" y=\"0\" width=\"%u\" height=\"%u\" fill=\"#ffffff\"/>\n",
            width, height, width, height, width, height);
}

void ht_svg_end(FILE *f) { fputs("</svg>\n", f); }

void ht_svg_escape(FILE *f, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (c == '&')
            fputs("&amp;", f);
        else if (c == '<')
            fputs("&lt;", f);
        else if (c == '>')
            fputs("&gt;", f);
        else if (c == '"')
            fputs("&quot;", f);
        else if (c == '\'')
            fputs("&#39;", f);
        else if (c < 0x20 || c == 0x7F)
            fputs("\xEF\xBF\xBD", f);
        else if (c < 0x80)
            fputc(c, f);
        else {
            size_t n = ht_utf8_sequence(p + i, len - i);
            if (n == 0) {
                fputs("\xEF\xBF\xBD", f);
            } else {
                fwrite(p + i, 1, n, f);
                i += n - 1;
            }
        }
    }
}

const char *ht_svg_bytes(uint64_t bytes, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        snprintf(buf, len, "%" PRIu64 " B", bytes);
        return buf;
    }
    double v = (double)bytes;
    unsigned u = 0;
    while (v >= 1024 && u < 6) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

const char *ht_svg_duration(uint64_t ns, char *buf, size_t len)
{
    if (ns < 1000)
        snprintf(buf, len, "%" PRIu64 " ns", ns);
    else if (ns < 1000000)
        snprintf(buf, len, "%.3g us", (double)ns / 1e3);
    else if (ns < 1000000000)
        snprintf(buf, len, "%.3g ms", (double)ns / 1e6);
    else
        snprintf(buf, len, "%.4g s", (double)ns / 1e9);
    return buf;
}
