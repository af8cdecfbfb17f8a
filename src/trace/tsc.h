/* The CPU's time-stamp counter as the writers' clock.
 *
 * A vDSO clock_gettime costs a traced program 32 ns an event on the project's
 * machine, most of it an lfence and an rdtsc, the rest the call and the
 * conversion to nanoseconds. Where the kernel itself keeps time with the TSC
 * (constant rate, synchronized across CPUs), writers read the counter and
 * leave the conversion to the collector (ht_tsc_map): a bare rdtsc costs
 * 12 ns, one behind an lfence 24 ns. Which events may take the bare read is
 * in trace/emit.h; docs/RECORDING.md ("Clock") has the argument.
 */
#ifndef HT_TRACE_TSC_H
#define HT_TRACE_TSC_H

#include <stdbool.h>
#include <stdint.h>

#if defined(__x86_64__)
#define HT_TSC_AVAILABLE 1

/* The counter as it is when this instruction executes, which may be before
 * earlier instructions complete, never after later ones are seen by other
 * CPUs (stores become visible only after the instruction retires). */
static inline uint64_t ht_tsc_read(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return (uint64_t)hi << 32 | lo;
}

/* The counter read after every earlier instruction has completed (loads
 * included): what the vDSO does for CLOCK_MONOTONIC. */
static inline uint64_t ht_tsc_read_ordered(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence\n\trdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return (uint64_t)hi << 32 | lo;
}

/* The same, and no later instruction starts before the read: the
 * collector's loads of the rings' heads must see at least what was there
 * when the round's time was read. (A fence instruction does not do that:
 * the counter is not memory. The vDSO stores the time before returning,
 * which a following mfence waits for.) */
static inline uint64_t ht_tsc_read_fenced(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence\n\trdtsc\n\tlfence" : "=a"(lo), "=d"(hi) : : "memory");
    return (uint64_t)hi << 32 | lo;
}
#else
#define HT_TSC_AVAILABLE 0
/* Never called: ht_tsc_usable() is false here and sessions use
 * CLOCK_MONOTONIC. */
static inline uint64_t ht_tsc_read(void) { return 0; }
static inline uint64_t ht_tsc_read_ordered(void) { return 0; }
static inline uint64_t ht_tsc_read_fenced(void) { return 0; }
#endif

/* Whether a session on this machine may stamp with the TSC: x86-64, the
 * kernel's clocksource is the TSC (it keeps the counter only when it found
 * it synchronized and stable, and switches away otherwise), the CPU says it
 * runs at a constant rate through sleep states, and HEAPTRAIL_CLOCK is not
 * "monotonic". */
bool ht_tsc_usable(void);

/* Ticks to CLOCK_MONOTONIC nanoseconds: continuous and increasing, pieces of
 * lines whose slope follows the ratio of the two clocks measured since the
 * start, bent slowly towards CLOCK_MONOTONIC when they drift apart (the
 * kernel slews it by up to 0.05%). Stamps from before the present piece
 * (a record committed late) use the piece before. */
typedef struct ht_tsc_map {
    uint64_t first_tick, first_ns; /* the first pair: the ratio's baseline */
    uint64_t tick, ns, rate;       /* the present piece: rate is ns per tick << 32 */
    uint64_t prev_tick, prev_ns, prev_rate;
    uint64_t next_tick; /* when to compare with CLOCK_MONOTONIC again */
} ht_tsc_map;

/* Measure the ratio over a millisecond (the call sleeps that long). */
void ht_tsc_map_init(ht_tsc_map *m);

/* Compare with CLOCK_MONOTONIC when a tenth of a second has passed since
 * the last time; now is a recent tick. */
void ht_tsc_map_update_(ht_tsc_map *m);
static inline void ht_tsc_map_update(ht_tsc_map *m, uint64_t now)
{
    if (now >= m->next_tick)
        ht_tsc_map_update_(m);
}

static inline uint64_t ht_tsc_scale(uint64_t ticks, uint64_t rate)
{
    return (uint64_t)(((unsigned __int128)ticks * rate) >> 32);
}

static inline uint64_t ht_tsc_ns(const ht_tsc_map *m, uint64_t tick)
{
    if (tick >= m->tick)
        return m->ns + ht_tsc_scale(tick - m->tick, m->rate);
    if (tick >= m->prev_tick)
        return m->prev_ns + ht_tsc_scale(tick - m->prev_tick, m->prev_rate);
    uint64_t back = ht_tsc_scale(m->prev_tick - tick, m->prev_rate);
    return back < m->prev_ns ? m->prev_ns - back : 0;
}

/* A duration in nanoseconds as ticks, at the present rate. */
static inline uint64_t ht_tsc_ticks(const ht_tsc_map *m, uint64_t ns)
{
    return (uint64_t)(((unsigned __int128)ns << 32) / m->rate);
}

#endif
