/* faulty_plugin.c — a test backend with one device ("faulty:0") that accepts Q4_0/Q8_0/F32/F16 weights
 * and fails every matmul as a lost device would, so the host's CPU fallback can be checked on any
 * machine. With FAULTY_PLUGIN_REFUSE_ABI=1 its entry refuses the host like a plugin from another major. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "lowbit/lowbit_backend.h"

static const lowbit_host_api *host_api;

static lowbit_status device_count(void *self, size_t *count)
{
    (void)self;
    *count = 1;
    return LOWBIT_OK;
}

static lowbit_status device_info(void *self, size_t device, lowbit_device_info *info)
{
    (void)self, (void)device;
    size_t size = info->struct_size;
    lowbit_device_info full = {.struct_size = sizeof full, .api = LOWBIT_API_OPENCL};
    strcpy(full.id, "faulty:0");
    strcpy(full.name, "faulty test device");
    strcpy(full.vendor, "lowbit tests");
    full.max_allocation = full.max_buffer_range = full.global_memory = 1u << 30;
    full.formats = (1ull << LOWBIT_FORMAT_F32) | (1ull << LOWBIT_FORMAT_F16) | (1ull << LOWBIT_FORMAT_Q4_0) |
                   (1ull << LOWBIT_FORMAT_Q8_0);
    memcpy(info, &full, size < sizeof full ? size : sizeof full);
    return LOWBIT_OK;
}

static lowbit_status weights_upload(void *self, size_t device, const lowbit_backend_tensor *tensor, void **out)
{
    (void)self, (void)device;
    if (!(tensor->format == LOWBIT_FORMAT_Q4_0 || tensor->format == LOWBIT_FORMAT_Q8_0 ||
          tensor->format == LOWBIT_FORMAT_F32 || tensor->format == LOWBIT_FORMAT_F16)) {
        host_api->set_error("faulty device has no kernel for this format");
        return LOWBIT_ERROR_UNSUPPORTED;
    }
    *out = malloc(1);
    return *out ? LOWBIT_OK : LOWBIT_ERROR_OUT_OF_MEMORY;
}

static void weights_release(void *self, void *weights)
{
    (void)self;
    free(weights);
}

static lowbit_status matmul(void *self, lowbit_backend_matmul_args *args)
{
    (void)self;
    /* scribble over Y so a host that trusted a failed call would return garbage */
    for (size_t i = 0; i < args->n; ++i)
        args->y[i] = 12345.0f;
    host_api->set_error("faulty device lost (VK_ERROR_DEVICE_LOST, simulated)");
    return LOWBIT_ERROR_DEVICE;
}

static void destroy(void *self) { (void)self; }

/* Built as an ABI 1.1 plugin (its struct ends before the 1.2 members): the host must refuse buffers and queues
 * on its device instead of reading past the struct. */
static lowbit_backend backend = {.struct_size = offsetof(lowbit_backend, buffer_create),
                                 .abi_major = LOWBIT_BACKEND_ABI_MAJOR,
                                 .abi_minor = 1,
                                 .name = "faulty",
                                 .api = LOWBIT_API_OPENCL,
                                 .device_count = device_count,
                                 .device_info = device_info,
                                 .weights_upload = weights_upload,
                                 .weights_release = weights_release,
                                 .matmul = matmul,
                                 .destroy = destroy};

LOWBIT_BACKEND_EXPORT lowbit_status lowbit_backend_entry(uint32_t major, uint32_t minor, const lowbit_host_api *host,
                                                         lowbit_backend **out);
LOWBIT_BACKEND_EXPORT lowbit_status lowbit_backend_entry(uint32_t major, uint32_t minor, const lowbit_host_api *host,
                                                         lowbit_backend **out)
{
    (void)minor;
    const char *refuse = getenv("FAULTY_PLUGIN_REFUSE_ABI");
    if (major != LOWBIT_BACKEND_ABI_MAJOR || (refuse && strcmp(refuse, "1") == 0)) {
        host->set_error("faulty plugin needs backend ABI major 1");
        return LOWBIT_ERROR_PLUGIN;
    }
    host_api = host;
    *out = &backend;
    return LOWBIT_OK;
}
