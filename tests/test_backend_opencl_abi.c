/* test_backend_opencl_abi.c — the OpenCL plugin's ABI called directly, without the host runtime: version
 * refusal, struct sizes (an older host API without the newer members, a shorter device-info struct),
 * refusals the host turns into CPU fallbacks, and the ABI 1.1 bandwidth probe (also through the public API). */
#include <dlfcn.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lowbit/lowbit_backend.h"
#include "test_support.h"

static char plugin_error[512];
static void record_error(const char *message) { snprintf(plugin_error, sizeof plugin_error, "%s", message); }
static void quiet_log(lowbit_log_level level, const char *message) { (void)level, (void)message; }
static uint64_t small_cap(void) { return 1u << 20; }

static lowbit_backend_entry_fn load_entry(void **library)
{
    const char *folder = getenv("LOWBIT_TEST_BINARY_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/lib/liblowbit-opencl.so", folder ? folder : ".");
    *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (*library == NULL) fail_msg("dlopen %s: %s", path, dlerror());
    void *symbol = dlsym(*library, LOWBIT_BACKEND_ENTRY_SYMBOL);
    assert_non_null(symbol);
    lowbit_backend_entry_fn entry;
    memcpy(&entry, &symbol, sizeof entry);
    return entry;
}

/* The plugin started through its entry point by a host whose allocation cap is 1 MiB. */
static lowbit_backend *start_capped_backend(void **library)
{
    static lowbit_host_api host = {.struct_size = sizeof host,
                                   .abi_major = LOWBIT_BACKEND_ABI_MAJOR,
                                   .log = quiet_log,
                                   .set_error = record_error,
                                   .max_alloc_override = small_cap};
    lowbit_backend_entry_fn entry = load_entry(library);
    lowbit_backend *backend = NULL;
    assert_int_equal(entry(LOWBIT_BACKEND_ABI_MAJOR, LOWBIT_BACKEND_ABI_MINOR, &host, &backend), LOWBIT_OK);
    return backend;
}

static void test_plugin_refuses_other_major(void **state)
{
    (void)state;
    void *library = NULL;
    lowbit_backend_entry_fn entry = load_entry(&library);
    lowbit_host_api host = {.struct_size = sizeof host,
                            .abi_major = LOWBIT_BACKEND_ABI_MAJOR + 1,
                            .log = quiet_log,
                            .set_error = record_error};
    lowbit_backend *backend = (lowbit_backend *)&host; /* must be cleared */
    plugin_error[0] = '\0';
    assert_int_equal(entry(LOWBIT_BACKEND_ABI_MAJOR + 1, 0, &host, &backend), LOWBIT_ERROR_PLUGIN);
    assert_null(backend);
    assert_non_null(strstr(plugin_error, "ABI"));
    dlclose(library);
}

/* A host API from before fault_injected/max_alloc_override/cache_dir existed: the plugin must not touch them. */
static void test_plugin_with_older_host(void **state)
{
    (void)state;
    void *library = NULL;
    lowbit_backend_entry_fn entry = load_entry(&library);
    struct {
        lowbit_host_api api;
        char poison[64];
    } host;
    memset(&host, 0xA5, sizeof host); /* members past struct_size are garbage */
    host.api.struct_size = offsetof(lowbit_host_api, fault_injected);
    host.api.abi_major = LOWBIT_BACKEND_ABI_MAJOR;
    host.api.abi_minor = 0;
    host.api.log = quiet_log;
    host.api.set_error = record_error;
    lowbit_backend *backend = NULL;
    assert_int_equal(entry(LOWBIT_BACKEND_ABI_MAJOR, LOWBIT_BACKEND_ABI_MINOR + 5, &host.api, &backend), LOWBIT_OK);
    assert_non_null(backend);
    assert_true(backend->struct_size >= sizeof *backend);
    assert_int_equal(backend->abi_major, LOWBIT_BACKEND_ABI_MAJOR);
    assert_string_equal(backend->name, "opencl");
    assert_int_equal(backend->api, LOWBIT_API_OPENCL);
    size_t count = 0;
    assert_int_equal(backend->device_count(backend->self, &count), LOWBIT_OK);
    if (count > 0) {
        const size_t rows = 5, cols = 64;
        size_t size = 0;
        void *packed = test_make_weights(LOWBIT_FORMAT_Q8_0, rows, cols, 11, &size);
        lowbit_backend_tensor tensor = {sizeof tensor, LOWBIT_FORMAT_Q8_0, rows, cols, packed, size};
        void *weights = NULL;
        assert_int_equal(backend->weights_upload(backend->self, 0, &tensor, &weights), LOWBIT_OK);
        float x[64], y[5];
        double reference[5];
        test_fill_random(x, cols, 12, 1.0f);
        lowbit_backend_matmul_args args = {
            .struct_size = sizeof args, .weights = weights, .x = x, .x_type = LOWBIT_ACTIVATION_F32, .y = y, .n = 1};
        assert_int_equal(backend->matmul(backend->self, &args), LOWBIT_OK);
        assert_memory_equal(args.kernel, "gemv_q8_0", 9);
        test_reference_matmul(LOWBIT_FORMAT_Q8_0, packed, size, rows, cols, x, 1, reference);
        /* no params member in this host: dot=auto, which may pick the integer path (its bound is 5e-4) */
        const int quantized = strstr(args.kernel, " x=q8") != NULL;
        assert_true(test_nmse(y, reference, rows) <= (quantized ? 5e-4 : TEST_NMSE_LIMIT));
        backend->weights_release(backend->self, weights);
        free(packed);
    }
    backend->destroy(backend->self);
    dlclose(library);
}

