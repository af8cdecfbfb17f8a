/*
 * heaptrail/events.h — the event schema.
 *
 * The heap events carry the names and fields of Windows' Heap Trace Provider
 * (ETW_HEAP_EVENT_ALLOC, _FREE, _REALLOC, ...) and its opcodes 0x20-0x2E; the
 * system events are the Linux counterparts of the kernel events a heap-trace
 * consumer needs (process, thread, image load, VirtualAlloc, lost events).
 *
 * Pointer-sized fields are stored as uint64_t whatever the recording machine,
 * so a trace made on one machine reads the same on any other.
 */
#ifndef HEAPTRAIL_EVENTS_H
#define HEAPTRAIL_EVENTS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Event types. The heap events use the Heap Trace Provider's opcodes. */
enum ht_event_type {
    HT_EVENT_HEAP_CREATE = 0x20,
    HT_EVENT_HEAP_ALLOC = 0x21,
    HT_EVENT_HEAP_REALLOC = 0x22,
    HT_EVENT_HEAP_DESTROY = 0x23,
    HT_EVENT_HEAP_FREE = 0x24,
    HT_EVENT_HEAP_EXPAND = 0x25,
    HT_EVENT_HEAP_SNAPSHOT = 0x26,
    HT_EVENT_HEAP_CONTRACT = 0x2A,
    HT_EVENT_HEAP_LOCK = 0x2B,
    HT_EVENT_HEAP_UNLOCK = 0x2C,
    HT_EVENT_HEAP_VALIDATE = 0x2D,
    HT_EVENT_HEAP_WALK = 0x2E,

    /* System events (heaptrail's own opcodes, outside the heap provider's range). */
    HT_EVENT_PROCESS_START = 0x40, /* also sent again by a process after a successful exec */
    HT_EVENT_PROCESS_EXIT = 0x41,
    HT_EVENT_THREAD_START = 0x42,
    HT_EVENT_THREAD_EXIT = 0x43,
    HT_EVENT_THREAD_NAME = 0x44,
    HT_EVENT_MODULE_LOAD = 0x45,
    HT_EVENT_MODULE_UNLOAD = 0x46,
    HT_EVENT_STACK_DEFINE = 0x47,
    HT_EVENT_OS_MAP = 0x48,   /* mmap: the VirtualAlloc analogue */
    HT_EVENT_OS_UNMAP = 0x49, /* munmap: VirtualFree */
    HT_EVENT_OS_REMAP = 0x4A, /* mremap */
    HT_EVENT_LOST = 0x4B,     /* events that were generated but not recorded */
    HT_EVENT_CLOCK = 0x4C,    /* description of the clock the timestamps come from */
};

/* The allocator path that served a request (the documented Source values). */
enum ht_memory_source {
    MEMORY_FROM_LOOKASIDE = 1,     /* per-thread LIFO caches in front of the heap */
    MEMORY_FROM_LOWFRAG = 2,       /* low-fragmentation heap (size-class buckets) */
    MEMORY_FROM_MAINPATH = 3,      /* the heap's main path (back-end free lists) */
    MEMORY_FROM_SLOWPATH = 4,      /* heap growth, large blocks straight from the OS */
    MEMORY_FROM_INVALID = 5,       /* memory that was not valid */
    MEMORY_FROM_SEGMENT_HEAP = 6,  /* reserved by Windows, never produced */
};

/* Heap handles the wrap mode reports for glibc's malloc (see docs/RECORDING.md):
 * a secondary arena is reported by its own address; these name the rest. */
#define HT_HEAP_GLIBC_MAIN_ARENA 0x1ULL /* glibc's main arena (brk heap) */
#define HT_HEAP_GLIBC_MMAPPED 0x2ULL    /* a chunk glibc mapped on its own */
#define HT_HEAP_UNKNOWN 0x0ULL          /* the allocator underneath is not known */

/* ETW_HEAP_EVENT_ALLOC: every heap allocation. Size is the requested size. */
typedef struct ETW_HEAP_EVENT_ALLOC {
    uint64_t HeapHandle;
    uint64_t Size;
    uint64_t Address;
    uint32_t Source;
} ETW_HEAP_EVENT_ALLOC;

