/* test_queue.c — device-resident activations on every device (CPU backend, PoCL, lavapipe): a chain of
 * matmuls on device buffers with no host round trip between them, against the f64 reference; f16 X; offsets;
 * host-visible (zero-copy) buffers; events and a wait list across queues; misuse (NULL, destroyed handles,
 * out-of-range and misaligned offsets, overlap, foreign devices); a device fault in the middle of a queued
 * chain (the CPU fallback computes the same answer and the queue reports it); a context destroyed with live
 * queues, buffers and events. */
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

static void device_info(lowbit_context *ctx, size_t device, lowbit_device_info *info)
{
    *info = (lowbit_device_info){.struct_size = sizeof *info};
    assert_int_equal(lowbit_device_get_info(ctx, device, info), LOWBIT_OK);
}

/* One layer: random weights of `format`, rows × cols, on `device`, with its packed bytes for the reference. */
typedef struct layer {
    lowbit_format format;
    size_t rows, cols, size;
    void *packed;
    lowbit_weights *weights;
} layer;

static void layer_make(lowbit_context *ctx, size_t device, layer *l, lowbit_format format, size_t rows, size_t cols,
                       uint64_t seed)
{
    *l = (layer){format, rows, cols, 0, NULL, NULL};
    l->packed = test_make_weights(format, rows, cols, seed, &l->size);
    assert_int_equal(lowbit_weights_upload(ctx, device, format, rows, cols, l->packed, l->size, 0, &l->weights),
                     LOWBIT_OK);
}

static void layer_free(layer *l)
{
    lowbit_weights_destroy(l->weights);
    free(l->packed);
}

/* The f64 reference of Y = X·W1ᵀ·W2ᵀ…, each layer's input the previous one's f64 output rounded to f32 (what
 * the device passes on). Returns the last layer's output (caller frees). */
static double *chain_reference(const layer *layers, size_t count, const float *x, size_t n)
{
    float *input = malloc(n * layers[0].cols * sizeof *input);
    assert_non_null(input);
    memcpy(input, x, n * layers[0].cols * sizeof *input);
    double *output = NULL;
    for (size_t i = 0; i < count; ++i) {
        free(output);
        output = malloc(n * layers[i].rows * sizeof *output);
        assert_non_null(output);
        test_reference_matmul(layers[i].format, layers[i].packed, layers[i].size, layers[i].rows, layers[i].cols, input,
                              n, output);
        free(input);
        input = malloc(n * layers[i].rows * sizeof *input);
        assert_non_null(input);
        for (size_t k = 0; k < n * layers[i].rows; ++k)
            input[k] = (float)output[k];
    }
    free(input);
    return output;
}

/* Three matmuls chained through one device buffer: X (at `x_at` bytes) → H1 → H2 → Y, written once and read
 * once. Returns the NMSE against the f64 chain; *info gets the queue's record. */
