/* Drawing a tree of call stacks as an interactive SVG flame graph: the
 * picture of `heaptrail flamegraph`, for any page that shows one. */
#ifndef HT_EXPORT_FLAMEGRAPH_H
#define HT_EXPORT_FLAMEGRAPH_H

#include <stdio.h>

#include "export/exporter.h"
#include "export/frame_tree.h"

/* Write the whole SVG document for tree (sorted; see frame_tree.h) into f:
 * boxes as wide as their share of the root's total (those narrower than a
 * tenth of a pixel left out), a <title> on each, and the inline script that
 * zooms on click and searches (Ctrl-F). weight names the figure in titles
 * and tooltips, width is in pixels, subtitle goes under the title (the
 * trace's name). Returns 0, or -1 when memory ran out (f then holds part of
 * a picture). */
int ht_flamegraph_draw(FILE *f, const ht_frame_tree *tree, enum ht_export_weight weight,
                       unsigned width, const char *subtitle);

#endif
