/* test_backend_vulkan.c — the Vulkan plugin through the public API: device info, fused GEMV for every
 * format it runs (NMSE ≤ 1e-6, n = 1..9 and 16, ragged rows, one block, wide rows; the split-layout kernels
 * and the raw-layout kernel of gemv_raw.comp with its layouts), the staging path, fault injection falling
 * back to the CPU, row splitting under LOWBIT_MAX_ALLOC, threads, kernel time (timestamp queries) and the
 * bandwidth probe (ABI 1.1), and a run under the validation layers. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include <unistd.h>

#include "lowbit/lowbit_backend.h"

#include "test_support.h"

#define NMSE_LIMIT 1e-6

typedef struct shape {
    size_t rows, cols;
} shape;

static void device_id(lowbit_context *context, size_t device, char *id, size_t size)
{
    lowbit_device_info info = {.struct_size = sizeof info};
    assert_int_equal(lowbit_device_get_info(context, device, &info), LOWBIT_OK);
    snprintf(id, size, "%s", info.id);
}

/* When set, every n ≥ 9 must have run a kernel whose name contains it (the GEMM tests: "gemm_"). */
static const char *expected_prefill_kernel;

/* Uploads one matrix and checks Y for every n against the f64 reference; `expect_fallback` says whether
 * the CPU must have run it (fault injection) or the Vulkan device. */
static void check_matmul(lowbit_context *context, size_t device, lowbit_format format, shape s, const size_t *ns,
                         size_t n_count, int expect_fallback)
{
    char id[32];
    device_id(context, device, id, sizeof id);
    size_t size = 0, n_max = 0;
    for (size_t i = 0; i < n_count; ++i)
        n_max = ns[i] > n_max ? ns[i] : n_max;
    uint64_t seed = (uint64_t)format * 7919u + s.rows * 131u + s.cols;
    void *packed = test_make_weights(format, s.rows, s.cols, seed, &size);
    lowbit_weights *weights = NULL;
    assert_int_equal(lowbit_weights_upload(context, device, format, s.rows, s.cols, packed, size, 0, &weights),
                     LOWBIT_OK);
    float *x = malloc(n_max * s.cols * sizeof(float));
    float *y = malloc(n_max * s.rows * sizeof(float));
    double *reference = malloc(n_max * s.rows * sizeof(double));
    assert_true(x && y && reference);
    test_fill_random(x, n_max * s.cols, seed + 1, 1.0f);
    test_reference_matmul(format, packed, size, s.rows, s.cols, x, n_max, reference);
    for (size_t i = 0; i < n_count; ++i) {
        size_t n = ns[i];
        memset(y, 0xFF, n * s.rows * sizeof(float)); /* NaN: a row the kernel skips cannot pass */
        assert_int_equal(lowbit_matmul(context, weights, x, y, n), LOWBIT_OK);
        double error = test_nmse(y, reference, n * s.rows); /* the first n reference rows belong to n */
        lowbit_run_info run = {.struct_size = sizeof run};
        assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
        if (!(error <= NMSE_LIMIT))
            fail_msg("%s %s %zux%zu n=%zu: NMSE %.3e (kernel %s)", id, lowbit_format_name(format), s.rows, s.cols, n,
                     error, run.kernel);
        if (expect_fallback) {
            if (!run.fell_back)
                fail_msg("%s %s: expected a CPU fallback, %s ran it", id, lowbit_format_name(format), run.device_id);
            assert_true(run.fallback_reason[0] != '\0');
        } else {
            if (run.fell_back)
                fail_msg("%s %s %zux%zu n=%zu fell back: %s", id, lowbit_format_name(format), s.rows, s.cols, n,
                         run.fallback_reason);
            assert_string_equal(run.device_id, id);
            assert_true(run.kernel[0] != '\0');
            if (expected_prefill_kernel && n >= 9 && !strstr(run.kernel, expected_prefill_kernel))
                fail_msg("%s %s %zux%zu n=%zu ran %s, not %s", id, lowbit_format_name(format), s.rows, s.cols, n,
                         run.kernel, expected_prefill_kernel);
        }
    }
    lowbit_weights_destroy(weights);
    free(packed);
    free(x);
    free(y);
    free(reference);
}

/* --- the plugin's entry point, called directly (no host runtime) ----------------------------------- */

static char entry_error[256];
static void entry_log(lowbit_log_level level, const char *message) { (void)level, (void)message; }
static void entry_set_error(const char *message) { snprintf(entry_error, sizeof entry_error, "%s", message); }
static int entry_no_fault(const char *site) { return (void)site, 0; }
static uint64_t entry_no_cap(void) { return 0; }
static const char *entry_no_cache(void) { return NULL; }

