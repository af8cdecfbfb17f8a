/* The lists of export formats and pictures: see exporter.h. */
#include <string.h>

#include "export/exporter.h"

static const ht_export_format *const formats[] = {
    &ht_export_pprof,  &ht_export_ctf,    &ht_export_heaptrack,
    &ht_export_folded, &ht_export_chrome, &ht_export_sqlite,
};

/* The pictures are exports too, each of a command of its own. */
static const ht_export_format *const pictures[] = {&ht_export_flamegraph, &ht_export_plot};

static const ht_export_format *find(const ht_export_format *const *list, size_t n,
                                    const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i]->name, name) == 0)
            return list[i];
    return NULL;
}

const ht_export_format *ht_export_find(const char *name)
{
    return find(formats, sizeof formats / sizeof formats[0], name);
}

const ht_export_format *ht_export_picture(const char *name)
{
    return find(pictures, sizeof pictures / sizeof pictures[0], name);
}
