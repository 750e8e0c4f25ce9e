/* llc.h — the cache a memory-bandwidth measurement must defeat: the host's last-level cache for CPU-backed
 * devices (the CPU backend, PoCL, lavapipe), a fixed floor for GPUs. lowbit-bench sizes its weight rotation
 * and its bandwidth probe to a multiple of it, so both read DRAM (or VRAM), not a cache. */
#ifndef LOWBIT_TOOL_LLC_H
#define LOWBIT_TOOL_LLC_H

#include <stdint.h>

#include "backends/common/cache_size.h"
#include "lowbit/lowbit.h"

/* The cache size assumed for a device that is not a CPU: no smaller than the L2 plus Infinity Cache of today's
 * GPUs (a few MiB on integrated parts, 96-128 MiB on large consumer and datacenter GPUs, 256 MB on the MI300X),
 * so 4x of it spills any of them. */
#define TOOL_GPU_CACHE_FLOOR LOWBIT_GPU_CACHE_FLOOR
/* What tool_host_llc_bytes reports when neither sysfs nor sysconf knows. */
#define TOOL_LLC_FALLBACK LOWBIT_LLC_FALLBACK

/* A sysfs cache size: "32768K", "32M", "1G" or plain bytes, optionally followed by a newline. 0 when it is
 * malformed, zero or above 1 TiB. */
uint64_t tool_parse_cache_size(const char *text);
/* The host's last-level cache in bytes: the largest level >= 2 cache of cpu0 in
 * /sys/devices/system/cpu/cpu0/cache/index*, else sysconf(_SC_LEVEL3_CACHE_SIZE), else TOOL_LLC_FALLBACK.
 * *source (may be NULL) is set to "sysfs", "sysconf" or "default". */
uint64_t tool_host_llc_bytes(const char **source);
/* The cache to defeat on a device: the host LLC when info->is_cpu_device (or info is NULL), else
 * TOOL_GPU_CACHE_FLOOR (lowbit_device_info carries no GPU cache size); *source as above, or "gpu floor". */
uint64_t tool_device_cache_bytes(const lowbit_device_info *info, const char **source);

#endif
