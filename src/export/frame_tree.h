/*
 * A tree of call stacks by frame name, the shape a flame graph draws: each
 * node a function called from its parent, with the weight of every stack
 * through it (total) and of the stacks that end in it (self). Stacks with
 * the same names merge, so the tree follows the distinct paths, not the
 * events.
 */
#ifndef HT_EXPORT_FRAME_TREE_H
#define HT_EXPORT_FRAME_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "symbols/strtab.h"
#include "symbols/u64map.h"

typedef struct ht_frame_node {
    const char *name;   /* interned */
    uint32_t parent;    /* node index; the root is its own parent */
    uint32_t first_child, next_sibling; /* 0: none (the root is never a child) */
    uint32_t depth;     /* the root is 0 */
    uint64_t total, self;
} ht_frame_node;

typedef struct ht_frame_tree {
    ht_frame_node *nodes; /* nodes[0] is the root, named "all" */
    uint32_t count, cap;
    ht_u64map children; /* hash(parent, name) -> child */
    ht_strtab names;
} ht_frame_tree;

/* An empty tree (just the root). 0, or -1 when memory ran out. */
int ht_frame_tree_init(ht_frame_tree *t);
void ht_frame_tree_destroy(ht_frame_tree *t);

/* Add weight along the path names[0] (under the root) .. names[n-1]. 0, or
 * -1 when memory ran out. */
int ht_frame_tree_add(ht_frame_tree *t, const char *const *names, size_t n, uint64_t weight);

/* Order each node's children by name, so output does not depend on the
 * order stacks were met. 0, or -1 when memory ran out. */
int ht_frame_tree_sort(ht_frame_tree *t);

#endif
