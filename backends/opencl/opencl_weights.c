/* opencl_weights.c — uploads a weight matrix, never dequantized, split by rows into parts that respect the
 * device's max allocation: F32/F16/Q4_0/Q8_0 into the split device layout (quants and f16 scales in
 * separate buffers), every other format as its stored (GGUF) bytes in one plain byte buffer. */
#include <stdlib.h>
#include <string.h>

#include "backends/common/format_facts.h"
#include "backends/common/repack.h"
#include "opencl_backend.h"
#include "shaders/common/lowbit_blocks.h"

/* Rows repacked on the host per write, so the temporary copy stays small for any matrix size. */
#define SLAB_BYTES ((size_t)8 << 20)

static void release_parts(const opencl_api *cl, opencl_weights *weights)
{
    for (size_t i = 0; i < weights->part_count; ++i) {
        if (weights->parts[i].quants) cl->clReleaseMemObject(weights->parts[i].quants);
        if (weights->parts[i].scales) cl->clReleaseMemObject(weights->parts[i].scales);
    }
}

/* One cl_mem per weight buffer, deliberately not sub-allocated as the Vulkan plugin does: OpenCL has no
 * counterpart of maxMemoryAllocationCount (the spec bounds a buffer's size, CL_DEVICE_MAX_MEM_ALLOC_SIZE, not
 * how many exist), and the runtime already places buffers in device memory itself. Carving weights out of a
 * few large buffers with clCreateSubBuffer would gain nothing and cost: every sub-buffer's origin must be a
 * multiple of CL_DEVICE_MEM_BASE_ADDR_ALIGN (often 1024 bits or more), a large parent hits
 * CL_DEVICE_MAX_MEM_ALLOC_SIZE sooner than the row-split parts do, and the runtime could no longer migrate or
 * free one matrix's memory on its own. */
static lowbit_status create_buffer(opencl_backend *backend, opencl_device *device, size_t bytes, cl_mem *out)
{
    return opencl_device_buffer(backend, device, CL_MEM_READ_ONLY, bytes, NULL, out);
}

/* Repacks the part's rows slab by slab and writes them at their offsets in the part's buffers. */
static lowbit_status fill_part(opencl_backend *backend, opencl_device *device, const lowbit_backend_tensor *tensor,
                               const opencl_weights_part *part, size_t quant_row_bytes, size_t scale_row_bytes)
{
    size_t slab_rows = SLAB_BYTES / (quant_row_bytes + scale_row_bytes);
    if (slab_rows == 0) slab_rows = 1;
    if (slab_rows > part->rows) slab_rows = part->rows;
    size_t quant_capacity = 0, scale_capacity = 0;
    lowbit_repack_sizes(tensor->format, slab_rows, tensor->cols, &quant_capacity, &scale_capacity);
    unsigned char *quants = malloc(quant_capacity);
    unsigned char *scales = scale_capacity ? malloc(scale_capacity) : NULL;
    lowbit_status status = LOWBIT_OK;
    if (quants == NULL || (scale_capacity != 0 && scales == NULL)) {
        status = opencl_fail(backend, LOWBIT_ERROR_OUT_OF_MEMORY, "opencl: out of host memory repacking weights");
        goto done;
    }
    for (size_t done_rows = 0; done_rows < part->rows; done_rows += slab_rows) {
        size_t count = part->rows - done_rows < slab_rows ? part->rows - done_rows : slab_rows;
        size_t first = part->row_begin + done_rows;
        if (lowbit_repack_split(tensor->format, tensor->cols, tensor->data, first, first + count, quants, scales) !=
            0) {
            status = opencl_fail(backend, LOWBIT_ERROR_INTERNAL, "opencl: repacking %s rows failed",
                                 lowbit_facts_name(tensor->format));
            goto done;
        }
        cl_int error =
            backend->cl->clEnqueueWriteBuffer(device->queue, part->quants, CL_TRUE, done_rows * quant_row_bytes,
                                              count * quant_row_bytes, quants, 0, NULL, NULL);
        if (error == CL_SUCCESS && part->scales != NULL)
            error = backend->cl->clEnqueueWriteBuffer(device->queue, part->scales, CL_TRUE, done_rows * scale_row_bytes,
                                                      count * scale_row_bytes, scales, 0, NULL, NULL);
        if (error != CL_SUCCESS) {
            status = opencl_fail_call(backend, "clEnqueueWriteBuffer", error, 1);
            goto done;
        }
    }
done:
    free(quants);
    free(scales);
    return status;
}

