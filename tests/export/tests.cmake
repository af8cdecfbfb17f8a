# Exports: each format checked by the tool that reads it (go tool pprof,
# babeltrace2, heaptrack_print, jq, sqlite3, xmllint, chromium) on traces
# recorded from the bundled example and a program that forks, with their
# figures compared to `heaptrail stats`. A case whose checking tool is
# missing is skipped.
foreach(case pprof ctf heaptrack folded flamegraph flamegraph_browser chrome sqlite plot progress
             failures)
  add_test(NAME export_${case}
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/export_test.sh ${case}
                   $<TARGET_FILE:heaptrail_cli> $<TARGET_FILE:example_wordfreq>
                   ${CMAKE_SOURCE_DIR}/examples/data/heaps.txt $<TARGET_FILE:test_program_leaky>
                   $<TARGET_FILE:trace_gen>
                   ${CMAKE_CURRENT_BINARY_DIR}/export_${case})
  set_tests_properties(export_${case} PROPERTIES LABELS integration SKIP_RETURN_CODE 77
                       TIMEOUT 300)
endforeach()

# Unit tests of the parts the formats share.
ht_unit_test(test_export_output_file ${CMAKE_CURRENT_LIST_DIR}/test_output_file.c)
ht_unit_test(test_export_protobuf ${CMAKE_CURRENT_LIST_DIR}/test_protobuf.c)
ht_unit_test(test_export_frame_tree ${CMAKE_CURRENT_LIST_DIR}/test_frame_tree.c)
ht_unit_test(test_export_live_split ${CMAKE_CURRENT_LIST_DIR}/test_live_split.c)
ht_unit_test(test_export_text ${CMAKE_CURRENT_LIST_DIR}/test_text.c)
ht_unit_test(test_export_stack_catalog ${CMAKE_CURRENT_LIST_DIR}/test_stack_catalog.c)
