/* cache_size.h — the cache a memory-bandwidth measurement must defeat, written once for the three probes (CPU
 * backend, OpenCL, Vulkan) and the tools (lowbit-bench, lowbit-tune): the host's last-level cache for CPU-backed
 * devices (the largest level >= 2 cache of cpu0 in sysfs, "32768K" or "32M", else sysconf(_SC_LEVEL3_CACHE_SIZE),
 * else 32 MiB), and a 256 MiB floor for GPUs, above today's L2 and Infinity Caches (lowbit_device_info carries no
 * GPU cache size). Header-only, like params.h, so the plugins need no shared library for it. */
#ifndef LOWBIT_BACKEND_CACHE_SIZE_H
#define LOWBIT_BACKEND_CACHE_SIZE_H

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define LOWBIT_GPU_CACHE_FLOOR ((uint64_t)256 << 20)
#define LOWBIT_LLC_FALLBACK ((uint64_t)32 << 20)
/* Probes and rotations read at least this many times the cache. */
#define LOWBIT_CACHE_MULTIPLE 4

/* A sysfs cache size: "32768K", "32M", "1G" or plain bytes, optionally followed by white space. 0 when it is
 * malformed, zero or above 1 TiB. */
static inline uint64_t lowbit_parse_cache_size(const char *text)
{
    if (!text || !isdigit((unsigned char)text[0])) return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno || end == text) return 0;
    unsigned shift = 0;
    switch (*end) {
    case 'K':
    case 'k': shift = 10, ++end; break;
    case 'M':
    case 'm': shift = 20, ++end; break;
    case 'G':
    case 'g': shift = 30, ++end; break;
    default: break;
    }
    while (*end == '\n' || *end == '\r' || *end == ' ' || *end == '\t')
        ++end;
    const unsigned long long limit = 1ull << 40;
    if (*end != '\0' || value == 0 || value > limit >> shift) return 0;
    return (uint64_t)value << shift;
}

/* The host's last-level cache in bytes; *source (may be NULL) is "sysfs", "sysconf" or "default". */
static inline uint64_t lowbit_host_llc_bytes(const char **source)
{
    uint64_t best = 0;
    for (int entry = 0; entry < 16; ++entry) {
        char path[128], text[64];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", entry);
        FILE *file = fopen(path, "r");
        int ok = file && fgets(text, sizeof text, file) != NULL;
        if (file) fclose(file);
        char *end = NULL;
        long level = ok ? strtol(text, &end, 10) : 0;
        if (!ok || end == text || level < 2 || level > 8) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", entry);
        file = fopen(path, "r");
        ok = file && fgets(text, sizeof text, file) != NULL;
        if (file) fclose(file);
        uint64_t size = ok ? lowbit_parse_cache_size(text) : 0;
        if (size > best) best = size;
    }
    const char *from = "sysfs";
#ifdef _SC_LEVEL3_CACHE_SIZE
    if (best == 0) {
        long level3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
        if (level3 > 0 && (unsigned long long)level3 <= 1ull << 40) best = (uint64_t)level3, from = "sysconf";
    }
#endif
    if (best == 0) best = LOWBIT_LLC_FALLBACK, from = "default";
    if (source) *source = from;
    return best;
}

/* The cache in front of a device's memory: the host's for a CPU-backed device, the GPU floor otherwise. */
static inline uint64_t lowbit_device_cache_bytes(int is_cpu_device, const char **source)
{
    if (!is_cpu_device) {
        if (source) *source = "gpu floor";
        return LOWBIT_GPU_CACHE_FLOOR;
    }
    return lowbit_host_llc_bytes(source);
}

/* A probe's default buffer: LOWBIT_CACHE_MULTIPLE times that cache, and never below 256 MiB. */
static inline uint64_t lowbit_default_probe_bytes(int is_cpu_device)
{
    uint64_t wanted = LOWBIT_CACHE_MULTIPLE * lowbit_device_cache_bytes(is_cpu_device, NULL);
    return wanted > (uint64_t)256 << 20 ? wanted : (uint64_t)256 << 20;
}

#endif
