# check_configure_gate.cmake — the ggml adapter's configure-time gate (backends/ggml/engine.cmake) on fake
# trees: another ggml version, or another GGML_BACKEND_API_VERSION, is refused with a message naming both
# versions; the pinned pair is accepted, as a llama.cpp tree and as a bare ggml tree.
#   cmake -DENGINE_CMAKE=backends/ggml/engine.cmake -DWORK=<scratch folder> -P check_configure_gate.cmake
include(${ENGINE_CMAKE})
if(DEFINED PROBE) # one gate run, in its own process, since a refusal is a FATAL_ERROR
  lowbit_ggml_tree(${PROBE} ggml)
  lowbit_ggml_check_version(${ggml} version)
  message(STATUS "accepted ggml ${version}")
  return()
endif()

function(make_tree dir version api)
  string(REPLACE "." ";" parts ${version})
  list(GET parts 0 major)
  list(GET parts 1 minor)
  list(GET parts 2 patch)
  file(REMOVE_RECURSE ${dir})
  file(WRITE ${dir}/CMakeLists.txt
    "project(\"ggml\" C)\nset(GGML_VERSION_MAJOR ${major})\nset(GGML_VERSION_MINOR ${minor})\nset(GGML_VERSION_PATCH ${patch})\n")
  file(WRITE ${dir}/include/ggml.h "/* fake */\n")
  file(WRITE ${dir}/src/ggml-backend-impl.h "#pragma once\n    #define GGML_BACKEND_API_VERSION ${api}\n")
endfunction()

# probe(<tree> <expect: accept|refuse> <texts the output must hold>...)
function(probe tree expect)
  execute_process(COMMAND ${CMAKE_COMMAND} -DENGINE_CMAKE=${ENGINE_CMAKE} -DPROBE=${tree} -P ${CMAKE_CURRENT_LIST_FILE}
    RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
  string(REGEX REPLACE "[ \t\r\n]+" " " flat "${output}")
  if(expect STREQUAL "accept" AND NOT status EQUAL 0)
    message(FATAL_ERROR "${tree} was refused:\n${output}")
  elseif(expect STREQUAL "refuse" AND status EQUAL 0)
    message(FATAL_ERROR "${tree} was accepted:\n${output}")
  endif()
  foreach(text ${ARGN})
    string(FIND "${flat}" "${text}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "${tree}: \"${text}\" is not in:\n${output}")
    endif()
  endforeach()
  message(STATUS "${tree}: ${expect} as expected")
endfunction()

set(pinned ${LOWBIT_GGML_PINNED_VERSION})
set(api ${LOWBIT_GGML_PINNED_API_VERSION})
math(EXPR other_api "${api} + 1")

make_tree(${WORK}/pinned/ggml ${pinned} ${api})
probe(${WORK}/pinned accept "accepted ggml ${pinned}")
probe(${WORK}/pinned/ggml accept "accepted ggml ${pinned}")

make_tree(${WORK}/newer/ggml 0.99.1 ${api})
probe(${WORK}/newer refuse "is ggml 0.99.1 (GGML_BACKEND_API_VERSION ${api})"
  "pinned to ggml ${pinned} (GGML_BACKEND_API_VERSION ${api})")

make_tree(${WORK}/other-api/ggml ${pinned} ${other_api})
probe(${WORK}/other-api refuse "is ggml ${pinned} (GGML_BACKEND_API_VERSION ${other_api})"
  "pinned to ggml ${pinned} (GGML_BACKEND_API_VERSION ${api})")

file(MAKE_DIRECTORY ${WORK}/empty)
probe(${WORK}/empty refuse "is neither a llama.cpp tree")
