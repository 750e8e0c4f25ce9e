# tuning.cmake — the tuning database and JSON reader tests are white-box: tuning_db_* and json_* are internal to liblowbit, so
# lowbit_internal (the same objects, static) supplies them.
foreach(test test_tuning_db test_json)
  target_link_libraries(${test} PRIVATE lowbit_internal)
endforeach()
