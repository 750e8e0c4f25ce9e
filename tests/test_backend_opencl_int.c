/* test_backend_opencl_int.c — the OpenCL plugin's integer-dot path (context parameter dot=int: activations
 * quantized on the device by x_quantize.cl, integer dot products in gemv_int.cl over each family's
 * load_chunk_int): x=q8 kernels within the integer bound for one activation row, a GEMV batch and a GEMM batch in
 * either GEMV layout, every integer block format against the f64 reference and the float path, f16 activations,
 * dot=float and dot=auto's choices, NaN rows and the queued matmul. The float kernels are in
 * test_backend_opencl.c and test_backend_opencl_stored.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

static char cache_dir[] = "/tmp/lowbit-test-opencl-int-XXXXXX";

static int setup(void **state)
{
    (void)state;
    if (mkdtemp(cache_dir) == NULL) return -1;
    setenv("LOWBIT_CACHE_DIR", cache_dir, 1);
    setenv("LOWBIT_LOG", "error", 1);
    unsetenv("LOWBIT_FAULT");
    unsetenv("LOWBIT_MAX_ALLOC");
    unsetenv("LOWBIT_OPENCL_PARAMS");
    /* Every test passes its dot parameter to the context itself. */
    unsetenv("LOWBIT_PARAMS");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char command[256];
    snprintf(command, sizeof command, "rm -rf '%s'", cache_dir);
    return system(command) == 0 ? 0 : -1;
}

#define INT_NMSE_LIMIT 5e-4

/* Runs n rows of random X through `format` (rows×cols) and returns the run record; *nmse against the f64
 * reference. `nan_row` < n puts a NaN into that row of X (then *nmse covers the other rows only). */
static lowbit_run_info run_dot(lowbit_context *context, size_t device, lowbit_format format, size_t rows, size_t cols,
                               size_t n, size_t nan_row, float *y, double *nmse)
{
    size_t size = 0;
    void *packed = test_make_weights(format, rows, cols, 41u + (uint64_t)format, &size);
    lowbit_weights *weights = NULL;
    assert_int_equal(lowbit_weights_upload(context, device, format, rows, cols, packed, size, 0, &weights), LOWBIT_OK);
    float *x = malloc(n * cols * sizeof *x);
    double *reference = malloc(n * rows * sizeof *reference);
    assert_non_null(x);
    assert_non_null(reference);
    test_fill_random(x, n * cols, 43u + n, 2.0f);
    assert_int_equal(lowbit_matmul(context, weights, x, y, n), LOWBIT_OK);
    lowbit_run_info run = {.struct_size = sizeof run};
    assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
    test_reference_matmul(format, packed, size, rows, cols, x, n, reference);
    if (nan_row < n) {
        x[nan_row * cols + cols / 2 + 3] = 0.0f / 0.0f;
        assert_int_equal(lowbit_matmul(context, weights, x, y, n), LOWBIT_OK);
        assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
        /* The rows before the NaN one (nan_row is the last in these tests) are compared. */
        *nmse = test_nmse(y, reference, nan_row * rows);
    } else {
        *nmse = test_nmse(y, reference, n * rows);
    }
    lowbit_weights_destroy(weights);
    free(reference);
    free(x);
    free(packed);
    return run;
}

/* Every integer block format of the stored layout has an integer decode: forced dot=int runs its x=q8 kernel for
 * one activation row (GEMV) and a GEMM batch (the streaming GEMM on CPU-class devices), within the integer bound
 * of the f64 reference and of the float path's result on the same data. */
