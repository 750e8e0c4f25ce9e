/* vulkan_pipeline_cache.c — loads and saves each device's VkPipelineCache under host->cache_dir(), in
 * a file keyed by vendor/device/driver/pipelineCacheUUID with a magic header, written atomically. */
#include "vulkan_pipeline_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CACHE_MAGIC "LBVKPC01"

typedef struct cache_header {
    char magic[8];
    uint32_t vendor, device, driver, reserved;
    uint8_t uuid[VK_UUID_SIZE];
    uint64_t data_size;
} cache_header;

static int cache_path(vk_device *d, char *path, size_t size)
{
    const char *dir = d->backend->host->cache_dir ? d->backend->host->cache_dir() : NULL;
    if (!dir || !dir[0]) return 0;
    char uuid[2 * VK_UUID_SIZE + 1];
    for (unsigned i = 0; i < VK_UUID_SIZE; ++i)
        snprintf(uuid + 2 * i, 3, "%02x", d->properties.pipelineCacheUUID[i]);
    int written = snprintf(path, size, "%s/vulkan-%04x-%04x-%08x-%s.cache", dir, d->properties.vendorID,
                           d->properties.deviceID, d->properties.driverVersion, uuid);
    return written > 0 && (size_t)written < size;
}

static void header_fill(const vk_device *d, cache_header *header, uint64_t data_size)
{
    memset(header, 0, sizeof *header);
    memcpy(header->magic, CACHE_MAGIC, sizeof header->magic);
    header->vendor = d->properties.vendorID;
    header->device = d->properties.deviceID;
    header->driver = d->properties.driverVersion;
    memcpy(header->uuid, d->properties.pipelineCacheUUID, VK_UUID_SIZE);
    header->data_size = data_size;
}

/* Reads the cached blob when the file's header matches this device; NULL otherwise. */
static void *cache_read(vk_device *d, const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (!file) return NULL;
    cache_header stored, expected;
    void *data = NULL;
    if (fread(&stored, sizeof stored, 1, file) == 1) {
        header_fill(d, &expected, stored.data_size);
        if (memcmp(&stored, &expected, sizeof stored) == 0 && stored.data_size > 0 &&
            stored.data_size < ((uint64_t)1 << 30)) {
            data = malloc(stored.data_size);
            if (data && fread(data, 1, stored.data_size, file) != stored.data_size) {
                free(data);
                data = NULL;
            }
            *size = data ? stored.data_size : 0;
        }
    }
    fclose(file);
    return data;
}

lowbit_status vk_pipeline_cache_open(vk_device *d)
{
    char path[1024];
    size_t size = 0;
    void *data = cache_path(d, path, sizeof path) ? cache_read(d, path, &size) : NULL;
    VkPipelineCacheCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
        .initialDataSize = size,
        .pInitialData = data,
    };
    VkResult result = d->vk.vkCreatePipelineCache(d->device, &info, NULL, &d->pipeline_cache);
    if (result != VK_SUCCESS && data) { /* a stale blob the driver rejects: start empty */
        info.initialDataSize = 0;
        info.pInitialData = NULL;
        result = d->vk.vkCreatePipelineCache(d->device, &info, NULL, &d->pipeline_cache);
    }
    free(data);
    if (result != VK_SUCCESS) return vk_fail(d->backend, "vkCreatePipelineCache", result);
    if (size) vk_log(d->backend, LOWBIT_LOG_DEBUG, "vulkan: pipeline cache %s loaded (%zu bytes)", path, size);
    return LOWBIT_OK;
}

void vk_pipeline_cache_save(vk_device *d)
{
    char path[1024], temporary[1100];
    if (!d->pipeline_cache || !cache_path(d, path, sizeof path)) return;
    size_t size = 0;
    if (d->vk.vkGetPipelineCacheData(d->device, d->pipeline_cache, &size, NULL) != VK_SUCCESS || size == 0) return;
    void *data = malloc(size);
    if (!data) return;
    if (d->vk.vkGetPipelineCacheData(d->device, d->pipeline_cache, &size, data) != VK_SUCCESS) {
        free(data);
        return;
    }
    snprintf(temporary, sizeof temporary, "%s.%ld.tmp", path, (long)getpid());
    cache_header header;
    header_fill(d, &header, size);
    FILE *file = fopen(temporary, "wb");
    int ok = file && fwrite(&header, sizeof header, 1, file) == 1 && fwrite(data, 1, size, file) == size;
    if (file && fclose(file) != 0) ok = 0;
    if (ok && rename(temporary, path) == 0) {
        vk_log(d->backend, LOWBIT_LOG_DEBUG, "vulkan: pipeline cache saved to %s (%zu bytes)", path, size);
    } else {
        if (file) remove(temporary);
        vk_log(d->backend, LOWBIT_LOG_DEBUG, "vulkan: could not write pipeline cache %s", path);
    }
    free(data);
}
