/* test_backend_vulkan_int.c — the Vulkan plugin's integer-dot path through the public API: dot=int quantizes X
 * to 8-bit blocks on the device (quantize_q8.comp) and runs gemv_q8.comp (decode_int.glsl's int_group) for every
 * integer-weight format, within NMSE 5e-4 of the f64 reference and of the float path; dot=float / dot=auto's
 * choice, NaN activations and the queued matmul. The rest of the plugin is in test_backend_vulkan.c. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

/* --- the integer-dot path: dot=int quantizes X to 8-bit blocks on the device (quantize_q8.comp) and runs
 * gemv_q8.comp (" x=q8" in the kernel name), within NMSE 5e-4 of the f64 reference --------------------------- */

#define INT_NMSE_LIMIT 5e-4

/* rows×cols random weights of `format`, n random X rows (f32, or f16 bits), row `nan_row` (if < n) given a NaN
 * at column 5; y and the reference from the f64 matmul, run from lowbit_last_run. Returns the NMSE over the rows
 * without a NaN. */
static double run_once(lowbit_context *context, size_t device, lowbit_format format, size_t rows, size_t cols, size_t n,
                       lowbit_activation x_type, size_t nan_row, float *y, lowbit_run_info *run)
{
    size_t size = 0;
    void *packed = test_make_weights(format, rows, cols, (uint64_t)format * 31u + rows + n, &size);
    lowbit_weights *weights = NULL;
    assert_int_equal(lowbit_weights_upload(context, device, format, rows, cols, packed, size, 0, &weights), LOWBIT_OK);
    float *x = malloc(n * cols * sizeof(float));
    uint16_t *halves = malloc(n * cols * sizeof(uint16_t));
    double *reference = malloc(n * rows * sizeof(double));
    assert_true(x && halves && reference);
    test_fill_random(x, n * cols, (uint64_t)format + cols, 1.0f);
    for (size_t i = 0; i < n * cols; ++i) {
        halves[i] = lowbit_fp32_to_fp16(x[i]);
        if (x_type == LOWBIT_ACTIVATION_F16) x[i] = lowbit_fp16_to_fp32(halves[i]);
    }
    test_reference_matmul(format, packed, size, rows, cols, x, n, reference);
    if (nan_row < n) x[nan_row * cols + 5] = NAN, halves[nan_row * cols + 5] = 0x7E00;
    memset(y, 0, n * rows * sizeof(float));
    if (x_type == LOWBIT_ACTIVATION_F16)
        assert_int_equal(lowbit_matmul_ex(context, weights, halves, LOWBIT_ACTIVATION_F16, y, n), LOWBIT_OK);
    else
        assert_int_equal(lowbit_matmul(context, weights, x, y, n), LOWBIT_OK);
    *run = (lowbit_run_info){.struct_size = sizeof *run};
    assert_int_equal(lowbit_last_run(context, run), LOWBIT_OK);
    double num = 0.0, den = 0.0;
    for (size_t j = 0; j < n; ++j)
        for (size_t r = 0; j != nan_row && r < rows; ++r) {
            double e = (double)y[j * rows + r] - reference[j * rows + r];
            num += e * e;
            den += reference[j * rows + r] * reference[j * rows + r];
        }
    free(x);
    free(halves);
    free(reference);
    free(packed);
    lowbit_weights_destroy(weights);
    return den > 0.0 ? num / den : num;
}

/* dot=int: Q4_0 (split layout) and Q4_K (stored blocks) run the x=q8 kernel on the device and report quantized
 * activations, for one row and a batch, f32 and f16 X, and both GEMV layouts. */
