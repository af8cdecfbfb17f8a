/* Allocation sites merged by their resolved frames (see site_table.h). */
#include "cli/site_table.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FRAMES 2048

void ht_cli_site_table_init(ht_cli_site_table *t, ht_cli_stacks *stacks,
                            const char *const *require, size_t nrequire)
{
    memset(t, 0, sizeof *t);
    t->stacks = stacks;
    t->require = require;
    t->nrequire = nrequire;
    ht_u64map_init(&t->by_hash);
}

void ht_cli_site_table_destroy(ht_cli_site_table *t)
{
    for (size_t i = 0; i < t->count; i++)
        free(t->sites[i].frames);
    free(t->sites);
    ht_u64map_destroy(&t->by_hash);
    memset(t, 0, sizeof *t);
}

static uint64_t hash_string(const char *s, uint64_t seed)
{
    return s ? ht_hash_bytes(s, strlen(s) + 1, seed) : ht_hash_bytes("", 0, seed ^ 1);
}

/* What makes two frames the same place in the code: the function with its
 * file and line when known, the module and offset otherwise. */
static uint64_t hash_frames(const ht_frame *f, size_t n)
{
    uint64_t h = 0x51ed270b27302c1dull ^ n;
    for (size_t i = 0; i < n; i++) {
        h = hash_string(f[i].function, h);
        h = hash_string(f[i].file, h);
        h = ht_hash_bytes(&f[i].line, sizeof f[i].line, h);
        h = hash_string(f[i].module, h);
        if (!f[i].function)
            h = ht_hash_bytes(&f[i].module_offset, sizeof f[i].module_offset, h);
        h ^= (uint64_t)f[i].inlined;
    }
    return h;
}

static int same_string(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int same_frames(const ht_frame *a, size_t na, const ht_frame *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (!same_string(a[i].function, b[i].function) || !same_string(a[i].file, b[i].file) ||
            a[i].line != b[i].line || !same_string(a[i].module, b[i].module) ||
            a[i].inlined != b[i].inlined ||
            (!a[i].function && a[i].module_offset != b[i].module_offset))
            return 0;
    return 1;
}

static int required(const ht_cli_site_table *t, const ht_frame *f, size_t n)
{
    for (size_t k = 0; k < t->nrequire; k++) {
        size_t i = 0;
        while (i < n && !(f[i].function && fnmatch(t->require[k], f[i].function, 0) == 0))
            i++;
        if (i == n)
            return 0;
    }
    return 1;
}

static ht_cli_site *lookup(const ht_cli_site_table *t, uint64_t hash, const ht_frame *f,
                           size_t n)
{
    size_t cursor = 0;
    uint32_t index;
    while (ht_u64map_next(&t->by_hash, hash, &cursor, &index))
        if (same_frames(t->sites[index].frames, t->sites[index].nframes, f, n))
            return &t->sites[index];
    return NULL;
}

static int add_site(ht_cli_site_table *t, const ht_site *s, const ht_frame *f, size_t n)
{
    if (!s->allocs || !required(t, f, n))
        return 0;
    uint64_t hash = hash_frames(f, n);
    ht_cli_site *site = lookup(t, hash, f, n);
    if (site) {
        ht_site_sum(&site->fig, s);
        site->images++;
        site->many_pids |= site->fig.pid != s->pid;
        return 0;
    }
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        ht_cli_site *grown = realloc(t->sites, cap * sizeof *grown);
        if (!grown)
            return -1;
        t->sites = grown;
        t->cap = cap;
    }
    ht_frame *copy = n ? malloc(n * sizeof *copy) : NULL;
    if ((n && !copy) || t->count >= UINT32_MAX ||
        ht_u64map_add(&t->by_hash, hash, (uint32_t)t->count) < 0) {
        free(copy);
        return -1;
    }
    if (n)
        memcpy(copy, f, n * sizeof *f);
    t->sites[t->count++] = (ht_cli_site){*s, 1, 0, hash, n, copy};
    return 0;
}

int ht_cli_site_table_add_image(ht_cli_site_table *t, const ht_sites_image *image)
{
    static ht_frame frames[MAX_FRAMES]; /* too large for the stack */
    for (size_t i = 0; i < image->count; i++) {
        const ht_site *s = &image->sites[i];
        size_t n = s->stack_id ? ht_cli_stacks_resolve(t->stacks, image->pid, s->stack_id, frames,
                                                       MAX_FRAMES)
                               : 0;
        if (add_site(t, s, frames, n) < 0)
            return -1;
    }
    return 0;
}

const ht_cli_site *ht_cli_site_table_find(const ht_cli_site_table *t, const ht_cli_site *s)
{
    return lookup(t, s->hash, s->frames, s->nframes);
}

const char *ht_cli_frame_name(const ht_frame *f, char *buf, size_t len)
{
    if (f->function)
        return f->function;
    if (f->module)
        snprintf(buf, len, "%s+0x%" PRIx64, strrchr(f->module, '/') ? strrchr(f->module, '/') + 1
                                                                     : f->module,
                 f->module_offset);
    else
        snprintf(buf, len, "0x%" PRIx64, f->module_offset);
    return buf;
}
