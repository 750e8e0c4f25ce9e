# tools.cmake — tests that run the built command-line tools as a user would need those tools built first.
if(TARGET test_tools_files)
  add_dependencies(test_tools_files lowbit-quantize lowbit-bench)
endif()
# test_import runs the built lowbit-import on checkpoints it writes itself
if(TARGET test_import)
  add_dependencies(test_import lowbit-import)
endif()
