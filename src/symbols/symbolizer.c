/*
 * The symbolizer: the modules of each process, the table of distinct module
 * files, and the address cache in front of the DWARF lookups (frames.c).
 */
#include "heaptrail/symbols.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/idmap.h"
#include "symbols/frames.h"
#include "symbols/module.h"
#include "symbols/strtab.h"
#include "symbols/u64map.h"

/* One module loaded in one process. */
typedef struct mapping {
    uint64_t base;   /* load bias */
    uint64_t size;   /* extent of the PT_LOAD segments, from the lowest */
    uint32_t module; /* index in ht_symbolizer.modules */
} mapping;

/* The modules of one process, sorted by base. */
typedef struct process {
    mapping *maps;
    size_t count, cap;
} process;

struct ht_symbolizer {
    ht_sym_search search;
    ht_strtab strings;          /* paths, function and file names */
    ht_sym_module **modules;    /* pointers: dwfl keeps a pointer to each */
    size_t module_count, module_cap;
    ht_u64map module_index;     /* hash of path and build-id -> module */
    process *processes;
    size_t process_count, process_cap;
    ht_idmap pids;              /* pid -> index in processes */
    ht_frame_vec frames;        /* the address cache's frames */
    ht_symbolizer_stats stats;
};

static const char system_debug_root[] = "/usr/lib/debug";

static char *copy_string(const char *s)
{
    return strdup(s ? s : "");
}

ht_symbolizer *ht_symbolizer_create(const ht_symbolizer_options *options)
{
    ht_symbolizer_options none = {0};
    if (!options)
        options = &none;
    ht_symbolizer *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    ht_strtab_init(&s->strings);
    ht_u64map_init(&s->module_index);
    ht_idmap_init(&s->pids);
    s->search.sysroot = copy_string(options->sysroot);
    s->search.roots = calloc(options->debug_dir_count + 2, sizeof *s->search.roots);
    if (!s->search.sysroot || !s->search.roots) {
        ht_symbolizer_destroy(s);
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < options->debug_dir_count; i++)
        if (!(s->search.roots[n++] = copy_string(options->debug_dirs[i])))
            goto nomem;
    /* The recording machine's debug packages, installed under the sysroot,
     * then this machine's: build-ids keep the latter from matching wrongly. */
    if (s->search.sysroot[0] &&
        asprintf(&s->search.roots[n++], "%s%s", s->search.sysroot, system_debug_root) < 0) {
        s->search.roots[--n] = NULL;
        goto nomem;
    }
    if (!(s->search.roots[n++] = copy_string(system_debug_root)))
        goto nomem;
    s->search.root_count = n;
    return s;
nomem:
    s->search.root_count = n;
    ht_symbolizer_destroy(s);
    return NULL;
}

void ht_symbolizer_destroy(ht_symbolizer *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->module_count; i++) {
        ht_sym_module_close(s->modules[i]);
        free(s->modules[i]);
    }
    free(s->modules);
    for (size_t i = 0; i < s->process_count; i++)
        free(s->processes[i].maps);
    free(s->processes);
    for (size_t i = 0; i < s->search.root_count; i++)
        free(s->search.roots[i]);
    free(s->search.roots);
    free(s->search.sysroot);
    ht_u64map_destroy(&s->module_index);
    ht_idmap_destroy(&s->pids);
    ht_frame_vec_destroy(&s->frames);
    ht_strtab_destroy(&s->strings);
    free(s);
}

/* The module for (path, build-id), created (unopened) on first sight.
 * Returns its index, or -1 when memory ran out. */
static long find_module(ht_symbolizer *s, const char *path, size_t path_len, const void *id,
                        size_t id_len)
{
    const char *interned = ht_strtab_intern(&s->strings, path, path_len);
    if (!interned)
        return -1;
    uint64_t h = ht_hash_bytes(id, id_len, ht_hash_bytes(path, path_len, 0));
    size_t cursor = 0;
    uint32_t i;
    while (ht_u64map_next(&s->module_index, h, &cursor, &i)) {
        const ht_sym_module *m = s->modules[i];
        if (m->path == interned && m->build_id_len == id_len &&
            (id_len == 0 || memcmp(m->build_id, id, id_len) == 0))
            return i;
    }
    if (s->module_count == s->module_cap) {
        size_t cap = s->module_cap ? s->module_cap * 2 : 32;
        ht_sym_module **modules = realloc(s->modules, cap * sizeof *modules);
        if (!modules)
            return -1;
        s->modules = modules;
        s->module_cap = cap;
    }
    ht_sym_module *m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    m->path = interned;
    m->search = &s->search;
    ht_u64map_init(&m->cache);
    if (id_len > 0) {
        if (!(m->build_id = malloc(id_len))) {
            free(m);
            return -1;
        }
        memcpy(m->build_id, id, id_len);
        m->build_id_len = id_len;
    }
    if (ht_u64map_add(&s->module_index, h, (uint32_t)s->module_count) != 0) {
        free(m->build_id);
        free(m);
        return -1;
    }
    s->modules[s->module_count] = m;
    return (long)s->module_count++;
}

