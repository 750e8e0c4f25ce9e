/* vulkan_batch.c — the machinery of the plugin's queues: a batch is one command buffer with its fence, its
 * staging (host-visible, for writes and reads) and scratch (matmul X and Y) arenas, descriptor pools and X views;
 * recorded, submitted with its own fence, retired in submission order (reads then reach their host destinations
 * and its event record is done) and reused. */
#include "vulkan_queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    BATCH_OPERATIONS = 256, /* operations that close a batch */
    MAX_IN_FLIGHT = 8,      /* submitted batches before an enqueue waits for the oldest to reclaim it */
    POOL_SETS = 64,         /* descriptor sets per pool of a batch (more for a matmul that needs more) */
};
#define BATCH_BYTES ((VkDeviceSize)64 << 20) /* staging + scratch bytes that close a batch */
#define CHUNK_BYTES ((VkDeviceSize)1 << 20)  /* an arena's first chunk; later ones double up to BATCH_BYTES */
#define KEEP_BYTES ((VkDeviceSize)16 << 20)  /* what an arena keeps for the next batch */

static VkDeviceSize align_up(VkDeviceSize value, VkDeviceSize alignment)
{
    return alignment > 1 ? (value + alignment - 1) / alignment * alignment : value;
}

int vk_array_reserve(void **array, size_t *capacity, size_t needed, size_t element)
{
    if (needed <= *capacity) return 0;
    size_t grown = *capacity ? *capacity : 8;
    while (grown < needed)
        grown *= 2;
    void *bigger = realloc(*array, grown * element);
    if (!bigger) return -1;
    *array = bigger;
    *capacity = grown;
    return 0;
}

lowbit_status vk_out_of_memory(vk_backend *backend)
{
    return vk_error(backend, LOWBIT_ERROR_OUT_OF_MEMORY, "vulkan: out of host memory");
}

/* --- arenas ------------------------------------------------------------------------------------------------ */

lowbit_status vk_arena_reserve(vk_device *d, vk_arena *a, VkDeviceSize size, VkDeviceSize alignment,
                               vk_arena_region *out)
{
    for (;;) {
        if (a->current < a->count) {
            const vk_buffer *chunk = &a->chunks[a->current];
            VkDeviceSize offset = align_up(a->used, alignment);
            if (offset <= chunk->size && chunk->size - offset >= size) {
                *out = (vk_arena_region){a->current, offset};
                a->used = offset + size;
                a->reserved += size;
                return LOWBIT_OK;
            }
            if (a->current + 1 < a->count) {
                a->current++;
                a->used = 0;
                continue;
            }
        }
        if (vk_array_reserve((void **)&a->chunks, &a->capacity, a->count + 1, sizeof *a->chunks) != 0)
            return vk_out_of_memory(d->backend);
        VkDeviceSize bytes = CHUNK_BYTES << (a->count < 6 ? a->count : 6);
        if (bytes < size) bytes = size;
        pthread_mutex_lock(&d->mutex);
        lowbit_status status = vk_buffer_create(d, bytes, a->kind, &a->chunks[a->count]);
        if (status == LOWBIT_OK && a->kind != LOWBIT_VK_MEMORY_DEVICE && !a->chunks[a->count].mapped) {
            vk_buffer_destroy(d, &a->chunks[a->count]);
            status = vk_error(d->backend, LOWBIT_ERROR_DEVICE, "vulkan: %s mapped no staging memory", d->info.id);
        }
        pthread_mutex_unlock(&d->mutex);
        if (status != LOWBIT_OK) return status;
        a->current = a->count++;
        a->used = 0;
    }
}

vk_arena_mark vk_arena_mark_get(const vk_arena *a) { return (vk_arena_mark){a->current, a->used, a->reserved}; }
void vk_arena_mark_restore(vk_arena *a, vk_arena_mark mark)
{
    a->current = mark.current;
    a->used = mark.used;
    a->reserved = mark.reserved;
}

/* Back to the start for the next batch. The last chunks go while the arena holds more than KEEP_BYTES (left by
 * a large copy), so an idle queue keeps little. */
static void arena_rewind(vk_device *d, vk_arena *a)
{
    VkDeviceSize total = 0;
    for (size_t i = 0; i < a->count; ++i)
        total += a->chunks[i].size;
    if (a->count > 1 && total > KEEP_BYTES) {
        pthread_mutex_lock(&d->mutex);
        while (a->count > 1 && total > KEEP_BYTES) {
            total -= a->chunks[a->count - 1].size;
            vk_buffer_destroy(d, &a->chunks[--a->count]);
        }
        pthread_mutex_unlock(&d->mutex);
    }
    a->current = 0;
    a->used = 0;
    a->reserved = 0;
}

