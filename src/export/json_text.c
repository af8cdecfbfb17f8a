/* JSON strings: see json_text.h. */
#include "export/json_text.h"

#include "export/utf8.h"

void ht_export_json_chars(FILE *f, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
        } else if (c == '\n') {
            fputs("\\n", f);
        } else if (c == '\t') {
            fputs("\\t", f);
        } else if (c < 0x20 || c == 0x7F) {
            fprintf(f, "\\u%04x", c);
        } else if (c < 0x80) {
            fputc(c, f);
        } else {
            size_t n = ht_utf8_sequence(p + i, len - i);
            if (n) {
                fwrite(p + i, 1, n, f);
                i += n - 1;
            } else {
                fprintf(f, "\\u%04x", c);
            }
        }
    }
}

void ht_export_json_string(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    ht_export_json_chars(f, s, len);
    fputc('"', f);
}
