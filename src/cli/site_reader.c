/* Reading a trace into allocation sites (see site_reader.h). */
#include "cli/site_reader.h"

#include <stdlib.h>

#include "cli/trace_open.h"

/* Heap events held back: enough to cover the time of a cache miss with the
 * handling of the events before it. */
#define LOOKAHEAD 16

typedef struct pending {
    ht_event ev[LOOKAHEAD];
    unsigned first, count;
} pending;

static int end_image(const ht_cli_site_reader *r, uint32_t pid)
{
    ht_sites_image image;
    if (ht_sites_end_image(r->sites, pid, &image) < 0)
        return -1;
    int failed = image.count && r->image_ended(r->context, &image) != 0;
    free(image.sites);
    return failed ? -1 : 0;
}

/* One event of the chosen process(es), or another one (chosen 0). */
static int handle(const ht_cli_site_reader *r, const ht_event *ev, int chosen)
{
    const ht_event_header *h = &ev->Header;
    /* An exec ends the image before the new one's PROCESS_START makes the
     * stack store forget the old stacks; an exit ends it after its own
     * event, which is the image's last moment. */
    if (chosen && r->before && r->before(r->context, ev) != 0)
        return -1;
    if (h->Type == HT_EVENT_PROCESS_START && chosen && end_image(r, h->ProcessId) < 0)
        return -1;
    if (ht_cli_stacks_take(r->stacks, ev) < 0)
        return -1;
    if (!chosen)
        return 0;
    if (ht_sites_add(r->sites, ev) < 0 || (r->event && r->event(r->context, ev) != 0))
        return -1;
    if (h->Type == HT_EVENT_PROCESS_EXIT && end_image(r, h->ProcessId) < 0)
        return -1;
    return 0;
}

static int drain(const ht_cli_site_reader *r, pending *q, unsigned keep)
{
    while (q->count > keep) {
        if (handle(r, &q->ev[q->first], 1) < 0)
            return -1;
        q->first = (q->first + 1) % LOOKAHEAD;
        q->count--;
    }
    return 0;
}

/* The address a heap event looks up first, or 0 for other events. */
static uint64_t looked_up(const ht_event *ev)
{
    switch (ev->Header.Type) {
    case HT_EVENT_HEAP_ALLOC: return ev->u.Alloc.Address;
    case HT_EVENT_HEAP_FREE: return ev->u.Free.Address;
    case HT_EVENT_HEAP_REALLOC: return ev->u.Realloc.OldAddress ? ev->u.Realloc.OldAddress
                                                                 : ev->u.Realloc.NewAddress;
    default: return 0;
    }
}

int ht_cli_read_sites(ht_trace *trace, const ht_cli_site_reader *r)
{
    static pending q; /* 16 events: not on the stack */
    q.first = q.count = 0;
    const ht_event *ev;
    int status;
    while ((status = ht_cli_next(trace, &ev)) == 1) {
        const ht_event_header *h = &ev->Header;
        int chosen = !r->by_pid || h->ProcessId == r->pid;
        uint64_t address = h->Flags & HT_EVENT_FLAG_UNKNOWN_TYPE ? 0 : looked_up(ev);
        if (!chosen || !address) {
            if (drain(r, &q, 0) < 0 || handle(r, ev, chosen) < 0)
                return -2;
            continue;
        }
        ht_sites_prefetch(r->sites, h->ProcessId, address);
        if (r->prefetch)
            r->prefetch(r->context, h->ProcessId, address);
        if (drain(r, &q, LOOKAHEAD - 1) < 0)
            return -2;
        ht_event *slot = &q.ev[(q.first + q.count) % LOOKAHEAD];
        slot->Header = ev->Header;
        slot->u = ev->u;
        slot->FieldCount = 0;
        q.count++;
    }
    if (drain(r, &q, 0) < 0)
        return -2;
    if (status < 0)
        return status;
    uint32_t open;
    while (ht_sites_next_open(r->sites, &open))
        if (end_image(r, open) < 0)
            return -2;
    return status;
}
