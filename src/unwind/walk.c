#include "unwind/walk.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

#include "unwind/eh_frame.h"

/* The rule table: open addressing over 2^16 words (512 KiB of zero pages
 * until used), at most PROBES slots from an address's home slot. A word holds
 * an address and its rule together, so a reader can never pair one with
 * another's rule:
 *
 *   bits  0-30  address >> 16 (user addresses are below 2^47)
 *   bits 31-34  distance from the home slot, (address ^ address >> 16) & MASK;
 *               with the high bits it gives back the low 16 bits
 *   bits 35-36  kind (enum ht_frame_kind)
 *   bits 37-53  CFA offset / 8
 *   bits 54-61  -(rbp slot offset) / 8, 0 when rbp is left alone
 *
 * A word is never 0 (the address's high bits are not). */
#define TABLE_BITS 16
#define MASK ((1u << TABLE_BITS) - 1)
#define PROBES 16
#define KEY_BITS 35
#define KEY_MASK ((UINT64_C(1) << KEY_BITS) - 1)

static uint64_t table[1u << TABLE_BITS] __attribute__((aligned(4096)));

/* Bumped by ht_unwind_forget: rules kept per thread from before are void. */
static unsigned generation;

/* Each thread keeps the frames of its previous walk, with the registers
 * each was found with. Consecutive stacks of a thread share most of their
 * outer frames (a python program's allocations share 12 of 14 frames on
 * average), and:
 *
 * - a frame met again at the same stack pointer, or at the same depth (the
 *   innermost ones: the tracer's, the allocator's), with the same address
 *   takes its rule from here instead of probing the table, whose words lie in
 *   as many cache lines as frames (a rule depends on the address alone);
 * - from a frame met again with the same rip, rsp and rbp, the walk goes on
 *   along the kept frames for as long as the stack still holds what led to
 *   each: the return address slot, and the saved rbp where the frame saved
 *   it. Those registers and that memory are all a step reads, so the frames
 *   are the ones a full step would find, for a load or two a frame.
 *
 * Two buffers: the walk reads one and fills the other. */
#define RECENT_FRAMES 64

struct recent {
    struct recent_frame {
        uint64_t ip, sp, bp, rule;
    } frame[RECENT_FRAMES];
    unsigned count, generation;
};

static __thread struct recent recent[2];
static __thread unsigned recent_current;
/* Set during a walk: a signal handler's walk on this thread leaves the
 * buffers alone. */
static __thread bool walking;

/* The rule in its packed form (no key bits); a rule too large to pack
 * becomes UNKNOWN, and such stacks are unwound the other way. */
static uint64_t pack(const struct ht_frame_rule *rule)
{
    uint64_t cfa_slots = (uint64_t)rule->cfa_offset / 8, rbp_slots = (uint64_t)-rule->rbp_offset / 8;
    if (rule->cfa_offset < 0 || rule->cfa_offset % 8 || cfa_slots >= (1u << 17) ||
        rule->rbp_offset > 0 || rule->rbp_offset % 8 || rbp_slots >= (1u << 8))
        return (uint64_t)HT_FRAME_UNKNOWN << 35;
    return (uint64_t)rule->kind << 35 | cfa_slots << 37 | rbp_slots << 54;
}

/* The rule for address at, from the table or read and added to it.
 * Returns it packed (bits 35 and up; the key bits below may be set). */
