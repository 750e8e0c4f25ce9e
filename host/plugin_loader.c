/* plugin_loader.c — finds backend plugins (LOWBIT_PLUGIN_PATH, beside liblowbit, the install libdir),
 * dlopens them and checks their ABI before any of their code is trusted. */
#include <dirent.h>
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "runtime.h"

#ifndef LOWBIT_INSTALL_LIBDIR
#define LOWBIT_INSTALL_LIBDIR "/usr/local/lib"
#endif

/* The smallest backend struct this host can drive: everything up to and including destroy. */
#define LOWBIT_BACKEND_MIN_SIZE (offsetof(lowbit_backend, destroy) + sizeof(((lowbit_backend *)0)->destroy))

lowbit_status lowbit_plugin_load(const char *path, const lowbit_host_api *host, lowbit_plugin *out)
{
    if (!path || !*path || !out) return lowbit_error(LOWBIT_ERROR_INVALID_ARGUMENT, "plugin path is NULL or empty");
    memset(out, 0, sizeof *out);
    if (access(path, R_OK) != 0)
        return lowbit_error(LOWBIT_ERROR_PLUGIN, "plugin %s does not exist or cannot be read", path);
    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!library) return lowbit_error(LOWBIT_ERROR_PLUGIN, "cannot load plugin %s: %s", path, dlerror());
    lowbit_backend_entry_fn entry;
    void *symbol = dlsym(library, LOWBIT_BACKEND_ENTRY_SYMBOL);
    if (!symbol) {
        dlclose(library);
        return lowbit_error(LOWBIT_ERROR_PLUGIN, "%s is not a lowbit plugin: it does not export %s", path,
                            LOWBIT_BACKEND_ENTRY_SYMBOL);
    }
    memcpy(&entry, &symbol, sizeof entry); /* object → function pointer without a pedantic cast */
    lowbit_backend *backend = NULL;
    lowbit_error_clear();
    lowbit_status status = entry(LOWBIT_BACKEND_ABI_MAJOR, LOWBIT_BACKEND_ABI_MINOR, host, &backend);
    if (status != LOWBIT_OK || !backend) {
        char reason[512];
        snprintf(reason, sizeof reason, "%s",
                 *lowbit_last_error() ? lowbit_last_error() : lowbit_status_string(status));
        dlclose(library);
        return lowbit_error(LOWBIT_ERROR_PLUGIN, "plugin %s refused to start (host ABI %u.%u): %s", path,
                            LOWBIT_BACKEND_ABI_MAJOR, LOWBIT_BACKEND_ABI_MINOR, reason);
    }
    const char *problem = NULL;
    if (backend->abi_major != LOWBIT_BACKEND_ABI_MAJOR)
        problem = "ABI major version differs";
    else if (backend->struct_size < LOWBIT_BACKEND_MIN_SIZE)
        problem = "its backend struct is too small";
    else if (!backend->name || !backend->device_count || !backend->device_info || !backend->weights_upload ||
             !backend->weights_release || !backend->matmul || !backend->destroy)
        problem = "its backend struct has NULL entries";
    if (problem) {
        lowbit_status refused = lowbit_error(
            LOWBIT_ERROR_PLUGIN, "plugin %s was built for lowbit backend ABI %u.%u; this lowbit speaks %u.%u (%s)",
            path, backend->abi_major, backend->abi_minor, LOWBIT_BACKEND_ABI_MAJOR, LOWBIT_BACKEND_ABI_MINOR, problem);
        if (backend->abi_major == LOWBIT_BACKEND_ABI_MAJOR && backend->destroy) backend->destroy(backend->self);
        dlclose(library);
        return refused;
    }
    if (backend->abi_minor > LOWBIT_BACKEND_ABI_MINOR)
        lowbit_log(LOWBIT_LOG_INFO, "plugin %s speaks ABI %u.%u, newer than this host's %u.%u: extra members unused",
                   path, backend->abi_major, backend->abi_minor, LOWBIT_BACKEND_ABI_MAJOR, LOWBIT_BACKEND_ABI_MINOR);
    out->library = library;
    out->backend = backend;
    snprintf(out->path, sizeof out->path, "%s", path);
    lowbit_log(LOWBIT_LOG_INFO, "loaded %s backend from %s", backend->name, path);
    return LOWBIT_OK;
}

