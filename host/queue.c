/* queue.c — device-resident activations: buffers, in-order queues, events and the matmul on buffers. The
 * host validates every argument, then calls the backend's ABI 1.2 members. A matmul the device cannot queue
 * (a launch fault, weights that fell back to the CPU at upload, an activation type it refuses) runs on the
 * CPU backend in the queue's order: the queue is drained, X read back, Y computed and written in place. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "runtime.h"

struct lowbit_buffer {
    lowbit_context *context;
    size_t device;
    size_t size;
    void *handle; /* the backend's */
    void *host;   /* its host address when host-visible, else NULL */
};

struct lowbit_queue {
    lowbit_context *context;
    size_t device;
    lowbit_backend *backend;
    void *handle;         /* the backend's; NULL once released */
    pthread_mutex_t lock; /* serializes calls on the queue, its events' backend calls and its event list */
    lowbit_queue_info info;
    int warned;               /* a fallback was logged as a warning already (later ones log at info) */
    atomic_size_t references; /* 1 until closed, + 1 per live event (and while release_all holds it) */
    lowbit_queue *next_live;  /* the registry's list of open queues; guarded by registry_mutex */
    lowbit_event *events;     /* this queue's live events */
};

struct lowbit_event {
    lowbit_queue *queue;
    void *handle; /* the backend's; NULL when the operation was complete at enqueue or its context is gone */
    lowbit_event *next, *previous;
};

/* Every open queue, so buffers and weights can drain the queues that may use them and a destroyed context can
 * release what its caller forgot. Lock order: registry_mutex before a queue's lock, never the reverse. */
static pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;
static lowbit_queue *live_queues;
/* Buffers of every context, so a destroyed context releases them. */
static lowbit_handle_set all_buffers = LOWBIT_HANDLE_SET_INIT;

static const lowbit_context *context_of_buffer(const void *buffer) { return ((const lowbit_buffer *)buffer)->context; }

static lowbit_backend *device_backend(const lowbit_context *context, size_t device)
{
    return context->plugins[context->devices[device].backend].backend;
}

/* The backend implements ABI 1.2 (every member present). */
static int has_queues(const lowbit_backend *backend)
{
    return backend->struct_size >= offsetof(lowbit_backend, event_release) + sizeof backend->event_release &&
           backend->buffer_create && backend->buffer_release && backend->queue_create && backend->queue_release &&
           backend->enqueue_write && backend->enqueue_read && backend->enqueue_matmul && backend->queue_flush &&
           backend->queue_finish && backend->event_wait && backend->event_query && backend->event_release;
}

/* The context is live and `device` one of its devices with buffers and queues. */
static lowbit_status check_device(lowbit_context *context, size_t *device, const char *fn)
{
    if (!context || !lowbit_handle_is_live(context))
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: context is %s", fn, context ? "destroyed" : "NULL");
    lowbit_status status = lowbit_context_probe(context);
    if (status != LOWBIT_OK) return status;
    if (*device == LOWBIT_DEVICE_DEFAULT && (status = lowbit_device_default(context, device)) != LOWBIT_OK)
        return status;
    if (*device >= context->device_count)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: device %zu of %zu", fn, *device, context->device_count);
    if (!has_queues(device_backend(context, *device)))
        return lowbit_error(LOWBIT_ERROR_UNSUPPORTED,
                            "%s: the plugin behind %s predates buffers and queues (plugin ABI 1.2): update it", fn,
                            context->devices[*device].info.id);
    return LOWBIT_OK;
}

