/* context.c — contexts and the device table: the built-in CPU backend first, then every plugin's
 * devices, probed lazily on the first call that needs them. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backends/common/cache_size.h"
#include "../backends/common/params.h"
#include "error.h"
#include "runtime.h"
#include "tuning/tuning_host.h"

static void context_free(lowbit_context *context);

lowbit_status lowbit_context_create(const lowbit_context_options *options, lowbit_context **out)
{
    if (!out) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_context_create: out is NULL");
    *out = NULL;
    lowbit_context_options defaults = {sizeof defaults, 0, NULL, NULL, 0, NULL};
    if (options) {
        if (options->struct_size < offsetof(lowbit_context_options, plugin_file_count) + sizeof(size_t) ||
            options->struct_size > 4096)
            return lowbit_error(
                LOWBIT_ERROR_INVALID_ARGUMENT,
                "lowbit_context_create: options->struct_size is %zu; set it to sizeof(lowbit_context_options)",
                options->struct_size);
        if (options->plugin_file_count > 0 && !options->plugin_files)
            return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                                "lowbit_context_create: plugin_file_count is %zu but plugin_files is NULL",
                                options->plugin_file_count);
        if (options->plugin_file_count > LOWBIT_MAX_BACKENDS - 1)
            return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_context_create: at most %d plugin files",
                                LOWBIT_MAX_BACKENDS - 1);
        /* an older caller's struct is shorter: members beyond its struct_size keep their defaults */
        memcpy(&defaults, options, options->struct_size < sizeof defaults ? options->struct_size : sizeof defaults);
        defaults.struct_size = sizeof defaults;
    }
    /* the parameter string: the options' (an error when bad), else LOWBIT_PARAMS (a bad one is logged and ignored) */
    const char *params = defaults.params;
    char why[160];
    lowbit_params parsed;
    memset(&parsed, 0, sizeof parsed);
    if (params && lowbit_params_parse(params, &parsed, why, sizeof why) != 0)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_context_create: options->params: %s", why);
    if (!params && (params = getenv("LOWBIT_PARAMS")) && lowbit_params_parse(params, &parsed, why, sizeof why) != 0) {
        lowbit_log(LOWBIT_LOG_WARN, "LOWBIT_PARAMS ignored: %s", why);
        params = NULL;
        memset(&parsed, 0, sizeof parsed);
    }
    lowbit_context *context = calloc(1, sizeof *context);
    if (!context) return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "lowbit_context_create: out of host memory");
    pthread_mutex_init(&context->mutex, NULL);
    context->host_api = *lowbit_host_api_get();
    if (params && *params) {
        if (!(context->params = strdup(params))) {
            context_free(context);
            return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "lowbit_context_create: out of host memory");
        }
        context->host_api.params = context->params;
    }
    /* the tuning database: shipped entries, then the user's files (<cache folder>/tuning/); tuning=0 skips it */
    if (lowbit_params_tuning(&parsed)) {
        const char *cache = context->host_api.cache_dir ? context->host_api.cache_dir() : NULL;
        char user_dir[1100];
        if (cache) snprintf(user_dir, sizeof user_dir, "%s/tuning", cache);
        if (!(context->tuning = lowbit_tuning_load(cache ? user_dir : NULL))) {
            context_free(context);
            return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "lowbit_context_create: out of host memory");
        }
        context->host_api.tuning = context->tuning;
        context->host_api.tuned_params = lowbit_tuning_answer;
    }
    lowbit_status status = lowbit_cpu_backend_create(&context->host_api, &context->plugins[0].backend);
    if (status != LOWBIT_OK) {
        context_free(context);
        return status;
    }
    snprintf(context->plugins[0].path, sizeof context->plugins[0].path, "(built in)");
    context->plugin_count = 1;
    for (size_t i = 0; i < defaults.plugin_file_count; ++i) {
        lowbit_plugin plugin;
        status = lowbit_plugin_load(defaults.plugin_files[i], &context->host_api, &plugin);
        if (status != LOWBIT_OK) {
            context_free(context);
            return status; /* the loader's message names the file and the problem */
        }
        context->plugins[context->plugin_count++] = plugin;
    }
    if (!(defaults.flags & LOWBIT_CONTEXT_NO_PLUGINS) && defaults.plugin_file_count == 0)
        lowbit_plugin_discover(context, defaults.plugin_path);
    if (!lowbit_handle_register(context)) {
        context_free(context);
        return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "lowbit_context_create: out of host memory");
    }
    *out = context;
    return LOWBIT_OK;
}

