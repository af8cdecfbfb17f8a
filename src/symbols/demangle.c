/*
 * Demangling with libstdc++'s __cxa_demangle: it is the demangler of the
 * compiler that produced the names (GCC's own, the same code as libiberty's
 * cplus_demangle, kept current with the ABI by the GCC project), it ships
 * with every C++ toolchain so it adds no package, and it is what elfutils'
 * eu-stack and eu-addr2line and heaptrack use. libiberty would need
 * libiberty-dev and a static archive for the same result.
 */
#include "symbols/demangle.h"

#include <stddef.h>
#include <stdlib.h>

/* From <cxxabi.h>, which is a C++ header; the function has C linkage. */
extern char *__cxa_demangle(const char *mangled_name, char *output_buffer, size_t *length,
                            int *status);

char *ht_demangle(const char *name)
{
    /* Only "_Z" names are mangled; __cxa_demangle would also accept plain
     * type names such as "i" (-> "int") and turn C functions into types. */
    if (!name || name[0] != '_' || name[1] != 'Z')
        return NULL;
    int status = 0;
    char *out = __cxa_demangle(name, NULL, NULL, &status);
    if (status != 0) {
        free(out);
        return NULL;
    }
    return out;
}
