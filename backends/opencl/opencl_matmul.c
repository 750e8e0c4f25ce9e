/* opencl_matmul.c — runs Y = X·Wᵀ on an OpenCL device: activations in chunks of up to
 * OPENCL_MAX_ACTIVATION_ROWS rows for the GEMV (decode), or up to OPENCL_MAX_GEMM_ROWS for the tiled GEMM
 * (prefill, n at or above the kernel table's threshold), one dispatch per chunk and weight part. The plan and
 * the dispatches serve the queued matmul too (opencl_queue.c); the synchronous path here runs on the device's
 * own queue, serialized per device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencl_backend.h"

lowbit_status opencl_scratch_ensure(opencl_backend *backend, opencl_device *device, cl_mem *buffer, size_t *capacity,
                                    size_t bytes, cl_mem_flags flags)
{
    if (*capacity >= bytes) return LOWBIT_OK;
    if (*buffer != NULL) backend->cl->clReleaseMemObject(*buffer);
    *buffer = NULL;
    *capacity = 0;
    lowbit_status status = opencl_device_buffer(backend, device, flags, bytes, NULL, buffer);
    if (status != LOWBIT_OK) return status;
    *capacity = bytes;
    return LOWBIT_OK;
}

static lowbit_status choose(opencl_backend *backend, const opencl_weights *weights, const lowbit_params *params,
                            size_t n, int x_f16, int dot_int, opencl_kernel_config *config)
{
    char why[256];
    const opencl_kernel_spec *spec = opencl_kernel_for_format(weights->format);
    const lowbit_device_info *info = &weights->device->info;
    if (opencl_kernel_choose(spec, weights->device->device_class, params, n, x_f16, weights->device->subgroup_std,
                             info->max_workgroup_size, info->local_memory, config, why, sizeof why) != 0)
        return opencl_fail(backend, LOWBIT_ERROR_UNSUPPORTED, "opencl: %s", why);
    if (dot_int) {
        /* The integer kernel reads 8-bit x whatever the activation type, and its x_sums are the block scales. */
        config->dot_int = 1;
        config->x_f16 = 0;
        config->block_sums = 0;
    }
    return LOWBIT_OK;
}

/* Whether n rows run the integer-dot kernels: dot=int wherever the format has one, dot=auto as
 * opencl_dot_default says, dot=float never. The GEMM's batches (`gemm` not NULL) have an integer kernel in the
 * streaming shape only (CPU-class devices); the tiled local-memory GEMM stays on the float path. */
static int use_dot_int(const lowbit_params *params, const opencl_weights *weights, size_t n,
                       const opencl_kernel_config *gemm)
{
    const opencl_kernel_spec *spec = opencl_kernel_for_format(weights->format);
    if ((gemm && !gemm->gemm_params.stream) || spec == NULL || !spec->dot_int || weights->cols % 32 != 0) return 0;
    switch (params->dot) {
    case LOWBIT_DOT_INT: return 1;
    case LOWBIT_DOT_FLOAT: return 0;
    default: return opencl_dot_default(weights->format, n, weights->device->device_class);
    }
}

size_t opencl_quantized_x_bytes(size_t cols, size_t count) { return cols * count; /* one int8 per element */ }

size_t opencl_quantized_scales_bytes(size_t cols, size_t count)
{
    return cols / 32 * count * 2 * sizeof(float); /* (d, d·s) per 32-element block */
}

extern const unsigned char lowbit_opencl_x_quantize_source[];
extern const unsigned long lowbit_opencl_x_quantize_source_size;

/* The quantization kernel for f32 or f16 x, built on first use; with IEEE division where the device offers it
 * (CPU devices divide exactly anyway), so d = amax/127 and 1/d match the other backends bit for bit. Call with
 * device->lock held. */
