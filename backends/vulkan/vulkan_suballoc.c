/* vulkan_suballoc.c — device memory sub-allocation: a range allocator over offsets, and the device's pool of
 * memory blocks it manages, so that a model with thousands of matrices stays far below
 * maxMemoryAllocationCount (4096 on many drivers) instead of spending one VkDeviceMemory per buffer. */
#include "vulkan_internal.h"

#include <stdlib.h>
#include <string.h>

/* --- range allocator ------------------------------------------------------------------------------------ */

static int ranges_reserve(vk_range_allocator *allocator, size_t capacity)
{
    if (capacity <= allocator->capacity) return 0;
    size_t grown = allocator->capacity ? allocator->capacity : 8;
    while (grown < capacity)
        grown *= 2;
    vk_range *ranges = realloc(allocator->free, grown * sizeof *ranges);
    if (!ranges) return -1;
    allocator->free = ranges;
    allocator->capacity = grown;
    return 0;
}

int vk_range_allocator_init(vk_range_allocator *allocator, uint64_t size)
{
    memset(allocator, 0, sizeof *allocator);
    if (size == 0) return 0;
    if (ranges_reserve(allocator, 2) != 0) return -1;
    allocator->size = allocator->free_bytes = size;
    allocator->free[0] = (vk_range){0, size};
    allocator->count = 1;
    return 0;
}

void vk_range_allocator_release(vk_range_allocator *allocator)
{
    free(allocator->free);
    memset(allocator, 0, sizeof *allocator);
}

static void ranges_insert(vk_range_allocator *allocator, size_t index, vk_range range)
{
    memmove(&allocator->free[index + 1], &allocator->free[index], (allocator->count - index) * sizeof range);
    allocator->free[index] = range;
    allocator->count++;
}

static void ranges_remove(vk_range_allocator *allocator, size_t index)
{
    memmove(&allocator->free[index], &allocator->free[index + 1], (allocator->count - index - 1) * sizeof(vk_range));
    allocator->count--;
}

int vk_range_allocate(vk_range_allocator *allocator, uint64_t size, uint64_t alignment, uint64_t *offset)
{
    if (size == 0 || alignment == 0 || (alignment & (alignment - 1)) != 0 || size > allocator->free_bytes) return -1;
    /* after this allocation at most live + 2 free ranges can exist: make room now, so free() never fails */
    if (ranges_reserve(allocator, allocator->live + 2) != 0) return -1;
    size_t best = SIZE_MAX;
    uint64_t best_start = 0, best_leftover = 0;
    for (size_t i = 0; i < allocator->count; ++i) {
        const vk_range *range = &allocator->free[i];
        if (range->offset > UINT64_MAX - (alignment - 1)) continue;
        uint64_t start = (range->offset + alignment - 1) & ~(alignment - 1), padding = start - range->offset;
        if (padding > range->size || range->size - padding < size) continue;
        uint64_t leftover = range->size - size; /* padding included: it stays free but is hard to use */
        if (best == SIZE_MAX || leftover < best_leftover) {
            best = i;
            best_start = start;
            best_leftover = leftover;
            if (leftover == 0) break;
        }
    }
    if (best == SIZE_MAX) return -1;
    vk_range *range = &allocator->free[best];
    uint64_t front = best_start - range->offset, end = best_start + size;
    uint64_t back = range->offset + range->size - end;
    if (front && back) {
        range->size = front;
        ranges_insert(allocator, best + 1, (vk_range){end, back});
    } else if (front) {
        range->size = front;
    } else if (back) {
        *range = (vk_range){end, back};
    } else {
        ranges_remove(allocator, best);
    }
    allocator->free_bytes -= size;
    allocator->live++;
    *offset = best_start;
    return 0;
}

int vk_range_free(vk_range_allocator *allocator, uint64_t offset, uint64_t size)
{
    if (size == 0 || allocator->live == 0 || offset > allocator->size || size > allocator->size - offset) return -1;
    uint64_t end = offset + size;
    size_t low = 0, high = allocator->count; /* index of the first free range at or past offset */
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (allocator->free[middle].offset < offset)
            low = middle + 1;
        else
            high = middle;
    }
    vk_range *previous = low > 0 ? &allocator->free[low - 1] : NULL;
    vk_range *next = low < allocator->count ? &allocator->free[low] : NULL;
    if ((previous && previous->offset + previous->size > offset) || (next && next->offset < end)) return -1;
    int join_previous = previous && previous->offset + previous->size == offset;
    int join_next = next && next->offset == end;
    if (join_previous && join_next) {
        previous->size += size + next->size;
        ranges_remove(allocator, low);
    } else if (join_previous) {
        previous->size += size;
    } else if (join_next) {
        next->offset = offset;
        next->size += size;
    } else {
        /* room is reserved by allocate for every range it handed out; a range it never handed out may need more */
        if (allocator->count == allocator->capacity && ranges_reserve(allocator, allocator->count + 1) != 0) return -1;
        ranges_insert(allocator, low, (vk_range){offset, size});
    }
    allocator->free_bytes += size;
    allocator->live--;
    return 0;
}

