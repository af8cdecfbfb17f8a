# The bundled example that `make demo` records.
add_executable(wordfreq ${CMAKE_CURRENT_LIST_DIR}/wordfreq.c)
target_link_libraries(wordfreq PRIVATE pthread)
set_target_properties(wordfreq PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/examples)
