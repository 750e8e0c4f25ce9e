/* test_support.h — shared test helpers: deterministic data, byte hashes, the f64 reference matmul over dequantized
 * weights, NMSE, and the rule that CI must see PoCL and lavapipe. cmocka is included by the tests. */
#ifndef LOWBIT_TEST_SUPPORT_H
#define LOWBIT_TEST_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lowbit/lowbit.h"

/* Deterministic pseudo-random floats in [-scale, scale) from a 64-bit seed (splitmix64). */
void test_fill_random(float *values, size_t count, uint64_t seed, float scale);
/* 64-bit FNV-1a of `size` bytes (the golden hashes of quantized bytes). */
uint64_t test_fnv1a(const void *data, size_t size);
/* Quantizes rows×cols random values into a freshly allocated buffer (caller frees); *size gets its bytes. */
void *test_make_weights(lowbit_format format, size_t rows, size_t cols, uint64_t seed, size_t *size);
/* Y[n×rows] = X[n×cols]·Wᵀ in f64 over the CPU-dequantized weights. */
void test_reference_matmul(lowbit_format format, const void *weights, size_t weight_bytes, size_t rows, size_t cols,
                           const float *x, size_t n, double *y);
/* Σ(y−ref)² / Σref² (0 when both are zero). */
double test_nmse(const float *y, const double *reference, size_t count);
/* The same against an f32 reference (one path's result against another's). */
double test_nmse_float(const float *y, const float *reference, size_t count);
/* 1 when CI=true: then a missing PoCL/lavapipe device is a failure, not a skip. */
int test_in_ci(void);
/* Index of the first device of `api` in the context, or -1 (and fails the test under CI when
 * `required_in_ci`). */
long test_find_device(lowbit_context *context, lowbit_api api, int required_in_ci);
/* A fresh context (so environment changes such as LOWBIT_FAULT reach new backend instances) and, in
 * *device, its first `api` device. NULL when there is none (outside CI; under CI=true the test fails). */
lowbit_context *test_open_device(lowbit_api api, size_t *device);
/* The same with the context parameter string `params` (lowbit_context_options.params; NULL: none). */
lowbit_context *test_open_device_params(lowbit_api api, const char *params, size_t *device);

/* How test_check_matmul judges each run besides its NMSE (≤ TEST_NMSE_LIMIT against the f64 reference). */
typedef struct test_matmul_expect {
    int on_device;              /* 1: ran on `device` itself; -1: fell back to the CPU, with a reason; 0: either */
    const char *prefill_kernel; /* n ≥ 9 must run a kernel whose name starts with it, n < 9 a gemv_ (NULL: any) */
    int timed;                  /* on the device: device_seconds > 0 from 100k weights on, and ≤ wall time */
} test_matmul_expect;

#define TEST_NMSE_LIMIT 1e-6

/* Uploads a random rows×cols matrix of `format` to `device`, runs every batch size with f32 or f16
 * activations (the reference takes the same f16-rounded X) and checks the result and the run record. f16
 * activations on the device must be read by its kernels (" x=f16" in the name, never widened on the host);
 * f32 ones never run an f16 kernel. */
void test_check_matmul(lowbit_context *context, size_t device, lowbit_format format, size_t rows, size_t cols,
                       const size_t *batches, size_t batch_count, lowbit_activation x_type,
                       const test_matmul_expect *expect);

/* Runs <LOWBIT_TEST_BINARY_DIR>/bin/<tool> with `args` (NULL-terminated, without the program name) and the
 * environment variables `env` ("NAME=value" strings, NULL-terminated; may be NULL) added, stdout and stderr into
 * `log_path`, which is read back into `output`. Returns the exit status; fails the test when the tool runs past
 * `limit_seconds` (it is killed) or dies of a signal. */
int test_run_tool(const char *tool, const char *const *args, const char *const *env, const char *log_path,
                  int limit_seconds, char *output, size_t output_size);

/* A fresh folder "<LOWBIT_TEST_BINARY_DIR or /tmp>/<name>.XXXXXX" into dir; 0 on success. */
int test_temp_dir_create(char *dir, size_t size, const char *name);
/* Removes the folder and everything in it (files, links, FIFOs, empty folders; one level deep). */
void test_temp_dir_remove(const char *dir);

#endif
