/*
 * A module file as the symbolizer uses it: one per distinct (path, build-id)
 * of the trace, shared by every process that loaded it. Its files are found
 * and opened on the first address resolved in it, and once.
 */
#ifndef HT_SYMBOLS_MODULE_H
#define HT_SYMBOLS_MODULE_H

#include <elfutils/libdwfl.h>
#include <stddef.h>
#include <stdint.h>

#include "symbols/u64map.h"
#include "symbols/units.h"

/* Where module files and their debug info are looked for. */
typedef struct ht_sym_search {
    char *sysroot;  /* prefix of module paths, "" for none */
    char **roots;   /* debug roots in search order (--debug-dir, sysroot's, the system's) */
    size_t root_count;
} ht_sym_search;

enum ht_sym_module_state {
    HT_SYM_UNOPENED, /* not looked for yet */
    HT_SYM_OPEN,     /* dwfl and mod are usable */
    HT_SYM_FAILED,   /* no usable file: fail_flags says why */
};

typedef struct ht_sym_module {
    const char *path;          /* as recorded (interned) */
    unsigned char *build_id;   /* as recorded; NULL when the trace has none */
    size_t build_id_len;
    const ht_sym_search *search;
    int state;                 /* enum ht_sym_module_state */
    uint32_t fail_flags;       /* HT_FRAME_MODULE_MISSING or _BUILD_ID_MISMATCH when failed */
    int mismatch_seen;         /* the file at path had another build-id than the trace */
    int no_dwarf_seen;         /* an address without DWARF was resolved (counted once) */
    Dwfl *dwfl;                /* one session per module: addresses in it are module offsets */
    Dwfl_Module *mod;
    uint64_t lo;               /* lowest PT_LOAD p_vaddr of the file, once open */
    ht_u64map cache;           /* (offset << 1 | return_address) -> first cached frame */
    ht_unit_index units;       /* for DWARF without .debug_aranges (units.h) */
} ht_sym_module;

/* Look for the module's file and open it; sets m->state (and fail_flags,
 * mismatch_seen). The order: SYSROOT/PATH when its build-id matches the
 * trace's (or either has none), then ROOT/.build-id/xx/rest and
 * ROOT/.build-id/xx/rest.debug under each debug root. */
void ht_sym_module_open(ht_sym_module *m);

/* Close the module's files and free its memory (not the struct itself). */
void ht_sym_module_close(ht_sym_module *m);

#endif
