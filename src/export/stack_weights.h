/*
 * One figure per call stack, for folded stacks and flame graphs: the bytes or
 * the number of allocations made at each stack (counted from the events), or
 * the bytes each stack held at its image's peak or leaked (from the
 * allocation sites of analysis/sites.h, handed over as each image ends).
 * Memory follows the distinct stacks and, for peak and leaked, the live
 * blocks.
 */
#ifndef HT_EXPORT_STACK_WEIGHTS_H
#define HT_EXPORT_STACK_WEIGHTS_H

#include <stdint.h>

#include "export/exporter.h"
#include "export/frame_tree.h"
#include "export/stack_catalog.h"

typedef struct ht_stack_weights ht_stack_weights;

/* Weights of kind weight, stacks resolved with resolve. NULL when memory ran
 * out. */
ht_stack_weights *ht_stack_weights_create(enum ht_export_weight weight,
                                          ht_frame_resolver resolve, void *context);
void ht_stack_weights_destroy(ht_stack_weights *w);

/* The exporter calls of exporter.h. 0, or -1 when memory ran out. */
int ht_stack_weights_image_end(ht_stack_weights *w, uint32_t pid);
int ht_stack_weights_event(ht_stack_weights *w, const ht_event *event);

/* End the images still open, then add every stack with a weight to tree:
 * the image's program name at the root, the outermost frame next, the
 * innermost frame last. 0, or -1 when memory ran out. */
int ht_stack_weights_to_tree(ht_stack_weights *w, ht_frame_tree *tree);

/* The unit of the weights: "bytes" or "allocations". */
const char *ht_stack_weights_unit(enum ht_export_weight weight);

#endif
