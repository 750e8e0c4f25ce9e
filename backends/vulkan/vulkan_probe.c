/* vulkan_probe.c — enumerates physical devices with a compute queue and fills lowbit_device_info
 * (limits, features, vendor/driver strings) once, when the host first asks for devices. */
#include "vulkan_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *vendor_name(uint32_t id)
{
    switch (id) {
    case 0x1002: return "AMD";
    case 0x1010: return "Imagination Technologies";
    case 0x106B: return "Apple";
    case 0x10DE: return "NVIDIA";
    case 0x13B5: return "ARM";
    case 0x14E4: return "Broadcom";
    case 0x5143: return "Qualcomm";
    case 0x8086: return "Intel";
    case 0x10005: return "Mesa";
    default: return NULL;
    }
}

static int device_has_extension(vk_backend *backend, VkPhysicalDevice physical, const char *name)
{
    uint32_t count = 0;
    if (backend->vk.vkEnumerateDeviceExtensionProperties(physical, NULL, &count, NULL) != VK_SUCCESS || !count)
        return 0;
    VkExtensionProperties *extensions = calloc(count, sizeof *extensions);
    int found = 0;
    if (extensions &&
        backend->vk.vkEnumerateDeviceExtensionProperties(physical, NULL, &count, extensions) == VK_SUCCESS)
        for (uint32_t i = 0; i < count && !found; ++i)
            found = strcmp(extensions[i].extensionName, name) == 0;
    free(extensions);
    return found;
}

