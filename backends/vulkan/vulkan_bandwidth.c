/* vulkan_bandwidth.c — measure_bandwidth (ABI 1.1): streams a device buffer through stream_read.comp and
 * reports bytes per second of device time (timestamp queries; the submission's wall time where the queue has
 * no timestamps), the best of a few runs after a warm-up. */
#include "backends/common/cache_size.h"
#include "vulkan_internal.h"

#include <math.h>
#include <time.h>

enum { PROBE_RUNS = 5, PROBE_SINK_BYTES = 1024 };

typedef struct probe_run {
    VkPipeline pipeline;
    VkDescriptorSet set;
    vk_stream_push push;
    uint32_t groups_x, groups_y;
    int fill; /* first use of the buffer: give it defined contents before reading it */
} probe_run;

static lowbit_status record_probe(vk_device *d, VkCommandBuffer cb, void *user)
{
    probe_run *run = user;
    vk_device_table *vk = &d->vk;
    if (run->fill) {
        vk->vkCmdFillBuffer(cb, d->probe.buffer, 0, VK_WHOLE_SIZE, 0x5A5A5A5Au);
        vk->vkCmdFillBuffer(cb, d->probe_sink.buffer, 0, VK_WHOLE_SIZE, 0u);
        VkMemoryBarrier barrier = {
            .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
            .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
            .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT,
        };
        vk->vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1,
                                 &barrier, 0, NULL, 0, NULL);
    }
    vk->vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, run->pipeline);
    vk->vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, d->pipeline_layout, LOWBIT_VK_SET, 1, &run->set, 0,
                                NULL);
    vk->vkCmdPushConstants(cb, d->pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof run->push, &run->push);
    vk_timestamp_write(d, cb, 0);
    vk->vkCmdDispatch(cb, run->groups_x, run->groups_y, 1);
    vk_timestamp_write(d, cb, 1);
    return LOWBIT_OK;
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Caller holds d->mutex. */
static lowbit_status measure_locked(vk_device *d, VkDeviceSize bytes, double *bytes_per_second)
{
    vk_backend *backend = d->backend;
    lowbit_status status = vk_device_ensure(d);
    if (status != LOWBIT_OK) return status;
    const vk_kernel *kernel = vk_stream_kernel();
    vk_kernel_params params = kernel->defaults[d->device_class];
    /* CPU devices read through a texel view when the plugin uses them for weights (vector gathers) */
    params.texel_weights = d->texel_weights && params.layout == LOWBIT_VK_LAYOUT_CPU &&
                           bytes / 16 <= d->properties.limits.maxTexelBufferElements;
    if (params.workgroup_size > d->info.max_workgroup_size) params.workgroup_size = d->info.max_workgroup_size;

    /* the probe's buffers live only for this call (the source may be a good part of device memory) */
    status = vk_buffer_create(d, bytes, LOWBIT_VK_MEMORY_DEVICE, &d->probe);
    if (status == LOWBIT_OK) status = vk_buffer_create(d, PROBE_SINK_BYTES, LOWBIT_VK_MEMORY_DEVICE, &d->probe_sink);
    if (status != LOWBIT_OK) return status;
    probe_run run = {.fill = 1};
    status = vk_pipeline_get(d, kernel, &params, 1, &run.pipeline);
    if (status != LOWBIT_OK) return status;
    status = vk_descriptor_pool_reserve(d, 1);
    if (status != LOWBIT_OK) return status;

    uint64_t count = bytes / 16;
    uint64_t threads;
    if (params.layout == LOWBIT_VK_LAYOUT_CPU) {
        threads = 64ull * params.workgroup_size; /* 64 workgroups: plenty of contiguous ranges per core */
        run.push.per_invocation = (uint32_t)((count + threads - 1) / threads);
        threads = (count + run.push.per_invocation - 1) / run.push.per_invocation;
    } else {
        threads = count < 65536ull * params.workgroup_size ? count : 65536ull * params.workgroup_size;
    }
    uint64_t groups = (threads + params.workgroup_size - 1) / params.workgroup_size;
    uint32_t max_x = d->properties.limits.maxComputeWorkGroupCount[0];
    run.groups_x = (uint32_t)(groups < max_x ? groups : max_x);
    run.groups_y = (uint32_t)((groups + run.groups_x - 1) / run.groups_x);
    run.push.count = (uint32_t)count;
    run.push.magic = 0x9E3779B9u; /* what the fold is compared with */

    VkBufferView view = VK_NULL_HANDLE;
    if (params.texel_weights) {
        VkBufferViewCreateInfo info = {
            .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
            .buffer = d->probe.buffer,
            .format = VK_FORMAT_R32G32B32A32_UINT,
            .range = count * 16,
        };
        VkResult result = d->vk.vkCreateBufferView(d->device, &info, NULL, &view);
        if (result != VK_SUCCESS) return vk_fail(backend, "vkCreateBufferView", result);
    }
    VkDescriptorSetAllocateInfo allocate = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorPool = d->descriptor_pool,
        .descriptorSetCount = 1,
        .pSetLayouts = &d->set_layout,
    };
    VkResult result = d->vk.vkAllocateDescriptorSets(d->device, &allocate, &run.set);
    if (result != VK_SUCCESS) {
        if (view) d->vk.vkDestroyBufferView(d->device, view, NULL);
        return vk_fail(backend, "vkAllocateDescriptorSets", result);
    }
    VkDescriptorBufferInfo buffers[2] = {
        {d->probe.buffer, 0, count * 16},
        {d->probe_sink.buffer, 0, VK_WHOLE_SIZE},
    };
    VkWriteDescriptorSet writes[3] = {
        {.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
         .dstSet = run.set,
         .dstBinding = LOWBIT_VK_BINDING_WEIGHTS,
         .descriptorCount = 1,
         .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
         .pBufferInfo = &buffers[0]},
        {.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
         .dstSet = run.set,
         .dstBinding = LOWBIT_VK_BINDING_Y,
         .descriptorCount = 1,
         .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
         .pBufferInfo = &buffers[1]},
        {.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
         .dstSet = run.set,
         .dstBinding = LOWBIT_VK_BINDING_WEIGHT_TEXELS,
         .descriptorCount = 1,
         .descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
         .pTexelBufferView = &view},
    };
    d->vk.vkUpdateDescriptorSets(d->device, view ? 3 : 2, writes, 0, NULL);

    double best = INFINITY;
    for (int r = 0; r <= PROBE_RUNS && status == LOWBIT_OK; ++r) { /* run 0 warms up (and fills) */
        double start = now_seconds();
        status = vk_device_submit(d, record_probe, &run);
        double wall = now_seconds() - start;
        run.fill = 0;
        if (status != LOWBIT_OK || r == 0) continue;
        double seconds = d->timestamps ? vk_timestamps_read(d) : wall;
        if (seconds > 0.0 && seconds < best) best = seconds;
    }
    result = d->vk.vkResetDescriptorPool(d->device, d->descriptor_pool, 0);
    if (view) d->vk.vkDestroyBufferView(d->device, view, NULL);
    if (status != LOWBIT_OK) return status;
    if (result != VK_SUCCESS) return vk_fail(backend, "vkResetDescriptorPool", result);
    if (!(best < INFINITY))
        return vk_error(backend, LOWBIT_ERROR_DEVICE, "vulkan: the bandwidth probe on %s measured no time", d->info.id);
    *bytes_per_second = (double)(count * 16) / best;
    vk_log(backend, LOWBIT_LOG_DEBUG, "vulkan: %s streams %.1f GB/s (%llu bytes, %s%s)", d->info.id,
           *bytes_per_second * 1e-9, (unsigned long long)(count * 16),
           params.layout == LOWBIT_VK_LAYOUT_CPU ? "cpu-layout" : "gpu-layout", params.texel_weights ? " texel" : "");
    return LOWBIT_OK;
}

