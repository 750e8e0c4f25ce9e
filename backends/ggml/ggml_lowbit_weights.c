/* ggml_lowbit_weights.c — lowbit uploads of ggml weight tensors: kept per tensor slice while the bytes they
 * came from stay untouched, made again after a write. */
#include <stdlib.h>

#include "ggml_lowbit.h"

static lowbit_status upload(ggml_lowbit_device *device, int format, const void *data, size_t rows, size_t cols,
                            lowbit_weights **out)
{
    size_t size = rows * lowbit_format_row_size(format, cols);
    /* BORROW_HOST: the bytes stay where they are (the adapter's buffer, the mmap'd model or the caller's
     * tensor) for as long as the upload lives, so lowbit keeps no second host copy for its CPU fallback and
     * its CPU backend reads them in place. */
    return lowbit_weights_upload(device->lowbit, device->index, (lowbit_format)format, rows, cols, data, size,
                                 LOWBIT_UPLOAD_BORROW_HOST, out);
}

/* Only a lowbit buffer marked as weights may keep uploads between graphs: its bytes change only through
 * set_tensor/memset/cpy/clear, which invalidate. Any other buffer may be written behind the adapter's back
 * (ggml's CPU backend computes into host buffers directly; another backend owns a foreign buffer's life). */
static ggml_lowbit_buffer *cache_of(const struct ggml_tensor *tensor, const char *data, size_t bytes)
{
    if (!tensor->buffer || ggml_backend_buffer_get_usage(tensor->buffer) != GGML_BACKEND_BUFFER_USAGE_WEIGHTS)
        return NULL;
    ggml_lowbit_buffer *buffer = ggml_lowbit_buffer_of(tensor->buffer);
    if (!buffer || data < buffer->base || bytes > buffer->size || (size_t)(data - buffer->base) > buffer->size - bytes)
        return NULL;
    return buffer;
}

lowbit_status ggml_lowbit_weights_get(ggml_lowbit_device *device, const struct ggml_tensor *tensor, const void *data,
                                      size_t rows, size_t cols, lowbit_weights **out, int *release)
{
    const int format = (int)tensor->type;
    const size_t bytes = rows * lowbit_format_row_size(format, cols);
    ggml_lowbit_buffer *buffer = cache_of(tensor, data, bytes);
    if (!buffer) {
        *release = 1;
        return upload(device, format, data, rows, cols, out);
    }
    *release = 0;
    pthread_mutex_lock(&buffer->mutex);
    for (size_t i = 0; i < buffer->cached_count; ++i) {
        const ggml_lowbit_cached *entry = &buffer->cached[i];
        if (entry->data == data && entry->format == format && entry->rows == rows && entry->cols == cols &&
            entry->device == device->index) {
            *out = entry->weights;
            pthread_mutex_unlock(&buffer->mutex);
            return LOWBIT_OK;
        }
    }
    lowbit_status status = LOWBIT_ERROR_OUT_OF_MEMORY;
    if (buffer->cached_count == buffer->cached_capacity) {
        size_t capacity = buffer->cached_capacity ? 2 * buffer->cached_capacity : 16;
        ggml_lowbit_cached *grown = realloc(buffer->cached, capacity * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&buffer->mutex);
            *release = 1; /* no room to remember it: upload for this call only */
            return upload(device, format, data, rows, cols, out);
        }
        buffer->cached = grown;
        buffer->cached_capacity = capacity;
    }
    status = upload(device, format, data, rows, cols, out);
    if (status == LOWBIT_OK)
        buffer->cached[buffer->cached_count++] =
            (ggml_lowbit_cached){data, bytes, format, rows, cols, device->index, *out};
    pthread_mutex_unlock(&buffer->mutex);
    return status;
}

void ggml_lowbit_weights_invalidate(ggml_lowbit_buffer *buffer, size_t offset, size_t size)
{
    pthread_mutex_lock(&buffer->mutex);
    for (size_t i = 0; i < buffer->cached_count;) {
        ggml_lowbit_cached *entry = &buffer->cached[i];
        size_t start = (size_t)(entry->data - buffer->base);
        if (start < offset + size && offset < start + entry->bytes) {
            lowbit_weights_destroy(entry->weights);
            *entry = buffer->cached[--buffer->cached_count];
        } else {
            ++i;
        }
    }
    pthread_mutex_unlock(&buffer->mutex);
}

void ggml_lowbit_weights_invalidate_all(ggml_lowbit_buffer *buffer)
{
    pthread_mutex_lock(&buffer->mutex);
    for (size_t i = 0; i < buffer->cached_count; ++i)
        lowbit_weights_destroy(buffer->cached[i].weights);
    buffer->cached_count = 0;
    pthread_mutex_unlock(&buffer->mutex);
}
