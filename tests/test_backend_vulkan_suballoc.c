/* test_backend_vulkan_suballoc.c — the Vulkan plugin's memory sub-allocator without a device: the range
 * allocator (alignment, best fit, coalescing, double frees, a random workload checked against a byte map),
 * and the pool of blocks over a fake device (few vkAllocateMemory calls for many buffers, dedicated blocks,
 * the allocation-count cap, nonCoherentAtomSize, one mapping per block, halving on out-of-memory). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

#ifdef LOWBIT_TEST_HAVE_VULKAN
#include "vulkan_internal.h"

/* --- range allocator ------------------------------------------------------------------------------------ */

/* Free ranges sorted, non-empty, not touching, inside the allocator, and adding up to free_bytes. */
static void check_invariants(const vk_range_allocator *a)
{
    uint64_t total = 0;
    for (size_t i = 0; i < a->count; ++i) {
        assert_true(a->free[i].size > 0);
        assert_true(a->free[i].offset + a->free[i].size <= a->size);
        if (i > 0) assert_true(a->free[i - 1].offset + a->free[i - 1].size < a->free[i].offset);
        total += a->free[i].size;
    }
    assert_true(total == a->free_bytes);
    assert_true(a->count <= a->live + 1);
}

static uint64_t allocate(vk_range_allocator *a, uint64_t size, uint64_t alignment)
{
    uint64_t offset = UINT64_MAX;
    assert_int_equal(vk_range_allocate(a, size, alignment, &offset), 0);
    assert_true(offset % alignment == 0);
    check_invariants(a);
    return offset;
}

static void test_range_basic(void **state)
{
    (void)state;
    vk_range_allocator a;
    assert_int_equal(vk_range_allocator_init(&a, 1024), 0);
    assert_true(vk_range_allocator_empty(&a));
    assert_true(allocate(&a, 100, 1) == 0);
    assert_true(allocate(&a, 10, 64) == 128); /* [100, 128) stays free as alignment padding */
    assert_int_equal((int)a.count, 2);
    assert_true(a.free_bytes == 1024 - 110);
    assert_true(allocate(&a, 28, 4) == 100); /* exactly the padding hole */
    assert_int_equal((int)a.count, 1);
    assert_false(vk_range_allocator_empty(&a));
    assert_int_equal(vk_range_free(&a, 128, 10), 0);
    assert_int_equal(vk_range_free(&a, 0, 100), 0);
    assert_int_equal(vk_range_free(&a, 100, 28), 0);
    check_invariants(&a);
    assert_true(vk_range_allocator_empty(&a));
    assert_int_equal((int)a.count, 1);
    assert_true(a.free[0].offset == 0 && a.free[0].size == 1024);
    vk_range_allocator_release(&a);
}

static void test_range_rejects(void **state)
{
    (void)state;
    vk_range_allocator a;
    uint64_t offset = 0;
    assert_int_equal(vk_range_allocator_init(&a, 4096), 0);
    assert_int_equal(vk_range_allocate(&a, 0, 16, &offset), -1);
    assert_int_equal(vk_range_allocate(&a, 16, 0, &offset), -1);
    assert_int_equal(vk_range_allocate(&a, 16, 48, &offset), -1); /* alignment no power of two */
    assert_int_equal(vk_range_allocate(&a, 4097, 1, &offset), -1);
    assert_int_equal(vk_range_free(&a, 0, 16), -1); /* nothing handed out yet */
    uint64_t first = allocate(&a, 1000, 256), second = allocate(&a, 1000, 256);
    assert_true(first == 0 && second == 1024);
    assert_int_equal(vk_range_allocate(&a, 2100, 1, &offset), -1); /* 2096 bytes left, in two holes */
    assert_int_equal(vk_range_free(&a, second, 1000), 0);
    vk_range_allocator before = a;
    vk_range before_ranges[8];
    memcpy(before_ranges, a.free, a.count * sizeof *a.free);
    assert_int_equal(vk_range_free(&a, second, 1000), -1);      /* double free */
    assert_int_equal(vk_range_free(&a, 900, 200), -1);          /* overlaps the free hole after `first` */
    assert_int_equal(vk_range_free(&a, 4000, 200), -1);         /* past the end */
    assert_int_equal(vk_range_free(&a, UINT64_MAX - 4, 8), -1); /* wraps */
    assert_int_equal(vk_range_free(&a, first, 0), -1);
    assert_true(a.count == before.count && a.free_bytes == before.free_bytes && a.live == before.live);
    assert_memory_equal(a.free, before_ranges, a.count * sizeof *a.free);
    assert_int_equal(vk_range_free(&a, first, 1000), 0);
    assert_true(vk_range_allocator_empty(&a) && a.count == 1);
    vk_range_allocator_release(&a);
}

