/* opencl_plugin.c — the plugin's entry point and vtable (liblowbit-opencl.so), and the host services
 * it uses, each checked against the host API's struct_size before use. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencl_backend.h"

/* A host member is usable when the host's struct is long enough to hold it and it is set. */
#define HOST_HAS(host, member)                                                                                         \
    ((host) != NULL && (host)->struct_size >= offsetof(lowbit_host_api, member) + sizeof((host)->member) &&            \
     (host)->member != NULL)

void opencl_log(const opencl_backend *backend, lowbit_log_level level, const char *format, ...)
{
    if (!HOST_HAS(backend->host, log)) return;
    char message[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    backend->host->log(level, message);
}

static void set_error_text(const lowbit_host_api *host, const char *message)
{
    if (HOST_HAS(host, set_error)) host->set_error(message);
}

lowbit_status opencl_fail(const opencl_backend *backend, lowbit_status status, const char *format, ...)
{
    char message[2048];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    set_error_text(backend->host, message);
    opencl_log(backend, LOWBIT_LOG_DEBUG, "opencl: %s", message);
    return status;
}

lowbit_status opencl_fail_call(const opencl_backend *backend, const char *call, cl_int error, int allocating)
{
    lowbit_status status = LOWBIT_ERROR_DEVICE;
    if (allocating &&
        (error == CL_MEM_OBJECT_ALLOCATION_FAILURE || error == CL_OUT_OF_RESOURCES || error == CL_OUT_OF_HOST_MEMORY))
        status = LOWBIT_ERROR_OUT_OF_MEMORY;
    return opencl_fail(backend, status, "%s failed: %s (%d)", call, opencl_error_name(error), (int)error);
}

int opencl_fault(const opencl_backend *backend, const char *site)
{
    return HOST_HAS(backend->host, fault_injected) && backend->host->fault_injected(site);
}

uint64_t opencl_max_alloc_override(const opencl_backend *backend)
{
    return HOST_HAS(backend->host, max_alloc_override) ? backend->host->max_alloc_override() : 0;
}

const char *opencl_cache_dir(const opencl_backend *backend)
{
    return HOST_HAS(backend->host, cache_dir) ? backend->host->cache_dir() : NULL;
}

static lowbit_status backend_device_count(void *self, size_t *count)
{
    opencl_backend *backend = self;
    if (count == NULL) return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "opencl: count is NULL");
    lowbit_status status = opencl_devices_probe(backend);
    *count = status == LOWBIT_OK ? backend->device_count : 0;
    return status;
}

static lowbit_status backend_device_info(void *self, size_t device, lowbit_device_info *info)
{
    opencl_backend *backend = self;
    if (info == NULL || info->struct_size < sizeof info->struct_size)
        return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "opencl: device info is NULL or has no size");
    lowbit_status status = opencl_devices_probe(backend);
    if (status != LOWBIT_OK) return status;
    if (device >= backend->device_count)
        return opencl_fail(backend, LOWBIT_ERROR_INVALID_ARGUMENT, "opencl: device %zu out of range (%zu devices)",
                           device, backend->device_count);
    /* The caller's struct may be older (shorter) or newer (longer) than ours: copy what both know. */
    size_t caller_size = info->struct_size;
    size_t bytes = caller_size < sizeof *info ? caller_size : sizeof *info;
    lowbit_device_info copy = backend->devices[device].info;
    copy.struct_size = caller_size;
    memcpy(info, &copy, bytes);
    return LOWBIT_OK;
}

static void backend_destroy(void *self)
{
    opencl_backend *backend = self;
    if (backend == NULL) return;
    opencl_devices_release(backend);
    free(backend);
}

LOWBIT_BACKEND_EXPORT lowbit_status lowbit_backend_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                                         const lowbit_host_api *host, lowbit_backend **out);

LOWBIT_BACKEND_EXPORT lowbit_status lowbit_backend_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                                         const lowbit_host_api *host, lowbit_backend **out)
{
    (void)host_abi_minor; /* a newer minor only appends members, found through struct_size */
    if (out == NULL) return LOWBIT_ERROR_INVALID_ARGUMENT;
    *out = NULL;
    if (host_abi_major != LOWBIT_BACKEND_ABI_MAJOR) {
        char message[160];
        snprintf(message, sizeof message,
                 "liblowbit-opencl: host plugin ABI %u.%u is incompatible with the plugin's %u.%u (major differs)",
                 (unsigned)host_abi_major, (unsigned)host_abi_minor, (unsigned)LOWBIT_BACKEND_ABI_MAJOR,
                 (unsigned)LOWBIT_BACKEND_ABI_MINOR);
        set_error_text(host, message);
        return LOWBIT_ERROR_PLUGIN;
    }
    opencl_backend *backend = calloc(1, sizeof *backend);
    if (backend == NULL) {
        set_error_text(host, "liblowbit-opencl: out of memory creating the backend");
        return LOWBIT_ERROR_OUT_OF_MEMORY;
    }
    backend->host = host;
    /* The context's parameters (params.h: the unscoped keys and the opencl.* ones), validated by the host already;
     * a string this plugin cannot read (a newer host's key) leaves the defaults, with a warning. */
    if (HOST_HAS(host, params)) {
        char why[160];
        if (lowbit_params_parse_for(host->params, LOWBIT_PARAM_OPENCL, &backend->params, why, sizeof why) != 0)
            opencl_log(backend, LOWBIT_LOG_WARN, "opencl: ignoring the context parameters: %s", why);
    } else {
        lowbit_params_parse(NULL, &backend->params, NULL, 0);
    }
    if (getenv("LOWBIT_OPENCL_PARAMS"))
        opencl_log(backend, LOWBIT_LOG_WARN,
                   "opencl: LOWBIT_OPENCL_PARAMS is deprecated and goes in the next version; write the same keys in "
                   "LOWBIT_PARAMS with the opencl. scope (LOWBIT_PARAMS=opencl.layout=coop,opencl.wg=64; tile_k "
                   "there counts elements, not 32-element chunks)");
    lowbit_backend *vtable = &backend->vtable;
    vtable->struct_size = sizeof *vtable;
    vtable->abi_major = LOWBIT_BACKEND_ABI_MAJOR;
    vtable->abi_minor = LOWBIT_BACKEND_ABI_MINOR;
    vtable->name = "opencl";
    vtable->api = LOWBIT_API_OPENCL;
    vtable->self = backend;
    vtable->device_count = backend_device_count;
    vtable->device_info = backend_device_info;
    vtable->weights_upload = opencl_weights_upload;
    vtable->weights_release = opencl_weights_release;
    vtable->matmul = opencl_matmul;
    vtable->destroy = backend_destroy;
    vtable->measure_bandwidth = opencl_measure_bandwidth;
    vtable->buffer_create = opencl_buffer_create;
    vtable->buffer_release = opencl_buffer_release;
    vtable->queue_create = opencl_queue_create;
    vtable->queue_release = opencl_queue_release;
    vtable->enqueue_write = opencl_enqueue_write;
    vtable->enqueue_read = opencl_enqueue_read;
    vtable->enqueue_matmul = opencl_enqueue_matmul;
    vtable->queue_flush = opencl_queue_flush;
    vtable->queue_finish = opencl_queue_finish;
    vtable->event_wait = opencl_event_wait;
    vtable->event_query = opencl_event_query;
    vtable->event_release = opencl_event_release;
    *out = vtable;
    return LOWBIT_OK;
}
