/* vulkan_queue.c — ABI 1.2: device buffers and in-order queues. A queue records its operations into a command
 * buffer (a batch, vulkan_batch.c), a full memory barrier before each; lowbit_queue_flush (or a batch grown large)
 * submits it with its own fence and the next operation starts a new one. Writes are copied into host-visible
 * staging the batch owns when they are enqueued; reads land in such staging and reach their host destination when
 * the batch retires (its fence has signalled; batches retire in submission order). A queued matmul copies X into
 * the batch's scratch laid out as the synchronous matmul lays it out, dispatches as vulkan_matmul.c does, and
 * copies Y into the caller's buffer. Events hold a refcounted record of their batch that outlives the queue. */
#include "vulkan_queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- buffers ----------------------------------------------------------------------------------------------- */

static lowbit_status device_get(vk_backend *backend, size_t device, vk_device **out)
{
    if (!backend) return LOWBIT_ERROR_INVALID_ARGUMENT;
    if (device >= backend->device_count)
        return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: device %zu out of range (%zu devices)", device,
                        backend->device_count);
    vk_device *d = &backend->devices[device];
    pthread_mutex_lock(&d->mutex);
    lowbit_status status = vk_device_ensure(d);
    pthread_mutex_unlock(&d->mutex);
    *out = d;
    return status;
}

lowbit_status vk_queue_buffer_create(void *self, size_t device, size_t size, unsigned flags, void **buffer,
                                     void **host_pointer)
{
    vk_backend *backend = self;
    if (!backend) return LOWBIT_ERROR_INVALID_ARGUMENT;
    if (!buffer || !host_pointer || size == 0)
        return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: buffer_create got a NULL or empty argument");
    *buffer = NULL;
    *host_pointer = NULL;
    if (flags & ~(unsigned)LOWBIT_BUFFER_HOST_VISIBLE)
        return vk_error(backend, LOWBIT_ERROR_UNSUPPORTED, "vulkan: unknown buffer flags 0x%x", flags);
    vk_device *d = NULL;
    lowbit_status status = device_get(backend, device, &d);
    if (status != LOWBIT_OK) return status;
    if (d->max_allocation && size > d->max_allocation)
        return vk_error(backend, LOWBIT_ERROR_UNSUPPORTED, "vulkan: a buffer of %zu bytes exceeds %s's %llu", size,
                        d->info.id, (unsigned long long)d->max_allocation);
    vk_device_buffer *b = calloc(1, sizeof *b);
    if (!b) return vk_out_of_memory(backend);
    b->device = d;
    int shared = (flags & LOWBIT_BUFFER_HOST_VISIBLE) != 0;
    pthread_mutex_lock(&d->mutex);
    status = vk_buffer_create(d, size, shared ? LOWBIT_VK_MEMORY_HOST_SHARED : LOWBIT_VK_MEMORY_DEVICE, &b->buffer);
    if (status == LOWBIT_OK && shared && (!b->buffer.mapped || !b->buffer.coherent)) {
        vk_buffer_destroy(d, &b->buffer);
        status = vk_error(backend, LOWBIT_ERROR_UNSUPPORTED, "vulkan: %s has no mapped coherent memory for %zu bytes",
                          d->info.id, size);
    }
    pthread_mutex_unlock(&d->mutex);
    if (status != LOWBIT_OK) {
        free(b);
        return status;
    }
    b->buffer.size = size; /* the caller's size (vk_buffer_create makes at least 4 bytes) */
    if (b->buffer.mapped && b->buffer.coherent) *host_pointer = b->buffer.mapped;
    *buffer = b;
    return LOWBIT_OK;
}

void vk_queue_buffer_release(void *self, void *buffer)
{
    (void)self;
    vk_device_buffer *b = buffer;
    if (!b) return;
    pthread_mutex_lock(&b->device->mutex);
    vk_buffer_destroy(b->device, &b->buffer);
    pthread_mutex_unlock(&b->device->mutex);
    free(b);
}

/* --- queues ------------------------------------------------------------------------------------------------ */

