# format.cmake — the gguf-py oracle for the CPU formats: byte-exact quantize where gguf-py quantizes,
# bit-exact dequantize for every format both read. Outside CI a missing gguf/numpy skips (exit 77).
# Registered deferred: tests/*.cmake are included in name order, and python.cmake (which defines
# lowbit_add_oracle_test) sorts after this file.
function(lowbit_format_register_oracle)
  if(Python3_Interpreter_FOUND AND COMMAND lowbit_add_oracle_test)
    lowbit_add_oracle_test(format_oracle ${CMAKE_SOURCE_DIR}/tests/oracle/format_oracle.py)
    set_tests_properties(format_oracle PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
  endif()
endfunction()
cmake_language(DEFER CALL lowbit_format_register_oracle)