/* --- buffers -------------------------------------------------------------------------------------- */
lowbit_status lowbit_buffer_create(lowbit_context *context, size_t device, size_t size, unsigned flags,
                                   lowbit_buffer **out)
{
    static const char fn[] = "lowbit_buffer_create";
    if (!out) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    *out = NULL;
    lowbit_status status = check_device(context, &device, fn);
    if (status != LOWBIT_OK) return status;
    if (size == 0) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: size is 0", fn);
    if (flags & ~(unsigned)LOWBIT_BUFFER_HOST_VISIBLE)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: unknown flags 0x%x", fn, flags);
    const lowbit_device_info *info = &context->devices[device].info;
    if (info->max_allocation != 0 && size > info->max_allocation)
        return lowbit_error(LOWBIT_ERROR_UNSUPPORTED, "%s: %zu bytes is more than %s allows in one buffer (%llu)", fn,
                            size, info->id, (unsigned long long)info->max_allocation);
    lowbit_buffer *buffer = calloc(1, sizeof *buffer);
    if (!buffer) return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    *buffer = (lowbit_buffer){.context = context, .device = device, .size = size};
    lowbit_backend *backend = device_backend(context, device);
    lowbit_error_clear();
    status = backend->buffer_create(backend->self, context->devices[device].local_index, size, flags, &buffer->handle,
                                    &buffer->host);
    if (status == LOWBIT_OK && (flags & LOWBIT_BUFFER_HOST_VISIBLE) && !buffer->host) {
        backend->buffer_release(backend->self, buffer->handle);
        status = lowbit_error(LOWBIT_ERROR_INTERNAL, "%s: %s returned no host address for a host-visible buffer", fn,
                              info->id);
    }
    if (status != LOWBIT_OK) {
        free(buffer);
        if (!*lowbit_last_error())
            return lowbit_error(status, "%s: %s could not allocate %zu bytes", fn, info->id, size);
        return status;
    }
    if (!lowbit_handle_set_add(&all_buffers, buffer)) {
        backend->buffer_release(backend->self, buffer->handle);
        free(buffer);
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    }
    *out = buffer;
    return LOWBIT_OK;
}

/* Finishes every undestroyed queue of `context` on `device` (SIZE_MAX: on every device): what a buffer or
 * weights being freed needs, since any of them may still read or write it. */
void lowbit_queues_drain(const lowbit_context *context, size_t device)
{
    pthread_mutex_lock(&registry_mutex);
    for (lowbit_queue *queue = live_queues; queue; queue = queue->next_live) {
        if (queue->context != context || (device != SIZE_MAX && queue->device != device)) continue;
        pthread_mutex_lock(&queue->lock);
        if (queue->handle) queue->backend->queue_finish(queue->backend->self, queue->handle);
        pthread_mutex_unlock(&queue->lock);
    }
    pthread_mutex_unlock(&registry_mutex);
}

static void buffer_free(lowbit_buffer *buffer)
{
    lowbit_queues_drain(buffer->context, buffer->device);
    lowbit_backend *backend = device_backend(buffer->context, buffer->device);
    backend->buffer_release(backend->self, buffer->handle);
    free(buffer);
}

void lowbit_buffer_destroy(lowbit_buffer *buffer)
{
    if (!buffer) return;
    if (!lowbit_handle_set_remove(&all_buffers, buffer)) {
        lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_buffer_destroy: buffer was already destroyed");
        lowbit_log(LOWBIT_LOG_ERROR, "lowbit_buffer_destroy: handle %p is not a live buffer (ignored)", (void *)buffer);
        return;
    }
    buffer_free(buffer);
}

static lowbit_status check_buffer(const lowbit_buffer *buffer, const char *fn, const char *what)
{
    if (!buffer) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", fn, what);
    if (!lowbit_handle_is_live(buffer))
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: %s was destroyed (or never created)", fn, what);
    return LOWBIT_OK;
}

lowbit_status lowbit_buffer_get_info(const lowbit_buffer *buffer, lowbit_buffer_info *info)
{
    static const char fn[] = "lowbit_buffer_get_info";
    lowbit_status status = check_buffer(buffer, fn, "buffer");
    if (status != LOWBIT_OK) return status;
    if (!info || info->struct_size < offsetof(lowbit_buffer_info, host_visible) + sizeof info->host_visible ||
        info->struct_size > 65536)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "%s: info is NULL or info->struct_size is not sizeof(lowbit_buffer_info)", fn);
    lowbit_buffer_info copy = {sizeof copy, buffer->device, buffer->size, buffer->host != NULL};
    size_t size = info->struct_size < sizeof copy ? info->struct_size : sizeof copy;
    memcpy(info, &copy, size);
    info->struct_size = size;
    return LOWBIT_OK;
}

lowbit_status lowbit_buffer_map(lowbit_buffer *buffer, void **host_pointer)
{
    static const char fn[] = "lowbit_buffer_map";
    if (!host_pointer) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: host_pointer is NULL", fn);
    *host_pointer = NULL;
    lowbit_status status = check_buffer(buffer, fn, "buffer");
    if (status != LOWBIT_OK) return status;
    if (!buffer->host)
        return lowbit_error(LOWBIT_ERROR_UNSUPPORTED,
                            "%s: this buffer on %s is not host-visible (create it with LOWBIT_BUFFER_HOST_VISIBLE)", fn,
                            buffer->context->devices[buffer->device].info.id);
    *host_pointer = buffer->host;
    return LOWBIT_OK;
}

