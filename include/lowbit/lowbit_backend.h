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
#define LOWBIT_BACKEND_ABI_MINOR 1u
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
    void *weights;                /* what weights_upload returned */
    const void *x;                /* X[n×cols], row-major, element type x_type */
    lowbit_activation x_type;
    float *y;                     /* Y[n×rows], row-major f32 */
    size_t n;
    /* Out: the kernel that ran, with its parameters ("gemv_q4_0 wg=64 rows=2"). */
    char kernel[96];
    /* --- ABI 1.1 --- */
    /* Out: seconds the device spent in kernels for this call (OpenCL profiling events, Vulkan timestamp
     * queries), 0 when the backend cannot tell. Host overhead = wall time − this. */
    double device_seconds;
} lowbit_backend_matmul_args;

typedef struct lowbit_backend lowbit_backend;

/* One instance per lowbit context. Device indices are the backend's own (0..device_count-1). */
struct lowbit_backend {
    size_t struct_size;
    uint32_t abi_major, abi_minor; /* the ABI the plugin was built for */
    const char *name;              /* "cpu", "opencl", "vulkan": the prefix of device ids */
    lowbit_api api;
    void *self;                    /* backend state, passed back to every call */

    /* Probes devices (lazily, on the host's first need). A missing driver/ICD/loader is not an
     * error: it reports 0 devices and logs at info level why. */
    lowbit_status (*device_count)(void *self, size_t *count);
    lowbit_status (*device_info)(void *self, size_t device, lowbit_device_info *info);
    /* Copies (or repacks) the weights into device memory. LOWBIT_ERROR_UNSUPPORTED when the device
     * has no kernel for the format/shape, so the host uses the CPU backend instead. */
    lowbit_status (*weights_upload)(void *self, size_t device, const lowbit_backend_tensor *tensor,
                                    void **weights);
    void (*weights_release)(void *self, void *weights);
    /* Synchronous: Y is complete when it returns. May be called from several threads at once. */
    lowbit_status (*matmul)(void *self, lowbit_backend_matmul_args *args);
    void (*destroy)(void *self);
    /* --- ABI 1.1 (NULL or beyond struct_size in older plugins) --- */
    /* Streaming-read probe: reads a `bytes`-sized device buffer with the backend's fastest plain read
     * kernel and reports the best of a few runs in bytes per second of device time. */
    lowbit_status (*measure_bandwidth)(void *self, size_t device, size_t bytes, double *bytes_per_second);
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
