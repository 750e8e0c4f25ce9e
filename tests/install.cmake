# install.cmake — packaging: liblowbit.so exports only the public API (and the plugins only their entry
# point), and an installed copy serves a program built through pkg-config and through find_package(lowbit),
# finding its plugins without LOWBIT_PLUGIN_PATH. The install test installs into build/install-test/.
set(LOWBIT_INSTALLED_PLUGINS "")
foreach(plugin lowbit-opencl lowbit-vulkan)
  if(TARGET ${plugin})
    list(APPEND LOWBIT_INSTALLED_PLUGINS $<TARGET_FILE:${plugin}>)
  endif()
endforeach()
add_test(NAME install_exports
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/install/check_exports.sh ${CMAKE_NM} ${CMAKE_READELF}
          $<TARGET_FILE:lowbit> $<TARGET_SONAME_FILE_NAME:lowbit> ${CMAKE_SOURCE_DIR}/include/lowbit
          ${LOWBIT_INSTALLED_PLUGINS})
set_tests_properties(install_exports PROPERTIES TIMEOUT 60)

# No LOWBIT_TEST_ENVIRONMENT here: the consumer must find the installed plugins on its own. A sanitizer
# build's library needs the sanitizer runtime in the program that loads it, so the consumer gets it too.
set(LOWBIT_CONSUMER_FLAGS "")
if(LOWBIT_SANITIZE STREQUAL "thread")
  set(LOWBIT_CONSUMER_FLAGS -fsanitize=thread)
elseif(LOWBIT_SANITIZE)
  set(LOWBIT_CONSUMER_FLAGS -fsanitize=address,undefined)
endif()
add_test(NAME install_consumer
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/install/run_install_test.sh ${CMAKE_COMMAND} ${CMAKE_BINARY_DIR}
          ${CMAKE_BINARY_DIR}/install-test ${CMAKE_C_COMPILER} ${CMAKE_INSTALL_LIBDIR} ${CMAKE_INSTALL_BINDIR}
          "${LOWBIT_CONSUMER_FLAGS}")
set_tests_properties(install_consumer PROPERTIES TIMEOUT 600)
