/* lowbit.h — the public C API: contexts, devices, weight upload and fused low-bit matmul.
 * Every function validates its arguments and returns a lowbit_status; lowbit_last_error() then holds
 * a message for the calling thread. */
#ifndef LOWBIT_H
#define LOWBIT_H

#include <stddef.h>
#include <stdint.h>

#include "lowbit_export.h"
#include "lowbit_format.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOWBIT_VERSION_MAJOR 0
#define LOWBIT_VERSION_MINOR 3
#define LOWBIT_VERSION_PATCH 0

typedef enum lowbit_status {
    LOWBIT_OK = 0,
    LOWBIT_ERROR_INVALID_ARGUMENT = -1, /* NULL, zero or oversize argument, shape/format mismatch */
    LOWBIT_ERROR_UNSUPPORTED = -2,      /* valid request this build/device cannot run */
    LOWBIT_ERROR_OUT_OF_MEMORY = -3,    /* host or device allocation failed */
    LOWBIT_ERROR_DEVICE = -4,           /* a device API call failed (build, launch, lost device) */
    LOWBIT_ERROR_PLUGIN = -5,           /* a backend plugin could not be loaded or is incompatible */
    LOWBIT_ERROR_IO = -6,               /* reading or writing a file failed */
    LOWBIT_ERROR_CORRUPT = -7,          /* a file or buffer is malformed */
    LOWBIT_ERROR_INTERNAL = -8          /* a bug in lowbit: please report */
} lowbit_status;

typedef enum lowbit_log_level {
    LOWBIT_LOG_ERROR = 0,
    LOWBIT_LOG_WARN = 1,
    LOWBIT_LOG_INFO = 2,
    LOWBIT_LOG_DEBUG = 3
} lowbit_log_level;

typedef enum lowbit_api { LOWBIT_API_CPU = 0, LOWBIT_API_OPENCL = 1, LOWBIT_API_VULKAN = 2 } lowbit_api;

/* Activation (X) element types a matmul may take. */
typedef enum lowbit_activation { LOWBIT_ACTIVATION_F32 = 0, LOWBIT_ACTIVATION_F16 = 1 } lowbit_activation;

typedef struct lowbit_context lowbit_context;
typedef struct lowbit_weights lowbit_weights;
typedef struct lowbit_buffer lowbit_buffer;
typedef struct lowbit_queue lowbit_queue;
typedef struct lowbit_event lowbit_event;

/* --- version, errors, logging ----------------------------------------------------------------- */
LOWBIT_API void lowbit_version(int *major, int *minor, int *patch);
LOWBIT_API const char *lowbit_version_string(void);
LOWBIT_API const char *lowbit_status_string(lowbit_status status);
/* Message of the last failed call on this thread ("" when none). Valid until the next lowbit call. */
LOWBIT_API const char *lowbit_last_error(void);

typedef void (*lowbit_log_callback)(lowbit_log_level level, const char *message, void *user_data);
/* Replaces the default sink (stderr, filtered by LOWBIT_LOG=error|warn|info|debug, default warn).
 * NULL restores the default. Messages above `max_level` are not delivered. Process-wide. */
LOWBIT_API void lowbit_log_set_callback(lowbit_log_callback callback, void *user_data, lowbit_log_level max_level);

/* --- contexts ---------------------------------------------------------------------------------- */
enum {
    LOWBIT_CONTEXT_NO_PLUGINS = 1u << 0 /* only the built-in CPU backend */
};

typedef struct lowbit_context_options {
    size_t struct_size;              /* sizeof(lowbit_context_options) */
    unsigned flags;                  /* LOWBIT_CONTEXT_* */
    const char *plugin_path;         /* colon-separated folders searched first (before LOWBIT_PLUGIN_PATH) */
    const char *const *plugin_files; /* plugins that must load: any failure fails context creation */
    size_t plugin_file_count;
    /* --- 0.3 --- */
    /* Backend parameters, comma-separated key=value ("dot=int"); NULL: the LOWBIT_PARAMS environment variable.
     * dot=auto|float|int picks the matmul path: float runs the dequantize-fused kernels on f32 activations, int
     * quantizes X per call to 8-bit blocks and multiplies in integers (NMSE <= 5e-4 against an exact product
     * instead of 1e-6), auto lets each backend pick per format and batch size. A bad string fails
     * lowbit_context_create (a bad LOWBIT_PARAMS is logged and ignored). */
    const char *params;
} lowbit_context_options;

