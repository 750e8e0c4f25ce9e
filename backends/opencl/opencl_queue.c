/* opencl_queue.c — ABI 1.2: device buffers, in-order queues of their own beside the device's queue, events, and
 * the matmul on buffers, which runs opencl_matmul.c's plan and dispatches with device-side copies around them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opencl_backend.h"

typedef struct opencl_buffer {
    opencl_device *device;
    cl_mem memory;
    /* The buffer's own memory (CL_MEM_USE_HOST_PTR) where the device shares the host's, else NULL. */
    void *host_memory;
    size_t size;
} opencl_buffer;

/* What an enqueue call hands back: the command's event, and its queue, retained so that event_wait can flush
 * it even after the host has released the queue. */
typedef struct opencl_event {
    cl_event event;
    cl_command_queue queue;
} opencl_event;

typedef struct opencl_queue {
    opencl_device *device;
    cl_command_queue queue;
    /* A matmul's X rows are copied to index 0 of x_scratch (where the kernels read them) and its Y rows leave
     * through y_scratch, so a launch that fails has written nothing to the caller's y; sums_scratch takes the
     * block sums of x for kernels built with X_BLOCK_SUMS. */
    cl_mem x_scratch, y_scratch, sums_scratch;
    size_t x_capacity, y_capacity, sums_capacity;
    /* The integer-dot path's quantized x (xq) and block scales (xd), written by x_quantize.cl per chunk. */
    cl_mem xq_scratch, xd_scratch;
    size_t xq_capacity, xd_capacity;
    /* Every command's event until it is seen complete: each call sweeps the finished ones out and records the
     * first that failed, which queue_finish then returns. */
    cl_event *pending;
    size_t pending_count, pending_capacity;
    lowbit_status error;
    char error_message[256];
} opencl_queue;

static lowbit_status open_device(opencl_backend *backend, size_t index, opencl_device **out)
{
    *out = NULL;
    opencl_devices_probe(backend);
    if (index >= backend->device_count)
        return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "opencl: device %zu out of range (%zu devices)",
                           index, backend->device_count);
    opencl_device *device = &backend->devices[index];
    pthread_mutex_lock(&device->lock);
    lowbit_status status = opencl_device_open(backend, device);
    pthread_mutex_unlock(&device->lock);
    if (status == LOWBIT_OK) *out = device;
    return status;
}

/* --- buffers ------------------------------------------------------------------------------------ */

/* Host memory given with CL_MEM_USE_HOST_PTR must outlive the runtime's use of it, which may end after
 * clReleaseMemObject returns. */
static void CL_CALLBACK free_host_memory(cl_mem memory, void *host_memory)
{
    (void)memory;
    free(host_memory);
}

