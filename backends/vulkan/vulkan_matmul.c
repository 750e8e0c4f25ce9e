/* vulkan_matmul.c — how a matmul runs (the plan: kernel, chunks, pipelines, descriptor sets, dispatches), shared
 * with the queued matmul of vulkan_queue.c, and the synchronous matmul: activations into the host-visible scratch,
 * one dispatch per (weight part, chunk of up to LOWBIT_VK_MAX_BATCH activation rows) in a single command buffer,
 * results read back. Each chunk has its own aligned X and Y regions, so no binding exceeds the device's range.
 * From the kernel table's threshold n (prefill) a tiled GEMM (gemm.comp) runs instead: one dispatch per (weight
 * part, chunk), a chunk then holding every activation row that fits one binding. f16 activations are uploaded as
 * they came and widened by the shaders (X_F16), so the host never converts them. */
#include "vulkan_internal.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t vk_matmul_chunk_rows(const vk_matmul_plan *plan, size_t chunk)
{
    size_t first = chunk * plan->batch;
    return plan->n - first < plan->batch ? plan->n - first : plan->batch;
}

static VkDeviceSize align_up(VkDeviceSize value, VkDeviceSize alignment)
{
    return alignment ? (value + alignment - 1) / alignment * alignment : value;
}

/* LOWBIT_VULKAN_PARAMS="wg,rows,cpu|gpu" (read by vulkan_settings.c) overrides the table's defaults (for
 * benchmarks and tuning). The GPU layout's reduction uses subgroups where the device has them
 * (d->subgroup_reduce; LOWBIT_VULKAN_SUBGROUPS is read at probe time) and the kernel a subgroup module. */
static vk_kernel_params kernel_params(const vk_device *d, const vk_settings *settings, const vk_kernel *kernel)
{
    vk_kernel_params params = kernel->defaults[d->device_class];
    if (settings->workgroup_size) params.workgroup_size = settings->workgroup_size;
    if (settings->rows) params.rows = settings->rows;
    if (settings->has_layout) params.layout = settings->layout;
    /* the subgroups key decides where given (checked against the device when read), else the probe's choice */
    int reduce = settings->subgroups ? settings->subgroups == 2 : d->subgroup_reduce;
    params.subgroups = params.layout == LOWBIT_VK_LAYOUT_GPU && reduce && kernel->spirv_subgroups;
    return params;
}

/* The GEMM for n activation rows in *out_kernel, or NULL for the looped GEMV: the kernel table's tile and
 * threshold for the device class. LOWBIT_VULKAN_GEMM=off|gpu|cpu|"bm,bn,bk,tm,tn[,min_n]" overrides them
 * (gpu/cpu: that class's table entry from n = 9 up even where the table keeps the GEMV); LOWBIT_VULKAN_PARAMS
 * alone forces the GEMV. A tile the device cannot run is the looped GEMV when the table chose it, and refused
 * when the variable asked for it. */