/* The process of pid; created empty when create is set (NULL otherwise, or
 * when memory ran out). */
static process *get_process(ht_symbolizer *s, uint32_t pid, int create)
{
    uint32_t i;
    if (ht_idmap_get(&s->pids, pid, &i))
        return &s->processes[i];
    if (!create)
        return NULL;
    if (s->process_count == s->process_cap) {
        size_t cap = s->process_cap ? s->process_cap * 2 : 16;
        process *processes = realloc(s->processes, cap * sizeof *processes);
        if (!processes)
            return NULL;
        s->processes = processes;
        s->process_cap = cap;
    }
    if (ht_idmap_put(&s->pids, pid, (uint32_t)s->process_count) < 0)
        return NULL;
    process *p = &s->processes[s->process_count++];
    memset(p, 0, sizeof *p);
    return p;
}

/* Index of the first mapping of p whose base is above base. */
static size_t upper_bound(const process *p, uint64_t base)
{
    size_t lo = 0, hi = p->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->maps[mid].base <= base)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Put map into p, replacing the one at the same base unless keep_old. */
static int insert_mapping(process *p, const mapping *map, int keep_old)
{
    size_t at = upper_bound(p, map->base);
    if (at > 0 && p->maps[at - 1].base == map->base) {
        if (!keep_old)
            p->maps[at - 1] = *map;
        return 0;
    }
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        mapping *maps = realloc(p->maps, cap * sizeof *maps);
        if (!maps)
            return -1;
        p->maps = maps;
        p->cap = cap;
    }
    memmove(&p->maps[at + 1], &p->maps[at], (p->count - at) * sizeof p->maps[0]);
    p->maps[at] = *map;
    p->count++;
    return 0;
}

int ht_symbolizer_add_module(ht_symbolizer *s, uint32_t pid, uint64_t base, uint64_t size,
                             const char *path, size_t path_len, const void *build_id,
                             size_t build_id_len)
{
    long module = find_module(s, path ? path : "", path ? path_len : 0, build_id,
                              build_id ? build_id_len : 0);
    process *p = module < 0 ? NULL : get_process(s, pid, 1);
    if (!p)
        return -1;
    mapping map = {.base = base, .size = size, .module = (uint32_t)module};
    return insert_mapping(p, &map, 0);
}

/* Open the module on first need. */
static ht_sym_module *ready(ht_symbolizer *s, uint32_t index)
{
    ht_sym_module *m = s->modules[index];
    if (m->state == HT_SYM_UNOPENED) {
        ht_sym_module_open(m);
        s->stats.modules_opened += m->state == HT_SYM_OPEN;
        s->stats.modules_missing += m->fail_flags == HT_FRAME_MODULE_MISSING;
        s->stats.modules_mismatched += m->mismatch_seen;
    }
    return m;
}

void ht_symbolizer_remove_module(ht_symbolizer *s, uint32_t pid, uint64_t base)
{
    process *p = get_process(s, pid, 0);
    for (size_t i = 0; p && i < p->count; i++) {
        const ht_sym_module *m = s->modules[p->maps[i].module];
        if (p->maps[i].base == base || p->maps[i].base + m->lo == base) {
            memmove(&p->maps[i], &p->maps[i + 1], (p->count - i - 1) * sizeof p->maps[0]);
            p->count--;
            return;
        }
    }
}

int ht_symbolizer_inherit(ht_symbolizer *s, uint32_t parent_pid, uint32_t child_pid)
{
    if (parent_pid == child_pid || !get_process(s, parent_pid, 0))
        return 0;
    process *child = get_process(s, child_pid, 1);
    if (!child)
        return -1;
    /* Looked up again: creating the child may have moved the processes. */
    const process *parent = get_process(s, parent_pid, 0);
    for (size_t i = 0; i < parent->count; i++)
        if (insert_mapping(child, &parent->maps[i], 1) != 0)
            return -1;
    return 0;
}

void ht_symbolizer_remove_process(ht_symbolizer *s, uint32_t pid)
{
    process *p = get_process(s, pid, 0);
    if (p)
        p->count = 0;
}

