/* test_ggml_buffers.c — libggml-lowbit driven through ggml's own API, on every lowbit device: device names and
 * types, the buffer types' exact bytes, weights uploads that follow every rewrite of a weights buffer
 * (set_tensor in pieces, memset, clear), an mmap-style host-pointer buffer, and the CPU device computing on
 * ggml's plain CPU buffers. Built only with -DLOWBIT_GGML=ON (it needs the engine's headers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

#ifndef LOWBIT_TEST_GGML
static void test_needs_the_ggml_adapter(void **state)
{
    (void)state;
    skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_needs_the_ggml_adapter)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#else

#include <dlfcn.h>

#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml.h"

enum { K = 256, M = 64, N = 3 };

static ggml_backend_reg_t plugin_reg;

static int load_plugin(void **state)
{
    (void)state;
    const char *path = getenv("LOWBIT_TEST_GGML_PLUGIN");
    if (!path) return -1;
    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        fprintf(stderr, "cannot open %s: %s\n", path, dlerror());
        return -1;
    }
    ggml_backend_reg_t (*init)(void);
    *(void **)&init = dlsym(library, "ggml_backend_init");
    plugin_reg = init ? init() : NULL;
    return plugin_reg ? 0 : -1;
}

static ggml_backend_dev_t find_device(const char *prefix)
{
    for (size_t i = 0; i < ggml_backend_reg_dev_count(plugin_reg); ++i) {
        ggml_backend_dev_t dev = ggml_backend_reg_dev_get(plugin_reg, i);
        if (strncmp(ggml_backend_dev_name(dev), prefix, strlen(prefix)) == 0) return dev;
    }
    return NULL;
}

/* The devices a test runs on: the CPU backend always, PoCL and lavapipe where present (required in CI). */
static size_t devices(ggml_backend_dev_t out[3])
{
    static const char *const prefixes[] = {"LOWBIT_cpu", "LOWBIT_opencl:", "LOWBIT_vulkan:"};
    size_t count = 0;
    for (int i = 0; i < 3; ++i) {
        ggml_backend_dev_t dev = find_device(prefixes[i]);
        if (dev)
            out[count++] = dev;
        else if (i == 0 || test_in_ci())
            fail_msg("no %s device", prefixes[i]);
    }
    return count;
}

