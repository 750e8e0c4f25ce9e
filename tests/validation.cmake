# validation.cmake — the Vulkan plugin under the Khronos validation layer, synchronization validation included
# (tests/ci/vulkan-validation.sh fails on any validation message): lowbit-conform --quick on vulkan:0, every
# Vulkan test that opens a device, test_concurrency (eight threads on one device: the layer's thread-safety
# checks) and test_queue (queued chains, events across queues, a fault mid-chain), plus a self-test that the layer really reports errors and hazards. One ctest test each, so they run
# side by side. Not in sanitizer builds: there the layer adds time and nothing they check.
if(TARGET lowbit-vulkan AND NOT LOWBIT_SANITIZE)
  set(validation_dir ${CMAKE_BINARY_DIR}/vulkan-validation)
  add_test(NAME vulkan_validation_conform COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/ci/vulkan-validation.sh
    ${validation_dir}/conform.log $<TARGET_FILE:lowbit-conform> --quick --device vulkan:0)
  set(validated vulkan_validation_conform)
  # test_backend_vulkan_abi and _suballoc never open a device
  file(GLOB vulkan_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test_backend_vulkan*.c
    ${CMAKE_CURRENT_SOURCE_DIR}/test_concurrency.c ${CMAKE_CURRENT_SOURCE_DIR}/test_queue.c)
  foreach(test_source ${vulkan_tests})
    get_filename_component(test_name ${test_source} NAME_WE)
    if(test_name MATCHES "_(abi|suballoc)$")
      continue()
    endif()
    add_test(NAME vulkan_validation_${test_name} COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/ci/vulkan-validation.sh
      ${validation_dir}/${test_name}.log $<TARGET_FILE:${test_name}>)
    list(APPEND validated vulkan_validation_${test_name})
  endforeach()
  # the harness's self-test: a program with one valid-usage error and one hazard must be caught
  add_executable(vulkan_validation_selftest ${CMAKE_CURRENT_SOURCE_DIR}/ci/vulkan_validation_selftest.c)
  target_compile_options(vulkan_validation_selftest PRIVATE ${LOWBIT_WARNINGS})
  target_link_libraries(vulkan_validation_selftest PRIVATE Vulkan::Vulkan)
  add_test(NAME vulkan_validation_selftest COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/ci/vulkan-validation.sh
    --expect-errors ${validation_dir}/selftest.log $<TARGET_FILE:vulkan_validation_selftest>)
  list(APPEND validated vulkan_validation_selftest)
  set_tests_properties(${validated} PROPERTIES ENVIRONMENT "${LOWBIT_TEST_ENVIRONMENT}" SKIP_RETURN_CODE 77
    TIMEOUT 1800 LABELS vulkan-validation)
endif()
