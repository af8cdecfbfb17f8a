# Integration tests: the real `heaptrail` CLI on the test programs of
# tests/programs/ and on real programs, with valgrind as the counting oracle.
# Every test here carries the label "integration"; run them with
#   ctest --output-on-failure -L integration
find_package(Python3 REQUIRED COMPONENTS Interpreter)
find_package(Threads REQUIRED)

set(HT_PROGRAMS_SRC ${CMAKE_SOURCE_DIR}/tests/programs)
set(HT_PROGRAMS_BIN ${CMAKE_BINARY_DIR}/tests)
set(HT_INTEGRATION_SRC ${CMAKE_SOURCE_DIR}/tests/integration)
set(HT_INTEGRATION_WORK ${CMAKE_BINARY_DIR}/tests/integration-work)

# ht_test_program(NAME SOURCES...): a test program, built as tests/NAME.
function(ht_test_program name)
  add_executable(test_program_${name} ${ARGN})
  target_link_libraries(test_program_${name} PRIVATE Threads::Threads)
  set_target_properties(test_program_${name} PROPERTIES OUTPUT_NAME ${name}
                        RUNTIME_OUTPUT_DIRECTORY ${HT_PROGRAMS_BIN})
endfunction()

ht_test_program(stress ${HT_PROGRAMS_SRC}/stress.c)
ht_test_program(lossy ${HT_PROGRAMS_SRC}/lossy.c)
# Writes over its own recording buffer: it reads the session's layout.
ht_test_program(scribble ${HT_PROGRAMS_SRC}/scribble.c)
target_include_directories(test_program_scribble PRIVATE ${CMAKE_SOURCE_DIR}/src
                           ${CMAKE_SOURCE_DIR}/include)
# Allocation sites at known lines, in the program, a linked library and a
# dlopen'ed one (built -g whatever the build type: the test reads lines).
add_library(test_stacksites SHARED ${HT_PROGRAMS_SRC}/stack_sites_lib.c)
add_library(test_stacksites_dl MODULE ${HT_PROGRAMS_SRC}/stack_sites_dl.c)
ht_test_program(stack_sites ${HT_PROGRAMS_SRC}/stack_sites.c)
target_link_libraries(test_program_stack_sites PRIVATE test_stacksites ${CMAKE_DL_LIBS})
enable_language(CXX)
ht_test_program(stack_sites_cxx ${HT_PROGRAMS_SRC}/stack_sites_cxx.cpp)
foreach(t test_stacksites test_stacksites_dl test_program_stack_sites test_program_stack_sites_cxx)
  target_compile_options(${t} PRIVATE -g -O2)
endforeach()
set_target_properties(test_stacksites PROPERTIES OUTPUT_NAME stacksites
                      LIBRARY_OUTPUT_DIRECTORY ${HT_PROGRAMS_BIN})
set_target_properties(test_stacksites_dl PROPERTIES OUTPUT_NAME stacksites_dl PREFIX lib
                      LIBRARY_OUTPUT_DIRECTORY ${HT_PROGRAMS_BIN})
ht_test_program(progress ${HT_PROGRAMS_SRC}/progress.c)
ht_test_program(stamps ${HT_PROGRAMS_SRC}/stamps.c)
ht_test_program(signals ${HT_PROGRAMS_SRC}/signals.c)
ht_test_program(execchain ${HT_PROGRAMS_SRC}/execchain.c)
ht_test_program(dlopen ${HT_PROGRAMS_SRC}/dlopen_main.c)
# The library resolves dl_host_counts in the program: export its symbols.
set_target_properties(test_program_dlopen PROPERTIES ENABLE_EXPORTS ON)
target_link_libraries(test_program_dlopen PRIVATE ${CMAKE_DL_LIBS})
add_library(test_program_htdlwork MODULE ${HT_PROGRAMS_SRC}/dlopen_lib.c)
set_target_properties(test_program_htdlwork PROPERTIES OUTPUT_NAME htdlwork PREFIX lib
                      LIBRARY_OUTPUT_DIRECTORY ${HT_PROGRAMS_BIN})

# ht_integration_test(NAME SCRIPT ARGS...): run a test script against the
# heaptrail binary, the test programs and a scratch folder of its own.
function(ht_integration_test name script)
  add_test(NAME integration.${name}
           COMMAND ${Python3_EXECUTABLE} ${HT_INTEGRATION_SRC}/${script}
                   --heaptrail $<TARGET_FILE:heaptrail_cli> --programs ${HT_PROGRAMS_BIN}
                   --workdir ${HT_INTEGRATION_WORK}/${name} ${ARGN})
  # The timeout only stops a hung recorder; no test asserts on time.
  set_tests_properties(integration.${name} PROPERTIES LABELS integration TIMEOUT 300)
