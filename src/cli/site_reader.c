/* Reading a trace into allocation sites (see site_reader.h). */
#include "cli/site_reader.h"

#include <stdlib.h>

#include "cli/trace_open.h"

static int end_image(const ht_cli_site_reader *r, uint32_t pid)
{
    ht_sites_image image;
    if (ht_sites_end_image(r->sites, pid, &image) < 0)
        return -1;
    int failed = image.count && r->image_ended(r->context, &image) != 0;
    free(image.sites);
    return failed ? -1 : 0;
}

int ht_cli_read_sites(ht_trace *trace, const ht_cli_site_reader *r)
{
    const ht_event *ev;
    int status;
    while ((status = ht_cli_next(trace, &ev)) == 1) {
        const ht_event_header *h = &ev->Header;
        int chosen = !r->by_pid || h->ProcessId == r->pid;
        /* An exec ends the image before the new one's PROCESS_START makes
         * the stack store forget the old stacks; an exit ends it after its
         * own event, which is the image's last moment. */
        if (chosen && r->before && r->before(r->context, ev) != 0)
            return -2;
        if (h->Type == HT_EVENT_PROCESS_START && chosen && end_image(r, h->ProcessId) < 0)
            return -2;
        if (ht_cli_stacks_take(r->stacks, ev) < 0)
            return -2;
        if (!chosen)
            continue;
        if (ht_sites_add(r->sites, ev) < 0 || (r->event && r->event(r->context, ev) != 0))
            return -2;
        if (h->Type == HT_EVENT_PROCESS_EXIT && end_image(r, h->ProcessId) < 0)
            return -2;
    }
    if (status < 0)
        return status;
    uint32_t open;
    while (ht_sites_next_open(r->sites, &open))
        if (end_image(r, open) < 0)
            return -2;
    return status;
}
