/* test_backend_opencl.c — the OpenCL plugin through the public API: device info, fused GEMV for F32, F16,
 * Q4_0 and Q8_0 in both kernel layouts against the f64 reference, the tiled GEMM (n ≥ 9) for every format in
 * its streaming (CPU) and local-memory (GPU) shapes, f16 activations read natively by every kernel, the
 * cooperative layout's subgroup reduction (forced: refused without subgroups; emulated), row-split weights
 * past a forced allocation cap, the on-disk program cache, and CPU fallback under injected build/alloc/run
 * faults. The plugin's ABI called directly is in test_backend_opencl_abi.c, the formats read in their stored
 * layout in test_backend_opencl_stored.c, the integer-dot path (dot=int) in test_backend_opencl_int.c. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_support.h"

static char cache_dir[] = "/tmp/lowbit-test-opencl-XXXXXX";

typedef struct shape {
    size_t rows, cols;
} shape;

static int setup(void **state)
{
    (void)state;
    if (mkdtemp(cache_dir) == NULL) return -1;
    setenv("LOWBIT_CACHE_DIR", cache_dir, 1);
    setenv("LOWBIT_LOG", "error", 1); /* the fallback warnings below are expected */
    unsetenv("LOWBIT_FAULT");
    unsetenv("LOWBIT_MAX_ALLOC");
    unsetenv("LOWBIT_OPENCL_PARAMS");
    /* These tests check the float kernels (and the CPU backend's answers after a fallback) at the float bound: pin
     * dot=float for their contexts, whatever dot=auto picks per backend. */
    setenv("LOWBIT_PARAMS", "dot=float,tuning=0", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char command[256];
    snprintf(command, sizeof command, "rm -rf '%s'", cache_dir);
    return system(command) == 0 ? 0 : -1;
}

/* Formats the plugin reads in their stored (GGUF) layout, in gemv_legacy.cl and gemv_kquants.cl. */
static const lowbit_format stored_formats[] = {
    LOWBIT_FORMAT_Q4_1,   LOWBIT_FORMAT_Q5_0,  LOWBIT_FORMAT_Q5_1,  LOWBIT_FORMAT_IQ4_NL, LOWBIT_FORMAT_BF16,
    LOWBIT_FORMAT_Q4_K,   LOWBIT_FORMAT_Q6_K,  LOWBIT_FORMAT_Q5_K,  LOWBIT_FORMAT_Q2_K,   LOWBIT_FORMAT_Q3_K,
    LOWBIT_FORMAT_IQ4_XS, LOWBIT_FORMAT_TQ2_0, LOWBIT_FORMAT_TQ1_0,
};

static void test_device_info(void **state)
{
    (void)state;
    size_t device = 0;
    lowbit_context *context = test_open_device(LOWBIT_API_OPENCL, &device);
    if (!context) skip();
    lowbit_device_info info = {.struct_size = sizeof info};
    assert_int_equal(lowbit_device_get_info(context, device, &info), LOWBIT_OK);
    assert_int_equal(info.api, LOWBIT_API_OPENCL);
    assert_memory_equal(info.id, "opencl:", 7);
    assert_true(strlen(info.name) > 0);
    assert_true(strlen(info.vendor) > 0);
    assert_true(strlen(info.driver_version) > 0);
    assert_memory_equal(info.api_version, "OpenCL ", 7);
    assert_true(info.global_memory > 0);
    assert_true(info.max_allocation > 0 && info.max_allocation <= info.global_memory);
    assert_true(info.max_buffer_range == info.max_allocation);
    assert_true(info.max_workgroup_size >= 1);
    assert_true(info.compute_units >= 1);
    assert_true((info.formats >> LOWBIT_FORMAT_Q4_0) & 1u);
    assert_true((info.formats >> LOWBIT_FORMAT_Q8_0) & 1u);
    assert_true((info.formats >> LOWBIT_FORMAT_F16) & 1u);
    assert_true((info.formats >> LOWBIT_FORMAT_F32) & 1u);
    for (size_t f = 0; f < sizeof stored_formats / sizeof stored_formats[0]; ++f)
        if (!((info.formats >> stored_formats[f]) & 1u))
            fail_msg("%s missing from the device's formats", lowbit_format_name(stored_formats[f]));
    assert_false((info.formats >> LOWBIT_FORMAT_Q8_1) & 1u); /* activation-only formats */
    assert_false((info.formats >> LOWBIT_FORMAT_Q8_K) & 1u);

    lowbit_context_destroy(context);
}