static void arena_release(vk_device *d, vk_arena *a)
{
    pthread_mutex_lock(&d->mutex);
    for (size_t i = 0; i < a->count; ++i)
        vk_buffer_destroy(d, &a->chunks[i]);
    pthread_mutex_unlock(&d->mutex);
    free(a->chunks);
    memset(a, 0, sizeof *a);
}

unsigned char *vk_arena_bytes(const vk_arena *a, vk_arena_region region)
{
    return (unsigned char *)a->chunks[region.chunk].mapped + region.offset;
}

/* --- batches ----------------------------------------------------------------------------------------------- */

void vk_batch_record_unref(vk_batch_record *record)
{
    if (record && __atomic_sub_fetch(&record->refs, 1, __ATOMIC_ACQ_REL) == 0) free(record);
}

static void batch_destroy(vk_queue *q, vk_batch *b)
{
    vk_device *d = q->device;
    vk_device_table *vk = &d->vk;
    for (size_t i = 0; i < b->view_count; ++i)
        vk->vkDestroyBufferView(d->device, b->views[i], NULL);
    for (size_t i = 0; i < b->pool_count; ++i)
        vk->vkDestroyDescriptorPool(d->device, b->pools[i].pool, NULL);
    if (b->fence) vk->vkDestroyFence(d->device, b->fence, NULL);
    if (b->cb) vk->vkFreeCommandBuffers(d->device, q->command_pool, 1, &b->cb);
    arena_release(d, &b->staging);
    arena_release(d, &b->scratch);
    free(b->views);
    free(b->pools);
    free(b->reads);
    free(b);
}

/* The batch's work is over (run, or never submitted): its record takes `status`, or the queue's error from an
 * earlier batch (which this one's work may have depended on), and is done; the queue keeps the first error for
 * queue_finish. */
static void record_complete(vk_queue *q, vk_batch *b, lowbit_status status, const char *message)
{
    if (status != LOWBIT_OK && q->error == LOWBIT_OK) {
        q->error = status;
        q->error_serial = b->serial;
        snprintf(q->error_message, sizeof q->error_message, "%s", message);
    }
    vk_batch_record *record = b->record;
    b->record = NULL;
    if (!record) return;
    if (status == LOWBIT_OK && q->error != LOWBIT_OK && q->error_serial < b->serial) {
        status = q->error;
        message = q->error_message;
    }
    record->status = status;
    snprintf(record->message, sizeof record->message, "%s", message);
    record->queue = NULL;
    record->batch = NULL;
    record->done = 1;
    vk_batch_record_unref(record);
}

/* Resets a batch whose work is over for reuse (or frees it when a reset fails). */
static void batch_recycle(vk_queue *q, vk_batch *b)
{
    vk_device *d = q->device;
    vk_device_table *vk = &d->vk;
    for (size_t i = 0; i < b->view_count; ++i)
        vk->vkDestroyBufferView(d->device, b->views[i], NULL);
    b->view_count = 0;
    VkResult result = vk->vkResetCommandBuffer(b->cb, 0);
    if (result == VK_SUCCESS) result = vk->vkResetFences(d->device, 1, &b->fence);
    for (size_t i = 0; i < b->pool_count && result == VK_SUCCESS; ++i) {
        if (b->pools[i].room != b->pools[i].capacity)
            result = vk->vkResetDescriptorPool(d->device, b->pools[i].pool, 0);
        b->pools[i].room = b->pools[i].capacity;
    }
    if (result != VK_SUCCESS) {
        vk_log(d->backend, LOWBIT_LOG_WARN, "vulkan: a queue batch could not be reset (%s): freed",
               vk_result_name(result));
        batch_destroy(q, b);
        return;
    }
    b->pool_current = 0;
    b->read_count = 0;
    b->operations = 0;
    arena_rewind(d, &b->staging);
    arena_rewind(d, &b->scratch);
    b->next = q->spare;
    q->spare = b;
}

/* The oldest submitted batch has finished (`waited`: what its fence reported): its reads reach their host
 * destinations, its record is done, and it becomes spare. */
