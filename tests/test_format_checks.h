/* test_format_checks.h — checks every format family's test runs (round-trip RMSE, zero/constant/
 * outlier/non-finite rows, thread determinism, argument errors), shared by tests/test_format_*.c. */
#ifndef TEST_FORMAT_CHECKS_H
#define TEST_FORMAT_CHECKS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

/* ggml's test-quantize-fns signal and size: x_i = 0.1 + 2·cos(i + offset), 32·128 elements. */
#define FMT_RMSE_ELEMENTS 4096

static inline void *fmt_alloc(size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    assert_non_null(p);
    return p;
}

/* Quantize then dequantize rows×cols values; returns the packed bytes (caller frees). */
static inline unsigned char *fmt_roundtrip(lowbit_format format, const float *x, size_t rows, size_t cols, float *y,
                                           const float *importance, int threads)
{
    const size_t bytes = rows * lowbit_format_row_size(format, cols);
    assert_true(bytes > 0);
    unsigned char *packed = fmt_alloc(bytes);
    assert_int_equal(lowbit_quantize(format, x, rows, cols, packed, bytes, importance, threads), LOWBIT_OK);
    if (y) assert_int_equal(lowbit_dequantize(format, packed, bytes, rows, cols, y), LOWBIT_OK);
    return packed;
}

/* ggml's limits are in ggml's own metric, sqrt(Σ(x−y)²)/n over n = 4096 (not the usual sqrt(Σ/n), which
 * is 64× larger here); both are printed, the ggml one is asserted. An importance vector, when given,
 * must not break the limit either. */
static inline void fmt_check_rmse(lowbit_format format, double limit)
{
    float x[FMT_RMSE_ELEMENTS], y[FMT_RMSE_ELEMENTS], importance[FMT_RMSE_ELEMENTS];
    for (int pass = 0; pass < 2; ++pass) {
        for (size_t i = 0; i < FMT_RMSE_ELEMENTS; ++i) {
            x[i] = 0.1f + 2.0f * cosf((float)i + 0.5f * (float)pass);
            importance[i] = 0.5f + (float)(i % 5);
        }
        free(fmt_roundtrip(format, x, 1, FMT_RMSE_ELEMENTS, y, pass ? importance : NULL, 1));
        double sum = 0.0;
        for (size_t i = 0; i < FMT_RMSE_ELEMENTS; ++i)
            sum += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        const double ggml_rmse = sqrt(sum) / FMT_RMSE_ELEMENTS, true_rmse = sqrt(sum / FMT_RMSE_ELEMENTS);
        printf("%-7s %s RMSE: ggml metric %.6f (limit %.4f), true RMSE %.5f on an amplitude-2 signal\n",
               lowbit_format_name(format), pass ? "imatrix" : "plain  ", ggml_rmse, limit, true_rmse);
        assert_true(ggml_rmse <= limit);
    }
}

/* All-zero rows decode to zeros; a constant row decodes to within `rel_tol` of the constant. */
static inline void fmt_check_zero_and_constant(lowbit_format format, double rel_tol)
{
    const size_t cols = 512;
    float x[512], y[512];
    memset(x, 0, sizeof x);
    free(fmt_roundtrip(format, x, 1, cols, y, NULL, 1));
    for (size_t i = 0; i < cols; ++i)
        assert_true(y[i] == 0.0f);
    const float constants[] = {1.0f, -3.25f, 0.001f, 1000.0f};
    for (size_t c = 0; c < sizeof constants / sizeof constants[0]; ++c) {
        for (size_t i = 0; i < cols; ++i)
            x[i] = constants[c];
        free(fmt_roundtrip(format, x, 1, cols, y, NULL, 1));
        for (size_t i = 0; i < cols; ++i)
            assert_true(fabs((double)y[i] - constants[c]) <= rel_tol * fabs(constants[c]));
    }
}

/* One large value among small ones: the outlier itself survives within `rel_tol` (it sets the block's
 * scale), and the other 256-element super-block of the row is untouched by it. */
static inline void fmt_check_outlier(lowbit_format format, double rel_tol)
{
    const size_t cols = 512;
    float x[512], y[512], clean[512];
    test_fill_random(x, cols, 7, 0.05f);
    memcpy(clean, x, sizeof x);
    x[100] = 40.0f;
    free(fmt_roundtrip(format, x, 1, cols, y, NULL, 1));
    assert_true(fabs((double)y[100] - 40.0) <= rel_tol * 40.0);
    float y_clean[512];
    free(fmt_roundtrip(format, clean, 1, cols, y_clean, NULL, 1));
    assert_memory_equal(y + 256, y_clean + 256, 256 * sizeof(float));
}

/* NaN/Inf inputs: quantize must succeed without crashing or reading out of bounds, and blocks that hold
 * only finite values must come out exactly as they would without their non-finite neighbours. What a
 * non-finite block decodes to is unspecified (NaN is skipped by the max/scale search as in ggml's
 * reference quantizers, so typically the finite values survive and the NaN itself becomes a level). */
