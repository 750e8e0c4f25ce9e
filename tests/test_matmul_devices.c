/* test_matmul_devices.c — fused GEMV on every device of the context (CPU backend, every OpenCL and
 * Vulkan device) against the f64 reference over the same dequantized weights: NMSE ≤ 1e-6 for
 * n = 1..9 and 16, ragged rows, one-block matrices; and many threads on one context give the serial
 * result bit for bit. Under CI=true PoCL and lavapipe must be among the devices. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"


static lowbit_context *context;
static size_t device_count;

static int setup(void **state)
{
    (void)state;
    if (lowbit_context_create(NULL, &context) != LOWBIT_OK) return -1;
    return lowbit_device_count(context, &device_count) == LOWBIT_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    lowbit_context_destroy(context);
    return 0;
}

static void test_ci_devices_present(void **state)
{
    (void)state;
    test_find_device(context, LOWBIT_API_OPENCL, 1);
    test_find_device(context, LOWBIT_API_VULKAN, 1);
    assert_true(device_count >= 1);
}

typedef struct shape {
    size_t rows, cols;
} shape;

static const lowbit_format formats[] = {LOWBIT_FORMAT_F32, LOWBIT_FORMAT_F16, LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q8_0};
/* one block; rows not a multiple of any workgroup; a wider row; a tall-ish matrix */
static const shape shapes[] = {{1, 32}, {67, 96}, {129, 256}, {33, 1024}};

/* n = 1..9 and 16; a device must run the formats it lists itself (no CPU fallback). */
static void check_device_format_shape(size_t device, const lowbit_device_info *info, lowbit_format format, shape s)
{
    static const size_t batch[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16};
    const test_matmul_expect expect = {(info->formats >> format) & 1u ? 1 : 0, NULL, 0};
    test_check_matmul(context, device, format, s.rows, s.cols, batch, sizeof batch / sizeof batch[0],
                      LOWBIT_ACTIVATION_F32, &expect);
}

static void test_gemv_every_device(void **state)
{
    (void)state;
    for (size_t d = 0; d < device_count; ++d) {
        lowbit_device_info info = {.struct_size = sizeof info};
        assert_int_equal(lowbit_device_get_info(context, d, &info), LOWBIT_OK);
        for (size_t f = 0; f < sizeof formats / sizeof formats[0]; ++f)
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s)
                check_device_format_shape(d, &info, formats[f], shapes[s]);
        print_message("[ device   ] %s (%s): %zu formats x %zu shapes x 10 batch sizes within NMSE %.0e\n", info.id,
                      info.name, sizeof formats / sizeof formats[0], sizeof shapes / sizeof shapes[0], TEST_NMSE_LIMIT);
    }
}

/* Every stored format on the CPU backend (the fallback for all of them): its fused block kernels, not the
 * dequantize-a-row path, within NMSE 1e-6 for n = 1..9 and 16. BF16 alone keeps the row path. */
static void test_cpu_every_format(void **state)
{
    (void)state;
    static const lowbit_format all[] = {
        LOWBIT_FORMAT_F32,  LOWBIT_FORMAT_F16,  LOWBIT_FORMAT_BF16, LOWBIT_FORMAT_Q4_0,   LOWBIT_FORMAT_Q4_1,
        LOWBIT_FORMAT_Q5_0, LOWBIT_FORMAT_Q5_1, LOWBIT_FORMAT_Q8_0, LOWBIT_FORMAT_IQ4_NL, LOWBIT_FORMAT_Q2_K,
        LOWBIT_FORMAT_Q3_K, LOWBIT_FORMAT_Q4_K, LOWBIT_FORMAT_Q5_K, LOWBIT_FORMAT_Q6_K,   LOWBIT_FORMAT_IQ4_XS,
        LOWBIT_FORMAT_TQ1_0, LOWBIT_FORMAT_TQ2_0};
    static const shape block_shapes[] = {{1, 256}, {67, 512}, {19, 1280}};
    size_t cpu = 0;
    lowbit_device_info info = {.struct_size = sizeof info};
    for (cpu = 0; cpu < device_count; ++cpu) {
        assert_int_equal(lowbit_device_get_info(context, cpu, &info), LOWBIT_OK);
        if (info.api == LOWBIT_API_CPU) break;
    }
    assert_true(cpu < device_count);
    for (size_t f = 0; f < sizeof all / sizeof all[0]; ++f) {
        for (size_t s = 0; s < sizeof block_shapes / sizeof block_shapes[0]; ++s)
            check_device_format_shape(cpu, &info, all[f], block_shapes[s]);
        lowbit_run_info run = {.struct_size = sizeof run};
        assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
        if (all[f] != LOWBIT_FORMAT_BF16 && strstr(run.kernel, "dequant_row") != NULL)
            fail_msg("cpu %s ran %s, not a fused kernel", lowbit_format_name(all[f]), run.kernel);
    }
}

