/*
 * What the folded export and the flame graph share: both gather a weight per
 * call stack (stack_weights.h), merge the stacks into one tree at the end
 * (frame_tree.h) and write that tree their own way. This is the exporter of
 * both; each format gives the function that writes the tree.
 */
#ifndef HT_EXPORT_WEIGHTED_TREE_H
#define HT_EXPORT_WEIGHTED_TREE_H

#include <stdio.h>

#include "export/exporter.h"
#include "export/frame_tree.h"

/* Write tree to f for the options the export was created with (their
 * strings stay valid until the export is destroyed). 0, or -1 when memory
 * ran out; write errors stay in f's error state. */
typedef int (*ht_tree_writer)(FILE *f, const ht_frame_tree *tree, const ht_export_options *o);

/* The exporter calls of exporter.h for a format that writes with write. */
ht_exporter *ht_weighted_tree_create(const ht_export_options *o, ht_tree_writer write, char *err,
                                     size_t errlen);
int ht_weighted_tree_image_end(ht_exporter *x, uint32_t pid, char *err, size_t errlen);
int ht_weighted_tree_event(ht_exporter *x, const ht_event *event, char *err, size_t errlen);
int ht_weighted_tree_finish(ht_exporter *x, char *err, size_t errlen);
void ht_weighted_tree_destroy(ht_exporter *x);

#endif
