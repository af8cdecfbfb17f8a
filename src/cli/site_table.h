/* Allocation sites as commands show them: the sites of every image, their
 * stacks resolved, merged when they resolve to the same frames — the same
 * code path in two processes (or two images of one) is one site. Used by
 * report and diff. */
#ifndef HT_CLI_SITE_TABLE_H
#define HT_CLI_SITE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/sites.h"
#include "cli/frames.h"
#include "symbols/u64map.h"

typedef struct ht_cli_site {
    ht_site fig;       /* summed over the images; fig.pid is the first one's */
    uint32_t images;   /* images that contributed */
    int many_pids;     /* they had more than one pid */
    uint64_t hash;     /* of the frames, see ht_cli_site_same */
    size_t nframes;    /* 0: recorded without a stack */
    ht_frame *frames;  /* innermost first, allocator frames left out */
} ht_cli_site;

typedef struct ht_cli_site_table {
    ht_cli_stacks *stacks;     /* resolves the stacks */
    const char *const *require; /* function patterns each site must match (fnmatch) */
    size_t nrequire;
    ht_cli_site *sites;
    size_t count, cap;
    ht_u64map by_hash;
} ht_cli_site_table;

/* Empty; sites are resolved through stacks and kept only when every pattern
 * of require (nrequire of them) matches a frame's function. */
void ht_cli_site_table_init(ht_cli_site_table *t, ht_cli_stacks *stacks,
                            const char *const *require, size_t nrequire);
void ht_cli_site_table_destroy(ht_cli_site_table *t);

/* Add the sites of an image that just ended (its stacks still resolve).
 * Returns 0, or -1 when memory ran out. */
int ht_cli_site_table_add_image(ht_cli_site_table *t, const ht_sites_image *image);

/* The site of t with the same frames as s (from another table), or NULL. */
const ht_cli_site *ht_cli_site_table_find(const ht_cli_site_table *t, const ht_cli_site *s);

/* One frame's text for a site's name: "function", or "module+0xoffset",
 * written into buf. */
const char *ht_cli_frame_name(const ht_frame *f, char *buf, size_t len);

#endif
