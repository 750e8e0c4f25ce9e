/* weights.c — weight upload and matmul dispatch: the requested device runs the call when it can,
 * and the CPU backend computes the same result when it cannot (unsupported format, failed
 * allocation or build, a device fault), saying so in the log and in lowbit_last_run(). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "runtime.h"

/* Per thread: what the last matmul on `context` ran. */
static _Thread_local struct {
    const lowbit_context *context;
    lowbit_run_info info;
} last_run;

/* Weights of every context, so a destroyed context releases what the caller forgot. */
static lowbit_handle_set all_weights = LOWBIT_HANDLE_SET_INIT;

static const lowbit_context *context_of_weights(const void *weights)
{
    return ((const lowbit_weights *)weights)->context;
}

static lowbit_backend *backend_of(const lowbit_context *context, size_t device)
{
    return context->plugins[context->devices[device].backend].backend;
}

static void weights_free(lowbit_weights *weights)
{
    lowbit_context *context = weights->context;
    lowbit_queues_drain(context, weights->device); /* a queued matmul may still read them */
    if (weights->device_weights) {
        lowbit_backend *backend = backend_of(context, weights->device);
        backend->weights_release(backend->self, weights->device_weights);
    }
    if (weights->cpu_weights) {
        lowbit_backend *cpu = context->plugins[0].backend;
        cpu->weights_release(cpu->self, weights->cpu_weights);
    }
    free(weights->owned_copy);
    free(weights);
}

void lowbit_weights_release_all(lowbit_context *context)
{
    lowbit_weights *found;
    while ((found = lowbit_handle_set_find(&all_weights, context, context_of_weights)) != NULL) {
        if (!lowbit_handle_set_remove(&all_weights, found)) continue; /* its own destroy got there first */
        lowbit_log(LOWBIT_LOG_DEBUG, "context destroyed with live weights (%zu x %zu %s): released", found->rows,
                   found->cols, lowbit_format_name(found->format));
        weights_free(found);
    }
}

static lowbit_status check_upload(lowbit_context *context, lowbit_format format, size_t rows, size_t cols,
                                  const void *data, size_t size, unsigned flags, lowbit_weights **out)
{
    static const char fn[] = "lowbit_weights_upload";
    if (!out) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    *out = NULL;
    if (!data) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: data is NULL", fn);
    if (flags & ~(unsigned)(LOWBIT_UPLOAD_BORROW_HOST | LOWBIT_UPLOAD_NO_FALLBACK))
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: unknown flags 0x%x", fn, flags);
    const lowbit_format_traits *traits = lowbit_format_get((int)format);
    if (!traits) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: unknown format id %d", fn, (int)format);
    if (traits->is_activation_only)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: %s is an activation type, not a weight format", fn,
                            traits->name);
    if (rows == 0 || cols == 0)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: rows (%zu) and cols (%zu) must be > 0", fn, rows, cols);
    if (cols % traits->block_size != 0)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: cols (%zu) is not a multiple of %s's block size %u", fn,
                            cols, traits->name, traits->block_size);
    size_t row_bytes = lowbit_format_row_size((int)format, cols);
    if (row_bytes == 0 || rows > SIZE_MAX / row_bytes || rows > SIZE_MAX / sizeof(float) / cols)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: %zu x %zu is too large", fn, rows, cols);
    if (size != rows * row_bytes)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "%s: size is %zu bytes, but %zu rows of %zu %s elements take %zu bytes", fn, size, rows,
                            cols, traits->name, rows * row_bytes);
    if (!traits->can_dequantize)
        return lowbit_error(LOWBIT_ERROR_UNSUPPORTED, "%s: %s weights cannot be read by this build", fn, traits->name);
    (void)context;
    return LOWBIT_OK;
}

