/* ggml_lowbit_registry.c — libggml-lowbit's entry points (ggml_backend_init, ggml_backend_score), the version
 * gate against the ggml it is loaded into, the registry of one ggml device per lowbit device, and logging. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ggml_lowbit.h"
#include "ggml_lowbit_version.h"

/* Weak: a ggml older than these functions must reach the version gate (and its message), not fail in dlopen
 * with an undefined symbol. */
#pragma weak ggml_version
#pragma weak ggml_log_get

#define GGML_LOWBIT_EXPORT __attribute__((visibility("default")))

#ifndef GGML_LOWBIT_BUILT_VERSION
#error "GGML_LOWBIT_BUILT_VERSION (the ggml version of the headers) is set by backends/ggml/CMakeLists.txt"
#endif

void ggml_lowbit_log(enum ggml_log_level level, const char *format, ...)
{
    char text[1024];
    int used = snprintf(text, sizeof text, "ggml-lowbit: ");
    va_list args;
    va_start(args, format);
    vsnprintf(text + used, sizeof text - (size_t)used - 1, format, args);
    va_end(args);
    strcat(text, "\n");
    ggml_log_callback callback = NULL;
    void *user_data = NULL;
    if (ggml_log_get) ggml_log_get(&callback, &user_data);
    if (callback)
        callback(level, text, user_data);
    else
        fputs(text, stderr);
}

/* lowbit's own messages (device faults, CPU fallbacks) go where the engine's go, so a program that silences
 * or redirects ggml's log gets lowbit's the same way. */
static void forward_lowbit_log(lowbit_log_level level, const char *message, void *user_data)
{
    (void)user_data;
    enum ggml_log_level ggml_level = level == LOWBIT_LOG_ERROR  ? GGML_LOG_LEVEL_ERROR
                                     : level == LOWBIT_LOG_WARN ? GGML_LOG_LEVEL_WARN
                                     : level == LOWBIT_LOG_INFO ? GGML_LOG_LEVEL_INFO
                                                                : GGML_LOG_LEVEL_DEBUG;
    ggml_lowbit_log(ggml_level, "lowbit: %s", message);
}

static lowbit_log_level lowbit_log_level_from_environment(void)
{
    const char *value = getenv("LOWBIT_LOG");
    if (!value) return LOWBIT_LOG_WARN;
    if (!strcasecmp(value, "error")) return LOWBIT_LOG_ERROR;
    if (!strcasecmp(value, "info")) return LOWBIT_LOG_INFO;
    if (!strcasecmp(value, "debug")) return LOWBIT_LOG_DEBUG;
    return LOWBIT_LOG_WARN;
}

/* --- the version gate ----------------------------------------------------------------------------- */
static int engine_is_compatible(void)
{
    const char *running = ggml_version ? ggml_version() : NULL;
    char message[512];
    if (ggml_lowbit_version_check(running, GGML_LOWBIT_BUILT_VERSION, GGML_BACKEND_API_VERSION, message,
                                  sizeof message))
        return 1;
    ggml_lowbit_log(GGML_LOG_LEVEL_ERROR, "%s", message);
    return 0;
}

/* --- the registry ---------------------------------------------------------------------------------- */
static struct {
    struct ggml_backend_reg reg;
    lowbit_context *lowbit;
    ggml_lowbit_device *devices;
    ggml_backend_dev_t *handles;
    size_t count;
    int ready;
} registry;
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;

static const char *registry_get_name(ggml_backend_reg_t reg) { return (void)reg, GGML_LOWBIT_NAME; }
static size_t registry_get_device_count(ggml_backend_reg_t reg) { return (void)reg, registry.count; }
static ggml_backend_dev_t registry_get_device(ggml_backend_reg_t reg, size_t index)
{
    (void)reg;
    return index < registry.count ? registry.handles[index] : NULL;
}
static void *registry_get_proc_address(ggml_backend_reg_t reg, const char *name)
{
    (void)reg, (void)name;
    return NULL;
}

/* LOWBIT_GGML_DEVICES=cpu,opencl:0 exposes only those lowbit devices to the engine (default: all). */
static int device_wanted(const char *id)
{
    const char *list = getenv("LOWBIT_GGML_DEVICES");
    if (!list || !*list) return 1;
    size_t length = strlen(id);
    for (const char *item = list; *item;) {
        const char *end = strchr(item, ',');
        size_t item_length = end ? (size_t)(end - item) : strlen(item);
        if (item_length == length && strncmp(item, id, length) == 0) return 1;
        if (!end) break;
        item = end + 1;
    }
    return 0;
}

/* At exit (or when ggml unloads the library: glibc runs a library's atexit handlers at its dlclose), before
 * any library's destructors: the OpenCL and Vulkan drivers are still loaded, and closing their devices
 * releases what they would otherwise leave behind (lavapipe's compiler state, say). */
static void registry_close(void)
{
    lowbit_context_destroy(registry.lowbit);
    registry.lowbit = NULL;
}

static void registry_create(void)
{
    registry.reg.api_version = GGML_BACKEND_API_VERSION;
    registry.reg.iface = (struct ggml_backend_reg_i){
        .get_name = registry_get_name,
        .get_device_count = registry_get_device_count,
        .get_device = registry_get_device,
        .get_proc_address = registry_get_proc_address,
    };
    registry.reg.context = NULL;

    lowbit_log_set_callback(forward_lowbit_log, NULL, lowbit_log_level_from_environment());
    lowbit_status status = lowbit_context_create(NULL, &registry.lowbit);
    size_t count = 0;
    if (status == LOWBIT_OK) {
        atexit(registry_close);
        status = lowbit_device_count(registry.lowbit, &count);
    }
    if (status != LOWBIT_OK) {
        ggml_lowbit_log(GGML_LOG_LEVEL_ERROR, "cannot open lowbit: %s", lowbit_last_error());
        return;
    }
    registry.devices = calloc(count, sizeof *registry.devices);
    registry.handles = calloc(count, sizeof *registry.handles);
    if (!registry.devices || !registry.handles) {
        ggml_lowbit_log(GGML_LOG_LEVEL_ERROR, "out of memory listing %zu lowbit devices", count);
        return;
    }
    for (size_t index = 0; index < count; ++index) {
        ggml_lowbit_device *device = &registry.devices[registry.count];
        if (!ggml_lowbit_device_init(device, &registry.reg, registry.lowbit, index)) continue;
        if (!device_wanted(device->info.id)) continue;
        registry.handles[registry.count++] = &device->ggml;
    }
    registry.ready = 1;
}

GGML_LOWBIT_EXPORT int ggml_backend_score(void);
GGML_LOWBIT_EXPORT ggml_backend_reg_t ggml_backend_init(void);

/* ggml's loader calls this first: 0 refuses the library (the version gate), otherwise any positive score. */
int ggml_backend_score(void) { return engine_is_compatible() ? 10 : 0; }

ggml_backend_reg_t ggml_backend_init(void)
{
    if (!engine_is_compatible()) return NULL;
    pthread_once(&registry_once, registry_create);
    return registry.ready ? &registry.reg : NULL;
}

/* The log callback lives in this library: unhook it before an unload (ggml_backend_unload) unmaps it. */
__attribute__((destructor)) static void registry_unload(void) { lowbit_log_set_callback(NULL, NULL, LOWBIT_LOG_WARN); }