/* Stored-layout formats: the part's rows are written as they are, straight from the caller's bytes. */
static lowbit_status fill_part_stored(opencl_backend *backend, opencl_device *device,
                                      const lowbit_backend_tensor *tensor, const opencl_weights_part *part,
                                      size_t row_size)
{
    const unsigned char *source = (const unsigned char *)tensor->data + part->row_begin * row_size;
    cl_int error = backend->cl->clEnqueueWriteBuffer(device->queue, part->quants, CL_TRUE, 0, part->rows * row_size,
                                                     source, 0, NULL, NULL);
    return error == CL_SUCCESS ? LOWBIT_OK : opencl_fail_call(backend, "clEnqueueWriteBuffer", error, 1);
}

/* Rows per part so that both of a part's buffers fit in one allocation. */
static size_t rows_per_part(lowbit_format format, size_t rows, size_t cols, uint64_t max_allocation)
{
    size_t quant_bytes = 0, scale_bytes = 0;
    size_t fit = rows;
    while (fit > 0) {
        if (lowbit_repack_sizes(format, fit, cols, &quant_bytes, &scale_bytes) == 0 && quant_bytes <= max_allocation &&
            scale_bytes <= max_allocation)
            return fit;
        /* Shrink toward the proportional estimate first, then step down past rounding. */
        size_t estimate = quant_bytes > 0 ? (size_t)((double)fit * (double)max_allocation / (double)quant_bytes) : 0;
        if (scale_bytes > max_allocation) {
            size_t by_scale = (size_t)((double)fit * (double)max_allocation / (double)scale_bytes);
            if (by_scale < estimate) estimate = by_scale;
        }
        fit = estimate < fit ? estimate : fit - 1;
    }
    return 0;
}