static void test_dot_int_every_format(void **state)
{
    (void)state;
    static const lowbit_format int_formats[] = {
        LOWBIT_FORMAT_MXFP4, LOWBIT_FORMAT_NVFP4,   LOWBIT_FORMAT_Q1_0,  LOWBIT_FORMAT_Q2_0,    LOWBIT_FORMAT_TQ1_0,
        LOWBIT_FORMAT_TQ2_0, LOWBIT_FORMAT_IQ1_S,   LOWBIT_FORMAT_IQ1_M, LOWBIT_FORMAT_IQ2_XXS, LOWBIT_FORMAT_IQ2_XS,
        LOWBIT_FORMAT_IQ2_S, LOWBIT_FORMAT_IQ3_XXS, LOWBIT_FORMAT_IQ3_S,
    };
    /* The GEMM batch for one format per family (fp4, q1q2, ternary, grid with and without half-chunk scales). */
    static const lowbit_format gemm_formats[] = {LOWBIT_FORMAT_NVFP4, LOWBIT_FORMAT_Q2_0, LOWBIT_FORMAT_TQ1_0,
                                                 LOWBIT_FORMAT_IQ1_M, LOWBIT_FORMAT_IQ3_XXS};
    size_t device = 0, float_device = 0;
    lowbit_context *context = test_open_device_params(LOWBIT_API_OPENCL, "dot=int", &device);
    if (!context) skip();
    lowbit_context *float_context = test_open_device_params(LOWBIT_API_OPENCL, "dot=float", &float_device);
    assert_non_null(float_context);
    for (size_t f = 0; f < sizeof int_formats / sizeof int_formats[0]; ++f) {
        const lowbit_format format = int_formats[f];
        size_t batches = 1;
        for (size_t g = 0; g < sizeof gemm_formats / sizeof gemm_formats[0]; ++g)
            batches += gemm_formats[g] == format;
        for (size_t b = 0; b < batches; ++b) {
            const size_t rows = 67, cols = 512, n = b == 0 ? 1 : 16;
            float y[16 * 67], y_float[16 * 67];
            double nmse = 1.0, float_nmse = 1.0;
            const lowbit_run_info run = run_dot(context, device, format, rows, cols, n, n, y, &nmse);
            const lowbit_run_info float_run =
                run_dot(float_context, float_device, format, rows, cols, n, n, y_float, &float_nmse);
            const double to_float = test_nmse_float(y, y_float, n * rows);
            const int integer = strncmp(run.kernel, "gemm_", 5) != 0 || strstr(run.kernel, " stream") != NULL;
            if (run.fell_back || (strstr(run.kernel, " x=q8") != NULL) != integer ||
                run.activations_quantized != integer || nmse > INT_NMSE_LIMIT || to_float > INT_NMSE_LIMIT)
                fail_msg("%s n=%zu: kernel '%s', quantized %d, fell back %d (%s), NMSE %.3g, to the float path %.3g",
                         lowbit_format_name(format), n, run.kernel, run.activations_quantized, run.fell_back,
                         run.fallback_reason, nmse, to_float);
            if (float_run.fell_back || float_run.activations_quantized || float_nmse > TEST_NMSE_LIMIT)
                fail_msg("%s n=%zu float path: kernel '%s', NMSE %.3g", lowbit_format_name(format), n, float_run.kernel,
                         float_nmse);
        }
    }
    lowbit_context_destroy(float_context);
    lowbit_context_destroy(context);
}

/* dot=int: Q4_0 (split layout) and Q4_K, Q6_K (stored layout) run their integer kernels (" x=q8", activations
 * quantized) within the integer path's NMSE bound, for one activation row, a GEMV batch and a GEMM batch, in
 * either GEMV layout. The GEMM has an integer kernel in its streaming (CPU-class) shape only: the tiled one
 * stays on the float path. */
static void test_dot_int_runs_q8(void **state)
{
    (void)state;
    static const lowbit_format dot_formats[] = {LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q4_K, LOWBIT_FORMAT_Q6_K};
    static const size_t batches[] = {1, 3, 16};
    static const char *const layouts[] = {NULL, "layout=coop,wg=32,rows=2"};
    for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; ++l) {
        if (layouts[l]) setenv("LOWBIT_OPENCL_PARAMS", layouts[l], 1);
        size_t device = 0;
        lowbit_context *context = test_open_device_params(LOWBIT_API_OPENCL, "dot=int", &device);
        if (!context) skip();
        for (size_t f = 0; f < sizeof dot_formats / sizeof dot_formats[0]; ++f) {
            for (size_t b = 0; b < sizeof batches / sizeof batches[0]; ++b) {
                const size_t rows = 67, cols = 512, n = batches[b];
                float y[16 * 67];
                double nmse = 1.0;
                lowbit_run_info run = run_dot(context, device, dot_formats[f], rows, cols, n, n, y, &nmse);
                const int integer = strncmp(run.kernel, "gemm_", 5) != 0 || strstr(run.kernel, " stream") != NULL;
                if (run.fell_back || (strstr(run.kernel, " x=q8") != NULL) != integer ||
                    run.activations_quantized != integer || nmse > INT_NMSE_LIMIT)
                    fail_msg("%s n=%zu (%s): kernel '%s', quantized %d, fell back %d (%s), NMSE %.3g",
                             lowbit_format_name(dot_formats[f]), n, layouts[l] ? layouts[l] : "default", run.kernel,
                             run.activations_quantized, run.fell_back, run.fallback_reason, nmse);
            }
        }
        lowbit_context_destroy(context);
        unsetenv("LOWBIT_OPENCL_PARAMS");
    }
}

