/* ggml_lowbit_device.c — one ggml device per lowbit device: its name, description, memory and type as
 * llama.cpp's scheduler reads them, which buffers it computes on, and the ops it claims. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ggml_lowbit.h"

static const char *device_get_name(ggml_backend_dev_t dev) { return ggml_lowbit_device_of(dev)->name; }
static const char *device_get_description(ggml_backend_dev_t dev) { return ggml_lowbit_device_of(dev)->description; }

/* MemAvailable from /proc/meminfo (what the kernel can hand out without swapping), else free pages. */
static size_t host_memory_available(void)
{
    FILE *file = fopen("/proc/meminfo", "r");
    if (file) {
        char line[256];
        unsigned long long kib = 0;
        while (fgets(line, sizeof line, file))
            if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1) break;
        fclose(file);
        if (kib) return (size_t)kib * 1024;
    }
    long pages = sysconf(_SC_AVPHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    return pages > 0 && page_size > 0 ? (size_t)pages * (size_t)page_size : 0;
}

static size_t host_memory_total(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    return pages > 0 && page_size > 0 ? (size_t)pages * (size_t)page_size : 0;
}

/* The CPU backend and CPU-class devices (PoCL, lavapipe) live in host RAM: free is what the host has left,
 * capped by what the device says it can address. A real GPU: lowbit reports its size but not its use, so
 * free is the total (the engine then plans with the whole card). */
static void device_get_memory(ggml_backend_dev_t dev, size_t *free, size_t *total)
{
    const ggml_lowbit_device *device = ggml_lowbit_device_of(dev);
    if (device->type == GGML_BACKEND_DEVICE_TYPE_GPU) {
        *total = *free = (size_t)device->info.global_memory;
        return;
    }
    size_t host_total = host_memory_total(), host_free = host_memory_available();
    size_t device_total = device->info.global_memory ? (size_t)device->info.global_memory : host_total;
    *total = device_total < host_total || !host_total ? device_total : host_total;
    *free = host_free < *total ? host_free : *total;
}

static enum ggml_backend_dev_type device_get_type(ggml_backend_dev_t dev) { return ggml_lowbit_device_of(dev)->type; }

static void device_get_props(ggml_backend_dev_t dev, struct ggml_backend_dev_props *props)
{
    props->name = device_get_name(dev);
    props->description = device_get_description(dev);
    device_get_memory(dev, &props->memory_free, &props->memory_total);
    props->type = device_get_type(dev);
    props->device_id = NULL; /* lowbit does not report a PCI bus id */
    props->caps.async = false;
    props->caps.host_buffer = false;
    /* every device's buffers are host memory, so an mmap'd model can be wrapped instead of copied */
    props->caps.buffer_from_host_ptr = true;
    props->caps.events = false;
    props->caps.mmap_support = true;
}

static ggml_backend_t device_init_backend(ggml_backend_dev_t dev, const char *params)
{
    (void)params;
    return ggml_lowbit_backend_init(ggml_lowbit_device_of(dev));
}

static ggml_backend_buffer_type_t device_get_buffer_type(ggml_backend_dev_t dev)
{
    return &ggml_lowbit_device_of(dev)->buffer_type;
}

static ggml_backend_buffer_t device_buffer_from_host_ptr(ggml_backend_dev_t dev, void *ptr, size_t size,
                                                         size_t max_tensor_size)
{
    (void)max_tensor_size;
    return ggml_lowbit_buffer_from_host_ptr(ggml_lowbit_device_of(dev), ptr, size);
}

static bool device_supports_op(ggml_backend_dev_t dev, const struct ggml_tensor *op)
{
    return ggml_lowbit_supports_op(ggml_lowbit_device_of(dev), op);
}

/* The CPU backend computes on any host buffer in ggml's layout (ggml's CPU buffers, the mmap'd model, the
 * other lowbit devices' buffers): that is how it serves as an accelerator of llama.cpp's CPU layers. The
 * OpenCL/Vulkan devices compute only on their own buffers, whose writes the adapter sees, so their uploads
 * stay valid; weights anywhere else would be copied to the device at every use. */
static bool device_supports_buft(ggml_backend_dev_t dev, ggml_backend_buffer_type_t buft)
{
    const ggml_lowbit_device *device = ggml_lowbit_device_of(dev);
    if (buft == &device->buffer_type) return true;
    return device->info.api == LOWBIT_API_CPU && ggml_backend_buft_is_host(buft);
}

static const struct ggml_backend_device_i device_interface = {
    .get_name = device_get_name,
    .get_description = device_get_description,
    .get_memory = device_get_memory,
    .get_type = device_get_type,
    .get_props = device_get_props,
    .init_backend = device_init_backend,
    .get_buffer_type = device_get_buffer_type,
    .get_host_buffer_type = NULL,
    .buffer_from_host_ptr = device_buffer_from_host_ptr,
    .supports_op = device_supports_op,
    .supports_buft = device_supports_buft,
    .offload_op = NULL,
    .event_new = NULL,
    .event_free = NULL,
    .event_synchronize = NULL,
};

static const char *api_name(lowbit_api api)
{
    switch (api) {
    case LOWBIT_API_CPU: return "CPU";
    case LOWBIT_API_OPENCL: return "OpenCL";
    case LOWBIT_API_VULKAN: return "Vulkan";
    }
    return "?";
}

int ggml_lowbit_device_init(ggml_lowbit_device *device, ggml_backend_reg_t reg, lowbit_context *lowbit, size_t index)
{
    memset(device, 0, sizeof *device);
    device->info.struct_size = sizeof device->info;
    if (lowbit_device_get_info(lowbit, index, &device->info) != LOWBIT_OK) {
        ggml_lowbit_log(GGML_LOG_LEVEL_WARN, "skipping lowbit device %zu: %s", index, lowbit_last_error());
        return 0;
    }
    device->lowbit = lowbit;
    device->index = index;
    atomic_init(&device->fallback_logged, 0);
    /* How llama.cpp schedules each kind (CONTRIBUTING.md, "ggml adapter"): the CPU backend is an accelerator
     * of the CPU layers; a CPU-class OpenCL/Vulkan device shares host memory like an integrated GPU; anything
     * else is a GPU that takes offloaded layers. */
    if (device->info.api == LOWBIT_API_CPU)
        device->type = GGML_BACKEND_DEVICE_TYPE_ACCEL;
    else if (device->info.is_cpu_device)
        device->type = GGML_BACKEND_DEVICE_TYPE_IGPU;
    else
        device->type = GGML_BACKEND_DEVICE_TYPE_GPU;
    snprintf(device->name, sizeof device->name, GGML_LOWBIT_NAME "_%s", device->info.id);
    if (device->info.api == LOWBIT_API_CPU)
        snprintf(device->description, sizeof device->description, "lowbit CPU backend: %s", device->info.name);
    else {
        /* OpenCL's version string names the API already ("OpenCL 3.0 PoCL ..."), Vulkan's is a bare number */
        const char *api = api_name(device->info.api);
        int named = strncmp(device->info.api_version, api, strlen(api)) == 0;
        snprintf(device->description, sizeof device->description, "lowbit %s: %s (%s%s%s, driver %s)", api,
                 device->info.name, named ? "" : api, named ? "" : " ", device->info.api_version,
                 device->info.driver_version);
    }
    device->ggml.iface = device_interface;
    device->ggml.reg = reg;
    device->ggml.context = device;
    ggml_lowbit_buffer_type_init(device);
    return 1;
}