static void test_entry_checks_abi(void **state)
{
    (void)state;
    const char *binary_dir = getenv("LOWBIT_TEST_BINARY_DIR");
    if (!binary_dir) skip();
    char path[1024];
    snprintf(path, sizeof path, "%s/lib/liblowbit-vulkan.so", binary_dir);
    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!library) fail_msg("cannot open %s: %s", path, dlerror());
    void *symbol = dlsym(library, LOWBIT_BACKEND_ENTRY_SYMBOL);
    assert_non_null(symbol);
    lowbit_backend_entry_fn entry;
    memcpy(&entry, &symbol, sizeof entry);
    lowbit_host_api host = {sizeof host,
                            LOWBIT_BACKEND_ABI_MAJOR,
                            LOWBIT_BACKEND_ABI_MINOR,
                            entry_log,
                            entry_set_error,
                            entry_no_fault,
                            entry_no_cap,
                            entry_no_cache};
    lowbit_backend *backend = NULL;
    entry_error[0] = '\0';
    assert_int_equal(entry(LOWBIT_BACKEND_ABI_MAJOR + 1, 0, &host, &backend), LOWBIT_ERROR_PLUGIN);
    assert_null(backend);
    assert_non_null(strstr(entry_error, "ABI"));
    /* a newer minor is fine; the vtable is complete */
    assert_int_equal(entry(LOWBIT_BACKEND_ABI_MAJOR, LOWBIT_BACKEND_ABI_MINOR + 3, &host, &backend), LOWBIT_OK);
    assert_non_null(backend);
    assert_int_equal(backend->abi_major, LOWBIT_BACKEND_ABI_MAJOR);
    assert_true(backend->struct_size >= sizeof *backend);
    assert_string_equal(backend->name, "vulkan");
    assert_int_equal(backend->api, LOWBIT_API_VULKAN);
    assert_true(backend->device_count && backend->device_info && backend->weights_upload && backend->weights_release &&
                backend->matmul && backend->destroy && backend->measure_bandwidth);
    size_t count = 99;
    assert_int_equal(backend->device_count(backend->self, &count), LOWBIT_OK);
    assert_true(count < 99);
    if (count > 0) { /* a caller with an older, shorter info struct gets only what it has room for */
        lowbit_device_info info;
        memset(&info, 0x5A, sizeof info);
        info.struct_size = offsetof(lowbit_device_info, name);
        assert_int_equal(backend->device_info(backend->self, 0, &info), LOWBIT_OK);
        assert_int_equal(info.struct_size, offsetof(lowbit_device_info, name));
        assert_int_equal(strncmp(info.id, "vulkan:0", 8), 0);
        assert_int_equal((unsigned char)info.name[0], 0x5A);
    }
    backend->destroy(backend->self);
    dlclose(library);
}

/* A loader that finds no ICD: the context still opens, with no Vulkan device and no error. */
static void test_no_driver_means_no_devices(void **state)
{
    (void)state;
    setenv("VK_ICD_FILENAMES", "/nonexistent/lowbit-test-icd.json", 1);
    setenv("VK_DRIVER_FILES", "/nonexistent/lowbit-test-icd.json", 1);
    lowbit_context *context = NULL;
    lowbit_status status = lowbit_context_create(NULL, &context);
    size_t count = 0;
    if (status == LOWBIT_OK) status = lowbit_device_count(context, &count);
    for (size_t i = 0; status == LOWBIT_OK && i < count; ++i) {
        lowbit_device_info info = {.struct_size = sizeof info};
        status = lowbit_device_get_info(context, i, &info);
        if (status == LOWBIT_OK && info.api == LOWBIT_API_VULKAN) fail_msg("%s listed without a driver", info.id);
    }
    lowbit_context_destroy(context);
    unsetenv("VK_ICD_FILENAMES");
    unsetenv("VK_DRIVER_FILES");
    assert_int_equal(status, LOWBIT_OK);
}

static const lowbit_format formats[] = {LOWBIT_FORMAT_F32, LOWBIT_FORMAT_F16, LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q8_0};
/* Formats the raw kernel (gemv_raw.comp) runs from the stored block bytes. */
static const lowbit_format raw_formats[] = {
    LOWBIT_FORMAT_Q4_1,  LOWBIT_FORMAT_Q5_0,  LOWBIT_FORMAT_Q5_1, LOWBIT_FORMAT_IQ4_NL, LOWBIT_FORMAT_Q4_K,
    LOWBIT_FORMAT_Q6_K,  LOWBIT_FORMAT_Q5_K,  LOWBIT_FORMAT_Q2_K, LOWBIT_FORMAT_Q3_K,   LOWBIT_FORMAT_IQ4_XS,
    LOWBIT_FORMAT_TQ2_0, LOWBIT_FORMAT_TQ1_0, LOWBIT_FORMAT_BF16};
