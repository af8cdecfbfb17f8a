// An allocation with operator new at a known line, for the stack test: the
// innermost frame must be this function, not operator new (the allocator's
// frames are left out). Prints the size, function and line as JSON.
#include <cstdio>

#include "marked.h"
#include "own_frame.h"

// External: its DWARF then carries the mangled name with either compiler
// (clang gives one to static functions too, GCC does not), and the frame
// reads "cxx_alloc(unsigned long)", the name demangled with its parameters.
char *cxx_alloc(size_t n);

OWN_FRAME char *cxx_alloc(size_t n)
{
    char *p = new char[n];
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}
static const int cxx_line = __LINE__ - 4;

int main()
{
    delete[] cxx_alloc(mark_size(5));
    std::printf("{\"cxx\": {\"size\": %zu, \"function\": \"cxx_alloc(unsigned long)\", "
                "\"file\": \"stack_sites_cxx.cpp\", \"line\": %d}}\n",
                mark_size(5), cxx_line);
    return 0;
}
