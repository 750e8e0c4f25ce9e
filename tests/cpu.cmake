# cpu.cmake — the device test again with the CPU backend's portable kernels (LOWBIT_CPU_PORTABLE=1), so
# both the SIMD and the portable paths stay checked on machines that have SIMD.
add_test(NAME test_matmul_devices_portable_cpu COMMAND test_matmul_devices)
set_tests_properties(test_matmul_devices_portable_cpu PROPERTIES TIMEOUT 900
  ENVIRONMENT "${LOWBIT_TEST_ENVIRONMENT};LOWBIT_CPU_PORTABLE=1")
