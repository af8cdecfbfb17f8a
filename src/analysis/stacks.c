/* The stack store: (pid, id) -> frames in one open-addressing table whose
 * entries point into an append-only arena of frames. */
#include "heaptrail/stacks.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    uint64_t key; /* pid << 32 | id; 0: empty (ids start at 1) */
    uint64_t at;  /* index of its first frame in the arena */
    uint32_t depth;
} entry;

struct ht_stacks {
    entry *table;
    size_t mask, count;
    uint64_t *frames;
    size_t nframes, cap;
    /* Processes that announced themselves: a second PROCESS_START is an exec. */
    uint32_t *started;
    size_t nstarted, started_cap;
};

static inline size_t slot_of(uint64_t key, size_t mask)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
}

ht_stacks *ht_stacks_create(void) { return calloc(1, sizeof(ht_stacks)); }

void ht_stacks_destroy(ht_stacks *s)
{
    if (!s)
        return;
    free(s->table);
    free(s->frames);
    free(s->started);
    free(s);
}

static int grow(ht_stacks *s)
{
    size_t cap = s->table ? (s->mask + 1) * 2 : 1024;
    entry *t = calloc(cap, sizeof *t);
    if (!t)
        return -1;
    for (size_t i = 0; s->table && i <= s->mask; i++) {
        if (!s->table[i].key)
            continue;
        size_t j = slot_of(s->table[i].key, cap - 1);
        while (t[j].key)
            j = (j + 1) & (cap - 1);
        t[j] = s->table[i];
    }
    free(s->table);
    s->table = t;
    s->mask = cap - 1;
    return 0;
}

static entry *find(const ht_stacks *s, uint64_t key)
{
    if (!s->table)
        return NULL;
    for (size_t i = slot_of(key, s->mask);; i = (i + 1) & s->mask) {
        if (s->table[i].key == key || !s->table[i].key)
            return &s->table[i];
    }
}

/* Remove every entry of pid: its ids now name the stacks of a new image.
 * (Deleting from a linear-probing table breaks probe runs: the survivors go
 * into a fresh table. Their frames stay in the arena.) */
static int forget(ht_stacks *s, uint32_t pid)
{
    if (!s->table)
        return 0;
    entry *fresh = calloc(s->mask + 1, sizeof *fresh);
    if (!fresh)
        return -1;
    entry *old = s->table;
    s->table = fresh;
    s->count = 0;
    for (size_t i = 0; i <= s->mask; i++)
        if (old[i].key && (uint32_t)(old[i].key >> 32) != pid) {
            *find(s, old[i].key) = old[i];
            s->count++;
        }
    free(old);
    return 0;
}

static int seen_start(ht_stacks *s, uint32_t pid)
{
    for (size_t i = 0; i < s->nstarted; i++)
        if (s->started[i] == pid)
            return 1;
    if (s->nstarted == s->started_cap) {
        size_t cap = s->started_cap ? s->started_cap * 2 : 64;
        uint32_t *n = realloc(s->started, cap * sizeof *n);
        if (!n)
            return -1;
        s->started = n;
        s->started_cap = cap;
    }
    s->started[s->nstarted++] = pid;
    return 0;
}

int ht_stacks_add(ht_stacks *s, const ht_event *ev)
{
    const ht_event_header *h = &ev->Header;
    if (h->Flags & HT_EVENT_FLAG_UNKNOWN_TYPE)
        return 0;
    if (h->Type == HT_EVENT_PROCESS_START) {
        int seen = seen_start(s, h->ProcessId);
        if (seen < 0)
            return -1;
        return seen ? forget(s, h->ProcessId) : 0; /* a second start is an exec */
    }
    if (h->Type != HT_EVENT_STACK_DEFINE || ev->u.StackDefine.StackId == 0)
        return 0;
    const ht_stack_define *d = &ev->u.StackDefine;
    if (s->count + 1 > (s->table ? (s->mask + 1) / 2 : 0) && grow(s) < 0)
        return -1;
    if (s->nframes + d->Depth > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->nframes + d->Depth)
            cap *= 2;
        uint64_t *n = realloc(s->frames, cap * sizeof *n);
        if (!n)
            return -1;
        s->frames = n;
        s->cap = cap;
    }
    uint64_t key = (uint64_t)h->ProcessId << 32 | d->StackId;
    entry *e = find(s, key);
    if (!e->key)
        s->count++;
    *e = (entry){key, s->nframes, d->Depth};
    memcpy(s->frames + s->nframes, d->Frames, d->Depth * sizeof *d->Frames);
    s->nframes += d->Depth;
    return 0;
}

const uint64_t *ht_stacks_get(const ht_stacks *s, uint32_t pid, uint32_t id, uint32_t *depth)
{
    entry *e = id ? find(s, (uint64_t)pid << 32 | id) : NULL;
    if (!e || !e->key)
        return NULL;
    *depth = e->depth;
    return s->frames + e->at;
}
