/* bad_abi_plugin.c — a test plugin built for a future ABI major (99): the loader must refuse it. */
#include <stddef.h>

#include "lowbit/lowbit_backend.h"

static lowbit_status no_devices(void *self, size_t *count)
{
    (void)self;
    *count = 0;
    return LOWBIT_OK;
}

static void destroy(void *self) { (void)self; }

static lowbit_backend backend = {.struct_size = sizeof(lowbit_backend),
                                 .abi_major = 99u,
                                 .name = "future",
                                 .api = LOWBIT_API_OPENCL,
                                 .device_count = no_devices,
                                 .destroy = destroy};

LOWBIT_BACKEND_EXPORT lowbit_status lowbit_backend_entry(uint32_t major, uint32_t minor, const lowbit_host_api *host,
                                                         lowbit_backend **out);
LOWBIT_BACKEND_EXPORT lowbit_status lowbit_backend_entry(uint32_t major, uint32_t minor, const lowbit_host_api *host,
                                                         lowbit_backend **out)
{
    (void)major, (void)minor, (void)host;
    *out = &backend; /* a careless plugin that does not check the host's version itself */
    return LOWBIT_OK;
}
