# The fast stack walk of the preload library, compared with libunwind's.
pkg_check_modules(UNWIND REQUIRED IMPORTED_TARGET libunwind)
ht_unit_test(test_unwind ${CMAKE_CURRENT_LIST_DIR}/test_unwind.c
             ${CMAKE_SOURCE_DIR}/src/unwind/walk.c ${CMAKE_SOURCE_DIR}/src/unwind/eh_frame.c)
target_link_libraries(test_unwind PRIVATE PkgConfig::UNWIND pthread)
# The frame shapes under test are those of optimised code without frame
# pointers, in every build (the sanitizer one is otherwise -O0).
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/test_unwind.c PROPERTIES
                            COMPILE_OPTIONS "-O2;-fomit-frame-pointer")