static const size_t all_batches[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16};

static void test_device_info(void **state)
{
    (void)state;
    lowbit_context *context;
    size_t device = 0;
    if (!(context = test_open_device(LOWBIT_API_VULKAN, &device))) skip();
    lowbit_device_info info = {.struct_size = sizeof info};
    assert_int_equal(lowbit_device_get_info(context, device, &info), LOWBIT_OK);
    assert_int_equal(info.api, LOWBIT_API_VULKAN);
    assert_int_equal(strncmp(info.id, "vulkan:", 7), 0);
    assert_true(info.name[0] && info.vendor[0] && info.driver_version[0]);
    unsigned major = 0, minor = 0, patch = 0;
    assert_int_equal(sscanf(info.api_version, "%u.%u.%u", &major, &minor, &patch), 3);
    assert_true(major == 1 && minor >= 1);
    assert_true(info.global_memory > 0);
    assert_true(info.max_allocation > 0 && info.max_buffer_range > 0);
    assert_true(info.max_workgroup_size >= 128); /* Vulkan's required minimum */
    assert_true(info.local_memory >= 16384);
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; ++i)
        assert_true((info.formats >> formats[i]) & 1u);
    for (size_t i = 0; i < sizeof raw_formats / sizeof raw_formats[0]; ++i)
        assert_true((info.formats >> raw_formats[i]) & 1u);
    assert_false((info.formats >> LOWBIT_FORMAT_Q8_K) & 1u); /* activation-only */
    if (strstr(info.name, "llvmpipe")) {
        assert_true(info.is_cpu_device);
        assert_true(info.subgroup_size > 0);
    }
    lowbit_device_find(context, info.id, &device);
    lowbit_context_destroy(context);
}

static void test_matmul_every_format(void **state)
{
    (void)state;
    lowbit_context *context;
    size_t device = 0;
    if (!(context = test_open_device(LOWBIT_API_VULKAN, &device))) skip();
    /* one block; ragged rows; more ragged rows with wider rows; a ~4096-wide row */
    static const shape shapes[] = {{1, 32}, {67, 96}, {129, 256}, {33, 4096}};
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; ++f)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s)
            check_matmul(context, device, formats[f], shapes[s], all_batches,
                         sizeof all_batches / sizeof all_batches[0], 0);
    lowbit_context_destroy(context);
}

/* The raw-layout formats: one block, ragged rows with 2 and 3 blocks per row, every n (all pipelines). */
static void test_matmul_raw_formats(void **state)
{
    (void)state;
    lowbit_context *context;
    size_t device = 0;
    if (!(context = test_open_device(LOWBIT_API_VULKAN, &device))) skip();
    static const size_t few_batches[] = {1, 9};
    for (size_t f = 0; f < sizeof raw_formats / sizeof raw_formats[0]; ++f) {
        lowbit_format format = raw_formats[f];
        size_t block = format == LOWBIT_FORMAT_BF16 ? 32 : lowbit_format_get(format)->block_size;
        shape one = {1, block}, ragged = {67, 3 * block}, two = {5, 2 * block};
        check_matmul(context, device, format, one, few_batches, 2, 0);
        check_matmul(context, device, format, ragged, all_batches, sizeof all_batches / sizeof all_batches[0], 0);
        check_matmul(context, device, format, two, few_batches, 2, 0);
    }
    /* BF16 rows of any length (the last 32-element group is partial) */
    static const shape odd[] = {{67, 33}, {5, 1}, {13, 250}};
    for (size_t s = 0; s < sizeof odd / sizeof odd[0]; ++s)
        check_matmul(context, device, LOWBIT_FORMAT_BF16, odd[s], few_batches, 2, 0);
    lowbit_context_destroy(context);
}

static void test_matmul_float_odd_columns(void **state)
{
    (void)state;
    lowbit_context *context;
    size_t device = 0;
    if (!(context = test_open_device(LOWBIT_API_VULKAN, &device))) skip();
    /* cols not a multiple of 4: the scalar path of the f32/f16 kernels */
    static const shape shapes[] = {{67, 33}, {5, 1}, {130, 250}};
    static const size_t batches[] = {1, 3, 8, 9};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
        check_matmul(context, device, LOWBIT_FORMAT_F32, shapes[s], batches, 4, 0);
        check_matmul(context, device, LOWBIT_FORMAT_F16, shapes[s], batches, 4, 0);
    }
    lowbit_context_destroy(context);
}