lowbit_status opencl_weights_upload(void *self, size_t device_index, const lowbit_backend_tensor *tensor, void **out)
{
    opencl_backend *backend = self;
    if (tensor == NULL || out == NULL ||
        tensor->struct_size < offsetof(lowbit_backend_tensor, size) + sizeof tensor->size || tensor->data == NULL)
        return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "opencl: weights_upload got a NULL or short tensor");
    *out = NULL;
    opencl_devices_probe(backend);
    if (device_index >= backend->device_count)
        return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "opencl: device %zu out of range (%zu devices)",
                           device_index, backend->device_count);
    opencl_device *device = &backend->devices[device_index];
    if (opencl_kernel_for_format(tensor->format) == NULL)
        return opencl_fail(backend, LOWBIT_ERROR_UNSUPPORTED, "opencl: no kernel for format %d weights on this backend",
                           (int)tensor->format);
    size_t row_size = lowbit_facts_row_bytes(tensor->format, tensor->cols);
    if (tensor->rows == 0 || tensor->cols == 0 || row_size == 0 || tensor->size / row_size != tensor->rows ||
        tensor->size % row_size != 0)
        return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "opencl: %zu×%zu %s does not match %zu bytes",
                           tensor->rows, tensor->cols, lowbit_facts_name(tensor->format), tensor->size);
    /* Kernel arguments are 32-bit; one activation row and its outputs must each fit one scratch buffer
     * (matmul takes fewer activation rows per dispatch when a chunk of them does not). */
    uint64_t max_allocation = device->info.max_allocation;
    if (tensor->rows > UINT32_MAX / OPENCL_MAX_ACTIVATION_ROWS || tensor->cols > UINT32_MAX ||
        (uint64_t)tensor->rows * sizeof(float) > max_allocation ||
        (uint64_t)tensor->cols * sizeof(float) > max_allocation)
        return opencl_fail(backend, LOWBIT_ERROR_UNSUPPORTED,
                           "opencl: a %zu×%zu matrix exceeds what one dispatch addresses on %s", tensor->rows,
                           tensor->cols, device->info.id);

    const opencl_kernel_spec *spec = opencl_kernel_for_format(tensor->format);
    size_t quant_row_bytes = 0, scale_row_bytes = 0;
    int is_float = tensor->format == LOWBIT_FORMAT_F32 || tensor->format == LOWBIT_FORMAT_F16;
    if (spec->stored_layout) {
        quant_row_bytes = row_size;
    } else if (is_float) {
        quant_row_bytes = row_size;
    } else {
        size_t padded_scales = 0;
        lowbit_repack_sizes(tensor->format, 1, tensor->cols, &quant_row_bytes, &padded_scales);
        scale_row_bytes = (row_size - quant_row_bytes); /* the f16 scale of each block */
    }
    size_t part_rows = spec->stored_layout ? (size_t)(max_allocation / row_size)
                                           : rows_per_part(tensor->format, tensor->rows, tensor->cols, max_allocation);
    if (part_rows > tensor->rows) part_rows = tensor->rows;
    if (part_rows == 0)
        return opencl_fail(backend, LOWBIT_ERROR_UNSUPPORTED,
                           "opencl: one %zu-column %s row is larger than the max allocation (%llu bytes) of %s",
                           tensor->cols, lowbit_facts_name(tensor->format), (unsigned long long)max_allocation,
                           device->info.id);
    size_t part_count = (tensor->rows + part_rows - 1) / part_rows;
    opencl_weights *weights = calloc(1, sizeof *weights + part_count * sizeof weights->parts[0]);
    if (weights == NULL) return opencl_fail(backend, LOWBIT_ERROR_OUT_OF_MEMORY, "opencl: out of host memory");
    weights->device = device;
    weights->format = tensor->format;
    weights->rows = tensor->rows;
    weights->cols = tensor->cols;
    weights->part_count = part_count;

    pthread_mutex_lock(&device->lock);
    lowbit_status status = opencl_device_open(backend, device);
    for (size_t i = 0; i < part_count && status == LOWBIT_OK; ++i) {
        opencl_weights_part *part = &weights->parts[i];
        part->row_begin = i * part_rows;
        part->rows = tensor->rows - part->row_begin < part_rows ? tensor->rows - part->row_begin : part_rows;
        size_t quant_bytes = 0, scale_bytes = 0;
        if (spec->stored_layout)
            quant_bytes = part->rows * row_size;
        else
            lowbit_repack_sizes(tensor->format, part->rows, tensor->cols, &quant_bytes, &scale_bytes);
        status = create_buffer(backend, device, quant_bytes, &part->quants);
        if (status == LOWBIT_OK && scale_bytes != 0)
            status = create_buffer(backend, device, scale_bytes, &part->scales);
        if (status == LOWBIT_OK)
            status = spec->stored_layout ? fill_part_stored(backend, device, tensor, part, row_size)
                                         : fill_part(backend, device, tensor, part, quant_row_bytes, scale_row_bytes);
    }
    pthread_mutex_unlock(&device->lock);
    if (status != LOWBIT_OK) {
        release_parts(backend->cl, weights);
        free(weights);
        return status;
    }
    if (part_count > 1)
        opencl_log(backend, LOWBIT_LOG_DEBUG, "opencl: %zu×%zu %s split into %zu parts of ≤ %zu rows", tensor->rows,
                   tensor->cols, lowbit_facts_name(tensor->format), part_count, part_rows);
    *out = weights;
    return LOWBIT_OK;
}

void opencl_weights_release(void *self, void *handle)
{
    opencl_backend *backend = self;
    opencl_weights *weights = handle;
    if (weights == NULL) return;
    release_parts(backend->cl, weights);
    free(weights);
}
