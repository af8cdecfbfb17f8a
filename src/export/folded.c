/* --format folded: one line per distinct call stack, "prog;outer;...;inner
 * WEIGHT", the input of flamegraph.pl, speedscope, inferno and the like. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "export/exporter.h"
#include "export/frame_tree.h"
#include "export/weighted_tree.h"

/* A frame name as one field of a line: ';' separates frames and a newline
 * ends the line, so neither may appear inside one. */
static void put_name(FILE *f, const char *name)
{
    for (const char *p = name; *p; p++)
        fputc(*p == ';' ? ':' : *p == '\n' || *p == '\r' ? ' ' : *p, f);
}

/* Every node where stacks end, depth first, children in name order. */
static void write_lines(FILE *f, const ht_frame_tree *t)
{
    const ht_frame_node *n = t->nodes;
    uint32_t path[4200];
    uint32_t cur = n[0].first_child;
    while (cur) {
        uint32_t d = n[cur].depth;
        if (d <= sizeof path / sizeof path[0])
            path[d - 1] = cur;
        if (n[cur].self && d <= sizeof path / sizeof path[0]) {
            for (uint32_t i = 0; i < d; i++) {
                if (i)
                    fputc(';', f);
                put_name(f, n[path[i]].name);
            }
            fprintf(f, " %" PRIu64 "\n", n[cur].self);
        }
        if (n[cur].first_child) {
            cur = n[cur].first_child;
            continue;
        }
        while (cur && !n[cur].next_sibling)
            cur = n[cur].parent;
        if (cur)
            cur = n[cur].next_sibling;
    }
}

static int write_folded(FILE *f, const ht_frame_tree *tree, const ht_export_options *o)
{
    (void)o;
    write_lines(f, tree);
    return 0;
}

static ht_exporter *create(const ht_export_options *o, char *err, size_t errlen)
{
    return ht_weighted_tree_create(o, write_folded, err, errlen);
}

const ht_export_format ht_export_folded = {
    .name = "folded",
    .stdout_ok = 1,
    .needs_stacks = 1,
    .create = create,
    .image_end = ht_weighted_tree_image_end,
    .event = ht_weighted_tree_event,
    .finish = ht_weighted_tree_finish,
    .destroy = ht_weighted_tree_destroy,
};
