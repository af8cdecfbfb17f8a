/* Live bytes by process and key: see live_split.h. */
#include "export/live_split.h"

#include <stdlib.h>
#include <string.h>

#include "analysis/live.h"
#include "symbols/u64map.h"

typedef struct part {
    uint32_t pid;
    uint64_t key;
    ht_live blocks;
    uint32_t next_of_process; /* index + 1 of the process's next part; 0 ends */
} part;

typedef struct process {
    uint32_t pid;
    uint64_t live;
    uint32_t first_part; /* index + 1; 0: none */
} process;

struct ht_live_split {
    enum ht_export_split split;
    part *parts;
    size_t part_count, part_cap;
    ht_u64map part_index; /* hash(pid, key) -> parts */
    process *procs;
    size_t proc_count, proc_cap;
    ht_u64map proc_index; /* pid -> procs */
};

ht_live_split *ht_live_split_create(enum ht_export_split split)
{
    ht_live_split *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->split = split;
    ht_u64map_init(&s->part_index);
    ht_u64map_init(&s->proc_index);
    return s;
}

void ht_live_split_destroy(ht_live_split *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->part_count; i++)
        ht_live_destroy(&s->parts[i].blocks);
    free(s->parts);
    free(s->procs);
    ht_u64map_destroy(&s->part_index);
    ht_u64map_destroy(&s->proc_index);
    free(s);
}

static int grow(void **array, size_t item, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 16;
    if (n > UINT32_MAX - 1)
        return -1;
    void *p = realloc(*array, n * item);
    if (!p)
        return -1;
    *array = p;
    *cap = n;
    return 0;
}

static process *process_of(ht_live_split *s, uint32_t pid, int create)
{
    size_t cursor = 0;
    uint32_t i;
    if (ht_u64map_next(&s->proc_index, pid, &cursor, &i))
        return &s->procs[i];
    if (!create ||
        grow((void **)&s->procs, sizeof *s->procs, &s->proc_cap, s->proc_count + 1) < 0 ||
        ht_u64map_add(&s->proc_index, pid, (uint32_t)s->proc_count) < 0)
        return NULL;
    process *p = &s->procs[s->proc_count++];
    *p = (process){pid, 0, 0};
    return p;
}

static uint64_t part_hash(uint32_t pid, uint64_t key)
{
    uint64_t parts[2] = {pid, key};
    return ht_hash_bytes(parts, sizeof parts, 0);
}

/* The part of (pid, key), made when new; NULL when memory ran out. The
 * process p may move: it is looked up again by the caller. */
static part *part_of(ht_live_split *s, uint32_t pid, uint64_t key)
{
    uint64_t h = part_hash(pid, key);
    size_t cursor = 0;
    uint32_t i;
    while (ht_u64map_next(&s->part_index, h, &cursor, &i))
        if (s->parts[i].pid == pid && s->parts[i].key == key)
            return &s->parts[i];
    process *p = process_of(s, pid, 1);
    if (!p || grow((void **)&s->parts, sizeof *s->parts, &s->part_cap, s->part_count + 1) < 0 ||
        ht_u64map_add(&s->part_index, h, (uint32_t)s->part_count) < 0)
        return NULL;
    part *pt = &s->parts[s->part_count];
    pt->pid = pid;
    pt->key = key;
    ht_live_init(&pt->blocks);
    pt->next_of_process = p->first_part;
    p->first_part = (uint32_t)++s->part_count;
    return pt;
}

static void note(ht_live_change *c, const part *pt)
{
    for (size_t i = 0; i < c->count; i++)
        if (c->keys[i] == pt->key) {
            c->live[i] = ht_live_bytes(&pt->blocks);
            return;
        }
    c->keys[c->count] = pt->key;
    c->live[c->count++] = ht_live_bytes(&pt->blocks);
}

/* Take the block at address out of whichever part of pid holds it, the
 * hinted one first. */
static void take(ht_live_split *s, process *p, uint64_t hint, uint64_t address,
                 ht_live_change *c)
{
    ht_live_block old;
    size_t cursor = 0;
    uint32_t i;
    uint64_t h = part_hash(p->pid, hint);
    while (ht_u64map_next(&s->part_index, h, &cursor, &i)) {
        part *pt = &s->parts[i];
        if (pt->pid == p->pid && pt->key == hint && ht_live_remove(&pt->blocks, address, &old)) {
            p->live -= old.size;
            note(c, pt);
            return;
        }
    }
    for (uint32_t k = p->first_part; k; k = s->parts[k - 1].next_of_process) {
        part *pt = &s->parts[k - 1];
        if (ht_live_remove(&pt->blocks, address, &old)) {
            p->live -= old.size;
            note(c, pt);
            return;
        }
    }
}

int ht_live_split_event(ht_live_split *s, const ht_event *ev, ht_live_change *c)
{
    const ht_event_header *h = &ev->Header;
    memset(c, 0, sizeof *c);
    if (h->Flags & HT_EVENT_FLAG_UNKNOWN_TYPE)
        return 0;
    uint64_t heap, source, address, size, old_address;
    int frees, allocates;
    switch (h->Type) {
    case HT_EVENT_HEAP_ALLOC:
        heap = ev->u.Alloc.HeapHandle;
        source = ev->u.Alloc.Source;
        address = ev->u.Alloc.Address;
        size = ev->u.Alloc.Size;
        old_address = 0;
        frees = 0, allocates = 1;
        break;
    case HT_EVENT_HEAP_FREE:
        heap = ev->u.Free.HeapHandle;
        source = ev->u.Free.Source;
        old_address = ev->u.Free.Address;
        address = size = 0;
        frees = 1, allocates = 0;
        break;
    case HT_EVENT_HEAP_REALLOC:
        heap = ev->u.Realloc.HeapHandle;
        source = ev->u.Realloc.Source;
        address = ev->u.Realloc.NewAddress;
        size = ev->u.Realloc.NewSize;
        old_address = ev->u.Realloc.OldAddress;
        frees = allocates = 1;
        break;
    default:
        return 0;
    }
    uint64_t key = s->split == HT_SPLIT_HEAP ? heap : source;
    part *pt = allocates ? part_of(s, h->ProcessId, key) : NULL;
    process *p = process_of(s, h->ProcessId, 1);
    if ((allocates && !pt) || !p)
        return -1;
    if (frees)
        take(s, p, key, old_address, c);
    if (allocates) {
        /* An address allocated again without a free: the old block is gone. */
        take(s, p, key, address, c);
        ht_live_block b = {size};
        if (ht_live_insert(&pt->blocks, address, &b, NULL) < 0)
            return -1;
        p->live += size;
        note(c, pt);
    }
    c->process_live = p->live;
    return 0;
}

void ht_live_split_reset(ht_live_split *s, uint32_t pid,
                        void (*changed)(void *context, uint64_t key), void *context)
{
    process *p = process_of(s, pid, 0);
    if (!p)
        return;
    for (uint32_t k = p->first_part; k; k = s->parts[k - 1].next_of_process) {
        part *pt = &s->parts[k - 1];
        int had = ht_live_bytes(&pt->blocks) != 0 || ht_live_count(&pt->blocks) != 0;
        ht_live_destroy(&pt->blocks);
        if (had && changed)
            changed(context, pt->key);
    }
    p->live = 0;
}

uint64_t ht_live_split_process(ht_live_split *s, uint32_t pid)
{
    process *p = process_of(s, pid, 0);
    return p ? p->live : 0;
}