endfunction()

ht_integration_test(stress test_stress.py)
# The same with the writers on the vDSO clock where they would use the TSC.
ht_integration_test(stress_monotonic test_stress.py --clock monotonic)
# Without stacks, where the TSC is the writers' clock, the interposed
# functions take their plain path (ht_emit_plain); a small ring makes its
# records wrap and wait for room.
ht_integration_test(stress_plain test_stress.py --record-option=--no-stacks
                    --record-option=--buffer-size=64K)
# The collector compresses in its empty rounds on one or two processors, in
# a thread of the writer's own on more: each way on any machine.
ht_integration_test(stress_compress_idle test_stress.py --compress idle)
ht_integration_test(stress_compress_thread test_stress.py --compress thread)
ht_integration_test(clock test_clock.py)
ht_integration_test(kill9 test_kill9.py)
ht_integration_test(signals test_signals.py)
ht_integration_test(signals_plain test_signals.py --record-option=--no-stacks
                    --record-option=--buffer-size=64K)
ht_integration_test(dlopen test_dlopen.py)
ht_integration_test(exec test_exec.py)
ht_integration_test(exec_no_follow test_exec.py --no-follow)
ht_integration_test(lossy test_lossy.py)
ht_integration_test(scribble test_scribble.py)
ht_integration_test(stacks test_stacks.py)
ht_integration_test(standalone test_standalone.py --preload $<TARGET_FILE:heaptrail_preload>)
foreach(case unknown-option missing-command existing-output cannot-execute setuid mode symlink
             disk-full)
  ht_integration_test(record_${case} test_record_errors.py ${case})
endforeach()
set_tests_properties(integration.record_disk-full PROPERTIES SKIP_RETURN_CODE 77)

# The valgrind oracle needs valgrind and the programs it runs. The system
# python3 is preferred: a version-manager shim in front of it is a shell
# script, which would add processes of its own to both runs.
find_program(HT_VALGRIND valgrind)
find_program(HT_ORACLE_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
find_program(HT_ORACLE_PYTHON NAMES python3)
find_program(HT_SQLITE3 sqlite3)
find_program(HT_GCC gcc)
if(HT_VALGRIND)
  foreach(w python sqlite gcc)
    if((w STREQUAL "python" AND HT_ORACLE_PYTHON) OR (w STREQUAL "sqlite" AND HT_SQLITE3)
       OR (w STREQUAL "gcc" AND HT_GCC))
      ht_integration_test(valgrind_oracle_${w} valgrind_oracle.py --workload ${w}
                          --valgrind ${HT_VALGRIND} --python ${HT_ORACLE_PYTHON}
                          --sqlite3 ${HT_SQLITE3} --gcc ${HT_GCC})
    else()
      message(STATUS "valgrind oracle: no program for the ${w} workload, test left out")
    endif()
  endforeach()
else()
  message(STATUS "valgrind not found: the valgrind oracle tests are left out")
endif()

# Every stack of real programs walked twice, by the fast walk and by
# libunwind, compared (HEAPTRAIL_UNWIND_CHECK).
if(HT_ORACLE_PYTHON AND HT_SQLITE3 AND HT_GCC)
  ht_integration_test(unwind_check test_unwind_check.py --python ${HT_ORACLE_PYTHON}
                      --sqlite3 ${HT_SQLITE3} --gcc ${HT_GCC})
else()
  message(STATUS "python3, sqlite3 or gcc missing: the unwind check test is left out")
endif()

# Leaks at known sites and sizes, in the program and in a forked child
# (built -g whatever the build type: the test reads lines).
ht_test_program(leaky ${HT_PROGRAMS_SRC}/leaky.c)
target_compile_options(test_program_leaky PRIVATE -g -O2)
ht_integration_test(leaks test_leaks.py)

# Known allocation patterns (temporaries, a peak, leaks, the four window
# types) for report and diff (built -g: the test reads function names).
ht_test_program(patterns ${HT_PROGRAMS_SRC}/patterns.c)
target_compile_options(test_program_patterns PRIVATE -g -O2)
ht_integration_test(report test_report.py)
ht_integration_test(diff test_diff.py)
# The HTML report, rendered by headless Chromium (a test dependency).
find_program(HT_CHROMIUM NAMES chromium chromium-browser)
if(HT_CHROMIUM)
  ht_integration_test(report_html test_report_html.py --chromium ${HT_CHROMIUM})
else()
  message(STATUS "chromium not found: the HTML report test is left out")
endif()
