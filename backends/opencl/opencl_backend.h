/* opencl_backend.h — state shared by the OpenCL plugin's sources: the backend instance, its devices
 * (with their lazily built programs) and uploaded weights. */
#ifndef LOWBIT_OPENCL_BACKEND_H
#define LOWBIT_OPENCL_BACKEND_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

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
} opencl_device;

typedef struct opencl_backend {
    lowbit_backend vtable;
    const lowbit_host_api *host;
    const opencl_api *cl; /* NULL until probed, or when no loader */
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

/* --- opencl_programs.c ------------------------------------------------------------------------ */
/* Creates and builds a program from source with `options`, through the on-disk binary cache. Call with
 * device->lock held (the context must be open). */
lowbit_status opencl_program_build(opencl_backend *backend, opencl_device *device, const char *source,
                                   size_t source_size, const char *options, cl_program *out);
/* The kernel for `config` on `device`, building it on first use. Call with device->lock held. */
lowbit_status opencl_program_get(opencl_backend *backend, opencl_device *device, const opencl_kernel_config *config,
                                 cl_kernel *kernel);
void opencl_programs_release(opencl_backend *backend, opencl_device *device);

/* --- opencl_weights.c / opencl_matmul.c ------------------------------------------------------- */
lowbit_status opencl_weights_upload(void *self, size_t device, const lowbit_backend_tensor *tensor, void **weights);
void opencl_weights_release(void *self, void *weights);
lowbit_status opencl_matmul(void *self, lowbit_backend_matmul_args *args);

/* --- opencl_bandwidth.c: ABI 1.1 streaming-read probe ------------------------------------------ */
lowbit_status opencl_measure_bandwidth(void *self, size_t device, size_t bytes, double *bytes_per_second);
/* Releases the probe's program and buffers. */
void opencl_bandwidth_release(opencl_backend *backend, opencl_device *device);

#endif
