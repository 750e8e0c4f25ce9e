/* test_format_checks.h — checks every format family's test runs (round-trip RMSE, zero/constant/
 * outlier/non-finite rows, thread determinism, argument errors, golden bytes; for quantizers that take an
 * importance vector, each also with one), shared by tests/test_format_*.c. */
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
 * is 64× larger here); both are printed, the ggml one is asserted: `plain_limit` without an importance
 * vector, `importance_limit` with one (importance 0.5 + (i mod 5), the signal shifted by 0.5). */
static inline void fmt_check_rmse_limits(lowbit_format format, double plain_limit, double importance_limit)
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
        const double limit = pass ? importance_limit : plain_limit;
        printf("%-7s %s RMSE: ggml metric %.6f (limit %.4f), true RMSE %.5f on an amplitude-2 signal\n",
               lowbit_format_name(format), pass ? "imatrix" : "plain  ", ggml_rmse, limit, true_rmse);
        assert_true(ggml_rmse <= limit);
    }
}

/* The same limit with and without an importance vector (it must not break the limit either). */
static inline void fmt_check_rmse(lowbit_format format, double limit) { fmt_check_rmse_limits(format, limit, limit); }

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

/* The registry says the format quantizes and dequantizes. */
static inline void fmt_check_traits(lowbit_format format)
{
    const lowbit_format_traits *traits = lowbit_format_get(format);
    assert_non_null(traits);
    assert_true(traits->can_quantize);
    assert_true(traits->can_dequantize);
}

/* Everything above for one weight format. */
static inline void fmt_check_weight_format(lowbit_format format, double rmse_limit, double constant_tol,
                                           double outlier_tol)
{
    fmt_check_traits(format);
    fmt_check_rmse(format, rmse_limit);
    fmt_check_zero_and_constant(format, constant_tol);
    fmt_check_outlier(format, outlier_tol);
    fmt_check_nonfinite(format);
    fmt_check_threads(format);
    fmt_check_argument_errors(format, 1);
}

/* Zero rows give zero bytes and zeros, with and without an importance vector; rows of NaN, Inf, values whose
 * squares overflow and subnormals (alone, or every third element among finite ones) quantize without crashing;
 * then fmt_check_nonfinite. */
static inline void fmt_check_zero_and_nonfinite_rows(lowbit_format format)
{
    enum { COLS = 512 };
    float x[COLS], y[COLS], importance[COLS];
    for (int i = 0; i < COLS; ++i)
        importance[i] = 1.0f + (float)(i % 4);
    const size_t bytes = lowbit_format_row_size(format, COLS);
    unsigned char *zero = fmt_alloc(bytes);
    for (int pass = 0; pass < 2; ++pass) {
        const float *imp = pass ? importance : NULL;
        memset(x, 0, sizeof x);
        unsigned char *packed = fmt_roundtrip(format, x, 1, COLS, y, imp, 1);
        assert_memory_equal(packed, zero, bytes);
        free(packed);
        for (int i = 0; i < COLS; ++i)
            assert_true(y[i] == 0.0f);
        const float fills[] = {NAN, INFINITY, -INFINITY, 1e18f, -3e38f, 1e-40f};
        for (size_t v = 0; v < sizeof fills / sizeof fills[0]; ++v) {
            for (int i = 0; i < COLS; ++i)
                x[i] = (i % 3 == 0) ? fills[v] : (float)(i % 17) - 8.0f;
            free(fmt_roundtrip(format, x, 1, COLS, y, imp, 1));
            for (int i = 0; i < COLS; ++i)
                x[i] = fills[v];
            free(fmt_roundtrip(format, x, 1, COLS, y, imp, 1));
        }
    }
    free(zero);
    fmt_check_nonfinite(format);
}

/* For a quantizer that takes an importance vector: the traits, zero/constant and outlier rows, zero and
 * non-finite rows with and without importance, and argument errors (fmt_check_weight_format's checks but RMSE,
 * which such formats hold to a limit per pass, and threads: fmt_check_threads_and_importance). */
static inline void fmt_check_quantizer(lowbit_format format, double constant_tol, double outlier_tol)
{
    fmt_check_traits(format);
    fmt_check_zero_and_constant(format, constant_tol);
    fmt_check_outlier(format, outlier_tol);
    fmt_check_zero_and_nonfinite_rows(format);
    fmt_check_argument_errors(format, 1);
}

/* Run first in a test program: its first quantization runs on several threads at once, so tables a format builds
 * on first use are built under contention. 4 threads, 1 and the automatic count give the same bytes, with and
 * without an importance vector, and the importance vector changes them. */