/* --- queues --------------------------------------------------------------------------------------- */
lowbit_status lowbit_queue_create(lowbit_context *context, size_t device, lowbit_queue **out)
{
    static const char fn[] = "lowbit_queue_create";
    if (!out) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    *out = NULL;
    lowbit_status status = check_device(context, &device, fn);
    if (status != LOWBIT_OK) return status;
    lowbit_queue *queue = calloc(1, sizeof *queue);
    if (!queue) return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    queue->context = context;
    queue->device = device;
    queue->backend = device_backend(context, device);
    queue->info.struct_size = sizeof queue->info;
    queue->info.device = device;
    atomic_init(&queue->references, 1);
    lowbit_error_clear();
    status = queue->backend->queue_create(queue->backend->self, context->devices[device].local_index, &queue->handle);
    if (status != LOWBIT_OK) {
        free(queue);
        if (!*lowbit_last_error())
            return lowbit_error(status, "%s: %s could not create a queue", fn, context->devices[device].info.id);
        return status;
    }
    if (pthread_mutex_init(&queue->lock, NULL) != 0 || !lowbit_handle_register(queue)) {
        queue->backend->queue_release(queue->backend->self, queue->handle);
        free(queue);
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    }
    pthread_mutex_lock(&registry_mutex);
    queue->next_live = live_queues;
    live_queues = queue;
    pthread_mutex_unlock(&registry_mutex);
    *out = queue;
    return LOWBIT_OK;
}

/* Drops one reference; the last frees the queue's host state. */
static void queue_unref(lowbit_queue *queue)
{
    if (atomic_fetch_sub(&queue->references, 1) != 1) return;
    pthread_mutex_destroy(&queue->lock);
    free(queue);
}

/* Finishes and releases the backend queue, and unlinks it from the live list. Its events keep the host
 * struct until they are released. */
static void queue_close(lowbit_queue *queue)
{
    pthread_mutex_lock(&queue->lock);
    if (queue->handle) {
        queue->backend->queue_finish(queue->backend->self, queue->handle);
        queue->backend->queue_release(queue->backend->self, queue->handle);
        queue->handle = NULL;
    }
    pthread_mutex_unlock(&queue->lock);
    pthread_mutex_lock(&registry_mutex);
    for (lowbit_queue **link = &live_queues; *link; link = &(*link)->next_live) {
        if (*link == queue) {
            *link = queue->next_live;
            break;
        }
    }
    pthread_mutex_unlock(&registry_mutex);
    queue_unref(queue);
}

void lowbit_queue_destroy(lowbit_queue *queue)
{
    if (!queue) return;
    if (!lowbit_handle_unregister(queue)) {
        lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_queue_destroy: queue was already destroyed");
        lowbit_log(LOWBIT_LOG_ERROR, "lowbit_queue_destroy: handle %p is not a live queue (ignored)", (void *)queue);
        return;
    }
    queue_close(queue);
}

/* A destroyed context: its queues are finished and closed, its events lose their backend handles (the plugin
 * is about to be unloaded; the host structs stay for lowbit_event_release) and its buffers are freed. */
void lowbit_queues_release_all(lowbit_context *context)
{
    for (;;) {
        lowbit_queue *found = NULL;
        pthread_mutex_lock(&registry_mutex);
        for (lowbit_queue *queue = live_queues; queue && !found; queue = queue->next_live)
            if (queue->context == context) found = queue;
        if (found) atomic_fetch_add(&found->references, 1);
        pthread_mutex_unlock(&registry_mutex);
        if (!found) break;
        pthread_mutex_lock(&found->lock);
        for (lowbit_event *event = found->events; event; event = event->next) {
            if (event->handle) found->backend->event_release(found->backend->self, event->handle);
            event->handle = NULL;
        }
        pthread_mutex_unlock(&found->lock);
        if (lowbit_handle_unregister(found)) {
            lowbit_log(LOWBIT_LOG_DEBUG, "context destroyed with a live queue: finished and released");
            queue_close(found);
        }
        queue_unref(found);
    }
    lowbit_buffer *found;
    while ((found = lowbit_handle_set_find(&all_buffers, context, context_of_buffer)) != NULL) {
        if (!lowbit_handle_set_remove(&all_buffers, found)) continue; /* its own destroy got there first */
        lowbit_log(LOWBIT_LOG_DEBUG, "context destroyed with a live %zu-byte buffer: released", found->size);
        buffer_free(found);
    }
}