/* f16 activations are quantized on the device too (x_quantize.cl reads the halves): same bound. */
static void test_dot_int_f16(void **state)
{
    (void)state;
    size_t device = 0;
    lowbit_context *context = test_open_device_params(LOWBIT_API_OPENCL, "dot=int", &device);
    if (!context) skip();
    static const lowbit_format f16_formats[] = {LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q5_K};
    for (size_t f = 0; f < sizeof f16_formats / sizeof f16_formats[0]; ++f) {
        const size_t rows = 33, cols = 256, n = 2;
        size_t size = 0;
        void *packed = test_make_weights(f16_formats[f], rows, cols, 47u, &size);
        lowbit_weights *weights = NULL;
        assert_int_equal(lowbit_weights_upload(context, device, f16_formats[f], rows, cols, packed, size, 0, &weights),
                         LOWBIT_OK);
        float x[2 * 256], y[2 * 33];
        uint16_t halves[2 * 256];
        double reference[2 * 33];
        test_fill_random(x, n * cols, 49u, 1.0f);
        /* Values that are exact in f16 (multiples of 2^-10 in [-1, 1)), so the reference takes the same X. */
        for (size_t i = 0; i < n * cols; ++i) {
            const int k = (int)(x[i] * 1024.0f);
            x[i] = (float)k / 1024.0f;
            const unsigned magnitude = (unsigned)(k < 0 ? -k : k);
            uint16_t bits = 0;
            if (magnitude != 0) {
                int exponent = 0;
                while ((magnitude >> exponent) > 1)
                    ++exponent;
                const unsigned mantissa = (magnitude << (10 - exponent)) & 0x3FFu;
                bits = (uint16_t)(((unsigned)(exponent - 10 + 15) << 10) | mantissa);
            }
            halves[i] = (uint16_t)(bits | (k < 0 ? 0x8000u : 0u));
        }
        assert_int_equal(lowbit_matmul_ex(context, weights, halves, LOWBIT_ACTIVATION_F16, y, n), LOWBIT_OK);
        lowbit_run_info run = {.struct_size = sizeof run};
        assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
        assert_false(run.fell_back);
        assert_non_null(strstr(run.kernel, " x=q8"));
        assert_int_equal(run.activations_quantized, 1);
        assert_int_equal(run.activations_widened, 0);
        test_reference_matmul(f16_formats[f], packed, size, rows, cols, x, n, reference);
        assert_true(test_nmse(y, reference, n * rows) <= INT_NMSE_LIMIT);
        lowbit_weights_destroy(weights);
        free(packed);
    }
    lowbit_context_destroy(context);
}

/* dot=float never quantizes the activations and keeps the float bound; dot=auto follows opencl_dot_default's
 * measured table: on a CPU-class device (PoCL) Q4_0 and Q4_K GEMV at n = 1 run the integer path, n = 3 the float
 * one; GPU-class devices stay float. */
static void test_dot_float_never_quantizes(void **state)
{
    (void)state;
    static const char *const params[] = {"dot=float", "dot=auto"};
    for (size_t p = 0; p < sizeof params / sizeof params[0]; ++p) {
        size_t device = 0;
        lowbit_context *context = test_open_device_params(LOWBIT_API_OPENCL, params[p], &device);
        if (!context) skip();
        lowbit_device_info info = {.struct_size = sizeof info};
        assert_int_equal(lowbit_device_get_info(context, device, &info), LOWBIT_OK);
        const int is_auto = strcmp(params[p], "dot=auto") == 0;
        static const lowbit_format float_formats[] = {LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q4_K};
        for (size_t f = 0; f < sizeof float_formats / sizeof float_formats[0]; ++f) {
            for (size_t n = 1; n <= 3; n += 2) {
                float y[3 * 67];
                double nmse = 1.0;
                lowbit_run_info run = run_dot(context, device, float_formats[f], 67, 512, n, n, y, &nmse);
                assert_false(run.fell_back);
                const int quantized = is_auto && n == 1 && info.is_cpu_device;
                assert_int_equal(run.activations_quantized, quantized);
                assert_int_equal(strstr(run.kernel, "x=q8") != NULL, quantized);
                assert_true(nmse <= (quantized ? INT_NMSE_LIMIT : TEST_NMSE_LIMIT));
            }
        }
        lowbit_context_destroy(context);
    }
}

