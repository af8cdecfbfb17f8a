/* Call stacks merged by frame name: see frame_tree.h. */
#include "export/frame_tree.h"

#include <stdlib.h>
#include <string.h>

static int new_node(ht_frame_tree *t, const char *name, uint32_t parent, uint32_t depth)
{
    if (t->count == t->cap) {
        if (t->cap > UINT32_MAX / 4)
            return -1;
        uint32_t cap = t->cap ? t->cap * 2 : 256;
        ht_frame_node *grown = realloc(t->nodes, cap * sizeof *grown);
        if (!grown)
            return -1;
        t->nodes = grown;
        t->cap = cap;
    }
    t->nodes[t->count] = (ht_frame_node){name, parent, 0, 0, depth, 0, 0};
    return (int)t->count++;
}

int ht_frame_tree_init(ht_frame_tree *t)
{
    memset(t, 0, sizeof *t);
    ht_u64map_init(&t->children);
    ht_strtab_init(&t->names);
    const char *all = ht_strtab_intern(&t->names, "all", 3);
    if (!all || new_node(t, all, 0, 0) < 0) {
        ht_frame_tree_destroy(t);
        return -1;
    }
    return 0;
}

void ht_frame_tree_destroy(ht_frame_tree *t)
{
    free(t->nodes);
    ht_u64map_destroy(&t->children);
    ht_strtab_destroy(&t->names);
    memset(t, 0, sizeof *t);
}

static uint64_t child_key(uint32_t parent, const char *name)
{
    uint64_t parts[2] = {parent, (uintptr_t)name};
    return ht_hash_bytes(parts, sizeof parts, 0);
}

int ht_frame_tree_add(ht_frame_tree *t, const char *const *names, size_t n, uint64_t weight)
{
    uint32_t cur = 0;
    t->nodes[0].total += weight;
    for (size_t i = 0; i < n; i++) {
        const char *name = ht_strtab_intern(&t->names, names[i], strlen(names[i]));
        if (!name)
            return -1;
        uint64_t key = child_key(cur, name);
        size_t cursor = 0;
        uint32_t child;
        int found = 0;
        while (!found && ht_u64map_next(&t->children, key, &cursor, &child))
            found = t->nodes[child].parent == cur && t->nodes[child].name == name;
        if (!found) {
            int made = new_node(t, name, cur, t->nodes[cur].depth + 1);
            if (made < 0 || ht_u64map_add(&t->children, key, (uint32_t)made) < 0)
                return -1;
            child = (uint32_t)made;
            t->nodes[child].next_sibling = t->nodes[cur].first_child;
            t->nodes[cur].first_child = child;
        }
        cur = child;
        t->nodes[cur].total += weight;
    }
    t->nodes[cur].self += weight;
    return 0;
}

static const ht_frame_tree *sorting; /* qsort has no context argument */

static int by_name(const void *a, const void *b)
{
    const ht_frame_node *x = &sorting->nodes[*(const uint32_t *)a];
    const ht_frame_node *y = &sorting->nodes[*(const uint32_t *)b];
    return strcmp(x->name, y->name);
}

int ht_frame_tree_sort(ht_frame_tree *t)
{
    uint32_t *kids = malloc((size_t)t->count * sizeof *kids);
    if (!kids)
        return -1;
    sorting = t;
    for (uint32_t p = 0; p < t->count; p++) {
        uint32_t n = 0;
        for (uint32_t c = t->nodes[p].first_child; c; c = t->nodes[c].next_sibling)
            kids[n++] = c;
        if (n < 2)
            continue;
        qsort(kids, n, sizeof *kids, by_name);
        t->nodes[p].first_child = kids[0];
        for (uint32_t i = 0; i < n; i++)
            t->nodes[kids[i]].next_sibling = i + 1 < n ? kids[i + 1] : 0;
    }
    free(kids);
    return 0;
}