static void batch_retire(vk_queue *q, VkResult waited)
{
    vk_device *d = q->device;
    vk_batch *b = q->oldest;
    q->oldest = b->next;
    if (!q->oldest) q->newest = NULL;
    q->in_flight--;
    b->next = NULL;
    char message[256] = "";
    lowbit_status status = LOWBIT_OK;
    if (waited != VK_SUCCESS) status = vk_fail_kept(d->backend, "vkWaitForFences", waited, message, sizeof message);
    for (size_t i = 0; i < b->staging.count && status == LOWBIT_OK && b->read_count; ++i)
        status = vk_buffer_flush(d, &b->staging.chunks[i], 1);
    if (status != LOWBIT_OK && !message[0])
        snprintf(message, sizeof message, "vulkan: vkInvalidateMappedMemoryRanges failed on a queue's staging");
    for (size_t i = 0; i < b->read_count && status == LOWBIT_OK; ++i)
        memcpy(b->reads[i].host, vk_arena_bytes(&b->staging, b->reads[i].staging), b->reads[i].size);
    record_complete(q, b, status, message);
    batch_recycle(q, b);
}

/* Retires every submitted batch whose fence has signalled, without waiting. */
void vk_queue_poll(vk_queue *q)
{
    while (q->oldest) {
        VkResult result = q->device->vk.vkGetFenceStatus(q->device->device, q->oldest->fence);
        if (result == VK_NOT_READY) break;
        batch_retire(q, result);
    }
}

void vk_queue_wait_oldest(vk_queue *q)
{
    VkResult result = q->device->vk.vkWaitForFences(q->device->device, 1, &q->oldest->fence, VK_TRUE, UINT64_MAX);
    batch_retire(q, result);
}

/* One memory barrier ordering everything before it (this batch and every earlier submission on the VkQueue)
 * before everything after it: between operations and between a matmul's copies and dispatches. */
void vk_batch_barrier(vk_device *d, VkCommandBuffer cb)
{
    VkMemoryBarrier barrier = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT,
    };
    d->vk.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, 0, 1,
                               &barrier, 0, NULL, 0, NULL);
}

/* Submits the batch being recorded, if it holds any operation. A failure completes its record with the error
 * (its operations never run) and is returned. */
lowbit_status vk_queue_submit(vk_queue *q)
{
    vk_device *d = q->device;
    vk_device_table *vk = &d->vk;
    vk_batch *b = q->current;
    if (!b || b->operations == 0) return LOWBIT_OK;
    q->current = NULL;
    /* device writes (staging for reads, host-visible buffers) made visible to the host after the fence */
    VkMemoryBarrier barrier = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_HOST_WRITE_BIT,
    };
    vk->vkCmdPipelineBarrier(b->cb, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier, 0,
                             NULL, 0, NULL);
    char message[256];
    lowbit_status status = LOWBIT_OK;
    VkResult result = vk->vkEndCommandBuffer(b->cb);
    if (result != VK_SUCCESS) status = vk_fail_kept(d->backend, "vkEndCommandBuffer", result, message, sizeof message);
    for (size_t i = 0; i < b->staging.count && status == LOWBIT_OK; ++i) {
        status = vk_buffer_flush(d, &b->staging.chunks[i], 0);
        if (status != LOWBIT_OK)
            snprintf(message, sizeof message, "vulkan: vkFlushMappedMemoryRanges failed on a queue's staging");
    }
    if (status == LOWBIT_OK) {
        VkSubmitInfo submit = {
            .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
            .commandBufferCount = 1,
            .pCommandBuffers = &b->cb,
        };
        pthread_mutex_lock(&d->mutex); /* the VkQueue is shared with the synchronous path and other queues */
        result = vk->vkQueueSubmit(d->queue, 1, &submit, b->fence);
        pthread_mutex_unlock(&d->mutex);
        if (result != VK_SUCCESS) status = vk_fail_kept(d->backend, "vkQueueSubmit", result, message, sizeof message);
    }
    if (status != LOWBIT_OK) {
        record_complete(q, b, status, message);
        batch_recycle(q, b);
        return status;
    }
    if (q->newest)
        q->newest->next = b;
    else
        q->oldest = b;
    q->newest = b;
    q->in_flight++;
    return LOWBIT_OK;
}