static lowbit_status x_quantize_kernel(opencl_backend *backend, opencl_device *device, int x_f16, cl_kernel *out)
{
    *out = device->x_quantize_kernel[x_f16];
    if (*out != NULL) return LOWBIT_OK;
    cl_device_fp_config fp = 0;
    if (backend->cl->clGetDeviceInfo(device->id, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL) != CL_SUCCESS)
        fp = 0;
    char options[128];
    snprintf(options, sizeof options, "-cl-std=CL1.2%s%s", x_f16 ? " -DX_F16=1" : "",
             (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) ? " -cl-fp32-correctly-rounded-divide-sqrt" : "");
    lowbit_status status = opencl_program_kernel(backend, device, (const char *)lowbit_opencl_x_quantize_source,
                                                 (size_t)lowbit_opencl_x_quantize_source_size, options, "x_quantize",
                                                 &device->x_quantize_program[x_f16], &device->x_quantize_kernel[x_f16]);
    *out = device->x_quantize_kernel[x_f16];
    return status;
}

lowbit_status opencl_quantize_x(opencl_backend *backend, opencl_device *device, cl_command_queue queue, int x_f16,
                                cl_mem x, size_t count, size_t cols, cl_mem xq, cl_mem xd, cl_event *event)
{
    cl_kernel kernel = NULL;
    lowbit_status status = x_quantize_kernel(backend, device, x_f16, &kernel);
    if (status != LOWBIT_OK) return status;
    const opencl_api *cl = backend->cl;
    cl_uint blocks = (cl_uint)(cols / 32 * count);
    cl_int error = cl->clSetKernelArg(kernel, 0, sizeof x, &x);
    if (error == CL_SUCCESS) error = cl->clSetKernelArg(kernel, 1, sizeof xq, &xq);
    if (error == CL_SUCCESS) error = cl->clSetKernelArg(kernel, 2, sizeof xd, &xd);
    if (error == CL_SUCCESS) error = cl->clSetKernelArg(kernel, 3, sizeof blocks, &blocks);
    if (error != CL_SUCCESS) return opencl_fail_call(backend, "clSetKernelArg", error, 0);
    size_t global = blocks;
    error = cl->clEnqueueNDRangeKernel(queue, kernel, 1, NULL, &global, NULL, 0, NULL, event);
    return error == CL_SUCCESS ? LOWBIT_OK : opencl_fail_call(backend, "clEnqueueNDRangeKernel", error, 0);
}

/* The kernel for `config`. A device that lists subgroups may still fail to build the subgroup reduction
 * (a driver bug, a built-in missing under its -cl-std): the portable local-memory reduction then runs
 * instead, with a warning, and `config` says so. Call with device->lock held. */
static lowbit_status get_kernel(opencl_backend *backend, opencl_device *device, opencl_kernel_config *config,
                                cl_kernel *kernel)
{
    lowbit_status status = opencl_program_get(backend, device, config, kernel);
    if (status == LOWBIT_OK || config->subgroups != 1) return status;
    opencl_log(backend, LOWBIT_LOG_WARN, "opencl: %s did not build with subgroups on %s; using the portable reduction",
               config->spec->name, device->info.id);
    config->subgroups = 0;
    config->cl_std = 12;
    return opencl_program_get(backend, device, config, kernel);
}

/* IEEE half bits → f32, exact for every input (the plugin does not call into liblowbit for
 * lowbit_fp16_to_fp32). Normals rebias the exponent, subnormals are m·2⁻²⁴, Inf/NaN keep their payload. */
static float half_to_float(uint16_t bits)
{
    const uint32_t sign = (uint32_t)(bits & 0x8000u) << 16, magnitude = bits & 0x7FFFu;
    uint32_t wide;
    if (magnitude < 0x0400u) {
        float value = (float)magnitude * (1.0f / 16777216.0f);
        memcpy(&wide, &value, sizeof wide);
    } else if (magnitude >= 0x7C00u) {
        wide = 0x7F800000u | (magnitude & 0x3FFu) << 13;
    } else {
        wide = (magnitude << 13) + 0x38000000u;
    }
    wide |= sign;
    float result;
    memcpy(&result, &wide, sizeof result);
    return result;
}