/* options may be NULL (defaults: CPU + every plugin found on the search path; a plugin that fails
 * to load is skipped with a warning). */
LOWBIT_API lowbit_status lowbit_context_create(const lowbit_context_options *options, lowbit_context **out);
LOWBIT_API void lowbit_context_destroy(lowbit_context *context);

/* --- devices ----------------------------------------------------------------------------------- */
typedef struct lowbit_device_info {
    size_t struct_size; /* set by the caller to sizeof(lowbit_device_info) */
    lowbit_api api;
    char id[32]; /* "cpu", "opencl:0", "vulkan:1": what LOWBIT_DEVICE names */
    char name[256];
    char vendor[128];
    char driver_version[128];
    char api_version[64];
    int is_cpu_device;         /* a CPU behind the API (PoCL, lavapipe) or the CPU backend */
    uint64_t global_memory;    /* bytes */
    uint64_t max_allocation;   /* bytes in one buffer (after LOWBIT_MAX_ALLOC) */
    uint64_t max_buffer_range; /* bytes one binding may address */
    uint32_t max_workgroup_size;
    uint64_t local_memory;  /* bytes of local/shared memory per workgroup */
    uint32_t subgroup_size; /* 0 when unknown */
    uint32_t compute_units;
    int fp16;         /* f16 arithmetic in kernels */
    int integer_dot;  /* integer dot-product instructions */
    int subgroups;    /* subgroup reductions */
    uint64_t formats; /* bit f set: format f runs on this device (no CPU fallback) */
} lowbit_device_info;

#define LOWBIT_DEVICE_DEFAULT ((size_t)-1) /* LOWBIT_DEVICE, else the first GPU, else the CPU */

LOWBIT_API lowbit_status lowbit_device_count(lowbit_context *context, size_t *count);
LOWBIT_API lowbit_status lowbit_device_get_info(lowbit_context *context, size_t device, lowbit_device_info *info);
/* Index of the device named by an id such as "opencl:0" (see lowbit_device_info.id). */
LOWBIT_API lowbit_status lowbit_device_find(lowbit_context *context, const char *id, size_t *device);
/* The device LOWBIT_DEVICE_DEFAULT resolves to. */
LOWBIT_API lowbit_status lowbit_device_default(lowbit_context *context, size_t *device);

/* Streaming-read bandwidth of a device in bytes per second, measured by the backend's probe kernel over
 * a `bytes`-sized buffer (0 = a default of 4x the cache in front of the device's memory, at least 256 MiB: the
 * host's last-level cache for CPU-backed devices, 256 MiB assumed for GPUs; clamped to the max allocation).
 * LOWBIT_ERROR_UNSUPPORTED when the backend has no probe. */
LOWBIT_API lowbit_status lowbit_device_measure_bandwidth(lowbit_context *context, size_t device, size_t bytes,
                                                         double *bytes_per_second);

/* --- tuning (0.3, with the tuning database) ----------------------------------------------------------------------- */
/* What the tuning database says for a matmul of `format` with n activation rows over a rows×cols matrix on
 * `device`: the parameter string (the params vocabulary, "layout=row,wg=8,rows=16") in `params` and the fallback
 * level that answered ("device", "driver", "vendor", "class") in `level`; "" and "default" when the backend's
 * built-in defaults stand (no entry applies, or the context has tuning=0). The context's own parameters still
 * override the answer per key when a matmul runs. Either output may be NULL with its size 0. */
LOWBIT_API lowbit_status lowbit_device_tuning(lowbit_context *context, size_t device, lowbit_format format, size_t n,
                                              size_t rows, size_t cols, char *params, size_t params_size, char *level,
                                              size_t level_size);
/* Where the context's tuning database came from: a line per source (the shipped entries, each user file under
 * <cache folder>/tuning/) with its entry count, or why it was skipped; "tuning=0" when the context has none. */
LOWBIT_API lowbit_status lowbit_tuning_sources(lowbit_context *context, char *text, size_t size);

/* --- weights ----------------------------------------------------------------------------------- */
enum {
    /* The caller keeps `data` alive and unchanged until lowbit_weights_destroy (an mmap'd file, say):
     * lowbit then keeps no host copy for the CPU fallback. Without it lowbit copies the bytes. */
    LOWBIT_UPLOAD_BORROW_HOST = 1u << 0,
    /* Do not fall back to the CPU when the device rejects the upload: return the error instead. */
    LOWBIT_UPLOAD_NO_FALLBACK = 1u << 1
};

