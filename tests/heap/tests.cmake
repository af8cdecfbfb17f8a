# The heaptrail heap: unit tests of its API and of its behaviour under
# threads and fork, and integration tests of libheaptrail-malloc.so on real
# programs and under `heaptrail record --heap=heaptrail`.
find_package(Threads REQUIRED)
ht_unit_test(test_heap_api ${CMAKE_CURRENT_LIST_DIR}/test_heap_api.c)
ht_unit_test(test_heap_lfh ${CMAKE_CURRENT_LIST_DIR}/test_heap_lfh.c)
ht_unit_test(test_heap_threads ${CMAKE_CURRENT_LIST_DIR}/test_heap_threads.c)
ht_unit_test(test_winheap ${CMAKE_CURRENT_LIST_DIR}/test_winheap.c)
target_link_libraries(test_heap_threads PRIVATE Threads::Threads)

find_package(Python3 REQUIRED COMPONENTS Interpreter)
# ht_heap_integration_test(NAME SCRIPT ARGS...): a test script of this folder
# against the heaptrail binary and libheaptrail-malloc.so.
function(ht_heap_integration_test name script)
  add_test(NAME integration.${name}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/${script}
                   --heaptrail $<TARGET_FILE:heaptrail_cli> --malloc $<TARGET_FILE:heaptrail_malloc>
                   --workdir ${CMAKE_BINARY_DIR}/tests/integration-work/${name} ${ARGN})
  # The timeout only stops a hang; no test asserts on time.
  set_tests_properties(integration.${name} PROPERTIES LABELS integration TIMEOUT 900)
endfunction()

ht_heap_integration_test(heap_programs test_malloc_programs.py)
ht_heap_integration_test(heap_record test_record_heap.py)
ht_heap_integration_test(heap_record_stress test_record_stress.py --programs ${CMAKE_BINARY_DIR}/tests)
