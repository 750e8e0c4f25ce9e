# conform.cmake — lowbit-conform: unit tests of its library (with the broken test plugin), the quick
# conformance run on every device, and its JUnit/JSON reports parsed back by Python's own parsers.
target_link_libraries(test_conform PRIVATE lowbit_tool_common)
add_dependencies(test_conform lowbit_test_broken)
set_property(TEST test_conform APPEND PROPERTY ENVIRONMENT "LOWBIT_TEST_PLUGIN_DIR=${CMAKE_BINARY_DIR}/tests/plugins")

find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME conform_quick_all_devices
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/oracle/check_conform_reports.py
            $<TARGET_FILE:lowbit-conform> ${CMAKE_BINARY_DIR}/conform)
  set_tests_properties(conform_quick_all_devices PROPERTIES TIMEOUT 1200
    ENVIRONMENT "${LOWBIT_TEST_ENVIRONMENT}")
endif()
