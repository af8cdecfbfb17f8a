# Symbolizer: the test process resolves return addresses in itself and in
# libraries built here with -g -O2 whatever the build type (their own
# options: the project's, sanitizers included, are not theirs). C++ is
# enabled for the tests only, for the demangling test's library.
enable_language(CXX)
set(HT_SYM_DIR ${CMAKE_BINARY_DIR}/tests/symbols)
set(HT_SYM_LIB_OPTIONS -g -O2 -Wall -Wextra -Werror)

add_library(sym_shared SHARED ${CMAKE_CURRENT_LIST_DIR}/lib_shared.c)
add_library(sym_split SHARED ${CMAKE_CURRENT_LIST_DIR}/lib_split.c)
add_library(sym_cxx SHARED ${CMAKE_CURRENT_LIST_DIR}/lib_cxx.cpp)
add_library(sym_dlopen MODULE ${CMAKE_CURRENT_LIST_DIR}/lib_dlopen.c)
add_library(sym_noaranges MODULE ${CMAKE_CURRENT_LIST_DIR}/lib_noaranges.c)
foreach(lib sym_shared sym_split sym_cxx sym_dlopen sym_noaranges)
  set_target_properties(${lib} PROPERTIES COMPILE_OPTIONS "${HT_SYM_LIB_OPTIONS}"
                        LIBRARY_OUTPUT_DIRECTORY ${HT_SYM_DIR})
endforeach()
# Its first segment at a nonzero address, as in fixed-address executables:
# the module then spans load bias + that address onwards.
target_link_options(sym_shared PRIVATE -Wl,-Ttext-segment=0x200000)

# libsym_split.so's debug info moved out, as distributions ship it: a
# separate debug file and a copy without DWARF that names it (debuglink).
# The tests lay them out by build-id or by path in temporary directories.
set(HT_SYM_SPLIT_DEBUG ${HT_SYM_DIR}/libsym_split.so.debug)
set(HT_SYM_SPLIT_STRIPPED ${HT_SYM_DIR}/stripped/libsym_split.so)
add_custom_command(TARGET sym_split POST_BUILD
  COMMAND ${CMAKE_COMMAND} -E make_directory ${HT_SYM_DIR}/stripped
  COMMAND ${CMAKE_OBJCOPY} --only-keep-debug $<TARGET_FILE:sym_split> ${HT_SYM_SPLIT_DEBUG}
  COMMAND ${CMAKE_OBJCOPY} --strip-debug --add-gnu-debuglink=${HT_SYM_SPLIT_DEBUG}
          $<TARGET_FILE:sym_split> ${HT_SYM_SPLIT_STRIPPED}
  VERBATIM)

# libsym_noaranges.so without .debug_aranges, as clang builds libraries
# (it emits the section only with -gdwarf-aranges): the symbolizer must
# find the unit of an address without it.
add_custom_command(TARGET sym_noaranges POST_BUILD
  COMMAND ${CMAKE_OBJCOPY} --remove-section=.debug_aranges $<TARGET_FILE:sym_noaranges>
  VERBATIM)

set(HT_SYM_DEFINITIONS SYM_DLOPEN_PATH="$<TARGET_FILE:sym_dlopen>"
    SYM_NOARANGES_PATH="$<TARGET_FILE:sym_noaranges>"
    SYM_SPLIT_PATH="$<TARGET_FILE:sym_split>" SYM_SHARED_PATH="$<TARGET_FILE:sym_shared>"
    SYM_SPLIT_DEBUG="${HT_SYM_SPLIT_DEBUG}" SYM_SPLIT_STRIPPED="${HT_SYM_SPLIT_STRIPPED}")

foreach(test test_symbols test_symbols_files test_symbols_processes)
  ht_unit_test(${test} ${CMAKE_CURRENT_LIST_DIR}/${test}.c
               ${CMAKE_CURRENT_LIST_DIR}/self_modules.c)
  target_link_libraries(${test} PRIVATE sym_shared sym_split sym_cxx dl)
  target_compile_definitions(${test} PRIVATE ${HT_SYM_DEFINITIONS})
  target_compile_options(${test} PRIVATE -g -O2)
  add_dependencies(${test} sym_dlopen sym_noaranges)
endforeach()