/* The smallest hole that fits wins, so large holes stay whole for large buffers. */
static void test_range_best_fit(void **state)
{
    (void)state;
    vk_range_allocator a;
    assert_int_equal(vk_range_allocator_init(&a, 2000), 0);
    uint64_t hole300 = allocate(&a, 300, 1);
    allocate(&a, 10, 1);
    uint64_t hole100 = allocate(&a, 100, 1);
    allocate(&a, 10, 1);
    uint64_t hole200 = allocate(&a, 200, 1);
    allocate(&a, 10, 1);
    assert_int_equal(vk_range_free(&a, hole300, 300), 0);
    assert_int_equal(vk_range_free(&a, hole100, 100), 0);
    assert_int_equal(vk_range_free(&a, hole200, 200), 0);
    check_invariants(&a);
    assert_true(allocate(&a, 90, 1) == hole100);
    assert_true(allocate(&a, 150, 1) == hole200);
    assert_true(allocate(&a, 250, 1) == hole300);
    vk_range_allocator_release(&a);
}

/* Eight ranges fill the allocator; freeing them in a scattered order merges neighbours both ways. */
static void test_range_coalescing(void **state)
{
    (void)state;
    vk_range_allocator a;
    assert_int_equal(vk_range_allocator_init(&a, 1024), 0);
    for (int i = 0; i < 8; ++i)
        assert_true(allocate(&a, 128, 128) == (uint64_t)i * 128);
    assert_int_equal((int)a.count, 0);
    static const int order[] = {1, 3, 5, 7, 2, 6, 0, 4};
    static const int ranges_after[] = {1, 2, 3, 4, 3, 2, 2, 1};
    for (int i = 0; i < 8; ++i) {
        assert_int_equal(vk_range_free(&a, (uint64_t)order[i] * 128, 128), 0);
        check_invariants(&a);
        assert_int_equal((int)a.count, ranges_after[i]);
    }
    assert_true(vk_range_allocator_empty(&a) && a.free[0].size == 1024);
    vk_range_allocator_release(&a);
}

static uint64_t next_random(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 33;
}

/* Random sizes and alignments, allocated and freed in random order: every range aligned, inside, and owned
 * by one allocation only (a byte map of owners), the free list consistent after every step. */
static void test_range_random_workload(void **state)
{
    (void)state;
    enum { SIZE = 1 << 18, SLOTS = 256, STEPS = 20000 };
    vk_range_allocator a;
    assert_int_equal(vk_range_allocator_init(&a, SIZE), 0);
    uint16_t *owner = calloc(SIZE, sizeof *owner);
    struct {
        uint64_t offset, size;
    } slots[SLOTS] = {{0, 0}};
    assert_non_null(owner);
    uint64_t random = 42, used = 0;
    unsigned failures = 0;
    for (int step = 0; step < STEPS; ++step) {
        size_t slot = (size_t)(next_random(&random) % SLOTS);
        if (slots[slot].size) {
            for (uint64_t b = slots[slot].offset; b < slots[slot].offset + slots[slot].size; ++b) {
                assert_int_equal(owner[b], slot + 1);
                owner[b] = 0;
            }
            assert_int_equal(vk_range_free(&a, slots[slot].offset, slots[slot].size), 0);
            used -= slots[slot].size;
            slots[slot].size = 0;
        } else {
            uint64_t size = 1 + next_random(&random) % 4000, alignment = 1ull << (next_random(&random) % 13);
            uint64_t offset = 0;
            if (vk_range_allocate(&a, size, alignment, &offset) != 0) {
                failures++;
                continue;
            }
            assert_true(offset % alignment == 0 && offset + size <= SIZE);
            for (uint64_t b = offset; b < offset + size; ++b) {
                assert_int_equal(owner[b], 0);
                owner[b] = (uint16_t)(slot + 1);
            }
            slots[slot].offset = offset;
            slots[slot].size = size;
            used += size;
        }
        check_invariants(&a);
        assert_true(a.free_bytes == SIZE - used);
    }
    assert_true(failures < STEPS / 10); /* the workload mostly fits: the test exercised placement, not refusal */
    for (size_t slot = 0; slot < SLOTS; ++slot)
        if (slots[slot].size) assert_int_equal(vk_range_free(&a, slots[slot].offset, slots[slot].size), 0);
    assert_true(vk_range_allocator_empty(&a) && a.count == 1 && a.free_bytes == SIZE);
    free(owner);
    vk_range_allocator_release(&a);
}