static void test_int_dot_path(void **state)
{
    (void)state;
    static const lowbit_format int_formats[] = {LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q4_K};
    static const char *const layouts[] = {NULL, "64,1,gpu"};
    static const size_t ns[] = {1, 5, 11};
    for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; ++l) {
        if (layouts[l]) setenv("LOWBIT_VULKAN_PARAMS", layouts[l], 1);
        size_t device = 0;
        lowbit_context *context = test_open_device_params(LOWBIT_API_VULKAN, "dot=int", &device);
        if (!context) skip();
        for (size_t f = 0; f < sizeof int_formats / sizeof int_formats[0]; ++f)
            for (size_t i = 0; i < sizeof ns / sizeof ns[0]; ++i)
                for (int half = 0; half < 2; ++half) {
                    size_t rows = 67, cols = 512, n = ns[i];
                    float *y = malloc(n * rows * sizeof(float));
                    assert_non_null(y);
                    lowbit_run_info run;
                    lowbit_activation x_type = half ? LOWBIT_ACTIVATION_F16 : LOWBIT_ACTIVATION_F32;
                    double error = run_once(context, device, int_formats[f], rows, cols, n, x_type, SIZE_MAX, y, &run);
                    if (run.fell_back) fail_msg("fell back: %s", run.fallback_reason);
                    if (!(error <= INT_NMSE_LIMIT) || !strstr(run.kernel, " x=q8") || !run.activations_quantized)
                        fail_msg("%s n=%zu%s: NMSE %.3e, kernel %s, quantized %d", lowbit_format_name(int_formats[f]),
                                 n, half ? " f16" : "", error, run.kernel, run.activations_quantized);
                    assert_true(error > 0.0); /* quantized X: not the float path's exact-ish result */
                    free(y);
                }
        lowbit_context_destroy(context);
    }
}

/* dot=int for the formats beyond the legacy / K-quant / IQ4 ones (FP4, 1- and 2-bit, ternary and the grid formats,
 * whose integer decodes give 8g ± 1 with a scale ÷ 8 for IQ1's shifted grids): each runs the x=q8 kernel within
 * INT_NMSE_LIMIT of the f64 reference and of the float path's result on the same inputs, for one row and a batch
 * (f16 X), on both GEMV layouts. */
static void test_int_dot_more_formats(void **state)
{
    (void)state;
    static const lowbit_format int_formats[] = {
        LOWBIT_FORMAT_MXFP4, LOWBIT_FORMAT_NVFP4,   LOWBIT_FORMAT_Q1_0,  LOWBIT_FORMAT_Q2_0,    LOWBIT_FORMAT_TQ1_0,
        LOWBIT_FORMAT_TQ2_0, LOWBIT_FORMAT_IQ1_S,   LOWBIT_FORMAT_IQ1_M, LOWBIT_FORMAT_IQ2_XXS, LOWBIT_FORMAT_IQ2_XS,
        LOWBIT_FORMAT_IQ2_S, LOWBIT_FORMAT_IQ3_XXS, LOWBIT_FORMAT_IQ3_S};
    static const char *const layouts[] = {NULL, "64,1,gpu"};
    static const size_t ns[] = {1, 5};
    enum { rows = 35, cols = 512, n_max = 5 };
    size_t device = 0;
    lowbit_context *float_context = test_open_device_params(LOWBIT_API_VULKAN, "dot=float", &device);
    if (!float_context) skip();
    float *y_float = malloc(n_max * rows * sizeof(float)), *y = malloc(n_max * rows * sizeof(float));
    assert_true(y_float && y);
    for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; ++l) {
        if (layouts[l]) setenv("LOWBIT_VULKAN_PARAMS", layouts[l], 1);
        lowbit_context *context = test_open_device_params(LOWBIT_API_VULKAN, "dot=int", &device);
        assert_non_null(context);
        for (size_t f = 0; f < sizeof int_formats / sizeof int_formats[0]; ++f)
            for (size_t i = 0; i < sizeof ns / sizeof ns[0]; ++i) {
                size_t n = ns[i];
                lowbit_activation x_type = n > 1 ? LOWBIT_ACTIVATION_F16 : LOWBIT_ACTIVATION_F32;
                lowbit_run_info run;
                double float_error =
                    run_once(float_context, device, int_formats[f], rows, cols, n, x_type, SIZE_MAX, y_float, &run);
                if (run.fell_back || run.activations_quantized || !(float_error <= TEST_NMSE_LIMIT))
                    fail_msg("%s n=%zu float path: NMSE %.3e, kernel %s", lowbit_format_name(int_formats[f]), n,
                             float_error, run.kernel);
                double error = run_once(context, device, int_formats[f], rows, cols, n, x_type, SIZE_MAX, y, &run);
                if (run.fell_back) fail_msg("fell back: %s", run.fallback_reason);
                double versus_float = test_nmse_float(y, y_float, n * rows);
                if (!(error <= INT_NMSE_LIMIT) || !(versus_float <= INT_NMSE_LIMIT) || !strstr(run.kernel, " x=q8") ||
                    !run.activations_quantized)
                    fail_msg("%s n=%zu%s: NMSE %.3e (%.3e from the float path), kernel %s, quantized %d",
                             lowbit_format_name(int_formats[f]), n, layouts[l] ? " gpu layout" : "", error,
                             versus_float, run.kernel, run.activations_quantized);
                assert_true(error > 0.0); /* quantized X: not the float path's result */
            }
        lowbit_context_destroy(context);
        unsetenv("LOWBIT_VULKAN_PARAMS");
    }
    free(y_float);
    free(y);
    lowbit_context_destroy(float_context);
}

