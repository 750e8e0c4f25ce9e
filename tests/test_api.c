/* test_api.c — public API misuse: NULL pointers, zero and oversize sizes, shape/format mismatches,
 * n = 0, destroyed handles, bad struct sizes, bad environment. Each gets an error status and a
 * message, never a crash. */
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

static lowbit_context *context;

static int setup(void **state)
{
    (void)state;
    lowbit_context_options options = {sizeof options, LOWBIT_CONTEXT_NO_PLUGINS, NULL, NULL, 0, NULL};
    return lowbit_context_create(&options, &context) == LOWBIT_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    lowbit_context_destroy(context);
    return 0;
}

#define ASSERT_FAILS(call, expected)                                                                                   \
    do {                                                                                                               \
        assert_int_equal((call), (expected));                                                                          \
        assert_true(strlen(lowbit_last_error()) > 0);                                                                  \
    } while (0)

static void test_version_and_strings(void **state)
{
    (void)state;
    int major = -1, minor = -1, patch = -1;
    lowbit_version(&major, &minor, &patch);
    assert_int_equal(major, LOWBIT_VERSION_MAJOR);
    assert_int_equal(minor, LOWBIT_VERSION_MINOR);
    lowbit_version(NULL, NULL, NULL);
    assert_string_equal(lowbit_status_string(LOWBIT_OK), "ok");
    assert_string_equal(lowbit_status_string((lowbit_status)-999), "unknown status");
    assert_string_equal(lowbit_format_name(LOWBIT_FORMAT_Q4_0), "Q4_0");
    assert_string_equal(lowbit_format_name(999), "?");
}

