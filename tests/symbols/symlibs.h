/*
 * The functions of the test libraries. Each calls probe(x) on one line,
 * stores that line's number in *line, and does some work after the call
 * so that the call is not a tail call: probe's return address lies in it.
 */
#ifndef HT_TESTS_SYMLIBS_H
#define HT_TESTS_SYMLIBS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef int (*sym_probe_fn)(int x);

/* libsym_shared.so, linked by the tests. */
int sym_shared_function(sym_probe_fn probe, int x, int *line);

/* libsym_dlopen.so, loaded with dlopen (the type of the symbol looked up). */
typedef int (*sym_dlopen_function_fn)(sym_probe_fn probe, int x, int *line);

/* libsym_noaranges.so, loaded with dlopen: "sym_noaranges_function", of
 * the same type. Its DWARF has no .debug_aranges. */

/* libsym_split.so, linked; the build also makes a stripped copy and a
 * separate debug file of it (objcopy --only-keep-debug). */
int sym_split_function(sym_probe_fn probe, int x, int *line);

/* libsym_cxx.so, linked: calls ht_demo::Widget::grow, which calls probe. */
int sym_cxx_entry(sym_probe_fn probe, int x, int *line);

#ifdef __cplusplus
}
#endif
#endif
