/* The fast stack walk against libunwind's on the same stacks: frames of
 * every shape this compiler makes (frame sizes past 4 KiB, variable-length
 * arrays that keep a frame pointer, early returns), through libc (qsort's
 * callback), in threads; a signal frame and an address without code make it
 * give up rather than guess, and forgetting its rules changes no result. */
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "unwind/walk.h"

#define MAX_FRAMES 128

/* Walks from start, and with libunwind from here, and checks that they
 * agree on every frame from start's caller out to the end of the stack.
 * Returns how many frames the fast walk found, or -1 when the walks
 * disagree (no cmocka assertion here: threads call it too). */
static __attribute__((noinline)) int agree_from(const struct ht_unwind_start *start)
{
    uint64_t ours[MAX_FRAMES];
    void *theirs[MAX_FRAMES];
    int n = ht_unwind_walk(start, ours, MAX_FRAMES, 0, 0);
    int m = unw_backtrace(theirs, MAX_FRAMES);
    if (n <= 2 || m < n - 1)
        return -1;
    /* libunwind's walk begins further in: from the return address into
     * start's caller on, they are the same. */
    for (int i = 1; i < n; i++)
        if (ours[i] != (uint64_t)(uintptr_t)theirs[m - n + i])
            return -1;
    return n;
}

static __attribute__((noinline)) int agree_here(void)
{
    struct ht_unwind_start start;
    HT_UNWIND_HERE(&start);
    return agree_from(&start);
}

static volatile int sink;

/* A frame past 4 KiB: the CFA offset after the probe loop. */
static __attribute__((noinline)) int big_frame(int depth)
{
    volatile char buf[9000];
    buf[depth] = (char)depth;
    int n = depth ? big_frame(depth - 1) : agree_here();
    return n + buf[depth] - depth;
}

/* A variable-length array: the CFA is kept relative to rbp. */
static __attribute__((noinline)) int vla_frame(int depth)
{
    volatile char buf[depth * 24 + 8];
    buf[0] = 1;
    int n = depth ? vla_frame(depth - 1) : big_frame(2);
    return n + buf[0] - 1;
}

/* Saved registers and two exits: remember_state / restore_state in the
 * CFI around the early return. */
static __attribute__((noinline)) int branchy(int depth, int a, int b)
{
    if (a + b == -1)
        return sink;
    int x = a * 3, y = b * 5, z = a ^ b;
    if (depth == 0)
        return vla_frame(3) + (x + y + z) * 0;
    int r = branchy(depth - 1, y, x);
    sink = x + y + z;
    return r;
}

static void test_frame_shapes(void **state)
{
    (void)state;
    int n = branchy(5, 1, 2);
    /* agree_here, 3 big frames, 4 VLA frames, 6 branchy, this test and more */
    assert_true(n >= 1 + 3 + 4 + 6 + 1);
}

/* Two callers of the same walk, one after the other at the same stack
 * depth: the walk must not carry the first caller's frames over. */
static __attribute__((noinline)) int via_one(void)
{
    int n = agree_here();
    sink = 1;
    return n;
}

static __attribute__((noinline)) int via_two(void)
{
    int n = agree_here();
    sink = 2;
    return n;
}

static void test_callers_change(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        assert_true(via_one() >= 3);
        assert_true(via_two() >= 3);
    }
}

/* A frame that keeps rbp (a VLA) met again at the same stack pointer but
 * with another rbp: pad + size is constant, so the functions called by
 * vla_then_call have the same stack pointer each time while the VLA frame
 * sits at another depth. */
static __attribute__((noinline)) int vla_then_call(int size, int (*walk_here)(void))
{
    volatile char buf[size];
    for (int i = 0; i < size; i++)
        buf[i] = (char)0xa5;
    return walk_here() + buf[0] - (char)0xa5;
}

/* Its VLA is filled, so that what an earlier call left on the stack there
 * (frames a stale walk could still follow) is gone. */
static __attribute__((noinline)) int pad_then_call(int pad, int size, int (*walk_here)(void))
{
    volatile char buf[pad];
    for (int i = 0; i < pad; i++)
        buf[i] = (char)0xa5;
    return vla_then_call(size, walk_here) + buf[0] - (char)0xa5;
}

/* Leaves rbp alone: the VLA frame's rbp is still in the register. */
static __attribute__((noinline)) int walk_keeping_rbp(void)
{
    struct ht_unwind_start start;
    HT_UNWIND_HERE(&start);
    return agree_from(&start);
}

/* Saves the caller's rbp and sets its own, the same each time. */
static __attribute__((noinline)) int walk_saving_rbp(void)
{
    __asm__ volatile("" ::: "rbp");
    struct ht_unwind_start start;
    HT_UNWIND_HERE(&start);
    start.bp = 0x1234; /* this function's own rbp: any value */
    return agree_from(&start);
}

