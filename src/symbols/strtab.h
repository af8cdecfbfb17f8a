/*
 * Interned strings: every function and file name a symbolizer returns is
 * stored once and stays at the same address until the table is destroyed,
 * so resolved frames can hand out plain pointers.
 */
#ifndef HT_SYMBOLS_STRTAB_H
#define HT_SYMBOLS_STRTAB_H

#include <stddef.h>

#include "symbols/u64map.h"

typedef struct ht_strtab_block ht_strtab_block;

typedef struct ht_strtab {
    ht_strtab_block *blocks; /* newest first; strings never move */
    const char **strings;    /* by index, for the map's values */
    size_t count, cap;
    ht_u64map index;         /* hash of the bytes -> index in strings */
} ht_strtab;

void ht_strtab_init(ht_strtab *t);

/* Free every string of the table. */
void ht_strtab_destroy(ht_strtab *t);

/* The interned, NUL-terminated copy of len bytes at s; NULL when memory ran out. */
const char *ht_strtab_intern(ht_strtab *t, const char *s, size_t len);

#endif