/* On the integer path a NaN in X makes its row of Y NaN (the block's scale is NaN), and leaves the other rows
 * finite and right. */
static void test_dot_int_nan(void **state)
{
    (void)state;
    size_t device = 0;
    lowbit_context *context = test_open_device_params(LOWBIT_API_OPENCL, "dot=int", &device);
    if (!context) skip();
    static const lowbit_format nan_formats[] = {LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q4_K, LOWBIT_FORMAT_Q4_1};
    for (size_t f = 0; f < sizeof nan_formats / sizeof nan_formats[0]; ++f) {
        const size_t rows = 9, cols = 256, n = 2;
        float y[2 * 9];
        double nmse = 1.0;
        lowbit_run_info run = run_dot(context, device, nan_formats[f], rows, cols, n, 1, y, &nmse);
        assert_non_null(strstr(run.kernel, " x=q8"));
        assert_int_equal(run.activations_quantized, 1);
        assert_true(nmse <= INT_NMSE_LIMIT);
        for (size_t r = 0; r < rows; ++r) {
            assert_true(y[r] == y[r]);
            assert_true(y[rows + r] != y[rows + r]);
        }
    }
    lowbit_context_destroy(context);
}

/* The queued matmul on device buffers takes the same path: x=q8 in its kernel, and the same result. */
static void test_dot_int_queued(void **state)
{
    (void)state;
    size_t device = 0;
    lowbit_context *context = test_open_device_params(LOWBIT_API_OPENCL, "dot=int", &device);
    if (!context) skip();
    const size_t rows = 67, cols = 512, n = 3;
    float y_sync[3 * 67], y_queued[3 * 67];
    double nmse = 1.0;
    run_dot(context, device, LOWBIT_FORMAT_Q4_K, rows, cols, n, n, y_sync, &nmse);
    size_t size = 0;
    void *packed = test_make_weights(LOWBIT_FORMAT_Q4_K, rows, cols, 41u + (uint64_t)LOWBIT_FORMAT_Q4_K, &size);
    lowbit_weights *weights = NULL;
    assert_int_equal(lowbit_weights_upload(context, device, LOWBIT_FORMAT_Q4_K, rows, cols, packed, size, 0, &weights),
                     LOWBIT_OK);
    float x[3 * 512];
    test_fill_random(x, n * cols, 43u + n, 2.0f);
    lowbit_buffer *x_buffer = NULL, *y_buffer = NULL;
    lowbit_queue *queue = NULL;
    assert_int_equal(lowbit_buffer_create(context, device, sizeof x, 0, &x_buffer), LOWBIT_OK);
    assert_int_equal(lowbit_buffer_create(context, device, sizeof y_queued, 0, &y_buffer), LOWBIT_OK);
    assert_int_equal(lowbit_queue_create(context, device, &queue), LOWBIT_OK);
    assert_int_equal(lowbit_enqueue_write(queue, x_buffer, 0, x, sizeof x, NULL, 0, NULL), LOWBIT_OK);
    lowbit_matmul_buffers matmul = {.struct_size = sizeof matmul,
                                    .weights = weights,
                                    .x = x_buffer,
                                    .x_type = LOWBIT_ACTIVATION_F32,
                                    .y = y_buffer,
                                    .n = n};
    assert_int_equal(lowbit_enqueue_matmul(queue, &matmul, NULL, 0, NULL), LOWBIT_OK);
    assert_int_equal(lowbit_enqueue_read(queue, y_buffer, 0, y_queued, sizeof y_queued, NULL, 0, NULL), LOWBIT_OK);
    assert_int_equal(lowbit_queue_finish(queue), LOWBIT_OK);
    lowbit_queue_info info = {.struct_size = sizeof info};
    assert_int_equal(lowbit_queue_get_info(queue, &info), LOWBIT_OK);
    assert_int_equal(info.fallbacks, 0);
    assert_non_null(strstr(info.last_kernel, " x=q8"));
    assert_memory_equal(y_sync, y_queued, sizeof y_sync);
    lowbit_queue_destroy(queue);
    lowbit_buffer_destroy(x_buffer);
    lowbit_buffer_destroy(y_buffer);
    lowbit_weights_destroy(weights);
    free(packed);
    lowbit_context_destroy(context);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dot_int_runs_q8),
        cmocka_unit_test(test_dot_int_every_format),
        cmocka_unit_test(test_dot_float_never_quantizes),
        cmocka_unit_test(test_dot_int_nan),
        cmocka_unit_test(test_dot_int_f16),
        cmocka_unit_test(test_dot_int_queued),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
