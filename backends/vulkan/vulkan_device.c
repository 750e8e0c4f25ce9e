/* vulkan_device.c — the VkInstance (with optional validation layers), lazy logical-device creation,
 * one-shot command submission, and the mapping of VkResult onto lowbit statuses and messages. */
#include "vulkan_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vk_log(vk_backend *backend, lowbit_log_level level, const char *format, ...)
{
    if (!backend->host->log) return;
    char message[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    backend->host->log(level, message);
}

lowbit_status vk_error(vk_backend *backend, lowbit_status status, const char *format, ...)
{
    char message[512];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    if (!backend->probing) {
        if (backend->host->set_error) backend->host->set_error(message);
    } else { /* while probing, failures are not errors of the caller's call: keep them for the info log */
        snprintf(backend->probe_failure, sizeof backend->probe_failure, "%s", message);
    }
    vk_log(backend, LOWBIT_LOG_DEBUG, "%s", message);
    return status;
}

const char *vk_result_name(VkResult result)
{
    switch (result) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED: return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    case VK_ERROR_INVALID_SHADER_NV: return "VK_ERROR_INVALID_SHADER_NV";
    case VK_PIPELINE_COMPILE_REQUIRED: return "VK_PIPELINE_COMPILE_REQUIRED";
    default: return "VkResult";
    }
}

lowbit_status vk_fail_kept(vk_backend *backend, const char *call, VkResult result, char *message, size_t size)
{
    lowbit_status status = LOWBIT_ERROR_DEVICE;
    const char *detail = "";
    if (result == VK_ERROR_OUT_OF_HOST_MEMORY || result == VK_ERROR_OUT_OF_DEVICE_MEMORY)
        status = LOWBIT_ERROR_OUT_OF_MEMORY;
    if (result == VK_ERROR_DEVICE_LOST) detail = ": device lost";
    snprintf(message, size, "vulkan: %s failed with %s (%d)%s", call, vk_result_name(result), (int)result, detail);
    return vk_error(backend, status, "%s", message);
}

lowbit_status vk_fail(vk_backend *backend, const char *call, VkResult result)
{
    char message[256];
    return vk_fail_kept(backend, call, result, message, sizeof message);
}

/* --- instance -------------------------------------------------------------------------------------- */

static VKAPI_ATTR VkBool32 VKAPI_CALL debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                    VkDebugUtilsMessageTypeFlagsEXT types,
                                                    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    vk_backend *backend = user;
    (void)types;
    lowbit_log_level level = LOWBIT_LOG_DEBUG;
    if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
        level = LOWBIT_LOG_ERROR;
        __atomic_add_fetch(&backend->validation_errors, 1, __ATOMIC_RELAXED);
    } else if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
        level = LOWBIT_LOG_WARN;
    }
    vk_log(backend, level, "vulkan validation: %s", data && data->pMessage ? data->pMessage : "(no message)");
    return VK_FALSE;
}

static int validation_requested(void)
{
    const char *value = getenv("LOWBIT_VULKAN_VALIDATION");
    return value && strcmp(value, "1") == 0;
}

static int instance_has_layer(vk_backend *backend, const char *name)
{
    uint32_t count = 0;
    if (backend->global.vkEnumerateInstanceLayerProperties(&count, NULL) != VK_SUCCESS || count == 0) return 0;
    VkLayerProperties *layers = calloc(count, sizeof *layers);
    int found = 0;
    if (layers && backend->global.vkEnumerateInstanceLayerProperties(&count, layers) == VK_SUCCESS)
        for (uint32_t i = 0; i < count && !found; ++i)
            found = strcmp(layers[i].layerName, name) == 0;
    free(layers);
    return found;
}

static int instance_has_extension(vk_backend *backend, const char *layer, const char *name)
{
    uint32_t count = 0;
    if (backend->global.vkEnumerateInstanceExtensionProperties(layer, &count, NULL) != VK_SUCCESS || count == 0)
        return 0;
    VkExtensionProperties *extensions = calloc(count, sizeof *extensions);
    int found = 0;
    if (extensions && backend->global.vkEnumerateInstanceExtensionProperties(layer, &count, extensions) == VK_SUCCESS)
        for (uint32_t i = 0; i < count && !found; ++i)
            found = strcmp(extensions[i].extensionName, name) == 0;
    free(extensions);
    return found;
}