static lowbit_status check_queue(const lowbit_queue *queue, const char *fn)
{
    if (!queue) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: queue is NULL", fn);
    if (!lowbit_handle_is_live(queue))
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: queue was destroyed (or never created)", fn);
    return LOWBIT_OK;
}

/* --- events --------------------------------------------------------------------------------------- */
static lowbit_status check_event(const lowbit_event *event, const char *fn)
{
    if (!event) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: event is NULL", fn);
    if (!lowbit_handle_is_live(event))
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: event was released (or never created)", fn);
    return LOWBIT_OK;
}

/* A host event over the backend's `handle` (NULL: complete). Without `out` the handle is released at once.
 * Call with queue->lock held. */
static lowbit_status make_event(lowbit_queue *queue, void *handle, lowbit_event **out, const char *fn)
{
    if (!out) {
        if (handle) queue->backend->event_release(queue->backend->self, handle);
        return LOWBIT_OK;
    }
    lowbit_event *event = calloc(1, sizeof *event);
    if (!event || !lowbit_handle_register(event)) {
        free(event);
        /* the operation is queued; without an event the caller can still wait with lowbit_queue_finish */
        if (handle) queue->backend->event_release(queue->backend->self, handle);
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY,
                            "%s: the operation is queued, but no memory was left for its event (use "
                            "lowbit_queue_finish)",
                            fn);
    }
    event->queue = queue;
    event->handle = handle;
    atomic_fetch_add(&queue->references, 1);
    event->next = queue->events;
    if (queue->events) queue->events->previous = event;
    queue->events = event;
    *out = event;
    return LOWBIT_OK;
}

/* Calls the backend's wait (or query) on an event's handle with its queue's lock held while the queue lives. */
static lowbit_status event_call(lowbit_event *event, int *complete)
{
    lowbit_queue *queue = event->queue;
    pthread_mutex_lock(&queue->lock);
    lowbit_status status = LOWBIT_OK;
    if (complete) *complete = 1;
    if (event->handle) {
        lowbit_error_clear();
        status = complete ? queue->backend->event_query(queue->backend->self, event->handle, complete)
                          : queue->backend->event_wait(queue->backend->self, event->handle);
    }
    pthread_mutex_unlock(&queue->lock);
    return status;
}

lowbit_status lowbit_event_wait(lowbit_event *event)
{
    lowbit_status status = check_event(event, "lowbit_event_wait");
    return status == LOWBIT_OK ? event_call(event, NULL) : status;
}

lowbit_status lowbit_event_query(lowbit_event *event, int *complete)
{
    static const char fn[] = "lowbit_event_query";
    if (!complete) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: complete is NULL", fn);
    *complete = 0;
    lowbit_status status = check_event(event, fn);
    return status == LOWBIT_OK ? event_call(event, complete) : status;
}

void lowbit_event_release(lowbit_event *event)
{
    if (!event) return;
    if (!lowbit_handle_unregister(event)) {
        lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_event_release: event was already released");
        lowbit_log(LOWBIT_LOG_ERROR, "lowbit_event_release: handle %p is not a live event (ignored)", (void *)event);
        return;
    }
    lowbit_queue *queue = event->queue;
    pthread_mutex_lock(&queue->lock);
    if (event->handle) queue->backend->event_release(queue->backend->self, event->handle);
    if (event->previous)
        event->previous->next = event->next;
    else
        queue->events = event->next;
    if (event->next) event->next->previous = event->previous;
    pthread_mutex_unlock(&queue->lock);
    queue_unref(queue);
    free(event);
}

/* The wait list: this queue's own events are ordered already; another queue's are waited for here, before
 * the queue's lock is taken (so two queues waiting on each other cannot deadlock). */
static lowbit_status wait_for(const lowbit_queue *queue, lowbit_event *const *wait, size_t wait_count, const char *fn)
{
    if (wait_count && !wait)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: wait is NULL, count %zu", fn, wait_count);
    for (size_t i = 0; i < wait_count; ++i) {
        lowbit_status status = check_event(wait[i], fn);
        if (status != LOWBIT_OK) return status;
        if (wait[i]->queue->context != queue->context)
            return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: wait[%zu] belongs to another context", fn, i);
    }
    for (size_t i = 0; i < wait_count; ++i) {
        if (wait[i]->queue == queue) continue;
        lowbit_status status = event_call(wait[i], NULL);
        if (status != LOWBIT_OK) return status;
    }
    return LOWBIT_OK;
}

