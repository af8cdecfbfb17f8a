/* OWN_FRAME marks a test's function whose frame and name a checker looks
 * for in recorded stacks or symbolized addresses: never inlined, and never
 * cloned, folded or specialized by interprocedural passes (GCC's noipa;
 * compilers without the attribute get noinline alone). */
#ifndef HT_TEST_OWN_FRAME_H
#define HT_TEST_OWN_FRAME_H

#if __has_attribute(noipa)
#define OWN_FRAME __attribute__((noinline, noipa))
#else
#define OWN_FRAME __attribute__((noinline))
#endif

#endif
