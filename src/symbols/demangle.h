/*
 * C++ symbol names as people read them.
 */
#ifndef HT_SYMBOLS_DEMANGLE_H
#define HT_SYMBOLS_DEMANGLE_H

/* The demangled form of an Itanium C++ ABI name ("_Z..."), malloc'd; NULL
 * when name is not mangled or does not demangle (the caller keeps name). */
char *ht_demangle(const char *name);

#endif
