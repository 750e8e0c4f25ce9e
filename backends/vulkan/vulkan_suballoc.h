/* vulkan_suballoc.h — device memory in large blocks, buffers placed at offsets inside them: a range allocator
 * over offsets (pure logic, unit-tested without a device) and the per-device pool of blocks built on it. */
#ifndef LOWBIT_VULKAN_SUBALLOC_H
#define LOWBIT_VULKAN_SUBALLOC_H

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include <stddef.h>
#include <stdint.h>

/* --- range allocator ------------------------------------------------------------------------------------ */

typedef struct vk_range {
    uint64_t offset, size;
} vk_range;

/* The free ranges of [0, size), sorted by offset and coalesced (no two touch). There are never more free
 * ranges than live allocations + 1, so allocating keeps room for that many and freeing never needs memory. */
typedef struct vk_range_allocator {
    uint64_t size, free_bytes;
    size_t live;    /* allocations handed out and not freed */
    vk_range *free; /* [count], capacity entries */
    size_t count, capacity;
} vk_range_allocator;

/* 0, or -1 without host memory. */
int vk_range_allocator_init(vk_range_allocator *allocator, uint64_t size);
void vk_range_allocator_release(vk_range_allocator *allocator);
/* Best fit: the smallest free range that holds `size` bytes at an `alignment` (a power of two) boundary.
 * 0 and *offset, or -1: no room (or size 0, or an alignment that is no power of two, or no host memory). */
int vk_range_allocate(vk_range_allocator *allocator, uint64_t size, uint64_t alignment, uint64_t *offset);
/* Returns [offset, offset + size) to the free list, merged with its neighbours. 0, or -1 when the range is
 * not inside the allocator or overlaps a free range (a double free); the allocator is then unchanged. */
int vk_range_free(vk_range_allocator *allocator, uint64_t offset, uint64_t size);
static inline int vk_range_allocator_empty(const vk_range_allocator *allocator) { return allocator->live == 0; }

/* --- blocks of device memory ---------------------------------------------------------------------------- */

typedef struct vk_memory_block {
    VkDeviceMemory memory;
    VkDeviceSize size;
    uint32_t type; /* memory type index */
    int dedicated; /* holds one buffer larger than half a block; freed with it */
    void *mapped;  /* the whole block mapped once, for host-visible types; NULL otherwise */
    vk_range_allocator ranges;
    struct vk_memory_block *next;
} vk_memory_block;

/* One buffer's place: a range of a block. `mapped` points at offset within the block's mapping. */
typedef struct vk_allocation {
    vk_memory_block *block;
    VkDeviceSize offset, size; /* size: the range reserved (rounded up to nonCoherentAtomSize when needed) */
    void *mapped;
    int coherent;
} vk_allocation;

/* Per device; guarded by the device's mutex like every other device object. */
typedef struct vk_memory_pool {
    vk_memory_block *blocks;
    uint32_t allocation_limit; /* maxMemoryAllocationCount, or LOWBIT_VULKAN_MAX_ALLOCATIONS below it */
    uint32_t live_allocations; /* VkDeviceMemory objects alive (blocks) */
    uint32_t peak_allocations;
    uint64_t allocations_made;    /* vkAllocateMemory calls that succeeded, for the log */
    uint64_t ranges_placed;       /* buffers given memory (each was one vkAllocateMemory before blocks) */
    VkDeviceSize allocation_size; /* the device's maxMemoryAllocationSize (0: unknown) */
} vk_memory_pool;

#endif