/* --- blocks --------------------------------------------------------------------------------------------- */

enum {
    /* Blocks of 64 MiB: 4096 of them (the smallest common maxMemoryAllocationCount) hold 256 GiB. The first
     * blocks of a memory type are smaller (an eighth, a quarter, a half), so a small model does not reserve
     * 64 MiB it never uses. */
    BLOCK_BYTES = 64u << 20,
    BLOCK_GROWTH_STEPS = 3,
    BLOCK_MIN_BYTES = 64u << 10,
};

static VkDeviceSize align_up(VkDeviceSize value, VkDeviceSize alignment)
{
    return (value + alignment - 1) / alignment * alignment;
}

/* A memory type's full block size: 64 MiB, or an eighth of a small heap, and never more than one allocation
 * may hold. */
static VkDeviceSize preferred_block_size(const vk_device *d, uint32_t type)
{
    VkDeviceSize heap = d->memory.memoryHeaps[d->memory.memoryTypes[type].heapIndex].size, size = BLOCK_BYTES;
    if (heap / 8 < size) size = heap / 8;
    if (d->memory_pool.allocation_size && d->memory_pool.allocation_size < size) size = d->memory_pool.allocation_size;
    return size < BLOCK_MIN_BYTES ? BLOCK_MIN_BYTES : size;
}

static void block_destroy(vk_device *d, vk_memory_block *block)
{
    vk_memory_pool *pool = &d->memory_pool;
    for (vk_memory_block **link = &pool->blocks; *link; link = &(*link)->next)
        if (*link == block) {
            *link = block->next;
            break;
        }
    if (block->mapped) d->vk.vkUnmapMemory(d->device, block->memory);
    d->vk.vkFreeMemory(d->device, block->memory, NULL);
    vk_range_allocator_release(&block->ranges);
    free(block);
    pool->live_allocations--;
}

/* A new block of `size` bytes (halved on VK_ERROR_OUT_OF_DEVICE_MEMORY while it still holds `minimum`), mapped
 * once when its type is host-visible, appended to the pool. */
static VkResult block_create(vk_device *d, uint32_t type, VkDeviceSize size, VkDeviceSize minimum, int dedicated,
                             vk_memory_block **out)
{
    vk_memory_pool *pool = &d->memory_pool;
    if (pool->live_allocations >= pool->allocation_limit) return VK_ERROR_TOO_MANY_OBJECTS;
    vk_memory_block *block = calloc(1, sizeof *block);
    if (!block) return VK_ERROR_OUT_OF_HOST_MEMORY;
    VkResult result;
    for (;;) {
        VkMemoryAllocateInfo info = {
            .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = size, .memoryTypeIndex = type};
        result = d->vk.vkAllocateMemory(d->device, &info, NULL, &block->memory);
        if (result != VK_ERROR_OUT_OF_DEVICE_MEMORY || dedicated || size / 2 < minimum) break;
        size /= 2;
    }
    if (result != VK_SUCCESS) {
        free(block);
        return result;
    }
    block->size = size;
    block->type = type;
    block->dedicated = dedicated;
    pool->live_allocations++;
    pool->allocations_made++;
    if (pool->live_allocations > pool->peak_allocations) pool->peak_allocations = pool->live_allocations;
    if (vk_range_allocator_init(&block->ranges, size) != 0) result = VK_ERROR_OUT_OF_HOST_MEMORY;
    if (result == VK_SUCCESS && (d->memory.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT))
        result = d->vk.vkMapMemory(d->device, block->memory, 0, VK_WHOLE_SIZE, 0, &block->mapped);
    if (result != VK_SUCCESS) {
        block->mapped = NULL;
        block->next = NULL;
        block_destroy(d, block); /* not linked yet: only freed */
        return result;
    }
    vk_memory_block **link = &pool->blocks;
    while (*link)
        link = &(*link)->next;
    *link = block;
    vk_log(d->backend, LOWBIT_LOG_DEBUG,
           "vulkan: vkAllocateMemory #%llu on %s: %s block of %llu bytes, memory type %u (%u of %u allocations alive)",
           (unsigned long long)pool->allocations_made, d->info.id, dedicated ? "dedicated" : "shared",
           (unsigned long long)size, type, pool->live_allocations, pool->allocation_limit);
    *out = block;
    return VK_SUCCESS;
}

/* Only buffers live in these blocks (no images), so bufferImageGranularity never separates neighbours; what
 * does is nonCoherentAtomSize: in non-coherent memory every range is aligned and sized to whole atoms, so one
 * buffer's flush or invalidate never touches the bytes of another. */