lowbit_status lowbit_weights_upload(lowbit_context *context, size_t device, lowbit_format format, size_t rows,
                                    size_t cols, const void *data, size_t size, unsigned flags, lowbit_weights **out)
{
    if (!context || !lowbit_handle_is_live(context))
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_weights_upload: context is %s",
                            context ? "destroyed" : "NULL");
    lowbit_status status = check_upload(context, format, rows, cols, data, size, flags, out);
    if (status != LOWBIT_OK) return status;
    if ((status = lowbit_context_probe(context)) != LOWBIT_OK) return status;
    if (device == LOWBIT_DEVICE_DEFAULT && (status = lowbit_device_default(context, &device)) != LOWBIT_OK)
        return status;
    if (device >= context->device_count)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_weights_upload: device %zu of %zu", device,
                            context->device_count);

    lowbit_weights *weights = calloc(1, sizeof *weights);
    if (!weights) return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "lowbit_weights_upload: out of host memory");
    *weights = (lowbit_weights){
        .context = context, .device = device, .format = format, .rows = rows, .cols = cols, .size = size};
    lowbit_backend *backend = backend_of(context, device);
    lowbit_backend *cpu = context->plugins[0].backend;
    int on_cpu = backend == cpu;
    int keep_host = on_cpu || !(flags & LOWBIT_UPLOAD_NO_FALLBACK);
    const lowbit_backend_tensor tensor = {sizeof tensor, format, rows, cols, data, size};

    if (!on_cpu) {
        status = backend->weights_upload(backend->self, context->devices[device].local_index, &tensor,
                                         &weights->device_weights);
        if (status != LOWBIT_OK) {
            weights->device_weights = NULL;
            snprintf(weights->upload_fallback_reason, sizeof weights->upload_fallback_reason, "%s upload failed: %s",
                     context->devices[device].info.id,
                     *lowbit_last_error() ? lowbit_last_error() : lowbit_status_string(status));
            if (flags & LOWBIT_UPLOAD_NO_FALLBACK) {
                char reason[sizeof weights->upload_fallback_reason];
                memcpy(reason, weights->upload_fallback_reason, sizeof reason);
                free(weights);
                return lowbit_error(status, "%s", reason);
            }
            lowbit_log(status == LOWBIT_ERROR_UNSUPPORTED ? LOWBIT_LOG_INFO : LOWBIT_LOG_WARN,
                       "%s; this matrix runs on the CPU backend", weights->upload_fallback_reason);
        }
    }
    if (keep_host) {
        if (flags & LOWBIT_UPLOAD_BORROW_HOST) {
            weights->host_data = data;
        } else {
            weights->owned_copy = malloc(size);
            if (!weights->owned_copy) {
                weights_free(weights);
                return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY,
                                    "lowbit_weights_upload: no host memory for the %zu-byte fallback copy (pass "
                                    "LOWBIT_UPLOAD_BORROW_HOST or LOWBIT_UPLOAD_NO_FALLBACK to avoid it)",
                                    size);
            }
            memcpy(weights->owned_copy, data, size);
            weights->host_data = weights->owned_copy;
        }
        lowbit_backend_tensor host_tensor = tensor;
        host_tensor.data = weights->host_data;
        status = cpu->weights_upload(cpu->self, 0, &host_tensor, &weights->cpu_weights);
        if (status != LOWBIT_OK) {
            weights->cpu_weights = NULL;
            weights_free(weights);
            return status;
        }
    }
    if (!lowbit_handle_set_add(&all_weights, weights)) {
        weights_free(weights);
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "lowbit_weights_upload: out of host memory");
    }
    *out = weights;
    return LOWBIT_OK;
}

void lowbit_weights_destroy(lowbit_weights *weights)
{
    if (!weights) return;
    if (!lowbit_handle_set_remove(&all_weights, weights)) {
        lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_weights_destroy: weights were already destroyed");
        lowbit_log(LOWBIT_LOG_ERROR, "lowbit_weights_destroy: handle %p was already destroyed (ignored)",
                   (void *)weights);
        return;
    }
    weights_free(weights);
}

static void record_run(const lowbit_context *context, const lowbit_weights *weights, size_t device,
                       const lowbit_backend_matmul_args *args, double started, const char *fallback_reason)
{
    const char *kernel = args->kernel;
    lowbit_run_info *info = &last_run.info;
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    last_run.context = context;
    info->device = device;
    snprintf(info->device_id, sizeof info->device_id, "%s", context->devices[device].info.id);
    snprintf(info->requested_device_id, sizeof info->requested_device_id, "%s",
             context->devices[weights->device].info.id);
    snprintf(info->kernel, sizeof info->kernel, "%s", kernel);
    info->device_seconds = args->device_seconds;
    info->activations_quantized = args->activations_quantized;
    info->wall_seconds = lowbit_now_seconds() - started;
    if (fallback_reason) {
        info->fell_back = 1;
        snprintf(info->fallback_reason, sizeof info->fallback_reason, "%s", fallback_reason);
    }
}

/* X widened from f16 to f32 for a backend that reads only f32 activations (caller frees). */
static float *widen_activations(const void *x, size_t count)
{
    float *wide = malloc(count * sizeof(float));
    if (!wide) return NULL;
    const unsigned char *bytes = x;
    for (size_t i = 0; i < count; ++i)
        wide[i] = lowbit_fp16_to_fp32((uint16_t)(bytes[2 * i] | (bytes[2 * i + 1] << 8)));
    return wide;
}