/* --- copies --------------------------------------------------------------------------------------- */
static lowbit_status check_range(const lowbit_queue *queue, const lowbit_buffer *buffer, size_t offset, size_t size,
                                 const char *fn, const char *what)
{
    lowbit_status status = check_buffer(buffer, fn, what);
    if (status != LOWBIT_OK) return status;
    if (buffer->context != queue->context || buffer->device != queue->device)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: %s is on %s, the queue on %s", fn, what,
                            buffer->context == queue->context ? buffer->context->devices[buffer->device].info.id
                                                              : "another context",
                            queue->context->devices[queue->device].info.id);
    if (size == 0) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: size is 0", fn);
    if (offset > buffer->size || size > buffer->size - offset)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: bytes %zu..%zu are outside the %zu-byte %s buffer", fn,
                            offset, offset + (size < SIZE_MAX - offset ? size : SIZE_MAX - offset), buffer->size, what);
    return LOWBIT_OK;
}

static lowbit_status enqueue_copy(lowbit_queue *queue, lowbit_buffer *buffer, size_t offset, void *host, size_t size,
                                  lowbit_event *const *wait, size_t wait_count, lowbit_event **event, int write)
{
    const char *fn = write ? "lowbit_enqueue_write" : "lowbit_enqueue_read";
    if (event) *event = NULL;
    lowbit_status status = check_queue(queue, fn);
    if (status == LOWBIT_OK) status = check_range(queue, buffer, offset, size, fn, write ? "dst" : "src");
    if (status == LOWBIT_OK && !host)
        status = lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", fn, write ? "src" : "dst");
    if (status == LOWBIT_OK) status = wait_for(queue, wait, wait_count, fn);
    if (status != LOWBIT_OK) return status;
    pthread_mutex_lock(&queue->lock);
    lowbit_backend_copy_args args = {sizeof args, buffer->handle, offset, host, size, NULL};
    lowbit_error_clear();
    status = write ? queue->backend->enqueue_write(queue->backend->self, queue->handle, &args)
                   : queue->backend->enqueue_read(queue->backend->self, queue->handle, &args);
    if (status == LOWBIT_OK) {
        queue->info.operations++;
        status = make_event(queue, args.event, event, fn);
    }
    pthread_mutex_unlock(&queue->lock);
    return status;
}

lowbit_status lowbit_enqueue_write(lowbit_queue *queue, lowbit_buffer *dst, size_t offset, const void *src, size_t size,
                                   lowbit_event *const *wait, size_t wait_count, lowbit_event **event)
{
    return enqueue_copy(queue, dst, offset, (void *)(uintptr_t)src, size, wait, wait_count, event, 1);
}

lowbit_status lowbit_enqueue_read(lowbit_queue *queue, lowbit_buffer *src, size_t offset, void *dst, size_t size,
                                  lowbit_event *const *wait, size_t wait_count, lowbit_event **event)
{
    return enqueue_copy(queue, src, offset, dst, size, wait, wait_count, event, 0);
}

/* --- matmul --------------------------------------------------------------------------------------- */
static lowbit_status check_matmul(const lowbit_queue *queue, const lowbit_matmul_buffers *m, const char *fn)
{
    if (!m) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: matmul is NULL", fn);
    if (m->struct_size < offsetof(lowbit_matmul_buffers, n) + sizeof m->n || m->struct_size > 65536)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "%s: matmul->struct_size is %zu; set it to sizeof(lowbit_matmul_buffers)", fn,
                            m->struct_size);
    const lowbit_weights *w = m->weights;
    if (!w || !lowbit_handle_is_live(w))
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: weights are %s", fn,
                            w ? "destroyed (or were never created)" : "NULL");
    if (w->context != queue->context)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: weights belong to another context", fn);
    if (w->device != queue->device)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: weights were uploaded for %s, the queue is on %s", fn,
                            queue->context->devices[w->device].info.id, queue->context->devices[queue->device].info.id);
    if (m->x_type != LOWBIT_ACTIVATION_F32 && m->x_type != LOWBIT_ACTIVATION_F16)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: unknown activation type %d", fn, (int)m->x_type);
    if (m->n == 0) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: n is 0 (need at least one row)", fn);
    size_t widest = w->cols > w->rows ? w->cols : w->rows;
    if (m->n > SIZE_MAX / sizeof(float) / widest)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: n = %zu is too large", fn, m->n);
    size_t x_element = m->x_type == LOWBIT_ACTIVATION_F16 ? 2 : sizeof(float);
    size_t x_bytes = m->n * w->cols * x_element, y_bytes = m->n * w->rows * sizeof(float);
    lowbit_status status = check_range(queue, m->x, m->x_offset, x_bytes, fn, "x");
    if (status == LOWBIT_OK) status = check_range(queue, m->y, m->y_offset, y_bytes, fn, "y");
    if (status != LOWBIT_OK) return status;
    if (m->x_offset % x_element || m->y_offset % sizeof(float))
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "%s: x_offset (%zu) must be a multiple of %zu and y_offset (%zu) of 4", fn, m->x_offset,
                            x_element, m->y_offset);
    if (m->x == m->y && m->x_offset < m->y_offset + y_bytes && m->y_offset < m->x_offset + x_bytes)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: x and y overlap (matmul is never in place)", fn);
    return LOWBIT_OK;
}

