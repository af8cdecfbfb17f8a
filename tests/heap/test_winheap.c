/* Unit tests of heaptrail/winheap.h: the Win32 names reach the heap with
 * their Win32 shapes (handles, BOOL results, PROCESS_HEAP_ENTRY walks). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "heaptrail/winheap.h"

static void test_heap_lifecycle(void **state)
{
    (void)state;
    HANDLE heap = HeapCreate(0, 0, 0);
    assert_non_null(heap);
    char *p = HeapAlloc(heap, HEAP_ZERO_MEMORY, 100);
    assert_non_null(p);
    assert_int_equal(p[99], 0);
    strcpy(p, "ported from Windows");
    p = HeapReAlloc(heap, HEAP_ZERO_MEMORY, p, 5000);
    assert_string_equal(p, "ported from Windows");
    assert_int_equal(p[4999], 0);
    assert_int_equal(HeapSize(heap, 0, p), 5000);
    assert_true(HeapValidate(heap, 0, p));
    assert_true(HeapValidate(heap, 0, NULL));
    assert_true(HeapFree(heap, 0, p));
    assert_true(HeapDestroy(heap));
}

static void test_process_heaps(void **state)
{
    (void)state;
    HANDLE extra = HeapCreate(0, 0, 0);
    HANDLE heaps[16];
    DWORD n = GetProcessHeaps(16, heaps);
    assert_true(n >= 2);
    assert_ptr_equal(heaps[0], GetProcessHeap());
    assert_int_equal(GetProcessHeaps(0, NULL), n);
    assert_false(HeapDestroy(GetProcessHeap()));
    HeapDestroy(extra);
}

static void test_walk_with_win32_entry(void **state)
{
    (void)state;
    HANDLE heap = HeapCreate(0, 0, 0);
    void *block = HeapAlloc(heap, 0, 3000);
    PROCESS_HEAP_ENTRY e;
    memset(&e, 0, sizeof e);
    int regions = 0, found = 0;
    while (HeapWalk(heap, &e)) {
        regions += (e.wFlags & PROCESS_HEAP_REGION) != 0;
        found += e.lpData == block && e.cbData == 3000 && (e.wFlags & PROCESS_HEAP_ENTRY_BUSY);
    }
    assert_int_equal(errno, ENOENT);
    assert_int_equal(regions, 1);
    assert_int_equal(found, 1);
    HeapDestroy(heap);
}

static void test_information_classes(void **state)
{
    (void)state;
    HANDLE heap = HeapCreate(HEAP_NO_SERIALIZE, 0, 0);
    DWORD value = 7;
    SIZE_T needed = 0;
    assert_true(HeapQueryInformation(heap, HeapCompatibilityInformation, &value, sizeof value, &needed));
    assert_int_equal(value, 0);
    assert_int_equal(needed, sizeof value);
    DWORD lfh = 2;
    assert_false(HeapSetInformation(heap, HeapCompatibilityInformation, &lfh, sizeof lfh));
    assert_false(HeapLock(heap));
    HeapDestroy(heap);
    HANDLE locked = HeapCreate(0, 0, 0);
    assert_true(HeapLock(locked));
    assert_true(HeapUnlock(locked));
    assert_true(HeapCompact(locked, 0) > 0);
    HeapDestroy(locked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heap_lifecycle),
        cmocka_unit_test(test_process_heaps),
        cmocka_unit_test(test_walk_with_win32_entry),
        cmocka_unit_test(test_information_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