int ht_symbolizer_add_event(ht_symbolizer *s, const ht_event *ev)
{
    const ht_event_header *h = &ev->Header;
    if (h->Flags & HT_EVENT_FLAG_UNKNOWN_TYPE)
        return 0;
    switch (h->Type) {
    case HT_EVENT_MODULE_LOAD: {
        const ht_module_load *m = &ev->u.ModuleLoad;
        return ht_symbolizer_add_module(s, h->ProcessId, m->Base, m->Size, m->Path.data,
                                        m->Path.len, m->BuildId.data, m->BuildId.len);
    }
    case HT_EVENT_MODULE_UNLOAD:
        ht_symbolizer_remove_module(s, h->ProcessId, ev->u.ModuleUnload.Base);
        return 0;
    case HT_EVENT_PROCESS_START:
        /* The first start of a pid is a fork (or the first process): it has
         * its parent's modules. A later one is an exec: a new image whose
         * own MODULE_LOAD events follow. */
        if (get_process(s, h->ProcessId, 0)) {
            ht_symbolizer_remove_process(s, h->ProcessId);
            return 0;
        }
        return ht_symbolizer_inherit(s, ev->u.ProcessStart.ParentPid, h->ProcessId);
    default:
        return 0;
    }
}

/* The mapping of pid that contains address, or NULL. A module spans
 * [base + lo, base + lo + size): lo, its lowest segment, is only known
 * once its file is open, so the candidates (the mappings with a base
 * below address, nearest first) are opened as they are tried. */
static const mapping *find_mapping(ht_symbolizer *s, uint32_t pid, uint64_t address)
{
    const process *p = get_process(s, pid, 0);
    if (!p)
        return NULL;
    for (size_t i = upper_bound(p, address); i > 0; i--) {
        const mapping *map = &p->maps[i - 1];
        const ht_sym_module *m = ready(s, map->module);
        uint64_t start = map->base + m->lo;
        if (address >= start && address - start < map->size)
            return map;
    }
    return NULL;
}

/* Resolve offset in the open module m and cache the frames under key.
 * Returns the index of the first frame in s->frames, or -1 when memory ran out. */
static long resolve_new(ht_symbolizer *s, ht_sym_module *m, uint64_t offset, int return_address,
                        uint64_t key)
{
    size_t first = s->frames.count;
    /* A return address is the instruction after the call: the call itself
     * is at the byte before. */
    uint64_t pc = return_address && offset > 0 ? offset - 1 : offset;
    if (first >= UINT32_MAX || ht_frames_describe(m->mod, &m->units, pc, &s->strings, &s->frames) != 0 ||
        ht_u64map_add(&m->cache, key, (uint32_t)first) != 0) {
        s->frames.count = first;
        return -1;
    }
    for (size_t i = first; i < s->frames.count; i++) {
        s->frames.frames[i].module = m->path;
        s->frames.frames[i].module_offset = offset;
        if ((s->frames.frames[i].flags & HT_FRAME_NO_DEBUG_INFO) && !m->no_dwarf_seen) {
            m->no_dwarf_seen = 1;
            s->stats.modules_without_dwarf++;
        }
    }
    s->stats.addresses_resolved++;
    return (long)first;
}

size_t ht_symbolizer_resolve(ht_symbolizer *s, uint32_t pid, uint64_t address,
                             int return_address, ht_frame *out, size_t max)
{
    s->stats.lookups++;
    if (max == 0)
        return 0;
    memset(out, 0, sizeof *out);
    const mapping *map = find_mapping(s, pid, address);
    if (!map) {
        out->module_offset = address;
        return 1;
    }
    ht_sym_module *m = s->modules[map->module];
    uint64_t offset = address - map->base;
    out->module = m->path;
    out->module_offset = offset;
    if (m->state != HT_SYM_OPEN) {
        out->flags = m->fail_flags;
        return 1;
    }
    /* Offsets stay far below 2^63 in any real module, so the flag fits in
     * the key's low bit. */
    uint64_t key = offset << 1 | (return_address != 0);
    size_t cursor = 0;
    uint32_t cached;
    long first = ht_u64map_next(&m->cache, key, &cursor, &cached)
                     ? (long)cached
                     : resolve_new(s, m, offset, return_address, key);
    if (first < 0)
        return 1; /* out of memory: module+offset is still true */
    /* The cached run ends with its one frame that is not inlined. */
    size_t n = 0;
    for (size_t i = (size_t)first; n < max; i++) {
        out[n++] = s->frames.frames[i];
        if (!s->frames.frames[i].inlined)
            break;
    }
    return n;
}

void ht_symbolizer_get_stats(const ht_symbolizer *s, ht_symbolizer_stats *stats)
{
    *stats = s->stats;
}