/* Index of a queue family with compute (a compute-only one preferred), or UINT32_MAX. */
static uint32_t compute_queue_family(vk_backend *backend, VkPhysicalDevice physical, uint32_t *timestamp_bits)
{
    uint32_t count = 0, chosen = UINT32_MAX;
    backend->vk.vkGetPhysicalDeviceQueueFamilyProperties(physical, &count, NULL);
    VkQueueFamilyProperties *families = calloc(count ? count : 1, sizeof *families);
    if (!families) return UINT32_MAX;
    backend->vk.vkGetPhysicalDeviceQueueFamilyProperties(physical, &count, families);
    for (uint32_t i = 0; i < count; ++i) {
        if (!(families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) || families[i].queueCount == 0) continue;
        if (chosen == UINT32_MAX || !(families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) chosen = i;
        if (!(families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) break;
    }
    *timestamp_bits = chosen != UINT32_MAX ? families[chosen].timestampValidBits : 0;
    free(families);
    return chosen;
}

static uint64_t clamp_to_override(vk_backend *backend, uint64_t value)
{
    uint64_t cap = backend->host->max_alloc_override ? backend->host->max_alloc_override() : 0;
    return cap && cap < value ? cap : value;
}

/* LOWBIT_VULKAN_MAX_ALLOCATIONS=N (a test hook) caps maxMemoryAllocationCount, so that tests on lavapipe meet
 * the limit real drivers have (4096 on many); a value that is no whole number ≥ 1 is an error, and then no
 * allocation is allowed at all (every upload refused, the CPU answers) rather than the cap silently ignored. */
static uint32_t allocation_limit(vk_backend *backend, const vk_device *d)
{
    uint32_t limit = d->properties.limits.maxMemoryAllocationCount;
    const char *value = getenv("LOWBIT_VULKAN_MAX_ALLOCATIONS");
    if (!value) return limit;
    char *end = NULL;
    unsigned long long cap = value[0] >= '0' && value[0] <= '9' ? strtoull(value, &end, 10) : 0;
    if (!end || *end != '\0' || cap == 0 || cap > UINT32_MAX) {
        vk_log(backend, LOWBIT_LOG_ERROR,
               "vulkan: LOWBIT_VULKAN_MAX_ALLOCATIONS='%s' is not a whole number >= 1: %s gets no device memory", value,
               d->info.id);
        return 0;
    }
    return cap < limit ? (uint32_t)cap : limit;
}

static void device_fill_info(vk_backend *backend, vk_device *d)
{
    VkPhysicalDevice physical = d->physical;
    uint32_t api = d->properties.apiVersion;
    int has_driver_properties =
        api >= VK_API_VERSION_1_2 || device_has_extension(backend, physical, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME);
    int has_float16 =
        api >= VK_API_VERSION_1_2 || device_has_extension(backend, physical, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);

    VkPhysicalDeviceDriverProperties driver = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceSubgroupProperties subgroup = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceMaintenance3Properties maintenance3 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceProperties2 properties = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    int chained = api >= VK_API_VERSION_1_1;
    if (chained) {
        properties.pNext = &subgroup;
        subgroup.pNext = &maintenance3;
        if (has_driver_properties) maintenance3.pNext = &driver;
    }
    backend->vk.vkGetPhysicalDeviceProperties2(physical, &properties);

    VkPhysicalDeviceShaderFloat16Int8Features float16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    int has_integer_dot = device_has_extension(backend, physical, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
    VkPhysicalDeviceShaderIntegerDotProductFeatures integer_dot = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES};
    VkPhysicalDeviceFeatures2 features = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    if (has_float16) features.pNext = &float16;
    if (has_integer_dot) integer_dot.pNext = features.pNext, features.pNext = &integer_dot;
    backend->vk.vkGetPhysicalDeviceFeatures2(physical, &features);

    const VkPhysicalDeviceLimits *limits = &d->properties.limits;
    lowbit_device_info *info = &d->info;
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    info->api = LOWBIT_API_VULKAN;
    snprintf(info->id, sizeof info->id, "vulkan:%zu", d->index);
    snprintf(info->name, sizeof info->name, "%s", d->properties.deviceName);
    const char *vendor = vendor_name(d->properties.vendorID);
    if (vendor)
        snprintf(info->vendor, sizeof info->vendor, "%s", vendor);
    else
        snprintf(info->vendor, sizeof info->vendor, "0x%04x", d->properties.vendorID);
    if (has_driver_properties && chained && driver.driverInfo[0])
        snprintf(info->driver_version, sizeof info->driver_version, "%.127s", driver.driverInfo);
    else
        snprintf(info->driver_version, sizeof info->driver_version, "%u.%u.%u",
                 VK_API_VERSION_MAJOR(d->properties.driverVersion), VK_API_VERSION_MINOR(d->properties.driverVersion),
                 VK_API_VERSION_PATCH(d->properties.driverVersion));
    snprintf(info->api_version, sizeof info->api_version, "%u.%u.%u", VK_API_VERSION_MAJOR(api),
             VK_API_VERSION_MINOR(api), VK_API_VERSION_PATCH(api));
    info->is_cpu_device = d->properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
    for (uint32_t i = 0; i < d->memory.memoryHeapCount; ++i)
        if ((d->memory.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
            d->memory.memoryHeaps[i].size > info->global_memory)
            info->global_memory = d->memory.memoryHeaps[i].size;
    uint64_t max_allocation =
        chained && maintenance3.maxMemoryAllocationSize ? maintenance3.maxMemoryAllocationSize : info->global_memory;
    d->max_allocation = clamp_to_override(backend, max_allocation);
    /* memory blocks follow the device's own limits, not LOWBIT_MAX_ALLOC (which caps buffers, not blocks) */
    d->memory_pool.allocation_size = chained ? maintenance3.maxMemoryAllocationSize : 0;
    d->memory_pool.allocation_limit = allocation_limit(backend, d);
    d->max_storage_range = clamp_to_override(backend, limits->maxStorageBufferRange);
    info->max_allocation = d->max_allocation;
    info->max_buffer_range = d->max_storage_range;
    info->max_workgroup_size = limits->maxComputeWorkGroupInvocations;
    info->local_memory = limits->maxComputeSharedMemorySize;
    info->subgroup_size = chained ? subgroup.subgroupSize : 0;
    info->compute_units = 0; /* core Vulkan does not say */
    info->fp16 = has_float16 && float16.shaderFloat16;
    info->integer_dot = has_integer_dot;
    /* The integer-dot path's OpSDot modules where the device has the feature (device_create enables it);
     * LOWBIT_VULKAN_INT_DOT=0 keeps the multiply-add modules (comparisons, a quirk switch). */
    const char *int_dot = getenv("LOWBIT_VULKAN_INT_DOT");
    d->int_dot = has_integer_dot && integer_dot.shaderIntegerDotProduct && !(int_dot && strcmp(int_dot, "0") == 0);
    info->subgroups = chained && (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                      (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
    for (size_t k = 0; k < vk_kernel_count(); ++k)
        info->formats |= 1ull << vk_kernel_at(k)->format;
    /* LOWBIT_VULKAN_STORAGE_WEIGHTS=1 keeps the storage-buffer modules on the CPU layout too (for
     * comparisons, and as a quirk switch for drivers whose texel fetches are slow). */
    const char *storage = getenv("LOWBIT_VULKAN_STORAGE_WEIGHTS");
    d->texel_weights = !(storage && strcmp(storage, "1") == 0);
    /* LOWBIT_VULKAN_SUBGROUPS=0 keeps the GPU layout on its portable shared-memory reduction where the device
     * could reduce through subgroupAdd (tests run both paths; a quirk switch for drivers where it is slow or
     * wrong); =1 (the default) uses subgroups wherever `info->subgroups` says they exist. Any other value makes
     * the device refuse every matmul (vulkan_settings.c). */
    int subgroups = vk_settings_probe_subgroups(d);
    d->subgroup_reduce = info->subgroups && subgroups != 0;
    if (subgroups == 1 && !info->subgroups)
        vk_log(backend, LOWBIT_LOG_WARN,
               "vulkan: LOWBIT_VULKAN_SUBGROUPS=1 but %s has no subgroup arithmetic in compute", info->name);
    d->device_class = info->is_cpu_device ? LOWBIT_VK_CLASS_CPU : LOWBIT_VK_CLASS_GPU;
}

lowbit_status vk_probe_devices(vk_backend *backend)
{
    uint32_t count = 0;
    VkResult result = backend->vk.vkEnumeratePhysicalDevices(backend->instance, &count, NULL);
    if (result != VK_SUCCESS) return vk_fail(backend, "vkEnumeratePhysicalDevices", result);
    if (count == 0) {
        vk_log(backend, LOWBIT_LOG_INFO, "vulkan: no physical devices (no ICD installed?)");
        return LOWBIT_OK;
    }
    VkPhysicalDevice *physical = calloc(count, sizeof *physical);
    backend->devices = calloc(count, sizeof *backend->devices);
    if (!physical || !backend->devices) {
        free(physical);
        return vk_error(backend, LOWBIT_ERROR_OUT_OF_MEMORY, "vulkan: out of host memory while probing");
    }
    result = backend->vk.vkEnumeratePhysicalDevices(backend->instance, &count, physical);
    if (result != VK_SUCCESS && result != VK_INCOMPLETE) {
        free(physical);
        return vk_fail(backend, "vkEnumeratePhysicalDevices", result);
    }
    for (uint32_t i = 0; i < count; ++i) {
        vk_device *d = &backend->devices[backend->device_count];
        d->backend = backend;
        d->physical = physical[i];
        backend->vk.vkGetPhysicalDeviceProperties(physical[i], &d->properties);
        d->queue_family = compute_queue_family(backend, physical[i], &d->timestamp_bits);
        if (d->queue_family == UINT32_MAX) {
            vk_log(backend, LOWBIT_LOG_INFO, "vulkan: %s has no compute queue, skipped", d->properties.deviceName);
            continue;
        }
        if (d->properties.apiVersion < VK_API_VERSION_1_1) {
            vk_log(backend, LOWBIT_LOG_INFO, "vulkan: %s is a Vulkan 1.0 device, skipped", d->properties.deviceName);
            continue;
        }
        backend->vk.vkGetPhysicalDeviceMemoryProperties(physical[i], &d->memory);
        d->index = backend->device_count;
        pthread_mutex_init(&d->mutex, NULL);
        device_fill_info(backend, d);
        vk_log(backend, LOWBIT_LOG_INFO, "vulkan: %s is %s (%s, driver %s)", d->info.id, d->info.name, d->info.vendor,
               d->info.driver_version);
        backend->device_count++;
    }
    free(physical);
    if (backend->device_count == 0)
        vk_log(backend, LOWBIT_LOG_INFO, "vulkan: no device with a compute queue and Vulkan 1.1");
    return LOWBIT_OK;
}