static uint64_t rule_at(uint64_t at)
{
    uint64_t high = at >> 16;
    unsigned home = (unsigned)(at ^ high) & MASK;
    unsigned probe = 0;
    if (__builtin_expect(at >> 47 == 0, 1)) {
        for (; probe < PROBES; probe++) {
            uint64_t word = __atomic_load_n(&table[(home + probe) & MASK], __ATOMIC_RELAXED);
            if ((word & KEY_MASK) == (high | (uint64_t)probe << 31))
                return word;
            if (word == 0)
                break;
        }
    }
    struct ht_frame_rule rule;
    if (ht_eh_frame_rule(at, &rule) == HT_FRAME_NO_OBJECT)
        return (uint64_t)HT_FRAME_UNKNOWN << 35; /* perhaps not loaded yet: not kept */
    uint64_t packed = pack(&rule);
    if (probe < PROBES && at >> 47 == 0) {
        uint64_t expected = 0;
        uint64_t word = high | (uint64_t)probe << 31 | packed;
        __atomic_compare_exchange_n(&table[(home + probe) & MASK], &expected, word, false,
                                    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    }
    return packed;
}

static inline unsigned rule_kind(uint64_t rule) { return (unsigned)(rule >> 35) & 3; }
static inline uint64_t rule_cfa_offset(uint64_t rule) { return (rule >> 37 & 0x1ffff) * 8; }
static inline unsigned rule_rbp_slots(uint64_t rule) { return (unsigned)(rule >> 54) & 0xff; }

/* The walk itself (max > 0). prev and next are the thread's frame buffers:
 * frames walked last time are read from prev, this walk's frames go to
 * next. A signal handler's walk passes NULL for both. */
__attribute__((no_sanitize("address")))
static int walk(const struct ht_unwind_start *start, uint64_t *frames, unsigned max,
                uintptr_t skip_start, uintptr_t skip_end,
                const struct recent *restrict prev, struct recent *restrict next)
{
    struct recent_frame at = {start->ip, start->sp, start->bp, 0};
    uint64_t lookup = at.ip; /* the innermost frame is at ip itself, the others inside their call */
    const struct recent_frame *known = prev ? prev->frame : NULL;
    const struct recent_frame *known_end = prev ? prev->frame + prev->count : NULL;
    const struct recent_frame *seen = known; /* the first kept frame not below sp */
    unsigned depth = 0; /* frames walked, ours included */
    unsigned n = 0;     /* frames written */
    int result = HT_UNWIND_GAVE_UP;
    for (;;) {
        while (seen < known_end && seen->sp < at.sp)
            seen++;
        const struct recent_frame *same = NULL;
        if (seen < known_end && seen->sp == at.sp && seen->ip == at.ip) {
            at.rule = seen->rule;
            if (seen->bp == at.bp)
                same = seen;
            seen++;
        } else if (known + depth < known_end && known[depth].ip == at.ip) {
            at.rule = known[depth].rule;
        } else {
            at.rule = rule_at(lookup);
        }
        if (next && depth < RECENT_FRAMES)
            next->frame[depth] = at;
        depth++;
        if (n || at.ip - skip_start >= skip_end - skip_start) {
            frames[n++] = at.ip;
            if (n == max)
                break;
        }
        if (same) {
            /* The frames kept from here on, while the stack still leads to
             * each: its return address slot, and the saved rbp if the frame
             * below saved it. */
            const struct recent_frame *f = seen;
            for (; f < known_end; f++) {
                if (*(const uint64_t *)(f->sp - 8) != f->ip)
                    break;
                unsigned rbp_slots = rule_rbp_slots(f[-1].rule);
                if (rbp_slots && *(const uint64_t *)(f->sp - 8 * (uint64_t)rbp_slots) != f->bp)
                    break;
                if (n || f->ip - skip_start >= skip_end - skip_start) {
                    frames[n++] = f->ip;
                    if (n == max) {
                        f++;
                        break;
                    }
                }
            }
            if (f > seen) {
                unsigned count = (unsigned)(f - seen);
                if (next && depth < RECENT_FRAMES)
                    memcpy(&next->frame[depth], seen,
                           (depth + count <= RECENT_FRAMES ? count : RECENT_FRAMES - depth) * sizeof *f);
                depth += count;
                at = f[-1];
                seen = f;
                if (n == max)
                    break;
            }
        }
        /* One step by the rule. */
        unsigned kind = rule_kind(at.rule);
        if (kind == HT_FRAME_UNKNOWN)
            goto out;
        if (kind == HT_FRAME_OUTERMOST)
            break;
        uint64_t cfa = (kind == HT_FRAME_CFA_RSP ? at.sp : at.bp) + rule_cfa_offset(at.rule);
        if (cfa <= at.sp)
            goto out; /* the caller's frame is always above */
        unsigned rbp_slots = rule_rbp_slots(at.rule);
        if (rbp_slots)
            at.bp = *(const uint64_t *)(cfa - 8 * (uint64_t)rbp_slots);
        at.ip = *(const uint64_t *)(cfa - 8);
        at.sp = cfa;
        if (at.ip == 0)
            break;
        lookup = at.ip - 1;
    }
    result = (int)n;
out:
    if (next)
        next->count = depth < RECENT_FRAMES ? depth : RECENT_FRAMES;
    return result;
}

int ht_unwind_walk(const struct ht_unwind_start *start, uint64_t *frames, unsigned max,
                   uintptr_t skip_start, uintptr_t skip_end)
{
    if (max == 0)
        return 0;
    if (walking)
        return walk(start, frames, max, skip_start, skip_end, NULL, NULL);
    walking = true;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    struct recent *prev = &recent[recent_current], *next = &recent[recent_current ^ 1];
    unsigned now = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
    if (prev->generation != now)
        prev->count = 0;
    int n = walk(start, frames, max, skip_start, skip_end, prev, next);
    if (n != HT_UNWIND_GAVE_UP) {
        next->generation = now;
        recent_current ^= 1;
    }
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    walking = false;
    return n;
}

void ht_unwind_forget(void)
{
    /* Private anonymous pages read back as zeros: every slot empty. */
    madvise(table, sizeof table, MADV_DONTNEED);
    __atomic_fetch_add(&generation, 1, __ATOMIC_RELEASE);
}
