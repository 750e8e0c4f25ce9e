/* test_backend_opencl_stored.c — the OpenCL GEMV kernels that read weights in their stored (GGUF) layout
 * (shaders/opencl/gemv_legacy.cl, gemv_kquants.cl): every format against the f64 reference over one
 * block, ragged row counts, several blocks of columns and every batch size (n ≥ 9 runs the tiled GEMM over
 * the same decode; test_backend_opencl.c checks its shapes), in the device's own layout, the forced other
 * layouts, and split into row parts past an allocation cap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lowbit/lowbit.h"
#include "test_support.h"


static char cache_dir[] = "/tmp/lowbit-test-opencl-stored-XXXXXX";

static const lowbit_format formats[] = {
    LOWBIT_FORMAT_Q4_1,   LOWBIT_FORMAT_Q5_0,  LOWBIT_FORMAT_Q5_1,  LOWBIT_FORMAT_IQ4_NL, LOWBIT_FORMAT_BF16,
    LOWBIT_FORMAT_Q4_K,   LOWBIT_FORMAT_Q6_K,  LOWBIT_FORMAT_Q5_K,  LOWBIT_FORMAT_Q2_K,   LOWBIT_FORMAT_Q3_K,
    LOWBIT_FORMAT_IQ4_XS, LOWBIT_FORMAT_TQ2_0, LOWBIT_FORMAT_TQ1_0,
};

static const size_t every_batch[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16};
/* One batch per program the backend builds in the forced layouts (N_MAX 1, 4 and 8, plus a second chunk). */
static const size_t some_batches[] = {1, 3, 9};

static int setup(void **state)
{
    (void)state;
    if (mkdtemp(cache_dir) == NULL) return -1;
    setenv("LOWBIT_CACHE_DIR", cache_dir, 1);
    setenv("LOWBIT_LOG", "error", 1);
    unsetenv("LOWBIT_FAULT");
    unsetenv("LOWBIT_MAX_ALLOC");
    unsetenv("LOWBIT_OPENCL_PARAMS");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char command[256];
    snprintf(command, sizeof command, "rm -rf '%s'", cache_dir);
    return system(command) == 0 ? 0 : -1;
}

/* Uploads a random matrix, runs each batch size and checks it against the reference, on the device. */
static void check_gemv(lowbit_context *context, size_t device, lowbit_format format, size_t rows, size_t cols,
                       const size_t *batches, size_t batch_count)
{
    static const test_matmul_expect on_device = {1, NULL, 1};
    test_check_matmul(context, device, format, rows, cols, batches, batch_count, LOWBIT_ACTIVATION_F32, &on_device);
}

/* Elements per block as the kernels see it: BF16 (block 1) runs in chunks of 32. */
static size_t block_of(lowbit_format format)
{
    const lowbit_format_traits *traits = lowbit_format_get(format);
    assert_non_null(traits);
    return traits->block_size < 32 ? 32 : traits->block_size;
}

/* One block; 67 rows (no multiple of any workgroup) over two blocks; 3 rows over three blocks. */
static void run_every_format(const size_t *batches, size_t batch_count)
{
    size_t device = 0;
    lowbit_context *context = test_open_device(LOWBIT_API_OPENCL, &device);
    if (!context) skip();
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; ++f) {
        const size_t block = block_of(formats[f]);
        check_gemv(context, device, formats[f], 1, block, batches, batch_count);
        check_gemv(context, device, formats[f], 67, 2 * block, batches, batch_count);
        check_gemv(context, device, formats[f], 3, 3 * block, batches, batch_count);
        if (formats[f] == LOWBIT_FORMAT_BF16) { /* rows that end in a partial chunk */
            check_gemv(context, device, formats[f], 5, 1, batches, batch_count);
            check_gemv(context, device, formats[f], 17, 100, batches, batch_count);
        }
    }
    lowbit_context_destroy(context);
}

static void test_stored_default_layout(void **state)
{
    (void)state;
    run_every_format(every_batch, sizeof every_batch / sizeof every_batch[0]);
}

