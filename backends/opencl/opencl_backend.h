/* opencl_backend.h — state shared by the OpenCL plugin's sources: the backend instance, its devices
 * (with their lazily built programs) and uploaded weights. */
#ifndef LOWBIT_OPENCL_BACKEND_H
#define LOWBIT_OPENCL_BACKEND_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/common/params.h"
#include "lowbit/lowbit_backend.h"
#include "opencl_api.h"
#include "opencl_kernels.h"

/* A program built for one (kernel, parameters) combination, kept for the life of the backend. */
typedef struct opencl_program {
    struct opencl_program *next;
    opencl_kernel_config config;
    cl_program program;
    cl_kernel kernel;
} opencl_program;

typedef struct opencl_device {
    cl_platform_id platform;
    cl_device_id id;
    lowbit_device_info info; /* filled at probe, max_allocation already clamped */
    opencl_device_class device_class;
    char driver_key[768]; /* device name + driver + platform: part of the binary cache key */
    /* The -cl-std (20 or 30) under which kernels may call the subgroup built-ins (sub_group_reduce_add),
     * 0 when the device has none: cl_khr_subgroups, or OpenCL 3.0's __opencl_c_subgroups feature. */
    uint32_t subgroup_std;
    /* Host and device share memory (a CPU device, or CL_DEVICE_HOST_UNIFIED_MEMORY): buffers can live in
     * host memory the caller addresses directly (CL_MEM_USE_HOST_PTR, zero-copy). */
    int host_shared;
    /* CL_DEVICE_MAX_MEM_ALLOC_SIZE as the device reports it: ABI 1.2 buffers are never split, so the test cap
     * LOWBIT_MAX_ALLOC (already in info.max_allocation) does not bound them. */
    uint64_t device_max_allocation;
    /* Everything below is created on first use and guarded by `lock`: the queue, the program cache and
     * the activation/output scratch buffers are shared by every thread calling matmul. */
    pthread_mutex_t lock;
    cl_context context;
    cl_command_queue queue;
    int profiling; /* the queue records kernel start/end times */
    opencl_program *programs;
    cl_mem x_scratch, y_scratch, sums_scratch;
    size_t x_capacity, y_capacity, sums_capacity;
    /* measure_bandwidth's probe: its program, and the buffer it streams (kept for repeated probes). */
    cl_program stream_program;
    cl_kernel stream_kernel;
    cl_mem stream_buffer, stream_sink;
    size_t stream_bytes;
    /* The queued matmul's block sums of x on the device (x_block_sums.cl), per activation type {f32, f16}. */
    cl_program x_sums_program[2];
    cl_kernel x_sums_kernel[2];
    /* The integer-dot path: x quantized to 8-bit blocks on the device (x_quantize.cl), per activation type, and
     * the synchronous matmul's scratch for the result (gemv_int.cl's layout: xq int8 rows, xd (d, d·s) per block). */
    cl_program x_quantize_program[2];
    cl_kernel x_quantize_kernel[2];
    cl_mem xq_scratch, xd_scratch;
    size_t xq_capacity, xd_capacity;
} opencl_device;

typedef struct opencl_backend {
    lowbit_backend vtable;
    const lowbit_host_api *host;
    const opencl_api *cl; /* NULL until probed, or when no loader */
    lowbit_params params; /* the context's parameters (host API params), parsed once at creation */
    int probed;
    size_t device_count;
    opencl_device *devices;
} opencl_backend;

/* Rows [row_begin, row_begin + rows) of a matrix, in buffers no larger than the device's max allocation. */
typedef struct opencl_weights_part {
    size_t row_begin, rows;
    cl_mem quants, scales; /* scales == NULL for F32/F16 */
} opencl_weights_part;

typedef struct opencl_weights {
    opencl_device *device;
    lowbit_format format;
    size_t rows, cols;
    size_t part_count;
    opencl_weights_part parts[];
} opencl_weights;

