# The bundled example the demo records (examples/demo.sh): a word-frequency
# counter with a few threads, realloc growth and one deliberate leak.
# Built as BUILD_DIR/examples/wordfreq.
find_package(Threads REQUIRED)
add_executable(example_wordfreq ${CMAKE_CURRENT_LIST_DIR}/wordfreq.c)
target_link_libraries(example_wordfreq PRIVATE Threads::Threads)
set_target_properties(example_wordfreq PROPERTIES OUTPUT_NAME wordfreq
                      RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/examples)