/* The tiled GEMM (gemm.comp) of every format that has one, with the CPU-class tiling (BM 128, BN 64) and the
 * GPU-class one (BM 64, BN 64) forced through LOWBIT_VULKAN_GEMM (whatever the device's table chooses):
 * n = 9, 16, 64, 65 (ragged activation tiles), ragged weight rows (67, 129: partial row tiles), one block
 * and several blocks per row (F32/F16 also a row that ends inside a 32-element group), then the row-split
 * path (one GEMM per weight part). */
static void test_gemm(void **state)
{
    (void)state;
    static const lowbit_format gemm_formats[] = {LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q8_0, LOWBIT_FORMAT_F16,
                                                 LOWBIT_FORMAT_F32,  LOWBIT_FORMAT_Q4_K, LOWBIT_FORMAT_Q6_K};
    static const size_t gemm_batches[] = {9, 16, 64, 65};
    static const char *const tilings[] = {"cpu", "gpu"};
    lowbit_context *context;
    size_t device = 0;
    if (!(context = test_open_device(LOWBIT_API_VULKAN, &device))) skip();
    expected_prefill_kernel = "gemm_";
    for (size_t t = 0; t < sizeof tilings / sizeof tilings[0]; ++t) {
        setenv("LOWBIT_VULKAN_GEMM", tilings[t], 1);
        for (size_t f = 0; f < sizeof gemm_formats / sizeof gemm_formats[0]; ++f) {
            lowbit_format format = gemm_formats[f];
            size_t block = format == LOWBIT_FORMAT_Q4_K || format == LOWBIT_FORMAT_Q6_K ? 256 : 32;
            shape shapes[] = {{67, block}, {129, 3 * block}, {67, 33}};
            size_t shape_count = format == LOWBIT_FORMAT_F32 || format == LOWBIT_FORMAT_F16 ? 3 : 2;
            for (size_t s = 0; s < shape_count; ++s)
                check_matmul(context, device, format, shapes[s], gemm_batches,
                             sizeof gemm_batches / sizeof gemm_batches[0], 0);
        }
    }
    lowbit_context_destroy(context);
    /* row splitting: several weight parts, a GEMM per part */
    setenv("LOWBIT_MAX_ALLOC", "16K", 1);
    setenv("LOWBIT_VULKAN_GEMM", "cpu", 1);
    assert_non_null(context = test_open_device(LOWBIT_API_VULKAN, &device));
    static const size_t split_batches[] = {9, 65};
    check_matmul(context, device, LOWBIT_FORMAT_Q4_0, (shape){129, 1024}, split_batches, 2, 0);
    check_matmul(context, device, LOWBIT_FORMAT_Q6_K, (shape){129, 512}, split_batches, 2, 0);
    check_matmul(context, device, LOWBIT_FORMAT_F16, (shape){301, 33}, split_batches, 2, 0);
    lowbit_context_destroy(context);
    /* off: the looped GEMV again */
    setenv("LOWBIT_VULKAN_GEMM", "off", 1);
    unsetenv("LOWBIT_MAX_ALLOC");
    expected_prefill_kernel = "gemv_";
    assert_non_null(context = test_open_device(LOWBIT_API_VULKAN, &device));
    check_matmul(context, device, LOWBIT_FORMAT_Q4_0, (shape){67, 64}, split_batches, 2, 0);
    lowbit_context_destroy(context);
    expected_prefill_kernel = NULL;
    unsetenv("LOWBIT_VULKAN_GEMM");
}

/* The kernel variants a device does not choose by default: the GPU layout (workgroups sharing a row,
 * shared-memory reduction) and the storage-buffer CPU module, forced through the tuning overrides. */