/* Copies between a buffer and host memory and waits for it: the fallback's X in and Y out. A host-visible
 * buffer is read or written directly (the queue is drained already). Call with queue->lock held. */
static lowbit_status copy_now(lowbit_queue *queue, lowbit_buffer *buffer, size_t offset, void *host, size_t size,
                              int write)
{
    if (buffer->host) {
        if (write)
            memcpy((unsigned char *)buffer->host + offset, host, size);
        else
            memcpy(host, (unsigned char *)buffer->host + offset, size);
        return LOWBIT_OK;
    }
    lowbit_backend *backend = queue->backend;
    lowbit_backend_copy_args args = {sizeof args, buffer->handle, offset, host, size, NULL};
    lowbit_status status = write ? backend->enqueue_write(backend->self, queue->handle, &args)
                                 : backend->enqueue_read(backend->self, queue->handle, &args);
    if (args.event) backend->event_release(backend->self, args.event);
    if (status == LOWBIT_OK) status = backend->queue_finish(backend->self, queue->handle);
    return status;
}

/* The matmul on the CPU backend, in the queue's order. Call with queue->lock held. */
static lowbit_status matmul_on_cpu(lowbit_queue *queue, const lowbit_matmul_buffers *m, const char *reason)
{
    static const char fn[] = "lowbit_enqueue_matmul";
    const lowbit_weights *w = m->weights;
    if (!w->cpu_weights)
        return lowbit_error(LOWBIT_ERROR_DEVICE, "%s: %s (no CPU fallback: the weights were uploaded with NO_FALLBACK)",
                            fn, reason);
    lowbit_backend *backend = queue->backend, *cpu = queue->context->plugins[0].backend;
    lowbit_status status = backend->queue_finish(backend->self, queue->handle);
    if (status != LOWBIT_OK) return status;
    size_t x_bytes = m->n * w->cols * (m->x_type == LOWBIT_ACTIVATION_F16 ? 2 : sizeof(float));
    size_t y_bytes = m->n * w->rows * sizeof(float);
    void *x = m->x->host ? (unsigned char *)m->x->host + m->x_offset : malloc(x_bytes);
    float *y = m->y->host ? (float *)(void *)((unsigned char *)m->y->host + m->y_offset) : malloc(y_bytes);
    if (!x || !y) status = lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "%s: no host memory for the CPU fallback", fn);
    if (status == LOWBIT_OK && !m->x->host) status = copy_now(queue, m->x, m->x_offset, x, x_bytes, 0);
    if (status == LOWBIT_OK) {
        lowbit_backend_matmul_args args = {sizeof args, w->cpu_weights, x, m->x_type, y, m->n, "", 0.0, 0};
        status = cpu->matmul(cpu->self, &args);
        if (status == LOWBIT_OK) snprintf(queue->info.last_kernel, sizeof queue->info.last_kernel, "%s", args.kernel);
    }
    if (status == LOWBIT_OK && !m->y->host) status = copy_now(queue, m->y, m->y_offset, y, y_bytes, 1);
    if (!m->x->host) free(x);
    if (!m->y->host) free(y);
    if (status != LOWBIT_OK) return status;
    queue->info.fallbacks++;
    snprintf(queue->info.last_fallback_reason, sizeof queue->info.last_fallback_reason, "%s", reason);
    lowbit_log(queue->warned ? LOWBIT_LOG_INFO : LOWBIT_LOG_WARN, "%s; computed on the CPU backend instead", reason);
    queue->warned = 1;
    return LOWBIT_OK;
}

