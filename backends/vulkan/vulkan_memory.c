/* vulkan_memory.c — device buffers (device-local preferred, staged when not host-visible; each bound to a range
 * of a shared memory block, vulkan_suballoc.c), the host-visible scratch for activations, and weight upload:
 * into the split layout via repack (F32, F16, Q4_0, Q8_0), or the stored GGUF bytes as they are for the raw
 * kernels (gemv_raw.comp: every other format). */
#include "vulkan_internal.h"

#include <stdlib.h>
#include <string.h>

#include "backends/common/repack.h"
#include "shaders/common/lowbit_grids.h"

static uint32_t find_memory_type(const vk_device *d, uint32_t type_bits, VkMemoryPropertyFlags required,
                                 VkMemoryPropertyFlags preferred)
{
    uint32_t fallback = UINT32_MAX;
    for (uint32_t i = 0; i < d->memory.memoryTypeCount; ++i) {
        VkMemoryPropertyFlags flags = d->memory.memoryTypes[i].propertyFlags;
        if (!(type_bits & (1u << i)) || (flags & required) != required) continue;
        if ((flags & preferred) == preferred) return i;
        if (fallback == UINT32_MAX) fallback = i;
    }
    return fallback;
}

lowbit_status vk_buffer_create(vk_device *d, VkDeviceSize size, vk_memory_kind kind, vk_buffer *out)
{
    vk_backend *backend = d->backend;
    vk_device_table *vk = &d->vk;
    memset(out, 0, sizeof *out);
    if (backend->host->fault_injected && backend->host->fault_injected("vulkan.alloc"))
        return vk_error(backend, LOWBIT_ERROR_DEVICE, "vulkan: vkAllocateMemory failed (fault injected: vulkan.alloc)");
    if (size < 4) size = 4;
    VkBufferCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                 VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VkResult result = vk->vkCreateBuffer(d->device, &info, NULL, &out->buffer);
    if (result != VK_SUCCESS) return vk_fail(backend, "vkCreateBuffer", result);
    VkMemoryRequirements requirements;
    vk->vkGetBufferMemoryRequirements(d->device, out->buffer, &requirements);
    uint32_t type;
    const VkMemoryPropertyFlags shared = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    if (kind == LOWBIT_VK_MEMORY_DEVICE) {
        type = find_memory_type(d, requirements.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
                                VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
        if (type == UINT32_MAX) type = find_memory_type(d, requirements.memoryTypeBits, 0, 0);
    } else if (kind == LOWBIT_VK_MEMORY_HOST_SHARED) {
        type = find_memory_type(d, requirements.memoryTypeBits, shared, shared | VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    } else {
        type = find_memory_type(d, requirements.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                                VK_MEMORY_PROPERTY_HOST_COHERENT_BIT | VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
        if (type != UINT32_MAX && !(d->memory.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)) {
            uint32_t coherent =
                find_memory_type(d, requirements.memoryTypeBits,
                                 VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                                 VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
            if (coherent != UINT32_MAX) type = coherent;
        }
    }
    if (type == UINT32_MAX) {
        vk_buffer_destroy(d, out);
        return vk_error(backend, kind == LOWBIT_VK_MEMORY_HOST_SHARED ? LOWBIT_ERROR_UNSUPPORTED : LOWBIT_ERROR_DEVICE,
                        "vulkan: no memory type of %s fits a %s buffer of %llu bytes", d->info.id,
                        kind == LOWBIT_VK_MEMORY_DEVICE ? "device"
                        : kind == LOWBIT_VK_MEMORY_HOST ? "host-visible"
                                                        : "host-visible coherent",
                        (unsigned long long)size);
    }
    /* the spec already makes buffer alignments meet the descriptor offset limits of their usage; a driver
     * that reports less must not get a storage or texel binding at a misaligned offset of a shared block */
    const VkPhysicalDeviceLimits *limits = &d->properties.limits;
    VkDeviceSize binding_alignment = limits->minStorageBufferOffsetAlignment > limits->minTexelBufferOffsetAlignment
                                         ? limits->minStorageBufferOffsetAlignment
                                         : limits->minTexelBufferOffsetAlignment;
    if (binding_alignment > requirements.alignment && (binding_alignment & (binding_alignment - 1)) == 0)
        requirements.alignment = binding_alignment;
    result = vk_memory_allocate(d, &requirements, type, &out->allocation);
    if (result == VK_ERROR_TOO_MANY_OBJECTS && d->memory_pool.allocation_limit == 0) { /* vulkan_probe.c */
        const char *cap = getenv("LOWBIT_VULKAN_MAX_ALLOCATIONS");
        vk_buffer_destroy(d, out);
        return vk_error(backend, LOWBIT_ERROR_OUT_OF_MEMORY,
                        "vulkan: %s allocates no device memory: LOWBIT_VULKAN_MAX_ALLOCATIONS='%s' is malformed",
                        d->info.id, cap ? cap : "");
    }
    if (result == VK_ERROR_TOO_MANY_OBJECTS) {
        vk_buffer_destroy(d, out);
        return vk_error(backend, LOWBIT_ERROR_OUT_OF_MEMORY,
                        "vulkan: %s has all %u device-memory allocations in use (maxMemoryAllocationCount %u%s)",
                        d->info.id, d->memory_pool.allocation_limit, limits->maxMemoryAllocationCount,
                        d->memory_pool.allocation_limit < limits->maxMemoryAllocationCount
                            ? ", capped by LOWBIT_VULKAN_MAX_ALLOCATIONS"
                            : "");
    }
    if (result != VK_SUCCESS) {
        vk_buffer_destroy(d, out);
        return vk_fail(backend, result == VK_ERROR_MEMORY_MAP_FAILED ? "vkMapMemory" : "vkAllocateMemory", result);
    }
    result = vk->vkBindBufferMemory(d->device, out->buffer, out->allocation.block->memory, out->allocation.offset);
    if (result != VK_SUCCESS) {
        vk_buffer_destroy(d, out);
        return vk_fail(backend, "vkBindBufferMemory", result);
    }
    out->size = size;
    /* LOWBIT_VULKAN_FORCE_STAGING=1 leaves weights unmapped so tests reach the staging path on
     * devices whose memory is all host-visible (lavapipe). */
    const char *force_staging = getenv("LOWBIT_VULKAN_FORCE_STAGING");
    int may_map = kind != LOWBIT_VK_MEMORY_DEVICE || !(force_staging && strcmp(force_staging, "1") == 0);
    if (may_map && out->allocation.mapped) { /* host-visible: the block is mapped once, this is our window */
        out->mapped = out->allocation.mapped;
        out->coherent = out->allocation.coherent;
    }
    return LOWBIT_OK;
}

void vk_buffer_destroy(vk_device *d, vk_buffer *buffer)
{
    if (buffer->buffer) d->vk.vkDestroyBuffer(d->device, buffer->buffer, NULL);
    vk_memory_free(d, &buffer->allocation);
    memset(buffer, 0, sizeof *buffer);
}

lowbit_status vk_buffer_flush(vk_device *d, vk_buffer *buffer, int invalidate)
{
    if (buffer->coherent || !buffer->mapped) return LOWBIT_OK;
    VkResult result = vk_memory_flush(d, &buffer->allocation, invalidate);
    if (result == VK_SUCCESS) return LOWBIT_OK;
    return vk_fail(d->backend, invalidate ? "vkInvalidateMappedMemoryRanges" : "vkFlushMappedMemoryRanges", result);
}

lowbit_status vk_scratch_reserve(vk_device *d, VkDeviceSize size)
{
    if (d->scratch.buffer && d->scratch.size >= size) return LOWBIT_OK;
    VkDeviceSize grown = d->scratch.size ? d->scratch.size : 65536;
    while (grown < size)
        grown *= 2;
    vk_buffer_destroy(d, &d->scratch);
    return vk_buffer_create(d, grown, LOWBIT_VK_MEMORY_HOST, &d->scratch);
}

/* --- weights ------------------------------------------------------------------------------------------ */

/* The codebook a grid format's decoder reads (lowbit_grids.h), NULL for other formats. It travels at the end of
 * every part's weight buffer, after the padding (decode_raw.glsl finds it there from the part's rows and cols):
 * as a constant array in the shader it made every pipeline's translation on lavapipe take seconds. */
static const uint32_t grid_iq2xxs[] = {LOWBIT_GRID_IQ2XXS_WORDS}, grid_iq2xs[] = {LOWBIT_GRID_IQ2XS_WORDS},
                      grid_iq2s[] = {LOWBIT_GRID_IQ2S_WORDS}, grid_iq3xxs[] = {LOWBIT_GRID_IQ3XXS_WORDS},
                      grid_iq3s[] = {LOWBIT_GRID_IQ3S_WORDS}, grid_iq1s[] = {LOWBIT_GRID_IQ1S_WORDS};
static const uint32_t *grid_for(lowbit_format format, size_t *bytes)
{
#define GRID(table) (*bytes = sizeof table, table)
    switch (format) {
    case LOWBIT_FORMAT_IQ2_XXS: return GRID(grid_iq2xxs);
    case LOWBIT_FORMAT_IQ2_XS: return GRID(grid_iq2xs);
    case LOWBIT_FORMAT_IQ2_S: return GRID(grid_iq2s);
    case LOWBIT_FORMAT_IQ3_XXS: return GRID(grid_iq3xxs);
    case LOWBIT_FORMAT_IQ3_S: return GRID(grid_iq3s);
    case LOWBIT_FORMAT_IQ1_S:
    case LOWBIT_FORMAT_IQ1_M: return GRID(grid_iq1s);
    default: *bytes = 0; return NULL;
    }
#undef GRID
}

/* Buffer sizes for `rows` rows: the split layout (repack), or for raw kernels the stored rows back to back,
 * padded to whole 16-byte texels plus 128 bytes, so the shader's word runs (up to 68 bytes past a group) stay
 * inside, then a grid format's codebook. Returns 0, or -1 for a shape the layout cannot hold. */
static int weight_sizes(const vk_kernel *kernel, const lowbit_backend_tensor *tensor, size_t rows, size_t *quant_bytes,
                        size_t *scale_bytes)
{
    if (!kernel->raw) return lowbit_repack_sizes(tensor->format, rows, tensor->cols, quant_bytes, scale_bytes);
    if (tensor->cols % kernel->block_elems != 0) return -1;
    size_t row_bytes = tensor->cols / kernel->block_elems * kernel->block_bytes, grid_bytes = 0;
    grid_for(tensor->format, &grid_bytes);
    if (rows && row_bytes > (SIZE_MAX - 256 - grid_bytes) / rows) return -1;
    *quant_bytes = (rows * row_bytes + 15) / 16 * 16 + 128 + grid_bytes;
    *scale_bytes = 0;
    return 0;
}

static size_t raw_row_bytes(const vk_kernel *kernel, const lowbit_backend_tensor *tensor)
{
    return tensor->cols / kernel->block_elems * kernel->block_bytes;
}

typedef struct staged_copy {
    vk_buffer *source[2], *target[2];
    VkDeviceSize bytes[2];
} staged_copy;

static lowbit_status record_copies(vk_device *d, VkCommandBuffer cb, void *user)
{
    staged_copy *copy = user;
    for (int i = 0; i < 2; ++i) {
        if (!copy->bytes[i]) continue;
        VkBufferCopy region = {.size = copy->bytes[i]};
        d->vk.vkCmdCopyBuffer(cb, copy->source[i]->buffer, copy->target[i]->buffer, 1, &region);
    }
    return LOWBIT_OK;
}

/* Repacks the part's rows into its quant/scale buffers, through host-visible staging when they are not
 * mapped. */
static lowbit_status fill_part(vk_device *d, const vk_kernel *kernel, const lowbit_backend_tensor *tensor,
                               vk_weight_part *part, size_t quant_bytes, size_t scale_bytes)
{
    vk_buffer staging[2] = {{0}};
    vk_buffer *quants = &part->quants, *scales = scale_bytes ? &part->scales : NULL;
    int staged = !quants->mapped || (scales && !scales->mapped);
    lowbit_status status = LOWBIT_OK;
    if (staged) {
        status = vk_buffer_create(d, quant_bytes, LOWBIT_VK_MEMORY_HOST, &staging[0]);
        if (status == LOWBIT_OK && scales)
            status = vk_buffer_create(d, scale_bytes, LOWBIT_VK_MEMORY_HOST, &staging[1]);
        if (status != LOWBIT_OK) goto done;
        quants = &staging[0];
        if (scales) scales = &staging[1];
    }
    if (kernel->raw) { /* the stored bytes as they are, then zero padding, then the codebook (grid formats) */
        size_t row_bytes = raw_row_bytes(kernel, tensor), bytes = part->rows * row_bytes, grid_bytes = 0;
        const uint32_t *grid = grid_for(tensor->format, &grid_bytes);
        memcpy(quants->mapped, (const unsigned char *)tensor->data + part->row_begin * row_bytes, bytes);
        memset((unsigned char *)quants->mapped + bytes, 0, quant_bytes - grid_bytes - bytes);
        if (grid) memcpy((unsigned char *)quants->mapped + quant_bytes - grid_bytes, grid, grid_bytes);
    } else if (lowbit_repack_split(tensor->format, tensor->cols, tensor->data, part->row_begin,
                                   part->row_begin + part->rows, quants->mapped, scales ? scales->mapped : NULL) != 0) {
        status = vk_error(d->backend, LOWBIT_ERROR_INTERNAL, "vulkan: repack of format %d failed", (int)tensor->format);
        goto done;
    }
    status = vk_buffer_flush(d, quants, 0);
    if (status == LOWBIT_OK && scales) status = vk_buffer_flush(d, scales, 0);
    if (status == LOWBIT_OK && staged) {
        staged_copy copy = {{&staging[0], &staging[1]}, {&part->quants, &part->scales}, {quant_bytes, scale_bytes}};
        status = vk_device_submit(d, record_copies, &copy);
    }
done:
    vk_buffer_destroy(d, &staging[0]);
    vk_buffer_destroy(d, &staging[1]);
    return status;
}

/* Texel format of the weight view: one Q4_0 block, half a Q8_0 block, or 4 elements of an F32/F16 row
 * (only when rows are whole texels), a word of a raw kernel's bytes; VK_FORMAT_UNDEFINED for no view. */
static VkFormat texel_format(const vk_kernel *kernel, const lowbit_backend_tensor *tensor)
{
    if (kernel->raw) /* blocks of whole 16-byte texels (Q4_K, Q5_K) are read a texel at a time */
        return kernel->block_bytes % 16 == 0 ? VK_FORMAT_R32G32B32A32_UINT : VK_FORMAT_R32_UINT;
    switch (tensor->format) {
    case LOWBIT_FORMAT_Q4_0:
    case LOWBIT_FORMAT_Q8_0: return VK_FORMAT_R32G32B32A32_UINT;
    case LOWBIT_FORMAT_F32: return tensor->cols % 4 == 0 ? VK_FORMAT_R32G32B32A32_UINT : VK_FORMAT_UNDEFINED;
    case LOWBIT_FORMAT_F16: return tensor->cols % 4 == 0 ? VK_FORMAT_R32G32_UINT : VK_FORMAT_UNDEFINED;
    default: return VK_FORMAT_UNDEFINED;
    }
}

static lowbit_status texel_view_create(vk_device *d, vk_buffer *buffer, VkFormat format, VkBufferView *out)
{
    VkBufferViewCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
        .buffer = buffer->buffer,
        .format = format,
        .range = VK_WHOLE_SIZE,
    };
    VkResult result = d->vk.vkCreateBufferView(d->device, &info, NULL, out);
    return result == VK_SUCCESS ? LOWBIT_OK : vk_fail(d->backend, "vkCreateBufferView", result);
}

static void weights_free(vk_weights *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->part_count; ++i) {
        if (w->parts[i].quant_texels)
            w->device->vk.vkDestroyBufferView(w->device->device, w->parts[i].quant_texels, NULL);
        if (w->parts[i].scale_texels)
            w->device->vk.vkDestroyBufferView(w->device->device, w->parts[i].scale_texels, NULL);
        vk_buffer_destroy(w->device, &w->parts[i].quants);
        vk_buffer_destroy(w->device, &w->parts[i].scales);
    }
    free(w->parts);
    free(w);
}

/* Largest number of rows whose buffers each fit one allocation and one binding (sizes grow with rows,
 * so a binary search finds it); 0 when not even one row fits. */
static size_t rows_per_part(const vk_device *d, const vk_kernel *kernel, const lowbit_backend_tensor *tensor)
{
    uint64_t limit = d->max_storage_range < d->max_allocation ? d->max_storage_range : d->max_allocation;
    if (kernel->raw && limit > (uint64_t)UINT32_MAX - 3) limit = (uint64_t)UINT32_MAX - 3; /* 32-bit byte offsets */
    /* texel views address at most maxTexelBufferElements texels: 16-byte texels (8 for F16), and the
     * scales' 4-byte texels, which are at most an eighth of the quant bytes */
    if (d->texel_weights && texel_format(kernel, tensor) != VK_FORMAT_UNDEFINED) {
        uint64_t texel_limit =
            (uint64_t)d->properties.limits.maxTexelBufferElements * (kernel->raw && kernel->block_bytes % 16 != 0 ? 4u
                                                                     : tensor->format == LOWBIT_FORMAT_F16        ? 8u
                                                                                                           : 16u);
        if (texel_limit < limit) limit = texel_limit;
    }
    size_t low = 0, high = tensor->rows; /* low fits (vacuously for 0), the answer is in [low, high] */
    while (low < high) {
        size_t middle = low + (high - low + 1) / 2, quant_bytes = 0, scale_bytes = 0;
        int fits = weight_sizes(kernel, tensor, middle, &quant_bytes, &scale_bytes) == 0 && quant_bytes <= limit &&
                   scale_bytes <= limit;
        if (fits)
            low = middle;
        else
            high = middle - 1;
    }
    return low;
}

lowbit_status vk_weights_upload(void *self, size_t device, const lowbit_backend_tensor *tensor, void **out)
{
    vk_backend *backend = self;
    if (!tensor || !out || !tensor->data)
        return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: weights_upload got a NULL argument");
    *out = NULL;
    if (device >= backend->device_count)
        return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: device %zu out of range", device);
    vk_device *d = &backend->devices[device];
    const vk_kernel *kernel = vk_kernel_for_format(tensor->format);
    if (!kernel)
        return vk_error(backend, LOWBIT_ERROR_UNSUPPORTED, "vulkan: no Vulkan kernel for format id %d",
                        (int)tensor->format);
    size_t quant_bytes = 0, scale_bytes = 0;
    if (tensor->rows == 0 || tensor->cols == 0 ||
        weight_sizes(kernel, tensor, tensor->rows, &quant_bytes, &scale_bytes) != 0 ||
        (kernel->raw && tensor->size < tensor->rows * raw_row_bytes(kernel, tensor)))
        return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT,
                        "vulkan: %s weights of %zu x %zu do not fit its device layout", kernel->name, tensor->rows,
                        tensor->cols);
    size_t part_rows = rows_per_part(d, kernel, tensor);
    if (part_rows == 0 || tensor->rows > UINT32_MAX || tensor->cols > UINT32_MAX)
        return vk_error(backend, LOWBIT_ERROR_UNSUPPORTED,
                        "vulkan: one %zu-column %s row exceeds the buffer limit of %s (max storage range %llu, max "
                        "allocation %llu)",
                        tensor->cols, kernel->name, d->info.id, (unsigned long long)d->max_storage_range,
                        (unsigned long long)d->max_allocation);
    vk_weights *w = calloc(1, sizeof *w);
    size_t part_count = (tensor->rows + part_rows - 1) / part_rows;
    if (w) w->parts = calloc(part_count, sizeof *w->parts);
    if (!w || !w->parts) {
        free(w);
        return vk_error(backend, LOWBIT_ERROR_OUT_OF_MEMORY, "vulkan: out of host memory");
    }
    w->device = d;
    w->kernel = kernel;
    w->rows = tensor->rows;
    w->cols = tensor->cols;

    pthread_mutex_lock(&d->mutex);
    lowbit_status status = vk_device_ensure(d);
    for (size_t i = 0; i < part_count && status == LOWBIT_OK; ++i) {
        vk_weight_part *part = &w->parts[i];
        part->row_begin = i * part_rows;
        part->rows = tensor->rows - part->row_begin < part_rows ? tensor->rows - part->row_begin : part_rows;
        w->part_count = i + 1;
        weight_sizes(kernel, tensor, part->rows, &quant_bytes, &scale_bytes);
        status = vk_buffer_create(d, quant_bytes, LOWBIT_VK_MEMORY_DEVICE, &part->quants);
        if (status == LOWBIT_OK && scale_bytes)
            status = vk_buffer_create(d, scale_bytes, LOWBIT_VK_MEMORY_DEVICE, &part->scales);
        if (status == LOWBIT_OK) status = fill_part(d, kernel, tensor, part, quant_bytes, scale_bytes);
        /* texel views for the CPU-layout modules: quants or whole rows of 4 elements, and scales */
        if (status == LOWBIT_OK && d->texel_weights && texel_format(kernel, tensor) != VK_FORMAT_UNDEFINED)
            status = texel_view_create(d, &part->quants, texel_format(kernel, tensor), &part->quant_texels);
        if (status == LOWBIT_OK && d->texel_weights && scale_bytes)
            status = texel_view_create(d, &part->scales, VK_FORMAT_R32_UINT, &part->scale_texels);
    }
    if (status != LOWBIT_OK) {
        weights_free(w);
        w = NULL;
    } else if (part_count > 1) {
        vk_log(backend, LOWBIT_LOG_DEBUG, "vulkan: %zu x %zu %s weights split into %zu parts of <= %zu rows",
               tensor->rows, tensor->cols, kernel->name, part_count, part_rows);
    }
    pthread_mutex_unlock(&d->mutex);
    *out = w;
    return status;
}

void vk_weights_release(void *self, void *weights)
{
    (void)self;
    vk_weights *w = weights;
    if (!w) return;
    vk_device *d = w->device;
    pthread_mutex_lock(&d->mutex);
    weights_free(w);
    pthread_mutex_unlock(&d->mutex);
}