lowbit_status opencl_buffer_create(void *self, size_t device_index, size_t size, unsigned flags, void **out,
                                   void **host_pointer)
{
    opencl_backend *backend = self;
    if (out == NULL || host_pointer == NULL || size == 0)
        return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "opencl: buffer_create got NULL or a zero size");
    *out = NULL;
    *host_pointer = NULL;
    if ((flags & ~(unsigned)LOWBIT_BUFFER_HOST_VISIBLE) != 0)
        return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "opencl: unknown buffer flags 0x%x", flags);
    opencl_device *device = NULL;
    lowbit_status status = open_device(backend, device_index, &device);
    if (status != LOWBIT_OK) return status;
    if ((flags & LOWBIT_BUFFER_HOST_VISIBLE) && !device->host_shared)
        return opencl_fail(backend, LOWBIT_ERROR_UNSUPPORTED,
                           "opencl: %s (%s) has memory of its own, so it has no host-visible buffers; create the "
                           "buffer without LOWBIT_BUFFER_HOST_VISIBLE and copy with lowbit_enqueue_write/read",
                           device->info.id, device->info.name);
    uint64_t max_allocation = device->device_max_allocation;
    if (max_allocation != 0 && (uint64_t)size > max_allocation)
        return opencl_fail(backend, LOWBIT_ERROR_OUT_OF_MEMORY,
                           "opencl: a %zu-byte buffer exceeds the max allocation of %s (%llu bytes)", size,
                           device->info.id, (unsigned long long)max_allocation);
    opencl_buffer *buffer = calloc(1, sizeof *buffer);
    if (buffer == NULL) return opencl_fail(backend, LOWBIT_ERROR_OUT_OF_MEMORY, "opencl: out of host memory");
    cl_mem_flags memory_flags = CL_MEM_READ_WRITE;
    if (device->host_shared) {
        /* Page-aligned and padded to whole pages: what zero-copy needs on every such runtime (PoCL, Intel
         * and AMD integrated GPUs), so the device works in this very memory. */
        long page = sysconf(_SC_PAGESIZE);
        size_t alignment = page > 0 ? (size_t)page : 4096;
        size_t padded = size + (alignment - size % alignment) % alignment;
        if (padded < size || posix_memalign(&buffer->host_memory, alignment, padded) != 0) buffer->host_memory = NULL;
        if (buffer->host_memory == NULL) {
            free(buffer);
            return opencl_fail(backend, LOWBIT_ERROR_OUT_OF_MEMORY, "opencl: out of host memory for a %zu-byte buffer",
                               size);
        }
        memory_flags |= CL_MEM_USE_HOST_PTR;
    }
    status = opencl_device_buffer(backend, device, memory_flags, size, buffer->host_memory, &buffer->memory);
    if (status != LOWBIT_OK) {
        free(buffer->host_memory);
        free(buffer);
        return status;
    }
    buffer->device = device;
    buffer->size = size;
    *out = buffer;
    *host_pointer = buffer->host_memory;
    return LOWBIT_OK;
}

void opencl_buffer_release(void *self, void *handle)
{
    opencl_backend *backend = self;
    opencl_buffer *buffer = handle;
    if (buffer == NULL) return;
    if (buffer->host_memory != NULL && backend->cl->clSetMemObjectDestructorCallback(
                                           buffer->memory, free_host_memory, buffer->host_memory) != CL_SUCCESS) {
        /* Without the callback the memory is freed once the runtime lets go of the buffer, here. */
        backend->cl->clReleaseMemObject(buffer->memory);
        free(buffer->host_memory);
    } else {
        backend->cl->clReleaseMemObject(buffer->memory);
    }
    free(buffer);
}

/* --- queues and their error record ------------------------------------------------------------- */

lowbit_status opencl_queue_create(void *self, size_t device_index, void **out)
{
    opencl_backend *backend = self;
    if (out == NULL) return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "opencl: queue_create got NULL");
    *out = NULL;
    opencl_device *device = NULL;
    lowbit_status status = open_device(backend, device_index, &device);
    if (status != LOWBIT_OK) return status;
    opencl_queue *queue = calloc(1, sizeof *queue);
    if (queue == NULL) return opencl_fail(backend, LOWBIT_ERROR_OUT_OF_MEMORY, "opencl: out of host memory");
    cl_int error = CL_SUCCESS;
    /* In order (no out-of-order flag), profiling like the device's own queue. */
    queue->queue = backend->cl->clCreateCommandQueue(device->context, device->id,
                                                     device->profiling ? CL_QUEUE_PROFILING_ENABLE : 0, &error);
    if (queue->queue == NULL || error != CL_SUCCESS) {
        free(queue);
        return opencl_fail_call(backend, "clCreateCommandQueue", error, 0);
    }
    queue->device = device;
    queue->error = LOWBIT_OK;
    *out = queue;
    return LOWBIT_OK;
}

/* Keeps the first failure; queue_finish reports it. */
static void record_error(opencl_queue *queue, const char *what, cl_int code)
{
    if (queue->error != LOWBIT_OK) return;
    queue->error = LOWBIT_ERROR_DEVICE;
    snprintf(queue->error_message, sizeof queue->error_message, "opencl: %s on %s: %s (%d)", what,
             queue->device->info.id, opencl_error_name(code), (int)code);
}

