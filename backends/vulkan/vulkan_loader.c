/* vulkan_loader.c — opens libvulkan.so.1 at run time and resolves the global, instance and device
 * function tables, so the plugin loads (and reports zero devices) on machines without Vulkan. */
#include "vulkan_internal.h"

#include <dlfcn.h>
#include <string.h>

static const char *const loader_names[] = {"libvulkan.so.1", "libvulkan.so"};

lowbit_status vk_loader_open(vk_backend *backend, const char **why)
{
    for (size_t i = 0; i < sizeof loader_names / sizeof loader_names[0] && !backend->library; ++i)
        backend->library = dlopen(loader_names[i], RTLD_NOW | RTLD_LOCAL);
    if (!backend->library) {
        *why = "libvulkan.so.1 not found";
        return LOWBIT_ERROR_UNSUPPORTED;
    }
    /* dlsym returns void *; converting it through memcpy keeps -Wpedantic quiet about object→function. */
    void *symbol = dlsym(backend->library, "vkGetInstanceProcAddr");
    if (!symbol) {
        *why = "libvulkan.so.1 has no vkGetInstanceProcAddr";
        vk_loader_close(backend);
        return LOWBIT_ERROR_UNSUPPORTED;
    }
    memcpy(&backend->global.vkGetInstanceProcAddr, &symbol, sizeof symbol);
    vk_global_table *g = &backend->global;
    g->vkEnumerateInstanceVersion =
        (PFN_vkEnumerateInstanceVersion)g->vkGetInstanceProcAddr(NULL, "vkEnumerateInstanceVersion");
#define LOAD_GLOBAL(name)                                                                                              \
    g->name = (PFN_##name)g->vkGetInstanceProcAddr(NULL, #name);                                                       \
    if (!g->name) {                                                                                                    \
        *why = "the Vulkan loader lacks " #name;                                                                       \
        vk_loader_close(backend);                                                                                      \
        return LOWBIT_ERROR_UNSUPPORTED;                                                                               \
    }
    LOWBIT_VK_GLOBAL_FUNCTIONS(LOAD_GLOBAL)
#undef LOAD_GLOBAL
    return LOWBIT_OK;
}

lowbit_status vk_loader_load_instance(vk_backend *backend)
{
    vk_instance_table *t = &backend->vk;
    PFN_vkGetInstanceProcAddr get = backend->global.vkGetInstanceProcAddr;
#define LOAD_INSTANCE(name)                                                                                            \
    t->name = (PFN_##name)get(backend->instance, #name);                                                               \
    if (!t->name) return vk_error(backend, LOWBIT_ERROR_DEVICE, "vulkan: instance function " #name " missing");
    LOWBIT_VK_INSTANCE_FUNCTIONS(LOAD_INSTANCE)
#undef LOAD_INSTANCE
#define LOAD_OPTIONAL(name) t->name = (PFN_##name)get(backend->instance, #name);
    LOWBIT_VK_INSTANCE_OPTIONAL_FUNCTIONS(LOAD_OPTIONAL)
#undef LOAD_OPTIONAL
    return LOWBIT_OK;
}

lowbit_status vk_loader_load_device(vk_backend *backend, VkDevice device, vk_device_table *table)
{
    PFN_vkGetDeviceProcAddr get = backend->vk.vkGetDeviceProcAddr;
#define LOAD_DEVICE(name)                                                                                              \
    table->name = (PFN_##name)get(device, #name);                                                                      \
    if (!table->name) return vk_error(backend, LOWBIT_ERROR_DEVICE, "vulkan: device function " #name " missing");
    LOWBIT_VK_DEVICE_FUNCTIONS(LOAD_DEVICE)
#undef LOAD_DEVICE
    return LOWBIT_OK;
}

void vk_loader_close(vk_backend *backend)
{
    if (backend->library) dlclose(backend->library);
    backend->library = NULL;
    memset(&backend->global, 0, sizeof backend->global);
}