/* --- opencl_plugin.c: host services, guarded by the host API's struct_size --------------------- */
void opencl_log(const opencl_backend *backend, lowbit_log_level level, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets the thread's error message through the host and returns `status`. */
lowbit_status opencl_fail(const opencl_backend *backend, lowbit_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
/* set_error for a failed CL call: "<call> failed: CL_NAME (code)"; DEVICE, or OUT_OF_MEMORY for
 * allocation failures when `allocating`. */
lowbit_status opencl_fail_call(const opencl_backend *backend, const char *call, cl_int error, int allocating);
int opencl_fault(const opencl_backend *backend, const char *site);
uint64_t opencl_max_alloc_override(const opencl_backend *backend);
const char *opencl_cache_dir(const opencl_backend *backend);

/* --- opencl_devices.c ------------------------------------------------------------------------- */
lowbit_status opencl_devices_probe(opencl_backend *backend);
void opencl_devices_release(opencl_backend *backend);
/* Creates the device's context and queue when missing. Call with device->lock held. */
lowbit_status opencl_device_open(opencl_backend *backend, opencl_device *device);
/* clCreateBuffer on the open device's context, behind the fault site "opencl.alloc". */
lowbit_status opencl_device_buffer(opencl_backend *backend, opencl_device *device, cl_mem_flags flags, size_t bytes,
                                   void *host, cl_mem *out);

/* --- opencl_programs.c ------------------------------------------------------------------------ */
/* Creates and builds a program from source with `options`, through the on-disk binary cache. Call with
 * device->lock held (the context must be open). */
lowbit_status opencl_program_build(opencl_backend *backend, opencl_device *device, const char *source,
                                   size_t source_size, const char *options, cl_program *out);
/* Builds a helper program (fault site "opencl.build") and creates its kernel `name`. Call with device->lock
 * held. */
lowbit_status opencl_program_kernel(opencl_backend *backend, opencl_device *device, const char *source,
                                    size_t source_size, const char *options, const char *name, cl_program *program,
                                    cl_kernel *kernel);
/* The kernel for `config` on `device`, building it on first use. Call with device->lock held. */
lowbit_status opencl_program_get(opencl_backend *backend, opencl_device *device, const opencl_kernel_config *config,
                                 cl_kernel *kernel);
void opencl_programs_release(opencl_backend *backend, opencl_device *device);

/* --- opencl_weights.c / opencl_matmul.c ------------------------------------------------------- */
lowbit_status opencl_weights_upload(void *self, size_t device, const lowbit_backend_tensor *tensor, void **weights);
void opencl_weights_release(void *self, void *weights);
lowbit_status opencl_matmul(void *self, lowbit_backend_matmul_args *args);

/* How a matmul of n activation rows runs, shared by the synchronous path (opencl_matmul) and the queued one
 * (opencl_queue.c): chunks of `chunk` rows (the GEMM's, or the looped GEMV's), each one dispatch per weight
 * part; a shorter last chunk runs `last`. */
typedef struct opencl_matmul_plan {
    opencl_kernel_config full, last;
    cl_kernel full_kernel, last_kernel; /* set by opencl_matmul_plan_kernels */
    size_t n, chunk, chunks;
    size_t x_row_bytes, y_row_bytes; /* one activation row of x (f32 or f16), one output row of y (f32) */
    int x_f16;
    /* The integer-dot path: each chunk's x is first quantized on the device (opencl_quantize_x) and the
     * kernels (built with LOWBIT_DOT_INT) read the 8-bit blocks. */
    int dot_int;
    char tuned[16]; /* the tuning database's level that chose the parameters ("device", ...), "" for the defaults */
} opencl_matmul_plan;

/* What lowbit_last_run().kernel reports: the kernel and its parameters, and " tuned=<level>" when the tuning
 * database chose them. */
void opencl_matmul_plan_describe(const opencl_matmul_plan *plan, char *text, size_t size);

/* Chooses the kernels and chunking for n rows of f32 or f16 (x_f16) activations. */
lowbit_status opencl_matmul_plan_make(opencl_backend *backend, const opencl_weights *weights, size_t n, int x_f16,
                                      opencl_matmul_plan *plan);
/* Builds (or finds) the plan's kernels. Call with device->lock held. */
lowbit_status opencl_matmul_plan_kernels(opencl_backend *backend, opencl_device *device, opencl_matmul_plan *plan);
/* Enqueues one chunk of `count` activation rows on `queue`, non-blocking: a dispatch per weight part reading x
 * from index 0 of `x` (and its block sums from `sums` when the chunk's kernel takes them) and writing output row
 * j, weight row r at element y_first + j·rows + r of `y`. Checks the fault site "opencl.run" first. `events`,
 * when not NULL, receives one event per part. Call with device->lock held (the kernels are shared). */
lowbit_status opencl_matmul_dispatch(opencl_backend *backend, const opencl_weights *weights, cl_command_queue queue,
                                     const opencl_matmul_plan *plan, size_t count, cl_mem x, cl_mem sums, cl_mem y,
                                     size_t y_first, cl_event *events);
/* The integer-dot path: bytes of the quantized rows (xq) and of their block scales (xd) for `count` rows. */
size_t opencl_quantized_x_bytes(size_t cols, size_t count);
size_t opencl_quantized_scales_bytes(size_t cols, size_t count);
/* Enqueues the quantization of `count` activation rows at index 0 of `x` into `xq` and `xd` (x_quantize.cl, the
 * kernel built on first use) on `queue`. Call with device->lock held (the kernel is shared). */
lowbit_status opencl_quantize_x(opencl_backend *backend, opencl_device *device, cl_command_queue queue, int x_f16,
                                cl_mem x, size_t count, size_t cols, cl_mem xq, cl_mem xd, cl_event *event);
/* Grows a scratch buffer to `bytes` (fault site "opencl.alloc"). The context must be open. */
lowbit_status opencl_scratch_ensure(opencl_backend *backend, opencl_device *device, cl_mem *buffer, size_t *capacity,
                                    size_t bytes, cl_mem_flags flags);

/* --- opencl_queue.c: ABI 1.2 device buffers, in-order queues, events ------------------------- */
lowbit_status opencl_buffer_create(void *self, size_t device, size_t size, unsigned flags, void **buffer,
                                   void **host_pointer);
void opencl_buffer_release(void *self, void *buffer);
lowbit_status opencl_queue_create(void *self, size_t device, void **queue);
void opencl_queue_release(void *self, void *queue);
lowbit_status opencl_enqueue_write(void *self, void *queue, lowbit_backend_copy_args *args);
lowbit_status opencl_enqueue_read(void *self, void *queue, lowbit_backend_copy_args *args);
lowbit_status opencl_enqueue_matmul(void *self, void *queue, lowbit_backend_queued_matmul_args *args);
lowbit_status opencl_queue_flush(void *self, void *queue);
lowbit_status opencl_queue_finish(void *self, void *queue);
lowbit_status opencl_event_wait(void *self, void *event);
lowbit_status opencl_event_query(void *self, void *event, int *complete);
void opencl_event_release(void *self, void *event);
/* Releases the device's block-sums programs. */
void opencl_queue_device_release(opencl_backend *backend, opencl_device *device);

/* --- opencl_bandwidth.c: ABI 1.1 streaming-read probe ------------------------------------------ */
lowbit_status opencl_measure_bandwidth(void *self, size_t device, size_t bytes, double *bytes_per_second);
/* Releases the probe's program and buffers. */
void opencl_bandwidth_release(opencl_backend *backend, opencl_device *device);

#endif