void lowbit_plugin_unload(lowbit_plugin *plugin)
{
    if (!plugin || !plugin->backend) return;
    plugin->backend->destroy(plugin->backend->self);
    /* LOWBIT_PLUGIN_NO_UNLOAD=1 keeps the code mapped so leak checkers can name a plugin's frames */
    const char *keep = getenv("LOWBIT_PLUGIN_NO_UNLOAD");
    if (plugin->library && !(keep && strcmp(keep, "1") == 0)) dlclose(plugin->library);
    memset(plugin, 0, sizeof *plugin);
}

static int context_has_backend(const lowbit_context *context, const char *name)
{
    for (size_t i = 0; i < context->plugin_count; ++i)
        if (strcmp(context->plugins[i].backend->name, name) == 0) return 1;
    return 0;
}

static int context_has_file(const lowbit_context *context, const char *file_name)
{
    for (size_t i = 0; i < context->plugin_count; ++i) {
        const char *slash = strrchr(context->plugins[i].path, '/');
        if (slash && strcmp(slash + 1, file_name) == 0) return 1;
    }
    return 0;
}

static int is_plugin_file_name(const char *name)
{
    size_t length = strlen(name);
    return strncmp(name, "liblowbit-", 10) == 0 && length > 13 && strcmp(name + length - 3, ".so") == 0;
}

static int compare_names(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

static void discover_in(lowbit_context *context, const char *dir)
{
    DIR *folder = opendir(dir);
    if (!folder) return;
    /* sorted, so the order of backends (and device indices) does not depend on the file system */
    char names[16][256];
    size_t count = 0;
    for (struct dirent *entry; (entry = readdir(folder)) != NULL && count < 16;) {
        if (is_plugin_file_name(entry->d_name) && strlen(entry->d_name) < sizeof names[0])
            snprintf(names[count++], sizeof names[0], "%s", entry->d_name);
    }
    closedir(folder);
    qsort(names, count, sizeof names[0], compare_names);
    for (size_t i = 0; i < count; ++i) {
        if (context->plugin_count >= LOWBIT_MAX_BACKENDS || context_has_file(context, names[i])) continue;
        char path[1024];
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path) {
            lowbit_log(LOWBIT_LOG_WARN, "skipping plugin %s in %.64s...: path too long", names[i], dir);
            continue; /* a truncated path could name another file */
        }
        lowbit_plugin plugin;
        if (lowbit_plugin_load(path, &context->host_api, &plugin) != LOWBIT_OK) {
            lowbit_log(LOWBIT_LOG_WARN, "skipping plugin: %s", lowbit_last_error());
            continue;
        }
        if (context_has_backend(context, plugin.backend->name)) {
            lowbit_log(LOWBIT_LOG_INFO, "skipping %s: a %s backend is already loaded", path, plugin.backend->name);
            lowbit_plugin_unload(&plugin);
            continue;
        }
        context->plugins[context->plugin_count++] = plugin;
    }
}

static void discover_in_list(lowbit_context *context, const char *list)
{
    if (!list) return;
    while (*list) {
        size_t length = strcspn(list, ":");
        if (length > 0 && length < 1024) {
            char dir[1024];
            memcpy(dir, list, length);
            dir[length] = '\0';
            discover_in(context, dir);
        }
        list += length;
        if (*list == ':') ++list;
    }
}

void lowbit_plugin_discover(lowbit_context *context, const char *first_dirs)
{
    discover_in_list(context, first_dirs);
    discover_in_list(context, getenv("LOWBIT_PLUGIN_PATH"));
    Dl_info info;
    if (dladdr((void *)(uintptr_t)lowbit_plugin_discover, &info) && info.dli_fname) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s", info.dli_fname);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            discover_in(context, dir);
        }
    }
    discover_in(context, LOWBIT_INSTALL_LIBDIR);
}