static const size_t every_batch[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16};
/* One batch per program the backend builds (N_MAX 1, 4 and 8, plus a second chunk). */
static const size_t some_batches[] = {1, 3, 9};

/* The shared checker (test_support.c) with this file's expectations: kernel time from profiling events on
 * the device, and for f16 activations (which run through here only on the device) the GEMM at n ≥ 9 except
 * on rows that end in a partial chunk. */
static void check_gemv_x(lowbit_context *context, size_t device, lowbit_format format, shape s, int expect_device,
                         const size_t *batches, size_t batch_count, lowbit_activation x_type)
{
    const char *prefill = x_type == LOWBIT_ACTIVATION_F16 ? (s.cols % 32 == 0 ? "gemm_" : "gemv_") : NULL;
    const test_matmul_expect expect = {expect_device ? 1 : 0, prefill, expect_device};
    test_check_matmul(context, device, format, s.rows, s.cols, batches, batch_count, x_type, &expect);
}

static void check_gemv(lowbit_context *context, size_t device, lowbit_format format, shape s, int expect_device,
                       const size_t *batches, size_t batch_count)
{
    check_gemv_x(context, device, format, s, expect_device, batches, batch_count, LOWBIT_ACTIVATION_F32);
}

static const lowbit_format formats[] = {LOWBIT_FORMAT_F32, LOWBIT_FORMAT_F16, LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q8_0};
/* one block; rows not a multiple of any workgroup; a model-sized row */
static const shape shapes[] = {{1, 32}, {3, 32}, {67, 96}, {129, 4096}};
/* F32/F16 rows need not be whole blocks: the kernels finish them with a scalar tail. */
static const shape float_shapes[] = {{5, 1}, {7, 45}, {17, 100}};

static void run_every_format(const size_t *batches, size_t batch_count)
{
    size_t device = 0;
    lowbit_context *context = test_open_device(LOWBIT_API_OPENCL, &device);
    if (!context) skip();
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; ++f) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s)
            check_gemv(context, device, formats[f], shapes[s], 1, batches, batch_count);
        if (formats[f] == LOWBIT_FORMAT_F32 || formats[f] == LOWBIT_FORMAT_F16)
            for (size_t s = 0; s < sizeof float_shapes / sizeof float_shapes[0]; ++s)
                check_gemv(context, device, formats[f], float_shapes[s], 1, batches, batch_count);
    }
    lowbit_context_destroy(context);
}

/* The device's own layout (row-streaming on CPU devices, cooperative on GPUs). */
static void test_gemv_default_layout(void **state)
{
    (void)state;
    run_every_format(every_batch, sizeof every_batch / sizeof every_batch[0]);
}

/* The other layouts (and the Q4_0 row kernel without block sums), forced, so every kernel variant is
 * exercised on whatever device CI has. */
static void test_gemv_forced_layouts(void **state)
{
    (void)state;
    static const char *const variants[] = {"layout=coop,wg=32,rows=2", "layout=row,wg=2,rows=4,sums=0"};
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; ++v) {
        setenv("LOWBIT_OPENCL_PARAMS", variants[v], 1);
        run_every_format(some_batches, sizeof some_batches / sizeof some_batches[0]);
    }
    unsetenv("LOWBIT_OPENCL_PARAMS");
}

/* The tiled GEMM (n at or above the table's threshold, 9 by default): every GEMM format, batches that fill
 * a tile and that leave one row over, rows that are not a multiple of a tile, one block and several.
 * Checked against the reference, and the run must name the GEMM kernel. */