void lowbit_context_destroy(lowbit_context *context)
{
    if (!context) return;
    /* Only a registered handle is ever dereferenced: a destroyed or foreign pointer may be freed memory.
     * Unregistering is the atomic claim, so two threads destroying one context free it once. */
    if (!lowbit_handle_unregister(context)) {
        lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                     "lowbit_context_destroy: context was already destroyed (or never created)");
        lowbit_log(LOWBIT_LOG_ERROR, "lowbit_context_destroy: handle %p is not a live context (ignored)",
                   (void *)context);
        return;
    }
    context_free(context);
}

/* Frees a context that is not (or no longer) registered: the end of destroy, and create's failure paths. */
static void context_free(lowbit_context *context)
{
    lowbit_queues_release_all(context);
    lowbit_weights_release_all(context);
    for (size_t i = context->plugin_count; i-- > 0;) {
        if (context->plugins[i].library) {
            lowbit_plugin_unload(&context->plugins[i]);
        } else if (context->plugins[i].backend) {
            context->plugins[i].backend->destroy(context->plugins[i].backend->self);
        }
    }
    free(context->devices);
    free(context->params);
    lowbit_tuning_free(context->tuning);
    pthread_mutex_destroy(&context->mutex);
    free(context);
}

static lowbit_status check_context(lowbit_context *context, const char *function)
{
    if (!context) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: context is NULL", function);
    if (!lowbit_handle_is_live(context))
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: context was destroyed or never created", function);
    return LOWBIT_OK;
}

/* Asks every backend for its devices once; a backend whose probe fails contributes none. */
lowbit_status lowbit_context_probe(lowbit_context *context)
{
    pthread_mutex_lock(&context->mutex);
    if (context->devices_probed) {
        pthread_mutex_unlock(&context->mutex);
        return LOWBIT_OK;
    }
    size_t total = 0, capacity = 0;
    lowbit_device_entry *devices = NULL;
    for (size_t b = 0; b < context->plugin_count; ++b) {
        lowbit_backend *backend = context->plugins[b].backend;
        size_t count = 0;
        if (backend->device_count(backend->self, &count) != LOWBIT_OK) {
            lowbit_log(LOWBIT_LOG_WARN, "%s backend: device probe failed: %s; its devices are unavailable",
                       backend->name, lowbit_last_error());
            continue;
        }
        for (size_t d = 0; d < count; ++d) {
            lowbit_device_entry entry = {b, d, {.struct_size = sizeof(lowbit_device_info)}};
            if (backend->device_info(backend->self, d, &entry.info) != LOWBIT_OK) {
                lowbit_log(LOWBIT_LOG_WARN, "%s backend: device %zu info failed: %s; skipped", backend->name, d,
                           lowbit_last_error());
                continue;
            }
            entry.info.struct_size = sizeof(lowbit_device_info);
            entry.info.api = backend->api;
            if (total == capacity) {
                capacity = capacity ? capacity * 2 : 8;
                lowbit_device_entry *grown = realloc(devices, capacity * sizeof *grown);
                if (!grown) {
                    free(devices);
                    pthread_mutex_unlock(&context->mutex);
                    return lowbit_error(LOWBIT_ERROR_OUT_OF_MEMORY, "device probe: out of host memory");
                }
                devices = grown;
            }
            devices[total++] = entry;
        }
    }
    context->devices = devices;
    context->device_count = total;
    context->devices_probed = 1;
    pthread_mutex_unlock(&context->mutex);
    lowbit_error_clear();
    return LOWBIT_OK;
}

static lowbit_status probe_checked(lowbit_context *context, const char *function)
{
    lowbit_status status = check_context(context, function);
    return status != LOWBIT_OK ? status : lowbit_context_probe(context);
}

lowbit_status lowbit_device_count(lowbit_context *context, size_t *count)
{
    lowbit_status status = probe_checked(context, "lowbit_device_count");
    if (status != LOWBIT_OK) return status;
    if (!count) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_device_count: count is NULL");
    *count = context->device_count;
    return LOWBIT_OK;
}

lowbit_status lowbit_device_get_info(lowbit_context *context, size_t device, lowbit_device_info *info)
{
    lowbit_status status = probe_checked(context, "lowbit_device_get_info");
    if (status != LOWBIT_OK) return status;
    if (!info) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_device_get_info: info is NULL");
    if (info->struct_size < offsetof(lowbit_device_info, formats) + sizeof(uint64_t) || info->struct_size > 65536)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT,
                            "lowbit_device_get_info: info->struct_size is %zu; set it to sizeof(lowbit_device_info)",
                            info->struct_size);
    if (device >= context->device_count)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_device_get_info: device %zu of %zu", device,
                            context->device_count);
    size_t size = info->struct_size < sizeof *info ? info->struct_size : sizeof *info;
    memcpy(info, &context->devices[device].info, size);
    info->struct_size = size;
    return LOWBIT_OK;
}

