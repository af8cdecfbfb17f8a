/* The low-fragmentation heap (MEMORY_FROM_LOWFRAG): for each size class a bin
 * of pages, each page a back-end block cut into blocks of that one size, so
 * that blocks of different sizes never interleave. A bin opens once its class
 * has been asked of the back end HT_LFH_ACTIVATION times, as Windows switches
 * its LFH on per bucket by usage. Threads take blocks in batches into their
 * runs (lookaside.c) and give them back in batches, so the heap's lock is
 * taken once per batch, not once per block. Heap lock held throughout. */
#include "heap/heap_internal.h"

static size_t block_bytes(unsigned c) { return ht_class_capacity(c) + HT_BLOCK_HEADER; }

/* Pages hold at least eight blocks, and are 64 KiB for the small classes. */
static size_t page_bytes(unsigned c)
{
    size_t b = block_bytes(c), want = 8 * b < 65536 ? 65536 : 8 * b;
    return HT_BLOCK_HEADER + HT_LFH_PAGE_HEADER + (want - HT_LFH_PAGE_HEADER) / b * b;
}

static void list_add(ht_lfh_bin *bin, ht_lfh_page *page)
{
    page->prev = NULL;
    page->next = bin->pages;
    if (page->next)
        page->next->prev = page;
    bin->pages = page;
    page->on_list = 1;
}

static void list_remove(ht_lfh_bin *bin, ht_lfh_page *page)
{
    if (page->prev)
        page->prev->next = page->next;
    else
        bin->pages = page->next;
    if (page->next)
        page->next->prev = page->prev;
    page->on_list = 0;
}

static ht_lfh_page *new_page(ht_heap *h, unsigned c)
{
    bool grew;
    ht_block *host = ht_backend_alloc(h, page_bytes(c), &grew);
    if (!host)
        return NULL;
    host->slack = 0;
    host->tag = ht_make_tag(host, h->cookie, HT_STATE_LFH_PAGE);
    ht_lfh_page *page = ht_payload_of(host);
    page->magic = HT_LFH_PAGE_MAGIC;
    page->free = NULL;
    page->bump = (char *)page + HT_LFH_PAGE_HEADER;
    page->end = (char *)host + (size_t)host->size16 * 16;
    page->used = 0;
    page->capacity = (uint32_t)((size_t)(page->end - page->bump) / block_bytes(c));
    page->class_index = c;
    list_add(&h->lfh[c], page);
    return page;
}

unsigned ht_lfh_take(ht_heap *h, unsigned c, ht_block **list, unsigned want)
{
    ht_lfh_bin *bin = &h->lfh[c];
    size_t bytes = block_bytes(c);
    uint32_t cookie = h->cookie;
    ht_block *head = *list;
    unsigned n = 0;
    /* The list and the page's fields stay in locals: stores through the
     * blocks would otherwise make the compiler reload them for each block. */
    while (n < want) {
        ht_lfh_page *page = bin->pages;
        if (!page && !(page = new_page(h, c)))
            break;
        unsigned taken = n;
        ht_block *given = page->free;
        while (n < want && given) {
            ht_block *b = given;
            given = *ht_block_link(b);
            *ht_block_link(b) = head;
            head = b;
            n++;
        }
        page->free = given;
        char *at = page->bump;
        unsigned fresh = (unsigned)((size_t)(page->end - at) / bytes);
        if (fresh > want - n)
            fresh = want - n;
        uint32_t prev16 = (uint32_t)((size_t)(at - (char *)page) / 16), size16 = (uint32_t)(bytes / 16);
        for (unsigned i = 0; i < fresh; i++, at += bytes, prev16 += size16) {
            ht_block *b = (ht_block *)at;
            *b = (ht_block){.prev16 = prev16, .size16 = size16, .slack = 0,
                            .tag = ht_make_tag(b, cookie, HT_STATE_CACHED_LFH)};
            *ht_block_link(b) = head;
            head = b;
        }
        page->bump = at;
        n += fresh;
        page->used += n - taken;
        if (!page->free && page->bump + bytes > page->end)
            list_remove(bin, page);
    }
    *list = head;
    return n;
}

/* An empty page goes back to the back end unless it is the bin's last. */
static void release_page(ht_heap *h, ht_lfh_bin *bin, ht_lfh_page *page)
{
    list_remove(bin, page);
    page->magic = 0;
    ht_block *host = ht_header_of(page);
    host->tag = ht_make_tag(host, h->cookie, HT_STATE_BUSY_MAIN);
    ht_backend_free(h, host);
}

ht_lfh_page *ht_lfh_page_of(const ht_block *b) { return (ht_lfh_page *)((char *)b - (size_t)b->prev16 * 16); }

void ht_lfh_give(ht_heap *h, ht_block *b)
{
    ht_lfh_page *page = ht_lfh_page_of(b);
    if (page->magic != HT_LFH_PAGE_MAGIC)
        ht_heap_corrupt(h, ht_payload_of(b), "size-class page header damaged");
    ht_lfh_bin *bin = &h->lfh[page->class_index];
    b->tag = ht_make_tag(b, h->cookie, HT_STATE_CACHED_LFH);
    *ht_block_link(b) = page->free;
    page->free = b;
    page->used--;
    if (!page->on_list)
        list_add(bin, page);
    if (page->used == 0 && (page->next || page->prev))
        release_page(h, bin, page);
}

