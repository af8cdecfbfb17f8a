/* The writer's entry for the recorder: runs of heap events in compact form.
 *
 * The recorder has each heap event as a record (records.h) and its extra
 * fields already; building an ht_event for each, only for the writer to
 * take it apart again, cost more than encoding it. The bytes written are
 * those ht_writer_add writes for the same events. */
#ifndef HT_FORMAT_WRITER_HEAP_H
#define HT_FORMAT_WRITER_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "heaptrail/writer.h"
#include "records.h"

/* Append n heap events (ALLOC, FREE or REALLOC of a built-in layout) of
 * process pid, in order: recs[i] with extra[i]. Returns 0, or -1 with errno
 * set (EINVAL for a record of another type: the events before it are in). */
int ht_writer_add_heap(ht_writer *w, uint32_t pid, const ht_record *recs,
                       const ht_heap_extra *extra, size_t n);

#endif
