/*
 * heaptrail/winheap.h — the Win32 heap functions (HeapCreate, HeapAlloc, ...)
 * over the heaptrail heap, for code ported from Windows. Each is a thin inline
 * wrapper of the heaptrail/heap.h function of the same job; see there for the
 * semantics. Failures set errno (Linux has no GetLastError). Include it in
 * place of the Windows headers: it defines the Win32 types and flags it needs
 * unless they already exist.
 */
#ifndef HEAPTRAIL_WINHEAP_H
#define HEAPTRAIL_WINHEAP_H

#include <stddef.h>
#include <stdint.h>

#include "heaptrail/heap.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef HEAPTRAIL_WIN32_TYPES
#define HEAPTRAIL_WIN32_TYPES
typedef void *HANDLE;
typedef void *LPVOID;
typedef const void *LPCVOID;
typedef int BOOL;
typedef uint32_t DWORD;
typedef size_t SIZE_T;
typedef SIZE_T *PSIZE_T;
typedef void *PVOID;
typedef HANDLE *PHANDLE;
#endif

#ifndef TRUE
#define TRUE 1
#define FALSE 0
#endif

#define HEAP_NO_SERIALIZE HT_HEAP_NO_SERIALIZE
#define HEAP_GENERATE_EXCEPTIONS HT_HEAP_GENERATE_EXCEPTIONS
#define HEAP_ZERO_MEMORY HT_HEAP_ZERO_MEMORY
#define HEAP_REALLOC_IN_PLACE_ONLY HT_HEAP_REALLOC_IN_PLACE_ONLY

#define PROCESS_HEAP_REGION HT_HEAP_ENTRY_REGION
#define PROCESS_HEAP_UNCOMMITTED_RANGE HT_HEAP_ENTRY_UNCOMMITTED
#define PROCESS_HEAP_ENTRY_BUSY HT_HEAP_ENTRY_BUSY

/* HEAP_INFORMATION_CLASS */
typedef enum HEAP_INFORMATION_CLASS {
    HeapCompatibilityInformation = HT_HEAP_COMPATIBILITY_INFORMATION,
} HEAP_INFORMATION_CLASS;

/* PROCESS_HEAP_ENTRY with Win32's field names and widths (without the Block
 * and Region unions, which heaptrail does not fill). cbOverhead saturates at
 * 255 and cbData at 4 GiB - 1, the widths Win32 gives them. */
typedef struct PROCESS_HEAP_ENTRY {
    PVOID lpData;
    DWORD cbData;
    unsigned char cbOverhead;
    unsigned char iRegionIndex;
    uint16_t wFlags;
} PROCESS_HEAP_ENTRY, *LPPROCESS_HEAP_ENTRY;

static inline HANDLE HeapCreate(DWORD flOptions, SIZE_T dwInitialSize, SIZE_T dwMaximumSize)
{
    return ht_heap_create(flOptions, dwInitialSize, dwMaximumSize);
}

static inline BOOL HeapDestroy(HANDLE hHeap) { return ht_heap_destroy((ht_heap *)hHeap) ? TRUE : FALSE; }

static inline HANDLE GetProcessHeap(void) { return ht_process_heap(); }

static inline DWORD GetProcessHeaps(DWORD NumberOfHeaps, PHANDLE ProcessHeaps)
{
    return (DWORD)ht_process_heaps((ht_heap **)ProcessHeaps, NumberOfHeaps);
}

static inline LPVOID HeapAlloc(HANDLE hHeap, DWORD dwFlags, SIZE_T dwBytes)
{
    return ht_heap_alloc((ht_heap *)hHeap, dwFlags, dwBytes);
}

static inline LPVOID HeapReAlloc(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem, SIZE_T dwBytes)
{
    return ht_heap_realloc((ht_heap *)hHeap, dwFlags, lpMem, dwBytes);
}

static inline BOOL HeapFree(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem)
{
    return ht_heap_free((ht_heap *)hHeap, dwFlags, lpMem) ? TRUE : FALSE;
}

static inline SIZE_T HeapSize(HANDLE hHeap, DWORD dwFlags, LPCVOID lpMem)
{
    return ht_heap_size((ht_heap *)hHeap, dwFlags, lpMem);
}

static inline BOOL HeapValidate(HANDLE hHeap, DWORD dwFlags, LPCVOID lpMem)
{
    return ht_heap_validate((ht_heap *)hHeap, dwFlags, lpMem) ? TRUE : FALSE;
}

static inline BOOL HeapWalk(HANDLE hHeap, LPPROCESS_HEAP_ENTRY lpEntry)
{
    /* The walk's cursor is the entry's data and flags: carry them across. */
    ht_heap_entry e = {lpEntry->lpData, lpEntry->cbData, lpEntry->cbOverhead, lpEntry->iRegionIndex,
                       lpEntry->wFlags};
    if (!ht_heap_walk((ht_heap *)hHeap, &e))
        return FALSE;
    lpEntry->lpData = e.data;
    lpEntry->cbData = e.size > 0xFFFFFFFFu ? 0xFFFFFFFFu : (DWORD)e.size;
    lpEntry->cbOverhead = e.overhead > 255 ? 255 : (unsigned char)e.overhead;
    lpEntry->iRegionIndex = e.region_index > 255 ? 255 : (unsigned char)e.region_index;
    lpEntry->wFlags = (uint16_t)e.flags;
    return TRUE;
}

static inline SIZE_T HeapCompact(HANDLE hHeap, DWORD dwFlags) { return ht_heap_compact((ht_heap *)hHeap, dwFlags); }

static inline BOOL HeapLock(HANDLE hHeap) { return ht_heap_lock((ht_heap *)hHeap) ? TRUE : FALSE; }

static inline BOOL HeapUnlock(HANDLE hHeap) { return ht_heap_unlock((ht_heap *)hHeap) ? TRUE : FALSE; }

static inline BOOL HeapQueryInformation(HANDLE HeapHandle, HEAP_INFORMATION_CLASS HeapInformationClass,
                                        PVOID HeapInformation, SIZE_T HeapInformationLength, PSIZE_T ReturnLength)
{
    return ht_heap_query((ht_heap *)HeapHandle, (int)HeapInformationClass, HeapInformation, HeapInformationLength,
                         ReturnLength)
               ? TRUE
               : FALSE;
}

static inline BOOL HeapSetInformation(HANDLE HeapHandle, HEAP_INFORMATION_CLASS HeapInformationClass,
                                      PVOID HeapInformation, SIZE_T HeapInformationLength)
{
    return ht_heap_set((ht_heap *)HeapHandle, (int)HeapInformationClass, HeapInformation, HeapInformationLength)
               ? TRUE
               : FALSE;
}

#ifdef __cplusplus
}
#endif
#endif