lowbit_status vk_queue_create(void *self, size_t device, void **queue)
{
    vk_backend *backend = self;
    if (!backend) return LOWBIT_ERROR_INVALID_ARGUMENT;
    if (!queue) return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: queue_create got a NULL argument");
    *queue = NULL;
    vk_device *d = NULL;
    lowbit_status status = device_get(backend, device, &d);
    if (status != LOWBIT_OK) return status;
    vk_queue *q = calloc(1, sizeof *q);
    if (!q) return vk_out_of_memory(backend);
    q->device = d;
    VkCommandPoolCreateInfo pool_info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = d->queue_family,
    };
    VkResult result = d->vk.vkCreateCommandPool(d->device, &pool_info, NULL, &q->command_pool);
    if (result != VK_SUCCESS) {
        free(q);
        return vk_fail(backend, "vkCreateCommandPool", result);
    }
    *queue = q;
    return LOWBIT_OK;
}

lowbit_status vk_queue_flush(void *self, void *queue)
{
    vk_backend *backend = self;
    if (!backend) return LOWBIT_ERROR_INVALID_ARGUMENT;
    if (!queue) return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: queue_flush got a NULL queue");
    vk_queue *q = queue;
    lowbit_status status = vk_queue_submit(q);
    vk_queue_poll(q);
    return status;
}

lowbit_status vk_queue_finish(void *self, void *queue)
{
    vk_backend *backend = self;
    if (!backend) return LOWBIT_ERROR_INVALID_ARGUMENT;
    if (!queue) return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: queue_finish got a NULL queue");
    vk_queue *q = queue;
    vk_queue_submit(q); /* a failure lands in q->error */
    while (q->oldest)
        vk_queue_wait_oldest(q);
    lowbit_status status = q->error;
    q->error = LOWBIT_OK;
    if (status != LOWBIT_OK) return vk_error(backend, status, "%s", q->error_message);
    return LOWBIT_OK;
}

void vk_queue_release(void *self, void *queue)
{
    vk_queue *q = queue;
    if (!q) return;
    vk_queue_finish(self, q);
    vk_queue_batches_release(q);
    q->device->vk.vkDestroyCommandPool(q->device->device, q->command_pool, NULL);
    free(q);
}

/* --- copies ------------------------------------------------------------------------------------------------ */

static lowbit_status copy_check(vk_backend *backend, vk_queue *q, const lowbit_backend_copy_args *args,
                                const char *what)
{
    if (!backend) return LOWBIT_ERROR_INVALID_ARGUMENT;
    if (!q || !args || !args->buffer || !args->host || args->size == 0)
        return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: %s got a NULL or empty argument", what);
    const vk_device_buffer *buffer = args->buffer;
    if (buffer->device != q->device)
        return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: %s: buffer and queue are on different devices",
                        what);
    if (args->offset > buffer->buffer.size || args->size > buffer->buffer.size - args->offset)
        return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT,
                        "vulkan: %s of %zu bytes at %zu is outside a buffer of %llu bytes", what, args->size,
                        args->offset, (unsigned long long)buffer->buffer.size);
    if (backend->host->fault_injected && backend->host->fault_injected("vulkan.copy"))
        return vk_error(backend, LOWBIT_ERROR_DEVICE, "vulkan: vkCmdCopyBuffer failed (fault injected: vulkan.copy)");
    return LOWBIT_OK;
}

/* A write stages the host bytes now; a read stages the device bytes and copies them out when the batch retires.
 * Staging is reserved in pieces of at most LOWBIT_VK_PIECE_BYTES before anything is recorded, so a failure leaves the
 * queue as it was. */