/* Uploads a rows×cols weight matrix W stored row-major in `format` (each row = cols elements, packed
 * as lowbit_format_row_size(format, cols) bytes; size must be rows times that). */
LOWBIT_API lowbit_status lowbit_weights_upload(lowbit_context *context, size_t device, lowbit_format format,
                                               size_t rows, size_t cols, const void *data, size_t size, unsigned flags,
                                               lowbit_weights **out);
LOWBIT_API void lowbit_weights_destroy(lowbit_weights *weights);

/* --- matmul ------------------------------------------------------------------------------------ */
/* Y[n×rows] = X[n×cols] · Wᵀ, X and Y row-major f32 on the host, any n ≥ 1. X and Y must not overlap
 * (LOWBIT_ERROR_INVALID_ARGUMENT): no backend computes in place. */
LOWBIT_API lowbit_status lowbit_matmul(lowbit_context *context, const lowbit_weights *weights, const float *x, float *y,
                                       size_t n);

/* lowbit_matmul with X of element type `x_type`: LOWBIT_ACTIVATION_F32, or LOWBIT_ACTIVATION_F16 (IEEE half
 * bits, uint16_t). A backend that cannot read f16 activations gets X widened to f32 on the host first;
 * lowbit_run_info.activations_widened says when that happened. */
LOWBIT_API lowbit_status lowbit_matmul_ex(lowbit_context *context, const lowbit_weights *weights, const void *x,
                                          lowbit_activation x_type, float *y, size_t n);

/* What ran the calling thread's last matmul on this context. */
typedef struct lowbit_run_info {
    size_t struct_size;           /* set by the caller */
    size_t device;                /* index of the device that computed the result */
    char device_id[32];           /* its id, "cpu" after a fallback */
    char requested_device_id[32]; /* the device the weights were uploaded for */
    char kernel[96];              /* kernel name and its compile-time parameters */
    int fell_back;                /* 1 when the CPU backend ran instead of the requested device */
    char fallback_reason[256];    /* why, when fell_back */
    double device_seconds;        /* kernel time on the device (profiling events / timestamps); 0 if unknown */
    double wall_seconds;          /* the whole call as the host saw it (upload of X, dispatch, read-back) */
    int activations_widened;      /* 1 when f16 activations were widened to f32 on the host for this backend */
    /* --- 0.3 --- */
    int activations_quantized; /* 1 when X was quantized to 8-bit blocks and an integer-dot kernel ran */
} lowbit_run_info;

LOWBIT_API lowbit_status lowbit_last_run(lowbit_context *context, lowbit_run_info *info);

/* --- device-resident activations: buffers, queues, events (API 0.2) ----------------------------- */
/* An engine keeps X and Y in device buffers and queues many matmuls without a host round trip each.
 * A queue runs its operations in the order they were enqueued (each sees the results of the ones before).
 * Enqueue calls return once the work is queued: nothing has necessarily run until lowbit_queue_flush,
 * lowbit_event_wait or lowbit_queue_finish. One thread at a time may use a queue (calls on one queue are
 * serialized by a lock); separate queues may be used from separate threads. On the CPU backend every
 * operation is complete when its enqueue call returns.
 *
 * A device fault while a matmul is being queued (a failed launch) does not fail the chain: lowbit waits
 * for the queue, reads X back, computes on its CPU backend and writes Y into the buffer, logs a warning and
 * counts it in lowbit_queue_info. Weights whose upload fell back to the CPU run the same way. A fault the
 * device reports only later (a lost device) is returned by lowbit_event_wait / lowbit_queue_finish. */

enum {
    /* Memory the host can address directly (lowbit_buffer_map): zero-copy where the device shares the host's
     * memory (PoCL, lavapipe, integrated GPUs, the CPU backend). LOWBIT_ERROR_UNSUPPORTED where it has none. */
    LOWBIT_BUFFER_HOST_VISIBLE = 1u << 0
};

/* A `size`-byte buffer on `device` (an index as in lowbit_device_get_info). Its content starts undefined. */
LOWBIT_API lowbit_status lowbit_buffer_create(lowbit_context *context, size_t device, size_t size, unsigned flags,
                                              lowbit_buffer **out);
/* Waits for every queued operation that uses the buffer, then frees it. NULL is ignored. */
LOWBIT_API void lowbit_buffer_destroy(lowbit_buffer *buffer);