/* ETW_HEAP_EVENT_FREE: every heap free. */
typedef struct ETW_HEAP_EVENT_FREE {
    uint64_t HeapHandle;
    uint64_t Address;
    uint32_t Source;
} ETW_HEAP_EVENT_FREE;

/* ETW_HEAP_EVENT_REALLOC: every reallocation of a live block. OldSize is the
 * block's previous requested size. */
typedef struct ETW_HEAP_EVENT_REALLOC {
    uint64_t HeapHandle;
    uint64_t NewAddress;
    uint64_t OldAddress;
    uint64_t NewSize;
    uint64_t OldSize;
    uint32_t Source;
} ETW_HEAP_EVENT_REALLOC;

typedef struct ETW_HEAP_EVENT_CREATE {
    uint64_t HeapHandle;
    uint32_t HeapFlags;
} ETW_HEAP_EVENT_CREATE;

/* Destroy, Lock, Unlock, Validate and Walk carry the heap handle alone. */
typedef struct ETW_HEAP_EVENT_HANDLE {
    uint64_t HeapHandle;
} ETW_HEAP_EVENT_HANDLE;

typedef struct ETW_HEAP_EVENT_EXPAND {
    uint64_t HeapHandle;
    uint64_t CommittedSize;
    uint64_t CommitAddress;
    uint64_t FreeSpace;
    uint64_t CommittedSpace;
    uint64_t ReservedSpace;
    uint32_t NoOfUCRs;
} ETW_HEAP_EVENT_EXPAND;

typedef struct ETW_HEAP_EVENT_CONTRACT {
    uint64_t HeapHandle;
    uint64_t DeCommittedSize;
    uint64_t DeCommitAddress;
    uint64_t FreeSpace;
    uint64_t CommittedSpace;
    uint64_t ReservedSpace;
    uint32_t NoOfUCRs;
} ETW_HEAP_EVENT_CONTRACT;

typedef struct ETW_HEAP_EVENT_SNAPSHOT {
    uint64_t HeapHandle;
    uint64_t FreeSpace;
    uint64_t CommittedSpace;
    uint64_t ReservedSpace;
    uint32_t HeapFlags;
} ETW_HEAP_EVENT_SNAPSHOT;

/* A byte string owned by the reader; valid until the next event is read. */
typedef struct ht_str {
    const char *data; /* not NUL-terminated in general; use len */
    uint32_t len;
} ht_str;

typedef struct ht_process_start {
    uint32_t ParentPid;
    ht_str Executable;  /* absolute path of the image */
    ht_str CommandLine; /* arguments separated by NUL bytes, as /proc/PID/cmdline */
} ht_process_start;

typedef struct ht_process_exit {
    int32_t ExitStatus; /* wait(2) status when known (see KnownStatus) */
    uint32_t KnownStatus; /* 1 when ExitStatus was observed, 0 when the process vanished */
} ht_process_exit;

typedef struct ht_thread_start {
    uint32_t ParentTid; /* the thread that created it, 0 when not known */
} ht_thread_start;

typedef struct ht_thread_exit {
    uint32_t Reserved;
} ht_thread_exit;

typedef struct ht_thread_name {
    ht_str Name;
} ht_thread_name;

typedef struct ht_module_load {
    uint64_t Base;   /* load bias: the address that module offset 0 maps to */
    uint64_t Size;   /* extent of its PT_LOAD segments */
    ht_str Path;
    ht_str BuildId;  /* raw bytes of NT_GNU_BUILD_ID, empty when the module has none */
} ht_module_load;

typedef struct ht_module_unload {
    uint64_t Base;
} ht_module_unload;

/* Interned call stack: StackId is referenced by heap events. Frames are return
 * addresses, innermost first. */
typedef struct ht_stack_define {
    uint32_t StackId;
    uint32_t Depth;
    const uint64_t *Frames; /* Depth entries, owned by the reader */
} ht_stack_define;

typedef struct ht_os_map {
    uint64_t Address;
    uint64_t Length;
    uint32_t Protection; /* PROT_* */
    uint32_t Flags;      /* MAP_* */
} ht_os_map;

typedef struct ht_os_unmap {
    uint64_t Address;
    uint64_t Length;
} ht_os_unmap;

