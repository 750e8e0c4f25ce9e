/* vulkan_pipeline_cache.h — the per-device VkPipelineCache, persisted under the host's cache folder. */
#ifndef LOWBIT_VULKAN_PIPELINE_CACHE_H
#define LOWBIT_VULKAN_PIPELINE_CACHE_H

#include "vulkan_internal.h"

/* Creates d->pipeline_cache, seeded from disk when a matching file exists. */
lowbit_status vk_pipeline_cache_open(vk_device *d);
/* Writes the cache back (temporary file, then rename); failures are logged, never fatal. */
void vk_pipeline_cache_save(vk_device *d);

#endif