static lowbit_status gemm_choice(vk_device *d, const vk_settings *settings, const vk_kernel *gemv, size_t cols,
                                 size_t n, vk_kernel_params *out, const vk_kernel **out_kernel)
{
    *out_kernel = NULL;
    const vk_kernel *kernel = vk_gemm_kernel_for_format(gemv->format);
    /* The GEMM reads the weights in the layout uploaded for the GEMV. Rows of F32/F16/BF16 may end inside a
     * 32-element group (the decoders weigh elements past cols 0, the activations are zero-padded to the
     * scratch stride); block formats hold whole blocks only, which the upload already demands, so a row
     * that is not is left to the GEMV's own checks. */
    if (!kernel || kernel->raw != gemv->raw || cols % kernel->block_elems != 0) return LOWBIT_OK;
    vk_kernel_params params = kernel->defaults[d->device_class];
    switch (settings->gemm) {
    case LOWBIT_VK_GEMM_OFF: return LOWBIT_OK;
    case LOWBIT_VK_GEMM_CLASS:
        params = kernel->defaults[settings->gemm_class];
        params.min_n = LOWBIT_VK_MAX_BATCH + 1;
        break;
    case LOWBIT_VK_GEMM_TILE:
        params.bm = settings->bm, params.bn = settings->bn, params.bk = settings->bk;
        params.tm = settings->tm, params.tn = settings->tn, params.min_n = settings->min_n;
        break;
    case LOWBIT_VK_GEMM_TABLE:
        if (settings->params) return LOWBIT_OK;
        /* the parameter keys: gemm=1 turns the table's tile on from n = 9; the tile keys given replace its own */
        if (settings->gemm_on && params.min_n == 0) params.min_n = 9;
        if (settings->bm) params.bm = settings->bm;
        if (settings->bn) params.bn = settings->bn;
        if (settings->bk) params.bk = settings->bk;
        if (settings->tm) params.tm = settings->tm;
        if (settings->tn) params.tn = settings->tn;
        if (settings->min_n) params.min_n = settings->min_n;
        break;
    }
    if (params.min_n == 0 || n < params.min_n) return LOWBIT_OK;
    if (settings->gemm == LOWBIT_VK_GEMM_TABLE &&
        (settings->bm || settings->bn || settings->bk || settings->tm || settings->tn)) {
        /* a tile the parameters asked for is refused when it cannot run, never silently replaced */
        if (!params.tm || !params.tn || params.tm % 4 || params.tn % 4 || params.bm % params.tm ||
            params.bn % params.tn)
            return vk_settings_refuse(d->backend,
                                      "vulkan: GEMM parameters tile_rows=%u tile_n=%u item_rows=%u item_n=%u: the "
                                      "items must be multiples of 4 dividing the tile",
                                      params.bm, params.bn, params.tm, params.tn);
        lowbit_status status = vk_settings_tile_check(d, &params, "the GEMM parameters");
        if (status != LOWBIT_OK) return status;
    }
    /* the table's tiles are multiples that fit (vulkan_kernels.c), LOWBIT_VULKAN_GEMM's were checked when read */
    if (!params.bm || !params.bn || !params.tm || !params.tn || params.tm % 4 || params.tn % 4 ||
        params.bm % params.tm || params.bn % params.tn || !params.bk || params.bk % 32 || params.bm > 1024 ||
        params.bn > 1024 || params.bk > 1024)
        return LOWBIT_OK;
    if (settings->gemm == LOWBIT_VK_GEMM_CLASS) { /* TILE was checked against the device when read */
        char source[64];
        snprintf(source, sizeof source, "LOWBIT_VULKAN_GEMM=%s",
                 settings->gemm_class == LOWBIT_VK_CLASS_GPU ? "gpu" : "cpu");
        lowbit_status status = vk_settings_tile_check(d, &params, source);
        if (status != LOWBIT_OK) return status;
    }
    uint32_t workgroup = (params.bm / params.tm) * (params.bn / params.tn);
    uint64_t shared_bytes = (uint64_t)params.bk * (params.bm + params.bn) * sizeof(float);
    if (workgroup > d->info.max_workgroup_size || workgroup > d->properties.limits.maxComputeWorkGroupInvocations ||
        workgroup > d->properties.limits.maxComputeWorkGroupSize[0] ||
        shared_bytes > d->properties.limits.maxComputeSharedMemorySize)
        return LOWBIT_OK;
    params.workgroup_size = workgroup;
    params.texel_weights = 0;
    params.subgroups = 0; /* no cross-invocation reduction: every invocation owns its outputs */
    *out = params;
    *out_kernel = kernel;
    return LOWBIT_OK;
}

/* On the CPU layout an invocation keeps rows × batch accumulators: larger batches already reuse each
 * weight load, so they take proportionally fewer rows (which also keeps the pipelines small to build). */
static vk_kernel_params params_for_batch(vk_kernel_params params, size_t batch)
{
    /* ...but not below 4 rows, where activation loads would dominate again (measured on lavapipe:
     * n = 8 takes 16 ms with 2 rows, 10 ms with 4, 8 ms with 8, at rising pipeline build times) */
    if (params.layout == LOWBIT_VK_LAYOUT_CPU && batch > 1) {
        uint32_t floor_rows = params.rows < 4 ? params.rows : 4;
        params.rows = params.rows / batch > floor_rows ? (uint32_t)(params.rows / batch) : floor_rows;
    }
    return params;
}

static uint32_t group_count(const vk_kernel_params *params, size_t rows)
{
    size_t rows_per_group = params->rows;
    if (params->layout == LOWBIT_VK_LAYOUT_CPU) rows_per_group *= params->workgroup_size;
    return (uint32_t)((rows + rows_per_group - 1) / rows_per_group);
}

