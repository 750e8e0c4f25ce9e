/* test_backend_vulkan.c — the Vulkan plugin through the public API: device info, fused GEMV for every
 * format it runs (NMSE ≤ 1e-6, n = 1..9 and 16, ragged rows, one block, wide rows; the split-layout kernels
 * and the raw-layout kernel of gemv_raw.comp with its layouts), the tiled GEMM for every format, f16
 * activations read by the shaders, the GPU layout's reduction with and without subgroups, the staging path,
 * fault injection falling back to the CPU, row splitting under LOWBIT_MAX_ALLOC, threads, kernel time
 * (timestamp queries) and the bandwidth probe (ABI 1.1), and a run under the validation layers. The plugin's
 * entry point called directly, and a loader without a driver, are in test_backend_vulkan_abi.c; the integer-dot
 * path (dot=int) in test_backend_vulkan_int.c. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_support.h"

typedef struct shape {
    size_t rows, cols;
} shape;

/* When set, every n ≥ 9 must have run a kernel whose name starts with it (the GEMM tests: "gemm_"), and
 * every smaller n a gemv_ kernel. */
static const char *expected_prefill_kernel;

/* The shared checker (test_support.c): `expect_fallback` says whether the CPU must have run it (fault
 * injection) or the Vulkan device; f16 X must be read by the device itself (" x=f16", not widened). */
static void check_matmul_x(lowbit_context *context, size_t device, lowbit_format format, shape s, const size_t *ns,
                           size_t n_count, int expect_fallback, lowbit_activation x_type)
{
    const test_matmul_expect expect = {expect_fallback ? -1 : 1, expected_prefill_kernel, 0};
    test_check_matmul(context, device, format, s.rows, s.cols, ns, n_count, x_type, &expect);
}

static void check_matmul(lowbit_context *context, size_t device, lowbit_format format, shape s, const size_t *ns,
                         size_t n_count, int expect_fallback)
{
    check_matmul_x(context, device, format, s, ns, n_count, expect_fallback, LOWBIT_ACTIVATION_F32);
}

static const lowbit_format formats[] = {LOWBIT_FORMAT_F32, LOWBIT_FORMAT_F16, LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q8_0};
/* Formats the raw kernel (gemv_raw.comp) runs from the stored block bytes. */
static const lowbit_format raw_formats[] = {
    LOWBIT_FORMAT_Q4_1,  LOWBIT_FORMAT_Q5_0,  LOWBIT_FORMAT_Q5_1, LOWBIT_FORMAT_IQ4_NL, LOWBIT_FORMAT_Q4_K,
    LOWBIT_FORMAT_Q6_K,  LOWBIT_FORMAT_Q5_K,  LOWBIT_FORMAT_Q2_K, LOWBIT_FORMAT_Q3_K,   LOWBIT_FORMAT_IQ4_XS,
    LOWBIT_FORMAT_TQ2_0, LOWBIT_FORMAT_TQ1_0, LOWBIT_FORMAT_BF16};
/* All 17 weight formats: the split-layout ones, then the raw ones (every format has a GEMV and a GEMM). */
static size_t all_formats(lowbit_format *out)
{
    size_t count = 0;
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; ++f)
        out[count++] = formats[f];
    for (size_t f = 0; f < sizeof raw_formats / sizeof raw_formats[0]; ++f)
        out[count++] = raw_formats[f];
    return count;
}

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

/* The tiled GEMM (gemm.comp) of every weight format with the GPU-class tiling (BM 64, BN 64), and with the
 * CPU-class one (BM 128, BN 64) for the split-layout formats, Q4_K, Q6_K and BF16 (the tiling code is the same
 * for every decoder, and each lavapipe pipeline of it takes about a second to build), both forced through
 * LOWBIT_VULKAN_GEMM (whatever the device's table chooses): n = 9, 16, 64, 65 (ragged activation tiles),
 * ragged weight rows (67, 129: partial row tiles), one block and several blocks per row (F32/F16/BF16 also a
 * row that ends inside a 32-element group), then the row-split path (one GEMM per weight part). */