/* One backend call; an f16 request the backend refuses is retried with X widened on the host. */
static lowbit_status run_backend(lowbit_backend *backend, lowbit_backend_matmul_args *args, size_t cols, int *widened)
{
    *widened = 0;
    lowbit_status status = backend->matmul(backend->self, args);
    if (status != LOWBIT_ERROR_UNSUPPORTED || args->x_type == LOWBIT_ACTIVATION_F32) return status;
    float *wide = widen_activations(args->x, args->n * cols);
    if (!wide) return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "lowbit_matmul: no memory to widen f16 activations");
    lowbit_backend_matmul_args retry = *args;
    retry.x = wide;
    retry.x_type = LOWBIT_ACTIVATION_F32;
    lowbit_error_clear();
    status = backend->matmul(backend->self, &retry);
    memcpy(args->kernel, retry.kernel, sizeof args->kernel);
    args->device_seconds = retry.device_seconds;
    args->activations_quantized = retry.activations_quantized;
    free(wide);
    *widened = status == LOWBIT_OK;
    return status;
}

lowbit_status lowbit_matmul(lowbit_context *context, const lowbit_weights *weights, const float *x, float *y, size_t n)
{
    return lowbit_matmul_ex(context, weights, x, LOWBIT_ACTIVATION_F32, y, n);
}

lowbit_status lowbit_matmul_ex(lowbit_context *context, const lowbit_weights *weights, const void *x,
                               lowbit_activation x_type, float *y, size_t n)
{
    static const char fn[] = "lowbit_matmul";
    if (!context || !lowbit_handle_is_live(context))
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: context is %s", fn, context ? "destroyed" : "NULL");
    if (!weights || !lowbit_handle_is_live(weights))
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: weights are %s", fn,
                            weights ? "destroyed (or were never created)" : "NULL");
    if (weights->context != context)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: weights belong to another context", fn);
    if (!x || !y) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: x or y is NULL", fn);
    if (x_type != LOWBIT_ACTIVATION_F32 && x_type != LOWBIT_ACTIVATION_F16)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: unknown activation type %d", fn, (int)x_type);
    if (n == 0) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: n is 0 (need at least one activation row)", fn);
    if (n > SIZE_MAX / sizeof(float) / (weights->cols > weights->rows ? weights->cols : weights->rows))
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: n = %zu is too large", fn, n);
    /* X and Y must not overlap: every row of Y reads all of X, so an in-place answer would depend on the
     * backend's order of work (the device backends copy X first, the CPU backend streams it). */
    uintptr_t x_start = (uintptr_t)x, y_start = (uintptr_t)y;
    size_t x_bytes = n * weights->cols * (x_type == LOWBIT_ACTIVATION_F16 ? 2 : sizeof(float));
    if (x_start < y_start + n * weights->rows * sizeof(float) && y_start < x_start + x_bytes)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: x and y overlap (matmul is never in place)", fn);

    const double started = lowbit_now_seconds();
    lowbit_backend_matmul_args args = {sizeof args, NULL, x, x_type, y, n, "", 0.0, 0};
    char reason[256] = "";
    int widened = 0;
    if (weights->device_weights) {
        lowbit_backend *backend = backend_of(context, weights->device);
        args.weights = weights->device_weights;
        lowbit_error_clear();
        lowbit_status status = run_backend(backend, &args, weights->cols, &widened);
        if (status == LOWBIT_OK) {
            record_run(context, weights, weights->device, &args, started, NULL);
            last_run.info.activations_widened = widened;
            return LOWBIT_OK;
        }
        snprintf(reason, sizeof reason, "%s matmul failed: %s", context->devices[weights->device].info.id,
                 *lowbit_last_error() ? lowbit_last_error() : lowbit_status_string(status));
        if (!weights->cpu_weights)
            return lowbit_error(status, "%s (no CPU fallback: uploaded with NO_FALLBACK)", reason);
        lowbit_log(LOWBIT_LOG_WARN, "%s; computed on the CPU backend instead", reason);
    } else if (weights->device != 0) {
        snprintf(reason, sizeof reason, "%s", weights->upload_fallback_reason);
    }
    lowbit_backend *cpu = context->plugins[0].backend;
    args = (lowbit_backend_matmul_args){sizeof args, weights->cpu_weights, x, x_type, y, n, "", 0.0, 0};
    lowbit_status status = run_backend(cpu, &args, weights->cols, &widened);
    if (status != LOWBIT_OK) return status;
    record_run(context, weights, 0, &args, started, reason[0] ? reason : NULL);
    last_run.info.activations_widened = widened;
    return LOWBIT_OK;
}

lowbit_status lowbit_last_run(lowbit_context *context, lowbit_run_info *info)
{
    if (!context || !lowbit_handle_is_live(context))
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_last_run: context is %s",
                            context ? "destroyed" : "NULL");
    if (!info || info->struct_size == 0 || info->struct_size > 65536)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "lowbit_last_run: info is NULL or info->struct_size is not sizeof(lowbit_run_info)");
    if (last_run.context != context)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "lowbit_last_run: this thread ran no matmul on this context");
    size_t size = info->struct_size < sizeof *info ? info->struct_size : sizeof *info;
    memcpy(info, &last_run.info, size);
    info->struct_size = size;
    return LOWBIT_OK;
}