/* The workgroup grid of one (part, chunk) dispatch. */
static lowbit_status dispatch_groups(vk_device *d, const vk_matmul_plan *plan, size_t part_index, size_t chunk,
                                     uint32_t *groups_x, uint32_t *groups_y)
{
    const vk_weight_part *part = &plan->weights->parts[part_index];
    int full = vk_matmul_chunk_rows(plan, chunk) == plan->batch;
    uint32_t max_x = d->properties.limits.maxComputeWorkGroupCount[0];
    if (!plan->gemm) {
        uint32_t groups = group_count(&plan->chunk_params[full ? 0 : 1], part->rows);
        *groups_x = groups < max_x ? groups : max_x;
        *groups_y = (groups + *groups_x - 1) / *groups_x;
    } else { /* x: tiles of BM weight rows, y: tiles of BN activation rows */
        *groups_x = (uint32_t)((part->rows + plan->params.bm - 1) / plan->params.bm);
        *groups_y = (uint32_t)((vk_matmul_chunk_rows(plan, chunk) + plan->params.bn - 1) / plan->params.bn);
        if (*groups_x > max_x)
            return vk_error(d->backend, LOWBIT_ERROR_UNSUPPORTED, "vulkan: %zu rows need too many workgroups",
                            part->rows);
    }
    if (*groups_y > d->properties.limits.maxComputeWorkGroupCount[1])
        return vk_error(d->backend, LOWBIT_ERROR_UNSUPPORTED, "vulkan: %zu rows need too many workgroups", part->rows);
    return LOWBIT_OK;
}

/* The integer-dot path's quantize dispatch of a chunk: one invocation per 32-element block of its rows. */
static void quantize_groups(vk_device *d, const vk_matmul_plan *plan, size_t chunk, uint32_t *groups_x,
                            uint32_t *groups_y)
{
    size_t blocks = vk_matmul_chunk_rows(plan, chunk) * (plan->weights->cols / 32);
    size_t wg = plan->quantize_params.workgroup_size, groups = (blocks + wg - 1) / wg;
    uint32_t max_x = d->properties.limits.maxComputeWorkGroupCount[0];
    *groups_x = groups < max_x ? (uint32_t)groups : max_x;
    size_t rows = (groups + *groups_x - 1) / *groups_x;
    *groups_y = rows > UINT32_MAX ? UINT32_MAX : (uint32_t)rows;
}

lowbit_status vk_matmul_dispatches_check(vk_device *d, const vk_matmul_plan *plan)
{
    uint32_t groups_x, groups_y;
    for (size_t chunk = 0; plan->q8 && chunk < plan->chunks; ++chunk) {
        quantize_groups(d, plan, chunk, &groups_x, &groups_y);
        if (groups_y > d->properties.limits.maxComputeWorkGroupCount[1])
            return vk_error(d->backend, LOWBIT_ERROR_UNSUPPORTED,
                            "vulkan: %zu activation rows need too many workgroups", vk_matmul_chunk_rows(plan, chunk));
    }
    for (size_t part_index = 0; part_index < plan->weights->part_count; ++part_index)
        for (size_t chunk = 0; chunk < plan->chunks; ++chunk) {
            lowbit_status status = dispatch_groups(d, plan, part_index, chunk, &groups_x, &groups_y);
            if (status != LOWBIT_OK) return status;
        }
    return LOWBIT_OK;
}