/* --- the pool over a fake device ------------------------------------------------------------------------ */

typedef struct fake_memory {
    VkDeviceSize size;
    uint32_t type;
    unsigned char *bytes; /* what a mapping sees (host-visible types only) */
    int mapped;
} fake_memory;

static struct {
    unsigned allocations, frees, maps, flushes, invalidates, errors_logged;
    VkDeviceSize fail_above; /* vkAllocateMemory: VK_ERROR_OUT_OF_DEVICE_MEMORY above this size (0: never) */
    int fail_map;
    VkMappedMemoryRange last_range;
} fake;

static VKAPI_ATTR VkResult VKAPI_CALL fake_allocate(VkDevice device, const VkMemoryAllocateInfo *info,
                                                    const VkAllocationCallbacks *callbacks, VkDeviceMemory *memory)
{
    (void)device, (void)callbacks;
    if (fake.fail_above && info->allocationSize > fake.fail_above) return VK_ERROR_OUT_OF_DEVICE_MEMORY;
    fake_memory *m = calloc(1, sizeof *m);
    if (!m) return VK_ERROR_OUT_OF_HOST_MEMORY;
    m->size = info->allocationSize;
    m->type = info->memoryTypeIndex;
    fake.allocations++;
    *memory = (VkDeviceMemory)(void *)m;
    return VK_SUCCESS;
}

static VKAPI_ATTR void VKAPI_CALL fake_free(VkDevice device, VkDeviceMemory memory,
                                            const VkAllocationCallbacks *callbacks)
{
    (void)device, (void)callbacks;
    fake_memory *m = (fake_memory *)(void *)memory;
    assert_false(m->mapped); /* unmapped before it is freed */
    free(m->bytes);
    free(m);
    fake.frees++;
}

static VKAPI_ATTR VkResult VKAPI_CALL fake_map(VkDevice device, VkDeviceMemory memory, VkDeviceSize offset,
                                               VkDeviceSize size, VkMemoryMapFlags flags, void **data)
{
    (void)device, (void)flags;
    fake_memory *m = (fake_memory *)(void *)memory;
    assert_false(m->mapped); /* mapping memory that is already mapped is invalid Vulkan */
    assert_true(offset == 0 && size == VK_WHOLE_SIZE);
    if (fake.fail_map) return VK_ERROR_MEMORY_MAP_FAILED;
    if (!m->bytes) m->bytes = calloc(1, (size_t)m->size);
    if (!m->bytes) return VK_ERROR_OUT_OF_HOST_MEMORY;
    m->mapped = 1;
    fake.maps++;
    *data = m->bytes;
    return VK_SUCCESS;
}

static VKAPI_ATTR void VKAPI_CALL fake_unmap(VkDevice device, VkDeviceMemory memory)
{
    (void)device;
    fake_memory *m = (fake_memory *)(void *)memory;
    assert_true(m->mapped);
    m->mapped = 0;
}

static VKAPI_ATTR VkResult VKAPI_CALL fake_flush(VkDevice device, uint32_t count, const VkMappedMemoryRange *ranges)
{
    (void)device;
    assert_int_equal(count, 1);
    fake.flushes++;
    fake.last_range = ranges[0];
    return VK_SUCCESS;
}