static const size_t gemm_batches[] = {9, 16, 64, 65};

static void check_gemm(lowbit_context *context, size_t device, lowbit_format format, size_t rows, size_t cols)
{
    static const test_matmul_expect gemm = {1, "gemm_", 1};
    test_check_matmul(context, device, format, rows, cols, gemm_batches, sizeof gemm_batches / sizeof gemm_batches[0],
                      LOWBIT_ACTIVATION_F32, &gemm);
}

/* Every format the plugin runs has a GEMM: the split layout's (F32, F16, Q4_0, Q8_0) and the stored
 * layout's, over each family's own chunk decode. */
static const lowbit_format gemm_formats[] = {
    LOWBIT_FORMAT_F32,   LOWBIT_FORMAT_F16,   LOWBIT_FORMAT_Q4_0,   LOWBIT_FORMAT_Q8_0, LOWBIT_FORMAT_Q4_1,
    LOWBIT_FORMAT_Q5_0,  LOWBIT_FORMAT_Q5_1,  LOWBIT_FORMAT_IQ4_NL, LOWBIT_FORMAT_BF16, LOWBIT_FORMAT_Q2_K,
    LOWBIT_FORMAT_Q3_K,  LOWBIT_FORMAT_Q4_K,  LOWBIT_FORMAT_Q5_K,   LOWBIT_FORMAT_Q6_K, LOWBIT_FORMAT_IQ4_XS,
    LOWBIT_FORMAT_TQ1_0, LOWBIT_FORMAT_TQ2_0,
};

/* Elements one block of the format holds as the kernels see it: 256 for the super-block formats, 32 for
 * the rest (BF16, F32 and F16 run in chunks of 32). */
static size_t kernel_block(lowbit_format format)
{
    const lowbit_format_traits *traits = lowbit_format_get(format);
    assert_non_null(traits);
    return traits->block_size < 32 ? 32 : traits->block_size;
}

static void run_gemm_formats(void)
{
    size_t device = 0;
    lowbit_context *context = test_open_device(LOWBIT_API_OPENCL, &device);
    if (!context) skip();
    for (size_t f = 0; f < sizeof gemm_formats / sizeof gemm_formats[0]; ++f) {
        const size_t block = kernel_block(gemm_formats[f]);
        check_gemm(context, device, gemm_formats[f], 67, block);      /* one block */
        check_gemm(context, device, gemm_formats[f], 129, 5 * block); /* several, not a whole tile of k */
    }
    lowbit_context_destroy(context);
}

/* The device class's own GEMM shape, then the GPU-class tiling (64×64, 4×4 a work-item, one chunk of k)
 * forced on whatever device CI has. */
static void test_gemm(void **state)
{
    (void)state;
    run_gemm_formats();
    setenv("LOWBIT_OPENCL_PARAMS", "gemm=1,stream=0,tile_rows=64,tile_n=64,item_rows=4,item_n=4,tile_k=1", 1);
    run_gemm_formats();
    unsetenv("LOWBIT_OPENCL_PARAMS");
}

/* Rows that end in a partial chunk (F32, F16, BF16 with cols not a multiple of 32) stay on the GEMV, whose
 * scalar tail reads them, at any n. */
static void test_gemm_ragged_rows_run_gemv(void **state)
{
    (void)state;
    size_t device = 0;
    lowbit_context *context = test_open_device(LOWBIT_API_OPENCL, &device);
    if (!context) skip();
    static const lowbit_format ragged[] = {LOWBIT_FORMAT_F32, LOWBIT_FORMAT_F16, LOWBIT_FORMAT_BF16};
    static const size_t batch[] = {9};
    for (size_t f = 0; f < sizeof ragged / sizeof ragged[0]; ++f) {
        check_gemv(context, device, ragged[f], (shape){17, 100}, 1, batch, 1);
        lowbit_run_info run = {.struct_size = sizeof run};
        assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
        if (strncmp(run.kernel, "gemv_", 5) != 0)
            fail_msg("%s 17x100 n=9 ran %s, not the GEMV", lowbit_format_name(ragged[f]), run.kernel);
    }
    lowbit_context_destroy(context);
}

