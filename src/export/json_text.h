/* JSON strings for the exports that write JSON (chrome). */
#ifndef HT_EXPORT_JSON_TEXT_H
#define HT_EXPORT_JSON_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* Write len bytes of s as a quoted JSON string. Trace strings are raw bytes
 * of the traced program: a byte that is not part of valid UTF-8 is written
 * as \u00XX (the code point of its value), so the output is always valid
 * JSON; quotes, backslashes and control characters are escaped. */
void ht_export_json_string(FILE *f, const char *s, size_t len);

/* The same without the quotes: the inside of a string, for a string made of
 * several pieces. */
void ht_export_json_chars(FILE *f, const char *s, size_t len);

#endif
