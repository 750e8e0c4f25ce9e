/* test_backend_vulkan_memory.c — the Vulkan plugin's device memory on a driver (lavapipe in CI): with the
 * allocation count capped (LOWBIT_VULKAN_MAX_ALLOCATIONS, standing in for a GPU's maxMemoryAllocationCount)
 * hundreds of weight matrices and a large one all run on the device from a few shared memory blocks; the cap
 * reached makes an upload fail cleanly and the CPU answer, and a malformed cap is refused the same way. The
 * sub-allocator's logic itself is tested without a device in test_backend_vulkan_suballoc.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

/* What the plugin's debug line for each vkAllocateMemory says: "... (N of LIMIT allocations alive)". */
typedef struct allocation_log {
    unsigned calls, most_alive, limit;
} allocation_log;

static void count_allocations(lowbit_log_level level, const char *message, void *user)
{
    allocation_log *log = user;
    (void)level;
    if (!strstr(message, "vkAllocateMemory #")) return;
    log->calls++;
    unsigned alive = 0, limit = 0;
    const char *counts = strrchr(message, '(');
    if (counts && sscanf(counts, "(%u of %u allocations alive)", &alive, &limit) == 2) {
        if (alive > log->most_alive) log->most_alive = alive;
        log->limit = limit;
    }
}

typedef struct matrix {
    lowbit_format format;
    size_t rows, cols, size;
    void *packed;
    lowbit_weights *weights;
} matrix;

static void matrix_upload(lowbit_context *context, size_t device, matrix *m, uint64_t seed, uint32_t flags,
                          lowbit_status expected)
{
    m->packed = test_make_weights(m->format, m->rows, m->cols, seed, &m->size);
    m->weights = NULL;
    lowbit_status status =
        lowbit_weights_upload(context, device, m->format, m->rows, m->cols, m->packed, m->size, flags, &m->weights);
    if (status != expected)
        fail_msg("upload of %s %zux%zu: %s (%s)", lowbit_format_name(m->format), m->rows, m->cols,
                 lowbit_status_string(status), lowbit_last_error());
}

/* One matmul of n rows, checked against the f64 reference; where it ran must be `on_device` (1) or the CPU. */
static void matrix_check(lowbit_context *context, const matrix *m, size_t n, int on_device)
{
    float *x = malloc(n * m->cols * sizeof(float)), *y = malloc(n * m->rows * sizeof(float));
    double *reference = malloc(n * m->rows * sizeof(double));
    assert_true(x && y && reference);
    test_fill_random(x, n * m->cols, m->rows * 31u + m->cols, 1.0f);
    test_reference_matmul(m->format, m->packed, m->size, m->rows, m->cols, x, n, reference);
    memset(y, 0xFF, n * m->rows * sizeof(float));
    assert_int_equal(lowbit_matmul(context, m->weights, x, y, n), LOWBIT_OK);
    lowbit_run_info run = {.struct_size = sizeof run};
    assert_int_equal(lowbit_last_run(context, &run), LOWBIT_OK);
    double error = test_nmse(y, reference, n * m->rows);
    if (!(error <= TEST_NMSE_LIMIT))
        fail_msg("%s %zux%zu n=%zu: NMSE %.3e (ran on %s, %s)", lowbit_format_name(m->format), m->rows, m->cols, n,
                 error, run.device_id, run.kernel);
    if (on_device && run.fell_back)
        fail_msg("%s %zux%zu fell back: %s", lowbit_format_name(m->format), m->rows, m->cols, run.fallback_reason);
    if (!on_device && !run.fell_back)
        fail_msg("%s %zux%zu: expected the CPU, %s ran it", lowbit_format_name(m->format), m->rows, m->cols,
                 run.device_id);
    free(x);
    free(y);
    free(reference);
}

static void matrix_release(matrix *m)
{
    lowbit_weights_destroy(m->weights);
    free(m->packed);
    memset(m, 0, sizeof *m);
}

/* 300 small matrices of six formats (split-layout and raw) and one of 34 MiB (a dedicated block: over half of
 * a 64 MiB block), all alive together under a cap of 16 allocations: every one runs on the device. One
 * allocation per buffer, as before the blocks, would have needed over 500. */
static void test_many_matrices_under_cap(void **state)
{
    (void)state;
    static const lowbit_format cycle[] = {LOWBIT_FORMAT_F32,  LOWBIT_FORMAT_F16,  LOWBIT_FORMAT_Q4_0,
                                          LOWBIT_FORMAT_Q8_0, LOWBIT_FORMAT_Q4_K, LOWBIT_FORMAT_Q6_K};
    enum { SMALL = 300, CAP = 16 };
    setenv("LOWBIT_VULKAN_MAX_ALLOCATIONS", "16", 1);
    allocation_log log = {0, 0, 0};
    lowbit_log_set_callback(count_allocations, &log, LOWBIT_LOG_DEBUG);
    lowbit_context *context;
    size_t device = 0;
    if (!(context = test_open_device(LOWBIT_API_VULKAN, &device))) skip();
    static matrix small[SMALL];
    for (size_t i = 0; i < SMALL; ++i) {
        lowbit_format format = cycle[i % (sizeof cycle / sizeof cycle[0])];
        size_t block = lowbit_format_get(format)->block_size;
        small[i] = (matrix){format, 3 + i % 13, (block == 1 ? 32 : block) * (1 + i % 3), 0, NULL, NULL};
        matrix_upload(context, device, &small[i], 1000 + i, LOWBIT_UPLOAD_NO_FALLBACK, LOWBIT_OK);
    }
    matrix large = {LOWBIT_FORMAT_F16, 4352, 4096, 0, NULL, NULL};
    matrix_upload(context, device, &large, 77, LOWBIT_UPLOAD_NO_FALLBACK, LOWBIT_OK);
    for (size_t i = 0; i < SMALL; ++i)
        matrix_check(context, &small[i], 1 + i % 3, 1);
    matrix_check(context, &large, 2, 1);
    fprintf(stderr, "%u vkAllocateMemory calls, at most %u alive (cap %u) for %d matrices\n", log.calls, log.most_alive,
            log.limit, SMALL + 1);
    assert_true(log.calls > 0); /* the debug line reached us: the counts below mean something */
    assert_int_equal(log.limit, CAP);
    assert_true(log.most_alive <= CAP);
    for (size_t i = 0; i < SMALL; ++i)
        matrix_release(&small[i]);
    matrix_release(&large);
    lowbit_context_destroy(context);
    lowbit_log_set_callback(NULL, NULL, LOWBIT_LOG_WARN);
    unsetenv("LOWBIT_VULKAN_MAX_ALLOCATIONS");
}

