/* test_concurrency.c — eight threads at once on the CPU backend, PoCL (opencl:0) and lavapipe (vulkan:0):
 * matmuls on one context over shared and private weights, upload/destroy churn, and threads creating and
 * destroying their own contexts while others compute. Every result must be bit-identical to the serial run.
 * Small on purpose: CI also runs it under ThreadSanitizer (make test-tsan). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

enum { THREADS = 8, ROUNDS = 3, CONTEXT_ROUNDS = 2, MATRICES = 3, ROWS = 48, COLS = 256, MAX_N = 9 };

/* three families (legacy, byte, K-quant) so threads share some kernels and not others */
static const lowbit_format formats[MATRICES] = {LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q8_0, LOWBIT_FORMAT_Q4_K};
/* GEMV and the n ≥ 9 GEMM path */
static const size_t batches[] = {1, 3, 9};
#define BATCH_COUNT (sizeof batches / sizeof batches[0])

typedef struct fixture {
    lowbit_api api;
    char device_id[32];
    lowbit_context *context;
    size_t device;
    void *packed[MATRICES];
    size_t packed_size[MATRICES];
    lowbit_weights *shared[MATRICES];
    float x[MAX_N * COLS];
    float expected[MATRICES][BATCH_COUNT][MAX_N * ROWS]; /* the serial run */
    pthread_barrier_t start;
} fixture;

typedef enum phase { PHASE_SHARED, PHASE_UPLOAD_CHURN, PHASE_CONTEXT_CHURN } phase;

typedef struct worker {
    fixture *f;
    int index;
    phase phase;
    int failures;
    char first_failure[512];
} worker;

/* cmocka's asserts are not thread-safe: workers record failures and the main thread reports them */
static void record_failure(worker *w, const char *format, ...)
{
    if (w->failures++ > 0) return;
    va_list arguments;
    va_start(arguments, format);
    int length = snprintf(w->first_failure, sizeof w->first_failure, "thread %d: ", w->index);
    vsnprintf(w->first_failure + length, sizeof w->first_failure - (size_t)length, format, arguments);
    va_end(arguments);
}

/* One matmul of matrix m at batch b on `context`, compared bit for bit with the serial answer. */
static void run_and_check(worker *w, lowbit_context *context, const lowbit_weights *weights, int m, size_t b)
{
    fixture *f = w->f;
    const size_t n = batches[b];
    float y[MAX_N * ROWS];
    memset(y, 0xFF, sizeof y);
    if (lowbit_matmul(context, weights, f->x, y, n) != LOWBIT_OK) {
        record_failure(w, "%s matmul %s n=%zu: %s", f->device_id, lowbit_format_name(formats[m]), n,
                       lowbit_last_error());
        return;
    }
    lowbit_run_info run = {.struct_size = sizeof run};
    if (lowbit_last_run(context, &run) != LOWBIT_OK) {
        record_failure(w, "%s last_run: %s", f->device_id, lowbit_last_error());
        return;
    }
    if (run.fell_back || strcmp(run.device_id, f->device_id) != 0) {
        record_failure(w, "%s %s n=%zu ran on %s (fell back: %s)", f->device_id, lowbit_format_name(formats[m]), n,
                       run.device_id, run.fell_back ? run.fallback_reason : "no");
        return;
    }
    for (size_t i = 0; i < n * ROWS; ++i)
        if (memcmp(&y[i], &f->expected[m][b][i], sizeof y[i]) != 0) {
            record_failure(w, "%s %s n=%zu: y[%zu] = %.9g, serial run %.9g (kernel %s)", f->device_id,
                           lowbit_format_name(formats[m]), n, i, y[i], f->expected[m][b][i], run.kernel);
            return;
        }
}

static lowbit_weights *upload(worker *w, lowbit_context *context, size_t device, int m, unsigned flags)
{
    fixture *f = w->f;
    lowbit_weights *weights = NULL;
    if (lowbit_weights_upload(context, device, formats[m], ROWS, COLS, f->packed[m], f->packed_size[m], flags,
                              &weights) != LOWBIT_OK) {
        record_failure(w, "%s upload %s: %s", f->device_id, lowbit_format_name(formats[m]), lowbit_last_error());
        return NULL;
    }
    return weights;
}

/* Every thread walks the shared matrices from a different start, so at any moment some threads share a
 * weights object and some do not; odd threads also run a private upload of the same bytes. */
static void phase_shared(worker *w)
{
    fixture *f = w->f;
    lowbit_weights *own = NULL;
    if (w->index % 2) own = upload(w, f->context, f->device, w->index % MATRICES, 0);
    for (int round = 0; round < ROUNDS; ++round)
        for (int k = 0; k < MATRICES; ++k) {
            int m = (w->index + k) % MATRICES;
            for (size_t b = 0; b < BATCH_COUNT; ++b) {
                run_and_check(w, f->context, f->shared[m], m, b);
                if (own) run_and_check(w, f->context, own, w->index % MATRICES, b);
            }
        }
    lowbit_weights_destroy(own);
}

/* Uploads and destroys while other threads compute on the shared weights of the same context. */
static void phase_upload_churn(worker *w)
{
    fixture *f = w->f;
    for (int round = 0; round < ROUNDS * MATRICES; ++round) {
        int m = (w->index + round) % MATRICES;
        size_t b = (size_t)(w->index + round) % BATCH_COUNT;
        if (w->index % 2 == 0) {
            run_and_check(w, f->context, f->shared[m], m, b);
            continue;
        }
        lowbit_weights *weights = upload(w, f->context, f->device, m, round % 2 ? LOWBIT_UPLOAD_BORROW_HOST : 0);
        if (!weights) return;
        run_and_check(w, f->context, weights, m, b);
        lowbit_weights_destroy(weights);
    }
}