void vk_matmul_dispatches_record(vk_device *d, VkCommandBuffer cb, const vk_matmul_plan *plan)
{
    vk_device_table *vk = &d->vk;
    const vk_weights *w = plan->weights;
    VkPipeline bound = VK_NULL_HANDLE;
    if (plan->q8) { /* X into 8-bit blocks, every chunk, before any GEMV reads them */
        vk->vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, plan->quantize_pipeline);
        for (size_t chunk = 0; chunk < plan->chunks; ++chunk) {
            uint32_t groups_x = 0, groups_y = 0;
            quantize_groups(d, plan, chunk, &groups_x, &groups_y);
            vk->vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, d->pipeline_layout, LOWBIT_VK_SET, 1,
                                        &plan->sets[w->part_count * plan->chunks + chunk], 0, NULL);
            vk_matmul_push push = {
                .cols = (uint32_t)w->cols,
                .x_stride = plan->x_stride,
                .y_stride = plan->q8_row_words,
                .batch = (uint32_t)vk_matmul_chunk_rows(plan, chunk),
            };
            vk->vkCmdPushConstants(cb, d->pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof push, &push);
            vk->vkCmdDispatch(cb, groups_x, groups_y, 1);
        }
        VkMemoryBarrier barrier = {
            .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
            .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
            .dstAccessMask = VK_ACCESS_SHADER_READ_BIT,
        };
        vk->vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1,
                                 &barrier, 0, NULL, 0, NULL);
        bound = plan->quantize_pipeline;
    }
    for (size_t part_index = 0; part_index < w->part_count; ++part_index) {
        const vk_weight_part *part = &w->parts[part_index];
        for (size_t chunk = 0; chunk < plan->chunks; ++chunk) {
            int full = vk_matmul_chunk_rows(plan, chunk) == plan->batch;
            uint32_t groups_x = 0, groups_y = 0;
            if (dispatch_groups(d, plan, part_index, chunk, &groups_x, &groups_y) != LOWBIT_OK)
                continue; /* vk_matmul_dispatches_check refused the plan before */
            vk->vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, d->pipeline_layout, LOWBIT_VK_SET, 1,
                                        &plan->sets[part_index * plan->chunks + chunk], 0, NULL);
            VkPipeline pipeline = plan->pipelines[full ? 0 : 1];
            if (pipeline != bound) vk->vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
            bound = pipeline;
            vk_matmul_push push = {
                .rows = (uint32_t)part->rows,
                .cols = (uint32_t)w->cols,
                .x_offset = 0,
                .x_stride = plan->q8 ? plan->q8_row_words : plan->x_stride, /* q8: words of a quantized row */
                .y_offset = (uint32_t)part->row_begin,
                .y_stride = (uint32_t)w->rows,
                .batch = (uint32_t)vk_matmul_chunk_rows(plan, chunk),
            };
            vk->vkCmdPushConstants(cb, d->pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof push, &push);
            vk->vkCmdDispatch(cb, groups_x, groups_y, 1);
        }
    }
}

static lowbit_status record_matmul(vk_device *d, VkCommandBuffer cb, void *user)
{
    vk_matmul_plan *plan = user;
    lowbit_status status = vk_matmul_dispatches_check(d, plan);
    if (status != LOWBIT_OK) return status;
    vk_timestamp_write(d, cb, 0);
    vk_matmul_dispatches_record(d, cb, plan);
    vk_timestamp_write(d, cb, 1);
    VkMemoryBarrier barrier = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
    };
    d->vk.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier, 0,
                               NULL, 0, NULL);
    return LOWBIT_OK;
}

