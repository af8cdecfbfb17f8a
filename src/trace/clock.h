/* The trace clock: CLOCK_MONOTONIC in nanoseconds. On Linux it is read through
 * the vDSO without a system call, and the vDSO orders the TSC read after
 * earlier loads, which the collector's ordering argument relies on
 * (docs/RECORDING.md, "Ordering"). */
#ifndef HT_TRACE_CLOCK_H
#define HT_TRACE_CLOCK_H

#include <stdint.h>
#include <time.h>

#define HT_TRACE_CLOCK CLOCK_MONOTONIC

static inline uint64_t ht_now_ns(void)
{
    struct timespec ts;
    clock_gettime(HT_TRACE_CLOCK, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