/* Drops the events of finished commands, recording the first that failed. Never waits. */
static void sweep(opencl_backend *backend, opencl_queue *queue)
{
    size_t kept = 0;
    for (size_t i = 0; i < queue->pending_count; ++i) {
        cl_event event = queue->pending[i];
        cl_int state = CL_QUEUED;
        cl_int error =
            backend->cl->clGetEventInfo(event, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof state, &state, NULL);
        if (error != CL_SUCCESS) state = error;
        if (state < 0) record_error(queue, "a queued command failed", state);
        if (state <= CL_COMPLETE)
            backend->cl->clReleaseEvent(event);
        else
            queue->pending[kept++] = event;
    }
    queue->pending_count = kept;
}

/* Room for `extra` more pending events, made before enqueueing so that tracking them cannot fail after. */
static lowbit_status reserve(opencl_backend *backend, opencl_queue *queue, size_t extra)
{
    if (queue->pending_capacity - queue->pending_count >= extra) return LOWBIT_OK;
    size_t capacity = queue->pending_capacity ? queue->pending_capacity : 16;
    while (capacity - queue->pending_count < extra)
        capacity *= 2;
    cl_event *grown = realloc(queue->pending, capacity * sizeof *grown);
    if (grown == NULL) return opencl_fail(backend, LOWBIT_ERROR_OUT_OF_MEMORY, "opencl: out of host memory");
    queue->pending = grown;
    queue->pending_capacity = capacity;
    return LOWBIT_OK;
}

/* The wrapper the host gets for `event`, taking a reference of its own to the event and the queue. Allocated
 * before enqueueing (`wrapper`), filled after. */
static void *hand_out(opencl_backend *backend, opencl_queue *queue, opencl_event *wrapper, cl_event event)
{
    backend->cl->clRetainEvent(event);
    backend->cl->clRetainCommandQueue(queue->queue);
    wrapper->event = event;
    wrapper->queue = queue->queue;
    return wrapper;
}

void opencl_queue_release(void *self, void *handle)
{
    opencl_backend *backend = self;
    opencl_queue *queue = handle;
    if (queue == NULL) return;
    /* The host finished the queue; clFinish again in case it did not, before anything is freed. */
    backend->cl->clFinish(queue->queue);
    for (size_t i = 0; i < queue->pending_count; ++i)
        backend->cl->clReleaseEvent(queue->pending[i]);
    free(queue->pending);
    if (queue->x_scratch) backend->cl->clReleaseMemObject(queue->x_scratch);
    if (queue->y_scratch) backend->cl->clReleaseMemObject(queue->y_scratch);
    if (queue->sums_scratch) backend->cl->clReleaseMemObject(queue->sums_scratch);
    if (queue->xq_scratch) backend->cl->clReleaseMemObject(queue->xq_scratch);
    if (queue->xd_scratch) backend->cl->clReleaseMemObject(queue->xd_scratch);
    backend->cl->clReleaseCommandQueue(queue->queue);
    free(queue);
}

lowbit_status opencl_queue_flush(void *self, void *handle)
{
    opencl_backend *backend = self;
    opencl_queue *queue = handle;
    if (queue == NULL) return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "opencl: queue_flush got NULL");
    cl_int error = backend->cl->clFlush(queue->queue);
    if (error != CL_SUCCESS) return opencl_fail_call(backend, "clFlush", error, 0);
    sweep(backend, queue);
    return LOWBIT_OK;
}

lowbit_status opencl_queue_finish(void *self, void *handle)
{
    opencl_backend *backend = self;
    opencl_queue *queue = handle;
    if (queue == NULL) return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "opencl: queue_finish got NULL");
    cl_int error = backend->cl->clFinish(queue->queue);
    if (error != CL_SUCCESS) record_error(queue, "clFinish failed", error);
    sweep(backend, queue);
    lowbit_status status = queue->error;
    queue->error = LOWBIT_OK;
    if (status != LOWBIT_OK) return opencl_fail(backend, status, "%s", queue->error_message);
    return LOWBIT_OK;
}

/* --- copies ------------------------------------------------------------------------------------- */