lowbit_status vk_matmul_descriptors_write(vk_device *d, vk_matmul_plan *plan, VkDescriptorPool pool, VkBuffer scratch,
                                          VkDeviceSize scratch_base)
{
    const vk_weights *w = plan->weights;
    size_t gemv_sets = w->part_count * plan->chunks;
    /* the integer-dot path's view is of the chunk's quantized X (gemv_q8.comp: RGBA32UI words) */
    for (size_t chunk = 0; chunk < plan->chunks && plan->params.texel_weights; ++chunk) {
        size_t rows = vk_matmul_chunk_rows(plan, chunk);
        VkBufferViewCreateInfo info = {
            .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
            .buffer = scratch,
            .format = plan->x_f16 && !plan->q8 ? VK_FORMAT_R32G32_UINT : VK_FORMAT_R32G32B32A32_UINT,
            .offset = scratch_base + chunk * plan->chunk_bytes + (plan->q8 ? plan->q8_region : 0),
            .range = plan->q8 ? rows * plan->q8_row_words * sizeof(uint32_t) : rows * plan->x_stride * plan->x_element,
        };
        VkResult result = d->vk.vkCreateBufferView(d->device, &info, NULL, &plan->x_views[chunk]);
        if (result != VK_SUCCESS) return vk_fail(d->backend, "vkCreateBufferView", result);
    }
    VkDescriptorSetAllocateInfo allocate = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorPool = pool,
        .descriptorSetCount = 1,
        .pSetLayouts = &d->set_layout,
    };
    for (size_t i = 0; i < gemv_sets; ++i) {
        VkResult result = d->vk.vkAllocateDescriptorSets(d->device, &allocate, &plan->sets[i]);
        if (result != VK_SUCCESS) return vk_fail(d->backend, "vkAllocateDescriptorSets", result);
        const vk_weight_part *part = &w->parts[i / plan->chunks];
        size_t chunk = i % plan->chunks, rows = vk_matmul_chunk_rows(plan, chunk);
        VkDeviceSize base = scratch_base + chunk * plan->chunk_bytes;
        VkBuffer scales = part->scales.buffer ? part->scales.buffer : part->quants.buffer; /* F32/F16: none */
        VkDescriptorBufferInfo buffers[LOWBIT_VK_STORAGE_BINDING_COUNT] = {
            [LOWBIT_VK_BINDING_WEIGHTS] = {part->quants.buffer, 0, VK_WHOLE_SIZE},
            [LOWBIT_VK_BINDING_SCALES] = {scales, 0, VK_WHOLE_SIZE},
            [LOWBIT_VK_BINDING_X] =
                plan->q8 ? (VkDescriptorBufferInfo){scratch, base + plan->q8_region,
                                                    rows * plan->q8_row_words * sizeof(uint32_t)}
                         : (VkDescriptorBufferInfo){scratch, base, rows * plan->x_stride * plan->x_element},
            [LOWBIT_VK_BINDING_Y] = {scratch, base + plan->y_region, rows * w->rows * sizeof(float)},
        };
        VkWriteDescriptorSet writes[LOWBIT_VK_BINDING_COUNT];
        for (uint32_t b = 0; b < LOWBIT_VK_STORAGE_BINDING_COUNT; ++b)
            writes[b] = (VkWriteDescriptorSet){
                .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                .dstSet = plan->sets[i],
                .dstBinding = b,
                .descriptorCount = 1,
                .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                .pBufferInfo = &buffers[b],
            };
        uint32_t write_count = LOWBIT_VK_STORAGE_BINDING_COUNT;
        const VkBufferView *views[LOWBIT_VK_BINDING_COUNT] = {
            [LOWBIT_VK_BINDING_WEIGHT_TEXELS] = &part->quant_texels,
            /* gemv_q8's texel module declares the split layout's scale view for every format: stored-block
             * weights, which have none, bind their quant view there (never read) */
            [LOWBIT_VK_BINDING_SCALE_TEXELS] =
                plan->q8 && !part->scale_texels ? &part->quant_texels : &part->scale_texels,
            [LOWBIT_VK_BINDING_X_TEXELS] = &plan->x_views[chunk],
        };
        for (uint32_t b = LOWBIT_VK_STORAGE_BINDING_COUNT; b < LOWBIT_VK_BINDING_COUNT && plan->params.texel_weights;
             ++b) {
            if (!*views[b]) continue; /* F32/F16 weights have no scales, which their modules never read */
            writes[write_count++] = (VkWriteDescriptorSet){
                .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                .dstSet = plan->sets[i],
                .dstBinding = b,
                .descriptorCount = 1,
                .descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
                .pTexelBufferView = views[b],
            };
        }
        d->vk.vkUpdateDescriptorSets(d->device, write_count, writes, 0, NULL);
    }
    /* the quantize dispatches' sets: the chunk's X region in, its Q8 region out (the only bindings they read) */
    for (size_t chunk = 0; plan->q8 && chunk < plan->chunks; ++chunk) {
        VkDescriptorSet *set = &plan->sets[gemv_sets + chunk];
        VkResult result = d->vk.vkAllocateDescriptorSets(d->device, &allocate, set);
        if (result != VK_SUCCESS) return vk_fail(d->backend, "vkAllocateDescriptorSets", result);
        size_t rows = vk_matmul_chunk_rows(plan, chunk);
        VkDeviceSize base = scratch_base + chunk * plan->chunk_bytes;
        VkDescriptorBufferInfo buffers[2] = {
            {scratch, base, rows * plan->x_stride * plan->x_element},
            {scratch, base + plan->q8_region, rows * plan->q8_row_words * sizeof(uint32_t)},
        };
        VkWriteDescriptorSet writes[2];
        for (uint32_t b = 0; b < 2; ++b)
            writes[b] = (VkWriteDescriptorSet){
                .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                .dstSet = *set,
                .dstBinding = b ? LOWBIT_VK_BINDING_Y : LOWBIT_VK_BINDING_X,
                .descriptorCount = 1,
                .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                .pBufferInfo = &buffers[b],
            };
        d->vk.vkUpdateDescriptorSets(d->device, 2, writes, 0, NULL);
    }
    return LOWBIT_OK;
}

/* X rows into the chunks' regions as they came (f32, or the caller's f16 bits: the shaders widen them),
 * each zero-padded to the stride (+0.0 in both encodings), so quads past cols read 0. */
