/* JSON output shared by the subcommands that print it (stats, dump). */
#ifndef HT_CLI_JSON_H
#define HT_CLI_JSON_H

#include <stddef.h>
#include <stdio.h>

/* Write len bytes of s as a quoted JSON string. Bytes that are not valid
 * UTF-8 (trace strings are raw bytes from the traced program: command lines,
 * paths, thread names) are written as \u00XX, the code point of the same
 * value, so the output is always valid JSON and no byte is lost. Quotes,
 * backslashes and control characters are escaped. */
void ht_json_put_string(FILE *out, const char *s, size_t len);

#endif