/* A cap of one allocation: the first block fills with 1 MiB matrices until an upload needs a second one. That
 * upload fails with OUT_OF_MEMORY and a reason (with NO_FALLBACK), or runs on the CPU with the right answer
 * (without); everything uploaded before still runs on the device, and freeing a matrix makes room again. */
static void test_cap_reached_falls_back(void **state)
{
    (void)state;
    enum { MOST = 80 };
    setenv("LOWBIT_VULKAN_MAX_ALLOCATIONS", "1", 1);
    lowbit_context *context;
    size_t device = 0;
    if (!(context = test_open_device(LOWBIT_API_VULKAN, &device))) skip();
    static matrix uploaded[MOST];
    size_t count = 0;
    lowbit_status status = LOWBIT_OK;
    /* the first matmul places the activation scratch in the block while there is room */
    uploaded[count] = (matrix){LOWBIT_FORMAT_Q8_0, 1024, 1024, 0, NULL, NULL};
    matrix_upload(context, device, &uploaded[count], 500, LOWBIT_UPLOAD_NO_FALLBACK, LOWBIT_OK);
    matrix_check(context, &uploaded[count++], 1, 1);
    while (count < MOST) {
        matrix *m = &uploaded[count];
        *m = (matrix){LOWBIT_FORMAT_Q8_0, 1024, 1024, 0, NULL, NULL};
        m->packed = test_make_weights(m->format, m->rows, m->cols, 500 + count, &m->size);
        status = lowbit_weights_upload(context, device, m->format, m->rows, m->cols, m->packed, m->size,
                                       LOWBIT_UPLOAD_NO_FALLBACK, &m->weights);
        if (status != LOWBIT_OK) break;
        count++;
    }
    assert_int_equal(status, LOWBIT_ERROR_OUT_OF_MEMORY);
    assert_non_null(strstr(lowbit_last_error(), "allocations in use"));
    free(uploaded[count].packed);
    /* the same shape without NO_FALLBACK: uploaded for the CPU, which answers */
    matrix refused = {LOWBIT_FORMAT_Q8_0, 1024, 1024, 0, NULL, NULL};
    matrix_upload(context, device, &refused, 900, 0, LOWBIT_OK);
    matrix_check(context, &refused, 1, 0);
    matrix_check(context, &uploaded[0], 1, 1);
    matrix_check(context, &uploaded[count - 1], 1, 1);
    /* a freed matrix leaves room in the block for another */
    matrix_release(&uploaded[--count]);
    matrix again = {LOWBIT_FORMAT_Q8_0, 1024, 1024, 0, NULL, NULL};
    matrix_upload(context, device, &again, 901, LOWBIT_UPLOAD_NO_FALLBACK, LOWBIT_OK);
    matrix_check(context, &again, 1, 1);
    matrix_release(&again);
    matrix_release(&refused);
    for (size_t i = 0; i < count; ++i)
        matrix_release(&uploaded[i]);
    lowbit_context_destroy(context);
    unsetenv("LOWBIT_VULKAN_MAX_ALLOCATIONS");
}

/* A malformed cap is an error, not ignored: the plugin then allocates nothing, and every matrix runs on the
 * CPU with the right answer. */
static void test_malformed_cap_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "0", "-1", "16x", "4294967296"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        setenv("LOWBIT_VULKAN_MAX_ALLOCATIONS", bad[i], 1);
        lowbit_context *context;
        size_t device = 0;
        if (!(context = test_open_device(LOWBIT_API_VULKAN, &device))) skip();
        matrix m = {LOWBIT_FORMAT_Q4_0, 9, 64, 0, NULL, NULL};
        matrix_upload(context, device, &m, 7, 0, LOWBIT_OK);
        matrix_check(context, &m, 1, 0);
        matrix_release(&m);
        lowbit_context_destroy(context);
    }
    unsetenv("LOWBIT_VULKAN_MAX_ALLOCATIONS");
}

static int restore_environment(void **state)
{
    (void)state;
    unsetenv("LOWBIT_VULKAN_MAX_ALLOCATIONS");
    lowbit_log_set_callback(NULL, NULL, LOWBIT_LOG_WARN);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_many_matrices_under_cap, restore_environment),
        cmocka_unit_test_teardown(test_cap_reached_falls_back, restore_environment),
        cmocka_unit_test_teardown(test_malformed_cap_refused, restore_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