/* f16 activations (lowbit_matmul_ex, IEEE half bits) are read natively by X_F16 kernels: never widened on
 * the host. The reference takes the same halves as floats, so only the f32 accumulation differs. */
static const size_t f16_batches[] = {1, 3, 8, 9, 65}; /* GEMV N_MAX 1, 4, 8; GEMM (n ≥ 9), a ragged tile */
/* The forced shapes. x is read by the frames (gemv.cl, gemv_stored.cl, gemm.cl), never by a format's
 * decode, so one format per frame path covers every x load there: split floats (a scalar tail past odd
 * cols), split quants, stored 32-element blocks, stored rows with a tail (BF16), stored 256-element blocks.
 * N_MAX only bounds a loop in the cooperative layout: one GEMV program (N_MAX 4). PoCL compiles each
 * program anew (about half a second), so this keeps the test's added time down. */
static const size_t f16_forced_batches[] = {3, 9, 65};
static const lowbit_format f16_forced_formats[] = {LOWBIT_FORMAT_F32,  LOWBIT_FORMAT_F16,  LOWBIT_FORMAT_Q4_0,
                                                   LOWBIT_FORMAT_Q5_0, LOWBIT_FORMAT_BF16, LOWBIT_FORMAT_Q4_K};
static void run_f16_activations(const lowbit_format *formats_to_run, size_t format_count, const size_t *batches,
                                size_t batch_count)
{
    size_t device = 0;
    lowbit_context *context = test_open_device(LOWBIT_API_OPENCL, &device);
    if (!context) skip();
    for (size_t f = 0; f < format_count; ++f) {
        const lowbit_format format = formats_to_run[f];
        check_gemv_x(context, device, format, (shape){67, 3 * kernel_block(format)}, 1, batches, batch_count,
                     LOWBIT_ACTIVATION_F16);
        /* Odd cols: x rows start at odd half offsets (element alignment is all vload_half needs). */
        if (format == LOWBIT_FORMAT_F32 || format == LOWBIT_FORMAT_F16 || format == LOWBIT_FORMAT_BF16)
            check_gemv_x(context, device, format, (shape){17, 45}, 1, batches, batch_count, LOWBIT_ACTIVATION_F16);
    }
    lowbit_context_destroy(context);
}

/* Every format, GEMV and GEMM, in the device's own shapes; then the other GEMV layout with a GPU-class GEMM
 * tiling forced, three chunks of k a tile (24 KB of local memory): its tiles straddle the 256-element
 * blocks of the super-block formats, and the last tile of k is partly past cols. */
static void test_f16_activations(void **state)
{
    (void)state;
    run_f16_activations(gemm_formats, sizeof gemm_formats / sizeof gemm_formats[0], f16_batches,
                        sizeof f16_batches / sizeof f16_batches[0]);
    setenv("LOWBIT_OPENCL_PARAMS",
           "layout=coop,wg=32,rows=2,gemm=1,stream=0,tile_rows=32,tile_n=32,item_rows=2,item_n=2,tile_k=3", 1);
    run_f16_activations(f16_forced_formats, sizeof f16_forced_formats / sizeof f16_forced_formats[0],
                        f16_forced_batches, sizeof f16_forced_batches / sizeof f16_forced_batches[0]);
    unsetenv("LOWBIT_OPENCL_PARAMS");
}

/* The kernel the last matmul on `context` ran. */
static void last_kernel(lowbit_context *context, char *kernel, size_t size)
{
    lowbit_run_info run = {.struct_size = sizeof run};
    assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
    snprintf(kernel, size, "%s", run.kernel);
}

/* The cooperative layout's subgroup reduction (gemv_coop_reduce.cl). Forced (subgroups=1) on a device
 * without subgroups, such as PoCL, OpenCL refuses with a message and the CPU answers; on a device with
 * them it runs there. subgroups=emulate builds and runs the subgroup source with one-work-item subgroups
 * on any device, so at least its indexing and barriers are checked where no subgroups exist. */
