/* The recording session: memory shared between the traced processes (the
 * writers) and the collector (`heaptrail record`).
 *
 * The collector creates one memfd holding a control block and a fixed array
 * of slots; each traced thread owns one slot, a single-producer ring of
 * 8-byte words that only it writes and only the collector reads. Traced
 * processes find the session through HEAPTRAIL_SESSION=/proc/PID/fd/N (a path,
 * so that it survives children that close inherited descriptors). Because the
 * rings live in the collector's memory, a traced process killed by SIGKILL
 * loses nothing it committed. */
#ifndef HT_TRACE_SESSION_H
#define HT_TRACE_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#define HT_SESSION_ENV "HEAPTRAIL_SESSION"
/* Without a session: the file a collector started for this process writes. */
#define HT_OUTPUT_ENV "HEAPTRAIL_OUTPUT"
#define HT_SESSION_MAGIC 0x53535448u /* "HTSS" */
/* 2: TSC stamps (HT_SESSION_TSC) and heap records without the main arena's
 * handle (HT_RECORD_MAIN_HEAP); a writer and a collector of different
 * versions would read each other's records wrongly, so a writer refuses a
 * session of another version. */
#define HT_SESSION_VERSION 2

#define HT_SESSION_CONTROL_BYTES 4096u
#define HT_SLOT_HEADER_BYTES 256u
#define HT_SESSION_DEFAULT_SLOTS 1024u
#define HT_SESSION_DEFAULT_RING (4u << 20)
#define HT_SESSION_MIN_RING (64u << 10)
#define HT_SESSION_MAX_RING (1u << 30)
#define HT_DEFAULT_STACK_DEPTH 64u

/* Session flags (control->flags). */
#define HT_SESSION_LOSSY 0x1     /* drop and count instead of waiting for room */
#define HT_SESSION_NO_FOLLOW 0x2 /* only the first process is traced */
#define HT_SESSION_FREE_STACKS 0x4 /* FREE events carry stacks too */
#define HT_SESSION_TSC 0x8 /* records are stamped in TSC ticks (trace/tsc.h), not ns */

/* Session states (control->state). */
enum { HT_SESSION_RUNNING = 1, HT_SESSION_STOPPED = 2 };

/* Slot states. A writer moves FREE -> OWNED; the collector OWNED/CLOSED -> FREE. */
enum { HT_SLOT_FREE = 0, HT_SLOT_OWNED = 1, HT_SLOT_CLOSED = 2 };

typedef struct ht_session_control {
    uint32_t magic;
    uint32_t version;
    uint32_t slot_count;
    uint32_t ring_bytes; /* per slot, a power of two */
    uint32_t flags;
    uint32_t collector_pid;
    uint32_t root_pid;   /* the first traced process (for --no-follow) */
    uint32_t state;      /* atomic: HT_SESSION_* */
    uint32_t slots_used; /* atomic: highest slot index ever owned + 1 */
    uint32_t stack_depth; /* frames to capture per heap event; 0: no stacks */
    uint64_t lost_no_slot; /* atomic: events dropped because no slot was free */
} ht_session_control;

/* One slot's header. The writer-written and the collector-written words sit
 * on separate cache lines so that neither side's stores evict the other's. */
typedef struct ht_slot {
    /* Ownership: written once per owner. */
    uint32_t state; /* atomic: HT_SLOT_* */
    uint32_t pid;
    uint32_t tid;
    uint32_t generation; /* incremented by the collector each time it frees the slot */
    uint8_t pad0[48];
    /* Writer side. */
    uint64_t head; /* atomic: bytes committed */
    uint64_t lost; /* atomic: events dropped in lossy mode */
    /* atomic: nonzero while a realloc is in the allocator: the time it began
     * (see "Ordering" in docs/RECORDING.md) */
    uint64_t busy_since;
    uint8_t pad1[40];
    /* Collector side. */
    uint64_t tail; /* atomic: bytes consumed */
    uint8_t pad2[56];
} ht_slot;