static VKAPI_ATTR VkResult VKAPI_CALL fake_invalidate(VkDevice device, uint32_t count,
                                                      const VkMappedMemoryRange *ranges)
{
    (void)device;
    assert_int_equal(count, 1);
    fake.invalidates++;
    fake.last_range = ranges[0];
    return VK_SUCCESS;
}

/* vulkan_suballoc.c logs through the plugin's vk_log (vulkan_device.c, not linked here). */
void vk_log(vk_backend *backend, lowbit_log_level level, const char *format, ...)
{
    (void)backend, (void)format;
    if (level == LOWBIT_LOG_ERROR) fake.errors_logged++;
}

enum {
    TYPE_DEVICE = 0,       /* device-local, on an 8 GiB heap: 64 MiB blocks, the first 8 MiB */
    TYPE_HOST = 1,         /* host-visible, not coherent, on a 256 MiB heap: 32 MiB blocks, the first 4 MiB */
    TYPE_HOST_COHERENT = 2 /* host-visible and coherent, same heap */
};
#define ATOM 256u

static vk_device *fake_device(void)
{
    memset(&fake, 0, sizeof fake);
    vk_device *d = calloc(1, sizeof *d);
    assert_non_null(d);
    snprintf(d->info.id, sizeof d->info.id, "vulkan:fake");
    d->device = (VkDevice)(void *)d;
    d->memory.memoryHeapCount = 2;
    d->memory.memoryHeaps[0] = (VkMemoryHeap){8ull << 30, VK_MEMORY_HEAP_DEVICE_LOCAL_BIT};
    d->memory.memoryHeaps[1] = (VkMemoryHeap){256ull << 20, 0};
    d->memory.memoryTypeCount = 3;
    d->memory.memoryTypes[TYPE_DEVICE] = (VkMemoryType){VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0};
    d->memory.memoryTypes[TYPE_HOST] = (VkMemoryType){VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 1};
    d->memory.memoryTypes[TYPE_HOST_COHERENT] =
        (VkMemoryType){VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, 1};
    d->properties.limits.nonCoherentAtomSize = ATOM;
    d->memory_pool.allocation_limit = 4096;
    d->memory_pool.allocation_size = 1ull << 30;
    d->vk.vkAllocateMemory = fake_allocate;
    d->vk.vkFreeMemory = fake_free;
    d->vk.vkMapMemory = fake_map;
    d->vk.vkUnmapMemory = fake_unmap;
    d->vk.vkFlushMappedMemoryRanges = fake_flush;
    d->vk.vkInvalidateMappedMemoryRanges = fake_invalidate;
    return d;
}

static void fake_device_destroy(vk_device *d)
{
    vk_memory_pool_release(d);
    assert_null(d->memory_pool.blocks);
    assert_int_equal(fake.frees, fake.allocations);
    free(d);
}

static unsigned block_count(const vk_device *d)
{
    unsigned count = 0;
    for (const vk_memory_block *b = d->memory_pool.blocks; b; b = b->next)
        count++;
    return count;
}

/* No two allocations of the same block overlap. */
static void check_disjoint(const vk_allocation *allocations, size_t count)
{
    for (size_t i = 0; i < count; ++i)
        for (size_t j = i + 1; j < count; ++j)
            if (allocations[i].block == allocations[j].block)
                assert_true(allocations[i].offset + allocations[i].size <= allocations[j].offset ||
                            allocations[j].offset + allocations[j].size <= allocations[i].offset);
}

/* 300 small buffers (the weights of a small model) in one block; a model's worth of 1 MiB buffers in a
 * handful; all memory given back, block by block, as they are freed. */