/* Sums of one activation row over each 32-element block, for kernels built with X_BLOCK_SUMS. With f16
 * activations they are summed from the halves as floats: the very values the kernel reads. */
static void block_sums(const void *x, int x_f16, size_t cols, float *sums)
{
    const float *wide = x;
    const uint16_t *halves = x;
    for (size_t b = 0; b < cols / 32; ++b) {
        float total = 0.0f;
        for (size_t i = 0; i < 32; ++i)
            total += x_f16 ? half_to_float(halves[b * 32 + i]) : wide[b * 32 + i];
        sums[b] = total;
    }
}

lowbit_status opencl_matmul_plan_make(opencl_backend *backend, const opencl_weights *weights, size_t n, int x_f16,
                                      opencl_matmul_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    const opencl_device *device = weights->device;
    /* f16 activations go to the device as they are (X_F16 kernels read them with vload_half*): half the
     * upload, and no widened copy on the host. */
    const size_t x_element = x_f16 ? sizeof(uint16_t) : sizeof(float);
    plan->n = n;
    plan->x_f16 = x_f16;
    plan->x_row_bytes = weights->cols * x_element;
    plan->y_row_bytes = weights->rows * sizeof(float);
    /* Activation rows per dispatch: up to OPENCL_MAX_ACTIVATION_ROWS, fewer when that many rows of x or
     * of y would not fit one scratch buffer (upload checked that one row does). */
    uint64_t max_allocation = device->info.max_allocation;
    opencl_kernel_config gemm;
    char why[256];
    const lowbit_device_info *info = &device->info;
    /* The tuning database's entry for this format, batch and shape, with the context's parameters over it. */
    lowbit_params params;
    lowbit_params_for_matmul(backend->host, info, LOWBIT_PARAM_OPENCL, &backend->params, n > 8 ? "gemm" : "gemv",
                             weights->format, n, weights->rows, weights->cols, &params, plan->tuned,
                             sizeof plan->tuned);
    int use_gemm = opencl_kernel_choose_gemm(opencl_kernel_for_format(weights->format), device->device_class, &params,
                                             n, weights->cols, x_f16, info->max_workgroup_size, info->local_memory,
                                             &gemm, why, sizeof why);
    if (use_gemm < 0) return opencl_fail(backend, LOWBIT_ERROR_UNSUPPORTED, "opencl: %s", why);
    /* The GEMM takes the whole batch in one dispatch (per weight part), up to OPENCL_MAX_GEMM_ROWS. */
    size_t fit = use_gemm ? OPENCL_MAX_GEMM_ROWS : OPENCL_MAX_ACTIVATION_ROWS;
    if (max_allocation != 0) {
        uint64_t by_x = max_allocation / plan->x_row_bytes;
        uint64_t by_y = max_allocation / plan->y_row_bytes;
        if (by_x < fit) fit = (size_t)by_x;
        if (by_y < fit) fit = (size_t)by_y;
        if (fit == 0) fit = 1;
    }
    /* The quantized rows (a byte an element) and their scales fit wherever the rows of x do. */
    plan->dot_int = use_dot_int(&params, weights, n, use_gemm ? &gemm : NULL);
    if (use_gemm && plan->dot_int) {
        gemm.dot_int = 1;
        gemm.x_f16 = 0; /* the kernel reads the 8-bit blocks */
    }
    plan->chunk = n < fit ? n : fit;
    plan->chunks = (n + plan->chunk - 1) / plan->chunk;
    size_t tail = n % plan->chunk;
    lowbit_status status = LOWBIT_OK;
    if (use_gemm) {
        plan->full = plan->last = gemm; /* n is an argument of the GEMM: one program for every chunk */
    } else {
        status = choose(backend, weights, &params, plan->chunk, x_f16, plan->dot_int, &plan->full);
        if (status == LOWBIT_OK)
            status = choose(backend, weights, &params, tail ? tail : plan->chunk, x_f16, plan->dot_int, &plan->last);
    }
    return status;
}