VkResult vk_memory_allocate(vk_device *d, const VkMemoryRequirements *requirements, uint32_t type, vk_allocation *out)
{
    vk_memory_pool *pool = &d->memory_pool;
    memset(out, 0, sizeof *out);
    VkMemoryPropertyFlags flags = d->memory.memoryTypes[type].propertyFlags;
    int coherent = !(flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) || (flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    VkDeviceSize size = requirements->size ? requirements->size : 1;
    VkDeviceSize alignment = requirements->alignment ? requirements->alignment : 1;
    if (!coherent) {
        VkDeviceSize atom = d->properties.limits.nonCoherentAtomSize ? d->properties.limits.nonCoherentAtomSize : 1;
        if (atom > alignment) alignment = atom;
        size = align_up(size, atom);
    }
    VkDeviceSize preferred = preferred_block_size(d, type);
    vk_memory_block *block = NULL;
    uint64_t offset = 0;
    VkResult result = VK_SUCCESS;
    int created = 1;
    /* a block of its own when sharing would waste the rest of a block, or when the alignment is no power of
     * two (the spec promises one; offset 0 satisfies any) */
    int dedicated = size > preferred / 2 || (alignment & (alignment - 1)) != 0;
    if (dedicated) {
        result = block_create(d, type, size, size, 1, &block);
        alignment = 1;
    } else {
        unsigned shared_blocks = 0;
        for (vk_memory_block *b = pool->blocks; b && !block; b = b->next) {
            if (b->type != type || b->dedicated) continue;
            shared_blocks++;
            if (vk_range_allocate(&b->ranges, size, alignment, &offset) == 0) block = b;
        }
        created = block == NULL;
        if (created) {
            unsigned step = shared_blocks < BLOCK_GROWTH_STEPS ? BLOCK_GROWTH_STEPS - shared_blocks : 0;
            VkDeviceSize block_size = preferred >> step;
            while (block_size < size)
                block_size *= 2;
            result = block_create(d, type, block_size, size, 0, &block);
        }
    }
    if (result != VK_SUCCESS) return result;
    if (created) {
        if (vk_range_allocate(&block->ranges, size, alignment, &offset) != 0) {
            block_destroy(d, block);
            return VK_ERROR_OUT_OF_HOST_MEMORY;
        }
    }
    pool->ranges_placed++;
    out->block = block;
    out->offset = offset;
    out->size = size;
    out->mapped = block->mapped ? (unsigned char *)block->mapped + offset : NULL;
    out->coherent = coherent;
    return VK_SUCCESS;
}

void vk_memory_free(vk_device *d, vk_allocation *allocation)
{
    vk_memory_block *block = allocation->block;
    if (!block) return;
    if (vk_range_free(&block->ranges, allocation->offset, allocation->size) != 0)
        vk_log(d->backend, LOWBIT_LOG_ERROR, "vulkan: freeing %llu bytes at %llu of a memory block that are not in use",
               (unsigned long long)allocation->size, (unsigned long long)allocation->offset);
    if (vk_range_allocator_empty(&block->ranges)) block_destroy(d, block);
    memset(allocation, 0, sizeof *allocation);
}

VkResult vk_memory_flush(vk_device *d, const vk_allocation *allocation, int invalidate)
{
    if (!allocation->block || !allocation->mapped || allocation->coherent) return VK_SUCCESS;
    /* offset and size are whole atoms here (vk_memory_allocate) */
    VkMappedMemoryRange range = {
        .sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
        .memory = allocation->block->memory,
        .offset = allocation->offset,
        .size = allocation->size,
    };
    return invalidate ? d->vk.vkInvalidateMappedMemoryRanges(d->device, 1, &range)
                      : d->vk.vkFlushMappedMemoryRanges(d->device, 1, &range);
}

void vk_memory_pool_release(vk_device *d)
{
    vk_memory_pool *pool = &d->memory_pool;
    if (pool->blocks)
        vk_log(d->backend, LOWBIT_LOG_WARN, "vulkan: %s destroyed with %u memory blocks still in use", d->info.id,
               pool->live_allocations);
    while (pool->blocks)
        block_destroy(d, pool->blocks);
    if (pool->allocations_made)
        vk_log(d->backend, LOWBIT_LOG_DEBUG,
               "vulkan: %s made %llu device-memory allocations for %llu buffers, at most %u alive at once (limit %u)",
               d->info.id, (unsigned long long)pool->allocations_made, (unsigned long long)pool->ranges_placed,
               pool->peak_allocations, pool->allocation_limit);
    pool->live_allocations = pool->peak_allocations = 0;
    pool->allocations_made = pool->ranges_placed = 0;
}