static void test_frame_pointer_changes(void **state)
{
    (void)state;
    /* One function at a time: each walk meets the frames of the one before. */
    for (int pad = 16; pad <= 256; pad += 48)
        assert_true(pad_then_call(pad, 512 - pad, walk_keeping_rbp) >= 4);
    for (int pad = 16; pad <= 256; pad += 48)
        assert_true(pad_then_call(pad, 512 - pad, walk_saving_rbp) >= 4);
}

static int compare_calls, walked_in_compare;

static int compare_and_walk(const void *a, const void *b)
{
    if (compare_calls++ == 0)
        walked_in_compare = agree_here();
    return *(const int *)a - *(const int *)b;
}

static void test_through_libc(void **state)
{
    (void)state;
    int v[64];
    for (int i = 0; i < 64; i++)
        v[i] = (i * 37) % 64;
    compare_calls = 0;
    qsort(v, 64, sizeof v[0], compare_and_walk);
    /* agree_here, the callback, qsort's frames, this test and more */
    assert_true(walked_in_compare >= 4);
}

static void *thread_main(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)branchy(3, 4, 5);
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_main, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        assert_int_equal(pthread_join(t[i], &r), 0);
        assert_true((intptr_t)r >= 1 + 3 + 4 + 4);
    }
}

static volatile int handler_result;

static void handler(int sig)
{
    (void)sig;
    uint64_t frames[MAX_FRAMES];
    struct ht_unwind_start start;
    HT_UNWIND_HERE(&start);
    handler_result = ht_unwind_walk(&start, frames, MAX_FRAMES, 0, 0);
}

static void test_gives_up_on_signal_frames(void **state)
{
    (void)state;
    struct sigaction sa = {.sa_handler = handler}, old;
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    handler_result = 0;
    raise(SIGUSR1);
    assert_int_equal(handler_result, HT_UNWIND_GAVE_UP);
    sigaction(SIGUSR1, &old, NULL);
}

static void test_gives_up_without_code(void **state)
{
    (void)state;
    uint64_t frames[4];
    uint64_t stack[4] = {0};
    struct ht_unwind_start start = {.ip = 0x1000, .sp = (uintptr_t)stack, .bp = 0};
    assert_int_equal(ht_unwind_walk(&start, frames, 4, 0, 0), HT_UNWIND_GAVE_UP);
}

static void test_stops_at_max(void **state)
{
    (void)state;
    uint64_t frames[3];
    struct ht_unwind_start start;
    HT_UNWIND_HERE(&start);
    assert_int_equal(ht_unwind_walk(&start, frames, 3, 0, 0), 3);
    assert_int_equal(frames[0], start.ip);
    assert_int_equal(ht_unwind_walk(&start, frames, 0, 0, 0), 0);
}

/* The leading frames inside the range are left out; later ones are not. */
static void test_skips_leading_frames(void **state)
{
    (void)state;
    struct dl_find_object self;
    assert_int_equal(_dl_find_object((void *)(uintptr_t)test_skips_leading_frames, &self), 0);
    uintptr_t lo = (uintptr_t)self.dlfo_map_start, hi = (uintptr_t)self.dlfo_map_end;
    uint64_t all[MAX_FRAMES], some[MAX_FRAMES];
    struct ht_unwind_start start;
    HT_UNWIND_HERE(&start);
    int n = ht_unwind_walk(&start, all, MAX_FRAMES, 0, 0);
    int m = ht_unwind_walk(&start, some, MAX_FRAMES, lo, hi);
    int lead = 0;
    while (lead < n && all[lead] >= lo && all[lead] < hi)
        lead++;
    assert_true(lead >= 1 && lead < n);
    assert_int_equal(m, n - lead);
    assert_memory_equal(some, all + lead, (size_t)m * sizeof some[0]);
    int later = 0; /* main, in this executable, after cmocka's frames */
    for (int i = 0; i < m; i++)
        later += some[i] >= lo && some[i] < hi;
    assert_true(later >= 1);
}

static void test_forget(void **state)
{
    (void)state;
    int before = branchy(2, 1, 1);
    assert_true(before > 0); /* the walks agreed */
    ht_unwind_forget();
    assert_int_equal(branchy(2, 1, 1), before);
    ht_unwind_forget();
    assert_int_equal(branchy(2, 1, 1), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_shapes),
        cmocka_unit_test(test_callers_change),
        cmocka_unit_test(test_frame_pointer_changes),
        cmocka_unit_test(test_through_libc),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_gives_up_on_signal_frames),
        cmocka_unit_test(test_gives_up_without_code),
        cmocka_unit_test(test_stops_at_max),
        cmocka_unit_test(test_skips_leading_frames),
        cmocka_unit_test(test_forget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