static void test_subgroup_reduction(void **state)
{
    (void)state;
    size_t device = 0;
    char kernel[96];
    setenv("LOWBIT_OPENCL_PARAMS", "layout=coop,wg=32,rows=2,subgroups=1", 1);
    lowbit_context *context = test_open_device(LOWBIT_API_OPENCL, &device);
    if (!context) skip();
    lowbit_device_info info = {.struct_size = sizeof info};
    assert_int_equal(lowbit_device_get_info(context, device, &info), LOWBIT_OK);
    if (info.subgroups) {
        check_gemv(context, device, LOWBIT_FORMAT_Q4_0, (shape){67, 96}, 1, some_batches, 2);
        last_kernel(context, kernel, sizeof kernel);
        if (strstr(kernel, " subgroups") == NULL) fail_msg("subgroups=1 ran %s", kernel);
    } else {
        size_t size = 0;
        void *packed = test_make_weights(LOWBIT_FORMAT_Q4_0, 67, 96, 5, &size);
        float x[3 * 96], y[3 * 67];
        test_fill_random(x, 3 * 96, 6, 1.0f);
        lowbit_weights *weights = NULL;
        assert_int_equal(lowbit_weights_upload(context, device, LOWBIT_FORMAT_Q4_0, 67, 96, packed, size,
                                               LOWBIT_UPLOAD_NO_FALLBACK, &weights),
                         LOWBIT_OK);
        assert_int_equal(lowbit_matmul(context, weights, x, y, 3), LOWBIT_ERROR_UNSUPPORTED);
        if (strstr(lowbit_last_error(), "subgroups") == NULL)
            fail_msg("forced subgroups without them: '%s'", lowbit_last_error());
        lowbit_weights_destroy(weights);
        free(packed);
        /* With the CPU fallback allowed the answer is still right, and the run says why it moved. */
        check_gemv(context, device, LOWBIT_FORMAT_Q4_0, (shape){67, 96}, 0, some_batches, 2);
        lowbit_run_info run = {.struct_size = sizeof run};
        assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
        assert_true(run.fell_back);
        if (strstr(run.fallback_reason, "subgroups") == NULL) fail_msg("fallback reason '%s'", run.fallback_reason);
    }
    lowbit_context_destroy(context);

    /* The table's default takes subgroups only where the device has them. */
    setenv("LOWBIT_OPENCL_PARAMS", "layout=coop,wg=32,rows=2", 1);
    context = test_open_device(LOWBIT_API_OPENCL, &device);
    check_gemv(context, device, LOWBIT_FORMAT_Q8_0, (shape){67, 96}, 1, some_batches, 1);
    last_kernel(context, kernel, sizeof kernel);
    if ((strstr(kernel, " subgroups") != NULL) != (info.subgroups != 0))
        fail_msg("device subgroups %d, default coop kernel %s", info.subgroups, kernel);
    lowbit_context_destroy(context);

    /* Each family's cooperative kernel through the subgroup source, one activation row and several. */
    setenv("LOWBIT_OPENCL_PARAMS", "layout=coop,wg=32,rows=2,subgroups=emulate", 1);
    context = test_open_device(LOWBIT_API_OPENCL, &device);
    static const struct {
        lowbit_format format;
        shape s;
    } cases[] = {{LOWBIT_FORMAT_F32, {17, 100}},
                 {LOWBIT_FORMAT_Q4_0, {67, 96}},
                 {LOWBIT_FORMAT_Q5_0, {67, 96}},
                 {LOWBIT_FORMAT_BF16, {17, 100}},
                 {LOWBIT_FORMAT_Q4_K, {67, 512}}};
    static const size_t batch[] = {3};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        /* N_MAX 1 and 4 for one format, N_MAX 4 (two rows × four activation rows to reduce) for each. */
        check_gemv(context, device, cases[c].format, cases[c].s, 1, c == 0 ? some_batches : batch, c == 0 ? 2 : 1);
        last_kernel(context, kernel, sizeof kernel);
        if (strstr(kernel, " subgroups=emulated") == NULL) fail_msg("subgroups=emulate ran %s", kernel);
    }
    lowbit_context_destroy(context);
    unsetenv("LOWBIT_OPENCL_PARAMS");
}

