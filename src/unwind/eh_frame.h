/* How to step out of a frame, read from the loaded object's .eh_frame.
 *
 * Debian's binaries have no frame pointers, but every object carries the
 * call frame information (CFI) that C++ exceptions need: for each
 * instruction, where the canonical frame address (CFA: the caller's stack
 * pointer) is, and where the return address and the callee-saved registers
 * were stored. An x86-64 stack walk needs three registers of it: rip, rsp
 * (the CFA) and rbp (the CFA's base in functions that keep one).
 *
 * This reads the rule at one address and reduces it to those three; anything
 * else (signal frames, DWARF expressions, a CFA based on another register) is
 * reported as not understood, and the caller unwinds that stack another way.
 * Lock-free and allocation-free: it finds the object with _dl_find_object and
 * reads the tables in place. */
#ifndef HT_UNWIND_EH_FRAME_H
#define HT_UNWIND_EH_FRAME_H

#include <stdint.h>

enum ht_frame_kind {
    HT_FRAME_CFA_RSP,   /* CFA = rsp + cfa_offset */
    HT_FRAME_CFA_RBP,   /* CFA = rbp + cfa_offset */
    HT_FRAME_OUTERMOST, /* the return address is undefined: the stack ends here */
    HT_FRAME_UNKNOWN,   /* a rule this reader does not follow, or no rule */
};

/* The rule of one address. The return address is always at CFA - 8 (the
 * reader refuses anything else); rbp_offset is where the caller's rbp was
 * saved, relative to the CFA, or 0 when the function leaves rbp as it was. */
struct ht_frame_rule {
    enum ht_frame_kind kind;
    int64_t cfa_offset;
    int64_t rbp_offset;
};

enum ht_frame_lookup {
    HT_FRAME_FOUND,      /* rule filled (its kind may still be UNKNOWN) */
    HT_FRAME_NO_OBJECT,  /* no loaded object holds the address (yet) */
};

/* The rule in force at address ip. */
enum ht_frame_lookup ht_eh_frame_rule(uintptr_t ip, struct ht_frame_rule *rule)
    __attribute__((visibility("hidden")));

#endif
