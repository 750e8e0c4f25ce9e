/* ggml_lowbit_buffer.c — each lowbit device's buffer type: host memory in ggml's own layout (so get_tensor
 * returns the bytes set_tensor wrote, and ggml's CPU backend may read it in place), whose every write through
 * ggml drops the weights the adapter uploaded from it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ggml_lowbit.h"

static ggml_lowbit_buffer *buffer_state(ggml_backend_buffer_t buffer) { return (ggml_lowbit_buffer *)buffer->context; }

static size_t tensor_offset(ggml_lowbit_buffer *state, const struct ggml_tensor *tensor)
{
    return (size_t)((const char *)tensor->data - state->base);
}

static void buffer_free(ggml_backend_buffer_t buffer)
{
    ggml_lowbit_buffer *state = buffer_state(buffer);
    ggml_lowbit_weights_invalidate_all(state);
    free(state->cached);
    pthread_mutex_destroy(&state->mutex);
    if (state->owned) free(state->base);
    free(state);
}

static void *buffer_get_base(ggml_backend_buffer_t buffer) { return buffer_state(buffer)->base; }

static void buffer_memset_tensor(ggml_backend_buffer_t buffer, struct ggml_tensor *tensor, uint8_t value, size_t offset,
                                 size_t size)
{
    ggml_lowbit_buffer *state = buffer_state(buffer);
    ggml_lowbit_weights_invalidate(state, tensor_offset(state, tensor) + offset, size);
    memset((char *)tensor->data + offset, value, size);
}

/* Quantized weights are stored as given; the repack into a device's layout happens when lowbit uploads them
 * (at first use, once the whole tensor is written: set_tensor may arrive in pieces). */
static void buffer_set_tensor(ggml_backend_buffer_t buffer, struct ggml_tensor *tensor, const void *data, size_t offset,
                              size_t size)
{
    ggml_lowbit_buffer *state = buffer_state(buffer);
    ggml_lowbit_weights_invalidate(state, tensor_offset(state, tensor) + offset, size);
    memcpy((char *)tensor->data + offset, data, size);
}

static void buffer_get_tensor(ggml_backend_buffer_t buffer, const struct ggml_tensor *tensor, void *data, size_t offset,
                              size_t size)
{
    (void)buffer;
    memcpy(data, (const char *)tensor->data + offset, size);
}

static bool buffer_cpy_tensor(ggml_backend_buffer_t buffer, const struct ggml_tensor *src, struct ggml_tensor *dst)
{
    if (!src->buffer || !ggml_backend_buffer_is_host(src->buffer)) return false;
    ggml_lowbit_buffer *state = buffer_state(buffer);
    size_t size = ggml_nbytes(src);
    ggml_lowbit_weights_invalidate(state, tensor_offset(state, dst), size);
    memcpy(dst->data, src->data, size);
    return true;
}

static void buffer_clear(ggml_backend_buffer_t buffer, uint8_t value)
{
    ggml_lowbit_buffer *state = buffer_state(buffer);
    ggml_lowbit_weights_invalidate_all(state);
    memset(state->base, value, state->size);
}

static const struct ggml_backend_buffer_i buffer_interface = {
    .free_buffer = buffer_free,
    .get_base = buffer_get_base,
    .init_tensor = NULL,
    .memset_tensor = buffer_memset_tensor,
    .set_tensor = buffer_set_tensor,
    .get_tensor = buffer_get_tensor,
    .set_tensor_2d = NULL,
    .get_tensor_2d = NULL,
    .cpy_tensor = buffer_cpy_tensor,
    .clear = buffer_clear,
    .reset = NULL,
};

/* owned = 0: `base` is lent by the caller (buffer_from_host_ptr over an mmap'd model) and never freed here. */
static ggml_backend_buffer_t buffer_create(ggml_lowbit_device *device, void *base, size_t size, int owned)
{
    ggml_lowbit_buffer *state = calloc(1, sizeof *state);
    if (!state) return NULL;
    *state = (ggml_lowbit_buffer){.device = device, .base = base, .size = size, .owned = owned};
    pthread_mutex_init(&state->mutex, NULL);
    ggml_backend_buffer_t buffer = ggml_backend_buffer_init(&device->buffer_type, buffer_interface, state, size);
    if (!buffer) {
        pthread_mutex_destroy(&state->mutex);
        free(state);
    }
    return buffer;
}

ggml_lowbit_buffer *ggml_lowbit_buffer_of(ggml_backend_buffer_t buffer)
{
    if (!buffer || buffer->iface.free_buffer != buffer_free) return NULL;
    return buffer_state(buffer);
}

ggml_backend_buffer_t ggml_lowbit_buffer_from_host_ptr(ggml_lowbit_device *device, void *ptr, size_t size)
{
    ggml_backend_buffer_t buffer = buffer_create(device, ptr, size, 0);
    if (!buffer) ggml_lowbit_log(GGML_LOG_LEVEL_ERROR, "%s: out of memory wrapping a host pointer", device->name);
    return buffer;
}

/* --- buffer type ------------------------------------------------------------------------------------ */
static const char *buffer_type_get_name(ggml_backend_buffer_type_t buft)
{
    return ((ggml_lowbit_device *)buft->context)->name;
}

static ggml_backend_buffer_t buffer_type_alloc_buffer(ggml_backend_buffer_type_t buft, size_t size)
{
    ggml_lowbit_device *device = buft->context;
    /* ggml asks for 0-byte buffers (a model's dummy buffer); keep one aligned byte so base is never NULL */
    size_t rounded = (size + GGML_LOWBIT_ALIGNMENT - 1) / GGML_LOWBIT_ALIGNMENT * GGML_LOWBIT_ALIGNMENT;
    if (rounded < size) return NULL;
    void *base = aligned_alloc(GGML_LOWBIT_ALIGNMENT, rounded ? rounded : GGML_LOWBIT_ALIGNMENT);
    if (!base) {
        ggml_lowbit_log(GGML_LOG_LEVEL_ERROR, "%s: cannot allocate a %zu-byte buffer", device->name, size);
        return NULL;
    }
    ggml_backend_buffer_t buffer = buffer_create(device, base, size, 1);
    if (!buffer) free(base);
    return buffer;
}

static size_t buffer_type_get_alignment(ggml_backend_buffer_type_t buft)
{
    (void)buft;
    return GGML_LOWBIT_ALIGNMENT;
}

/* Host memory in ggml's layout: ggml's CPU backend may compute on it directly (norms, rope, the KV cache
 * writes) — which is why only buffers marked as weights keep their uploads between graphs. */
static bool buffer_type_is_host(ggml_backend_buffer_type_t buft)
{
    (void)buft;
    return true;
}

static const struct ggml_backend_buffer_type_i buffer_type_interface = {
    .get_name = buffer_type_get_name,
    .alloc_buffer = buffer_type_alloc_buffer,
    .get_alignment = buffer_type_get_alignment,
    .get_max_size = NULL,   /* lowbit splits large matrices itself */
    .get_alloc_size = NULL, /* ggml_nbytes: the bytes are kept in ggml's layout */
    .is_host = buffer_type_is_host,
};

void ggml_lowbit_buffer_type_init(ggml_lowbit_device *device)
{
    device->buffer_type.iface = buffer_type_interface;
    device->buffer_type.device = &device->ggml;
    device->buffer_type.context = device;
}

bool ggml_lowbit_buffer_type_is_lowbit(ggml_backend_buffer_type_t buft)
{
    return buft && buft->iface.alloc_buffer == buffer_type_alloc_buffer;
}