static void test_other_kernel_variants(void **state)
{
    (void)state;
    static const char *const params[] = {"64,2,gpu", "32,1,gpu", "8,3,cpu"};
    static const shape shapes[] = {{67, 96}, {1, 32}};
    static const size_t batches[] = {1, 9};
    for (int storage = 0; storage < 2; ++storage) {
        if (storage) setenv("LOWBIT_VULKAN_STORAGE_WEIGHTS", "1", 1);
        lowbit_context *context;
        size_t device = 0;
        if (!(context = test_open_device(LOWBIT_API_VULKAN, &device))) skip();
        for (size_t p = 0; p < sizeof params / sizeof params[0]; ++p) {
            setenv("LOWBIT_VULKAN_PARAMS", params[p], 1);
            for (size_t f = 0; f < sizeof formats / sizeof formats[0]; ++f)
                for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s)
                    check_matmul(context, device, formats[f], shapes[s], batches, 2, 0);
            lowbit_run_info run = {.struct_size = sizeof run};
            assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
            assert_non_null(strstr(run.kernel, strstr(params[p], "gpu") ? "gpu-layout" : "cpu-layout"));
        }
        unsetenv("LOWBIT_VULKAN_PARAMS");
        lowbit_context_destroy(context);
    }
    unsetenv("LOWBIT_VULKAN_STORAGE_WEIGHTS");
}

/* The raw kernel's other variants: the GPU layout for every raw format, the storage-buffer CPU module for a
 * few (one block per row and ragged rows). */
static void test_raw_kernel_variants(void **state)
{
    (void)state;
    static const size_t batches[] = {1, 3};
    setenv("LOWBIT_VULKAN_PARAMS", "32,2,gpu", 1);
    lowbit_context *context;
    size_t device = 0;
    if (!(context = test_open_device(LOWBIT_API_VULKAN, &device))) skip();
    for (size_t f = 0; f < sizeof raw_formats / sizeof raw_formats[0]; ++f) {
        lowbit_format format = raw_formats[f];
        size_t block = format == LOWBIT_FORMAT_BF16 ? 33 : lowbit_format_get(format)->block_size;
        check_matmul(context, device, format, (shape){67, 3 * block}, batches, 2, 0);
        lowbit_run_info run = {.struct_size = sizeof run};
        assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
        assert_non_null(strstr(run.kernel, "gpu-layout"));
    }
    lowbit_context_destroy(context);
    setenv("LOWBIT_VULKAN_PARAMS", "8,3,cpu", 1);
    setenv("LOWBIT_VULKAN_STORAGE_WEIGHTS", "1", 1);
    if (!(context = test_open_device(LOWBIT_API_VULKAN, &device))) skip();
    static const lowbit_format some[] = {LOWBIT_FORMAT_Q5_0, LOWBIT_FORMAT_Q3_K, LOWBIT_FORMAT_TQ1_0,
                                         LOWBIT_FORMAT_Q4_K, LOWBIT_FORMAT_Q6_K};
    for (size_t f = 0; f < sizeof some / sizeof some[0]; ++f) {
        size_t block = lowbit_format_get(some[f])->block_size;
        check_matmul(context, device, some[f], (shape){67, 2 * block}, batches, 2, 0);
        lowbit_run_info run = {.struct_size = sizeof run};
        assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
        assert_null(strstr(run.kernel, "texel"));
    }
    lowbit_context_destroy(context);
    unsetenv("LOWBIT_VULKAN_PARAMS");
    unsetenv("LOWBIT_VULKAN_STORAGE_WEIGHTS");
}

static void test_staging_upload(void **state)
{
    (void)state;
    setenv("LOWBIT_VULKAN_FORCE_STAGING", "1", 1);
    lowbit_context *context;
    size_t device = 0;
    int found = (context = test_open_device(LOWBIT_API_VULKAN, &device)) != NULL;
    if (found) {
        static const size_t batches[] = {1, 9};
        check_matmul(context, device, LOWBIT_FORMAT_Q4_0, (shape){67, 256}, batches, 2, 0);
        check_matmul(context, device, LOWBIT_FORMAT_F16, (shape){33, 96}, batches, 2, 0);
        check_matmul(context, device, LOWBIT_FORMAT_Q6_K, (shape){33, 512}, batches, 2, 0);
        lowbit_context_destroy(context);
    }
    unsetenv("LOWBIT_VULKAN_FORCE_STAGING");
    if (!found) skip();
}