static void activations_write(const lowbit_backend_matmul_args *args, const vk_matmul_plan *plan,
                              unsigned char *scratch)
{
    size_t cols = plan->weights->cols, element = plan->x_element;
    for (size_t j = 0; j < plan->n; ++j) {
        unsigned char *row =
            scratch + (j / plan->batch) * plan->chunk_bytes + (j % plan->batch) * plan->x_stride * element;
        memcpy(row, (const unsigned char *)args->x + j * cols * element, cols * element);
        memset(row + cols * element, 0, (plan->x_stride - cols) * element);
    }
}

lowbit_status vk_matmul_pipelines_get(vk_device *d, vk_matmul_plan *plan)
{
    lowbit_status status = LOWBIT_OK;
    const vk_kernel *kernel = plan->kernel;
    uint32_t full = (uint32_t)plan->batch, rest = (uint32_t)(plan->n % plan->batch);
    if (plan->gemm) { /* one pipeline for every chunk: its row count is a push constant */
        plan->chunk_params[0] = plan->chunk_params[1] = plan->params;
        status = vk_pipeline_get(d, kernel, &plan->params, 0, &plan->pipelines[0]);
        plan->pipelines[1] = plan->pipelines[0];
    } else {
        plan->chunk_params[0] = params_for_batch(plan->params, full);
        plan->chunk_params[1] = params_for_batch(plan->params, rest);
        if (plan->n >= plan->batch)
            status = vk_pipeline_get(d, kernel, &plan->chunk_params[0], full, &plan->pipelines[0]);
        if (status == LOWBIT_OK && rest)
            status = vk_pipeline_get(d, kernel, &plan->chunk_params[1], rest, &plan->pipelines[1]);
    }
    if (status == LOWBIT_OK && plan->q8) /* its row count is a push constant */
        status = vk_pipeline_get(d, plan->quantize, &plan->quantize_params, 0, &plan->quantize_pipeline);
    return status;
}

/* Everything between locking the device and reading Y back; the caller holds d->mutex. */
static lowbit_status matmul_locked(vk_device *d, lowbit_backend_matmul_args *args, vk_matmul_plan *plan)
{
    vk_backend *backend = d->backend;
    lowbit_status status = vk_device_ensure(d);
    if (status == LOWBIT_OK) status = vk_matmul_pipelines_get(d, plan);
    if (status == LOWBIT_OK) status = vk_scratch_reserve(d, plan->chunks * plan->chunk_bytes);
    if (status != LOWBIT_OK) return status;
    activations_write(args, plan, d->scratch.mapped);
    status = vk_buffer_flush(d, &d->scratch, 0);
    if (status == LOWBIT_OK) status = vk_descriptor_pool_reserve(d, (uint32_t)plan->set_count);
    if (status != LOWBIT_OK) return status;
    status = vk_matmul_descriptors_write(d, plan, d->descriptor_pool, d->scratch.buffer, 0);
    if (status == LOWBIT_OK) status = vk_device_submit(d, record_matmul, plan);
    if (status == LOWBIT_OK) plan->device_seconds = vk_timestamps_read(d);
    VkResult reset = d->vk.vkResetDescriptorPool(d->device, d->descriptor_pool, 0);
    for (size_t chunk = 0; chunk < plan->chunks; ++chunk)
        if (plan->x_views[chunk]) d->vk.vkDestroyBufferView(d->device, plan->x_views[chunk], NULL);
    if (status != LOWBIT_OK) return status;
    if (reset != VK_SUCCESS) return vk_fail(backend, "vkResetDescriptorPool", reset);
    status = vk_buffer_flush(d, &d->scratch, 1);
    if (status != LOWBIT_OK) return status;
    size_t rows = plan->weights->rows;
    for (size_t chunk = 0; chunk < plan->chunks; ++chunk)
        memcpy(args->y + chunk * plan->batch * rows,
               (const unsigned char *)d->scratch.mapped + chunk * plan->chunk_bytes + plan->y_region,
               vk_matmul_chunk_rows(plan, chunk) * rows * sizeof(float));
    return LOWBIT_OK;
}