_Static_assert(sizeof(ht_slot) <= HT_SLOT_HEADER_BYTES, "slot header too big");

static inline uint64_t ht_session_bytes(uint32_t slots, uint32_t ring)
{
    return HT_SESSION_CONTROL_BYTES + (uint64_t)slots * HT_SLOT_HEADER_BYTES +
           (uint64_t)slots * ring;
}

static inline ht_slot *ht_session_slot(void *base, uint32_t i)
{
    return (ht_slot *)((char *)base + HT_SESSION_CONTROL_BYTES + (uint64_t)i * HT_SLOT_HEADER_BYTES);
}

static inline uint64_t *ht_session_ring(void *base, uint32_t slots, uint32_t ring, uint32_t i)
{
    return (uint64_t *)((char *)base + HT_SESSION_CONTROL_BYTES +
                        (uint64_t)slots * HT_SLOT_HEADER_BYTES + (uint64_t)i * ring);
}

/* Ring records: 8-byte words. Word 0 packs the type (bits 0-15), the record's
 * length in words including this header (bits 16-31), a small argument
 * (bits 32-39, the Source for heap events) and flags (bits 40-47:
 * HT_RECORD_STACK: the last payload word is a stack id; HT_RECORD_MAIN_HEAP:
 * a heap event's HeapHandle is HT_HEAP_GLIBC_MAIN_ARENA and is left out of
 * the payload); word 1 is the timestamp. The payload words follow, by type
 * (ht_event_type values):
 *   HEAP_ALLOC     HeapHandle, Size, Address
 *   HEAP_FREE      HeapHandle, Address
 *   HEAP_REALLOC   HeapHandle, NewAddress, OldAddress, NewSize, time the call began
 *   OS_MAP         Address, Length, Protection | Flags << 32
 *   OS_UNMAP       Address, Length
 *   OS_REMAP       OldAddress, OldLength, NewAddress, NewLength
 *   THREAD_START   ParentTid, Cpu
 *   THREAD_EXIT    (none)
 *   MODULE_UNLOAD  Base
 *   STACK_DEFINE   StackId, Depth, Depth return addresses (innermost first)
 * and the records with strings (ht_emit_blob): fixed words, then the two
 * strings' lengths, then their bytes packed into words:
 *   THREAD_NAME    -                  Name, (empty)
 *   PROCESS_START  ParentPid, Cpu     Executable, CommandLine
 *   MODULE_LOAD    Base, Size         Path, BuildId */
#define HT_RECORD_HEADER_WORDS 2u
#define HT_RECORD_MAX_WORDS 4096u /* 32 KiB: strings are cut to fit */

#define HT_RECORD_STACK 0x100 /* in the argument: a stack id ends the payload */
#define HT_RECORD_MAIN_HEAP 0x200 /* in the argument: no HeapHandle word, the main arena's */

static inline bool ht_record_main_heap(uint64_t w0) { return (w0 >> 32) & HT_RECORD_MAIN_HEAP; }

static inline uint64_t ht_record_word0(uint32_t type, uint32_t words, uint32_t arg)
{
    return (uint64_t)(type & 0xFFFF) | (uint64_t)(words & 0xFFFF) << 16 |
           (uint64_t)(arg & 0xFFFF) << 32;
}

static inline bool ht_record_has_stack(uint64_t w0) { return (w0 >> 32) & HT_RECORD_STACK; }

static inline uint32_t ht_record_type(uint64_t w0) { return (uint32_t)(w0 & 0xFFFF); }
static inline uint32_t ht_record_words(uint64_t w0) { return (uint32_t)(w0 >> 16 & 0xFFFF); }
static inline uint32_t ht_record_arg(uint64_t w0) { return (uint32_t)(w0 >> 32 & 0xFF); }

#endif