/* Each fault site makes the Vulkan step fail; the host must still return the right answer from the CPU. */
static void test_fault_injection(void **state)
{
    (void)state;
    /* ("*.run" would also fail the CPU backend's own run, so it is not a Vulkan fallback case.) */
    static const char *const sites[] = {"vulkan.run", "vulkan.build", "vulkan.alloc", "vulkan.*"};
    static const size_t batches[] = {1, 9};
    for (size_t i = 0; i < sizeof sites / sizeof sites[0]; ++i) {
        setenv("LOWBIT_FAULT", sites[i], 1);
        lowbit_context *context;
        size_t device = 0;
        int found = (context = test_open_device(LOWBIT_API_VULKAN, &device)) != NULL;
        if (found) {
            check_matmul(context, device, LOWBIT_FORMAT_Q4_0, (shape){67, 96}, batches, 2, 1);
            check_matmul(context, device, LOWBIT_FORMAT_F32, (shape){5, 32}, batches, 2, 1);
            lowbit_context_destroy(context);
        }
        unsetenv("LOWBIT_FAULT");
        if (!found) skip();
    }
    /* with the fault gone the same context shape runs on the device again */
    lowbit_context *context;
    size_t device = 0;
    if (!(context = test_open_device(LOWBIT_API_VULKAN, &device))) skip();
    check_matmul(context, device, LOWBIT_FORMAT_Q4_0, (shape){67, 96}, batches, 2, 0);
    lowbit_context_destroy(context);
}

/* Every weight format has a Vulkan kernel now; what the device refuses is a shape: a single row larger than
 * one allocation (here a raw-layout Q4_K row under LOWBIT_MAX_ALLOC), which then runs on the CPU. */
static void test_unsupported_format(void **state)
{
    (void)state;
    setenv("LOWBIT_MAX_ALLOC", "4K", 1);
    lowbit_context *context;
    size_t device = 0;
    int found = (context = test_open_device(LOWBIT_API_VULKAN, &device)) != NULL;
    if (found) {
        size_t size = 0;
        void *packed = test_make_weights(LOWBIT_FORMAT_Q4_K, 2, 8192, 5, &size); /* 4608 bytes per row */
        lowbit_weights *weights = NULL;
        assert_int_equal(lowbit_weights_upload(context, device, LOWBIT_FORMAT_Q4_K, 2, 8192, packed, size,
                                               LOWBIT_UPLOAD_NO_FALLBACK, &weights),
                         LOWBIT_ERROR_UNSUPPORTED);
        assert_true(strlen(lowbit_last_error()) > 0);
        free(packed);
        static const size_t batches[] = {1};
        check_matmul(context, device, LOWBIT_FORMAT_Q4_K, (shape){2, 8192}, batches, 1, 1);
        lowbit_context_destroy(context);
    }
    unsetenv("LOWBIT_MAX_ALLOC");
    if (!found) skip();
}

/* LOWBIT_MAX_ALLOC below the matrix size: the plugin cuts the rows into several buffers and dispatches;
 * only a single row larger than the cap is refused (and then runs on the CPU). */
static void test_row_splitting(void **state)
{
    (void)state;
    setenv("LOWBIT_MAX_ALLOC", "16K", 1);
    lowbit_context *context;
    size_t device = 0;
    int found = (context = test_open_device(LOWBIT_API_VULKAN, &device)) != NULL;
    if (found) {
        lowbit_device_info info = {.struct_size = sizeof info};
        assert_int_equal(lowbit_device_get_info(context, device, &info), LOWBIT_OK);
        assert_true(info.max_allocation <= 16384 && info.max_buffer_range <= 16384);
        static const size_t batches[] = {1, 3, 9};
        check_matmul(context, device, LOWBIT_FORMAT_F32, (shape){64, 128}, batches, 3, 0);    /* 2 parts */
        check_matmul(context, device, LOWBIT_FORMAT_Q4_0, (shape){129, 1024}, batches, 3, 0); /* 5 parts */
        check_matmul(context, device, LOWBIT_FORMAT_Q8_0, (shape){100, 512}, batches, 3, 0);
        check_matmul(context, device, LOWBIT_FORMAT_F16, (shape){301, 33}, batches, 3, 0);   /* odd rows */
        check_matmul(context, device, LOWBIT_FORMAT_Q6_K, (shape){129, 512}, batches, 3, 0); /* raw: 4 parts */
        check_matmul(context, device, LOWBIT_FORMAT_Q5_0, (shape){301, 96}, batches, 3, 0);
        size_t size = 0;
        void *packed = test_make_weights(LOWBIT_FORMAT_F32, 3, 8192, 6, &size); /* 32 KiB per row */
        lowbit_weights *weights = NULL;
        assert_int_equal(lowbit_weights_upload(context, device, LOWBIT_FORMAT_F32, 3, 8192, packed, size,
                                               LOWBIT_UPLOAD_NO_FALLBACK, &weights),
                         LOWBIT_ERROR_UNSUPPORTED);
        assert_true(strlen(lowbit_last_error()) > 0);
        free(packed);
        check_matmul(context, device, LOWBIT_FORMAT_F32, (shape){3, 8192}, batches, 1, 1);
        lowbit_context_destroy(context);
    }
    unsetenv("LOWBIT_MAX_ALLOC");
    if (!found) skip();
}

