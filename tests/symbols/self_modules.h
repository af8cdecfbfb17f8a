/*
 * The test process's own modules, described exactly as the recorder's
 * MODULE_LOAD events describe them (base = load bias, size = extent of the
 * PT_LOAD segments, build-id from the PT_NOTE NT_GNU_BUILD_ID), and the
 * probe whose return address the tests resolve.
 */
#ifndef HT_TESTS_SELF_MODULES_H
#define HT_TESTS_SELF_MODULES_H

#include <stddef.h>
#include <stdint.h>

#include "heaptrail/symbols.h"

typedef struct self_module {
    char path[4096];
    uint64_t base; /* load bias */
    uint64_t lo;   /* lowest PT_LOAD p_vaddr: the module spans base+lo .. base+lo+size */
    uint64_t size;
    unsigned char build_id[64];
    size_t build_id_len;
} self_module;

/* The loaded module whose path ends with suffix; 1 when found. */
int self_module_find(const char *suffix, self_module *out);

/* The loaded module containing address; 1 when found. */
int self_module_containing(const void *address, self_module *out);

/* Register every module of this process with s under pid. Returns how many. */
size_t self_modules_register(ht_symbolizer *s, uint32_t pid);

/* Register one module under pid with another path (NULL: its own). */
void self_module_register_as(ht_symbolizer *s, uint32_t pid, const self_module *m,
                             const char *path);

/* The return address of the last call of probe. */
extern uint64_t probe_return_address;

/* A function that is never inlined and records its return address. */
int probe(int x);

#endif