lowbit_status vk_measure_bandwidth(void *self, size_t device, size_t bytes, double *bytes_per_second)
{
    vk_backend *backend = self;
    if (!bytes_per_second) return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: bytes_per_second is NULL");
    *bytes_per_second = 0.0;
    if (device >= backend->device_count)
        return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: device %zu out of range", device);
    vk_device *d = &backend->devices[device];
    /* one buffer, one binding, and uvec4 indices that fit 32 bits */
    uint64_t limit = d->max_storage_range < d->max_allocation ? d->max_storage_range : d->max_allocation;
    if (limit > (uint64_t)UINT32_MAX * 16u) limit = (uint64_t)UINT32_MAX * 16u;
    uint64_t size = bytes ? bytes : lowbit_default_probe_bytes(d->info.is_cpu_device);
    if (size > limit) size = limit;
    size &= ~(uint64_t)15;
    if (size < 4096)
        return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: %zu bytes is too small to measure on %s",
                        bytes, d->info.id);
    pthread_mutex_lock(&d->mutex);
    lowbit_status status = measure_locked(d, size, bytes_per_second);
    if (d->created) {
        vk_buffer_destroy(d, &d->probe);
        vk_buffer_destroy(d, &d->probe_sink);
    }
    pthread_mutex_unlock(&d->mutex);
    return status;
}