typedef struct thread_job {
    lowbit_context *context;
    const lowbit_weights *weights;
    const float *x;
    float *y;
    size_t n;
    lowbit_status status;
} thread_job;

static void *thread_run(void *argument)
{
    thread_job *job = argument;
    for (int i = 0; i < 8 && job->status == LOWBIT_OK; ++i)
        job->status = lowbit_matmul(job->context, job->weights, job->x, job->y, job->n);
    return NULL;
}

static void test_threads_match_serial(void **state)
{
    (void)state;
    lowbit_context *context;
    size_t device = 0;
    if (!(context = test_open_device(LOWBIT_API_VULKAN, &device))) skip();
    enum { THREADS = 4, ROWS = 129, COLS = 512, N = 3 };
    size_t size = 0;
    void *packed = test_make_weights(LOWBIT_FORMAT_Q8_0, ROWS, COLS, 11, &size);
    lowbit_weights *weights = NULL;
    assert_int_equal(lowbit_weights_upload(context, device, LOWBIT_FORMAT_Q8_0, ROWS, COLS, packed, size, 0, &weights),
                     LOWBIT_OK);
    static float x[N * COLS], serial[N * ROWS], parallel[THREADS][N * ROWS];
    test_fill_random(x, N * COLS, 12, 1.0f);
    assert_int_equal(lowbit_matmul(context, weights, x, serial, N), LOWBIT_OK);
    pthread_t threads[THREADS];
    thread_job jobs[THREADS];
    for (int t = 0; t < THREADS; ++t) {
        jobs[t] = (thread_job){context, weights, x, parallel[t], N, LOWBIT_OK};
        assert_int_equal(pthread_create(&threads[t], NULL, thread_run, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; ++t) {
        pthread_join(threads[t], NULL);
        assert_int_equal(jobs[t].status, LOWBIT_OK);
        assert_memory_equal(parallel[t], serial, sizeof serial);
    }
    lowbit_weights_destroy(weights);
    free(packed);
    lowbit_context_destroy(context);
}

/* ABI 1.1: kernel time from timestamp queries, and the streaming-read bandwidth probe. */
static void test_kernel_time_and_bandwidth(void **state)
{
    (void)state;
    lowbit_context *context;
    size_t device = 0;
    if (!(context = test_open_device(LOWBIT_API_VULKAN, &device))) skip();
    enum { ROWS = 256, COLS = 1024 };
    size_t size = 0;
    void *packed = test_make_weights(LOWBIT_FORMAT_Q8_0, ROWS, COLS, 21, &size);
    lowbit_weights *weights = NULL;
    assert_int_equal(lowbit_weights_upload(context, device, LOWBIT_FORMAT_Q8_0, ROWS, COLS, packed, size,
                                           LOWBIT_UPLOAD_NO_FALLBACK, &weights),
                     LOWBIT_OK);
    static float x[2 * COLS], y[2 * ROWS];
    test_fill_random(x, 2 * COLS, 22, 1.0f);
    for (size_t n = 1; n <= 2; ++n) {
        assert_int_equal(lowbit_matmul(context, weights, x, y, n), LOWBIT_OK);
        lowbit_run_info run = {.struct_size = sizeof run};
        assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
        assert_false(run.fell_back);
        if (!(run.device_seconds > 0.0 && run.device_seconds <= run.wall_seconds))
            fail_msg("n=%zu: device %.3e s, wall %.3e s", n, run.device_seconds, run.wall_seconds);
    }
    lowbit_weights_destroy(weights);
    free(packed);
    double bandwidth = 0.0;
    assert_int_equal(lowbit_device_measure_bandwidth(context, device, (size_t)16 << 20, &bandwidth), LOWBIT_OK);
    if (!(bandwidth > 0.0 && bandwidth < 1e15)) fail_msg("bandwidth %.3e B/s", bandwidth);
    fprintf(stderr, "vulkan stream read: %.2f GB/s\n", bandwidth * 1e-9);
    /* again, with a size that is no multiple of 16, and a small one */
    assert_int_equal(lowbit_device_measure_bandwidth(context, device, ((size_t)16 << 20) + 5, &bandwidth), LOWBIT_OK);
    assert_true(bandwidth > 0.0 && bandwidth < 1e15);
    assert_int_equal(lowbit_device_measure_bandwidth(context, device, 8192, &bandwidth), LOWBIT_OK);
    assert_true(bandwidth > 0.0 && bandwidth < 1e15);
    lowbit_context_destroy(context);
}

/* --- validation layers ------------------------------------------------------------------------------ */

typedef struct log_counts {
    int validation_errors;
    int messenger_installed;
} log_counts;

static void count_log(lowbit_log_level level, const char *message, void *user)
{
    log_counts *counts = user;
    if (level == LOWBIT_LOG_ERROR && strstr(message, "validation")) {
        counts->validation_errors++;
        fprintf(stderr, "%s\n", message);
    }
    if (strstr(message, "validation layer enabled")) counts->messenger_installed++;
}

static void test_validation_layers_clean(void **state)
{
    (void)state;
    log_counts counts = {0, 0};
    setenv("LOWBIT_VULKAN_VALIDATION", "1", 1);
    lowbit_log_set_callback(count_log, &counts, LOWBIT_LOG_INFO);
    lowbit_context *context;
    size_t device = 0;
    int found = (context = test_open_device(LOWBIT_API_VULKAN, &device)) != NULL;
    if (found) {
        static const size_t batches[] = {1, 9};
        check_matmul(context, device, LOWBIT_FORMAT_Q4_0, (shape){67, 96}, batches, 2, 0);
        check_matmul(context, device, LOWBIT_FORMAT_F16, (shape){33, 34}, batches, 2, 0);
        check_matmul(context, device, LOWBIT_FORMAT_Q4_K, (shape){33, 512}, batches, 2, 0);
        lowbit_context_destroy(context);
    }
    /* the staging copies and a split matrix under the layers too */
    setenv("LOWBIT_VULKAN_FORCE_STAGING", "1", 1);
    setenv("LOWBIT_MAX_ALLOC", "4K", 1);
    if (found && (context = test_open_device(LOWBIT_API_VULKAN, &device)) != NULL) {
        static const size_t batches[] = {2};
        check_matmul(context, device, LOWBIT_FORMAT_Q8_0, (shape){70, 256}, batches, 1, 0);
        lowbit_context_destroy(context);
    }
    lowbit_log_set_callback(NULL, NULL, LOWBIT_LOG_WARN);
    unsetenv("LOWBIT_VULKAN_VALIDATION");
    unsetenv("LOWBIT_VULKAN_FORCE_STAGING");
    unsetenv("LOWBIT_MAX_ALLOC");
    if (!found) skip();
    int layer_installed = access("/usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json", R_OK) == 0;
    if (test_in_ci() || layer_installed) assert_true(counts.messenger_installed > 0);
    assert_int_equal(counts.validation_errors, 0);
}

/* A failed assertion leaves the test early: never let its environment leak into the next test. */
static int restore_environment(void **state)
{
    (void)state;
    unsetenv("LOWBIT_FAULT");
    unsetenv("LOWBIT_MAX_ALLOC");
    unsetenv("LOWBIT_VULKAN_FORCE_STAGING");
    unsetenv("LOWBIT_VULKAN_VALIDATION");
    unsetenv("LOWBIT_VULKAN_PARAMS");
    unsetenv("LOWBIT_VULKAN_GEMM");
    expected_prefill_kernel = NULL;
    unsetenv("LOWBIT_VULKAN_STORAGE_WEIGHTS");
    unsetenv("VK_ICD_FILENAMES");
    unsetenv("VK_DRIVER_FILES");
    lowbit_log_set_callback(NULL, NULL, LOWBIT_LOG_WARN);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_entry_checks_abi, restore_environment),
        cmocka_unit_test_teardown(test_no_driver_means_no_devices, restore_environment),
        cmocka_unit_test_teardown(test_device_info, restore_environment),
        cmocka_unit_test_teardown(test_matmul_every_format, restore_environment),
        cmocka_unit_test_teardown(test_matmul_raw_formats, restore_environment),
        cmocka_unit_test_teardown(test_matmul_float_odd_columns, restore_environment),
        cmocka_unit_test_teardown(test_gemm, restore_environment),
        cmocka_unit_test_teardown(test_other_kernel_variants, restore_environment),
        cmocka_unit_test_teardown(test_raw_kernel_variants, restore_environment),
        cmocka_unit_test_teardown(test_staging_upload, restore_environment),
        cmocka_unit_test_teardown(test_fault_injection, restore_environment),
        cmocka_unit_test_teardown(test_unsupported_format, restore_environment),
        cmocka_unit_test_teardown(test_row_splitting, restore_environment),
        cmocka_unit_test_teardown(test_threads_match_serial, restore_environment),
        cmocka_unit_test_teardown(test_kernel_time_and_bandwidth, restore_environment),
        cmocka_unit_test_teardown(test_validation_layers_clean, restore_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
