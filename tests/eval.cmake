# eval.cmake — lowbit-eval. Its pure parts (tools/engine/eval_*.c: the math, the reference file, the text check,
# the command line) are compiled into test_eval, which runs in every build. With the engine (-DLOWBIT_GGML=ON,
# which builds lowbit-eval) the built tool runs as a user would (tests/eval/check_eval.cmake): usage errors and
# files that are no models or reference files (eval_usage), SmolLM2-135M against itself — KLD exactly 0, top-1
# 100 %, ΔPPL exactly 0 — then against the reference file it saved, corrupt and mismatching reference files
# (eval_smollm2), and a candidate of another vocabulary, Gemma 3 270M (eval_vocab_mismatch). The models come from
# the oracle venv like ggml.cmake's model tests; a missing one skips, or fails under CI=true.
target_sources(test_eval PRIVATE ${CMAKE_SOURCE_DIR}/tools/engine/eval_math.c
  ${CMAKE_SOURCE_DIR}/tools/engine/eval_reference.c ${CMAKE_SOURCE_DIR}/tools/engine/eval_text.c
  ${CMAKE_SOURCE_DIR}/tools/engine/eval_options.c)

# Registered deferred: python.cmake (LOWBIT_VENV) sorts after this file.
function(lowbit_eval_register_tests)
  if(NOT TARGET lowbit-eval)
    return()
  endif()
  set(check ${CMAKE_COMMAND} -DEVAL=$<TARGET_FILE:lowbit-eval> -DSOURCE=${CMAKE_SOURCE_DIR}
      -DWORK=${CMAKE_BINARY_DIR}/eval-test -DVENV=${LOWBIT_VENV} -DMODELS=${CMAKE_BINARY_DIR}/ggml-models)
  add_test(NAME eval_usage COMMAND ${check} -DMODE=usage -P ${CMAKE_CURRENT_SOURCE_DIR}/eval/check_eval.cmake)
  set_tests_properties(eval_usage PROPERTIES TIMEOUT 300)
  if(NOT LOWBIT_TEST_MODELS OR LOWBIT_SANITIZE OR NOT LOWBIT_VENV)
    return()
  endif()
  add_test(NAME eval_smollm2 COMMAND ${check} -DMODE=smollm2 -P ${CMAKE_CURRENT_SOURCE_DIR}/eval/check_eval.cmake)
  add_test(NAME eval_vocab_mismatch COMMAND ${check} -DMODE=vocab -P ${CMAKE_CURRENT_SOURCE_DIR}/eval/check_eval.cmake)
  set_tests_properties(eval_smollm2 PROPERTIES FIXTURES_REQUIRED "lowbit_python;lowbit_engine_models")
  set_tests_properties(eval_vocab_mismatch PROPERTIES FIXTURES_REQUIRED "lowbit_python;lowbit_models;lowbit_engine_models")
  set_tests_properties(eval_smollm2 eval_vocab_mismatch PROPERTIES TIMEOUT 900 SKIP_REGULAR_EXPRESSION "EVAL-SKIP:"
    RESOURCE_LOCK eval_test_work)
endfunction()
cmake_language(DEFER CALL lowbit_eval_register_tests)