static inline void fmt_check_nonfinite(lowbit_format format)
{
    const size_t cols = 512;
    float x[512], y[512], y_clean[512];
    test_fill_random(x, cols, 11, 1.0f);
    free(fmt_roundtrip(format, x, 1, cols, y_clean, NULL, 1));
    x[3] = NAN;
    x[9] = INFINITY;
    x[200] = -INFINITY;
    unsigned char *packed = fmt_roundtrip(format, x, 1, cols, y, NULL, 1);
    free(packed);
    assert_memory_equal(y + 256, y_clean + 256, 256 * sizeof(float));
    for (size_t i = 0; i < cols; ++i)
        x[i] = NAN;
    free(fmt_roundtrip(format, x, 1, cols, y, NULL, 1));
}

/* Rows are independent, so 1 and 2 threads (and the automatic count) give the same bytes. */
static inline void fmt_check_threads(lowbit_format format)
{
    const size_t rows = 64, cols = 4096; /* large enough for format.c to really start a second thread */
    float *x = fmt_alloc(rows * cols * sizeof(float));
    test_fill_random(x, rows * cols, 3, 2.0f);
    unsigned char *one = fmt_roundtrip(format, x, rows, cols, NULL, NULL, 1);
    unsigned char *two = fmt_roundtrip(format, x, rows, cols, NULL, NULL, 2);
    unsigned char *all = fmt_roundtrip(format, x, rows, cols, NULL, NULL, 0);
    const size_t bytes = rows * lowbit_format_row_size(format, cols);
    assert_memory_equal(one, two, bytes);
    assert_memory_equal(one, all, bytes);
    free(one);
    free(two);
    free(all);
    free(x);
}

static inline void fmt_expect_error(int status)
{
    assert_int_not_equal(status, LOWBIT_OK);
    assert_non_null(lowbit_last_error());
    assert_true(strlen(lowbit_last_error()) > 0);
}

/* cols not a multiple of the block, wrong sizes, NULLs: an error status and a message, never a crash. */
static inline void fmt_check_argument_errors(lowbit_format format, int can_dequantize)
{
    const lowbit_format_traits *traits = lowbit_format_get(format);
    assert_non_null(traits);
    const size_t block = traits->block_size, cols = 2 * block, bytes = lowbit_format_row_size(format, cols);
    float x[512] = {0}, y[512];
    unsigned char packed[1024] = {0};
    fmt_expect_error(lowbit_quantize(format, x, 1, block + block / 2, packed, bytes, NULL, 1));
    fmt_expect_error(lowbit_quantize(format, x, 1, cols, packed, bytes - 1, NULL, 1));
    fmt_expect_error(lowbit_quantize(format, x, 1, cols, packed, bytes + 1, NULL, 1));
    fmt_expect_error(lowbit_quantize(format, NULL, 1, cols, packed, bytes, NULL, 1));
    fmt_expect_error(lowbit_quantize(format, x, 1, cols, NULL, bytes, NULL, 1));
    fmt_expect_error(lowbit_quantize(format, x, 0, cols, packed, 0, NULL, 1));
    fmt_expect_error(lowbit_dequantize(format, packed, bytes, 1, block + block / 2, y));
    fmt_expect_error(lowbit_dequantize(format, packed, bytes - 1, 1, cols, y));
    fmt_expect_error(lowbit_dequantize(format, NULL, bytes, 1, cols, y));
    fmt_expect_error(lowbit_dequantize(format, packed, bytes, 1, cols, NULL));
    if (!can_dequantize) fmt_expect_error(lowbit_dequantize(format, packed, bytes, 1, cols, y));
}

/* Everything above for one weight format. */
static inline void fmt_check_weight_format(lowbit_format format, double rmse_limit, double constant_tol,
                                           double outlier_tol)
{
    const lowbit_format_traits *traits = lowbit_format_get(format);
    assert_non_null(traits);
    assert_true(traits->can_quantize);
    assert_true(traits->can_dequantize);
    fmt_check_rmse(format, rmse_limit);
    fmt_check_zero_and_constant(format, constant_tol);
    fmt_check_outlier(format, outlier_tol);
    fmt_check_nonfinite(format);
    fmt_check_threads(format);
    fmt_check_argument_errors(format, 1);
}

/* Expects `count` floats of a decoded block to equal `expected` exactly. */
static inline void fmt_expect_floats(const float *y, const float *expected, size_t count)
{
    for (size_t i = 0; i < count; ++i) {
        if (y[i] != expected[i]) fprintf(stderr, "element %zu: got %.9g, expected %.9g\n", i, y[i], expected[i]);
        assert_true(y[i] == expected[i]);
    }
}

#endif