void opencl_matmul_plan_describe(const opencl_matmul_plan *plan, char *text, size_t size)
{
    opencl_kernel_describe(&plan->full, text, size);
    size_t used = strlen(text);
    if (plan->tuned[0] && used < size) snprintf(text + used, size - used, " tuned=%s", plan->tuned);
}

lowbit_status opencl_matmul_plan_kernels(opencl_backend *backend, opencl_device *device, opencl_matmul_plan *plan)
{
    lowbit_status status = get_kernel(backend, device, &plan->full, &plan->full_kernel);
    if (status == LOWBIT_OK) status = get_kernel(backend, device, &plan->last, &plan->last_kernel);
    return status;
}

lowbit_status opencl_matmul_dispatch(opencl_backend *backend, const opencl_weights *weights, cl_command_queue queue,
                                     const opencl_matmul_plan *plan, size_t count, cl_mem x, cl_mem sums, cl_mem y,
                                     size_t y_first, cl_event *events)
{
    const opencl_api *cl = backend->cl;
    if (opencl_fault(backend, "opencl.run"))
        return opencl_fail(backend, LOWBIT_ERROR_DEVICE,
                           "clEnqueueNDRangeKernel failed: CL_OUT_OF_RESOURCES (-5) (fault injected: opencl.run)");
    const int is_full = count == plan->chunk;
    const opencl_kernel_config *config = is_full ? &plan->full : &plan->last;
    cl_kernel kernel = is_full ? plan->full_kernel : plan->last_kernel;
    /* x's block sums, or on the integer-dot path the quantized blocks' scales; else unused */
    cl_mem x_sums = config->block_sums || config->dot_int ? sums : x;
    for (size_t i = 0; i < weights->part_count; ++i) {
        const opencl_weights_part *part = &weights->parts[i];
        cl_mem scales = part->scales ? part->scales : part->quants; /* unused by F32/F16 kernels */
        cl_uint rows = (cl_uint)part->rows, cols = (cl_uint)weights->cols, n = (cl_uint)count;
        cl_uint y_offset = (cl_uint)(y_first + part->row_begin), y_stride = (cl_uint)weights->rows;
        const struct {
            size_t size;
            const void *value;
        } arguments[] = {{sizeof(cl_mem), &part->quants},
                         {sizeof(cl_mem), &scales},
                         {sizeof(cl_mem), &x},
                         {sizeof(cl_mem), &y},
                         {sizeof rows, &rows},
                         {sizeof cols, &cols},
                         {sizeof n, &n},
                         {sizeof y_offset, &y_offset},
                         {sizeof y_stride, &y_stride},
                         {sizeof(cl_mem), &x_sums}};
        for (cl_uint a = 0; a < sizeof arguments / sizeof arguments[0]; ++a) {
            cl_int error = cl->clSetKernelArg(kernel, a, arguments[a].size, arguments[a].value);
            if (error != CL_SUCCESS) return opencl_fail_call(backend, "clSetKernelArg", error, 0);
        }
        size_t local[2] = {config->params.wg_size, 1}, global[2] = {0, 1};
        if (config->gemm)
            opencl_kernel_gemm_sizes(config, part->rows, count, global, local);
        else
            global[0] = opencl_kernel_global_size(config, part->rows);
        cl_int error = cl->clEnqueueNDRangeKernel(queue, kernel, config->gemm ? 2 : 1, NULL, global, local, 0, NULL,
                                                  events ? &events[i] : NULL);
        if (error != CL_SUCCESS) return opencl_fail_call(backend, "clEnqueueNDRangeKernel", error, 0);
    }
    return LOWBIT_OK;
}

/* Enqueues one chunk on the device's own queue: X (and its block sums when the kernel takes them) in from
 * the host, on the integer-dot path its quantization, the dispatches, Y out to the host, all non-blocking on the
 * in-order queue. `events`, when not NULL, receives the dispatches' events, then the quantization's. */