static inline void fmt_check_threads_and_importance(const lowbit_format *formats, size_t count, uint64_t seed,
                                                    float scale)
{
    const size_t rows = 64, cols = 4096; /* enough elements for format.c to start 4 threads */
    float *x = fmt_alloc(rows * cols * sizeof(float)), *importance = fmt_alloc(cols * sizeof(float));
    test_fill_random(x, rows * cols, seed, scale);
    for (size_t i = 0; i < cols; ++i)
        importance[i] = 0.1f + (float)((i * 7) % 13);
    for (size_t f = 0; f < count; ++f)
        for (int pass = 0; pass < 2; ++pass) {
            const float *imp = pass ? importance : NULL;
            const size_t bytes = rows * lowbit_format_row_size(formats[f], cols);
            unsigned char *four = fmt_roundtrip(formats[f], x, rows, cols, NULL, imp, 4);
            unsigned char *one = fmt_roundtrip(formats[f], x, rows, cols, NULL, imp, 1);
            unsigned char *again = fmt_roundtrip(formats[f], x, rows, cols, NULL, imp, 0);
            assert_memory_equal(four, one, bytes);
            assert_memory_equal(four, again, bytes);
            free(four);
            free(one);
            free(again);
        }
    for (size_t f = 0; f < count; ++f) {
        const size_t bytes = lowbit_format_row_size(formats[f], cols);
        unsigned char *plain = fmt_roundtrip(formats[f], x, 1, cols, NULL, NULL, 1);
        unsigned char *weighted = fmt_roundtrip(formats[f], x, 1, cols, NULL, importance, 1);
        assert_true(memcmp(plain, weighted, bytes) != 0);
        free(plain);
        free(weighted);
    }
    free(x);
    free(importance);
}

/* The importance path must beat the plain one on the error it targets, Σ imp·(x − x̂)², by the factor `ratio`
 * for each format: 32 random rows of 1024 and an importance vector spread over four decades (a smooth swell,
 * every 16th column ×100, a few zeros), like an imatrix's. The plain path fits the same data without the vector,
 * so the margin is what importance buys; the ratios are printed. */
static inline void fmt_check_importance_lowers_error(const lowbit_format *formats, size_t count, double ratio)
{
    const size_t rows = 32, cols = 1024;
    float *x = fmt_alloc(rows * cols * sizeof(float)), *y = fmt_alloc(rows * cols * sizeof(float));
    float *importance = fmt_alloc(cols * sizeof(float));
    test_fill_random(x, rows * cols, 17, 1.0f);
    for (size_t i = 0; i < cols; ++i) {
        importance[i] = powf(10.0f, sinf(0.05f * (float)i)) * ((i % 16) == 5 ? 100.0f : 1.0f);
        if (i % 97 == 0) importance[i] = 0.0f;
    }
    for (size_t f = 0; f < count; ++f) {
        double err[2] = {0.0, 0.0};
        for (int use = 0; use < 2; ++use) {
            free(fmt_roundtrip(formats[f], x, rows, cols, y, use ? importance : NULL, 1));
            for (size_t i = 0; i < rows * cols; ++i)
                err[use] += importance[i % cols] * ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        }
        printf("%-5s Σ imp·(x − x̂)²: %.4f plain, %.4f with importance (ratio %.3f)\n", lowbit_format_name(formats[f]),
               err[0], err[1], err[1] / err[0]);
        assert_true(err[1] < ratio * err[0]);
    }
    free(x);
    free(y);
    free(importance);
}

/* Without an importance vector the format quantizes as with an all-ones one (`same`: the same bytes), or by
 * weights of its own (other bytes); 1024 random values from `seed`. */
static inline void fmt_check_unit_importance(lowbit_format format, uint64_t seed, int same)
{
    enum { COLS = 1024 };
    float x[COLS], ones[COLS];
    test_fill_random(x, COLS, seed, 1.5f);
    for (int i = 0; i < COLS; ++i)
        ones[i] = 1.0f;
    const size_t bytes = lowbit_format_row_size(format, COLS);
    unsigned char *plain = fmt_roundtrip(format, x, 1, COLS, NULL, NULL, 1);
    unsigned char *unit = fmt_roundtrip(format, x, 1, COLS, NULL, ones, 1);
    if (same)
        assert_memory_equal(plain, unit, bytes);
    else
        assert_true(memcmp(plain, unit, bytes) != 0);
    free(plain);
    free(unit);
}

/* One golden row: format formats[f] (quantized directly by rows[f]), with or without the test's importance
 * vector, and the 64-bit FNV-1a of the reference's bytes. */
typedef struct fmt_golden {
    int f;
    int with_importance;
    uint64_t hash;
} fmt_golden;

/* Each case's row of `cols` values through lowbit_quantize and through the format's row function (a white-box
 * test's own copy of it): the same bytes, whose hash must be the case's (a mismatch prints both). */
static inline void fmt_check_golden(const lowbit_format *formats,
                                    void (*const *rows)(const float *, void *, size_t, const float *),
                                    const fmt_golden *cases, size_t count, const float *x, const float *importance,
                                    size_t cols)
{
    for (size_t c = 0; c < count; ++c) {
        const lowbit_format format = formats[cases[c].f];
        const size_t bytes = lowbit_format_row_size(format, cols);
        const float *imp = cases[c].with_importance ? importance : NULL;
        unsigned char *library = fmt_alloc(bytes), *direct = fmt_alloc(bytes);
        assert_int_equal(lowbit_quantize(format, x, 1, cols, library, bytes, imp, 1), LOWBIT_OK);
        rows[cases[c].f](x, direct, cols, imp);
        assert_memory_equal(library, direct, bytes);
        const uint64_t hash = test_fnv1a(library, bytes);
        if (hash != cases[c].hash)
            fprintf(stderr, "%s %s: hash 0x%016llX, expected 0x%016llX\n", lowbit_format_name(format),
                    imp ? "importance" : "plain", (unsigned long long)hash, (unsigned long long)cases[c].hash);
        assert_true(hash == cases[c].hash);
        free(library);
        free(direct);
    }
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
