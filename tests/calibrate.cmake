# calibrate.cmake — calibrated quantization end to end on SmolLM2-135M (tests/ggml/run_calibrate.py drives the
# built tools): lowbit-calibrate's imatrix and Hessians, resuming, llama-quantize reading the imatrix,
# lowbit-quantize --method gptq and awq (AWQ's folding leaves the F32 model's outputs unchanged: KLD < 1e-4
# through lowbit-eval), and bad inputs failing cleanly. Needs the engine (-DLOWBIT_GGML=ON) and the model from the
# oracle venv like ggml.cmake's model tests; registered deferred (python.cmake sorts after this file). The GPTQ
# and AWQ math is unit-tested without the engine in test_quantize_gptq.
function(lowbit_calibrate_register_tests)
  if(NOT TARGET lowbit-calibrate OR NOT TARGET lowbit-eval OR NOT LOWBIT_TEST_MODELS OR LOWBIT_SANITIZE
     OR NOT COMMAND lowbit_add_oracle_test OR NOT EXISTS ${LOWBIT_GGML_ENGINE_BIN}/llama-quantize)
    return()
  endif()
  lowbit_add_oracle_test(calibrate_smollm2 ${CMAKE_SOURCE_DIR}/tests/ggml/run_calibrate.py ${LOWBIT_GGML_ENGINE_BIN}
    --calibrate $<TARGET_FILE:lowbit-calibrate> --quantize $<TARGET_FILE:lowbit-quantize>
    --eval $<TARGET_FILE:lowbit-eval> --work ${CMAKE_BINARY_DIR}/ggml-models)
  set_tests_properties(calibrate_smollm2 PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 1800
    FIXTURES_REQUIRED "lowbit_python;lowbit_engine_models" RESOURCE_LOCK ggml_models_work)
endfunction()
cmake_language(DEFER CALL lowbit_calibrate_register_tests)