/* LOWBIT_MAX_ALLOC forces weights into several buffers (parts of rows), each its own dispatch. */
static void test_row_split(void **state)
{
    (void)state;
    setenv("LOWBIT_MAX_ALLOC", "16K", 1);
    size_t device = 0;
    lowbit_context *context = test_open_device(LOWBIT_API_OPENCL, &device);
    if (!context) skip();
    lowbit_device_info info = {.struct_size = sizeof info};
    assert_int_equal(lowbit_device_get_info(context, device, &info), LOWBIT_OK);
    assert_int_equal(info.max_allocation, 16384);
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; ++f)
        check_gemv(context, device, formats[f], (shape){300, 256}, 1, some_batches,
                   sizeof some_batches / sizeof some_batches[0]);
    /* f16 activations past the cap: rows of x are half as wide, so two fit a dispatch where one f32 row
     * would (the last row of an odd batch then runs alone, with block sums taken from its halves). */
    check_gemv_x(context, device, LOWBIT_FORMAT_Q4_0, (shape){40, 4096}, 1, f16_batches,
                 sizeof f16_batches / sizeof f16_batches[0], LOWBIT_ACTIVATION_F16);
    lowbit_context_destroy(context);
    unsetenv("LOWBIT_MAX_ALLOC");
}

/* Programs built by earlier tests were written to the cache folder; damaged cache files are ignored. */
static void test_program_cache(void **state)
{
    (void)state;
    size_t device = 0;
    lowbit_context *context = test_open_device(LOWBIT_API_OPENCL, &device);
    if (!context) skip();
    lowbit_context_destroy(context);
    char folder[512];
    snprintf(folder, sizeof folder, "%s/opencl", cache_dir);
    DIR *dir = opendir(folder);
    assert_non_null(dir);
    size_t binaries = 0;
    for (struct dirent *entry; (entry = readdir(dir)) != NULL;) {
        size_t length = strlen(entry->d_name);
        assert_null(strstr(entry->d_name, ".tmp")); /* no temporary left behind */
        if (length <= 4 || strcmp(entry->d_name + length - 4, ".bin") != 0) continue;
        ++binaries;
        /* Keep the header (magic and key) but claim a short, garbage binary: the plugin must rebuild. */
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", folder, entry->d_name);
        FILE *file = fopen(path, "r+b");
        assert_non_null(file);
        unsigned char header[32];
        assert_int_equal(fread(header, 1, sizeof header, file), sizeof header);
        uint64_t size = 64;
        memcpy(header + 24, &size, sizeof size);
        unsigned char garbage[64];
        memset(garbage, 0x3C, sizeof garbage);
        assert_int_equal(fseek(file, 0, SEEK_SET), 0);
        assert_int_equal(fwrite(header, 1, sizeof header, file), sizeof header);
        assert_int_equal(fwrite(garbage, 1, sizeof garbage, file), sizeof garbage);
        fclose(file);
        assert_int_equal(truncate(path, (off_t)(sizeof header + sizeof garbage)), 0);
    }
    closedir(dir);
    assert_true(binaries >= 4);

    context = test_open_device(LOWBIT_API_OPENCL, &device);

    if (!context) skip();
    check_gemv(context, device, LOWBIT_FORMAT_Q4_0, (shape){67, 96}, 1, some_batches,
               sizeof some_batches / sizeof some_batches[0]);
    lowbit_context_destroy(context);
}