static lowbit_status enqueue_chunk(opencl_backend *backend, const opencl_weights *weights,
                                   const opencl_matmul_plan *plan, const void *x, const float *sums, float *y,
                                   size_t count, cl_event *events)
{
    const opencl_api *cl = backend->cl;
    opencl_device *device = weights->device;
    const opencl_kernel_config *config = count == plan->chunk ? &plan->full : &plan->last;
    cl_int error = cl->clEnqueueWriteBuffer(device->queue, device->x_scratch, CL_FALSE, 0, count * plan->x_row_bytes, x,
                                            0, NULL, NULL);
    if (error == CL_SUCCESS && config->block_sums)
        error = cl->clEnqueueWriteBuffer(device->queue, device->sums_scratch, CL_FALSE, 0,
                                         weights->cols / 32 * sizeof(float), sums, 0, NULL, NULL);
    if (error != CL_SUCCESS) return opencl_fail_call(backend, "clEnqueueWriteBuffer", error, 0);
    /* The integer-dot path reads x quantized on the device, its block scales where the block sums would be. */
    cl_mem x_in = device->x_scratch, sums_in = device->sums_scratch;
    if (plan->dot_int) {
        lowbit_status status =
            opencl_quantize_x(backend, device, device->queue, plan->x_f16, device->x_scratch, count, weights->cols,
                              device->xq_scratch, device->xd_scratch, events ? &events[weights->part_count] : NULL);
        if (status != LOWBIT_OK) return status;
        x_in = device->xq_scratch;
        sums_in = device->xd_scratch;
    }
    lowbit_status status = opencl_matmul_dispatch(backend, weights, device->queue, plan, count, x_in, sums_in,
                                                  device->y_scratch, 0, events);
    if (status != LOWBIT_OK) return status;
    error = cl->clEnqueueReadBuffer(device->queue, device->y_scratch, CL_FALSE, 0, count * plan->y_row_bytes, y, 0,
                                    NULL, NULL);
    if (error != CL_SUCCESS) return opencl_fail_call(backend, "clEnqueueReadBuffer", error, 0);
    return LOWBIT_OK;
}