/* Half the threads create, use and destroy contexts of their own (with only this device's plugin), while
 * the other half keep computing on the shared context. */
static void phase_context_churn(worker *w)
{
    fixture *f = w->f;
    if (w->index % 2 == 0) {
        for (int round = 0; round < ROUNDS; ++round)
            for (size_t b = 0; b < BATCH_COUNT; ++b)
                run_and_check(w, f->context, f->shared[round % MATRICES], round % MATRICES, b);
        return;
    }
    char plugin[1024];
    const char *plugin_files[1] = {plugin};
    lowbit_context_options options = {.struct_size = sizeof options};
    const char *binary_dir = getenv("LOWBIT_TEST_BINARY_DIR");
    if (f->api == LOWBIT_API_CPU) {
        options.flags = LOWBIT_CONTEXT_NO_PLUGINS;
    } else if (binary_dir) {
        snprintf(plugin, sizeof plugin, "%s/lib/liblowbit-%s.so", binary_dir,
                 f->api == LOWBIT_API_OPENCL ? "opencl" : "vulkan");
        options.plugin_files = plugin_files;
        options.plugin_file_count = 1;
    }
    for (int round = 0; round < CONTEXT_ROUNDS; ++round) {
        lowbit_context *context = NULL;
        size_t device = 0;
        if (lowbit_context_create(&options, &context) != LOWBIT_OK ||
            lowbit_device_find(context, f->device_id, &device) != LOWBIT_OK) {
            record_failure(w, "own context for %s: %s", f->device_id, lowbit_last_error());
            lowbit_context_destroy(context);
            return;
        }
        int m = (w->index + round) % MATRICES;
        lowbit_weights *weights = upload(w, context, device, m, 0);
        for (size_t b = 0; weights && b < 2; ++b)
            run_and_check(w, context, weights, m, b);
        lowbit_weights_destroy(weights);
        lowbit_context_destroy(context);
    }
}

static void *worker_main(void *argument)
{
    worker *w = argument;
    pthread_barrier_wait(&w->f->start);
    switch (w->phase) {
    case PHASE_SHARED: phase_shared(w); break;
    case PHASE_UPLOAD_CHURN: phase_upload_churn(w); break;
    case PHASE_CONTEXT_CHURN: phase_context_churn(w); break;
    }
    return NULL;
}

static void run_phase(fixture *f, phase which)
{
    worker workers[THREADS];
    pthread_t threads[THREADS];
    assert_int_equal(pthread_barrier_init(&f->start, NULL, THREADS), 0);
    for (int t = 0; t < THREADS; ++t) {
        workers[t] = (worker){.f = f, .index = t, .phase = which};
        assert_int_equal(pthread_create(&threads[t], NULL, worker_main, &workers[t]), 0);
    }
    for (int t = 0; t < THREADS; ++t)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    pthread_barrier_destroy(&f->start);
    static const char *const names[] = {"shared weights", "upload churn", "context churn"};
    for (int t = 0; t < THREADS; ++t)
        if (workers[t].failures)
            fail_msg("%s, %s: %d failures; first: %s", f->device_id, names[which], workers[t].failures,
                     workers[t].first_failure);
}

/* The serial answers first (this also builds every kernel once), then the three concurrent phases. */
static void check_device(lowbit_api api)
{
    size_t device = 0;
    lowbit_context *context = test_open_device(api, &device);
    if (!context) {
        skip();
        return;
    }
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->api = api;
    f->context = context;
    f->device = device;
    lowbit_device_info info = {.struct_size = sizeof info};
    assert_int_equal(lowbit_device_get_info(f->context, f->device, &info), LOWBIT_OK);
    snprintf(f->device_id, sizeof f->device_id, "%s", info.id);
    test_fill_random(f->x, MAX_N * COLS, 77, 1.0f);
    for (int m = 0; m < MATRICES; ++m) {
        f->packed[m] = test_make_weights(formats[m], ROWS, COLS, 100 + (uint64_t)m, &f->packed_size[m]);
        assert_int_equal(lowbit_weights_upload(f->context, f->device, formats[m], ROWS, COLS, f->packed[m],
                                               f->packed_size[m], 0, &f->shared[m]),
                         LOWBIT_OK);
        for (size_t b = 0; b < BATCH_COUNT; ++b) {
            assert_int_equal(lowbit_matmul(f->context, f->shared[m], f->x, f->expected[m][b], batches[b]), LOWBIT_OK);
            lowbit_run_info run = {.struct_size = sizeof run};
            assert_int_equal(lowbit_last_run(f->context, &run), LOWBIT_OK);
            if (run.fell_back) fail_msg("%s: serial run fell back: %s", f->device_id, run.fallback_reason);
        }
    }
    run_phase(f, PHASE_SHARED);
    run_phase(f, PHASE_UPLOAD_CHURN);
    run_phase(f, PHASE_CONTEXT_CHURN);
    for (int m = 0; m < MATRICES; ++m) {
        lowbit_weights_destroy(f->shared[m]);
        free(f->packed[m]);
    }
    lowbit_context_destroy(f->context);
    free(f);
}

static void test_concurrency_cpu(void **state)
{
    (void)state;
    check_device(LOWBIT_API_CPU);
}

static void test_concurrency_opencl(void **state)
{
    (void)state;
    check_device(LOWBIT_API_OPENCL);
}

static void test_concurrency_vulkan(void **state)
{
    (void)state;
    check_device(LOWBIT_API_VULKAN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrency_cpu),
        cmocka_unit_test(test_concurrency_opencl),
        cmocka_unit_test(test_concurrency_vulkan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