static lowbit_status enqueue_copy(opencl_backend *backend, opencl_queue *queue, lowbit_backend_copy_args *args,
                                  int write)
{
    const char *call = write ? "clEnqueueWriteBuffer" : "clEnqueueReadBuffer";
    if (queue == NULL || args == NULL ||
        args->struct_size < offsetof(lowbit_backend_copy_args, event) + sizeof args->event)
        return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "opencl: %s got NULL or short arguments",
                           write ? "enqueue_write" : "enqueue_read");
    args->event = NULL;
    opencl_buffer *buffer = args->buffer;
    if (buffer == NULL || args->host == NULL || args->size == 0 || args->offset > buffer->size ||
        args->size > buffer->size - args->offset)
        return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT,
                           "opencl: a %zu-byte copy at offset %zu does not fit its buffer or has no host memory",
                           args->size, args->offset);
    if (buffer->device != queue->device)
        return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "opencl: the buffer is on %s, the queue on %s",
                           buffer->device->info.id, queue->device->info.id);
    sweep(backend, queue);
    lowbit_status status = reserve(backend, queue, 1);
    if (status != LOWBIT_OK) return status;
    if (opencl_fault(backend, "opencl.copy"))
        return opencl_fail(backend, LOWBIT_ERROR_DEVICE,
                           "%s failed: CL_OUT_OF_RESOURCES (-5) (fault injected: opencl.copy)", call);
    opencl_event *wrapper = malloc(sizeof *wrapper);
    if (wrapper == NULL) return opencl_fail(backend, LOWBIT_ERROR_OUT_OF_MEMORY, "opencl: out of host memory");
    cl_event event = NULL;
    cl_int error = write ? backend->cl->clEnqueueWriteBuffer(queue->queue, buffer->memory, CL_FALSE, args->offset,
                                                             args->size, args->host, 0, NULL, &event)
                         : backend->cl->clEnqueueReadBuffer(queue->queue, buffer->memory, CL_FALSE, args->offset,
                                                            args->size, args->host, 0, NULL, &event);
    if (error != CL_SUCCESS || event == NULL) {
        free(wrapper);
        return opencl_fail_call(backend, call, error, 0);
    }
    queue->pending[queue->pending_count++] = event;
    args->event = hand_out(backend, queue, wrapper, event);
    return LOWBIT_OK;
}

lowbit_status opencl_enqueue_write(void *self, void *queue, lowbit_backend_copy_args *args)
{
    return enqueue_copy(self, queue, args, 1);
}

lowbit_status opencl_enqueue_read(void *self, void *queue, lowbit_backend_copy_args *args)
{
    return enqueue_copy(self, queue, args, 0);
}

/* --- matmul on buffers -------------------------------------------------------------------------- */

extern const unsigned char lowbit_opencl_x_sums_source[];
extern const unsigned long lowbit_opencl_x_sums_source_size;

/* The block-sums kernel for f32 or f16 x, built on first use. Call with device->lock held. */
static lowbit_status x_sums_kernel(opencl_backend *backend, opencl_device *device, int x_f16, cl_kernel *out)
{
    *out = device->x_sums_kernel[x_f16];
    if (*out != NULL) return LOWBIT_OK;
    lowbit_status status = opencl_program_kernel(backend, device, (const char *)lowbit_opencl_x_sums_source,
                                                 (size_t)lowbit_opencl_x_sums_source_size,
                                                 x_f16 ? "-cl-std=CL1.2 -DX_F16=1" : "-cl-std=CL1.2", "x_block_sums",
                                                 &device->x_sums_program[x_f16], &device->x_sums_kernel[x_f16]);
    *out = device->x_sums_kernel[x_f16];
    return status;
}

void opencl_queue_device_release(opencl_backend *backend, opencl_device *device)
{
    for (int i = 0; i < 2; ++i) {
        if (device->x_sums_kernel[i]) backend->cl->clReleaseKernel(device->x_sums_kernel[i]);
        if (device->x_sums_program[i]) backend->cl->clReleaseProgram(device->x_sums_program[i]);
        device->x_sums_kernel[i] = NULL;
        device->x_sums_program[i] = NULL;
        if (device->x_quantize_kernel[i]) backend->cl->clReleaseKernel(device->x_quantize_kernel[i]);
        if (device->x_quantize_program[i]) backend->cl->clReleaseProgram(device->x_quantize_program[i]);
        device->x_quantize_kernel[i] = NULL;
        device->x_quantize_program[i] = NULL;
    }
}