lowbit_status vk_matmul_plan_init(vk_weights *weights, lowbit_activation x_type, size_t n, vk_matmul_plan *plan)
{
    vk_device *d = weights->device;
    vk_backend *backend = d->backend;
    memset(plan, 0, sizeof *plan);
    if (x_type != LOWBIT_ACTIVATION_F32 && x_type != LOWBIT_ACTIVATION_F16)
        return vk_error(backend, LOWBIT_ERROR_UNSUPPORTED, "vulkan: activation type %d", (int)x_type);
    if (n == 0) return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: a matmul of 0 activation rows");
    plan->weights = weights;
    plan->n = n;
    plan->kernel = weights->kernel;
    /* The tuning database's entry for this format, batch and shape, with the context's parameters over it. */
    lowbit_params params;
    lowbit_params_for_matmul(backend->host, &d->info, LOWBIT_PARAM_VULKAN, &backend->params, n > 8 ? "gemm" : "gemv",
                             weights->kernel->format, n, weights->rows, weights->cols, &params, plan->tuned,
                             sizeof plan->tuned);
    vk_settings settings;
    lowbit_status status = vk_settings_read(d, &params, &settings);
    if (status != LOWBIT_OK) return status;
    plan->params = kernel_params(d, &settings, weights->kernel);
    plan->x_f16 = x_type == LOWBIT_ACTIVATION_F16;
    plan->x_element = plan->x_f16 ? sizeof(uint16_t) : sizeof(float);
    /* The CPU layout reads weights through texel views where the upload made them (all parts or none). */
    plan->params.texel_weights = d->texel_weights && plan->params.layout == LOWBIT_VK_LAYOUT_CPU &&
                                 weights->parts[0].quant_texels != VK_NULL_HANDLE;
    const vk_kernel *gemm = NULL;
    status = gemm_choice(d, &settings, weights->kernel, weights->cols, n, &plan->params, &gemm);
    if (status != LOWBIT_OK) return status;
    if (gemm) plan->kernel = gemm, plan->gemm = 1;
    plan->params.x_f16 = (uint32_t)plan->x_f16;
    /* The integer-dot path: dot=int, or dot=auto where vulkan_dot_default says so, for a format with an integer
     * GEMV (the GEMM and every other format keep the float kernels). */
    lowbit_dot_path dot = params.dot;
    if (dot == LOWBIT_DOT_AUTO) dot = vulkan_dot_default(weights->kernel->format, n, d);
    const vk_kernel *int_kernel =
        dot == LOWBIT_DOT_INT && !plan->gemm ? vk_int_kernel_for_format(weights->kernel->format, d->int_dot) : NULL;
    if (int_kernel && int_kernel->raw == weights->kernel->raw && weights->cols % 32 == 0) {
        plan->q8 = 1;
        plan->kernel = int_kernel;
        plan->params = kernel_params(d, &settings, int_kernel);
        plan->params.texel_weights = d->texel_weights && plan->params.layout == LOWBIT_VK_LAYOUT_CPU &&
                                     weights->parts[0].quant_texels != VK_NULL_HANDLE;
        plan->quantize = vk_quantize_kernel();
        plan->quantize_params = plan->quantize->defaults[d->device_class];
        plan->quantize_params.x_f16 = (uint32_t)plan->x_f16;
        /* 8 quant words and (d, s) per 32 elements, rows padded to whole uvec4 */
        plan->q8_row_words = (uint32_t)((weights->cols / 32 * 10 + 3) & ~(size_t)3);
    }
    /* chunk regions serve as storage bindings and as texel views: both offset alignments (powers of two) */
    VkDeviceSize alignment = d->properties.limits.minStorageBufferOffsetAlignment;
    if (d->properties.limits.minTexelBufferOffsetAlignment > alignment)
        alignment = d->properties.limits.minTexelBufferOffsetAlignment;
    plan->alignment = alignment;
    plan->x_stride = (uint32_t)((weights->cols + 3) & ~(size_t)3);
    /* Up to LOWBIT_VK_MAX_BATCH activation rows per dispatch, fewer when their X or Y would exceed a binding. */
    size_t batch = n < LOWBIT_VK_MAX_BATCH || plan->gemm ? n : LOWBIT_VK_MAX_BATCH;
    while (batch > 1 && ((VkDeviceSize)batch * plan->x_stride * plan->x_element > d->max_storage_range ||
                         (VkDeviceSize)batch * weights->rows * sizeof(float) > d->max_storage_range ||
                         (VkDeviceSize)batch * plan->q8_row_words * sizeof(uint32_t) > d->max_storage_range))
        --batch;
    plan->batch = batch;
    plan->chunks = (n + batch - 1) / batch;
    VkDeviceSize x_bytes = (VkDeviceSize)batch * plan->x_stride * plan->x_element;
    VkDeviceSize y_bytes = (VkDeviceSize)batch * weights->rows * sizeof(float);
    VkDeviceSize q8_bytes = (VkDeviceSize)batch * plan->q8_row_words * sizeof(uint32_t); /* 0 off the int path */
    plan->y_region = align_up(x_bytes, alignment);
    plan->q8_region = align_up(plan->y_region + y_bytes, alignment);
    plan->chunk_bytes = align_up(plan->q8_region + q8_bytes, alignment);
    if (x_bytes > d->max_storage_range || y_bytes > d->max_storage_range || q8_bytes > d->max_storage_range ||
        (uint64_t)batch * weights->rows > UINT32_MAX)
        return vk_error(backend, LOWBIT_ERROR_UNSUPPORTED,
                        "vulkan: %zu activation rows of %zu exceed one binding's range on %s", batch, weights->cols,
                        d->info.id);

    if (plan->params.texel_weights && (uint64_t)batch * (plan->q8 ? plan->q8_row_words : plan->x_stride) / 4u >
                                          d->properties.limits.maxTexelBufferElements)
        plan->params.texel_weights = 0; /* X too long for one texel view: storage-buffer module */
    plan->set_count = weights->part_count * plan->chunks + (plan->q8 ? plan->chunks : 0);
    plan->sets = calloc(plan->set_count, sizeof *plan->sets);
    plan->x_views = calloc(plan->chunks, sizeof *plan->x_views);
    if (!plan->sets || !plan->x_views) {
        vk_matmul_plan_release(plan);
        return vk_error(backend, LOWBIT_ERROR_OUT_OF_MEMORY, "vulkan: out of host memory");
    }
    return LOWBIT_OK;
}

