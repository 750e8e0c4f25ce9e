/* ggml_lowbit.h — the adapter's shared types: one registry (a lowbit context), one ggml device per lowbit
 * device, host-memory buffers whose uploaded weights the adapter caches, and the backend (stream) state. */
#ifndef GGML_LOWBIT_H
#define GGML_LOWBIT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "ggml-backend-impl.h"
#include "ggml.h"
#include "lowbit/lowbit.h"

#define GGML_LOWBIT_NAME "LOWBIT"
/* Tensor alignment of the adapter's buffers: a cache line, so rows start where lowbit's loads like them. */
#define GGML_LOWBIT_ALIGNMENT 64

typedef struct ggml_lowbit_device {
    struct ggml_backend_device ggml; /* handed to ggml; ggml.context points back here */
    struct ggml_backend_buffer_type buffer_type;
    lowbit_context *lowbit;
    size_t index; /* lowbit device index */
    lowbit_device_info info;
    enum ggml_backend_dev_type type;
    char name[48];
    char description[512];
    atomic_int fallback_logged; /* the first CPU fallback of a matmul is a warning, later ones debug messages */
} ggml_lowbit_device;

/* One uploaded 2-D weight slice (a matrix, or one expert of a stack) of a tensor in a lowbit buffer. */
typedef struct ggml_lowbit_cached {
    const char *data;
    size_t bytes;
    int format;
    size_t rows, cols;
    size_t device; /* lowbit device it was uploaded to */
    lowbit_weights *weights;
} ggml_lowbit_cached;

typedef struct ggml_lowbit_buffer {
    ggml_lowbit_device *device;
    char *base;
    size_t size;
    int owned; /* 1: malloc'd here; 0: a host pointer lent by the caller (an mmap'd model) */
    pthread_mutex_t mutex;
    ggml_lowbit_cached *cached;
    size_t cached_count, cached_capacity;
} ggml_lowbit_buffer;

typedef struct ggml_lowbit_backend {
    ggml_lowbit_device *device;
    void *scratch_x, *scratch_y, *scratch_w; /* gathered activations, outputs and weights; grown on demand */
    size_t scratch_x_size, scratch_y_size, scratch_w_size;
    /* what this backend ran, logged when it is freed: nodes per op (MUL_MAT, MUL_MAT_ID, GET_ROWS), lowbit
     * matmul calls, and the calls a device fault moved to lowbit's CPU backend */
    unsigned long long nodes[3], calls, fallbacks;
} ggml_lowbit_backend;

/* --- logging (ggml_lowbit_registry.c): through ggml's log callback, like the engine's own messages ------ */
void ggml_lowbit_log(enum ggml_log_level level, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* --- devices (ggml_lowbit_device.c) ------------------------------------------------------------------ */
/* Fills `device` for lowbit device `index` of `lowbit`; returns 0 on failure (logged). */
int ggml_lowbit_device_init(ggml_lowbit_device *device, ggml_backend_reg_t reg, lowbit_context *lowbit, size_t index);
/* The lowbit device behind a ggml device of this adapter. */
static inline ggml_lowbit_device *ggml_lowbit_device_of(ggml_backend_dev_t dev)
{
    return (ggml_lowbit_device *)dev->context;
}

/* --- buffers (ggml_lowbit_buffer.c) ------------------------------------------------------------------- */
void ggml_lowbit_buffer_type_init(ggml_lowbit_device *device);
bool ggml_lowbit_buffer_type_is_lowbit(ggml_backend_buffer_type_t buft);
ggml_backend_buffer_t ggml_lowbit_buffer_from_host_ptr(ggml_lowbit_device *device, void *ptr, size_t size);
/* The adapter's state of `buffer`, or NULL when another backend owns it. */
ggml_lowbit_buffer *ggml_lowbit_buffer_of(ggml_backend_buffer_t buffer);

/* --- weights (ggml_lowbit_weights.c): uploads, cached per tensor slice in lowbit buffers --------------- */
/* lowbit weights for the packed rows×cols slice at `data` of `tensor` (format = tensor->type), uploaded to
 * `device`. Cached when the tensor lives in a lowbit buffer marked as weights (*release = 0); otherwise
 * uploaded for this call only (*release = 1: the caller destroys them after the matmul). */
lowbit_status ggml_lowbit_weights_get(ggml_lowbit_device *device, const struct ggml_tensor *tensor, const void *data,
                                      size_t rows, size_t cols, lowbit_weights **out, int *release);
/* Drops cached uploads that overlap [offset, offset + size) of the buffer (the bytes are being rewritten). */
void ggml_lowbit_weights_invalidate(ggml_lowbit_buffer *buffer, size_t offset, size_t size);
void ggml_lowbit_weights_invalidate_all(ggml_lowbit_buffer *buffer);

/* --- ops (ggml_lowbit_ops.c) --------------------------------------------------------------------------- */
bool ggml_lowbit_supports_op(const ggml_lowbit_device *device, const struct ggml_tensor *op);
/* 1 when lowbit stores weights of this ggml type (ids are shared) and `device` runs them without fallback. */
bool ggml_lowbit_type_runs(const ggml_lowbit_device *device, enum ggml_type type);
enum ggml_status ggml_lowbit_compute_node(ggml_lowbit_backend *backend, struct ggml_tensor *node);

/* --- backend (ggml_lowbit_backend.c) ----------------------------------------------------------------- */
ggml_backend_t ggml_lowbit_backend_init(ggml_lowbit_device *device);
/* Scratch of at least `size` bytes in one of the backend's three slots; NULL when out of memory. */
void *ggml_lowbit_scratch(ggml_lowbit_backend *backend, int slot, size_t size);

#endif