/* Under an injected fault the result is still right, computed by the CPU backend, and the run says so. */
static void check_fault(const char *site, int fault_at_upload)
{
    size_t device = 0;
    lowbit_context *context = test_open_device(LOWBIT_API_OPENCL, &device);
    if (!context) skip(); /* fresh: no program built yet */
    const size_t rows = 67, cols = 256, n = 3;
    size_t size = 0;
    void *packed = test_make_weights(LOWBIT_FORMAT_Q4_0, rows, cols, 4242, &size);
    float *x = malloc(n * cols * sizeof(float)), *y = malloc(n * rows * sizeof(float));
    double *reference = malloc(n * rows * sizeof(double));
    test_fill_random(x, n * cols, 4243, 1.0f);
    test_reference_matmul(LOWBIT_FORMAT_Q4_0, packed, size, rows, cols, x, n, reference);

    if (fault_at_upload) setenv("LOWBIT_FAULT", site, 1);
    lowbit_weights *weights = NULL;
    assert_int_equal(lowbit_weights_upload(context, device, LOWBIT_FORMAT_Q4_0, rows, cols, packed, size, 0, &weights),
                     LOWBIT_OK);
    setenv("LOWBIT_FAULT", site, 1);
    assert_int_equal(lowbit_matmul(context, weights, x, y, n), LOWBIT_OK);
    unsetenv("LOWBIT_FAULT");
    assert_true(test_nmse(y, reference, n * rows) <= TEST_NMSE_LIMIT);
    lowbit_run_info run = {.struct_size = sizeof run};
    assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
    if (run.fell_back != 1) fail_msg("%s: expected a CPU fallback, ran %s on %s", site, run.kernel, run.device_id);
    assert_true(strlen(run.fallback_reason) > 0);
    assert_memory_equal(run.requested_device_id, "opencl:", 7);

    /* Once the fault is gone the device runs again (nothing was cached broken). */
    if (!fault_at_upload) {
        assert_int_equal(lowbit_matmul(context, weights, x, y, n), LOWBIT_OK);
        assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
        assert_int_equal(run.fell_back, 0);
        assert_true(test_nmse(y, reference, n * rows) <= TEST_NMSE_LIMIT);
    }
    lowbit_weights_destroy(weights);
    lowbit_context_destroy(context);
    free(x), free(y), free(reference), free(packed);
}

static void test_fault_run(void **state)
{
    (void)state;
    check_fault("opencl.run", 0);
}

static void test_fault_build(void **state)
{
    (void)state;
    check_fault("opencl.build", 0);
}

static void test_fault_alloc(void **state)
{
    (void)state;
    check_fault("opencl.alloc", 1);
}

/* A matrix the plugin cannot address in one dispatch (one row of its outputs past a forced allocation
 * cap) is refused at upload and runs on the CPU. Every weight format has a kernel now, so a shape is refused. */
static void test_unsupported_shape_falls_back(void **state)
{
    (void)state;
    setenv("LOWBIT_MAX_ALLOC", "16K", 1);
    size_t device = 0;
    lowbit_context *context = test_open_device(LOWBIT_API_OPENCL, &device);
    if (!context) skip();
    const size_t rows = 4200, cols = 256; /* 4200 outputs × 4 bytes > 16 KiB */
    size_t size = 0;
    void *packed = test_make_weights(LOWBIT_FORMAT_Q4_K, rows, cols, 99, &size);
    lowbit_weights *weights = NULL;
    assert_int_equal(lowbit_weights_upload(context, device, LOWBIT_FORMAT_Q4_K, rows, cols, packed, size, 0, &weights),
                     LOWBIT_OK);
    float *x = malloc(cols * sizeof(float)), *y = malloc(rows * sizeof(float));
    double *reference = malloc(rows * sizeof(double));
    assert_true(x && y && reference);
    test_fill_random(x, cols, 100, 1.0f);
    assert_int_equal(lowbit_matmul(context, weights, x, y, 1), LOWBIT_OK);
    test_reference_matmul(LOWBIT_FORMAT_Q4_K, packed, size, rows, cols, x, 1, reference);
    assert_true(test_nmse(y, reference, rows) <= TEST_NMSE_LIMIT);
    lowbit_run_info run = {.struct_size = sizeof run};
    assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
    assert_int_equal(run.fell_back, 1);
    lowbit_weights_destroy(weights);
    free(packed), free(x), free(y), free(reference);
    lowbit_context_destroy(context);
    unsetenv("LOWBIT_MAX_ALLOC");
}

