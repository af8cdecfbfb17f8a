/* Allocation sites (see sites.h).
 *
 * Each running image keeps an open-addressing table of its live blocks
 * (address -> size, birth time, birth sequence number, site) with linear
 * probing and backward-shift deletion, grown when three quarters full and
 * shrunk when less than an eighth full; its sites, indexed by stack id; and,
 * per thread, the block it allocated last (for temporaries).
 *
 * Peak figures in one pass: the image's peak can still rise when a block
 * dies, so a dying block cannot know whether the moment it was live at will
 * stay the peak. Each new peak starts a new epoch; a block that dies having
 * been born at or before the current peak adds itself to its site's tally
 * for the current epoch, and a tally of an older epoch is void (that peak
 * was overtaken). When the image ends, every block dies, so each site's
 * tally of the last epoch is exactly what it held at the final peak. */
#include "analysis/sites.h"

#include <stdlib.h>
#include <string.h>

#include "analysis/idmap.h"

typedef struct block {
    uint64_t address; /* 0: empty slot (address 0 is never a block) */
    uint64_t size;
    uint64_t time; /* of its birth */
    uint64_t seq;  /* the image's heap event that made it */
    uint32_t site; /* index in image.sites */
} block;

/* A site and its peak tally. */
typedef struct site_state {
    ht_site figures;
    uint64_t tally_epoch;
    uint64_t tally_blocks, tally_bytes;
} site_state;

/* The block a thread allocated last. */
typedef struct last_alloc {
    uint64_t address, seq;
} last_alloc;

typedef struct image {
    uint32_t pid;
    block *slots;
    size_t mask;    /* capacity - 1 */
    unsigned shift; /* 64 - log2(capacity) */
    size_t count;
    uint64_t seq;         /* heap events so far */
    uint64_t now;         /* time of its latest event */
    uint64_t live_bytes;
    uint64_t peak_bytes, peak_seq, peak_time;
    uint64_t epoch;       /* peaks reached so far */
    site_state *sites;
    size_t nsites, sites_cap;
    ht_idmap site_of;     /* stack id -> index in sites */
    last_alloc *threads;
    size_t nthreads, threads_cap;
    ht_idmap thread_of;   /* tid -> index in threads */
} image;

struct ht_sites {
    ht_sites_filter filter;
    image *images;
    size_t count, cap;
    size_t last; /* the image found last: events come in runs of one process */
};

#define MIN_CAPACITY 16

static const char *const window_names[HT_WINDOW_TYPES] = {"AIFI", "AIFO", "AOFI", "AOFO"};

const char *ht_window_type_name(unsigned type)
{
    return type < HT_WINDOW_TYPES ? window_names[type] : "?";
}

ht_sites_filter ht_sites_filter_all(void)
{
    return (ht_sites_filter){.max_size = UINT64_MAX, .max_lifetime = UINT64_MAX};
}

ht_sites *ht_sites_create(const ht_sites_filter *filter)
{
    ht_sites *s = calloc(1, sizeof *s);
    if (s)
        s->filter = filter ? *filter : ht_sites_filter_all();
    return s;
}

static void image_free(image *im)
{
    free(im->slots);
    free(im->sites);
    free(im->threads);
    ht_idmap_destroy(&im->site_of);
    ht_idmap_destroy(&im->thread_of);
}

void ht_sites_destroy(ht_sites *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->count; i++)
        image_free(&s->images[i]);
    free(s->images);
    free(s);
}

void ht_site_sum(ht_site *into, const ht_site *s)
{
    into->allocs += s->allocs;
    into->bytes += s->bytes;
    into->temporary += s->temporary;
    into->temporary_bytes += s->temporary_bytes;
    into->peak_blocks += s->peak_blocks;
    into->peak_bytes += s->peak_bytes;
    into->leaked_blocks += s->leaked_blocks;
    into->leaked_bytes += s->leaked_bytes;
    into->lifetime_total += s->lifetime_total;
    for (int k = 0; k < HT_WINDOW_TYPES; k++) {
        into->window_blocks[k] += s->window_blocks[k];
        into->window_bytes[k] += s->window_bytes[k];
    }
}

/* ---- the live-block table ---- */

static inline size_t home(const image *im, uint64_t address)
{
    return (size_t)((address * 0x9E3779B97F4A7C15ull) >> im->shift);
}

static block *find(image *im, uint64_t address)
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

static void place(image *im, const block *b)
{
    size_t i = home(im, b->address);
    while (im->slots[i].address)
        i = (i + 1) & im->mask;
    im->slots[i] = *b;
}