/* dot=float never quantizes X; dot=auto follows vulkan_dot_default's measured table: on a CPU-class device
 * (lavapipe) Q4_K runs the integer path and Q4_0 / Q8_0 the float one; GPU-class devices stay float. */
static void test_float_dot_path(void **state)
{
    (void)state;
    static const char *const params[] = {"dot=float", "dot=auto"};
    for (size_t p = 0; p < sizeof params / sizeof params[0]; ++p) {
        size_t device = 0;
        lowbit_context *context = test_open_device_params(LOWBIT_API_VULKAN, params[p], &device);
        if (!context) skip();
        lowbit_device_info info = {.struct_size = sizeof info};
        assert_int_equal(lowbit_device_get_info(context, device, &info), LOWBIT_OK);
        static const lowbit_format float_formats[] = {LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q4_K, LOWBIT_FORMAT_Q8_0};
        for (size_t f = 0; f < sizeof float_formats / sizeof float_formats[0]; ++f) {
            float y[67 * 3];
            lowbit_run_info run;
            double error =
                run_once(context, device, float_formats[f], 67, 256, 3, LOWBIT_ACTIVATION_F32, SIZE_MAX, y, &run);
            assert_false(run.fell_back);
            const int quantized =
                strcmp(params[p], "dot=auto") == 0 && info.is_cpu_device && float_formats[f] == LOWBIT_FORMAT_Q4_K;
            if (!(error <= (quantized ? INT_NMSE_LIMIT : TEST_NMSE_LIMIT)) || run.activations_quantized != quantized ||
                (strstr(run.kernel, "x=q8") != NULL) != quantized)
                fail_msg("%s %s: NMSE %.3e, kernel %s, quantized %d", params[p], lowbit_format_name(float_formats[f]),
                         error, run.kernel, run.activations_quantized);
        }
        lowbit_context_destroy(context);
    }
}

/* dot=int: a NaN in X makes its row's outputs NaN (its block's d is NaN) and leaves the other rows exact enough. */
static void test_int_dot_nan(void **state)
{
    (void)state;
    size_t device = 0;
    lowbit_context *context = test_open_device_params(LOWBIT_API_VULKAN, "dot=int", &device);
    if (!context) skip();
    static const lowbit_format nan_formats[] = {LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q4_K, LOWBIT_FORMAT_Q6_K,
                                                LOWBIT_FORMAT_MXFP4, LOWBIT_FORMAT_IQ2_XS};
    for (size_t f = 0; f < sizeof nan_formats / sizeof nan_formats[0]; ++f)
        for (int half = 0; half < 2; ++half) {
            size_t rows = 33, cols = 256, n = 3, nan_row = 1;
            float y[33 * 3];
            lowbit_run_info run;
            double error = run_once(context, device, nan_formats[f], rows, cols, n,
                                    half ? LOWBIT_ACTIVATION_F16 : LOWBIT_ACTIVATION_F32, nan_row, y, &run);
            assert_true(run.activations_quantized);
            if (!(error <= INT_NMSE_LIMIT)) fail_msg("%s: other rows NMSE %.3e", run.kernel, error);
            for (size_t r = 0; r < rows; ++r)
                if (!isnan(y[nan_row * rows + r]))
                    fail_msg("%s%s: row %zu output %zu is %g, not NaN", run.kernel, half ? " f16" : "", nan_row, r,
                             y[nan_row * rows + r]);
        }
    lowbit_context_destroy(context);
}