void vk_matmul_plan_release(vk_matmul_plan *plan)
{
    free(plan->sets);
    free(plan->x_views);
    plan->sets = NULL;
    plan->x_views = NULL;
}

void vk_matmul_describe(const vk_matmul_plan *plan, char *kernel, size_t size)
{
    const vk_kernel_params *ran = &plan->chunk_params[0]; /* the first chunk's (all full but the last) */
    if (plan->gemm)
        snprintf(kernel, size, "%s bm=%u bn=%u bk=%u tm=%u tn=%u wg=%u batch=%zu%s", plan->kernel->name, ran->bm,
                 ran->bn, ran->bk, ran->tm, ran->tn, ran->workgroup_size, plan->batch, plan->x_f16 ? " x=f16" : "");
    else /* " sg": the GPU layout reduced through subgroupAdd; " x=q8": the integer-dot path (" sdot": OpSDot) */
        snprintf(kernel, size, "%s wg=%u rows=%u batch=%zu %s-layout%s%s%s%s", plan->weights->kernel->name,
                 ran->workgroup_size, ran->rows, plan->batch, ran->layout == LOWBIT_VK_LAYOUT_CPU ? "row" : "coop",
                 ran->texel_weights ? " texel" : "", ran->subgroups ? " sg" : "", plan->x_f16 ? " x=f16" : "",
                 !plan->q8                        ? ""
                 : plan->weights->device->int_dot ? " x=q8 sdot"
                                                  : " x=q8");
    size_t used = strlen(kernel);
    if (plan->tuned[0] && used < size) snprintf(kernel + used, size - used, " tuned=%s", plan->tuned);
}

lowbit_status vk_matmul(void *self, lowbit_backend_matmul_args *args)
{
    vk_backend *backend = self;
    if (!args || !args->weights || !args->x || !args->y || args->n == 0)
        return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: matmul got a NULL or empty argument");
    vk_matmul_plan plan;
    lowbit_status status = vk_matmul_plan_init(args->weights, args->x_type, args->n, &plan);
    if (status != LOWBIT_OK) return status;
    vk_device *d = plan.weights->device;
    pthread_mutex_lock(&d->mutex);
    status = matmul_locked(d, args, &plan);
    pthread_mutex_unlock(&d->mutex);
    vk_matmul_plan_release(&plan);
    if (status != LOWBIT_OK) return status;
    /* ABI 1.1: only a host whose args reach device_seconds gets it */
    if (args->struct_size >= offsetof(lowbit_backend_matmul_args, device_seconds) + sizeof args->device_seconds)
        args->device_seconds = plan.device_seconds;
    /* 0.3: whether X was quantized (the integer-dot path) */
    if (args->struct_size >= offsetof(lowbit_backend_matmul_args, activations_quantized) + sizeof(int))
        args->activations_quantized = plan.q8;
    vk_matmul_describe(&plan, args->kernel, sizeof args->kernel);
    return LOWBIT_OK;
}
