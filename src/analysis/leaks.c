/* Leak accounting (see leaks.h). Each process has an open-addressing table
 * address -> {size, stack id} with linear probing and backward-shift
 * deletion, grown when three quarters full and shrunk when less than an
 * eighth full. ht_live keeps sizes alone, for the collector's sake; a leak
 * report needs the stack of every block too. */
#include "analysis/leaks.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot {
    uint64_t address; /* 0: empty (address 0 is never a block) */
    uint64_t size;
    uint32_t stack_id;
} slot;

/* The live blocks of one process image. */
typedef struct image {
    uint32_t pid;
    slot *slots;
    size_t mask;    /* capacity - 1 */
    unsigned shift; /* 64 - log2(capacity) */
    size_t count;
} image;

struct ht_leaks {
    image *images;
    size_t count, cap;
    size_t last; /* the image found last: events come in runs of one process */
};

#define MIN_CAPACITY 16

ht_leaks *ht_leaks_create(void) { return calloc(1, sizeof(ht_leaks)); }

void ht_leaks_destroy(ht_leaks *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        free(l->images[i].slots);
    free(l->images);
    free(l);
}

static inline size_t home(const image *im, uint64_t address)
{
    return (size_t)((address * 0x9E3779B97F4A7C15ull) >> im->shift);
}

static slot *find(image *im, uint64_t address)
{
    if (!im->slots)
        return NULL;
    for (size_t i = home(im, address);; i = (i + 1) & im->mask) {
        if (im->slots[i].address == address)
            return &im->slots[i];
        if (!im->slots[i].address)
            return NULL;
    }
}

static void place(image *im, const slot *s)
{
    size_t i = home(im, s->address);
    while (im->slots[i].address && im->slots[i].address != s->address)
        i = (i + 1) & im->mask;
    im->slots[i] = *s;
}

static int resize(image *im, size_t capacity)
{
    slot *fresh = calloc(capacity, sizeof *fresh);
    if (!fresh)
        return -1;
    slot *old = im->slots;
    size_t old_cap = old ? im->mask + 1 : 0;
    unsigned log2 = 0;
    while (((size_t)1 << log2) < capacity)
        log2++;
    im->slots = fresh;
    im->mask = capacity - 1;
    im->shift = 64 - log2;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].address)
            place(im, &old[i]);
    free(old);
    return 0;
}

static int insert(image *im, uint64_t address, uint64_t size, uint32_t stack_id)
{
    slot *s = find(im, address);
    if (s) { /* a FREE was lost: the new block replaces the old one */
        s->size = size;
        s->stack_id = stack_id;
        return 0;
    }
    size_t cap = im->slots ? im->mask + 1 : 0;
    if ((im->count + 1) * 4 > cap * 3 && resize(im, cap ? cap * 2 : MIN_CAPACITY) < 0)
        return -1;
    slot fresh = {address, size, stack_id};
    place(im, &fresh);
    im->count++;
    return 0;
}

static void remove_block(image *im, uint64_t address)
{
    slot *s = find(im, address);
    if (!s)
        return;
    /* Backward shift: pull later entries of the run into the hole, so that
     * no lookup ever needs a tombstone. */
    size_t hole = (size_t)(s - im->slots);
    for (size_t i = (hole + 1) & im->mask; im->slots[i].address; i = (i + 1) & im->mask) {
        size_t h = home(im, im->slots[i].address);
        if (((i - h) & im->mask) >= ((i - hole) & im->mask)) {
            im->slots[hole] = im->slots[i];
            hole = i;
        }
    }
    im->slots[hole].address = 0;
    im->count--;
    size_t cap = im->mask + 1;
    if (cap > MIN_CAPACITY && im->count * 8 < cap)
        resize(im, cap / 2); /* no memory to shrink: keep the larger table */
}

static image *image_of(ht_leaks *l, uint32_t pid, int create)
{
    if (l->last < l->count && l->images[l->last].pid == pid)
        return &l->images[l->last];
    for (size_t i = 0; i < l->count; i++)
        if (l->images[i].pid == pid) {
            l->last = i;
            return &l->images[i];
        }
    if (!create)
        return NULL;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        image *grown = realloc(l->images, cap * sizeof *grown);
        if (!grown)
            return NULL;
        l->images = grown;
        l->cap = cap;
    }
    image *im = &l->images[l->count];
    memset(im, 0, sizeof *im);
    im->pid = pid;
    l->last = l->count++;
    return im;
}

int ht_leaks_add(ht_leaks *l, const ht_event *ev)
{
    const ht_event_header *h = &ev->Header;
    image *im;
    switch (h->Type) {
    case HT_EVENT_HEAP_ALLOC:
        if (!ev->u.Alloc.Address)
            return 0;
        im = image_of(l, h->ProcessId, 1);
        return im ? insert(im, ev->u.Alloc.Address, ev->u.Alloc.Size, h->StackId) : -1;
    case HT_EVENT_HEAP_FREE:
        if (ev->u.Free.Address && (im = image_of(l, h->ProcessId, 0)))
            remove_block(im, ev->u.Free.Address);
        return 0;
    case HT_EVENT_HEAP_REALLOC: {
        const ETW_HEAP_EVENT_REALLOC *r = &ev->u.Realloc;
        if (r->OldAddress && (im = image_of(l, h->ProcessId, 0)))
            remove_block(im, r->OldAddress);
        if (!r->NewAddress)
            return 0;
        im = image_of(l, h->ProcessId, 1);
        return im ? insert(im, r->NewAddress, r->NewSize, h->StackId) : -1;
    }
    default:
        return 0;
    }
}

static int by_stack(const void *a, const void *b)
{
    uint32_t x = ((const slot *)a)->stack_id, y = ((const slot *)b)->stack_id;
    return (x > y) - (x < y);
}

int ht_leaks_end_image(ht_leaks *l, uint32_t pid, ht_leak_group **groups, size_t *count)
{
    *groups = NULL;
    *count = 0;
    image *im = image_of(l, pid, 0);
    if (!im)
        return 0;
    /* Sort a copy of the blocks by stack id: the groups are then runs. */
    slot *blocks = im->count ? malloc(im->count * sizeof *blocks) : NULL;
    ht_leak_group *out = im->count ? malloc(im->count * sizeof *out) : NULL;
    if (im->count && (!blocks || !out)) {
        free(blocks);
        free(out);
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; im->slots && i <= im->mask; i++)
        if (im->slots[i].address)
            blocks[n++] = im->slots[i];
    qsort(blocks, n, sizeof *blocks, by_stack);
    size_t groups_made = 0;
    for (size_t i = 0; i < n; i++) {
        if (!groups_made || out[groups_made - 1].stack_id != blocks[i].stack_id)
            out[groups_made++] = (ht_leak_group){pid, blocks[i].stack_id, 0, 0};
        out[groups_made - 1].blocks++;
        out[groups_made - 1].bytes += blocks[i].size;
    }
    free(blocks);
    free(im->slots);
    *im = l->images[--l->count];
    l->last = 0;
    if (!groups_made) {
        free(out);
        return 0;
    }
    *groups = out;
    *count = groups_made;
    return 0;
}

int ht_leaks_next_open(const ht_leaks *l, uint32_t *pid)
{
    if (!l->count)
        return 0;
    *pid = l->images[0].pid;
    return 1;
}
