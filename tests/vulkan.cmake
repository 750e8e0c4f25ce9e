# vulkan.cmake — the Vulkan plugin's memory sub-allocator is tested without a device: its source is compiled
# into test_backend_vulkan_suballoc, which fakes the few Vulkan calls it makes (needs only the Vulkan headers).
if(LOWBIT_HAVE_VULKAN)
  target_sources(test_backend_vulkan_suballoc PRIVATE ${CMAKE_SOURCE_DIR}/backends/vulkan/vulkan_suballoc.c)
  target_include_directories(test_backend_vulkan_suballoc PRIVATE ${CMAKE_SOURCE_DIR}/backends/vulkan
    ${Vulkan_INCLUDE_DIRS})
  target_compile_definitions(test_backend_vulkan_suballoc PRIVATE LOWBIT_TEST_HAVE_VULKAN=1)
endif()