lowbit_status lowbit_device_find(lowbit_context *context, const char *id, size_t *device)
{
    lowbit_status status = probe_checked(context, "lowbit_device_find");
    if (status != LOWBIT_OK) return status;
    if (!id || !device) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_device_find: id or device is NULL");
    for (size_t i = 0; i < context->device_count; ++i) {
        if (strcmp(context->devices[i].info.id, id) == 0) {
            *device = i;
            return LOWBIT_OK;
        }
    }
    char known[512] = "";
    for (size_t i = 0; i < context->device_count; ++i) {
        size_t used = strlen(known);
        snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", context->devices[i].info.id);
    }
    return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "no device \"%s\" (devices: %s)", id, known);
}

lowbit_status lowbit_device_default(lowbit_context *context, size_t *device)
{
    lowbit_status status = probe_checked(context, "lowbit_device_default");
    if (status != LOWBIT_OK) return status;
    if (!device) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_device_default: device is NULL");
    const char *wanted = getenv("LOWBIT_DEVICE");
    if (wanted && *wanted) {
        status = lowbit_device_find(context, wanted, device);
        if (status != LOWBIT_OK) return lowbit_error(status, "LOWBIT_DEVICE=%s: %s", wanted, lowbit_last_error());
        return LOWBIT_OK;
    }
    *device = 0; /* the CPU backend */
    for (size_t i = 0; i < context->device_count; ++i) {
        if (!context->devices[i].info.is_cpu_device) {
            *device = i;
            break;
        }
    }
    return LOWBIT_OK;
}

lowbit_status lowbit_device_measure_bandwidth(lowbit_context *context, size_t device, size_t bytes,
                                              double *bytes_per_second)
{
    static const char fn[] = "lowbit_device_measure_bandwidth";
    lowbit_status status = probe_checked(context, fn);
    if (status != LOWBIT_OK) return status;
    if (!bytes_per_second) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: bytes_per_second is NULL", fn);
    if (device >= context->device_count)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: device %zu of %zu", fn, device, context->device_count);
    const lowbit_device_entry *entry = &context->devices[device];
    if (bytes == 0) { /* >= 4 x the cache in front of the device's memory, so the probe reads DRAM (cache_size.h) */
        uint64_t wanted = lowbit_default_probe_bytes(entry->info.is_cpu_device);
        bytes = wanted > SIZE_MAX ? SIZE_MAX : (size_t)wanted;
    }
    if (entry->info.max_allocation && bytes > entry->info.max_allocation) bytes = (size_t)entry->info.max_allocation;
    if (bytes < 4096)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: %zu bytes is too small to measure", fn, bytes);
    lowbit_backend *backend = context->plugins[entry->backend].backend;
    if (backend->struct_size < offsetof(lowbit_backend, measure_bandwidth) + sizeof backend->measure_bandwidth ||
        !backend->measure_bandwidth)
        return lowbit_error(LOWBIT_ERROR_UNSUPPORTED, "%s: the %s backend has no bandwidth probe", fn, backend->name);
    lowbit_error_clear();
    return backend->measure_bandwidth(backend->self, entry->local_index, bytes, bytes_per_second);
}

lowbit_status lowbit_device_tuning(lowbit_context *context, size_t device, lowbit_format format, size_t n, size_t rows,
                                   size_t cols, char *params, size_t params_size, char *level, size_t level_size)
{
    static const char fn[] = "lowbit_device_tuning";
    lowbit_status status = probe_checked(context, fn);
    if (status != LOWBIT_OK) return status;
    if (device >= context->device_count)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: device %zu of %zu", fn, device, context->device_count);
    if ((!params && params_size) || (!level && level_size))
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: a NULL output with a non-zero size", fn);
    if (!lowbit_format_get((int)format) || n == 0 || rows == 0 || cols == 0)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "%s: format %d, n %zu, rows %zu, cols %zu", fn, (int)format,
                            n, rows, cols);
    char found[256] = "", which[16] = "default";
    char answer_level[16];
    if (context->tuning &&
        lowbit_tuning_answer(&context->host_api, &context->devices[device].info, n > 8 ? "gemm" : "gemv", format, n,
                             rows, cols, found, sizeof found, answer_level, sizeof answer_level) == 1)
        snprintf(which, sizeof which, "%s", answer_level);
    if (params_size) snprintf(params, params_size, "%s", found);
    if (level_size) snprintf(level, level_size, "%s", which);
    return LOWBIT_OK;
}

lowbit_status lowbit_tuning_sources(lowbit_context *context, char *text, size_t size)
{
    lowbit_status status = check_context(context, "lowbit_tuning_sources");
    if (status != LOWBIT_OK) return status;
    if (!text || size == 0)
        return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "lowbit_tuning_sources: text is NULL or size 0");
    snprintf(text, size, "%s", context->tuning ? lowbit_tuning_sources_text(context->tuning) : "tuning=0\n");
    return LOWBIT_OK;
}