/* Enqueues the block sums of the one activation row at index 0 of `x` into `sums`. Call with device->lock held
 * (the kernel is shared). */
static lowbit_status enqueue_x_sums(opencl_backend *backend, cl_command_queue queue, cl_kernel kernel, cl_mem x,
                                    cl_mem sums, size_t cols, cl_event *event)
{
    const opencl_api *cl = backend->cl;
    cl_uint blocks = (cl_uint)(cols / 32);
    cl_int error = cl->clSetKernelArg(kernel, 0, sizeof x, &x);
    if (error == CL_SUCCESS) error = cl->clSetKernelArg(kernel, 1, sizeof sums, &sums);
    if (error == CL_SUCCESS) error = cl->clSetKernelArg(kernel, 2, sizeof blocks, &blocks);
    if (error != CL_SUCCESS) return opencl_fail_call(backend, "clSetKernelArg", error, 0);
    size_t global = blocks;
    error = cl->clEnqueueNDRangeKernel(queue, kernel, 1, NULL, &global, NULL, 0, NULL, event);
    return error == CL_SUCCESS ? LOWBIT_OK : opencl_fail_call(backend, "clEnqueueNDRangeKernel", error, 0);
}

/* Checks the arguments the host already validated once more, so no input reaches the device out of range. */
static lowbit_status check_matmul(opencl_backend *backend, const opencl_queue *queue,
                                  const lowbit_backend_queued_matmul_args *args)
{
    const opencl_weights *weights = args->weights;
    const opencl_buffer *x = args->x, *y = args->y;
    if (weights == NULL || x == NULL || y == NULL || args->n == 0)
        return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT,
                           "opencl: enqueue_matmul got NULL or empty arguments");
    if (weights->device != queue->device || x->device != queue->device || y->device != queue->device)
        return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT,
                           "opencl: enqueue_matmul's weights, buffers and queue are not all on %s",
                           queue->device->info.id);
    if (args->x_type != LOWBIT_ACTIVATION_F32 && args->x_type != LOWBIT_ACTIVATION_F16)
        return opencl_fail(backend, LOWBIT_ERROR_UNSUPPORTED, "opencl: activation type %d is not supported",
                           (int)args->x_type);
    const size_t x_element = args->x_type == LOWBIT_ACTIVATION_F16 ? sizeof(uint16_t) : sizeof(float);
    const size_t x_row = weights->cols * x_element, y_row = weights->rows * sizeof(float);
    if (args->x_offset % x_element != 0 || args->y_offset % sizeof(float) != 0 || args->x_offset > x->size ||
        args->y_offset > y->size || args->n > (x->size - args->x_offset) / x_row ||
        args->n > (y->size - args->y_offset) / y_row)
        return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT,
                           "opencl: %zu rows of X at %zu or of Y at %zu do not fit their buffers (%zu, %zu bytes)",
                           args->n, args->x_offset, args->y_offset, x->size, y->size);
    return LOWBIT_OK;
}

