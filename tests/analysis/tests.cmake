# Analysis: unit tests of the live-block table and the summary, and the
# stats/dump commands run on synthetic traces written with the public writer.
ht_unit_test(test_live ${CMAKE_CURRENT_LIST_DIR}/test_live.c)
ht_unit_test(test_summary ${CMAKE_CURRENT_LIST_DIR}/test_summary.c)
ht_unit_test(test_stacks ${CMAKE_CURRENT_LIST_DIR}/test_stacks.c)
ht_unit_test(test_sites ${CMAKE_CURRENT_LIST_DIR}/test_sites.c)
ht_unit_test(test_breakdown ${CMAKE_CURRENT_LIST_DIR}/test_breakdown.c)

add_executable(trace_gen ${CMAKE_CURRENT_LIST_DIR}/trace_gen.c)
target_link_libraries(trace_gen PRIVATE heaptrail_static)
set_target_properties(trace_gen PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

foreach(case stats_json stats_escape stats_table stats_errors stats_consistency dump_csv
             dump_json dump_text dump_filters dump_pipe progress)
  add_test(NAME analysis_cli_${case}
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/cli_test.sh ${case} $<TARGET_FILE:heaptrail_cli>
                   $<TARGET_FILE:trace_gen> ${CMAKE_CURRENT_BINARY_DIR}/analysis_cli_${case})
  set_tests_properties(analysis_cli_${case} PROPERTIES LABELS integration)
endforeach()