static lowbit_status enqueue_copy(vk_backend *backend, vk_queue *q, lowbit_backend_copy_args *args, int write)
{
    const char *what = write ? "enqueue_write" : "enqueue_read";
    if (args) args->event = NULL;
    lowbit_status status = copy_check(backend, q, args, what);
    if (status != LOWBIT_OK) return status;
    vk_device *d = q->device;
    vk_batch *b = NULL;
    status = vk_queue_batch(q, &b);
    if (status != LOWBIT_OK) return status;
    size_t pieces = (args->size + LOWBIT_VK_PIECE_BYTES - 1) / LOWBIT_VK_PIECE_BYTES;
    vk_arena_region *regions = calloc(pieces, sizeof *regions);
    vk_event *event = calloc(1, sizeof *event);
    if (!regions || !event ||
        (!write && vk_array_reserve((void **)&b->reads, &b->read_capacity, b->read_count + pieces, sizeof *b->reads))) {
        free(regions);
        free(event);
        return vk_out_of_memory(backend);
    }
    vk_arena_mark mark = vk_arena_mark_get(&b->staging);
    for (size_t i = 0; i < pieces && status == LOWBIT_OK; ++i) {
        size_t piece = i + 1 < pieces ? (size_t)LOWBIT_VK_PIECE_BYTES : args->size - i * (size_t)LOWBIT_VK_PIECE_BYTES;
        status = vk_arena_reserve(d, &b->staging, piece, LOWBIT_VK_STAGING_ALIGNMENT, &regions[i]);
    }
    if (status != LOWBIT_OK) {
        vk_arena_mark_restore(&b->staging, mark);
        free(regions);
        free(event);
        return status;
    }
    const vk_device_buffer *buffer = args->buffer;
    vk_batch_barrier(d, b->cb);
    for (size_t i = 0; i < pieces; ++i) {
        size_t done = i * (size_t)LOWBIT_VK_PIECE_BYTES,
               piece = i + 1 < pieces ? (size_t)LOWBIT_VK_PIECE_BYTES : args->size - done;
        VkBuffer staging = b->staging.chunks[regions[i].chunk].buffer;
        if (write) {
            memcpy(vk_arena_bytes(&b->staging, regions[i]), (const unsigned char *)args->host + done, piece);
            VkBufferCopy copy = {.srcOffset = regions[i].offset, .dstOffset = args->offset + done, .size = piece};
            d->vk.vkCmdCopyBuffer(b->cb, staging, buffer->buffer.buffer, 1, &copy);
        } else {
            VkBufferCopy copy = {.srcOffset = args->offset + done, .dstOffset = regions[i].offset, .size = piece};
            d->vk.vkCmdCopyBuffer(b->cb, buffer->buffer.buffer, staging, 1, &copy);
            b->reads[b->read_count++] = (vk_pending_read){(unsigned char *)args->host + done, regions[i], piece};
        }
    }
    free(regions);
    b->operations++;
    vk_batch_event_attach(event, b, &args->event);
    return LOWBIT_OK;
}

lowbit_status vk_enqueue_write(void *self, void *queue, lowbit_backend_copy_args *args)
{
    return enqueue_copy(self, queue, args, 1);
}

lowbit_status vk_enqueue_read(void *self, void *queue, lowbit_backend_copy_args *args)
{
    return enqueue_copy(self, queue, args, 0);
}

/* --- matmul ------------------------------------------------------------------------------------------------ */

/* Everything a queued matmul needs besides its plan, made before anything is recorded. */
typedef struct queued_matmul {
    vk_matmul_plan plan;
    const vk_device_buffer *x, *y;
    VkBufferCopy *x_copies; /* one per activation row, or per chunk when rows need no padding */
    size_t x_copy_count;
    vk_arena_region scratch;
    VkBuffer scratch_buffer;
} queued_matmul;

static lowbit_status matmul_check(vk_backend *backend, vk_queue *q, const lowbit_backend_queued_matmul_args *args)
{
    if (!backend) return LOWBIT_ERROR_INVALID_ARGUMENT;
    if (!q || !args || !args->weights || !args->x || !args->y || args->n == 0)
        return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: enqueue_matmul got a NULL or empty argument");
    const vk_weights *w = args->weights;
    const vk_device_buffer *x = args->x, *y = args->y;
    if (w->device != q->device || x->device != q->device || y->device != q->device)
        return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT,
                        "vulkan: enqueue_matmul: weights, buffers and queue are not on one device");
    size_t element = args->x_type == LOWBIT_ACTIVATION_F16 ? 2 : 4;
    if (args->n > SIZE_MAX / w->cols / element || args->n > SIZE_MAX / w->rows / sizeof(float) ||
        args->x_offset > x->buffer.size || args->n * w->cols * element > x->buffer.size - args->x_offset ||
        args->y_offset > y->buffer.size || args->n * w->rows * sizeof(float) > y->buffer.size - args->y_offset)
        return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT,
                        "vulkan: enqueue_matmul: %zu activation rows do not fit the X or Y buffer", args->n);
    return LOWBIT_OK;
}

/* X rows from the caller's buffer into the scratch chunks' regions: one copy per chunk when rows are already a
 * multiple of 4 elements (the scratch stride), else one per row into a zero-filled region. */