static void test_pool_many_buffers_few_allocations(void **state)
{
    (void)state;
    vk_device *d = fake_device();
    enum { SMALL = 300, LARGE = 200 };
    static vk_allocation small[SMALL], large[LARGE];
    for (size_t i = 0; i < SMALL; ++i) {
        VkMemoryRequirements requirements = {600 + i, 256, 1u << TYPE_DEVICE};
        assert_int_equal(vk_memory_allocate(d, &requirements, TYPE_DEVICE, &small[i]), VK_SUCCESS);
        assert_true(small[i].offset % 256 == 0 && small[i].size >= requirements.size);
        assert_true(small[i].offset + small[i].size <= small[i].block->size);
        assert_null(small[i].mapped); /* device-local only: never mapped */
    }
    check_disjoint(small, SMALL);
    assert_int_equal(fake.allocations, 1);
    assert_true(d->memory_pool.blocks->size == (8u << 20)); /* the first block: an eighth of 64 MiB */
    for (size_t i = 0; i < LARGE; ++i) {
        VkMemoryRequirements requirements = {1u << 20, 4096, 1u << TYPE_DEVICE};
        assert_int_equal(vk_memory_allocate(d, &requirements, TYPE_DEVICE, &large[i]), VK_SUCCESS);
    }
    check_disjoint(large, LARGE);
    /* 200 MiB + the small ones in blocks of 8, 16, 32, then 64 MiB: a handful of allocations */
    assert_true(fake.allocations <= 6);
    assert_int_equal(d->memory_pool.live_allocations, block_count(d));
    assert_int_equal(fake.maps, 0);
    assert_true(d->memory_pool.ranges_placed == SMALL + LARGE);
    for (size_t i = 0; i < LARGE; ++i)
        vk_memory_free(d, &large[i]);
    assert_int_equal(block_count(d), 1); /* the small buffers' block only */
    for (size_t i = 0; i < SMALL; ++i) {
        vk_memory_free(d, &small[SMALL - 1 - i]);
        assert_null(small[SMALL - 1 - i].block);
    }
    assert_null(d->memory_pool.blocks);
    assert_int_equal(d->memory_pool.live_allocations, 0);
    assert_int_equal(fake.frees, fake.allocations);
    assert_int_equal(fake.errors_logged, 0);
    fake_device_destroy(d);
}

/* A buffer over half a block (or with an odd alignment) gets a block of its own, freed with it; memory types
 * never share blocks. */
static void test_pool_dedicated_and_types(void **state)
{
    (void)state;
    vk_device *d = fake_device();
    vk_allocation big, small, host;
    VkMemoryRequirements big_requirements = {40u << 20, 256, 1u << TYPE_DEVICE};
    assert_int_equal(vk_memory_allocate(d, &big_requirements, TYPE_DEVICE, &big), VK_SUCCESS);
    assert_true(big.block->dedicated && big.block->size == (40u << 20) && big.offset == 0);
    VkMemoryRequirements small_requirements = {1000, 64, 7};
    assert_int_equal(vk_memory_allocate(d, &small_requirements, TYPE_DEVICE, &small), VK_SUCCESS);
    assert_true(small.block != big.block && !small.block->dedicated);
    assert_int_equal(vk_memory_allocate(d, &small_requirements, TYPE_HOST_COHERENT, &host), VK_SUCCESS);
    assert_true(host.block != small.block && host.block->type == TYPE_HOST_COHERENT);
    assert_int_equal(fake.allocations, 3);
    vk_allocation odd; /* an alignment that is no power of two: offset 0 of a block of its own satisfies it */
    VkMemoryRequirements odd_requirements = {1000, 48, 1};
    assert_int_equal(vk_memory_allocate(d, &odd_requirements, TYPE_DEVICE, &odd), VK_SUCCESS);
    assert_true(odd.block->dedicated && odd.offset == 0 && odd.block->size == 1000);
    vk_memory_free(d, &odd);
    assert_int_equal(fake.frees, 1);
    vk_memory_free(d, &big);
    assert_int_equal(fake.frees, 2);
    vk_memory_free(d, &small);
    vk_memory_free(d, &host);
    assert_int_equal(fake.frees, 4);
    fake_device_destroy(d);
}

/* At the pool's allocation_limit (maxMemoryAllocationCount or LOWBIT_VULKAN_MAX_ALLOCATIONS) a buffer that
 * needs a new block is refused with VK_ERROR_TOO_MANY_OBJECTS, and nothing leaks; room in a block is used. */
