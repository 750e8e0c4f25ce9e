# tuning.cmake — the tuning database test is white-box: tuning_db_* and json_* are internal to liblowbit, so
# lowbit_internal (the same objects, static) supplies them.
target_link_libraries(test_tuning_db PRIVATE lowbit_internal)