static lowbit_status x_copies_make(vk_backend *backend, queued_matmul *m, size_t x_offset)
{
    const vk_matmul_plan *plan = &m->plan;
    size_t cols = plan->weights->cols, element = plan->x_element;
    int padded = plan->x_stride != cols;
    m->x_copy_count = padded ? plan->n : plan->chunks;
    m->x_copies = calloc(m->x_copy_count, sizeof *m->x_copies);
    if (!m->x_copies) return vk_out_of_memory(backend);
    for (size_t i = 0; i < m->x_copy_count; ++i) {
        size_t first_row = padded ? i : i * plan->batch;
        size_t rows = padded ? 1 : vk_matmul_chunk_rows(plan, i);
        m->x_copies[i] = (VkBufferCopy){
            .srcOffset = x_offset + first_row * cols * element,
            .dstOffset = m->scratch.offset + (first_row / plan->batch) * plan->chunk_bytes +
                         (first_row % plan->batch) * plan->x_stride * element,
            .size = rows * cols * element,
        };
    }
    return LOWBIT_OK;
}

/* Zero-fill (when rows are padded), X in, dispatches, Y out, with a full barrier between each step. */
static void matmul_record(vk_device *d, VkCommandBuffer cb, const queued_matmul *m, size_t y_offset)
{
    vk_device_table *vk = &d->vk;
    const vk_matmul_plan *plan = &m->plan;
    size_t rows = plan->weights->rows;
    vk_batch_barrier(d, cb);
    if (plan->x_stride != plan->weights->cols) { /* padding past cols reads +0.0 (both encodings) */
        for (size_t chunk = 0; chunk < plan->chunks; ++chunk)
            vk->vkCmdFillBuffer(cb, m->scratch_buffer, m->scratch.offset + chunk * plan->chunk_bytes,
                                vk_matmul_chunk_rows(plan, chunk) * plan->x_stride * plan->x_element, 0u);
        vk_batch_barrier(d, cb);
    }
    vk->vkCmdCopyBuffer(cb, m->x->buffer.buffer, m->scratch_buffer, (uint32_t)m->x_copy_count, m->x_copies);
    vk_batch_barrier(d, cb);
    vk_matmul_dispatches_record(d, cb, plan);
    vk_batch_barrier(d, cb);
    for (size_t chunk = 0; chunk < plan->chunks; ++chunk) {
        VkBufferCopy copy = {
            .srcOffset = m->scratch.offset + chunk * plan->chunk_bytes + plan->y_region,
            .dstOffset = y_offset + chunk * plan->batch * rows * sizeof(float),
            .size = vk_matmul_chunk_rows(plan, chunk) * rows * sizeof(float),
        };
        vk->vkCmdCopyBuffer(cb, m->scratch_buffer, m->y->buffer.buffer, 1, &copy);
    }
}

/* Pipelines, scratch, descriptor sets and X views for the matmul in batch b; the views belong to the batch even
 * when this fails. Nothing is recorded. */
static lowbit_status matmul_prepare(vk_device *d, vk_batch *b, queued_matmul *m)
{
    vk_matmul_plan *plan = &m->plan;
    pthread_mutex_lock(&d->mutex);
    lowbit_status status = vk_matmul_pipelines_get(d, plan);
    pthread_mutex_unlock(&d->mutex);
    if (status == LOWBIT_OK) status = vk_matmul_dispatches_check(d, plan);
    if (status != LOWBIT_OK) return status;
    if (vk_array_reserve((void **)&b->views, &b->view_capacity, b->view_count + plan->chunks, sizeof *b->views) != 0)
        return vk_out_of_memory(d->backend);
    VkDeviceSize alignment =
        plan->alignment > LOWBIT_VK_STAGING_ALIGNMENT ? plan->alignment : LOWBIT_VK_STAGING_ALIGNMENT;
    status = vk_arena_reserve(d, &b->scratch, plan->chunks * plan->chunk_bytes, alignment, &m->scratch);
    if (status != LOWBIT_OK) return status;
    m->scratch_buffer = b->scratch.chunks[m->scratch.chunk].buffer;
    VkDescriptorPool pool = VK_NULL_HANDLE;
    size_t sets = plan->set_count; /* with the integer-dot path's quantize sets */
    if (sets > UINT32_MAX)
        return vk_error(d->backend, LOWBIT_ERROR_UNSUPPORTED, "vulkan: a matmul of %zu dispatches", sets);
    status = vk_batch_pool_get(d, b, (uint32_t)sets, &pool);
    if (status != LOWBIT_OK) return status;
    status = vk_matmul_descriptors_write(d, plan, pool, m->scratch_buffer, m->scratch.offset);
    for (size_t chunk = 0; chunk < plan->chunks; ++chunk)
        if (plan->x_views[chunk]) b->views[b->view_count++] = plan->x_views[chunk];
    return status;
}

