/* llc.c — the tools' names for backends/common/cache_size.h: the host's last-level cache and the cache a device's
 * measurement must defeat. */
#include "llc.h"

uint64_t tool_parse_cache_size(const char *text) { return lowbit_parse_cache_size(text); }

uint64_t tool_host_llc_bytes(const char **source) { return lowbit_host_llc_bytes(source); }

uint64_t tool_device_cache_bytes(const lowbit_device_info *info, const char **source)
{
    return lowbit_device_cache_bytes(!info || info->is_cpu_device, source);
}