ht_block *ht_lfh_give_run(ht_heap *h, ht_block *first, unsigned *budget)
{
    ht_lfh_page *page = ht_lfh_page_of(first);
    if (page->magic != HT_LFH_PAGE_MAGIC)
        ht_heap_corrupt(h, ht_payload_of(first), "size-class page header damaged");
    /* The blocks that follow on the list from the same page (a mass free of
     * blocks allocated together) join its free list in one splice. Their
     * tags read cached already, the state a page's free block has. */
    ht_block *last = first, *next = *ht_block_link(first);
    unsigned n = 1;
    while (n < *budget && next != NULL && ht_tag_state(next, h->cookie) == HT_STATE_CACHED_LFH &&
           ht_lfh_page_of(next) == page) {
        last = next;
        next = *ht_block_link(next);
        n++;
    }
    *budget -= n;
    *ht_block_link(last) = page->free;
    page->free = first;
    page->used -= n;
    ht_lfh_bin *bin = &h->lfh[page->class_index];
    if (!page->on_list)
        list_add(bin, page);
    if (page->used == 0 && (page->next || page->prev))
        release_page(h, bin, page);
    return next;
}

/* A batch is linked through its blocks' list links; its first block holds
 * the link to the next batch in its second payload word (every block has at
 * least 16 bytes) and the batch's length in its slack, unused while cached. */
static ht_block **next_batch(ht_block *first) { return (ht_block **)ht_payload_of(first) + 1; }

bool ht_lfh_push_batch(ht_heap *h, unsigned c, ht_block *first, unsigned n)
{
    ht_lfh_bin *bin = &h->lfh[c];
    /* About 256 KiB of batches per class (8 to 256 of them): enough that a
     * producer/consumer pair rarely finds the bin full or empty, which sends
     * blocks through the pages one by one. */
    size_t most = (256u << 10) / ((size_t)n * block_bytes(c));
    if (bin->batch_count >= (most < 8 ? 8 : most > 256 ? 256 : most))
        return false;
    first->slack = n;
    *next_batch(first) = bin->batches;
    bin->batches = first;
    bin->batch_count++;
    return true;
}

ht_block *ht_lfh_pop_batch(ht_heap *h, unsigned c, unsigned *n)
{
    ht_lfh_bin *bin = &h->lfh[c];
    ht_block *first = bin->batches;
    if (!first)
        return NULL;
    bin->batches = *next_batch(first);
    bin->batch_count--;
    *n = first->slack;
    return first;
}

void ht_lfh_drain_batches(ht_heap *h)
{
    for (unsigned c = 0; c < HT_CLASS_COUNT; c++) {
        unsigned n;
        ht_block *b;
        while ((b = ht_lfh_pop_batch(h, c, &n)) != NULL)
            while (b) {
                ht_block *next = *ht_block_link(b);
                ht_cache_give_back(h, b);
                b = next;
            }
    }
}

void ht_lfh_note_demand(ht_heap *h, unsigned c)
{
    ht_lfh_bin *bin = &h->lfh[c];
    if (++bin->demand >= HT_LFH_ACTIVATION &&
        __atomic_load_n(&h->compat, __ATOMIC_RELAXED) == HT_HEAP_COMPAT_LFH)
        __atomic_store_n(&bin->active, 1, __ATOMIC_RELAXED);
}

bool ht_lfh_check_page(ht_heap *h, ht_lfh_page *page, const char **what, const void **where)
{
    *where = page;
    if (page->magic != HT_LFH_PAGE_MAGIC || page->class_index >= HT_CLASS_COUNT) {
        *what = "size-class page header damaged";
        return false;
    }
    size_t bytes = block_bytes(page->class_index);
    char *first = (char *)page + HT_LFH_PAGE_HEADER;
    if (page->bump < first || page->bump > page->end || (size_t)(page->bump - first) % bytes != 0 ||
        page->used > page->capacity) {
        *what = "size-class page counters damaged";
        return false;
    }
    for (char *at = first; at < page->bump; at += bytes) {
        ht_block *b = (ht_block *)at;
        unsigned state = ht_block_state(b, h->cookie);
        if ((state != HT_STATE_BUSY_LFH && state != HT_STATE_CACHED_LFH) || ht_lfh_page_of(b) != page) {
            *what = "size-class block header damaged";
            *where = ht_payload_of(b);
            return false;
        }
    }
    unsigned listed = 0;
    for (ht_block *b = page->free; b; b = *ht_block_link(b)) {
        if ((char *)b < first || (char *)b >= page->bump || ++listed > page->capacity ||
            ht_block_state(b, h->cookie) != HT_STATE_CACHED_LFH) {
            *what = "size-class free list damaged";
            *where = b;
            return false;
        }
    }
    return true;
}
