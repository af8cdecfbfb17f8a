/* A figure per call stack: see stack_weights.h. */
#include "export/stack_weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/sites.h"

struct ht_stack_weights {
    enum ht_export_weight weight;
    ht_stack_catalog *catalog;
    ht_sites *sites; /* peak and leaked only */
    uint64_t *values; /* by stack index */
    size_t cap;
};

ht_stack_weights *ht_stack_weights_create(enum ht_export_weight weight,
                                          ht_frame_resolver resolve, void *context)
{
    ht_stack_weights *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->weight = weight;
    w->catalog = ht_stack_catalog_create(resolve, context);
    int by_sites = weight == HT_WEIGHT_PEAK || weight == HT_WEIGHT_LEAKED;
    ht_sites_filter all = ht_sites_filter_all();
    if (by_sites)
        w->sites = ht_sites_create(&all);
    if (!w->catalog || (by_sites && !w->sites)) {
        ht_stack_weights_destroy(w);
        return NULL;
    }
    return w;
}

void ht_stack_weights_destroy(ht_stack_weights *w)
{
    if (!w)
        return;
    ht_stack_catalog_destroy(w->catalog);
    ht_sites_destroy(w->sites);
    free(w->values);
    free(w);
}

const char *ht_stack_weights_unit(enum ht_export_weight weight)
{
    return weight == HT_WEIGHT_COUNT ? "allocations" : "bytes";
}

static int add(ht_stack_weights *w, uint32_t pid, uint32_t stack_id, uint64_t value)
{
    uint32_t index;
    if (ht_stack_catalog_get(w->catalog, pid, stack_id, &index) < 0)
        return -1;
    if (index >= w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 1024;
        while (cap <= index)
            cap *= 2;
        uint64_t *grown = realloc(w->values, cap * sizeof *grown);
        if (!grown)
            return -1;
        memset(grown + w->cap, 0, (cap - w->cap) * sizeof *grown);
        w->values = grown;
        w->cap = cap;
    }
    w->values[index] += value;
    return 0;
}

int ht_stack_weights_image_end(ht_stack_weights *w, uint32_t pid)
{
    if (!w->sites)
        return 0;
    ht_sites_image img;
    if (ht_sites_end_image(w->sites, pid, &img) < 0)
        return -1;
    int status = 0;
    for (size_t i = 0; i < img.count && status == 0; i++) {
        const ht_site *s = &img.sites[i];
        uint64_t v = w->weight == HT_WEIGHT_PEAK ? s->peak_bytes : s->leaked_bytes;
        if (v)
            status = add(w, pid, s->stack_id, v);
    }
    free(img.sites);
    return status;
}

int ht_stack_weights_event(ht_stack_weights *w, const ht_event *ev)
{
    const ht_event_header *h = &ev->Header;
    if (ht_stack_catalog_event(w->catalog, ev) < 0)
        return -1;
    if (h->Flags & HT_EVENT_FLAG_UNKNOWN_TYPE)
        return 0;
    if (w->sites)
        return ht_sites_add(w->sites, ev);
    int counts = w->weight == HT_WEIGHT_COUNT;
    if (h->Type == HT_EVENT_HEAP_ALLOC)
        return add(w, h->ProcessId, h->StackId, counts ? 1 : ev->u.Alloc.Size);
    if (h->Type == HT_EVENT_HEAP_REALLOC)
        return add(w, h->ProcessId, h->StackId, counts ? 1 : ev->u.Realloc.NewSize);
    return 0;
}

#define NAME_BYTES 64

int ht_stack_weights_to_tree(ht_stack_weights *w, ht_frame_tree *tree)
{
    uint32_t open;
    while (w->sites && ht_sites_next_open(w->sites, &open))
        if (ht_stack_weights_image_end(w, open) < 0)
            return -1;
    uint32_t count = ht_stack_catalog_count(w->catalog);
    const char **names = NULL;
    char *bufs = NULL;
    size_t cap = 0;
    int status = 0;
    for (uint32_t i = 0; i < count && i < w->cap && status == 0; i++) {
        if (!w->values[i])
            continue;
        uint32_t n;
        const uint32_t *ids = ht_stack_catalog_frames(w->catalog, i, &n);
        size_t need = (size_t)n + 2;
        if (need > cap) {
            free(names);
            free(bufs);
            names = malloc(need * sizeof *names);
            bufs = malloc(need * NAME_BYTES);
            cap = names && bufs ? need : 0;
            if (!cap) {
                status = -1;
                break;
            }
        }
        uint32_t image = ht_stack_catalog_stack_image(w->catalog, i);
        const char *exe = ht_stack_catalog_image_executable(w->catalog, image);
        const char *slash = strrchr(exe, '/');
        size_t k = 0;
        if (*exe) {
            names[k++] = slash ? slash + 1 : exe;
        } else {
            snprintf(bufs, NAME_BYTES, "pid %u", ht_stack_catalog_image_pid(w->catalog, image));
            names[k++] = bufs;
        }
        if (n == 0)
            names[k++] = ht_stack_catalog_stack_id(w->catalog, i) ? "[stack not recorded]"
                                                                 : "[no stack]";
        for (uint32_t f = n; f-- > 0;) {
            char *buf = bufs + (k * NAME_BYTES);
            names[k++] = ht_stack_catalog_frame_name(ht_stack_catalog_frame(w->catalog, ids[f]),
                                                     buf, NAME_BYTES);
        }
        status = ht_frame_tree_add(tree, names, k, w->values[i]);
    }
    free(names);
    free(bufs);
    return status == 0 ? ht_frame_tree_sort(tree) : -1;
}