/* f16 activations, selected per call: every device gives the f64 result over the f16-rounded X. */
static void test_f16_activations_every_device(void **state)
{
    (void)state;
    const size_t rows = 67, cols = 256, n = 5;
    uint16_t x16[5 * 256];
    float x[5 * 256], y[5 * 67];
    double reference[5 * 67];
    test_fill_random(x, n * cols, 99, 1.0f);
    for (size_t i = 0; i < n * cols; ++i) {
        x16[i] = lowbit_fp32_to_fp16(x[i]);
        x[i] = lowbit_fp16_to_fp32(x16[i]); /* the reference sees exactly the values the kernel reads */
    }
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; ++f) {
        size_t size = 0;
        void *packed = test_make_weights(formats[f], rows, cols, 100 + f, &size);
        test_reference_matmul(formats[f], packed, size, rows, cols, x, n, reference);
        for (size_t d = 0; d < device_count; ++d) {
            lowbit_device_info info = {.struct_size = sizeof info};
            assert_int_equal(lowbit_device_get_info(context, d, &info), LOWBIT_OK);
            lowbit_weights *weights = NULL;
            assert_int_equal(lowbit_weights_upload(context, d, formats[f], rows, cols, packed, size, 0, &weights),
                             LOWBIT_OK);
            assert_int_equal(lowbit_matmul_ex(context, weights, x16, LOWBIT_ACTIVATION_F16, y, n), LOWBIT_OK);
            lowbit_run_info run = {.struct_size = sizeof run};
            assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
            assert_int_equal(run.fell_back, 0);
            if (info.api == LOWBIT_API_CPU) assert_int_equal(run.activations_widened, 0); /* the backend reads f16 */
            double error = test_nmse(y, reference, n * rows);
            if (!(error <= 1e-6))
                fail_msg("%s %s f16 activations: NMSE %.3e", info.id, lowbit_format_name(formats[f]), error);
            lowbit_weights_destroy(weights);
        }
        free(packed);
    }
    /* an unknown activation type is an argument error */
    lowbit_weights *weights = NULL;
    size_t size = 0;
    void *packed = test_make_weights(LOWBIT_FORMAT_Q8_0, 4, 32, 5, &size);
    assert_int_equal(lowbit_weights_upload(context, 0, LOWBIT_FORMAT_Q8_0, 4, 32, packed, size, 0, &weights), LOWBIT_OK);
    assert_int_equal(lowbit_matmul_ex(context, weights, x, (lowbit_activation)7, y, 1), LOWBIT_ERROR_INVALID_ARGUMENT);
    lowbit_weights_destroy(weights);
    free(packed);
}

typedef struct thread_job {
    const lowbit_weights *weights;
    const float *x;
    float *y;
    size_t n;
    lowbit_status status;
} thread_job;

static void *thread_run(void *arg)
{
    thread_job *job = arg;
    for (int repeat = 0; repeat < 4 && job->status == LOWBIT_OK; ++repeat)
        job->status = lowbit_matmul(context, job->weights, job->x, job->y, job->n);
    return NULL;
}

static void test_threads_match_serial(void **state)
{
    (void)state;
    const size_t rows = 96, cols = 512, n = 3, threads = 4;
    size_t size = 0;
    void *packed = test_make_weights(LOWBIT_FORMAT_Q4_0, rows, cols, 77, &size);
    float *x = malloc(n * cols * sizeof(float)), *serial = malloc(n * rows * sizeof(float));
    float *results = malloc(threads * n * rows * sizeof(float));
    test_fill_random(x, n * cols, 78, 1.0f);
    for (size_t d = 0; d < device_count; ++d) {
        lowbit_weights *weights = NULL;
        assert_int_equal(lowbit_weights_upload(context, d, LOWBIT_FORMAT_Q4_0, rows, cols, packed, size, 0, &weights),
                         LOWBIT_OK);
        assert_int_equal(lowbit_matmul(context, weights, x, serial, n), LOWBIT_OK);
        pthread_t handles[4];
        thread_job jobs[4];
        for (size_t t = 0; t < threads; ++t) {
            jobs[t] = (thread_job){weights, x, results + t * n * rows, n, LOWBIT_OK};
            assert_int_equal(pthread_create(&handles[t], NULL, thread_run, &jobs[t]), 0);
        }
        for (size_t t = 0; t < threads; ++t) {
            pthread_join(handles[t], NULL);
            assert_int_equal(jobs[t].status, LOWBIT_OK);
            assert_memory_equal(results + t * n * rows, serial, n * rows * sizeof(float));
        }
        lowbit_weights_destroy(weights);
    }
    free(x), free(serial), free(results), free(packed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ci_devices_present),
        cmocka_unit_test(test_gemv_every_device),
        cmocka_unit_test(test_cpu_every_format),
        cmocka_unit_test(test_f16_activations_every_device),
        cmocka_unit_test(test_threads_match_serial),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