static void test_gemm(void **state)
{
    (void)state;
    static const size_t gemm_batches[] = {9, 16, 64, 65};
    static const char *const tilings[] = {"gpu", "cpu"};
    static const lowbit_format cpu_tiling_raw[] = {LOWBIT_FORMAT_Q4_K, LOWBIT_FORMAT_Q6_K, LOWBIT_FORMAT_BF16};
    lowbit_format gemm_formats[32];
    size_t format_count = all_formats(gemm_formats);
    assert_int_equal(format_count, 17);
    lowbit_context *context;
    size_t device = 0;
    if (!(context = test_open_device(LOWBIT_API_VULKAN, &device))) skip();
    expected_prefill_kernel = "gemm_";
    for (size_t t = 0; t < sizeof tilings / sizeof tilings[0]; ++t) {
        setenv("LOWBIT_VULKAN_GEMM", tilings[t], 1);
        for (size_t f = 0; f < format_count; ++f) {
            lowbit_format format = gemm_formats[f];
            int cpu_tiled = f < sizeof formats / sizeof formats[0];
            for (size_t r = 0; r < sizeof cpu_tiling_raw / sizeof cpu_tiling_raw[0]; ++r)
                cpu_tiled |= format == cpu_tiling_raw[r];
            if (t == 1 && !cpu_tiled) continue;
            size_t block = lowbit_format_get(format)->block_size;
            int any_cols = block == 1; /* F32, F16, BF16 */
            if (any_cols) block = 32;
            shape shapes[] = {{67, block}, {129, 3 * block}, {67, 33}};
            for (size_t s = 0; s < (any_cols ? 3u : 2u); ++s)
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

/* f16 activations read by the shaders themselves (activations.glsl, X_F16): every format on the device's
 * default GEMV (n = 1; on lavapipe the texel modules, X through an RG32UI view) and on the GEMM (n = 9, 16,
 * 65); once per GEMV shader also n = 9 (a chunk of 8 and one of 1) there and n = 1, 3 on the GPU layout (its
 * storage path); one block per row with ragged rows, and F32/F16/BF16 rows of odd length (scalar paths, a
 * partial last group, an odd number of halves per row). X is read in one place per shader whatever the
 * format, so more batches per format would add pipeline builds (about a second each on lavapipe), not
 * coverage. */
static void test_f16_activations(void **state)
{
    (void)state;
    static const size_t one[] = {1}, gemv_batches[] = {9}, gpu_batches[] = {1, 3}, gemm_batches[] = {9, 16, 65};
    /* one format per GEMV shader (gemv_f32, _f16, _q4_0, _q8_0, _raw twice: block and element addressed) */
    static const lowbit_format per_shader[] = {LOWBIT_FORMAT_F32,  LOWBIT_FORMAT_F16,  LOWBIT_FORMAT_Q4_0,
                                               LOWBIT_FORMAT_Q8_0, LOWBIT_FORMAT_Q4_1, LOWBIT_FORMAT_BF16};
    static const struct {
        const char *params, *gemm;
        const size_t *batches;
        size_t batch_count;
        int every_format;
    } runs[] = {{NULL, "off", one, 1, 1},
                {NULL, "off", gemv_batches, 1, 0},
                {"64,1,gpu", NULL, gpu_batches, 2, 0},
                {NULL, "gpu", gemm_batches, 3, 1}};
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; ++r) {
        lowbit_format every[32];
        size_t count = all_formats(every);
        if (!runs[r].every_format) {
            count = sizeof per_shader / sizeof per_shader[0];
            memcpy(every, per_shader, sizeof per_shader);
        }
        if (runs[r].params) setenv("LOWBIT_VULKAN_PARAMS", runs[r].params, 1);
        if (runs[r].gemm) setenv("LOWBIT_VULKAN_GEMM", runs[r].gemm, 1);
        expected_prefill_kernel = runs[r].gemm && strcmp(runs[r].gemm, "off") != 0 ? "gemm_" : "gemv_";
        lowbit_context *context;
        size_t device = 0;
        if (!(context = test_open_device(LOWBIT_API_VULKAN, &device))) skip();
        for (size_t f = 0; f < count; ++f) {
            size_t block = lowbit_format_get(every[f])->block_size;
            check_matmul_x(context, device, every[f], (shape){67, block == 1 ? 64 : block}, runs[r].batches,
                           runs[r].batch_count, 0, LOWBIT_ACTIVATION_F16);
            if (block == 1)
                check_matmul_x(context, device, every[f], (shape){13, 33}, runs[r].batches, runs[r].batch_count, 0,
                               LOWBIT_ACTIVATION_F16);
        }
        lowbit_context_destroy(context);
        unsetenv("LOWBIT_VULKAN_PARAMS");
        unsetenv("LOWBIT_VULKAN_GEMM");
    }
    expected_prefill_kernel = NULL;
}

/* The GPU layout's workgroup reduction both ways (workgroup_sum.glsl): through subgroupAdd where the device
 * reports subgroup arithmetic (" sg" in the kernel name) and through shared memory only, switched by
 * LOWBIT_VULKAN_SUBGROUPS; at 64 invocations n = 1..8 (BATCH sums per call) for F32 and Q4_1 and n = 1, 3 for
 * the other GEMV shaders, and n = 1, 3 at 4 invocations (fewer than a lavapipe subgroup of 8: one partial
 * subgroup) and at 128 (more subgroups than a subgroup has invocations, so the second level loops). */
static void test_subgroup_reduction(void **state)
{
    (void)state;
    /* every GEMV shader; the odd workgroup sizes take the first two (the reduction is the same code in all) */
    static const lowbit_format some[] = {LOWBIT_FORMAT_F32, LOWBIT_FORMAT_Q4_1, LOWBIT_FORMAT_F16, LOWBIT_FORMAT_Q4_0,
                                         LOWBIT_FORMAT_Q8_0};
    static const size_t every_batch[] = {1, 2, 3, 4, 5, 6, 7, 8}, few_batches[] = {1, 3};
    static const struct {
        const char *params;
        const size_t *batches;
        size_t batch_count, first_format, format_count; /* some[first_format .. format_count - 1] */
    } runs[] = {{"64,1,gpu", every_batch, 8, 0, 2},
                {"64,1,gpu", few_batches, 2, 2, 5},
                {"4,2,gpu", few_batches, 2, 0, 2},
                {"128,1,gpu", few_batches, 2, 0, 2}};
    for (int subgroups = 0; subgroups < 2; ++subgroups) {
        setenv("LOWBIT_VULKAN_SUBGROUPS", subgroups ? "1" : "0", 1);
        for (size_t r = 0; r < sizeof runs / sizeof runs[0]; ++r) {
            setenv("LOWBIT_VULKAN_PARAMS", runs[r].params, 1);
            lowbit_context *context;
            size_t device = 0;
            if (!(context = test_open_device(LOWBIT_API_VULKAN, &device))) skip();
            lowbit_device_info info = {.struct_size = sizeof info};
            assert_int_equal(lowbit_device_get_info(context, device, &info), LOWBIT_OK);
            if (strstr(info.name, "llvmpipe")) assert_true(info.subgroups); /* lavapipe must run both paths */
            for (size_t f = runs[r].first_format; f < runs[r].format_count; ++f) {
                size_t block = lowbit_format_get(some[f])->block_size;
                /* 3 blocks per row: more groups than 4 invocations, fewer than 64 (idle invocations add 0) */
                check_matmul(context, device, some[f], (shape){67, 3 * (block == 1 ? 32 : block)}, runs[r].batches,
                             runs[r].batch_count, 0);
                lowbit_run_info run = {.struct_size = sizeof run};
                assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
                assert_non_null(strstr(run.kernel, "coop-layout"));
                if ((strstr(run.kernel, " sg") != NULL) != (subgroups && info.subgroups))
                    fail_msg("LOWBIT_VULKAN_SUBGROUPS=%d, subgroups %d: ran %s", subgroups, info.subgroups, run.kernel);
            }
            lowbit_context_destroy(context);
        }
    }
    unsetenv("LOWBIT_VULKAN_PARAMS");
    unsetenv("LOWBIT_VULKAN_SUBGROUPS");
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
            assert_non_null(strstr(run.kernel, strstr(params[p], "gpu") ? "coop-layout" : "row-layout"));
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
        assert_non_null(strstr(run.kernel, "coop-layout"));
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
        /* f16 X through its RGBA16F texel view, the subgroup modules (GPU layout) and the GEMM */
        check_matmul_x(context, device, LOWBIT_FORMAT_Q4_0, (shape){67, 96}, batches, 2, 0, LOWBIT_ACTIVATION_F16);
        setenv("LOWBIT_VULKAN_PARAMS", "64,1,gpu", 1);
        check_matmul_x(context, device, LOWBIT_FORMAT_Q5_K, (shape){33, 512}, batches, 2, 0, LOWBIT_ACTIVATION_F16);
        check_matmul(context, device, LOWBIT_FORMAT_F16, (shape){33, 34}, batches, 2, 0);
        unsetenv("LOWBIT_VULKAN_PARAMS");
        setenv("LOWBIT_VULKAN_GEMM", "gpu", 1);
        check_matmul_x(context, device, LOWBIT_FORMAT_IQ4_NL, (shape){67, 64}, batches, 2, 0, LOWBIT_ACTIVATION_F16);
        unsetenv("LOWBIT_VULKAN_GEMM");
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
    unsetenv("LOWBIT_VULKAN_SUBGROUPS");
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
        cmocka_unit_test_teardown(test_device_info, restore_environment),
        cmocka_unit_test_teardown(test_matmul_every_format, restore_environment),
        cmocka_unit_test_teardown(test_matmul_raw_formats, restore_environment),
        cmocka_unit_test_teardown(test_matmul_float_odd_columns, restore_environment),
        cmocka_unit_test_teardown(test_gemm, restore_environment),
        cmocka_unit_test_teardown(test_f16_activations, restore_environment),
        cmocka_unit_test_teardown(test_subgroup_reduction, restore_environment),
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