static void test_pool_allocation_limit(void **state)
{
    (void)state;
    vk_device *d = fake_device();
    d->memory_pool.allocation_limit = 2;
    vk_allocation first, second, refused, fits, again;
    VkMemoryRequirements block_sized = {6u << 20, 256, 1}, tiny = {4096, 256, 1};
    assert_int_equal(vk_memory_allocate(d, &block_sized, TYPE_DEVICE, &first), VK_SUCCESS);  /* 8 MiB block */
    assert_int_equal(vk_memory_allocate(d, &block_sized, TYPE_DEVICE, &second), VK_SUCCESS); /* 16 MiB block */
    assert_int_equal(fake.allocations, 2);
    VkMemoryRequirements too_big = {12u << 20, 256, 1}; /* room in neither block */
    assert_int_equal(vk_memory_allocate(d, &too_big, TYPE_DEVICE, &refused), VK_ERROR_TOO_MANY_OBJECTS);
    assert_null(refused.block);
    VkMemoryRequirements dedicated = {100u << 20, 256, 1};
    assert_int_equal(vk_memory_allocate(d, &dedicated, TYPE_DEVICE, &refused), VK_ERROR_TOO_MANY_OBJECTS);
    assert_int_equal(vk_memory_allocate(d, &tiny, TYPE_HOST_COHERENT, &refused), VK_ERROR_TOO_MANY_OBJECTS);
    assert_int_equal(vk_memory_allocate(d, &tiny, TYPE_DEVICE, &fits), VK_SUCCESS); /* room in a block */
    assert_int_equal(fake.allocations, 2);
    assert_int_equal(d->memory_pool.live_allocations, 2);
    assert_int_equal(d->memory_pool.peak_allocations, 2);
    vk_memory_free(d, &first);
    vk_memory_free(d, &fits);
    assert_int_equal(fake.frees, 1); /* the first block emptied, the second still holds `second` */
    assert_int_equal(vk_memory_allocate(d, &too_big, TYPE_DEVICE, &again), VK_SUCCESS);
    vk_memory_free(d, &again);
    vk_memory_free(d, &second);
    d->memory_pool.allocation_limit = 0; /* a malformed LOWBIT_VULKAN_MAX_ALLOCATIONS: nothing at all */
    assert_int_equal(vk_memory_allocate(d, &tiny, TYPE_DEVICE, &refused), VK_ERROR_TOO_MANY_OBJECTS);
    fake_device_destroy(d);
}

/* Host-visible memory: each block mapped once, buffers see the block's mapping at their offset; in
 * non-coherent memory ranges are whole atoms, so flushes name exactly the buffer's range and neighbours
 * never share an atom. Bytes written through one buffer's pointer never reach another's. */
static void test_pool_mapping_and_atoms(void **state)
{
    (void)state;
    vk_device *d = fake_device();
    enum { COUNT = 64 };
    vk_allocation allocations[COUNT];
    for (size_t i = 0; i < COUNT; ++i) {
        VkMemoryRequirements requirements = {100 + 37 * i, 4, 1u << TYPE_HOST};
        assert_int_equal(vk_memory_allocate(d, &requirements, TYPE_HOST, &allocations[i]), VK_SUCCESS);
        vk_allocation *a = &allocations[i];
        assert_true(a->offset % ATOM == 0 && a->size % ATOM == 0 && a->size >= requirements.size);
        assert_false(a->coherent);
        assert_ptr_equal(a->mapped, (unsigned char *)a->block->mapped + a->offset);
        memset(a->mapped, (int)(i + 1), (size_t)requirements.size);
        assert_int_equal(vk_memory_flush(d, a, 0), VK_SUCCESS);
        assert_true(fake.last_range.memory == a->block->memory && fake.last_range.offset == a->offset &&
                    fake.last_range.size == a->size);
    }
    assert_int_equal(fake.maps, block_count(d));
    assert_int_equal(fake.flushes, COUNT);
    assert_int_equal(vk_memory_flush(d, &allocations[3], 1), VK_SUCCESS);
    assert_int_equal(fake.invalidates, 1);
    check_disjoint(allocations, COUNT);
    for (size_t i = 0; i < COUNT; ++i)
        for (size_t b = 0; b < 100 + 37 * i; ++b)
            assert_int_equal(((unsigned char *)allocations[i].mapped)[b], i + 1);
    /* coherent memory needs no flush: none is issued */
    vk_allocation coherent;
    VkMemoryRequirements requirements = {100, 4, 1u << TYPE_HOST_COHERENT};
    assert_int_equal(vk_memory_allocate(d, &requirements, TYPE_HOST_COHERENT, &coherent), VK_SUCCESS);
    assert_true(coherent.coherent && coherent.size == 100 && coherent.mapped);
    assert_int_equal(vk_memory_flush(d, &coherent, 0), VK_SUCCESS);
    assert_int_equal(fake.flushes, COUNT);
    vk_memory_free(d, &coherent);
    for (size_t i = 0; i < COUNT; ++i)
        vk_memory_free(d, &allocations[i]);
    fake_device_destroy(d);
}