/* dot=int on a queue: enqueue_matmul takes the same integer path as lowbit_matmul (bit for bit the same Y), for a
 * single row and for chunks of a batch. */
static void test_int_dot_queued(void **state)
{
    (void)state;
    size_t device = 0;
    lowbit_context *context = test_open_device_params(LOWBIT_API_VULKAN, "dot=int", &device);
    if (!context) skip();
    const size_t rows = 67, cols = 512, n_max = 11;
    size_t size = 0;
    void *packed = test_make_weights(LOWBIT_FORMAT_Q4_K, rows, cols, 99, &size);
    lowbit_weights *weights = NULL;
    assert_int_equal(lowbit_weights_upload(context, device, LOWBIT_FORMAT_Q4_K, rows, cols, packed, size, 0, &weights),
                     LOWBIT_OK);
    float *x = malloc(n_max * cols * sizeof(float)), *y = malloc(n_max * rows * sizeof(float));
    float *y_queued = malloc(n_max * rows * sizeof(float));
    assert_true(x && y && y_queued);
    test_fill_random(x, n_max * cols, 100, 1.0f);
    lowbit_buffer *xb = NULL, *yb = NULL;
    lowbit_queue *queue = NULL;
    assert_int_equal(lowbit_buffer_create(context, device, n_max * cols * sizeof(float), 0, &xb), LOWBIT_OK);
    assert_int_equal(lowbit_buffer_create(context, device, n_max * rows * sizeof(float), 0, &yb), LOWBIT_OK);
    assert_int_equal(lowbit_queue_create(context, device, &queue), LOWBIT_OK);
    static const size_t ns[] = {1, 11};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; ++i) {
        size_t n = ns[i];
        assert_int_equal(lowbit_matmul(context, weights, x, y, n), LOWBIT_OK);
        lowbit_run_info run = {.struct_size = sizeof run};
        assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
        assert_true(run.activations_quantized && strstr(run.kernel, " x=q8"));
        lowbit_matmul_buffers matmul = {.struct_size = sizeof matmul,
                                        .weights = weights,
                                        .x = xb,
                                        .x_type = LOWBIT_ACTIVATION_F32,
                                        .y = yb,
                                        .n = n};
        assert_int_equal(lowbit_enqueue_write(queue, xb, 0, x, n * cols * sizeof(float), NULL, 0, NULL), LOWBIT_OK);
        assert_int_equal(lowbit_enqueue_matmul(queue, &matmul, NULL, 0, NULL), LOWBIT_OK);
        assert_int_equal(lowbit_enqueue_read(queue, yb, 0, y_queued, n * rows * sizeof(float), NULL, 0, NULL),
                         LOWBIT_OK);
        assert_int_equal(lowbit_queue_finish(queue), LOWBIT_OK);
        assert_memory_equal(y, y_queued, n * rows * sizeof(float));
    }
    lowbit_queue_destroy(queue);
    lowbit_buffer_destroy(xb);
    lowbit_buffer_destroy(yb);
    lowbit_weights_destroy(weights);
    free(x);
    free(y);
    free(y_queued);
    free(packed);
    lowbit_context_destroy(context);
}

/* A failed assertion leaves the test early: never let its environment leak into the next test. */
static int restore_environment(void **state)
{
    (void)state;
    unsetenv("LOWBIT_VULKAN_PARAMS");
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_int_dot_path, restore_environment),
        cmocka_unit_test_teardown(test_int_dot_more_formats, restore_environment),
        cmocka_unit_test_teardown(test_float_dot_path, restore_environment),
        cmocka_unit_test_teardown(test_int_dot_nan, restore_environment),
        cmocka_unit_test_teardown(test_int_dot_queued, restore_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