static int resize(image *im, size_t capacity)
{
    block *fresh = calloc(capacity, sizeof *fresh);
    if (!fresh)
        return -1;
    block *old = im->slots;
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

/* Take b out of the table. Backward shift: later entries of its run move
 * into the hole, so that no lookup ever needs a tombstone. */
static void unlink_block(image *im, block *b)
{
    size_t hole = (size_t)(b - im->slots);
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

/* ---- images, sites, threads ---- */

static image *image_of(ht_sites *s, uint32_t pid, int create)
{
    if (s->last < s->count && s->images[s->last].pid == pid)
        return &s->images[s->last];
    for (size_t i = 0; i < s->count; i++)
        if (s->images[i].pid == pid) {
            s->last = i;
            return &s->images[i];
        }
    if (!create)
        return NULL;
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        image *grown = realloc(s->images, cap * sizeof *grown);
        if (!grown)
            return NULL;
        s->images = grown;
        s->cap = cap;
    }
    image *im = &s->images[s->count];
    memset(im, 0, sizeof *im);
    im->pid = pid;
    ht_idmap_init(&im->site_of);
    ht_idmap_init(&im->thread_of);
    s->last = s->count++;
    return im;
}

/* Grow *array (of *cap elements of size bytes) to hold one more. */
static int reserve_one(void **array, size_t count, size_t *cap, size_t size)
{
    if (count < *cap)
        return 0;
    size_t grown_cap = *cap ? *cap * 2 : 16;
    void *grown = realloc(*array, grown_cap * size);
    if (!grown)
        return -1;
    *array = grown;
    *cap = grown_cap;
    return 0;
}

/* Index of the site of stack_id, made when new; UINT32_MAX when memory ran out. */
static uint32_t site_index(image *im, uint32_t stack_id)
{
    uint32_t index;
    if (ht_idmap_get(&im->site_of, stack_id, &index))
        return index;
    if (im->nsites >= UINT32_MAX - 1 ||
        reserve_one((void **)&im->sites, im->nsites, &im->sites_cap, sizeof *im->sites) < 0)
        return UINT32_MAX;
    index = (uint32_t)im->nsites;
    if (ht_idmap_put(&im->site_of, stack_id, index) < 0)
        return UINT32_MAX;
    site_state *st = &im->sites[im->nsites++];
    memset(st, 0, sizeof *st);
    st->figures.pid = im->pid;
    st->figures.stack_id = stack_id;
    return index;
}

/* The thread's last allocation, made when new; NULL when memory ran out. */
static last_alloc *thread_state(image *im, uint32_t tid)
{
    uint32_t index;
    if (ht_idmap_get(&im->thread_of, tid, &index))
        return &im->threads[index];
    if (im->nthreads >= UINT32_MAX - 1 ||
        reserve_one((void **)&im->threads, im->nthreads, &im->threads_cap,
                    sizeof *im->threads) < 0 ||
        ht_idmap_put(&im->thread_of, tid, (uint32_t)im->nthreads) < 0)
        return NULL;
    last_alloc *t = &im->threads[im->nthreads++];
    *t = (last_alloc){0, 0};
    return t;
}

/* ---- births and deaths ---- */

/* Window type of a block born at a and dying at d (leaked: never), or -1
 * when it lies wholly outside [from, to). */
static int window_type(const ht_sites_filter *f, uint64_t a, uint64_t d, int leaked)
{
    int born_inside = a >= f->from && a < f->to;
    int dies_before_to = !leaked && d < f->to;
    int dies_inside = dies_before_to && d >= f->from;
    if (born_inside)
        return dies_before_to ? HT_AIFI : HT_AIFO;
    if (a >= f->to || (dies_before_to && !dies_inside))
        return -1; /* wholly after, or wholly before */
    return dies_inside ? HT_AOFI : HT_AOFO;
}

/* The block b of im dies now (leaked: at the image's end). It was
 * temporary when the thread that freed it allocated nothing since. */
static void account_death(const ht_sites *s, image *im, const block *b, int leaked,
                          int temporary)
{
    const ht_sites_filter *f = &s->filter;
    uint64_t lifetime = im->now > b->time ? im->now - b->time : 0;
    if (b->size < f->min_size || b->size > f->max_size || lifetime < f->min_lifetime ||
        lifetime > f->max_lifetime)
        return;
    int type = f->window ? window_type(f, b->time, im->now, leaked) : -1;
    if (f->window && type < 0)
        return;
    site_state *st = &im->sites[b->site];
    ht_site *fig = &st->figures;
    fig->allocs++;
    fig->bytes += b->size;
    if (temporary) {
        fig->temporary++;
        fig->temporary_bytes += b->size;
    }
    if (leaked) {
        fig->leaked_blocks++;
        fig->leaked_bytes += b->size;
    } else {
        fig->lifetime_total += lifetime;
    }
    if (type >= 0) {
        fig->window_blocks[type]++;
        fig->window_bytes[type] += b->size;
    }
    if (im->epoch && b->seq <= im->peak_seq) { /* it was live at the current peak */
        if (st->tally_epoch != im->epoch) {
            st->tally_epoch = im->epoch;
            st->tally_blocks = st->tally_bytes = 0;
        }
        st->tally_blocks++;
        st->tally_bytes += b->size;
    }
}

/* The block at address dies (not leaked); nothing when it is not live. */
static void death(const ht_sites *s, image *im, uint64_t address, uint32_t tid, int is_free)
{
    block *b = find(im, address);
    if (!b)
        return;
    int temporary = 0;
    if (is_free) {
        uint32_t index;
        if (ht_idmap_get(&im->thread_of, tid, &index)) {
            last_alloc *t = &im->threads[index];
            temporary = t->address == address && t->seq == b->seq;
        }
    }
    block dead = *b;
    unlink_block(im, b);
    im->live_bytes -= dead.size;
    account_death(s, im, &dead, 0, temporary);
}

static int birth(ht_sites *s, image *im, const ht_event_header *h, uint64_t address,
                 uint64_t size)
{
    death(s, im, address, h->ThreadId, 0); /* a FREE was lost: the old block ends here */
    uint32_t site = site_index(im, h->StackId);
    last_alloc *t = thread_state(im, h->ThreadId);
    if (site == UINT32_MAX || !t)
        return -1;
    size_t cap = im->slots ? im->mask + 1 : 0;
    if ((im->count + 1) * 4 > cap * 3 && resize(im, cap ? cap * 2 : MIN_CAPACITY) < 0)
        return -1;
    block b = {address, size, h->TimeStamp, im->seq, site};
    place(im, &b);
    im->count++;
    *t = (last_alloc){address, im->seq};
    im->live_bytes += size;
    if (im->live_bytes > im->peak_bytes) {
        im->peak_bytes = im->live_bytes;
        im->peak_seq = im->seq;
        im->peak_time = h->TimeStamp;
        im->epoch++;
    }
    return 0;
}

int ht_sites_add(ht_sites *s, const ht_event *ev)
{
    const ht_event_header *h = &ev->Header;
    int heap_event = h->Type == HT_EVENT_HEAP_ALLOC || h->Type == HT_EVENT_HEAP_FREE ||
                     h->Type == HT_EVENT_HEAP_REALLOC;
    image *im = image_of(s, h->ProcessId, heap_event);
    if (!im)
        return heap_event ? -1 : 0;
    if (h->TimeStamp > im->now)
        im->now = h->TimeStamp;
    if (!heap_event)
        return 0;
    im->seq++;
    switch (h->Type) {
    case HT_EVENT_HEAP_ALLOC:
        return ev->u.Alloc.Address ? birth(s, im, h, ev->u.Alloc.Address, ev->u.Alloc.Size) : 0;
    case HT_EVENT_HEAP_FREE:
        if (ev->u.Free.Address)
            death(s, im, ev->u.Free.Address, h->ThreadId, 1);
        return 0;
    default: {
        const ETW_HEAP_EVENT_REALLOC *r = &ev->u.Realloc;
        if (r->OldAddress)
            death(s, im, r->OldAddress, h->ThreadId, 0);
        return r->NewAddress ? birth(s, im, h, r->NewAddress, r->NewSize) : 0;
    }
    }
}

void ht_sites_prefetch(ht_sites *s, uint32_t pid, uint64_t address)
{
    image *im = image_of(s, pid, 0);
    if (im && im->slots)
        __builtin_prefetch(&im->slots[home(im, address)], 1);
}

static int by_stack(const void *a, const void *b)
{
    uint32_t x = ((const ht_site *)a)->stack_id, y = ((const ht_site *)b)->stack_id;
    return (x > y) - (x < y);
}

int ht_sites_end_image(ht_sites *s, uint32_t pid, ht_sites_image *out)
{
    *out = (ht_sites_image){.pid = pid};
    image *im = image_of(s, pid, 0);
    if (!im)
        return 0;
    ht_site *sites = im->nsites ? malloc(im->nsites * sizeof *sites) : NULL;
    if (im->nsites && !sites)
        return -1;
    for (size_t i = 0; im->slots && i <= im->mask; i++)
        if (im->slots[i].address)
            account_death(s, im, &im->slots[i], 1, 0);
    for (size_t i = 0; i < im->nsites; i++) {
        site_state *st = &im->sites[i];
        sites[i] = st->figures;
        if (st->tally_epoch == im->epoch && im->epoch) {
            sites[i].peak_blocks = st->tally_blocks;
            sites[i].peak_bytes = st->tally_bytes;
        }
    }
    if (im->nsites)
        qsort(sites, im->nsites, sizeof *sites, by_stack);
    *out = (ht_sites_image){pid, im->peak_bytes, im->peak_time, im->now, sites, im->nsites};
    image_free(im);
    *im = s->images[--s->count];
    s->last = 0;
    return 0;
}

int ht_sites_next_open(const ht_sites *s, uint32_t *pid)
{
    if (!s->count)
        return 0;
    *pid = s->images[0].pid;
    return 1;
}
