/* host_api.c — the services the host gives backends: logging, errors, fault injection for tests
 * (LOWBIT_FAULT), the allocation cap that exercises split paths (LOWBIT_MAX_ALLOC) and the cache folder. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "error.h"
#include "runtime.h"

static void host_log(lowbit_log_level level, const char *message) { lowbit_log(level, "%s", message); }

static void host_set_error(const char *message) { lowbit_error(LOWBIT_ERROR_DEVICE, "%s", message ? message : ""); }

/* LOWBIT_FAULT is a comma-separated list of sites: "opencl.run", "vulkan.alloc", "*.build", "opencl.*".
 * Wildcards never match the built-in CPU backend: it is where faults fall back to, so only an explicit
 * "cpu.run" fails it. */
int lowbit_fault_injected(const char *site)
{
    const char *list = getenv("LOWBIT_FAULT");
    if (!list || !*list || !site) return 0;
    const char *dot = strchr(site, '.');
    int is_cpu = strncmp(site, "cpu.", 4) == 0;
    size_t backend_length = dot ? (size_t)(dot - site) : strlen(site);
    const char *step = dot ? dot + 1 : "";
    while (*list) {
        size_t length = strcspn(list, ",");
        if (length == strlen(site) && strncmp(list, site, length) == 0) return 1;
        if (!is_cpu && length >= 2 && list[0] == '*' && list[1] == '.' && length - 2 == strlen(step) &&
            strncmp(list + 2, step, length - 2) == 0)
            return 1;
        if (!is_cpu && length == backend_length + 2 && strncmp(list, site, backend_length) == 0 &&
            list[backend_length] == '.' && list[backend_length + 1] == '*')
            return 1;
        list += length;
        if (*list == ',') ++list;
    }
    return 0;
}

/* LOWBIT_MAX_ALLOC=bytes with an optional K, M or G suffix (powers of 1024). */
static uint64_t host_max_alloc_override(void)
{
    const char *value = getenv("LOWBIT_MAX_ALLOC");
    if (!value || !*value) return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long bytes = strtoull(value, &end, 10);
    uint64_t scale = 1;
    if (end && (*end == 'K' || *end == 'k'))
        scale = 1024u, ++end;
    else if (end && (*end == 'M' || *end == 'm'))
        scale = 1024u * 1024u, ++end;
    else if (end && (*end == 'G' || *end == 'g'))
        scale = 1024u * 1024u * 1024u, ++end;
    if (errno || end == value || *end != '\0' || bytes == 0 || bytes > UINT64_MAX / scale) {
        lowbit_log(LOWBIT_LOG_WARN, "LOWBIT_MAX_ALLOC=%s is not a byte count like 64M; ignored", value);
        return 0;
    }
    return (uint64_t)bytes * scale;
}

static int make_directories(char *path)
{
    for (char *p = path + 1; *p; ++p) {
        if (*p != '/') continue;
        *p = '\0';
        int failed = mkdir(path, 0755) != 0 && errno != EEXIST;
        *p = '/';
        if (failed) return -1;
    }
    return mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* LOWBIT_CACHE_DIR, else $XDG_CACHE_HOME/lowbit, else $HOME/.cache/lowbit; NULL when none can be made. */
static const char *host_cache_dir(void)
{
    static _Thread_local char path[1024];
    const char *explicit_dir = getenv("LOWBIT_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (explicit_dir && *explicit_dir)
        n = snprintf(path, sizeof path, "%s", explicit_dir);
    else if (xdg && *xdg)
        n = snprintf(path, sizeof path, "%s/lowbit", xdg);
    else if (home && *home)
        n = snprintf(path, sizeof path, "%s/.cache/lowbit", home);
    else
        return NULL;
    if (n <= 0 || (size_t)n >= sizeof path) return NULL;
    if (make_directories(path) != 0) {
        lowbit_log(LOWBIT_LOG_INFO, "cache folder %s cannot be created (%s): caches stay in memory", path,
                   strerror(errno));
        return NULL;
    }
    return path;
}

double lowbit_now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int host_fault_injected(const char *site) { return lowbit_fault_injected(site); }

const lowbit_host_api *lowbit_host_api_get(void)
{
    static const lowbit_host_api api = {
        sizeof(lowbit_host_api),
        LOWBIT_BACKEND_ABI_MAJOR,
        LOWBIT_BACKEND_ABI_MINOR,
        host_log,
        host_set_error,
        host_fault_injected,
        host_max_alloc_override,
        host_cache_dir,
        NULL,
        NULL,
        NULL, /* tuned_params, tuning: set per context (context.c) */
    };
    return &api;
}