static void random_floats(float *values, size_t count, unsigned seed)
{
    for (size_t i = 0; i < count; ++i) {
        seed = seed * 1103515245u + 12345u;
        values[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

/* Q4_0 bytes of a random M×K matrix */
static void *random_weights(unsigned seed, size_t *size)
{
    float *values = malloc(sizeof(float) * M * K);
    assert_non_null(values);
    random_floats(values, (size_t)M * K, seed);
    *size = lowbit_format_row_size(LOWBIT_FORMAT_Q4_0, K) * M;
    void *bytes = malloc(*size);
    assert_non_null(bytes);
    assert_int_equal(lowbit_quantize(LOWBIT_FORMAT_Q4_0, values, M, K, bytes, *size, NULL, 1), 0);
    free(values);
    return bytes;
}

typedef struct {
    struct ggml_context *context;
    struct ggml_tensor *w, *x, *y;
    struct ggml_cgraph *graph;
    ggml_backend_buffer_t activations;
    float x_values[N * K];
} matmul_graph;

/* Y = W·X with W already placed by the caller (w_buffer) and X, Y in the device's own buffer type. */
static void graph_build(matmul_graph *g, ggml_backend_dev_t dev, ggml_backend_buffer_t w_buffer, void *w_address)
{
    struct ggml_init_params params = {ggml_tensor_overhead() * 8 + ggml_graph_overhead(), NULL, true};
    g->context = ggml_init(params);
    assert_non_null(g->context);
    g->w = ggml_new_tensor_2d(g->context, GGML_TYPE_Q4_0, K, M);
    g->x = ggml_new_tensor_2d(g->context, GGML_TYPE_F32, K, N);
    g->y = ggml_mul_mat(g->context, g->w, g->x);
    assert_int_equal(ggml_backend_tensor_alloc(w_buffer, g->w, w_address), GGML_STATUS_SUCCESS);
    g->activations = ggml_backend_buft_alloc_buffer(ggml_backend_dev_buffer_type(dev), 1 << 16);
    assert_non_null(g->activations);
    char *base = ggml_backend_buffer_get_base(g->activations);
    assert_int_equal(ggml_backend_tensor_alloc(g->activations, g->x, base), GGML_STATUS_SUCCESS);
    assert_int_equal(ggml_backend_tensor_alloc(g->activations, g->y, base + 32768), GGML_STATUS_SUCCESS);
    random_floats(g->x_values, N * K, 7);
    ggml_backend_tensor_set(g->x, g->x_values, 0, sizeof g->x_values);
    g->graph = ggml_new_graph(g->context);
    ggml_build_forward_expand(g->graph, g->y);
    assert_true(ggml_backend_dev_supports_op(dev, g->y));
}

static void graph_free(matmul_graph *g)
{
    ggml_backend_buffer_free(g->activations);
    ggml_free(g->context);
}

/* Computes on `backend` and compares with W's bytes `expected` dequantized by lowbit (f64 sums). */
static void check_matmul(matmul_graph *g, ggml_backend_t backend, const void *expected, size_t size)
{
    assert_int_equal(ggml_backend_graph_compute(backend, g->graph), GGML_STATUS_SUCCESS);
    float y[N * M];
    ggml_backend_tensor_get(g->y, y, 0, sizeof y);
    float *w = malloc(sizeof(float) * M * K);
    assert_non_null(w);
    assert_int_equal(lowbit_dequantize(LOWBIT_FORMAT_Q4_0, expected, size, M, K, w), 0);
    double error = 0, energy = 0;
    for (int n = 0; n < N; ++n)
        for (int m = 0; m < M; ++m) {
            double sum = 0;
            for (int k = 0; k < K; ++k)
                sum += (double)w[m * K + k] * g->x_values[n * K + k];
            error += (y[n * M + m] - sum) * (y[n * M + m] - sum);
            energy += sum * sum;
        }
    free(w);
    if (energy == 0)
        assert_true(error == 0);
    else if (error / energy > 1e-6)
        fail_msg("NMSE %g on %s", error / energy, ggml_backend_name(backend));
}

static void test_devices_are_named_and_typed(void **state)
{
    (void)state;
    ggml_backend_dev_t list[3];
    size_t count = devices(list);
    for (size_t i = 0; i < count; ++i) {
        struct ggml_backend_dev_props props;
        ggml_backend_dev_get_props(list[i], &props);
        assert_true(strlen(props.description) > 0);
        assert_true(props.memory_total > 0);
        assert_true(props.caps.buffer_from_host_ptr);
        if (strcmp(props.name, "LOWBIT_cpu") == 0) {
            assert_int_equal(props.type, GGML_BACKEND_DEVICE_TYPE_ACCEL);
            assert_true(ggml_backend_dev_supports_buft(list[i], ggml_backend_cpu_buffer_type()));
        } else {
            /* PoCL and lavapipe are CPUs behind the API: integrated, host memory */
            assert_int_equal(props.type, GGML_BACKEND_DEVICE_TYPE_IGPU);
            assert_false(ggml_backend_dev_supports_buft(list[i], ggml_backend_cpu_buffer_type()));
        }
        assert_true(ggml_backend_dev_supports_buft(list[i], ggml_backend_dev_buffer_type(list[i])));
        assert_true(ggml_backend_buft_is_host(ggml_backend_dev_buffer_type(list[i])));
    }
}

static void test_supports_op_refuses_what_does_not_run(void **state)
{
    (void)state;
    ggml_backend_dev_t dev = find_device("LOWBIT_cpu");
    assert_non_null(dev);
    struct ggml_init_params params = {ggml_tensor_overhead() * 16, NULL, true};
    struct ggml_context *context = ggml_init(params);
    struct ggml_tensor *x = ggml_new_tensor_2d(context, GGML_TYPE_F32, K, N);
    struct ggml_tensor *q4 = ggml_new_tensor_2d(context, GGML_TYPE_Q4_0, K, M);
    struct ggml_tensor *iq2 = ggml_new_tensor_2d(context, GGML_TYPE_IQ2_XXS, K, M);
    struct ggml_tensor *q8_1 = ggml_new_tensor_2d(context, GGML_TYPE_Q8_1, K, M);
    struct ggml_tensor *x_bf16 = ggml_new_tensor_2d(context, GGML_TYPE_BF16, K, N);
    assert_true(ggml_backend_dev_supports_op(dev, ggml_mul_mat(context, q4, x)));
    assert_true(ggml_backend_dev_supports_op(dev, ggml_mul_mat(context, iq2, x)));      /* a grid format */
    assert_false(ggml_backend_dev_supports_op(dev, ggml_mul_mat(context, q8_1, x)));    /* activation-only */
    assert_false(ggml_backend_dev_supports_op(dev, ggml_mul_mat(context, q4, x_bf16))); /* bf16 activations */
    assert_false(ggml_backend_dev_supports_op(dev, ggml_add(context, x, x)));
    ggml_free(context);
}

/* Every write through ggml reaches the next matmul: the upload kept for a weights buffer is dropped when its
 * bytes change, and get_tensor returns the bytes as set. */
static void test_weights_follow_every_write(void **state)
{
    (void)state;
    size_t size;
    unsigned char *first = random_weights(1, &size), *second = random_weights(2, &size);
    unsigned char *mixed = malloc(size), *zero = calloc(1, size), *read_back = malloc(size);
    assert_non_null(mixed);
    assert_non_null(zero);
    assert_non_null(read_back);
    ggml_backend_dev_t list[3];
    size_t count = devices(list);
    for (size_t i = 0; i < count; ++i) {
        ggml_backend_t backend = ggml_backend_dev_init(list[i], NULL);
        assert_non_null(backend);
        ggml_backend_buffer_t weights = ggml_backend_buft_alloc_buffer(ggml_backend_dev_buffer_type(list[i]), size);
        assert_non_null(weights);
        ggml_backend_buffer_set_usage(weights, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
        matmul_graph g;
        graph_build(&g, list[i], weights, ggml_backend_buffer_get_base(weights));

        ggml_backend_tensor_set(g.w, first, 0, size);
        check_matmul(&g, backend, first, size);
        check_matmul(&g, backend, first, size); /* the kept upload */
        ggml_backend_tensor_get(g.w, read_back, 0, size);
        assert_memory_equal(read_back, first, size);

        /* the second half of the rows rewritten */
        memcpy(mixed, first, size / 2);
        memcpy(mixed + size / 2, second + size / 2, size - size / 2);
        ggml_backend_tensor_set(g.w, second + size / 2, size / 2, size - size / 2);
        check_matmul(&g, backend, mixed, size);
        ggml_backend_tensor_get(g.w, read_back, 0, size);
        assert_memory_equal(read_back, mixed, size);

        ggml_backend_tensor_memset(g.w, 0, 0, size);
        check_matmul(&g, backend, zero, size);

        ggml_backend_tensor_set(g.w, second, 0, size);
        check_matmul(&g, backend, second, size);
        ggml_backend_buffer_clear(weights, 0);
        check_matmul(&g, backend, zero, size);

        graph_free(&g);
        ggml_backend_buffer_free(weights);
        ggml_backend_free(backend);
    }
    free(first);
    free(second);
    free(mixed);
    free(zero);
    free(read_back);
}

/* llama.cpp wraps an mmap'd model with buffer_from_host_ptr: the weights are read where they are. */
static void test_host_pointer_buffer(void **state)
{
    (void)state;
    size_t size;
    unsigned char *bytes = random_weights(3, &size);
    ggml_backend_dev_t list[3];
    size_t count = devices(list);
    for (size_t i = 0; i < count; ++i) {
        ggml_backend_t backend = ggml_backend_dev_init(list[i], NULL);
        ggml_backend_buffer_t mapped = ggml_backend_dev_buffer_from_host_ptr(list[i], bytes, size, size);
        assert_non_null(mapped);
        ggml_backend_buffer_set_usage(mapped, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
        assert_ptr_equal(ggml_backend_buffer_get_base(mapped), bytes);
        matmul_graph g;
        graph_build(&g, list[i], mapped, bytes);
        check_matmul(&g, backend, bytes, size);
        graph_free(&g);
        ggml_backend_buffer_free(mapped); /* lent memory: not freed by the buffer */
        ggml_backend_free(backend);
    }
    free(bytes);
}

/* The CPU device computes on ggml's own CPU buffers, whose writes it never sees: every graph reads the bytes
 * as they are now. */
static void test_cpu_device_on_ggml_cpu_buffer(void **state)
{
    (void)state;
    size_t size;
    unsigned char *first = random_weights(4, &size), *second = random_weights(5, &size);
    ggml_backend_dev_t dev = find_device("LOWBIT_cpu");
    ggml_backend_t backend = ggml_backend_dev_init(dev, NULL);
    ggml_backend_buffer_t plain = ggml_backend_buft_alloc_buffer(ggml_backend_cpu_buffer_type(), size);
    assert_non_null(plain);
    ggml_backend_buffer_set_usage(plain, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
    matmul_graph g;
    graph_build(&g, dev, plain, ggml_backend_buffer_get_base(plain));
    memcpy(g.w->data, first, size);
    check_matmul(&g, backend, first, size);
    memcpy(g.w->data, second, size); /* behind ggml's back, as ggml's CPU backend would write */
    check_matmul(&g, backend, second, size);
    graph_free(&g);
    ggml_backend_buffer_free(plain);
    ggml_backend_free(backend);
    free(first);
    free(second);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_devices_are_named_and_typed),
        cmocka_unit_test(test_supports_op_refuses_what_does_not_run),
        cmocka_unit_test(test_weights_follow_every_write),
        cmocka_unit_test(test_host_pointer_buffer),
        cmocka_unit_test(test_cpu_device_on_ggml_cpu_buffer),
    };
    return cmocka_run_group_tests(tests, load_plugin, NULL);
}
#endif
