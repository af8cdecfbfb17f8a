/* --format folded: one line per distinct call stack, "prog;outer;...;inner
 * WEIGHT", the input of flamegraph.pl, speedscope, inferno and the like. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "export/exporter.h"
#include "export/frame_tree.h"
#include "export/output_file.h"
#include "export/stack_weights.h"

struct ht_exporter {
    ht_output_file out;
    ht_stack_weights *weights;
};

static void destroy(ht_exporter *x)
{
    ht_output_abort(&x->out);
    ht_stack_weights_destroy(x->weights);
    free(x);
}

static ht_exporter *create(const ht_export_options *o, char *err, size_t errlen)
{
    ht_exporter *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (ht_output_open(&x->out, o->output, err, errlen) < 0) {
        free(x);
        return NULL;
    }
    x->weights = ht_stack_weights_create(o->weight, o->resolve, o->resolve_context);
    if (!x->weights) {
        snprintf(err, errlen, "out of memory");
        destroy(x);
        return NULL;
    }
    return x;
}

static int image_end(ht_exporter *x, uint32_t pid, char *err, size_t errlen)
{
    if (ht_stack_weights_image_end(x->weights, pid) == 0)
        return 0;
    snprintf(err, errlen, "out of memory");
    return -1;
}

static int event(ht_exporter *x, const ht_event *ev, char *err, size_t errlen)
{
    if (ht_stack_weights_event(x->weights, ev) == 0)
        return 0;
    snprintf(err, errlen, "out of memory");
    return -1;
}

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

static int finish(ht_exporter *x, char *err, size_t errlen)
{
    ht_frame_tree tree;
    if (ht_frame_tree_init(&tree) < 0 || ht_stack_weights_to_tree(x->weights, &tree) < 0) {
        ht_frame_tree_destroy(&tree);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    errno = 0;
    write_lines(x->out.fp, &tree);
    ht_frame_tree_destroy(&tree);
    return ht_output_finish(&x->out, err, errlen);
}

const ht_export_format ht_export_folded = {
    .name = "folded",
    .stdout_ok = 1,
    .needs_stacks = 1,
    .create = create,
    .image_end = image_end,
    .event = event,
    .finish = finish,
    .destroy = destroy,
};