lowbit_status opencl_matmul(void *self, lowbit_backend_matmul_args *args)
{
    opencl_backend *backend = self;
    if (args == NULL || args->struct_size < offsetof(lowbit_backend_matmul_args, n) + sizeof args->n ||
        args->weights == NULL || args->x == NULL || args->y == NULL || args->n == 0)
        return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "opencl: matmul got NULL or empty arguments");
    int reports_kernel = args->struct_size >= offsetof(lowbit_backend_matmul_args, kernel) + sizeof args->kernel;
    if (reports_kernel) args->kernel[0] = '\0';
    if (args->x_type != LOWBIT_ACTIVATION_F32 && args->x_type != LOWBIT_ACTIVATION_F16)
        return opencl_fail(backend, LOWBIT_ERROR_UNSUPPORTED, "opencl: activation type %d is not supported",
                           (int)args->x_type);
    const opencl_weights *weights = args->weights;
    opencl_device *device = weights->device;
    const int x_f16 = args->x_type == LOWBIT_ACTIVATION_F16;
    const unsigned char *x = args->x;
    const size_t n = args->n;
    opencl_matmul_plan plan;
    lowbit_status status = opencl_matmul_plan_make(backend, weights, n, x_f16, &plan);
    if (status != LOWBIT_OK) return status;

    pthread_mutex_lock(&device->lock);
    status = opencl_scratch_ensure(backend, device, &device->x_scratch, &device->x_capacity,
                                   plan.chunk * plan.x_row_bytes, CL_MEM_READ_ONLY);
    if (status == LOWBIT_OK)
        status = opencl_scratch_ensure(backend, device, &device->y_scratch, &device->y_capacity,
                                       plan.chunk * plan.y_row_bytes, CL_MEM_WRITE_ONLY);
    if (status == LOWBIT_OK && plan.dot_int)
        status = opencl_scratch_ensure(backend, device, &device->xq_scratch, &device->xq_capacity,
                                       opencl_quantized_x_bytes(weights->cols, plan.chunk), CL_MEM_READ_WRITE);
    if (status == LOWBIT_OK && plan.dot_int)
        status = opencl_scratch_ensure(backend, device, &device->xd_scratch, &device->xd_capacity,
                                       opencl_quantized_scales_bytes(weights->cols, plan.chunk), CL_MEM_READ_WRITE);
    /* Only one-row dispatches take block sums: the last row (n == 1, or the tail), or every row when the
     * allocation cap leaves one row per dispatch. Each row's sums keep their own host memory, since the
     * writes are non-blocking. */
    float *sums = NULL;
    const size_t sums_per_row = weights->cols / 32;
    if (status == LOWBIT_OK && (plan.full.block_sums || plan.last.block_sums)) {
        status = opencl_scratch_ensure(backend, device, &device->sums_scratch, &device->sums_capacity,
                                       sums_per_row * sizeof(float), CL_MEM_READ_ONLY);
        sums = status == LOWBIT_OK ? malloc(n * sums_per_row * sizeof(float)) : NULL;
        if (status == LOWBIT_OK && sums == NULL)
            status = opencl_fail(backend, LOWBIT_ERROR_OUT_OF_MEMORY, "opencl: out of host memory");
        for (size_t row = plan.full.block_sums ? 0 : n - 1; sums != NULL && row < n; ++row)
            block_sums(x + row * plan.x_row_bytes, x_f16, weights->cols, sums + row * sums_per_row);
    }
    if (status == LOWBIT_OK) status = opencl_matmul_plan_kernels(backend, device, &plan);
    /* Kernel time is reported only to callers whose args know the ABI 1.1 member. */
    int reports_time =
        args->struct_size >= offsetof(lowbit_backend_matmul_args, device_seconds) + sizeof args->device_seconds;
    /* Per chunk: a dispatch per part, and the integer-dot path's quantization of x (part of its kernel time). */
    const size_t per_chunk = weights->part_count + (plan.dot_int ? 1 : 0), event_count = plan.chunks * per_chunk;
    cl_event *events = reports_time && device->profiling ? calloc(event_count, sizeof *events) : NULL;
    int enqueued = 0;
    for (size_t c = 0; c < plan.chunks && status == LOWBIT_OK; ++c) {
        size_t start = c * plan.chunk, count = n - start < plan.chunk ? n - start : plan.chunk;
        status = enqueue_chunk(backend, weights, &plan, x + start * plan.x_row_bytes,
                               sums ? sums + start * sums_per_row : NULL, args->y + start * weights->rows, count,
                               events ? events + c * per_chunk : NULL);
        enqueued = 1;
    }
    /* Even after a failure the queue must drain: it may still read x or write y. */
    if (enqueued) {
        cl_int error = backend->cl->clFinish(device->queue);
        if (status == LOWBIT_OK && error != CL_SUCCESS) status = opencl_fail_call(backend, "clFinish", error, 0);
    }
    pthread_mutex_unlock(&device->lock);
    free(sums);
    double seconds = 0.0;
    for (size_t e = 0; events != NULL && e < event_count; ++e) {
        if (events[e] == NULL) continue;
        cl_ulong begin = 0, end = 0;
        if (backend->cl->clGetEventProfilingInfo(events[e], CL_PROFILING_COMMAND_START, sizeof begin, &begin, NULL) ==
                CL_SUCCESS &&
            backend->cl->clGetEventProfilingInfo(events[e], CL_PROFILING_COMMAND_END, sizeof end, &end, NULL) ==
                CL_SUCCESS &&
            end > begin)
            seconds += (double)(end - begin) * 1e-9;
        backend->cl->clReleaseEvent(events[e]);
    }
    free(events);
    if (reports_time) args->device_seconds = status == LOWBIT_OK ? seconds : 0.0;
    if (status == LOWBIT_OK && reports_kernel) opencl_matmul_plan_describe(&plan, args->kernel, sizeof args->kernel);
    if (args->struct_size >= offsetof(lowbit_backend_matmul_args, activations_quantized) + sizeof(int))
        args->activations_quantized = status == LOWBIT_OK && plan.dot_int;
    return status;
}
