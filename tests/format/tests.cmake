# Trace format: round trip, truncation, corruption and generic decoding
# (unit), and `heaptrail info` on good and damaged files (integration).
set(HT_FORMAT_TEST_DIR ${CMAKE_CURRENT_LIST_DIR})

# Synthetic events and raw trace files, shared by the tests and make_trace.
add_library(ht_format_testlib STATIC ${HT_FORMAT_TEST_DIR}/synth.c
                                     ${HT_FORMAT_TEST_DIR}/tracefile.c)
target_link_libraries(ht_format_testlib PUBLIC heaptrail_static)

foreach(name roundtrip truncation corruption generic codec records crc32c)
  ht_unit_test(format_${name} ${HT_FORMAT_TEST_DIR}/test_${name}.c)
  target_link_libraries(format_${name} PRIVATE ht_format_testlib)
  set_tests_properties(format_${name} PROPERTIES TIMEOUT 120)
endforeach()

# Writes the synthetic traces of the command-line tests and of the fuzzing corpus.
add_executable(make_trace ${HT_FORMAT_TEST_DIR}/make_trace.c)
target_link_libraries(make_trace PRIVATE ht_format_testlib)
set_target_properties(make_trace PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

foreach(case good truncated corrupt not-trace)
  add_test(NAME format_cli_info_${case}
           COMMAND sh ${HT_FORMAT_TEST_DIR}/cli_info.sh ${case} $<TARGET_FILE:heaptrail_cli>
                   $<TARGET_FILE:make_trace> ${CMAKE_BINARY_DIR}/tests/format-cli)
  set_tests_properties(format_cli_info_${case} PROPERTIES LABELS integration TIMEOUT 60)
endforeach()