lowbit_status opencl_enqueue_matmul(void *self, void *handle, lowbit_backend_queued_matmul_args *args)
{
    opencl_backend *backend = self;
    opencl_queue *queue = handle;
    if (queue == NULL || args == NULL ||
        args->struct_size < offsetof(lowbit_backend_queued_matmul_args, event) + sizeof args->event)
        return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT,
                           "opencl: enqueue_matmul got NULL or short arguments");
    args->kernel[0] = '\0';
    args->event = NULL;
    lowbit_status status = check_matmul(backend, queue, args);
    if (status != LOWBIT_OK) return status;
    const opencl_weights *weights = args->weights;
    opencl_device *device = queue->device;
    const opencl_buffer *x = args->x, *y = args->y;
    const int x_f16 = args->x_type == LOWBIT_ACTIVATION_F16;
    opencl_matmul_plan plan;
    status = opencl_matmul_plan_make(backend, weights, args->n, x_f16, &plan);
    if (status != LOWBIT_OK) return status;
    /* Kernels built with X_BLOCK_SUMS get the sums of x from a small kernel on the device (x_block_sums.cl):
     * X never passes through the host here. */
    const int block_sums = plan.full.block_sums || plan.last.block_sums;
    /* One chunk reads X in place when it starts the buffer; one chunk through one weight part writes Y in place
     * (a failed launch then has written nothing either). Otherwise the rows go through the queue's scratch. */
    const int x_direct = plan.chunks == 1 && args->x_offset == 0;
    const size_t y_first = args->y_offset / sizeof(float);
    const int y_direct = plan.chunks == 1 && weights->part_count == 1 && y_first <= UINT32_MAX - weights->rows;
    if (!x_direct)
        status = opencl_scratch_ensure(backend, device, &queue->x_scratch, &queue->x_capacity,
                                       plan.chunk * plan.x_row_bytes, CL_MEM_READ_WRITE);
    if (status == LOWBIT_OK && !y_direct)
        status = opencl_scratch_ensure(backend, device, &queue->y_scratch, &queue->y_capacity,
                                       plan.chunk * plan.y_row_bytes, CL_MEM_READ_WRITE);
    if (status == LOWBIT_OK && block_sums)
        status = opencl_scratch_ensure(backend, device, &queue->sums_scratch, &queue->sums_capacity,
                                       weights->cols / 32 * sizeof(float), CL_MEM_READ_WRITE);
    if (status == LOWBIT_OK && plan.dot_int)
        status = opencl_scratch_ensure(backend, device, &queue->xq_scratch, &queue->xq_capacity,
                                       opencl_quantized_x_bytes(weights->cols, plan.chunk), CL_MEM_READ_WRITE);
    if (status == LOWBIT_OK && plan.dot_int)
        status = opencl_scratch_ensure(backend, device, &queue->xd_scratch, &queue->xd_capacity,
                                       opencl_quantized_scales_bytes(weights->cols, plan.chunk), CL_MEM_READ_WRITE);
    sweep(backend, queue);
    /* Per chunk: the X copy, the block sums (or the integer-dot path's quantization of x), a dispatch per part, the
     * Y copy. */
    const size_t per_chunk = weights->part_count + 3, event_count = plan.chunks * per_chunk;
    if (status == LOWBIT_OK) status = reserve(backend, queue, event_count);
    cl_event *events = status == LOWBIT_OK ? calloc(event_count, sizeof *events) : NULL;
    opencl_event *wrapper = events != NULL ? malloc(sizeof *wrapper) : NULL;
    if (status == LOWBIT_OK && wrapper == NULL)
        status = opencl_fail(backend, LOWBIT_ERROR_OUT_OF_MEMORY, "opencl: out of host memory");

    pthread_mutex_lock(&device->lock);
    if (status == LOWBIT_OK) status = opencl_matmul_plan_kernels(backend, device, &plan);
    cl_kernel sums_kernel = NULL;
    if (status == LOWBIT_OK && block_sums) status = x_sums_kernel(backend, device, x_f16, &sums_kernel);
    const opencl_api *cl = backend->cl;
    for (size_t c = 0; c < plan.chunks && status == LOWBIT_OK; ++c) {
        size_t start = c * plan.chunk, count = args->n - start < plan.chunk ? args->n - start : plan.chunk;
        cl_event *chunk_events = events + c * per_chunk;
        cl_mem x_rows = x->memory;
        if (!x_direct) {
            cl_int error = cl->clEnqueueCopyBuffer(queue->queue, x->memory, queue->x_scratch,
                                                   args->x_offset + start * plan.x_row_bytes, 0,
                                                   count * plan.x_row_bytes, 0, NULL, &chunk_events[0]);
            if (error != CL_SUCCESS) {
                status = opencl_fail_call(backend, "clEnqueueCopyBuffer", error, 0);
                break;
            }
            x_rows = queue->x_scratch;
        }
        const opencl_kernel_config *config = count == plan.chunk ? &plan.full : &plan.last;
        cl_mem sums = config->block_sums ? queue->sums_scratch : x_rows;
        if (config->block_sums)
            status = enqueue_x_sums(backend, queue->queue, sums_kernel, x_rows, sums, weights->cols, &chunk_events[1]);
        if (plan.dot_int) {
            status = opencl_quantize_x(backend, device, queue->queue, x_f16, x_rows, count, weights->cols,
                                       queue->xq_scratch, queue->xd_scratch, &chunk_events[1]);
            x_rows = queue->xq_scratch;
            sums = queue->xd_scratch;
        }
        if (status != LOWBIT_OK) break;
        status =
            opencl_matmul_dispatch(backend, weights, queue->queue, &plan, count, x_rows, sums,
                                   y_direct ? y->memory : queue->y_scratch, y_direct ? y_first : 0, chunk_events + 2);
        if (status == LOWBIT_OK && !y_direct) {
            cl_int error = cl->clEnqueueCopyBuffer(queue->queue, queue->y_scratch, y->memory, 0,
                                                   args->y_offset + start * plan.y_row_bytes, count * plan.y_row_bytes,
                                                   0, NULL, &chunk_events[per_chunk - 1]);
            if (error != CL_SUCCESS) status = opencl_fail_call(backend, "clEnqueueCopyBuffer", error, 0);
        }
    }
    pthread_mutex_unlock(&device->lock);

    /* Whatever was enqueued is tracked (its failure would still reach queue_finish); the op's last command
     * is the one the host waits on. */
    cl_event last = NULL;
    for (size_t e = 0; events != NULL && e < event_count; ++e) {
        if (events[e] == NULL) continue;
        queue->pending[queue->pending_count++] = events[e];
        last = events[e];
    }
    free(events);
    if (status != LOWBIT_OK || last == NULL) {
        free(wrapper);
        if (status == LOWBIT_OK)
            status = opencl_fail(backend, LOWBIT_ERROR_INTERNAL, "opencl: enqueue_matmul enqueued nothing");
        return status;
    }
    opencl_matmul_plan_describe(&plan, args->kernel, sizeof args->kernel);
    args->event = hand_out(backend, queue, wrapper, last);
    return LOWBIT_OK;
}

