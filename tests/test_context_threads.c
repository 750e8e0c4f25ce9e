/* test_context_threads.c — regression: threads creating contexts at once crashed in the OpenCL probe
 * (the ICD and PoCL initialise on first use, and the probe lock was per context, not per process). Here
 * 4 threads each create, probe, use and destroy 10 contexts with every plugin, and all agree. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

enum { THREADS = 4, CONTEXTS_PER_THREAD = 10, ROWS = 8, COLS = 64 };

typedef struct worker {
    const void *packed;
    size_t packed_size;
    const float *x;
    size_t device_count; /* devices every context found (0 on failure) */
    int failures;
    char first_failure[512];
    float y[ROWS];
} worker;

static void record_failure(worker *w, const char *what, size_t device)
{
    if (w->failures++ == 0)
        snprintf(w->first_failure, sizeof w->first_failure, "%s (device %zu): %s", what, device, lowbit_last_error());
}

static void *create_contexts(void *argument)
{
    worker *w = argument;
    for (int i = 0; i < CONTEXTS_PER_THREAD; ++i) {
        lowbit_context *context = NULL;
        size_t count = 0;
        if (lowbit_context_create(NULL, &context) != LOWBIT_OK || lowbit_device_count(context, &count) != LOWBIT_OK) {
            record_failure(w, "context", 0);
            lowbit_context_destroy(context);
            continue;
        }
        if (i == 0)
            w->device_count = count;
        else if (count != w->device_count)
            record_failure(w, "device count differs", count);
        /* every device once, so first-time device set-up (queues, programs) also runs concurrently */
        for (size_t d = 0; d < count; ++d) {
            lowbit_weights *weights = NULL;
            float y[ROWS];
            lowbit_run_info run = {.struct_size = sizeof run};
            if (lowbit_weights_upload(context, d, LOWBIT_FORMAT_Q8_0, ROWS, COLS, w->packed, w->packed_size, 0,
                                      &weights) != LOWBIT_OK ||
                lowbit_matmul(context, weights, w->x, y, 1) != LOWBIT_OK || lowbit_last_run(context, &run) != LOWBIT_OK)
                record_failure(w, "upload or matmul", d);
            else if (run.fell_back)
                record_failure(w, run.fallback_reason, d);
            else if (d == 0)
                memcpy(w->y, y, sizeof y);
            lowbit_weights_destroy(weights);
        }
        lowbit_context_destroy(context);
    }
    return NULL;
}

static void test_threads_create_contexts_at_once(void **state)
{
    (void)state;
    size_t size = 0;
    void *packed = test_make_weights(LOWBIT_FORMAT_Q8_0, ROWS, COLS, 11, &size);
    float x[COLS];
    test_fill_random(x, COLS, 12, 1.0f);
    worker workers[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; ++t) {
        workers[t] = (worker){.packed = packed, .packed_size = size, .x = x};
        assert_int_equal(pthread_create(&threads[t], NULL, create_contexts, &workers[t]), 0);
    }
    for (int t = 0; t < THREADS; ++t)
        assert_int_equal(pthread_join(threads[t], NULL), 0);

    /* the serial answer, and the devices a lone context finds */
    lowbit_context *context = NULL;
    assert_int_equal(lowbit_context_create(NULL, &context), LOWBIT_OK);
    size_t count = 0;
    assert_int_equal(lowbit_device_count(context, &count), LOWBIT_OK);
    test_find_device(context, LOWBIT_API_OPENCL, 1);
    test_find_device(context, LOWBIT_API_VULKAN, 1);
    lowbit_weights *weights = NULL;
    float y[ROWS];
    assert_int_equal(lowbit_weights_upload(context, 0, LOWBIT_FORMAT_Q8_0, ROWS, COLS, packed, size, 0, &weights),
                     LOWBIT_OK);
    assert_int_equal(lowbit_matmul(context, weights, x, y, 1), LOWBIT_OK);
    lowbit_weights_destroy(weights);
    lowbit_context_destroy(context);
    for (int t = 0; t < THREADS; ++t) {
        if (workers[t].failures)
            fail_msg("thread %d: %d failures, first: %s", t, workers[t].failures, workers[t].first_failure);
        assert_int_equal(workers[t].device_count, count);
        assert_memory_equal(workers[t].y, y, sizeof y);
    }
    free(packed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_create_contexts_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