static void test_context_arguments(void **state)
{
    (void)state;
    ASSERT_FAILS(lowbit_context_create(NULL, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    lowbit_context *other = (lowbit_context *)0x1;
    lowbit_context_options bad = {0, 0, NULL, NULL, 0, NULL};
    ASSERT_FAILS(lowbit_context_create(&bad, &other), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_null(other);
    lowbit_context_options no_files = {sizeof no_files, 0, NULL, NULL, 2, NULL};
    ASSERT_FAILS(lowbit_context_create(&no_files, &other), LOWBIT_ERROR_INVALID_ARGUMENT);
    lowbit_context_destroy(NULL); /* a no-op, like free(NULL) */
}

static void test_device_arguments(void **state)
{
    (void)state;
    size_t count = 0;
    ASSERT_FAILS(lowbit_device_count(NULL, &count), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_device_count(context, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_device_count(context, &count), LOWBIT_OK);
    assert_int_equal(count, 1); /* CPU only: plugins were disabled */
    lowbit_device_info info = {.struct_size = sizeof info};
    ASSERT_FAILS(lowbit_device_get_info(context, 1, &info), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_device_get_info(context, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    lowbit_device_info small = {.struct_size = 8};
    ASSERT_FAILS(lowbit_device_get_info(context, 0, &small), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_device_get_info(context, 0, &info), LOWBIT_OK);
    assert_string_equal(info.id, "cpu");
    assert_int_equal(info.api, LOWBIT_API_CPU);
    assert_true(info.formats & (1ull << LOWBIT_FORMAT_Q4_0));
    size_t device = 99;
    ASSERT_FAILS(lowbit_device_find(context, "vulkan:7", &device), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(lowbit_last_error(), "cpu"));
    ASSERT_FAILS(lowbit_device_find(context, NULL, &device), LOWBIT_ERROR_INVALID_ARGUMENT);
    setenv("LOWBIT_DEVICE", "opencl:42", 1);
    ASSERT_FAILS(lowbit_device_default(context, &device), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(lowbit_last_error(), "LOWBIT_DEVICE=opencl:42"));
    setenv("LOWBIT_DEVICE", "cpu", 1);
    assert_int_equal(lowbit_device_default(context, &device), LOWBIT_OK);
    assert_int_equal(device, 0);
    unsetenv("LOWBIT_DEVICE");
}

static void test_upload_arguments(void **state)
{
    (void)state;
    size_t size = 0;
    void *packed = test_make_weights(LOWBIT_FORMAT_Q4_0, 4, 64, 1, &size);
    lowbit_weights *w = NULL;
    const lowbit_format q4 = LOWBIT_FORMAT_Q4_0;
    ASSERT_FAILS(lowbit_weights_upload(NULL, 0, q4, 4, 64, packed, size, 0, &w), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_weights_upload(context, 0, q4, 4, 64, NULL, size, 0, &w), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_weights_upload(context, 0, q4, 4, 64, packed, size, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_weights_upload(context, 0, q4, 0, 64, packed, size, 0, &w), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_weights_upload(context, 0, q4, 4, 0, packed, size, 0, &w), LOWBIT_ERROR_INVALID_ARGUMENT);
    /* cols not a multiple of the block */
    ASSERT_FAILS(lowbit_weights_upload(context, 0, q4, 4, 48, packed, size, 0, &w), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(lowbit_last_error(), "block size 32"));
    /* byte count that does not match the shape */
    ASSERT_FAILS(lowbit_weights_upload(context, 0, q4, 4, 64, packed, size - 1, 0, &w), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(lowbit_last_error(), "take 144 bytes"));
    ASSERT_FAILS(lowbit_weights_upload(context, 0, q4, 5, 64, packed, size, 0, &w), LOWBIT_ERROR_INVALID_ARGUMENT);
    /* oversize: rows × row bytes overflows size_t */
    ASSERT_FAILS(lowbit_weights_upload(context, 0, q4, SIZE_MAX / 4, 64, packed, size, 0, &w),
                 LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_weights_upload(context, 0, (lowbit_format)77, 4, 64, packed, size, 0, &w),
                 LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_weights_upload(context, 0, LOWBIT_FORMAT_Q8_K, 4, 256, packed, size, 0, &w),
                 LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(lowbit_last_error(), "activation type"));
    ASSERT_FAILS(lowbit_weights_upload(context, 5, q4, 4, 64, packed, size, 0, &w), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_weights_upload(context, 0, q4, 4, 64, packed, size, 0x80, &w), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_null(w);
    free(packed);
}

static void test_matmul_arguments_and_destroyed_handles(void **state)
{
    (void)state;
    size_t size = 0;
    void *packed = test_make_weights(LOWBIT_FORMAT_Q8_0, 4, 64, 2, &size);
    lowbit_weights *w = NULL;
    assert_int_equal(lowbit_weights_upload(context, 0, LOWBIT_FORMAT_Q8_0, 4, 64, packed, size, 0, &w), LOWBIT_OK);
    float x[64] = {0}, y[4];
    ASSERT_FAILS(lowbit_matmul(NULL, w, x, y, 1), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_matmul(context, NULL, x, y, 1), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_matmul(context, w, NULL, y, 1), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_matmul(context, w, x, NULL, 1), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_matmul(context, w, x, y, 0), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_matmul(context, w, x, y, SIZE_MAX / 2), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_matmul(context, w, x, y, 1), LOWBIT_OK);
    /* X and Y may not overlap, whatever the activation type (the CPU backend used to answer in place) */
    float shared[72] = {0};
    ASSERT_FAILS(lowbit_matmul(context, w, shared, shared, 1), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(lowbit_last_error(), "overlap"));
    ASSERT_FAILS(lowbit_matmul(context, w, shared, shared + 60, 1), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_matmul_ex(context, w, shared, LOWBIT_ACTIVATION_F16, shared + 31, 1),
                 LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_matmul_ex(context, w, shared, LOWBIT_ACTIVATION_F16, shared + 32, 1), LOWBIT_OK);
    assert_int_equal(lowbit_matmul(context, w, shared + 4, shared, 1), LOWBIT_OK); /* y ends where x starts */

    /* weights from another context */
    lowbit_context *other = NULL;
    lowbit_context_options options = {sizeof options, LOWBIT_CONTEXT_NO_PLUGINS, NULL, NULL, 0, NULL};
    assert_int_equal(lowbit_context_create(&options, &other), LOWBIT_OK);
    ASSERT_FAILS(lowbit_matmul(other, w, x, y, 1), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(lowbit_last_error(), "another context"));
    lowbit_run_info run = {.struct_size = sizeof run};
    ASSERT_FAILS(lowbit_last_run(other, &run), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_last_run(context, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);

    /* destroyed weights, destroyed twice, and a destroyed context */
    lowbit_weights_destroy(w);
    ASSERT_FAILS(lowbit_matmul(context, w, x, y, 1), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(lowbit_last_error(), "destroyed"));
    setenv("LOWBIT_LOG", "error", 1);
    lowbit_log_set_callback(NULL, NULL, LOWBIT_LOG_ERROR);
    lowbit_weights_destroy(w); /* logged and ignored */
    lowbit_context_destroy(other);
    size_t count;
    ASSERT_FAILS(lowbit_device_count(other, &count), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_matmul(other, w, x, y, 1), LOWBIT_ERROR_INVALID_ARGUMENT);
    free(packed);
}

static void test_context_destroy_releases_weights(void **state)
{
    (void)state;
    lowbit_context *own = NULL;
    lowbit_context_options options = {sizeof options, LOWBIT_CONTEXT_NO_PLUGINS, NULL, NULL, 0, NULL};
    assert_int_equal(lowbit_context_create(&options, &own), LOWBIT_OK);
    size_t size = 0;
    void *packed = test_make_weights(LOWBIT_FORMAT_F16, 3, 5, 3, &size);
    lowbit_weights *w = NULL;
    assert_int_equal(lowbit_weights_upload(own, 0, LOWBIT_FORMAT_F16, 3, 5, packed, size, 0, &w), LOWBIT_OK);
    lowbit_context_destroy(own); /* releases w too: no leak under ASan */
    float x[5] = {0}, y[3];
    ASSERT_FAILS(lowbit_matmul(own, w, x, y, 1), LOWBIT_ERROR_INVALID_ARGUMENT);
    free(packed);
}

/* Regression: destroying a destroyed or foreign context read (and freed) memory it did not own. Now it is
 * an error with a message and nothing is touched: a foreign block full of 0xff bytes (whose "plugin count"
 * would be huge) survives intact. */
static void test_context_destroy_twice_and_foreign(void **state)
{
    (void)state;
    lowbit_context *own = NULL;
    lowbit_context_options options = {sizeof options, LOWBIT_CONTEXT_NO_PLUGINS, NULL, NULL, 0, NULL};
    assert_int_equal(lowbit_context_create(&options, &own), LOWBIT_OK);
    lowbit_log_set_callback(NULL, NULL, LOWBIT_LOG_ERROR);
    lowbit_context_destroy(own);
    lowbit_context_destroy(own); /* logged and ignored */
    assert_non_null(strstr(lowbit_last_error(), "already destroyed"));

    unsigned char *foreign = malloc(4096);
    assert_non_null(foreign);
    memset(foreign, 0xff, 4096);
    lowbit_context_destroy((lowbit_context *)foreign);
    assert_non_null(strstr(lowbit_last_error(), "already destroyed"));
    for (size_t i = 0; i < 4096; ++i)
        assert_int_equal(foreign[i], 0xff);
    free(foreign);

    /* a context created after the double destroy works (the handle table is intact) */
    assert_int_equal(lowbit_context_create(&options, &own), LOWBIT_OK);
    size_t count = 0;
    assert_int_equal(lowbit_device_count(own, &count), LOWBIT_OK);
    assert_true(count >= 1);
    lowbit_context_destroy(own);
}

static int log_calls;
static void count_log(lowbit_log_level level, const char *message, void *user)
{
    (void)level, (void)message;
    ++*(int *)user;
}

static void test_log_callback(void **state)
{
    (void)state;
    log_calls = 0;
    lowbit_log_set_callback(count_log, &log_calls, LOWBIT_LOG_DEBUG);
    lowbit_weights *w = NULL;
    lowbit_weights_upload(context, 0, LOWBIT_FORMAT_Q4_0, 1, 32, NULL, 18, 0, &w); /* errors log at debug */
    assert_true(log_calls > 0);
    lowbit_log_set_callback(NULL, NULL, LOWBIT_LOG_WARN);
}

static void test_quantize_arguments(void **state)
{
    (void)state;
    float values[64] = {0};
    unsigned char out[36];
    ASSERT_FAILS(lowbit_quantize(LOWBIT_FORMAT_Q4_0, NULL, 1, 64, out, 36, NULL, 1), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_quantize(LOWBIT_FORMAT_Q4_0, values, 1, 64, out, 35, NULL, 1), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_quantize(LOWBIT_FORMAT_Q4_0, values, 1, 40, out, 36, NULL, 1), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_quantize(123, values, 1, 64, out, 36, NULL, 1), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_dequantize(LOWBIT_FORMAT_Q4_0, out, 36, 0, 64, values), LOWBIT_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(lowbit_dequantize(LOWBIT_FORMAT_Q4_0, out, 36, 1, 64, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_quantize(LOWBIT_FORMAT_Q4_0, values, 1, 64, out, 36, NULL, 1), LOWBIT_OK);
    lowbit_format format;
    assert_int_equal(lowbit_format_from_name("q8_0", &format), 0);
    assert_int_equal(format, LOWBIT_FORMAT_Q8_0);
    assert_int_equal(lowbit_format_from_name("Q9_9", &format), -1);
    assert_int_equal(lowbit_format_row_size(LOWBIT_FORMAT_Q4_0, 33), 0);
    assert_int_equal(lowbit_format_row_size(LOWBIT_FORMAT_Q4_0, 64), 36);
}

/* LOWBIT_CPU_THREADS caps the CPU backend's threads per matmul (the kernel name says how many ran); a value out of
 * range is ignored. Read when a context's CPU backend starts. */
static void check_cpu_threads(const char *value, int expect_one)
{
    setenv("LOWBIT_CPU_THREADS", value, 1);
    lowbit_context *ctx = NULL;
    assert_int_equal(lowbit_context_create(&(lowbit_context_options){.struct_size = sizeof(lowbit_context_options),
                                                                     .flags = LOWBIT_CONTEXT_NO_PLUGINS},
                                           &ctx),
                     LOWBIT_OK);
    unsetenv("LOWBIT_CPU_THREADS");
    size_t size = 0;
    void *packed = test_make_weights(LOWBIT_FORMAT_Q8_0, 1024, 1024, 3, &size);
    lowbit_weights *weights = NULL;
    assert_int_equal(lowbit_weights_upload(ctx, 0, LOWBIT_FORMAT_Q8_0, 1024, 1024, packed, size, 0, &weights),
                     LOWBIT_OK);
    float *x = calloc(1024, sizeof *x), *y = calloc(1024, sizeof *y);
    assert_true(x && y);
    assert_int_equal(lowbit_matmul(ctx, weights, x, y, 1), LOWBIT_OK);
    lowbit_run_info run = {.struct_size = sizeof run};
    assert_int_equal(lowbit_last_run(ctx, &run), LOWBIT_OK);
    if (expect_one)
        assert_non_null(strstr(run.kernel, "threads=1"));
    else
        assert_null(strstr(run.kernel, "threads=0"));
    free(x);
    free(y);
    free(packed);
    lowbit_weights_destroy(weights);
    lowbit_context_destroy(ctx);
}

static void test_cpu_threads_variable(void **state)
{
    (void)state;
    check_cpu_threads("1", 1);
    check_cpu_threads("0", 0);
    check_cpu_threads("12x", 0);
    check_cpu_threads("65", 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_and_strings),
        cmocka_unit_test(test_context_arguments),
        cmocka_unit_test(test_device_arguments),
        cmocka_unit_test(test_upload_arguments),
        cmocka_unit_test(test_matmul_arguments_and_destroyed_handles),
        cmocka_unit_test(test_context_destroy_releases_weights),
        cmocka_unit_test(test_context_destroy_twice_and_foreign),
        cmocka_unit_test(test_log_callback),
        cmocka_unit_test(test_quantize_arguments),
        cmocka_unit_test(test_cpu_threads_variable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
