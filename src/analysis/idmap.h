/*
 * A map from 32-bit ids (process ids, thread ids) to 32-bit values, for the
 * per-event lookups of the analyses: open addressing with linear probing, no
 * allocation per entry, no removal (ids are only ever added while a trace is
 * read, and the table is dropped with the analysis).
 */
#ifndef HT_ANALYSIS_IDMAP_H
#define HT_ANALYSIS_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct ht_idmap {
    uint64_t *slots; /* id << 32 | value; all ones marks an empty slot */
    size_t mask;     /* capacity - 1 */
    size_t count;
} ht_idmap;

/* An empty map; it allocates nothing until the first put. */
void ht_idmap_init(ht_idmap *m);

/* Free the map's memory; it is empty (and usable) afterwards. */
void ht_idmap_destroy(ht_idmap *m);

/* Set id's value (any value but UINT32_MAX). Returns 1 when id was new, 0 when its value was replaced,
 * -1 when memory ran out (the map is unchanged). */
int ht_idmap_put(ht_idmap *m, uint32_t id, uint32_t value);

/* Returns 1 and id's value in *value, or 0 when id is not in the map. */
int ht_idmap_get(const ht_idmap *m, uint32_t id, uint32_t *value);

static inline size_t ht_idmap_count(const ht_idmap *m) { return m->count; }

#endif