/* --- events ------------------------------------------------------------------------------------- */

static lowbit_status event_state(opencl_backend *backend, const opencl_event *event, cl_int *state)
{
    cl_int error =
        backend->cl->clGetEventInfo(event->event, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof *state, state, NULL);
    if (error != CL_SUCCESS) return opencl_fail_call(backend, "clGetEventInfo", error, 0);
    if (*state < 0)
        return opencl_fail(backend, LOWBIT_ERROR_DEVICE, "opencl: the queued operation failed on the device: %s (%d)",
                           opencl_error_name(*state), (int)*state);
    return LOWBIT_OK;
}

lowbit_status opencl_event_wait(void *self, void *handle)
{
    opencl_backend *backend = self;
    opencl_event *event = handle;
    if (event == NULL) return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "opencl: event_wait got NULL");
    cl_int state = CL_QUEUED;
    lowbit_status status = event_state(backend, event, &state);
    if (status != LOWBIT_OK || state == CL_COMPLETE) return status;
    /* OpenCL 1.2 leaves it to the runtime whether waiting submits the queue; flushing makes sure it runs. */
    cl_int error = backend->cl->clFlush(event->queue);
    if (error == CL_SUCCESS) error = backend->cl->clWaitForEvents(1, &event->event);
    status = event_state(backend, event, &state);
    if (status == LOWBIT_OK && error != CL_SUCCESS) status = opencl_fail_call(backend, "clWaitForEvents", error, 0);
    return status;
}

lowbit_status opencl_event_query(void *self, void *handle, int *complete)
{
    opencl_backend *backend = self;
    opencl_event *event = handle;
    if (event == NULL || complete == NULL)
        return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "opencl: event_query got NULL");
    cl_int state = CL_QUEUED;
    lowbit_status status = event_state(backend, event, &state);
    /* A failed operation has ended too; the status says how. */
    *complete = status != LOWBIT_OK || state == CL_COMPLETE;
    /* A caller polling without a flush would otherwise wait forever on runtimes that batch until one. */
    if (!*complete) backend->cl->clFlush(event->queue);
    return status;
}

void opencl_event_release(void *self, void *handle)
{
    opencl_backend *backend = self;
    opencl_event *event = handle;
    if (event == NULL) return;
    backend->cl->clReleaseEvent(event->event);
    backend->cl->clReleaseCommandQueue(event->queue);
    free(event);
}
