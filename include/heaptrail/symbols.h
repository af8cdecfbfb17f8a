/*
 * heaptrail/symbols.h — resolving recorded return addresses to functions,
 * source files, lines and inlined frames.
 *
 * A trace describes the modules of each process (MODULE_LOAD: load bias,
 * size, path, build-id; MODULE_UNLOAD) and the call stacks of its events
 * (STACK_DEFINE: return addresses). A symbolizer is told the modules as the
 * events arrive and turns each stack entry into frames, with elfutils libdw:
 *
 *   - DWARF of the module file, or of its separate debug file, found by
 *     build-id (ROOT/.build-id/xx/rest.debug) or by .gnu_debuglink, under
 *     each debug root: the --debug-dir ones first, then SYSROOT/usr/lib/debug
 *     and /usr/lib/debug;
 *   - the ELF symbol table when there is no DWARF (function without file);
 *   - module+offset when neither helps, the bare address outside modules.
 *
 * A module's files are opened lazily, on the first address resolved in it,
 * and once: processes loading the same file (same path and build-id) share
 * it. Each (module, offset) is resolved once and remembered, so a report
 * over millions of events resolves each distinct address once.
 *
 * A file whose build-id differs from the one in the trace is not trusted:
 * the module is looked up by build-id alone, and when that fails too its
 * frames show module+offset and carry HT_FRAME_BUILD_ID_MISMATCH.
 *
 * Module files are untrusted input: a missing, unreadable or corrupt file
 * gives module+offset frames, never a crash. A symbolizer is not thread-safe;
 * use one per thread.
 */
#ifndef HEAPTRAIL_SYMBOLS_H
#define HEAPTRAIL_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

#include "heaptrail/events.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ht_symbolizer ht_symbolizer;

typedef struct ht_symbolizer_options {
    /* Extra roots for separate debug info, searched before the system's:
     * DIR/.build-id/xx/rest.debug, and DIR/MODULE_DIR/DEBUGLINK by path. */
    const char *const *debug_dirs;
    size_t debug_dir_count;
    /* Prefix for module paths of traces recorded on another machine (the
     * --sysroot of the tools); NULL or "" for none. SYSROOT/usr/lib/debug
     * becomes a debug root too. */
    const char *sysroot;
} ht_symbolizer_options;

/* Create a symbolizer. NULL options: no extra debug roots, no sysroot.
 * The options are copied. Returns NULL when memory runs out. */
ht_symbolizer *ht_symbolizer_create(const ht_symbolizer_options *options);

/* Free the symbolizer, its open files and every string it returned. */
void ht_symbolizer_destroy(ht_symbolizer *s);

/* Tell the symbolizer that process pid has a module loaded, as a
 * MODULE_LOAD event describes it: base is the load bias (the address of
 * module offset 0), size the extent of its PT_LOAD segments (from the lowest
 * to the end of the highest), path its file (need not be NUL-terminated),
 * build_id the raw NT_GNU_BUILD_ID bytes (build_id_len 0: none). A module
 * already known at base in pid is replaced. Nothing is opened here.
 * Returns 0, or -1 when memory runs out. */
int ht_symbolizer_add_module(ht_symbolizer *s, uint32_t pid, uint64_t base, uint64_t size,
                             const char *path, size_t path_len, const void *build_id,
                             size_t build_id_len);

/* MODULE_UNLOAD: process pid no longer has the module at base (its load
 * bias, or the address of its lowest segment). Unknown modules are ignored.
 * Addresses already resolved in it stay cached for other processes. */
void ht_symbolizer_remove_module(ht_symbolizer *s, uint32_t pid, uint64_t base);

/* A forked child starts with its parent's modules (the recorder does not
 * repeat them): copy parent_pid's modules to child_pid, keeping those the
 * child already has at the same base. Returns 0, or -1 when memory runs out. */
int ht_symbolizer_inherit(ht_symbolizer *s, uint32_t parent_pid, uint32_t child_pid);

/* Forget every module of pid: after an exec, or before a pid is reused. */
void ht_symbolizer_remove_process(ht_symbolizer *s, uint32_t pid);

/* Take what concerns modules from one event of a trace, in reading order:
 * MODULE_LOAD, MODULE_UNLOAD, and PROCESS_START (a pid's first start inherits
 * its parent's modules, a later one is an exec and forgets them). Returns 0,
 * or -1 when memory runs out. */
int ht_symbolizer_add_event(ht_symbolizer *s, const ht_event *event);

/* ht_frame.flags: why a frame says less than it could. */
#define HT_FRAME_NO_DEBUG_INFO 0x1     /* no DWARF for the address: symbol table only */
#define HT_FRAME_MODULE_MISSING 0x2    /* the module's file was not found, unreadable or not ELF */
#define HT_FRAME_BUILD_ID_MISMATCH 0x4 /* the file has another build-id than the trace: unused */

/* One frame of a resolved stack entry. */
typedef struct ht_frame {
    const char *function;   /* demangled; NULL when unknown */
    const char *file;       /* source file as the DWARF names it; NULL when unknown */
    uint32_t line;          /* 0 when unknown */
    const char *module;     /* module path as recorded, NULL when the address is in none */
    uint64_t module_offset; /* address - module load bias; the address itself without module */
    int inlined;            /* 1 for a frame inlined into the next one */
    uint32_t flags;         /* HT_FRAME_* */
} ht_frame;

/* Resolve one stack entry of process pid. out receives the frames it stands
 * for, innermost (inlined) first, the last being the real function; returns
 * how many (at least 1 when max > 0: an unresolvable address gives
 * module+offset, or just the address; at most max, the innermost ones).
 * return_address: the address is a return address, so the call site at
 * address-1 is looked up (true for every frame of a stack but the innermost
 * PC). Strings stay valid until the symbolizer is destroyed. */
size_t ht_symbolizer_resolve(ht_symbolizer *s, uint32_t pid, uint64_t address,
                             int return_address, ht_frame *out, size_t max);

/* What the symbolizer did so far (for reports and tests). */
/* How many of the first frames of a resolved stack (innermost first) belong
 * to the allocator rather than to the program: operator new and delete, and
 * the malloc family under another allocator's names. Reports leave them out,
 * as WPA leaves out RtlAllocateHeap (the recorder already left out its own). */
size_t ht_frames_allocator_prefix(const ht_frame *frames, size_t count);

typedef struct ht_symbolizer_stats {
    uint64_t lookups;              /* ht_symbolizer_resolve calls */
    uint64_t addresses_resolved;   /* distinct (module, offset) resolved: the cache misses */
    uint32_t modules_opened;       /* module files opened and used */
    uint32_t modules_missing;      /* not found, unreadable or not ELF */
    uint32_t modules_mismatched;   /* a file with another build-id than the trace's was found */
    uint32_t modules_without_dwarf; /* opened, but no DWARF found for them */
} ht_symbolizer_stats;

/* Copy the counters into *stats. */
void ht_symbolizer_get_stats(const ht_symbolizer *s, ht_symbolizer_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
