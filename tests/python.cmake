# python.cmake — the external test oracle: a virtual environment with gguf-py and numpy from PyPI,
# made once per build tree by a ctest fixture. Oracle tests declare FIXTURES_REQUIRED lowbit_python.
# Under CI a venv that cannot be made is a failure (the fixture fails), never a skip.
find_package(Python3 COMPONENTS Interpreter)
set(LOWBIT_VENV ${CMAKE_BINARY_DIR}/venv)
set(LOWBIT_VENV_PYTHON ${LOWBIT_VENV}/bin/python)
if(Python3_Interpreter_FOUND)
  add_test(NAME python_oracle_setup
    COMMAND sh ${CMAKE_SOURCE_DIR}/tests/oracle/make-venv.sh ${Python3_EXECUTABLE} ${LOWBIT_VENV}
            ${CMAKE_SOURCE_DIR}/tests/oracle/requirements.txt)
  set_tests_properties(python_oracle_setup PROPERTIES FIXTURES_SETUP lowbit_python TIMEOUT 1200)
endif()

# lowbit_add_oracle_test(NAME script.py args...): runs a Python oracle with the venv's interpreter and
# liblowbit's path in LOWBIT_LIBRARY.
function(lowbit_add_oracle_test name script)
  add_test(NAME ${name} COMMAND ${LOWBIT_VENV_PYTHON} ${script} ${ARGN})
  set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED lowbit_python TIMEOUT 1200
    ENVIRONMENT "${LOWBIT_TEST_ENVIRONMENT};LOWBIT_LIBRARY=$<TARGET_FILE:lowbit>;PYTHONDONTWRITEBYTECODE=1")
endfunction()