static lowbit_status batch_new(vk_queue *q, vk_batch **out)
{
    vk_device *d = q->device;
    vk_batch *b = calloc(1, sizeof *b);
    if (!b) return vk_out_of_memory(d->backend);
    b->staging.kind = LOWBIT_VK_MEMORY_HOST;
    b->scratch.kind = LOWBIT_VK_MEMORY_DEVICE;
    VkCommandBufferAllocateInfo allocate = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = q->command_pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VkResult result = d->vk.vkAllocateCommandBuffers(d->device, &allocate, &b->cb);
    if (result != VK_SUCCESS) {
        b->cb = VK_NULL_HANDLE;
        batch_destroy(q, b);
        return vk_fail(d->backend, "vkAllocateCommandBuffers", result);
    }
    VkFenceCreateInfo fence_info = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    result = d->vk.vkCreateFence(d->device, &fence_info, NULL, &b->fence);
    if (result != VK_SUCCESS) {
        b->fence = VK_NULL_HANDLE;
        batch_destroy(q, b);
        return vk_fail(d->backend, "vkCreateFence", result);
    }
    *out = b;
    return LOWBIT_OK;
}

/* The batch the next operation goes into: the current one unless it has grown large (then it is submitted), or
 * a spare or new one, begun. Waits only to reclaim the oldest batch when MAX_IN_FLIGHT are submitted. */
lowbit_status vk_queue_batch(vk_queue *q, vk_batch **out)
{
    vk_device *d = q->device;
    vk_batch *b = q->current;
    if (b && (b->operations >= BATCH_OPERATIONS || b->staging.reserved + b->scratch.reserved >= BATCH_BYTES))
        vk_queue_submit(q); /* a failure is the submitted work's, reported by its events and queue_finish */
    if (q->current) {
        *out = q->current;
        return LOWBIT_OK;
    }
    vk_queue_poll(q);
    if (q->in_flight >= MAX_IN_FLIGHT) vk_queue_wait_oldest(q);
    vk_batch_record *record = calloc(1, sizeof *record);
    if (!record) return vk_out_of_memory(d->backend);
    lowbit_status status = LOWBIT_OK;
    if (q->spare) {
        b = q->spare;
        q->spare = b->next;
        b->next = NULL;
    } else {
        status = batch_new(q, &b);
    }
    if (status != LOWBIT_OK) {
        free(record);
        return status;
    }
    VkCommandBufferBeginInfo begin = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    VkResult result = d->vk.vkBeginCommandBuffer(b->cb, &begin);
    if (result != VK_SUCCESS) {
        free(record);
        batch_destroy(q, b);
        return vk_fail(d->backend, "vkBeginCommandBuffer", result);
    }
    record->refs = 1;
    record->queue = q;
    record->batch = b;
    b->record = record;
    b->serial = ++q->serials;
    q->current = b;
    *out = b;
    return LOWBIT_OK;
}

/* A descriptor pool of the batch with room for `sets` sets. */
lowbit_status vk_batch_pool_get(vk_device *d, vk_batch *b, uint32_t sets, VkDescriptorPool *out)
{
    for (; b->pool_current < b->pool_count; ++b->pool_current) {
        vk_batch_pool *pool = &b->pools[b->pool_current];
        if (pool->room >= sets) {
            pool->room -= sets;
            *out = pool->pool;
            return LOWBIT_OK;
        }
    }
    if (vk_array_reserve((void **)&b->pools, &b->pool_capacity, b->pool_count + 1, sizeof *b->pools) != 0)
        return vk_out_of_memory(d->backend);
    uint32_t size = sets > POOL_SETS ? sets : POOL_SETS;
    vk_batch_pool *pool = &b->pools[b->pool_count];
    lowbit_status status = vk_descriptor_pool_create(d, size, &pool->pool);
    if (status != LOWBIT_OK) return status;
    pool->capacity = size;
    pool->room = size - sets;
    b->pool_current = b->pool_count++;
    *out = pool->pool;
    return LOWBIT_OK;
}

/* An event on the current batch's record (allocated before anything is recorded, attached after). */
void vk_batch_event_attach(vk_event *event, vk_batch *b, void **out)
{
    event->record = b->record;
    __atomic_add_fetch(&event->record->refs, 1, __ATOMIC_RELAXED);
    *out = event;
}

void vk_queue_batches_release(vk_queue *q)
{
    if (q->current) { /* begun, never submitted: no operation in it (queue_finish submits any) */
        record_complete(q, q->current, LOWBIT_OK, "");
        batch_destroy(q, q->current);
        q->current = NULL;
    }
    while (q->spare) {
        vk_batch *next = q->spare->next;
        batch_destroy(q, q->spare);
        q->spare = next;
    }
}
