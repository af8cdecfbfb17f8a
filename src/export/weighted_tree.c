/* The exporter of the formats that write a tree of weighted stacks (see
 * weighted_tree.h). */
#include "export/weighted_tree.h"

#include <errno.h>
#include <stdlib.h>

#include "export/output_file.h"
#include "export/stack_weights.h"

struct ht_exporter {
    ht_output_file out;
    ht_stack_weights *weights;
    ht_export_options options;
    ht_tree_writer write;
};

void ht_weighted_tree_destroy(ht_exporter *x)
{
    ht_output_abort(&x->out);
    ht_stack_weights_destroy(x->weights);
    free(x);
}

ht_exporter *ht_weighted_tree_create(const ht_export_options *o, ht_tree_writer write, char *err,
                                     size_t errlen)
{
    ht_exporter *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    x->options = *o;
    x->write = write;
    if (ht_output_open(&x->out, o->output, err, errlen) < 0) {
        free(x);
        return NULL;
    }
    x->weights = ht_stack_weights_create(o->weight, o->resolve, o->resolve_context);
    if (!x->weights) {
        snprintf(err, errlen, "out of memory");
        ht_weighted_tree_destroy(x);
        return NULL;
    }
    return x;
}

int ht_weighted_tree_image_end(ht_exporter *x, uint32_t pid, char *err, size_t errlen)
{
    if (ht_stack_weights_image_end(x->weights, pid) == 0)
        return 0;
    snprintf(err, errlen, "out of memory");
    return -1;
}

int ht_weighted_tree_event(ht_exporter *x, const ht_event *ev, char *err, size_t errlen)
{
    if (ht_stack_weights_event(x->weights, ev) == 0)
        return 0;
    snprintf(err, errlen, "out of memory");
    return -1;
}

int ht_weighted_tree_finish(ht_exporter *x, char *err, size_t errlen)
{
    ht_frame_tree tree;
    errno = 0;
    int written = ht_frame_tree_init(&tree) == 0 &&
                  ht_stack_weights_to_tree(x->weights, &tree) == 0 &&
                  x->write(x->out.fp, &tree, &x->options) == 0;
    ht_frame_tree_destroy(&tree);
    if (!written) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return ht_output_finish(&x->out, err, errlen);
}
