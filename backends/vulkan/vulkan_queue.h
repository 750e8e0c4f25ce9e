/* vulkan_queue.h — the state of the plugin's in-order queues (ABI 1.2), shared by vulkan_batch.c (arenas, batches:
 * recording, submission, retirement) and vulkan_queue.c (the backend's buffer, queue, enqueue and event calls). */
#ifndef LOWBIT_VULKAN_QUEUE_H
#define LOWBIT_VULKAN_QUEUE_H

#include "vulkan_internal.h"

enum { LOWBIT_VK_STAGING_ALIGNMENT = 16 };
#define LOWBIT_VK_PIECE_BYTES ((VkDeviceSize)64 << 20) /* a copy is staged in pieces of at most this */

/* Memory a batch hands out front to back (staging or scratch): chunks of buffers, rewound when it retires. */
typedef struct vk_arena {
    vk_memory_kind kind;
    vk_buffer *chunks;
    size_t count, capacity, current;
    VkDeviceSize used;     /* bytes of chunks[current] handed out */
    VkDeviceSize reserved; /* bytes handed out since the batch started */
} vk_arena;
typedef struct vk_arena_mark {
    size_t current;
    VkDeviceSize used, reserved;
} vk_arena_mark;
typedef struct vk_arena_region {
    size_t chunk;
    VkDeviceSize offset;
} vk_arena_region;

typedef struct vk_pending_read {
    void *host;
    vk_arena_region staging;
    size_t size;
} vk_pending_read;

typedef struct vk_batch_pool {
    VkDescriptorPool pool;
    uint32_t capacity, room;
} vk_batch_pool;

typedef struct vk_batch vk_batch;
typedef struct vk_queue vk_queue;

/* What an event knows of its batch. Written only under the queue's lock (the host's); once `done` the record
 * no longer changes, so events read it without the queue after it is gone. */
typedef struct vk_batch_record {
    int refs;        /* the batch until it retires, plus one per event (atomic) */
    vk_queue *queue; /* NULL once done */
    vk_batch *batch; /* NULL once done */
    int done;        /* retired: its reads are in their destinations */
    lowbit_status status;
    char message[256];
} vk_batch_record;

struct vk_batch {
    vk_batch_record *record; /* of the work recorded into cb; NULL while the batch is spare */
    uint64_t serial;         /* the queue's count of batches begun, this one's */
    VkCommandBuffer cb;
    VkFence fence;
    size_t operations;
    vk_arena staging, scratch;
    vk_pending_read *reads;
    size_t read_count, read_capacity;
    vk_batch_pool *pools;
    size_t pool_count, pool_capacity, pool_current;
    VkBufferView *views; /* X texel views of the batch's matmuls */
    size_t view_count, view_capacity;
    vk_batch *next;
};

struct vk_queue {
    vk_device *device;
    VkCommandPool command_pool;
    vk_batch *current;         /* recording; NULL between batches */
    vk_batch *oldest, *newest; /* submitted, in submission order */
    size_t in_flight;
    vk_batch *spare;     /* retired, reused by the next batch */
    uint64_t serials;    /* batches begun */
    lowbit_status error; /* the first since the last finish, and the serial of its batch */
    uint64_t error_serial;
    char error_message[256];
};

typedef struct vk_event {
    vk_batch_record *record;
} vk_event;

typedef struct vk_device_buffer {
    vk_device *device;
    vk_buffer buffer;
} vk_device_buffer;

/* Grows *array (of `element` bytes each) to hold `needed`; 0, or -1 without host memory. */
int vk_array_reserve(void **array, size_t *capacity, size_t needed, size_t element);
lowbit_status vk_out_of_memory(vk_backend *backend);

/* `size` bytes at an `alignment` boundary of the arena (a new chunk when none has room). */
lowbit_status vk_arena_reserve(vk_device *device, vk_arena *arena, VkDeviceSize size, VkDeviceSize alignment,
                               vk_arena_region *out);
/* Where the arena stands, and back there (what an operation reserved before it failed is handed out again). */
vk_arena_mark vk_arena_mark_get(const vk_arena *arena);
void vk_arena_mark_restore(vk_arena *arena, vk_arena_mark mark);
unsigned char *vk_arena_bytes(const vk_arena *arena, vk_arena_region region); /* mapped (staging) arenas */

/* The batch the next operation is recorded into: the current one, or (after submitting one grown large) a spare
 * or new one, begun; waits only to reclaim the oldest batch when too many are in flight. */
lowbit_status vk_queue_batch(vk_queue *queue, vk_batch **out);
/* Submits the batch being recorded, if it holds an operation. A failure completes its record with the error. */
lowbit_status vk_queue_submit(vk_queue *queue);
/* Retires the submitted batches whose fences have signalled (without waiting), or the oldest (waiting). */
void vk_queue_poll(vk_queue *queue);
void vk_queue_wait_oldest(vk_queue *queue);
/* Frees the queue's batches that are not in flight (queue_release, after finishing). */
void vk_queue_batches_release(vk_queue *queue);
/* A full memory barrier: between operations and between the steps of a matmul. */
void vk_batch_barrier(vk_device *device, VkCommandBuffer cb);
/* A descriptor pool of the batch with room for `sets` sets. */
lowbit_status vk_batch_pool_get(vk_device *device, vk_batch *batch, uint32_t sets, VkDescriptorPool *out);
/* Hands out `event` (allocated before anything was recorded) on the batch's record. */
void vk_batch_event_attach(vk_event *event, vk_batch *batch, void **out);
void vk_batch_record_unref(vk_batch_record *record);

#endif
