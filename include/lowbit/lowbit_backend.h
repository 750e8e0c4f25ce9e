/* lowbit_backend.h — the plugin ABI between the lowbit host runtime and a compute backend
 * (liblowbit-opencl.so, liblowbit-vulkan.so; the CPU backend implements it built in).
 *
 * Rules: plain C, every struct that crosses the boundary starts with `size_t struct_size`, members are
 * only ever appended within a major version, and every call returns a lowbit_status. A plugin exports
 * one symbol, LOWBIT_BACKEND_ENTRY_SYMBOL, of type lowbit_backend_entry_fn. */
#ifndef LOWBIT_BACKEND_H
#define LOWBIT_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "lowbit.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOWBIT_BACKEND_ABI_MAJOR 1u
#define LOWBIT_BACKEND_ABI_MINOR 2u
#define LOWBIT_BACKEND_ENTRY_SYMBOL "lowbit_backend_entry"

/* Services the host gives a backend. */
typedef struct lowbit_host_api {
    size_t struct_size;
    uint32_t abi_major, abi_minor;
    /* printf-free logging through the host's sink (LOWBIT_LOG, lowbit_log_set_callback). */
    void (*log)(lowbit_log_level level, const char *message);
    /* Sets the calling thread's lowbit_last_error() message. */
    void (*set_error)(const char *message);
    /* Fault injection for tests: returns 1 when LOWBIT_FAULT names `site` ("opencl.build",
     * "vulkan.alloc", "opencl.run", ...; "*.run" matches every backend). Backends call it at every
     * build, allocation and launch and fail that step as if the device had. */
    int (*fault_injected)(const char *site);
    /* A cap on one device allocation from LOWBIT_MAX_ALLOC (bytes), 0 when unset. Backends clamp their
     * reported max_allocation / max_buffer_range to it so tests reach the split path on any device. */
    uint64_t (*max_alloc_override)(void);
    /* Folder for on-disk caches (program binaries, pipeline caches); NULL when none is usable. */
    const char *(*cache_dir)(void);
    /* --- appended in lowbit 0.3 (ABI 1.2 still; read it only when struct_size covers it) --- */
    /* The context's parameter string (lowbit_context_options.params or LOWBIT_PARAMS), already validated by the
     * host; NULL when none. Parse it with backends/common/params.h; it lives as long as the context. */
    const char *params;
    /* --- appended in lowbit 0.3 with the tuning database (read it only when struct_size covers it) --- */
    /* The tuning database's answer for one matmul: the parameter string (params.h syntax) of the best entry for
     * `device` (the backend's own lowbit_device_info), kernel family ("gemv" or "gemm"), format, batch n and
     * shape, and in `level` which fallback level answered ("device", "driver", "vendor", "class"). Returns 1 with
     * both filled, 0 when no entry applies (or the context has tuning=0): the backend's built-in defaults stand.
     * Backends overlay the context's own parameters (above) on the answer. Pass the host API they were given. */
    int (*tuned_params)(const struct lowbit_host_api *host, const lowbit_device_info *device, const char *family,
                        lowbit_format format, size_t n, size_t rows, size_t cols, char *params, size_t params_size,
                        char *level, size_t level_size);
    void *tuning; /* the host's: the context's database, read by tuned_params */
} lowbit_host_api;

/* A weight matrix as the host hands it to a backend. `data` is in the stored (GGUF) layout and is only
 * valid during the upload call: backends copy or repack it. */
typedef struct lowbit_backend_tensor {
    size_t struct_size;
    lowbit_format format;
    size_t rows, cols;
    const void *data;
    size_t size; /* rows * lowbit_format_row_size(format, cols) */
} lowbit_backend_tensor;

typedef struct lowbit_backend_matmul_args {
    size_t struct_size;
    void *weights; /* what weights_upload returned */
    const void *x; /* X[n×cols], row-major, element type x_type */
    lowbit_activation x_type;
    float *y; /* Y[n×rows], row-major f32 */
    size_t n;
    /* Out: the kernel that ran, with its parameters ("gemv_q4_0 wg=64 rows=2"). */
    char kernel[96];
    /* --- ABI 1.1 --- */
    /* Out: seconds the device spent in kernels for this call (OpenCL profiling events, Vulkan timestamp
     * queries), 0 when the backend cannot tell. Host overhead = wall time − this. */
    double device_seconds;
    /* --- appended in lowbit 0.3: write it only when struct_size covers it --- */
    /* Out: 1 when X was quantized to 8-bit blocks and an integer-dot kernel ran. */
    int activations_quantized;
} lowbit_backend_matmul_args;

/* --- ABI 1.2: queued work on device buffers --- */
/* A copy between host memory and a device buffer. The host has checked that offset + size fits the buffer
 * and that size > 0. */
typedef struct lowbit_backend_copy_args {
    size_t struct_size;
    void *buffer; /* what buffer_create returned */
    size_t offset;
    void *host; /* write: the source (valid until the copy completes); read: the destination */
    size_t size;
    void *event; /* out: a handle for event_wait/event_query/event_release, or NULL when already complete */
} lowbit_backend_copy_args;

