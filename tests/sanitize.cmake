# sanitize.cmake — the run-time side of LOWBIT_SANITIZE (top-level CMakeLists.txt). Every test of a sanitizer
# build runs with the runtime's options: the first report fails the test, and leak checking stays on.
#
# address (make test-sanitize: ASan + UBSan over the whole suite):
#  - Plugins stay mapped (LOWBIT_PLUGIN_NO_UNLOAD=1), so their frames have names and the driver objects they
#    hold stay reachable.
#  - Mesa's lavapipe allocates its CPU-detection masks once per load, and the Vulkan loader unloads the driver
#    in vkDestroyInstance, orphaning them: one 128-byte leak per instance, from a stripped library that is
#    unmapped by the time LSan reports, so no suppression could name it. lavapipe is preloaded instead: a
#    preloaded library is never unloaded, its masks stay reachable, and nothing is suppressed.
#    (verify_asan_link_order=0 lets it sit before the ASan runtime in the programs linked with ASan; it
#    defines no function ASan intercepts.) Only lavapipe goes into LD_PRELOAD, never the ASan runtime: PoCL
#    runs the system linker for every kernel it builds, and that must not run under ASan.
#  - Python oracles (lowbit_add_oracle_test) load liblowbit through ctypes, so the interpreter needs the ASan
#    runtime preloaded. CPython and numpy do not free everything at exit; those processes record one caller
#    frame per allocation (malloc_context_size=2) and lsan-python.supp names the interpreter's and numpy's
#    modules, so only blocks they allocated themselves are suppressed: a leak liblowbit allocates has
#    liblowbit as its caller and is still reported, and so is every leak of the C tools they start.
# thread (make test-tsan: TSan over test_concurrency): reports inside the uninstrumented drivers and ICD
#  loaders are suppressed by library (tsan.supp), never lowbit's code.
if(LOWBIT_SANITIZE STREQUAL "address")
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so OUTPUT_VARIABLE asan_runtime
    OUTPUT_STRIP_TRAILING_WHITESPACE)
  # lavapipe's library, from its ICD manifest (the file the Vulkan loader reads)
  set(lavapipe "")
  file(GLOB lavapipe_manifests /usr/share/vulkan/icd.d/lvp_icd*.json /etc/vulkan/icd.d/lvp_icd*.json)
  foreach(manifest ${lavapipe_manifests})
    file(READ ${manifest} manifest_text)
    string(JSON library ERROR_VARIABLE json_error GET "${manifest_text}" ICD library_path)
    if(NOT json_error AND EXISTS "${library}")
      set(lavapipe "${library}")
      break()
    endif()
  endforeach()
  # use_sigaltstack=0: LLVM (inside PoCL and lavapipe) gives the threads it compiles in an alternate signal
  # stack from malloc; ASan would munmap that at thread exit and abort ("unable to unmap").
  set(asan_options "halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:verify_asan_link_order=0:use_sigaltstack=0")
  set(ubsan_options "UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1:report_error_type=1")
  set(LOWBIT_SANITIZE_ENVIRONMENT "ASAN_OPTIONS=${asan_options}" ${ubsan_options} "LOWBIT_PLUGIN_NO_UNLOAD=1")
  set(LOWBIT_SANITIZE_PYTHON_ENVIRONMENT "ASAN_OPTIONS=${asan_options}:malloc_context_size=2" ${ubsan_options}
    "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/lsan-python.supp:print_suppressions=0"
    "LOWBIT_PLUGIN_NO_UNLOAD=1")
  if(lavapipe)
    list(APPEND LOWBIT_SANITIZE_ENVIRONMENT "LD_PRELOAD=${lavapipe}")
    list(APPEND LOWBIT_SANITIZE_PYTHON_ENVIRONMENT "LD_PRELOAD=${asan_runtime}:${lavapipe}")
  else()
    list(APPEND LOWBIT_SANITIZE_PYTHON_ENVIRONMENT "LD_PRELOAD=${asan_runtime}")
  endif()
elseif(LOWBIT_SANITIZE STREQUAL "thread")
  set(LOWBIT_SANITIZE_ENVIRONMENT
    "TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:suppressions=${CMAKE_CURRENT_SOURCE_DIR}/tsan.supp"
    "LOWBIT_PLUGIN_NO_UNLOAD=1")
  set(LOWBIT_SANITIZE_PYTHON_ENVIRONMENT ${LOWBIT_SANITIZE_ENVIRONMENT})
endif()

# Applied at the end of the directory, after every tests/*.cmake (some register their tests deferred). The
# venv fixtures (*_setup) only run pip: they get nothing. Timeouts triple: sanitized code runs slower, and these
# trees are for correctness, not speed.
function(lowbit_sanitize_tests)
  get_property(tests DIRECTORY PROPERTY TESTS)
  get_property(python_tests GLOBAL PROPERTY LOWBIT_ORACLE_TESTS)
  foreach(test ${tests})
    get_test_property(${test} TIMEOUT timeout)
    if(timeout)
      math(EXPR timeout "${timeout} * 3")
      set_tests_properties(${test} PROPERTIES TIMEOUT ${timeout})
    endif()
    if(test IN_LIST python_tests)
      set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT ${LOWBIT_SANITIZE_PYTHON_ENVIRONMENT})
    elseif(NOT test MATCHES "_setup$")
      set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT ${LOWBIT_SANITIZE_ENVIRONMENT})
    endif()
  endforeach()
endfunction()
if(LOWBIT_SANITIZE)
  cmake_language(DEFER CALL lowbit_sanitize_tests)
endif()
