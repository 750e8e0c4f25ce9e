/* broken_plugin.c — a test backend ("broken:0") whose Q8_0 kernel is deliberately wrong (it drops the
 * last element of every row), so the conformance suite must report FAIL with the right case ids. It
 * runs nothing else: other formats fall back to the CPU. */
#include <stdlib.h>
#include <string.h>

#include "lowbit/lowbit_backend.h"

typedef struct broken_weights {
    size_t rows, cols;
    float *values; /* dequantized on the host side of the plugin: this is a test double, not a kernel */
} broken_weights;

static const lowbit_host_api *host_api;

static lowbit_status device_count(void *self, size_t *count)
{
    (void)self;
    *count = 1;
    return LOWBIT_OK;
}

static lowbit_status device_info(void *self, size_t device, lowbit_device_info *info)
{
    (void)self, (void)device;
    size_t size = info->struct_size;
    lowbit_device_info full = {.struct_size = sizeof full, .api = LOWBIT_API_OPENCL};
    strcpy(full.id, "broken:0");
    strcpy(full.name, "deliberately broken test device");
    full.formats = 1ull << LOWBIT_FORMAT_Q8_0;
    memcpy(info, &full, size < sizeof full ? size : sizeof full);
    return LOWBIT_OK;
}

static lowbit_status weights_upload(void *self, size_t device, const lowbit_backend_tensor *t, void **out)
{
    (void)self, (void)device;
    if (t->format != LOWBIT_FORMAT_Q8_0) {
        host_api->set_error("broken device runs Q8_0 only");
        return LOWBIT_ERROR_UNSUPPORTED;
    }
    broken_weights *w = malloc(sizeof *w);
    if (!w) return LOWBIT_ERROR_OUT_OF_MEMORY;
    w->rows = t->rows, w->cols = t->cols;
    w->values = malloc(t->rows * t->cols * sizeof(float));
    if (!w->values || lowbit_dequantize(t->format, t->data, t->size, t->rows, t->cols, w->values) != 0) {
        free(w->values);
        free(w);
        return LOWBIT_ERROR_OUT_OF_MEMORY;
    }
    *out = w;
    return LOWBIT_OK;
}

static void weights_release(void *self, void *weights)
{
    (void)self;
    broken_weights *w = weights;
    free(w->values);
    free(w);
}

static lowbit_status matmul(void *self, lowbit_backend_matmul_args *args)
{
    (void)self;
    const broken_weights *w = args->weights;
    if (args->x_type != LOWBIT_ACTIVATION_F32) { /* the host widens f16 activations for it */
        host_api->set_error("broken device reads f32 activations only");
        return LOWBIT_ERROR_UNSUPPORTED;
    }
    const float *x = args->x;
    for (size_t i = 0; i < args->n; ++i)
        for (size_t r = 0; r < w->rows; ++r) {
            float sum = 0.0f;
            for (size_t c = 0; c + 1 < w->cols; ++c)
                sum += w->values[r * w->cols + c] * x[i * w->cols + c];
            args->y[i * w->rows + r] = sum; /* the bug: column cols-1 is never added */
        }
    strcpy(args->kernel, "broken_gemv_q8_0");
    return LOWBIT_OK;
}

static void destroy(void *self) { (void)self; }

static lowbit_backend backend = {.struct_size = sizeof(lowbit_backend),
                                 .abi_major = LOWBIT_BACKEND_ABI_MAJOR,
                                 .abi_minor = LOWBIT_BACKEND_ABI_MINOR,
                                 .name = "broken",
                                 .api = LOWBIT_API_OPENCL,
                                 .device_count = device_count,
                                 .device_info = device_info,
                                 .weights_upload = weights_upload,
                                 .weights_release = weights_release,
                                 .matmul = matmul,
                                 .destroy = destroy};

LOWBIT_BACKEND_EXPORT lowbit_status lowbit_backend_entry(uint32_t major, uint32_t minor, const lowbit_host_api *host,
                                                         lowbit_backend **out);
LOWBIT_BACKEND_EXPORT lowbit_status lowbit_backend_entry(uint32_t major, uint32_t minor, const lowbit_host_api *host,
                                                         lowbit_backend **out)
{
    (void)minor;
    if (major != LOWBIT_BACKEND_ABI_MAJOR) return LOWBIT_ERROR_PLUGIN;
    host_api = host;
    *out = &backend;
    return LOWBIT_OK;
}