/* vkAllocateMemory out of device memory: a new shared block is retried at half the size while the buffer
 * still fits; a dedicated one fails as the driver said. A failed mapping gives the block back. */
static void test_pool_device_memory_failures(void **state)
{
    (void)state;
    vk_device *d = fake_device();
    fake.fail_above = 2u << 20; /* the first block would be 8 MiB */
    vk_allocation a, refused;
    VkMemoryRequirements requirements = {1u << 20, 256, 1};
    assert_int_equal(vk_memory_allocate(d, &requirements, TYPE_DEVICE, &a), VK_SUCCESS);
    assert_true(a.block->size == (2u << 20));
    VkMemoryRequirements larger = {3u << 20, 256, 1};
    assert_int_equal(vk_memory_allocate(d, &larger, TYPE_DEVICE, &refused), VK_ERROR_OUT_OF_DEVICE_MEMORY);
    VkMemoryRequirements dedicated = {40u << 20, 256, 1};
    assert_int_equal(vk_memory_allocate(d, &dedicated, TYPE_DEVICE, &refused), VK_ERROR_OUT_OF_DEVICE_MEMORY);
    assert_int_equal(d->memory_pool.live_allocations, 1);
    vk_memory_free(d, &a);
    fake.fail_above = 0;
    fake.fail_map = 1;
    assert_int_equal(vk_memory_allocate(d, &requirements, TYPE_HOST_COHERENT, &refused), VK_ERROR_MEMORY_MAP_FAILED);
    assert_null(refused.block);
    assert_int_equal(d->memory_pool.live_allocations, 0);
    assert_int_equal(fake.frees, fake.allocations);
    fake_device_destroy(d);
}

/* Freeing a range twice is reported (error log) and changes nothing; releasing the pool frees what is left. */
static void test_pool_bad_free_and_release(void **state)
{
    (void)state;
    vk_device *d = fake_device();
    vk_allocation a, b;
    VkMemoryRequirements requirements = {4096, 256, 1};
    assert_int_equal(vk_memory_allocate(d, &requirements, TYPE_DEVICE, &a), VK_SUCCESS);
    assert_int_equal(vk_memory_allocate(d, &requirements, TYPE_DEVICE, &b), VK_SUCCESS);
    vk_allocation copy = a;
    vk_memory_free(d, &a);
    assert_null(a.block);
    vk_memory_free(d, &a); /* cleared by the first free: nothing happens */
    vk_memory_free(d, &copy);
    assert_int_equal(fake.errors_logged, 1);
    assert_int_equal(d->memory_pool.live_allocations, 1); /* b still holds the block */
    fake_device_destroy(d);                               /* releases b's block */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_basic),
        cmocka_unit_test(test_range_rejects),
        cmocka_unit_test(test_range_best_fit),
        cmocka_unit_test(test_range_coalescing),
        cmocka_unit_test(test_range_random_workload),
        cmocka_unit_test(test_pool_many_buffers_few_allocations),
        cmocka_unit_test(test_pool_dedicated_and_types),
        cmocka_unit_test(test_pool_allocation_limit),
        cmocka_unit_test(test_pool_mapping_and_atoms),
        cmocka_unit_test(test_pool_device_memory_failures),
        cmocka_unit_test(test_pool_bad_free_and_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
int main(void)
{
    printf("test_backend_vulkan_suballoc: built without the Vulkan headers, nothing to test\n");
    return 0;
}
#endif
