# plugins.cmake — test-only plugins for the loader and fallback tests, built into build/tests/plugins/
# (not build/lib, so normal plugin discovery never sees them).
set(LOWBIT_TEST_PLUGIN_DIR ${CMAKE_BINARY_DIR}/tests/plugins)
foreach(plugin bad_abi no_entry faulty broken)
  add_library(lowbit_test_${plugin} MODULE ${CMAKE_CURRENT_SOURCE_DIR}/plugins/${plugin}_plugin.c)
  target_include_directories(lowbit_test_${plugin} PRIVATE ${CMAKE_SOURCE_DIR}/include)
  target_compile_options(lowbit_test_${plugin} PRIVATE ${LOWBIT_WARNINGS})
  set_target_properties(lowbit_test_${plugin} PROPERTIES PREFIX "" OUTPUT_NAME ${plugin}_plugin
    LIBRARY_OUTPUT_DIRECTORY ${LOWBIT_TEST_PLUGIN_DIR} C_VISIBILITY_PRESET hidden)
  add_dependencies(test_loader lowbit_test_${plugin})
endforeach()
# the broken plugin dequantizes with liblowbit's reference: a test double, linked to the library
target_link_libraries(lowbit_test_broken PRIVATE lowbit)
set_property(TEST test_loader APPEND PROPERTY ENVIRONMENT "LOWBIT_TEST_PLUGIN_DIR=${LOWBIT_TEST_PLUGIN_DIR}")