lowbit_status vk_instance_create(vk_backend *backend)
{
    static const char validation_layer[] = "VK_LAYER_KHRONOS_validation";
    uint32_t version = VK_API_VERSION_1_0;
    if (backend->global.vkEnumerateInstanceVersion) backend->global.vkEnumerateInstanceVersion(&version);
    if (version < VK_API_VERSION_1_1)
        return vk_error(backend, LOWBIT_ERROR_UNSUPPORTED, "vulkan: the loader is Vulkan 1.0; lowbit needs 1.1");
    backend->instance_api = version < VK_API_VERSION_1_3 ? version : VK_API_VERSION_1_3;

    const char *layers[1];
    const char *extensions[1];
    uint32_t layer_count = 0, extension_count = 0;
    if (validation_requested()) {
        if (instance_has_layer(backend, validation_layer)) {
            layers[layer_count++] = validation_layer;
        } else {
            vk_log(backend, LOWBIT_LOG_WARN, "vulkan: LOWBIT_VULKAN_VALIDATION=1 but %s is not installed",
                   validation_layer);
        }
        if (instance_has_extension(backend, NULL, VK_EXT_DEBUG_UTILS_EXTENSION_NAME) ||
            (layer_count && instance_has_extension(backend, validation_layer, VK_EXT_DEBUG_UTILS_EXTENSION_NAME)))
            extensions[extension_count++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    }
    VkDebugUtilsMessengerCreateInfoEXT messenger_info = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity =
            VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = debug_message,
        .pUserData = backend,
    };
    VkApplicationInfo application = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "lowbit",
        .pEngineName = "lowbit",
        .apiVersion = backend->instance_api,
    };
    VkInstanceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = extension_count ? &messenger_info : NULL,
        .pApplicationInfo = &application,
        .enabledLayerCount = layer_count,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = extension_count,
        .ppEnabledExtensionNames = extensions,
    };
    VkResult result = backend->global.vkCreateInstance(&info, NULL, &backend->instance);
    if (result != VK_SUCCESS) return vk_fail(backend, "vkCreateInstance", result);
    lowbit_status status = vk_loader_load_instance(backend);
    if (status != LOWBIT_OK) return status;
    backend->validation = layer_count > 0;
    if (extension_count && backend->vk.vkCreateDebugUtilsMessengerEXT) {
        result =
            backend->vk.vkCreateDebugUtilsMessengerEXT(backend->instance, &messenger_info, NULL, &backend->messenger);
        if (result != VK_SUCCESS) return vk_fail(backend, "vkCreateDebugUtilsMessengerEXT", result);
        vk_log(backend, LOWBIT_LOG_INFO, "vulkan: validation %s, debug messenger installed",
               backend->validation ? "layer enabled" : "layer missing");
    }
    return LOWBIT_OK;
}

/* --- logical device ------------------------------------------------------------------------------- */

void vk_device_destroy(vk_device *d)
{
    if (!d->device) return;
    vk_device_table *vk = &d->vk;
    if (vk->vkDeviceWaitIdle) vk->vkDeviceWaitIdle(d->device);
    vk_pipelines_destroy(d);
    vk_buffer_destroy(d, &d->scratch);
    vk_buffer_destroy(d, &d->probe);
    vk_buffer_destroy(d, &d->probe_sink);
    vk_memory_pool_release(d);
    if (d->timestamps) vk->vkDestroyQueryPool(d->device, d->timestamps, NULL);
    d->timestamps = VK_NULL_HANDLE;
    if (d->pipeline_cache) vk->vkDestroyPipelineCache(d->device, d->pipeline_cache, NULL);
    if (d->descriptor_pool) vk->vkDestroyDescriptorPool(d->device, d->descriptor_pool, NULL);
    if (d->pipeline_layout) vk->vkDestroyPipelineLayout(d->device, d->pipeline_layout, NULL);
    if (d->set_layout) vk->vkDestroyDescriptorSetLayout(d->device, d->set_layout, NULL);
    if (d->fence) vk->vkDestroyFence(d->device, d->fence, NULL);
    if (d->command_pool) vk->vkDestroyCommandPool(d->device, d->command_pool, NULL);
    if (vk->vkDestroyDevice) vk->vkDestroyDevice(d->device, NULL);
    d->device = VK_NULL_HANDLE;
    d->pipeline_cache = VK_NULL_HANDLE;
    d->descriptor_pool = VK_NULL_HANDLE;
    d->pipeline_layout = VK_NULL_HANDLE;
    d->set_layout = VK_NULL_HANDLE;
    d->fence = VK_NULL_HANDLE;
    d->command_pool = VK_NULL_HANDLE;
    d->command_buffer = VK_NULL_HANDLE;
    d->created = 0;
}

