/* test_support.c — deterministic data, the f64 reference and NMSE for every test. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void test_fill_random(float *values, size_t count, uint64_t seed, float scale)
{
    uint64_t state = seed;
    for (size_t i = 0; i < count; ++i) {
        double unit = (double)(splitmix64(&state) >> 11) * (1.0 / 9007199254740992.0);
        values[i] = (float)((unit * 2.0 - 1.0) * scale);
    }
}

void *test_make_weights(lowbit_format format, size_t rows, size_t cols, uint64_t seed, size_t *size)
{
    float *values = malloc(rows * cols * sizeof(float));
    assert_non_null(values);
    test_fill_random(values, rows * cols, seed, 1.0f);
    *size = rows * lowbit_format_row_size(format, cols);
    assert_true(*size > 0);
    void *packed = malloc(*size);
    assert_non_null(packed);
    assert_int_equal(lowbit_quantize(format, values, rows, cols, packed, *size, NULL, 0), LOWBIT_OK);
    free(values);
    return packed;
}

void test_reference_matmul(lowbit_format format, const void *weights, size_t weight_bytes, size_t rows, size_t cols,
                           const float *x, size_t n, double *y)
{
    float *w = malloc(rows * cols * sizeof(float));
    assert_non_null(w);
    assert_int_equal(lowbit_dequantize(format, weights, weight_bytes, rows, cols, w), LOWBIT_OK);
    for (size_t i = 0; i < n; ++i) {
        for (size_t r = 0; r < rows; ++r) {
            double sum = 0.0;
            for (size_t c = 0; c < cols; ++c) sum += (double)w[r * cols + c] * (double)x[i * cols + c];
            y[i * rows + r] = sum;
        }
    }
    free(w);
}

double test_nmse(const float *y, const double *reference, size_t count)
{
    double error = 0.0, norm = 0.0;
    for (size_t i = 0; i < count; ++i) {
        double d = (double)y[i] - reference[i];
        error += d * d;
        norm += reference[i] * reference[i];
    }
    if (norm == 0.0) return error == 0.0 ? 0.0 : 1.0;
    return error / norm;
}

int test_in_ci(void)
{
    const char *ci = getenv("CI");
    return ci && strcmp(ci, "true") == 0;
}

long test_find_device(lowbit_context *context, lowbit_api api, int required_in_ci)
{
    size_t count = 0;
    assert_int_equal(lowbit_device_count(context, &count), LOWBIT_OK);
    for (size_t i = 0; i < count; ++i) {
        lowbit_device_info info = {.struct_size = sizeof info};
        assert_int_equal(lowbit_device_get_info(context, i, &info), LOWBIT_OK);
        if (info.api == api) return (long)i;
    }
    if (required_in_ci && test_in_ci()) {
        static const char *const names[] = {"CPU", "OpenCL (PoCL)", "Vulkan (lavapipe)"};
        fail_msg("CI=true and no %s device was found: it must run in CI", names[api]);
    }
    return -1;
}

lowbit_context *test_open_device(lowbit_api api, size_t *device)
{
    lowbit_context *context = NULL;
    assert_int_equal(lowbit_context_create(NULL, &context), LOWBIT_OK);
    long index = test_find_device(context, api, 1);
    if (index < 0) {
        lowbit_context_destroy(context);
        return NULL;
    }
    *device = (size_t)index;
    return context;
}
