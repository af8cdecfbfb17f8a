/* Telling valid UTF-8 from other bytes, for the text exports: trace strings
 * are raw bytes of the traced program, and XML and JSON must carry only
 * valid UTF-8. */
#ifndef HT_EXPORT_UTF8_H
#define HT_EXPORT_UTF8_H

#include <stddef.h>

/* The length (2 to 4) of the valid multi-byte UTF-8 sequence at s, of
 * which n bytes are available; 0 when the bytes there are not one (a stray
 * continuation byte, an overlong form, a surrogate, a code point past
 * U+10FFFF, or a sequence cut short). */
size_t ht_utf8_sequence(const unsigned char *s, size_t n);

#endif
