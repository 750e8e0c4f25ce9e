# quantize.cmake — lowbit-quantize's tests: the planning unit test links the tool's helper library, and
# the gguf-py oracle runs the built tool end to end. Registered deferred because python.cmake (which
# defines lowbit_add_oracle_test) sorts after this file. Outside CI a missing gguf/numpy skips (77).
foreach(test test_quantize_plan test_quantize_gptq test_quantize_mixplan)
  if(TARGET ${test})
    target_link_libraries(${test} PRIVATE lowbit_tool_common)
  endif()
endforeach()
function(lowbit_quantize_register_oracle)
  if(Python3_Interpreter_FOUND AND COMMAND lowbit_add_oracle_test)
    lowbit_add_oracle_test(quantize_oracle ${CMAKE_SOURCE_DIR}/tests/oracle/quantize_oracle.py
                           $<TARGET_FILE:lowbit-quantize>)
    set_tests_properties(quantize_oracle PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
  endif()
endfunction()
cmake_language(DEFER CALL lowbit_quantize_register_oracle)

# Real models (Gemma 3 270M GGUF, MiniLM safetensors, from PyPI via io.cmake's lowbit_models fixture):
# bit-exact dequantize against gguf-py, re-quantization, and every format's round-trip error.
if(LOWBIT_TEST_MODELS AND COMMAND lowbit_add_oracle_test)
  lowbit_add_oracle_test(models_oracle ${CMAKE_SOURCE_DIR}/tests/oracle/models_oracle.py
    $<TARGET_FILE:lowbit-quantize> ${CMAKE_BINARY_DIR}/models-oracle)
  set_tests_properties(models_oracle PROPERTIES FIXTURES_REQUIRED "lowbit_python;lowbit_models"
    SKIP_RETURN_CODE 77 TIMEOUT 1200)
endif()