lowbit_status lowbit_enqueue_matmul(lowbit_queue *queue, const lowbit_matmul_buffers *matmul, lowbit_event *const *wait,
                                    size_t wait_count, lowbit_event **event)
{
    static const char fn[] = "lowbit_enqueue_matmul";
    if (event) *event = NULL;
    lowbit_status status = check_queue(queue, fn);
    if (status == LOWBIT_OK) status = check_matmul(queue, matmul, fn);
    if (status == LOWBIT_OK) status = wait_for(queue, wait, wait_count, fn);
    if (status != LOWBIT_OK) return status;
    const lowbit_weights *w = matmul->weights;
    const lowbit_backend *cpu = queue->context->plugins[0].backend;
    void *weights = w->device_weights ? w->device_weights : queue->backend == cpu ? w->cpu_weights : NULL;
    char reason[256];

    pthread_mutex_lock(&queue->lock);
    queue->info.operations++;
    queue->info.matmuls++;
    if (weights) {
        lowbit_backend_queued_matmul_args args = {.struct_size = sizeof args,
                                                  .weights = weights,
                                                  .x = matmul->x->handle,
                                                  .x_offset = matmul->x_offset,
                                                  .x_type = matmul->x_type,
                                                  .y = matmul->y->handle,
                                                  .y_offset = matmul->y_offset,
                                                  .n = matmul->n};
        lowbit_error_clear();
        status = queue->backend->enqueue_matmul(queue->backend->self, queue->handle, &args);
        if (status == LOWBIT_OK) {
            snprintf(queue->info.last_kernel, sizeof queue->info.last_kernel, "%s", args.kernel);
            status = make_event(queue, args.event, event, fn);
            pthread_mutex_unlock(&queue->lock);
            return status;
        }
        snprintf(reason, sizeof reason, "%s queued matmul failed: %s", queue->context->devices[queue->device].info.id,
                 *lowbit_last_error() ? lowbit_last_error() : lowbit_status_string(status));
        if (queue->backend == cpu) { /* the CPU backend has nothing to fall back to */
            pthread_mutex_unlock(&queue->lock);
            return lowbit_error(status, "%s", reason);
        }
    } else {
        snprintf(reason, sizeof reason, "%s", w->upload_fallback_reason);
    }
    status = matmul_on_cpu(queue, matmul, reason);
    if (status == LOWBIT_OK) status = make_event(queue, NULL, event, fn);
    pthread_mutex_unlock(&queue->lock);
    return status;
}

/* --- flush, finish, info -------------------------------------------------------------------------- */
static lowbit_status queue_call(lowbit_queue *queue, int finish, const char *fn)
{
    lowbit_status status = check_queue(queue, fn);
    if (status != LOWBIT_OK) return status;
    pthread_mutex_lock(&queue->lock);
    lowbit_error_clear();
    status = finish ? queue->backend->queue_finish(queue->backend->self, queue->handle)
                    : queue->backend->queue_flush(queue->backend->self, queue->handle);
    pthread_mutex_unlock(&queue->lock);
    return status;
}

lowbit_status lowbit_queue_flush(lowbit_queue *queue) { return queue_call(queue, 0, "lowbit_queue_flush"); }

lowbit_status lowbit_queue_finish(lowbit_queue *queue) { return queue_call(queue, 1, "lowbit_queue_finish"); }

lowbit_status lowbit_queue_get_info(lowbit_queue *queue, lowbit_queue_info *info)
{
    static const char fn[] = "lowbit_queue_get_info";
    lowbit_status status = check_queue(queue, fn);
    if (status != LOWBIT_OK) return status;
    if (!info || info->struct_size < offsetof(lowbit_queue_info, fallbacks) + sizeof info->fallbacks ||
        info->struct_size > 65536)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "%s: info is NULL or info->struct_size is not sizeof(lowbit_queue_info)", fn);
    size_t size = info->struct_size < sizeof *info ? info->struct_size : sizeof *info;
    pthread_mutex_lock(&queue->lock);
    memcpy(info, &queue->info, size);
    pthread_mutex_unlock(&queue->lock);
    info->struct_size = size;
    return LOWBIT_OK;
}