/* A matmul on device buffers. The host has checked: weights, buffers and queue are this backend's on one
 * device; both ranges fit their buffers; offsets are multiples of the element size; X and Y do not overlap. */
typedef struct lowbit_backend_queued_matmul_args {
    size_t struct_size;
    void *weights; /* what weights_upload returned */
    void *x;       /* buffer_create handles */
    size_t x_offset;
    lowbit_activation x_type;
    void *y;
    size_t y_offset;
    size_t n;
    char kernel[96]; /* out, as in lowbit_backend_matmul_args */
    void *event;     /* out, as in lowbit_backend_copy_args */
} lowbit_backend_queued_matmul_args;

typedef struct lowbit_backend lowbit_backend;

/* One instance per lowbit context. Device indices are the backend's own (0..device_count-1). */
struct lowbit_backend {
    size_t struct_size;
    uint32_t abi_major, abi_minor; /* the ABI the plugin was built for */
    const char *name;              /* "cpu", "opencl", "vulkan": the prefix of device ids */
    lowbit_api api;
    void *self; /* backend state, passed back to every call */

    /* Probes devices (lazily, on the host's first need). A missing driver/ICD/loader is not an
     * error: it reports 0 devices and logs at info level why. */
    lowbit_status (*device_count)(void *self, size_t *count);
    lowbit_status (*device_info)(void *self, size_t device, lowbit_device_info *info);
    /* Copies (or repacks) the weights into device memory. LOWBIT_ERROR_UNSUPPORTED when the device
     * has no kernel for the format/shape, so the host uses the CPU backend instead. */
    lowbit_status (*weights_upload)(void *self, size_t device, const lowbit_backend_tensor *tensor, void **weights);
    void (*weights_release)(void *self, void *weights);
    /* Synchronous: Y is complete when it returns. May be called from several threads at once. */
    lowbit_status (*matmul)(void *self, lowbit_backend_matmul_args *args);
    void (*destroy)(void *self);
    /* --- ABI 1.1 (NULL or beyond struct_size in older plugins) --- */
    /* Streaming-read probe: reads a `bytes`-sized device buffer with the backend's fastest plain read
     * kernel and reports the best of a few runs in bytes per second of device time. */
    lowbit_status (*measure_bandwidth)(void *self, size_t device, size_t bytes, double *bytes_per_second);
    /* --- ABI 1.2 (NULL or beyond struct_size in older plugins: the host then refuses buffers and queues on
     * the backend's devices with LOWBIT_ERROR_UNSUPPORTED) --- */
    /* A device buffer of `size` bytes. LOWBIT_BUFFER_HOST_VISIBLE in `flags`: *host_pointer must be set to
     * memory the host reads and writes directly (persistently mapped, coherent), else the call fails with
     * LOWBIT_ERROR_UNSUPPORTED. Without it *host_pointer may still be set when that costs nothing. */
    lowbit_status (*buffer_create)(void *self, size_t device, size_t size, unsigned flags, void **buffer,
                                   void **host_pointer);
    /* The host has finished every queue that used the buffer. */
    void (*buffer_release)(void *self, void *buffer);
    /* An in-order queue: each operation sees the results of every earlier one on it. The host serializes the
     * calls on one queue; different queues may be driven from different threads at once. */
    lowbit_status (*queue_create)(void *self, size_t device, void **queue);
    /* The host has finished the queue; events from it may still be alive and must stay usable. */
    void (*queue_release)(void *self, void *queue);
    /* Enqueue calls must not wait for the device (except to reclaim their own resources). A failure at enqueue
     * time leaves the queue usable and the buffers as they were; the host then computes the matmul on the
     * CPU. Fault sites: "<name>.run" at each matmul launch, "<name>.copy" at each write/read. */
    lowbit_status (*enqueue_write)(void *self, void *queue, lowbit_backend_copy_args *args);
    lowbit_status (*enqueue_read)(void *self, void *queue, lowbit_backend_copy_args *args);
    lowbit_status (*enqueue_matmul)(void *self, void *queue, lowbit_backend_queued_matmul_args *args);
    lowbit_status (*queue_flush)(void *self, void *queue);
    /* Waits for everything queued; returns the first error the device reported since the last finish. After
     * it, every read's host destination holds its bytes. */
    lowbit_status (*queue_finish)(void *self, void *queue);
    /* Waits for the operation and everything before it on its queue (their reads' destinations are filled). */
    lowbit_status (*event_wait)(void *self, void *event);
    lowbit_status (*event_query)(void *self, void *event, int *complete);
    /* Called once per event the backend returned, possibly after queue_release. */
    void (*event_release)(void *self, void *event);
};

/* The one exported symbol. The host passes its ABI version; a plugin whose major differs returns
 * LOWBIT_ERROR_PLUGIN (the host also checks the returned struct's abi_major). */
typedef lowbit_status (*lowbit_backend_entry_fn)(uint32_t host_abi_major, uint32_t host_abi_minor,
                                                 const lowbit_host_api *host, lowbit_backend **out);

#if defined(_WIN32)
#define LOWBIT_BACKEND_EXPORT __declspec(dllexport)
#else
#define LOWBIT_BACKEND_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
}
#endif
#endif