typedef struct ht_os_remap {
    uint64_t OldAddress;
    uint64_t OldLength;
    uint64_t NewAddress;
    uint64_t NewLength;
} ht_os_remap;

/* Why events were lost (ETW's EventsLost / LogBuffersLost). */
enum ht_loss_reason {
    HT_LOSS_BUFFER_FULL = 1,  /* --lossy: the writer found its buffer full */
    HT_LOSS_NO_BUFFER = 2,    /* the process could not get a buffer at all */
    /* 3 is not used: a file that cannot be written cannot say so either; the
     * recorder reports how many events it holds instead. */
    HT_LOSS_CORRUPT_BUFFER = 4, /* the traced program damaged its own buffer (an estimate) */
};

typedef struct ht_lost {
    uint64_t EventsLost;
    uint32_t Reason; /* enum ht_loss_reason */
} ht_lost;

typedef struct ht_clock {
    uint32_t ClockId;          /* clockid_t of the timestamps (CLOCK_MONOTONIC) */
    uint32_t ResolutionNs;     /* clock_getres of that clock */
    int64_t RealtimeOffsetNs;  /* add to a timestamp to get nanoseconds since the epoch */
} ht_clock;

/* Every event carries the ETW header facts. */
typedef struct ht_event_header {
    uint16_t Type;       /* enum ht_event_type, or an opcode this reader does not know */
    uint8_t Version;     /* version of this event type's layout */
    uint8_t Flags;       /* HT_EVENT_FLAG_* */
    uint32_t Cpu;        /* HT_CPU_UNKNOWN where it was not cheap to get */
    uint32_t ProcessId;
    uint32_t ThreadId;
    uint64_t TimeStamp;  /* nanoseconds of the trace's clock (see ht_clock) */
    uint32_t StackId;    /* 0: no stack */
} ht_event_header;

#define HT_CPU_UNKNOWN 0xFFFFFFFFu
#define HT_EVENT_FLAG_UNKNOWN_TYPE 0x1 /* decoded generically, see ht_event.Fields */

#define HT_EVENT_MAX_FIELDS 16

/* A generic view of a field, for event types this reader does not know. */
typedef struct ht_field_value {
    const char *Name;
    uint8_t IsString;
    uint64_t Value;   /* integer fields */
    ht_str Bytes;     /* string and byte fields */
} ht_field_value;

/* One event as a consumer sees it. Known types fill the matching union member;
 * every type (known or not) also lists its fields generically in Fields. */
typedef struct ht_event {
    ht_event_header Header;
    union {
        ETW_HEAP_EVENT_ALLOC Alloc;
        ETW_HEAP_EVENT_FREE Free;
        ETW_HEAP_EVENT_REALLOC Realloc;
        ETW_HEAP_EVENT_CREATE Create;
        ETW_HEAP_EVENT_HANDLE Handle; /* Destroy, Lock, Unlock, Validate, Walk */
        ETW_HEAP_EVENT_EXPAND Expand;
        ETW_HEAP_EVENT_CONTRACT Contract;
        ETW_HEAP_EVENT_SNAPSHOT SnapShot;
        ht_process_start ProcessStart;
        ht_process_exit ProcessExit;
        ht_thread_start ThreadStart;
        ht_thread_exit ThreadExit;
        ht_thread_name ThreadName;
        ht_module_load ModuleLoad;
        ht_module_unload ModuleUnload;
        ht_stack_define StackDefine;
        ht_os_map OsMap;
        ht_os_unmap OsUnmap;
        ht_os_remap OsRemap;
        ht_lost Lost;
        ht_clock Clock;
    } u;
    const char *Name;   /* the event type's name from the trace's descriptors */
    uint32_t FieldCount;
    ht_field_value Fields[HT_EVENT_MAX_FIELDS];
} ht_event;

/* Name of a Source value ("lookaside", "lowfrag", "mainpath", "slowpath",
 * "invalid", "segmentheap"), or "unknown". */
const char *ht_source_name(uint32_t source);

/* Name of an event type ("alloc", "free", "realloc", "process_start", ...), or
 * NULL for a type this library does not know. */
const char *ht_event_type_name(uint16_t type);

#ifdef __cplusplus
}
#endif
#endif