static lowbit_status device_create(vk_device *d)
{
    vk_backend *backend = d->backend;
    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue_info = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = d->queue_family,
        .queueCount = 1,
        .pQueuePriorities = &priority,
    };
    /* the integer-dot path's OpSDot modules need the feature (and, before Vulkan 1.3, the extension) */
    VkPhysicalDeviceShaderIntegerDotProductFeatures integer_dot = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES,
        .shaderIntegerDotProduct = VK_TRUE,
    };
    const char *extensions[] = {VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME};
    VkDeviceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = d->int_dot ? &integer_dot : NULL,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &queue_info,
        .enabledExtensionCount = d->int_dot ? 1 : 0,
        .ppEnabledExtensionNames = extensions,
    };
    VkResult result = backend->vk.vkCreateDevice(d->physical, &info, NULL, &d->device);
    if (result != VK_SUCCESS) return vk_fail(backend, "vkCreateDevice", result);
    lowbit_status status = vk_loader_load_device(backend, d->device, &d->vk);
    if (status != LOWBIT_OK) return status;
    vk_device_table *vk = &d->vk;
    vk->vkGetDeviceQueue(d->device, d->queue_family, 0, &d->queue);

    VkCommandPoolCreateInfo pool_info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = d->queue_family,
    };
    result = vk->vkCreateCommandPool(d->device, &pool_info, NULL, &d->command_pool);
    if (result != VK_SUCCESS) return vk_fail(backend, "vkCreateCommandPool", result);
    VkCommandBufferAllocateInfo buffer_info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = d->command_pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    result = vk->vkAllocateCommandBuffers(d->device, &buffer_info, &d->command_buffer);
    if (result != VK_SUCCESS) return vk_fail(backend, "vkAllocateCommandBuffers", result);
    VkFenceCreateInfo fence_info = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    result = vk->vkCreateFence(d->device, &fence_info, NULL, &d->fence);
    if (result != VK_SUCCESS) return vk_fail(backend, "vkCreateFence", result);
    if (d->timestamp_bits && d->properties.limits.timestampPeriod > 0.0f) {
        VkQueryPoolCreateInfo query_info = {
            .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
            .queryType = VK_QUERY_TYPE_TIMESTAMP,
            .queryCount = 2,
        };
        result = vk->vkCreateQueryPool(d->device, &query_info, NULL, &d->timestamps);
        if (result != VK_SUCCESS) { /* timing is optional: run without it */
            vk_log(backend, LOWBIT_LOG_INFO, "vulkan: no timestamp queries on %s (%s)", d->info.id,
                   vk_result_name(result));
            d->timestamps = VK_NULL_HANDLE;
        }
    }
    return vk_layouts_create(d);
}

lowbit_status vk_device_ensure(vk_device *d)
{
    if (d->created) return LOWBIT_OK;
    lowbit_status status = device_create(d);
    if (status != LOWBIT_OK) {
        vk_device_destroy(d);
        return status;
    }
    d->created = 1;
    vk_log(d->backend, LOWBIT_LOG_INFO, "vulkan: created device %s (%s)", d->info.id, d->info.name);
    return LOWBIT_OK;
}

lowbit_status vk_device_submit(vk_device *d, lowbit_status (*record)(vk_device *, VkCommandBuffer, void *), void *user)
{
    vk_backend *backend = d->backend;
    vk_device_table *vk = &d->vk;
    VkCommandBuffer cb = d->command_buffer;
    VkResult result = vk->vkResetCommandBuffer(cb, 0);
    if (result != VK_SUCCESS) return vk_fail(backend, "vkResetCommandBuffer", result);
    VkCommandBufferBeginInfo begin = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    result = vk->vkBeginCommandBuffer(cb, &begin);
    if (result != VK_SUCCESS) return vk_fail(backend, "vkBeginCommandBuffer", result);
    lowbit_status status = record(d, cb, user);
    result = vk->vkEndCommandBuffer(cb);
    if (status != LOWBIT_OK) return status;
    if (result != VK_SUCCESS) return vk_fail(backend, "vkEndCommandBuffer", result);
    if (backend->host->fault_injected && backend->host->fault_injected("vulkan.run"))
        return vk_error(backend, LOWBIT_ERROR_DEVICE, "vulkan: vkQueueSubmit failed (fault injected: vulkan.run)");
    VkSubmitInfo submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &cb,
    };
    result = vk->vkQueueSubmit(d->queue, 1, &submit, d->fence);
    if (result != VK_SUCCESS) return vk_fail(backend, "vkQueueSubmit", result);
    result = vk->vkWaitForFences(d->device, 1, &d->fence, VK_TRUE, UINT64_MAX);
    VkResult reset = vk->vkResetFences(d->device, 1, &d->fence);
    if (result != VK_SUCCESS) return vk_fail(backend, "vkWaitForFences", result);
    if (reset != VK_SUCCESS) return vk_fail(backend, "vkResetFences", reset);
    return LOWBIT_OK;
}

void vk_timestamp_write(vk_device *d, VkCommandBuffer cb, uint32_t index)
{
    if (!d->timestamps) return;
    if (index == 0) {
        d->vk.vkCmdResetQueryPool(cb, d->timestamps, 0, 2);
        d->vk.vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, d->timestamps, 0);
    } else {
        d->vk.vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, d->timestamps, 1);
    }
}

double vk_timestamps_read(vk_device *d)
{
    if (!d->timestamps) return 0.0;
    uint64_t ticks[2] = {0, 0};
    VkResult result = d->vk.vkGetQueryPoolResults(d->device, d->timestamps, 0, 2, sizeof ticks, ticks, sizeof ticks[0],
                                                  VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (result != VK_SUCCESS) return 0.0;
    uint64_t mask = d->timestamp_bits >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << d->timestamp_bits) - 1);
    uint64_t elapsed = ((ticks[1] & mask) - (ticks[0] & mask)) & mask; /* wraps within the valid bits */
    return (double)elapsed * (double)d->properties.limits.timestampPeriod * 1e-9;
}
