/* What the SVG pictures (flame graph, plot) share: the document's frame,
 * text escaped for XML, readable numbers. The pictures are self-contained:
 * no fonts, styles or scripts are fetched from anywhere. */
#ifndef HT_EXPORT_SVG_H
#define HT_EXPORT_SVG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The XML declaration and the <svg> element of a width x height picture
 * with a white background and the common text style. */
void ht_svg_begin(FILE *f, unsigned width, unsigned height);

/* Close the <svg> element. */
void ht_svg_end(FILE *f);

/* Write s as XML character data or attribute text: & < > " ' escaped, and
 * control characters (which XML 1.0 forbids) and invalid UTF-8 bytes
 * replaced by U+FFFD, so that any trace string keeps the file well-formed. */
void ht_svg_escape(FILE *f, const char *s, size_t len);

/* bytes as "512 B", "1.5 KiB", "20.0 MiB", ... into buf. */
const char *ht_svg_bytes(uint64_t bytes, char *buf, size_t len);

/* A time in nanoseconds as "250 ns", "1.5 ms", "12.0 s", ... into buf. */
const char *ht_svg_duration(uint64_t ns, char *buf, size_t len);

#endif
