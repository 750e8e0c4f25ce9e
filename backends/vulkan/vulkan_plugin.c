/* vulkan_plugin.c — the plugin entry point and backend lifecycle: ABI check, vtable, lazy probing
 * (libvulkan opened on the first device_count), device_info and teardown. */
#include "vulkan_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lowbit_status probe_locked(vk_backend *backend)
{
    if (backend->probed) return LOWBIT_OK;
    backend->probed = 1;
    backend->probing = 1;
    const char *why = NULL;
    if (vk_loader_open(backend, &why) != LOWBIT_OK) {
        backend->probing = 0;
        vk_log(backend, LOWBIT_LOG_INFO, "vulkan: no devices: %s", why);
        return LOWBIT_OK;
    }
    lowbit_status status = vk_instance_create(backend);
    if (status == LOWBIT_OK) status = vk_probe_devices(backend);
    backend->probing = 0;
    if (status != LOWBIT_OK) {
        /* A broken driver or a loader without ICDs is not an error for the host: no Vulkan devices. */
        vk_log(backend, LOWBIT_LOG_INFO, "vulkan: no devices: %s",
               backend->probe_failure[0] ? backend->probe_failure : "instance setup failed");
        free(backend->devices);
        backend->devices = NULL;
        backend->device_count = 0;
        if (backend->instance) {
            if (backend->messenger && backend->vk.vkDestroyDebugUtilsMessengerEXT)
                backend->vk.vkDestroyDebugUtilsMessengerEXT(backend->instance, backend->messenger, NULL);
            if (backend->vk.vkDestroyInstance) backend->vk.vkDestroyInstance(backend->instance, NULL);
        }
        backend->instance = VK_NULL_HANDLE;
        backend->messenger = VK_NULL_HANDLE;
        vk_loader_close(backend);
    }
    return LOWBIT_OK;
}

static lowbit_status backend_device_count(void *self, size_t *count)
{
    vk_backend *backend = self;
    if (!count) return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: count is NULL");
    pthread_mutex_lock(&backend->mutex);
    lowbit_status status = probe_locked(backend);
    *count = backend->device_count;
    pthread_mutex_unlock(&backend->mutex);
    return status;
}

static lowbit_status backend_device_info(void *self, size_t device, lowbit_device_info *info)
{
    vk_backend *backend = self;
    size_t count = 0;
    lowbit_status status = backend_device_count(self, &count);
    if (status != LOWBIT_OK) return status;
    if (!info || info->struct_size == 0)
        return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: info is NULL or has struct_size 0");
    if (device >= count)
        return vk_error(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "vulkan: device %zu out of range (%zu devices)", device,
                        count);
    size_t caller_size = info->struct_size;
    size_t bytes = caller_size < sizeof *info ? caller_size : sizeof *info;
    memcpy(info, &backend->devices[device].info, bytes);
    info->struct_size = caller_size;
    return LOWBIT_OK;
}

static void backend_destroy(void *self)
{
    vk_backend *backend = self;
    if (!backend) return;
    for (size_t i = 0; i < backend->device_count; ++i) {
        vk_device_destroy(&backend->devices[i]);
        pthread_mutex_destroy(&backend->devices[i].mutex);
    }
    free(backend->devices);
    if (backend->instance) {
        if (backend->messenger && backend->vk.vkDestroyDebugUtilsMessengerEXT)
            backend->vk.vkDestroyDebugUtilsMessengerEXT(backend->instance, backend->messenger, NULL);
        backend->vk.vkDestroyInstance(backend->instance, NULL);
    }
    if (backend->validation_errors)
        vk_log(backend, LOWBIT_LOG_WARN, "vulkan: %lu validation errors reported", backend->validation_errors);
    vk_loader_close(backend);
    pthread_mutex_destroy(&backend->mutex);
    free(backend);
}

LOWBIT_BACKEND_EXPORT lowbit_status lowbit_backend_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                                         const lowbit_host_api *host, lowbit_backend **out)
{
    /* a newer minor only appends members this plugin does not use */
    if (!host || !out) return LOWBIT_ERROR_INVALID_ARGUMENT;
    *out = NULL;
    if (host_abi_major != LOWBIT_BACKEND_ABI_MAJOR) {
        char message[160];
        snprintf(message, sizeof message,
                 "vulkan: plugin built for backend ABI %u.%u, host speaks %u.%u (major differs)",
                 LOWBIT_BACKEND_ABI_MAJOR, LOWBIT_BACKEND_ABI_MINOR, host_abi_major, host_abi_minor);
        if (host->set_error) host->set_error(message);
        return LOWBIT_ERROR_PLUGIN;
    }
    if (host->struct_size < offsetof(lowbit_host_api, cache_dir) + sizeof host->cache_dir) {
        if (host->set_error) host->set_error("vulkan: host API struct too small");
        return LOWBIT_ERROR_PLUGIN;
    }
    vk_backend *backend = calloc(1, sizeof *backend);
    if (!backend) {
        if (host->set_error) host->set_error("vulkan: out of host memory");
        return LOWBIT_ERROR_OUT_OF_MEMORY;
    }
    backend->host = host;
    /* the context's parameters (appended to the host API in 0.3): validated by the host, parsed once here */
    if (host->struct_size >= offsetof(lowbit_host_api, params) + sizeof host->params) {
        char why[160];
        if (lowbit_params_parse_for(host->params, LOWBIT_PARAM_VULKAN, &backend->params, why, sizeof why) != 0)
            vk_log(backend, LOWBIT_LOG_WARN, "vulkan: %s; using the defaults", why);
    }
    if (getenv("LOWBIT_VULKAN_PARAMS") || getenv("LOWBIT_VULKAN_GEMM"))
        vk_log(backend, LOWBIT_LOG_WARN,
               "vulkan: LOWBIT_VULKAN_PARAMS and LOWBIT_VULKAN_GEMM are deprecated and go in the next version; write "
               "LOWBIT_PARAMS=vulkan.wg=N,vulkan.rows=N,vulkan.layout=row|coop (and vulkan.tile_rows, tile_n, tile_k, "
               "item_rows, item_n, gemm_min, gemm=0|1) instead");
    pthread_mutex_init(&backend->mutex, NULL);
    backend->vtable = (lowbit_backend){
        .struct_size = sizeof(lowbit_backend),
        .abi_major = LOWBIT_BACKEND_ABI_MAJOR,
        .abi_minor = LOWBIT_BACKEND_ABI_MINOR,
        .name = "vulkan",
        .api = LOWBIT_API_VULKAN,
        .self = backend,
        .device_count = backend_device_count,
        .device_info = backend_device_info,
        .weights_upload = vk_weights_upload,
        .weights_release = vk_weights_release,
        .matmul = vk_matmul,
        .destroy = backend_destroy,
        .measure_bandwidth = vk_measure_bandwidth,
        .buffer_create = vk_queue_buffer_create,
        .buffer_release = vk_queue_buffer_release,
        .queue_create = vk_queue_create,
        .queue_release = vk_queue_release,
        .enqueue_write = vk_enqueue_write,
        .enqueue_read = vk_enqueue_read,
        .enqueue_matmul = vk_enqueue_matmul,
        .queue_flush = vk_queue_flush,
        .queue_finish = vk_queue_finish,
        .event_wait = vk_event_wait,
        .event_query = vk_event_query,
        .event_release = vk_event_release,
    };
    *out = &backend->vtable;
    return LOWBIT_OK;
}
