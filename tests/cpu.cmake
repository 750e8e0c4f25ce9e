# cpu.cmake — the device test again with the CPU backend capped to each lower instruction set
# (LOWBIT_CPU_ISA=portable, then avx2), so every kernel level stays checked on machines that have more.
add_test(NAME test_matmul_devices_portable_cpu COMMAND test_matmul_devices)
set_tests_properties(test_matmul_devices_portable_cpu PROPERTIES TIMEOUT 900
  ENVIRONMENT "${LOWBIT_TEST_ENVIRONMENT};LOWBIT_CPU_ISA=portable")
add_test(NAME test_matmul_devices_avx2_cpu COMMAND test_matmul_devices)
set_tests_properties(test_matmul_devices_avx2_cpu PROPERTIES TIMEOUT 900
  ENVIRONMENT "${LOWBIT_TEST_ENVIRONMENT};LOWBIT_CPU_ISA=avx2")

# The integer-dot path: white-box (the activation quantizer is internal), and again capped to the portable kernels,
# where no integer kernel exists and dot=int must run the float path.
target_link_libraries(test_matmul_int PRIVATE lowbit_internal)
add_test(NAME test_matmul_int_portable_cpu COMMAND test_matmul_int)
set_tests_properties(test_matmul_int_portable_cpu PROPERTIES TIMEOUT 900
  ENVIRONMENT "${LOWBIT_TEST_ENVIRONMENT};LOWBIT_CPU_ISA=portable")