/* A kernel configuration the device cannot run (here a malformed override) is refused at matmul with a
 * reason naming the knob, and the CPU computes the result. */
static void test_bad_parameters_fall_back(void **state)
{
    (void)state;
    size_t device = 0;
    lowbit_context *context = test_open_device(LOWBIT_API_OPENCL, &device);
    if (!context) skip();
    const size_t rows = 9, cols = 64;
    size_t size = 0;
    void *packed = test_make_weights(LOWBIT_FORMAT_Q4_0, rows, cols, 21, &size);
    lowbit_weights *weights = NULL;
    assert_int_equal(lowbit_weights_upload(context, device, LOWBIT_FORMAT_Q4_0, rows, cols, packed, size, 0, &weights),
                     LOWBIT_OK);
    float x[64], y[9];
    double reference[9];
    test_fill_random(x, cols, 22, 1.0f);
    test_reference_matmul(LOWBIT_FORMAT_Q4_0, packed, size, rows, cols, x, 1, reference);
    static const char *const bad[] = {"wg=banana", "layout=row,wg=3,rows=4", "layout=coop,wg=48", "subgroups=2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        setenv("LOWBIT_OPENCL_PARAMS", bad[i], 1);
        assert_int_equal(lowbit_matmul(context, weights, x, y, 1), LOWBIT_OK);
        lowbit_run_info run = {.struct_size = sizeof run};
        assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
        assert_int_equal(run.fell_back, 1);
        assert_true(strlen(run.fallback_reason) > 0);
        assert_true(test_nmse(y, reference, rows) <= TEST_NMSE_LIMIT);
    }
    unsetenv("LOWBIT_OPENCL_PARAMS");
    lowbit_weights_destroy(weights);
    free(packed);
    lowbit_context_destroy(context);
}

/* NaN and Inf in activations reach the outputs instead of being lost. */
static void test_nan_propagates(void **state)
{
    (void)state;
    size_t device = 0;
    lowbit_context *context = test_open_device(LOWBIT_API_OPENCL, &device);
    if (!context) skip();
    const size_t rows = 9, cols = 64;
    size_t size = 0;
    void *packed = test_make_weights(LOWBIT_FORMAT_Q4_0, rows, cols, 5, &size);
    lowbit_weights *weights = NULL;
    assert_int_equal(lowbit_weights_upload(context, device, LOWBIT_FORMAT_Q4_0, rows, cols, packed, size, 0, &weights),
                     LOWBIT_OK);
    float x[64], y[9];
    test_fill_random(x, cols, 6, 1.0f);
    x[17] = 0.0f / 0.0f;
    assert_int_equal(lowbit_matmul(context, weights, x, y, 1), LOWBIT_OK);
    for (size_t r = 0; r < rows; ++r)
        assert_true(y[r] != y[r]);
    lowbit_weights_destroy(weights);
    free(packed);
    lowbit_context_destroy(context);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_info),
        cmocka_unit_test(test_gemv_default_layout),
        cmocka_unit_test(test_gemv_forced_layouts),
        cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_gemm_ragged_rows_run_gemv),
        cmocka_unit_test(test_f16_activations),
        cmocka_unit_test(test_subgroup_reduction),
        cmocka_unit_test(test_row_split),
        cmocka_unit_test(test_program_cache),
        cmocka_unit_test(test_fault_run),
        cmocka_unit_test(test_fault_build),
        cmocka_unit_test(test_fault_alloc),
        cmocka_unit_test(test_unsupported_shape_falls_back),
        cmocka_unit_test(test_bad_parameters_fall_back),
        cmocka_unit_test(test_nan_propagates),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