typedef struct lowbit_buffer_info {
    size_t struct_size; /* set by the caller */
    size_t device;
    size_t size;
    int host_visible; /* lowbit_buffer_map works (even without LOWBIT_BUFFER_HOST_VISIBLE on such devices) */
} lowbit_buffer_info;
LOWBIT_API lowbit_status lowbit_buffer_get_info(const lowbit_buffer *buffer, lowbit_buffer_info *info);

/* The host address of a host-visible buffer, valid until lowbit_buffer_destroy. The host may read or write
 * through it only while no queued operation uses the buffer (after lowbit_queue_finish, say). */
LOWBIT_API lowbit_status lowbit_buffer_map(lowbit_buffer *buffer, void **host_pointer);

LOWBIT_API lowbit_status lowbit_queue_create(lowbit_context *context, size_t device, lowbit_queue **out);
/* Finishes the queue's work, then frees it; its events stay valid until released. NULL is ignored. */
LOWBIT_API void lowbit_queue_destroy(lowbit_queue *queue);

/* Every enqueue call takes an optional wait list (events of this or any other queue of the context that must
 * complete first; NULL/0 for none) and an optional `event` out (NULL when not wanted), which the caller
 * releases with lowbit_event_release. Waiting on another queue's event blocks the calling thread until that
 * event completes; this queue's own events are ordered already. */

/* Copies `size` bytes from host memory `src` to `dst` at `offset`. `src` must stay valid and unchanged until
 * the operation completes. */
LOWBIT_API lowbit_status lowbit_enqueue_write(lowbit_queue *queue, lowbit_buffer *dst, size_t offset, const void *src,
                                              size_t size, lowbit_event *const *wait, size_t wait_count,
                                              lowbit_event **event);
/* Copies `size` bytes of `src` at `offset` to host memory `dst`, which holds them once lowbit_event_wait on
 * this operation's event (or on a later one of the same queue) or lowbit_queue_finish has returned. */
LOWBIT_API lowbit_status lowbit_enqueue_read(lowbit_queue *queue, lowbit_buffer *src, size_t offset, void *dst,
                                             size_t size, lowbit_event *const *wait, size_t wait_count,
                                             lowbit_event **event);

/* A matmul on device buffers: Y[n×rows] f32 at y_offset of `y` = X[n×cols] (x_type) at x_offset of `x` · Wᵀ.
 * The weights, both buffers and the queue must be on the same device; offsets are multiples of the element
 * size; X and Y must not overlap. */
typedef struct lowbit_matmul_buffers {
    size_t struct_size; /* sizeof(lowbit_matmul_buffers) */
    const lowbit_weights *weights;
    lowbit_buffer *x;
    size_t x_offset; /* bytes */
    lowbit_activation x_type;
    lowbit_buffer *y;
    size_t y_offset; /* bytes */
    size_t n;        /* activation rows, ≥ 1 */
} lowbit_matmul_buffers;
LOWBIT_API lowbit_status lowbit_enqueue_matmul(lowbit_queue *queue, const lowbit_matmul_buffers *matmul,
                                               lowbit_event *const *wait, size_t wait_count, lowbit_event **event);

/* Starts the queued work without waiting for it. */
LOWBIT_API lowbit_status lowbit_queue_flush(lowbit_queue *queue);
/* Waits for all queued work; returns the first device error any of it met since the last finish. */
LOWBIT_API lowbit_status lowbit_queue_finish(lowbit_queue *queue);

/* Waits for the operation (and everything queued before it on its queue). */
LOWBIT_API lowbit_status lowbit_event_wait(lowbit_event *event);
/* *complete = 1 once the operation has finished, without waiting. */
LOWBIT_API lowbit_status lowbit_event_query(lowbit_event *event, int *complete);
LOWBIT_API void lowbit_event_release(lowbit_event *event);

/* What a queue has done since it was created. */
typedef struct lowbit_queue_info {
    size_t struct_size; /* set by the caller */
    size_t device;
    uint64_t operations; /* writes, reads and matmuls enqueued */
    uint64_t matmuls;
    uint64_t fallbacks;   /* matmuls lowbit's CPU backend computed instead of the device */
    char last_kernel[96]; /* the kernel of the last matmul, as in lowbit_run_info */
    char last_fallback_reason[256];
} lowbit_queue_info;
LOWBIT_API lowbit_status lowbit_queue_get_info(lowbit_queue *queue, lowbit_queue_info *info);

#ifdef __cplusplus
}
#endif
#endif