/* ABI 1.1 measure_bandwidth: the streaming-read probe gives a finite positive rate, again on its reused
 * buffer, for sizes that are no multiple of the kernel's vector, and under the max-allocation cap. */
static void test_measure_bandwidth(void **state)
{
    (void)state;
    size_t device = 0;
    lowbit_context *context = test_open_device(LOWBIT_API_OPENCL, &device);
    if (!context) skip();
    double bandwidth = 0.0;
    assert_int_equal(lowbit_device_measure_bandwidth(context, device, (size_t)32 << 20, &bandwidth), LOWBIT_OK);
    if (!(isfinite(bandwidth) && bandwidth > 0.0 && bandwidth < 1e15)) fail_msg("bandwidth %.3e B/s", bandwidth);
    fprintf(stderr, "opencl stream read: %.2f GB/s\n", bandwidth * 1e-9);
    assert_int_equal(lowbit_device_measure_bandwidth(context, device, ((size_t)8 << 20) + 5, &bandwidth), LOWBIT_OK);
    assert_true(isfinite(bandwidth) && bandwidth > 0.0 && bandwidth < 1e15);
    assert_int_equal(lowbit_device_measure_bandwidth(context, device, 4100, &bandwidth), LOWBIT_OK);
    assert_true(isfinite(bandwidth) && bandwidth > 0.0 && bandwidth < 1e15);
    lowbit_context_destroy(context);

    /* The plugin's own entry: the member is set and refuses a NULL result. */
    void *library = NULL;
    lowbit_backend *backend = start_capped_backend(&library);
    assert_true(backend->struct_size >=
                offsetof(lowbit_backend, measure_bandwidth) + sizeof backend->measure_bandwidth);
    assert_non_null(backend->measure_bandwidth);
    assert_int_equal(backend->measure_bandwidth(backend->self, 0, 4096, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    size_t count = 0;
    assert_int_equal(backend->device_count(backend->self, &count), LOWBIT_OK);
    if (count > 0) {
        /* Larger than the 1 MiB cap: clamped, still measured. */
        bandwidth = 0.0;
        assert_int_equal(backend->measure_bandwidth(backend->self, 0, (size_t)64 << 20, &bandwidth), LOWBIT_OK);
        assert_true(isfinite(bandwidth) && bandwidth > 0.0);
        assert_int_equal(backend->measure_bandwidth(backend->self, count, 4096, &bandwidth),
                         LOWBIT_ERROR_INVALID_ARGUMENT);
    }
    backend->destroy(backend->self);
    dlclose(library);
}

static void test_plugin_device_info_and_refusals(void **state)
{
    (void)state;
    void *library = NULL;
    lowbit_backend *backend = start_capped_backend(&library);
    size_t count = 0;
    assert_int_equal(backend->device_count(backend->self, &count), LOWBIT_OK);
    if (count == 0) {
        backend->destroy(backend->self);
        dlclose(library);
        if (test_in_ci()) fail_msg("no OpenCL device under CI");
        skip();
    }
    lowbit_device_info info = {.struct_size = sizeof info};
    assert_int_equal(backend->device_info(backend->self, 0, &info), LOWBIT_OK);
    assert_string_equal(info.id, "opencl:0");
    assert_int_equal(info.max_allocation, 1u << 20); /* clamped by the host's override */
    assert_int_equal(info.max_buffer_range, 1u << 20);

    /* An older caller's shorter struct is filled only as far as it reaches. */
    lowbit_device_info shorter;
    memset(&shorter, 0x5A, sizeof shorter);
    shorter.struct_size = offsetof(lowbit_device_info, name);
    assert_int_equal(backend->device_info(backend->self, 0, &shorter), LOWBIT_OK);
    assert_string_equal(shorter.id, "opencl:0");
    assert_int_equal(shorter.struct_size, offsetof(lowbit_device_info, name));
    assert_int_equal((unsigned char)shorter.name[0], 0x5A);

    assert_int_equal(backend->device_info(backend->self, count, &info), LOWBIT_ERROR_INVALID_ARGUMENT);

    /* A format without a kernel is refused with a message, so the host runs it on the CPU. */
    unsigned char block[36] = {0};
    lowbit_backend_tensor tensor = {sizeof tensor, LOWBIT_FORMAT_Q8_1, 1, 32, block, sizeof block};
    void *weights = NULL;
    plugin_error[0] = '\0';
    assert_int_equal(backend->weights_upload(backend->self, 0, &tensor, &weights), LOWBIT_ERROR_UNSUPPORTED);
    assert_null(weights);
    assert_true(strlen(plugin_error) > 0);

    /* A row larger than one allocation cannot be split further. */
    const size_t wide = (1u << 20) / 4 + 32;
    float *row = calloc(wide, sizeof(float));
    tensor = (lowbit_backend_tensor){sizeof tensor, LOWBIT_FORMAT_F32, 1, wide, row, wide * sizeof(float)};
    assert_int_equal(backend->weights_upload(backend->self, 0, &tensor, &weights), LOWBIT_ERROR_UNSUPPORTED);
    free(row);

    /* A shape that does not match the byte count. */
    tensor = (lowbit_backend_tensor){sizeof tensor, LOWBIT_FORMAT_Q4_0, 2, 32, block, 18};
    assert_int_equal(backend->weights_upload(backend->self, 0, &tensor, &weights), LOWBIT_ERROR_INVALID_ARGUMENT);
    backend->destroy(backend->self);
    dlclose(library);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_measure_bandwidth),
        cmocka_unit_test(test_plugin_refuses_other_major),
        cmocka_unit_test(test_plugin_with_older_host),
        cmocka_unit_test(test_plugin_device_info_and_refusals),
    };
    setenv("LOWBIT_LOG", "error", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