/* The other layouts, forced, so every variant runs on any device. PoCL compiles each (kernel, layout,
 * N_MAX) on first use in about half a second, so these take one batch (3: spare rows in the kernel's
 * N_MAX 4): the cooperative layout for every format, the narrow row layout for one format per family. */
static void test_stored_forced_layouts(void **state)
{
    (void)state;
    static const size_t batch[] = {3};
    size_t device = 0;
    setenv("LOWBIT_OPENCL_PARAMS", "layout=coop,wg=32,rows=2", 1);
    lowbit_context *context = test_open_device(LOWBIT_API_OPENCL, &device);
    if (!context) skip();
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; ++f) {
        const size_t block = block_of(formats[f]);
        check_gemv(context, device, formats[f], 67, 2 * block, batch, 1);
        check_gemv(context, device, formats[f], 3, 3 * block, batch, 1);
        if (formats[f] == LOWBIT_FORMAT_BF16) check_gemv(context, device, formats[f], 17, 100, batch, 1);
    }
    lowbit_context_destroy(context);
    setenv("LOWBIT_OPENCL_PARAMS", "layout=row,wg=2,rows=4", 1);
    context = test_open_device(LOWBIT_API_OPENCL, &device);
    if (!context) skip();
    static const lowbit_format narrow[] = {LOWBIT_FORMAT_Q5_0, LOWBIT_FORMAT_BF16, LOWBIT_FORMAT_Q3_K,
                                           LOWBIT_FORMAT_TQ1_0};
    for (size_t f = 0; f < sizeof narrow / sizeof narrow[0]; ++f)
        check_gemv(context, device, narrow[f], 67, 2 * block_of(narrow[f]), batch, 1);
    lowbit_context_destroy(context);
    /* Q4_K and Q5_K take the host's sums of x for one activation row by default; without them too. */
    setenv("LOWBIT_OPENCL_PARAMS", "sums=0", 1);
    context = test_open_device(LOWBIT_API_OPENCL, &device);
    if (!context) skip();
    static const size_t single[] = {1};
    check_gemv(context, device, LOWBIT_FORMAT_Q4_K, 67, 512, single, 1);
    check_gemv(context, device, LOWBIT_FORMAT_Q5_K, 67, 512, single, 1);
    lowbit_context_destroy(context);
    unsetenv("LOWBIT_OPENCL_PARAMS");
}

/* LOWBIT_MAX_ALLOC forces the stored bytes into several buffers of whole rows, each its own dispatch, and
 * fewer activation rows per dispatch where eight rows of x would not fit one buffer. */
static void test_stored_row_split(void **state)
{
    (void)state;
    setenv("LOWBIT_MAX_ALLOC", "16K", 1);
    size_t device = 0;
    lowbit_context *context = test_open_device(LOWBIT_API_OPENCL, &device);
    if (!context) skip();
    static const lowbit_format split_formats[] = {LOWBIT_FORMAT_Q5_1, LOWBIT_FORMAT_Q6_K, LOWBIT_FORMAT_BF16};
    for (size_t f = 0; f < sizeof split_formats / sizeof split_formats[0]; ++f)
        check_gemv(context, device, split_formats[f], 300, 512, some_batches,
                   sizeof some_batches / sizeof some_batches[0]);
    /* Activation rows past the cap too: two rows of x per dispatch, then one (Q4_0 then takes the block
     * sums of x for every row). */
    check_gemv(context, device, LOWBIT_FORMAT_Q4_K, 257, 2048, some_batches,
               sizeof some_batches / sizeof some_batches[0]);
    check_gemv(context, device, LOWBIT_FORMAT_Q4_0, 40, 4096, some_batches,
               sizeof some_batches / sizeof some_batches[0]);
    lowbit_context_destroy(context);
    unsetenv("LOWBIT_MAX_ALLOC");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stored_default_layout),
        cmocka_unit_test(test_stored_forced_layouts),
        cmocka_unit_test(test_stored_row_split),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