lowbit_status vk_enqueue_matmul(void *self, void *queue, lowbit_backend_queued_matmul_args *args)
{
    vk_backend *backend = self;
    vk_queue *q = queue;
    if (args) args->event = NULL;
    lowbit_status status = matmul_check(backend, q, args);
    if (status != LOWBIT_OK) return status;
    vk_device *d = q->device;
    queued_matmul m = {.x = args->x, .y = args->y};
    status = vk_matmul_plan_init(args->weights, args->x_type, args->n, &m.plan);
    if (status != LOWBIT_OK) return status;
    vk_batch *b = NULL;
    vk_event *event = NULL;
    status = vk_queue_batch(q, &b);
    vk_arena_mark mark = {0};
    if (status == LOWBIT_OK) {
        mark = vk_arena_mark_get(&b->scratch);
        event = calloc(1, sizeof *event);
        status = event ? matmul_prepare(d, b, &m) : vk_out_of_memory(backend);
    }
    if (status == LOWBIT_OK) status = x_copies_make(backend, &m, args->x_offset);
    if (status == LOWBIT_OK && backend->host->fault_injected && backend->host->fault_injected("vulkan.run"))
        status = vk_error(backend, LOWBIT_ERROR_DEVICE, "vulkan: vkCmdDispatch failed (fault injected: vulkan.run)");
    if (status == LOWBIT_OK) {
        matmul_record(d, b->cb, &m, args->y_offset);
        b->operations++;
        vk_matmul_describe(&m.plan, args->kernel, sizeof args->kernel);
        vk_batch_event_attach(event, b, &args->event);
        event = NULL;
    } else if (b) {
        vk_arena_mark_restore(&b->scratch, mark);
    }
    free(event);
    free(m.x_copies);
    vk_matmul_plan_release(&m.plan);
    return status;
}

/* --- events ------------------------------------------------------------------------------------------------ */

static lowbit_status event_check(vk_backend *backend, const vk_event *event, const char *what)
{
    if (!backend) return LOWBIT_ERROR_INVALID_ARGUMENT;
    if (!event || !event->record)
        return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: %s got a NULL event", what);
    return LOWBIT_OK;
}

lowbit_status vk_event_wait(void *self, void *event)
{
    vk_backend *backend = self;
    lowbit_status status = event_check(backend, event, "event_wait");
    if (status != LOWBIT_OK) return status;
    vk_batch_record *record = ((vk_event *)event)->record;
    if (!record->done) { /* the queue is alive and the host holds its lock */
        vk_queue *q = record->queue;
        if (record->batch == q->current) vk_queue_submit(q); /* a failure completes the record */
        while (!record->done && q->oldest)
            vk_queue_wait_oldest(q);
        if (!record->done)
            return vk_error(backend, LOWBIT_ERROR_INTERNAL,
                            "vulkan: event_wait found its batch neither queued nor done");
    }
    if (record->status != LOWBIT_OK) return vk_error(backend, record->status, "%s", record->message);
    return LOWBIT_OK;
}

lowbit_status vk_event_query(void *self, void *event, int *complete)
{
    vk_backend *backend = self;
    lowbit_status status = event_check(backend, event, "event_query");
    if (status != LOWBIT_OK) return status;
    if (!complete) return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: event_query got a NULL out");
    vk_batch_record *record = ((vk_event *)event)->record;
    if (!record->done) {
        /* submitted now, so that polling a query alone gets there; retired if its fence has signalled */
        vk_queue *q = record->queue;
        if (record->batch == q->current) vk_queue_submit(q);
        vk_queue_poll(q);
    }
    *complete = record->done;
    return LOWBIT_OK;
}

void vk_event_release(void *self, void *event)
{
    (void)self;
    vk_event *e = event;
    if (!e) return;
    vk_batch_record_unref(e->record);
    free(e);
}