static double run_chain(lowbit_context *ctx, size_t device, const layer *layers, size_t n, size_t x_at,
                        unsigned buffer_flags, lowbit_queue_info *info)
{
    const size_t cols = layers[0].cols, hidden = layers[0].rows, out = layers[2].rows;
    float *x = malloc(n * cols * sizeof *x), *y = malloc(n * out * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    test_fill_random(x, n * cols, 1000 + n, 1.0f);
    /* one buffer holds X, H1 and H2 at offsets, so the offsets are exercised; Y has its own */
    const size_t h1_at = x_at + n * cols * sizeof(float) + 12, h2_at = h1_at + n * hidden * sizeof(float) + 36;
    const size_t total = h2_at + n * layers[1].rows * sizeof(float) + 4;
    lowbit_buffer *work = NULL, *result = NULL;
    assert_int_equal(lowbit_buffer_create(ctx, device, total, buffer_flags, &work), LOWBIT_OK);
    assert_int_equal(lowbit_buffer_create(ctx, device, n * out * sizeof(float), buffer_flags, &result), LOWBIT_OK);
    lowbit_queue *queue = NULL;
    assert_int_equal(lowbit_queue_create(ctx, device, &queue), LOWBIT_OK);
    lowbit_event *written = NULL, *done = NULL;
    assert_int_equal(lowbit_enqueue_write(queue, work, x_at, x, n * cols * sizeof(float), NULL, 0, &written),
                     LOWBIT_OK);
    const size_t in_at[3] = {x_at, h1_at, h2_at}, out_at[3] = {h1_at, h2_at, 0};
    for (size_t i = 0; i < 3; ++i) {
        lowbit_matmul_buffers m = {
            sizeof m, layers[i].weights, work, in_at[i], LOWBIT_ACTIVATION_F32, i == 2 ? result : work, out_at[i], n};
        assert_int_equal(lowbit_enqueue_matmul(queue, &m, &written, i == 0, NULL), LOWBIT_OK);
    }
    assert_int_equal(lowbit_enqueue_read(queue, result, 0, y, n * out * sizeof(float), NULL, 0, &done), LOWBIT_OK);
    assert_int_equal(lowbit_queue_flush(queue), LOWBIT_OK);
    assert_int_equal(lowbit_event_wait(done), LOWBIT_OK);
    int complete = 0;
    assert_int_equal(lowbit_event_query(done, &complete), LOWBIT_OK);
    assert_int_equal(complete, 1);
    assert_int_equal(lowbit_event_query(written, &complete), LOWBIT_OK);
    assert_int_equal(complete, 1);
    *info = (lowbit_queue_info){.struct_size = sizeof *info};
    assert_int_equal(lowbit_queue_get_info(queue, info), LOWBIT_OK);
    lowbit_event_release(written);
    lowbit_event_release(done);
    lowbit_queue_destroy(queue);
    lowbit_buffer_destroy(work);
    lowbit_buffer_destroy(result);
    double *reference = chain_reference(layers, 3, x, n);
    double nmse = test_nmse(y, reference, n * out);
    free(reference);
    free(x);
    free(y);
    return nmse;
}

/* A 3-layer chain per device and format, n = 1, 3 and 16 (the GEMM), at aligned and odd offsets; every matmul
 * runs on the device itself (no fallback) for the formats it lists. */
static void test_chain_every_device(void **state)
{
    (void)state;
    static const lowbit_format formats[] = {LOWBIT_FORMAT_Q4_0, LOWBIT_FORMAT_Q4_K, LOWBIT_FORMAT_Q8_0,
                                            LOWBIT_FORMAT_F16};
    static const size_t batches[] = {1, 3, 16};
    for (size_t d = 0; d < device_count; ++d) {
        lowbit_device_info info;
        device_info(context, d, &info);
        size_t runs = 0;
        for (size_t f = 0; f < sizeof formats / sizeof formats[0]; ++f) {
            layer layers[3];
            layer_make(context, d, &layers[0], formats[f], 256, 512, 11 + f);
            layer_make(context, d, &layers[1], formats[f], 256, 256, 12 + f);
            layer_make(context, d, &layers[2], formats[f], 96, 256, 13 + f);
            for (size_t b = 0; b < sizeof batches / sizeof batches[0]; ++b) {
                for (size_t at = 0; at < 2; ++at) {
                    lowbit_queue_info queue_info;
                    double nmse = run_chain(context, d, layers, batches[b], at ? 260 : 0, 0, &queue_info);
                    if (nmse > TEST_NMSE_LIMIT)
                        fail_msg("%s %s n=%zu offset=%d: NMSE %.3g", info.id, lowbit_format_name(formats[f]),
                                 batches[b], at ? 260 : 0, nmse);
                    assert_int_equal(queue_info.matmuls, 3);
                    assert_int_equal(queue_info.operations, 5);
                    if ((info.formats >> formats[f]) & 1u && queue_info.fallbacks != 0)
                        fail_msg("%s %s n=%zu: %llu fallbacks (%s)", info.id, lowbit_format_name(formats[f]),
                                 batches[b], (unsigned long long)queue_info.fallbacks, queue_info.last_fallback_reason);
                    assert_true(queue_info.last_kernel[0] != '\0');
                    ++runs;
                }
            }
            for (size_t i = 0; i < 3; ++i)
                layer_free(&layers[i]);
        }
        print_message("[ queue    ] %s: %zu chains of 3 queued matmuls within NMSE %.0e\n", info.id, runs,
                      TEST_NMSE_LIMIT);
    }
}

/* f16 activations from a device buffer. */
static void test_f16_activations(void **state)
{
    (void)state;
    const size_t rows = 64, cols = 256, n = 4;
    float *x = malloc(n * cols * sizeof *x), *y = malloc(n * rows * sizeof *y);
    uint16_t *x16 = malloc(n * cols * sizeof *x16);
    double *reference = malloc(n * rows * sizeof *reference);
    assert_true(x && y && x16 && reference);
    test_fill_random(x, n * cols, 77, 1.0f);
    for (size_t i = 0; i < n * cols; ++i) {
        x16[i] = lowbit_fp32_to_fp16(x[i]);
        x[i] = lowbit_fp16_to_fp32(x16[i]);
    }
    for (size_t d = 0; d < device_count; ++d) {
        layer l;
        layer_make(context, d, &l, LOWBIT_FORMAT_Q4_0, rows, cols, 5);
        test_reference_matmul(l.format, l.packed, l.size, rows, cols, x, n, reference);
        lowbit_buffer *bx = NULL, *by = NULL;
        lowbit_queue *queue = NULL;
        assert_int_equal(lowbit_buffer_create(context, d, 2 + n * cols * 2, 0, &bx), LOWBIT_OK);
        assert_int_equal(lowbit_buffer_create(context, d, n * rows * 4, 0, &by), LOWBIT_OK);
        assert_int_equal(lowbit_queue_create(context, d, &queue), LOWBIT_OK);
        assert_int_equal(lowbit_enqueue_write(queue, bx, 2, x16, n * cols * 2, NULL, 0, NULL), LOWBIT_OK);
        lowbit_matmul_buffers m = {sizeof m, l.weights, bx, 2, LOWBIT_ACTIVATION_F16, by, 0, n};
        assert_int_equal(lowbit_enqueue_matmul(queue, &m, NULL, 0, NULL), LOWBIT_OK);
        assert_int_equal(lowbit_enqueue_read(queue, by, 0, y, n * rows * 4, NULL, 0, NULL), LOWBIT_OK);
        assert_int_equal(lowbit_queue_finish(queue), LOWBIT_OK);
        assert_true(test_nmse(y, reference, n * rows) <= TEST_NMSE_LIMIT);
        lowbit_queue_destroy(queue);
        lowbit_buffer_destroy(bx);
        lowbit_buffer_destroy(by);
        layer_free(&l);
    }
    free(x);
    free(y);
    free(x16);
    free(reference);
}

/* Host-visible buffers: the CPU backend, PoCL and lavapipe all share the host's memory, so each must give
 * them; X is written and Y read through the mapping, with no copy call at all. */
static void test_host_visible(void **state)
{
    (void)state;
    const size_t rows = 80, cols = 256, n = 2;
    for (size_t d = 0; d < device_count; ++d) {
        lowbit_device_info info;
        device_info(context, d, &info);
        lowbit_buffer *bx = NULL, *by = NULL;
        lowbit_status status = lowbit_buffer_create(context, d, n * cols * 4, LOWBIT_BUFFER_HOST_VISIBLE, &bx);
        if (status == LOWBIT_ERROR_UNSUPPORTED && !info.is_cpu_device) {
            print_message("[ queue    ] %s: no host-visible memory (%s)\n", info.id, lowbit_last_error());
            continue;
        }
        assert_int_equal(status, LOWBIT_OK);
        assert_int_equal(lowbit_buffer_create(context, d, n * rows * 4, LOWBIT_BUFFER_HOST_VISIBLE, &by), LOWBIT_OK);
        lowbit_buffer_info buffer_info = {.struct_size = sizeof buffer_info};
        assert_int_equal(lowbit_buffer_get_info(bx, &buffer_info), LOWBIT_OK);
        assert_int_equal(buffer_info.host_visible, 1);
        assert_int_equal(buffer_info.size, n * cols * 4);
        assert_int_equal(buffer_info.device, d);
        float *x = NULL, *y = NULL;
        assert_int_equal(lowbit_buffer_map(bx, (void **)&x), LOWBIT_OK);
        assert_int_equal(lowbit_buffer_map(by, (void **)&y), LOWBIT_OK);
        test_fill_random(x, n * cols, 99, 1.0f);
        layer l;
        layer_make(context, d, &l, LOWBIT_FORMAT_Q8_0, rows, cols, 8);
        double reference[2 * 80];
        test_reference_matmul(l.format, l.packed, l.size, rows, cols, x, n, reference);
        lowbit_queue *queue = NULL;
        assert_int_equal(lowbit_queue_create(context, d, &queue), LOWBIT_OK);
        lowbit_matmul_buffers m = {sizeof m, l.weights, bx, 0, LOWBIT_ACTIVATION_F32, by, 0, n};
        assert_int_equal(lowbit_enqueue_matmul(queue, &m, NULL, 0, NULL), LOWBIT_OK);
        assert_int_equal(lowbit_queue_finish(queue), LOWBIT_OK);
        assert_true(test_nmse(y, reference, n * rows) <= TEST_NMSE_LIMIT);
        print_message("[ queue    ] %s: host-visible buffers, zero-copy X and Y\n", info.id);
        lowbit_queue_destroy(queue);
        lowbit_buffer_destroy(bx);
        lowbit_buffer_destroy(by);
        layer_free(&l);
    }
}

/* Two queues: B's matmul waits for A's write of X through the wait list; A's read of Y waits for B. */
static void test_wait_list_across_queues(void **state)
{
    (void)state;
    const size_t rows = 64, cols = 512, n = 3;
    float x[3 * 512], y[3 * 64];
    double reference[3 * 64];
    test_fill_random(x, n * cols, 5, 1.0f);
    for (size_t d = 0; d < device_count; ++d) {
        layer l;
        layer_make(context, d, &l, LOWBIT_FORMAT_Q4_K, rows, cols, 21);
        test_reference_matmul(l.format, l.packed, l.size, rows, cols, x, n, reference);
        lowbit_buffer *bx = NULL, *by = NULL;
        lowbit_queue *a = NULL, *b = NULL;
        assert_int_equal(lowbit_buffer_create(context, d, sizeof x, 0, &bx), LOWBIT_OK);
        assert_int_equal(lowbit_buffer_create(context, d, sizeof y, 0, &by), LOWBIT_OK);
        assert_int_equal(lowbit_queue_create(context, d, &a), LOWBIT_OK);
        assert_int_equal(lowbit_queue_create(context, d, &b), LOWBIT_OK);
        lowbit_event *written = NULL, *multiplied = NULL, *read = NULL;
        assert_int_equal(lowbit_enqueue_write(a, bx, 0, x, sizeof x, NULL, 0, &written), LOWBIT_OK);
        lowbit_matmul_buffers m = {sizeof m, l.weights, bx, 0, LOWBIT_ACTIVATION_F32, by, 0, n};
        assert_int_equal(lowbit_enqueue_matmul(b, &m, &written, 1, &multiplied), LOWBIT_OK);
        assert_int_equal(lowbit_enqueue_read(a, by, 0, y, sizeof y, &multiplied, 1, &read), LOWBIT_OK);
        assert_int_equal(lowbit_event_wait(read), LOWBIT_OK);
        assert_true(test_nmse(y, reference, n * rows) <= TEST_NMSE_LIMIT);
        /* the events outlive their queues */
        lowbit_queue_destroy(a);
        lowbit_queue_destroy(b);
        int complete = 0;
        assert_int_equal(lowbit_event_query(multiplied, &complete), LOWBIT_OK);
        assert_int_equal(complete, 1);
        assert_int_equal(lowbit_event_wait(written), LOWBIT_OK);
        lowbit_event_release(written);
        lowbit_event_release(multiplied);
        lowbit_event_release(read);
        lowbit_buffer_destroy(bx);
        lowbit_buffer_destroy(by);
        layer_free(&l);
    }
}

/* Every call refuses bad arguments with LOWBIT_ERROR_INVALID_ARGUMENT and a message, and nothing crashes. */
static void test_misuse(void **state)
{
    (void)state;
    const size_t d = 0; /* the CPU backend; the checks are the host's, the same for every device */
    lowbit_buffer *buffer = NULL, *small = NULL;
    lowbit_queue *queue = NULL;
    float host[256] = {0};
    assert_int_equal(lowbit_buffer_create(NULL, d, 64, 0, &buffer), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_buffer_create(context, d, 64, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_buffer_create(context, d, 0, 0, &buffer), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_null(buffer);
    assert_int_equal(lowbit_buffer_create(context, d, 64, 0x80, &buffer), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_buffer_create(context, device_count, 64, 0, &buffer), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_queue_create(context, device_count + 3, &queue), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_queue_create(NULL, d, &queue), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_buffer_create(context, d, 1024, 0, &buffer), LOWBIT_OK);
    assert_int_equal(lowbit_buffer_create(context, d, 16, 0, &small), LOWBIT_OK);
    assert_int_equal(lowbit_queue_create(context, d, &queue), LOWBIT_OK);

    /* copies: NULL, empty, out of range (including offsets that overflow) */
    assert_int_equal(lowbit_enqueue_write(NULL, buffer, 0, host, 4, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_enqueue_write(queue, NULL, 0, host, 4, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_enqueue_write(queue, buffer, 0, NULL, 4, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_enqueue_read(queue, buffer, 0, NULL, 4, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_enqueue_write(queue, buffer, 0, host, 0, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_enqueue_write(queue, buffer, 1021, host, 4, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(lowbit_last_error(), "outside the 1024-byte"));
    assert_int_equal(lowbit_enqueue_read(queue, buffer, 2048, host, 4, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_enqueue_read(queue, buffer, 8, host, SIZE_MAX - 4, NULL, 0, NULL),
                     LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_enqueue_write(queue, buffer, 0, host, 4, NULL, 2, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    lowbit_event *null_event = NULL;
    assert_int_equal(lowbit_enqueue_write(queue, buffer, 0, host, 4, &null_event, 1, NULL),
                     LOWBIT_ERROR_INVALID_ARGUMENT);

    /* matmul arguments */
    layer l;
    layer_make(context, d, &l, LOWBIT_FORMAT_Q4_0, 8, 64, 3);
    lowbit_matmul_buffers m = {sizeof m, l.weights, buffer, 0, LOWBIT_ACTIVATION_F32, buffer, 512, 2};
    assert_int_equal(lowbit_enqueue_matmul(queue, &m, NULL, 0, NULL), LOWBIT_OK);
    assert_int_equal(lowbit_enqueue_matmul(queue, NULL, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    lowbit_matmul_buffers bad = m;
    bad.struct_size = 8;
    assert_int_equal(lowbit_enqueue_matmul(queue, &bad, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    bad = m;
    bad.weights = NULL;
    assert_int_equal(lowbit_enqueue_matmul(queue, &bad, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    bad = m;
    bad.n = 0;
    assert_int_equal(lowbit_enqueue_matmul(queue, &bad, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    bad = m;
    bad.n = 3; /* 3 rows of X (768 bytes) overlap Y at 512 */
    assert_int_equal(lowbit_enqueue_matmul(queue, &bad, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    bad = m;
    bad.y_offset = 100; /* Y at 100..164 overlaps X at 0..512 */
    assert_int_equal(lowbit_enqueue_matmul(queue, &bad, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(lowbit_last_error(), "overlap"));
    bad = m;
    bad.x_offset = 2; /* f32 X must be 4-byte aligned */
    assert_int_equal(lowbit_enqueue_matmul(queue, &bad, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    bad = m;
    bad.y_offset = 1000; /* 64 bytes of Y do not fit */
    assert_int_equal(lowbit_enqueue_matmul(queue, &bad, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    bad = m;
    bad.x = small;
    assert_int_equal(lowbit_enqueue_matmul(queue, &bad, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    bad = m;
    bad.x_type = (lowbit_activation)7;
    assert_int_equal(lowbit_enqueue_matmul(queue, &bad, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    bad = m;
    bad.n = SIZE_MAX / 8;
    assert_int_equal(lowbit_enqueue_matmul(queue, &bad, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);

    /* weights and buffers of another device or context */
    if (device_count > 1) {
        layer other;
        layer_make(context, 1, &other, LOWBIT_FORMAT_Q4_0, 8, 64, 3);
        bad = m;
        bad.weights = other.weights;
        assert_int_equal(lowbit_enqueue_matmul(queue, &bad, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
        assert_non_null(strstr(lowbit_last_error(), "uploaded for"));
        lowbit_buffer *elsewhere = NULL;
        assert_int_equal(lowbit_buffer_create(context, 1, 1024, 0, &elsewhere), LOWBIT_OK);
        assert_int_equal(lowbit_enqueue_write(queue, elsewhere, 0, host, 4, NULL, 0, NULL),
                         LOWBIT_ERROR_INVALID_ARGUMENT);
        bad = m;
        bad.y = elsewhere;
        assert_int_equal(lowbit_enqueue_matmul(queue, &bad, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
        lowbit_buffer_destroy(elsewhere);
        layer_free(&other);
    }
    lowbit_context *second = NULL;
    assert_int_equal(lowbit_context_create(&(lowbit_context_options){.struct_size = sizeof(lowbit_context_options),
                                                                     .flags = LOWBIT_CONTEXT_NO_PLUGINS},
                                           &second),
                     LOWBIT_OK);
    lowbit_buffer *foreign = NULL;
    assert_int_equal(lowbit_buffer_create(second, 0, 64, 0, &foreign), LOWBIT_OK);
    assert_int_equal(lowbit_enqueue_write(queue, foreign, 0, host, 4, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    lowbit_context_destroy(second); /* releases `foreign` */
    assert_int_equal(lowbit_enqueue_write(queue, foreign, 0, host, 4, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);

    /* destroyed handles */
    lowbit_event *event = NULL;
    assert_int_equal(lowbit_enqueue_write(queue, buffer, 0, host, 4, NULL, 0, &event), LOWBIT_OK);
    lowbit_event_release(event);
    assert_int_equal(lowbit_event_wait(event), LOWBIT_ERROR_INVALID_ARGUMENT);
    int complete = 0;
    assert_int_equal(lowbit_event_query(event, &complete), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_enqueue_write(queue, buffer, 0, host, 4, &event, 1, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    lowbit_event_release(event); /* logged, ignored */
    lowbit_buffer_destroy(small);
    lowbit_buffer_destroy(small); /* logged, ignored */
    bad = m;
    bad.x = small;
    assert_int_equal(lowbit_enqueue_matmul(queue, &bad, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    void *pointer = NULL;
    assert_int_equal(lowbit_buffer_map(small, &pointer), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_buffer_map(buffer, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    lowbit_buffer_info binfo = {.struct_size = 2};
    assert_int_equal(lowbit_buffer_get_info(buffer, &binfo), LOWBIT_ERROR_INVALID_ARGUMENT);
    lowbit_queue_info qinfo = {.struct_size = 0};
    assert_int_equal(lowbit_queue_get_info(queue, &qinfo), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_event_query(NULL, &complete), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_event_wait(NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    layer_free(&l);
    assert_int_equal(lowbit_enqueue_matmul(queue, &m, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    lowbit_queue_destroy(queue);
    assert_int_equal(lowbit_queue_finish(queue), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_queue_flush(queue), LOWBIT_ERROR_INVALID_ARGUMENT);
    assert_int_equal(lowbit_enqueue_write(queue, buffer, 0, host, 4, NULL, 0, NULL), LOWBIT_ERROR_INVALID_ARGUMENT);
    lowbit_queue_destroy(queue); /* logged, ignored */
    lowbit_buffer_destroy(buffer);
    lowbit_buffer_destroy(NULL);
    lowbit_queue_destroy(NULL);
    lowbit_event_release(NULL);
}

/* A device fault in the middle of a queued chain: the first matmul runs on the device, the second meets an
 * injected launch fault and runs on the CPU backend (drained, X read back, Y written), the third runs on the
 * device again and reads the fallback's Y. The answer matches the f64 chain, and the queue counts it. */
static void check_fault_mid_chain(lowbit_api api, const char *site)
{
    size_t device = 0;
    lowbit_context *ctx = test_open_device(api, &device);
    if (!ctx) return;
    lowbit_device_info info;
    device_info(ctx, device, &info);
    layer layers[3];
    layer_make(ctx, device, &layers[0], LOWBIT_FORMAT_Q4_0, 256, 512, 31);
    layer_make(ctx, device, &layers[1], LOWBIT_FORMAT_Q4_0, 128, 256, 32);
    layer_make(ctx, device, &layers[2], LOWBIT_FORMAT_Q4_0, 64, 128, 33);
    const size_t n = 2;
    float x[2 * 512], y[2 * 64];
    test_fill_random(x, n * 512, 55, 1.0f);
    lowbit_buffer *bx = NULL, *h1 = NULL, *h2 = NULL, *by = NULL;
    assert_int_equal(lowbit_buffer_create(ctx, device, sizeof x, 0, &bx), LOWBIT_OK);
    assert_int_equal(lowbit_buffer_create(ctx, device, n * 256 * 4, 0, &h1), LOWBIT_OK);
    assert_int_equal(lowbit_buffer_create(ctx, device, n * 128 * 4, 0, &h2), LOWBIT_OK);
    assert_int_equal(lowbit_buffer_create(ctx, device, sizeof y, 0, &by), LOWBIT_OK);
    lowbit_queue *queue = NULL;
    assert_int_equal(lowbit_queue_create(ctx, device, &queue), LOWBIT_OK);
    assert_int_equal(lowbit_enqueue_write(queue, bx, 0, x, sizeof x, NULL, 0, NULL), LOWBIT_OK);
    lowbit_buffer *in[3] = {bx, h1, h2}, *out[3] = {h1, h2, by};
    for (size_t i = 0; i < 3; ++i) {
        if (i == 1) setenv("LOWBIT_FAULT", site, 1);
        lowbit_matmul_buffers m = {sizeof m, layers[i].weights, in[i], 0, LOWBIT_ACTIVATION_F32, out[i], 0, n};
        lowbit_status status = lowbit_enqueue_matmul(queue, &m, NULL, 0, NULL);
        unsetenv("LOWBIT_FAULT");
        assert_int_equal(status, LOWBIT_OK);
    }
    assert_int_equal(lowbit_enqueue_read(queue, by, 0, y, sizeof y, NULL, 0, NULL), LOWBIT_OK);
    assert_int_equal(lowbit_queue_finish(queue), LOWBIT_OK);
    lowbit_queue_info qinfo = {.struct_size = sizeof qinfo};
    assert_int_equal(lowbit_queue_get_info(queue, &qinfo), LOWBIT_OK);
    assert_int_equal(qinfo.matmuls, 3);
    assert_int_equal(qinfo.fallbacks, 1);
    assert_non_null(strstr(qinfo.last_fallback_reason, "fault injected"));
    assert_non_null(strstr(qinfo.last_fallback_reason, info.id));
    double *reference = chain_reference(layers, 3, x, n);
    double nmse = test_nmse(y, reference, n * 64);
    free(reference);
    if (nmse > TEST_NMSE_LIMIT) fail_msg("%s: NMSE %.3g after the fallback", info.id, nmse);
    print_message("[ queue    ] %s: a launch fault mid-chain fell back to the CPU (%s)\n", info.id,
                  qinfo.last_fallback_reason);
    lowbit_queue_destroy(queue);
    for (size_t i = 0; i < 3; ++i)
        layer_free(&layers[i]);
    lowbit_buffer_destroy(bx);
    lowbit_buffer_destroy(h1);
    lowbit_buffer_destroy(h2);
    lowbit_buffer_destroy(by);
    lowbit_context_destroy(ctx);
}

static void test_fault_mid_chain_opencl(void **state)
{
    (void)state;
    check_fault_mid_chain(LOWBIT_API_OPENCL, "opencl.run");
}

static void test_fault_mid_chain_vulkan(void **state)
{
    (void)state;
    check_fault_mid_chain(LOWBIT_API_VULKAN, "vulkan.run");
}

/* Weights whose upload fell back to the CPU still run in the queue's order on device buffers. */
static void test_weights_on_cpu_fallback(void **state)
{
    (void)state;
    for (size_t d = 0; d < device_count; ++d) {
        lowbit_device_info info;
        device_info(context, d, &info);
        if (info.api == LOWBIT_API_CPU) continue;
        setenv("LOWBIT_FAULT", info.api == LOWBIT_API_OPENCL ? "opencl.alloc" : "vulkan.alloc", 1);
        layer l;
        layer_make(context, d, &l, LOWBIT_FORMAT_Q8_0, 32, 256, 41);
        unsetenv("LOWBIT_FAULT");
        float x[256], y[32];
        double reference[32];
        test_fill_random(x, 256, 9, 1.0f);
        test_reference_matmul(l.format, l.packed, l.size, 32, 256, x, 1, reference);
        lowbit_buffer *bx = NULL, *by = NULL;
        lowbit_queue *queue = NULL;
        assert_int_equal(lowbit_buffer_create(context, d, sizeof x, 0, &bx), LOWBIT_OK);
        assert_int_equal(lowbit_buffer_create(context, d, sizeof y, 0, &by), LOWBIT_OK);
        assert_int_equal(lowbit_queue_create(context, d, &queue), LOWBIT_OK);
        assert_int_equal(lowbit_enqueue_write(queue, bx, 0, x, sizeof x, NULL, 0, NULL), LOWBIT_OK);
        lowbit_matmul_buffers m = {sizeof m, l.weights, bx, 0, LOWBIT_ACTIVATION_F32, by, 0, 1};
        assert_int_equal(lowbit_enqueue_matmul(queue, &m, NULL, 0, NULL), LOWBIT_OK);
        assert_int_equal(lowbit_enqueue_read(queue, by, 0, y, sizeof y, NULL, 0, NULL), LOWBIT_OK);
        assert_int_equal(lowbit_queue_finish(queue), LOWBIT_OK);
        assert_true(test_nmse(y, reference, 32) <= TEST_NMSE_LIMIT);
        lowbit_queue_info qinfo = {.struct_size = sizeof qinfo};
        assert_int_equal(lowbit_queue_get_info(queue, &qinfo), LOWBIT_OK);
        assert_int_equal(qinfo.fallbacks, 1);
        assert_non_null(strstr(qinfo.last_fallback_reason, "upload failed"));
        lowbit_queue_destroy(queue);
        lowbit_buffer_destroy(bx);
        lowbit_buffer_destroy(by);
        layer_free(&l);
    }
}

/* Destroying what queued work still uses waits for it: a buffer freed right after its matmul was queued, and a
 * context destroyed with live queues, buffers and events (the events are released afterwards). */
static void test_destroy_with_work_queued(void **state)
{
    (void)state;
    for (size_t d = 0; d < device_count; ++d) {
        lowbit_context *ctx = NULL;
        assert_int_equal(lowbit_context_create(NULL, &ctx), LOWBIT_OK);
        layer l;
        layer_make(ctx, d, &l, LOWBIT_FORMAT_Q4_0, 512, 1024, 61);
        float x[4 * 1024], y[4 * 512];
        double reference[4 * 512];
        test_fill_random(x, 4 * 1024, 17, 1.0f);
        test_reference_matmul(l.format, l.packed, l.size, 512, 1024, x, 4, reference);
        lowbit_buffer *bx = NULL, *by = NULL;
        lowbit_queue *queue = NULL;
        assert_int_equal(lowbit_buffer_create(ctx, d, sizeof x, 0, &bx), LOWBIT_OK);
        assert_int_equal(lowbit_buffer_create(ctx, d, sizeof y, 0, &by), LOWBIT_OK);
        assert_int_equal(lowbit_queue_create(ctx, d, &queue), LOWBIT_OK);
        assert_int_equal(lowbit_enqueue_write(queue, bx, 0, x, sizeof x, NULL, 0, NULL), LOWBIT_OK);
        lowbit_matmul_buffers m = {sizeof m, l.weights, bx, 0, LOWBIT_ACTIVATION_F32, by, 0, 4};
        lowbit_event *event = NULL;
        assert_int_equal(lowbit_enqueue_matmul(queue, &m, NULL, 0, &event), LOWBIT_OK);
        assert_int_equal(lowbit_queue_flush(queue), LOWBIT_OK);
        lowbit_buffer_destroy(bx); /* waits for the matmul that reads it */
        assert_int_equal(lowbit_enqueue_read(queue, by, 0, y, sizeof y, NULL, 0, NULL), LOWBIT_OK);
        assert_int_equal(lowbit_queue_finish(queue), LOWBIT_OK);
        assert_true(test_nmse(y, reference, 4 * 512) <= TEST_NMSE_LIMIT);
        /* queue more, then destroy the context under it */
        assert_int_equal(lowbit_enqueue_write(queue, by, 0, y, sizeof y, NULL, 0, NULL), LOWBIT_OK);
        lowbit_event *pending = NULL;
        assert_int_equal(lowbit_enqueue_read(queue, by, 0, y, sizeof y, NULL, 0, &pending), LOWBIT_OK);
        lowbit_context_destroy(ctx);
        int complete = 0;
        assert_int_equal(lowbit_event_query(pending, &complete), LOWBIT_OK);
        assert_int_equal(complete, 1);
        lowbit_event_release(pending);
        lowbit_event_release(event);
        assert_int_equal(lowbit_queue_finish(queue), LOWBIT_ERROR_INVALID_ARGUMENT);
        free(l.packed);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_every_device),
        cmocka_unit_test(test_f16_activations),
        cmocka_unit_test(test_host_visible),
        cmocka_unit_test(test_wait_list_across_queues),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_fault_mid_chain_opencl),
        cmocka_unit_test(test_fault_mid_chain_vulkan),
        cmocka_unit_test(test_weights_on_cpu_fallback),
        cmocka_unit_test(test_destroy_with_work_queued),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
