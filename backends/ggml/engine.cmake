# engine.cmake — where the ggml adapter finds the engine it compiles against, and the configure-time gate:
# a tree whose ggml version or GGML_BACKEND_API_VERSION differs from the pinned one is refused. Also runs
# under `cmake -P` (tests/ggml/check_configure_gate.cmake), so it uses no targets.
set(LOWBIT_GGML_PINNED_VERSION 0.25.3)
set(LOWBIT_GGML_PINNED_API_VERSION 2)

# lowbit_ggml_tree(<dir> <out>): the ggml folder of a llama.cpp tree (<dir>/ggml) or of a ggml tree (<dir>).
function(lowbit_ggml_tree dir out)
  if(EXISTS "${dir}/ggml/include/ggml.h" AND EXISTS "${dir}/ggml/src/ggml-backend-impl.h")
    set(${out} "${dir}/ggml" PARENT_SCOPE)
  elseif(EXISTS "${dir}/include/ggml.h" AND EXISTS "${dir}/src/ggml-backend-impl.h")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    message(FATAL_ERROR "ggml adapter: ${dir} is neither a llama.cpp tree (ggml/include/ggml.h, "
      "ggml/src/ggml-backend-impl.h) nor a ggml tree (include/ggml.h, src/ggml-backend-impl.h)")
  endif()
endfunction()

# lowbit_ggml_check_version(<ggml dir> <out version>): the tree's ggml version (from its CMakeLists.txt) and
# GGML_BACKEND_API_VERSION (from ggml-backend-impl.h) must both be the pinned ones.
function(lowbit_ggml_check_version ggml out_version)
  set(version "")
  foreach(part MAJOR MINOR PATCH)
    file(STRINGS "${ggml}/CMakeLists.txt" line REGEX "^set\\(GGML_VERSION_${part} [0-9]+\\)")
    if(NOT line MATCHES "GGML_VERSION_${part} ([0-9]+)")
      message(FATAL_ERROR "ggml adapter: cannot read GGML_VERSION_${part} from ${ggml}/CMakeLists.txt")
    endif()
    list(APPEND version ${CMAKE_MATCH_1})
  endforeach()
  list(JOIN version "." version)
  file(STRINGS "${ggml}/src/ggml-backend-impl.h" line REGEX "#[ \t]*define[ \t]+GGML_BACKEND_API_VERSION[ \t]+[0-9]+")
  if(NOT line MATCHES "GGML_BACKEND_API_VERSION[ \t]+([0-9]+)")
    message(FATAL_ERROR "ggml adapter: cannot read GGML_BACKEND_API_VERSION from ${ggml}/src/ggml-backend-impl.h")
  endif()
  set(api ${CMAKE_MATCH_1})
  if(NOT version STREQUAL LOWBIT_GGML_PINNED_VERSION OR NOT api STREQUAL LOWBIT_GGML_PINNED_API_VERSION)
    message(FATAL_ERROR "ggml adapter: ${ggml} is ggml ${version} (GGML_BACKEND_API_VERSION ${api}), but "
      "libggml-lowbit is pinned to ggml ${LOWBIT_GGML_PINNED_VERSION} (GGML_BACKEND_API_VERSION "
      "${LOWBIT_GGML_PINNED_API_VERSION}): ggml changes its backend interface without changing that number, "
      "so only the pinned version is built. Use tools/install-engine.sh, or a tree of the pinned version.")
  endif()
  set(${out_version} ${version} PARENT_SCOPE)
endfunction()
