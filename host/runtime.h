/* runtime.h — the host runtime's internal structures: contexts, the device table built from every
 * backend, weights handles, and the services (host API) given to plugins. */
#ifndef LOWBIT_HOST_RUNTIME_H
#define LOWBIT_HOST_RUNTIME_H

#include <pthread.h>

#include "lowbit/lowbit_backend.h"

#define LOWBIT_MAX_BACKENDS 8

typedef struct lowbit_plugin {
    void *library; /* dlopen handle, NULL for the built-in CPU backend */
    lowbit_backend *backend;
    char path[512];
} lowbit_plugin;

typedef struct lowbit_device_entry {
    size_t backend;     /* index into context->plugins */
    size_t local_index; /* the backend's own device index */
    lowbit_device_info info;
} lowbit_device_entry;

struct lowbit_context {
    pthread_mutex_t mutex;
    lowbit_plugin plugins[LOWBIT_MAX_BACKENDS];
    size_t plugin_count;
    int devices_probed;
    lowbit_device_entry *devices;
    size_t device_count;
    char *params;                 /* the validated parameter string (options, else LOWBIT_PARAMS); NULL when none */
    lowbit_host_api host_api;     /* the host services with this context's params, handed to its backends */
    struct lowbit_tuning *tuning; /* the tuning database (host/tuning/tuning_host.c); NULL under tuning=0 */
};

struct lowbit_weights {
    lowbit_context *context;
    size_t device; /* the device asked for */
    lowbit_format format;
    size_t rows, cols, size;
    void *device_weights;  /* the backend's handle; NULL when the upload fell back to the CPU */
    void *cpu_weights;     /* the CPU backend's handle over host_data; NULL when no fallback is kept */
    const void *host_data; /* owned_copy or the caller's borrowed bytes */
    void *owned_copy;
    char upload_fallback_reason[256];
};

/* host_api.c */
const lowbit_host_api *lowbit_host_api_get(void);
/* Monotonic clock in seconds (call timing, bandwidth probes). */
double lowbit_now_seconds(void);
int lowbit_fault_injected(const char *site);

/* plugin_loader.c */
lowbit_status lowbit_plugin_load(const char *path, const lowbit_host_api *host, lowbit_plugin *out);
void lowbit_plugin_unload(lowbit_plugin *plugin);
/* Loads every liblowbit-*.so found on the search path into context->plugins, skipping (with a
 * warning) any that fails; `first_dirs` (may be NULL) is searched before LOWBIT_PLUGIN_PATH. */
void lowbit_plugin_discover(lowbit_context *context, const char *first_dirs);

/* handles.c: which contexts and weights are alive, so a destroyed handle is an error, not a crash */
int lowbit_handle_register(const void *handle);
/* returns 1 when the handle was live: the caller that unregisters it is the one that may free it */
int lowbit_handle_unregister(const void *handle);
int lowbit_handle_is_live(const void *handle);

/* The live handles of one kind that belong to contexts (weights, buffers), so a destroyed context can release
 * what its caller forgot. */
typedef struct lowbit_handle_set {
    pthread_mutex_t mutex;
    void **items;
    size_t count, capacity;
} lowbit_handle_set;
#define LOWBIT_HANDLE_SET_INIT                                                                                         \
    {                                                                                                                  \
        PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0                                                                          \
    }
/* Adds `item` to the set and registers it as a live handle; 0 (and neither) when out of host memory. */
int lowbit_handle_set_add(lowbit_handle_set *set, void *item);
/* Unregisters the handle and takes it out of the set: 1 for the one caller that did, who may free it (when two
 * threads destroy the same handle, or a context's destroy races the handle's own, exactly one gets 1). */
int lowbit_handle_set_remove(lowbit_handle_set *set, void *item);
/* An item of the set that belongs to `context` (`context_of` says whose an item is), or NULL. */
void *lowbit_handle_set_find(lowbit_handle_set *set, const lowbit_context *context,
                             const lowbit_context *(*context_of)(const void *item));

/* context.c */
lowbit_status lowbit_context_probe(lowbit_context *context);

/* weights.c: releases every weights handle of a context being destroyed */
void lowbit_weights_release_all(lowbit_context *context);

/* queue.c: finishes every open queue of `context` on `device` (SIZE_MAX: every device), so memory they may
 * use can be freed; releases every queue and buffer of a context being destroyed */
void lowbit_queues_drain(const lowbit_context *context, size_t device);
void lowbit_queues_release_all(lowbit_context *context);

/* backends/cpu: the built-in backend */
lowbit_status lowbit_cpu_backend_create(const lowbit_host_api *host, lowbit_backend **out);

#endif
