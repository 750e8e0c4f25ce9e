/* handles.c — the set of live contexts and weights, so calls with a destroyed or foreign handle
 * return LOWBIT_ERROR_INVALID_ARGUMENT instead of touching freed memory. */
#include <stdlib.h>

#include "runtime.h"

static pthread_mutex_t handles_mutex = PTHREAD_MUTEX_INITIALIZER;
static const void **handles;
static size_t handle_count, handle_capacity;

int lowbit_handle_register(const void *handle)
{
    pthread_mutex_lock(&handles_mutex);
    int ok = 1;
    if (handle_count == handle_capacity) {
        size_t capacity = handle_capacity ? handle_capacity * 2 : 64;
        const void **grown = realloc(handles, capacity * sizeof *grown);
        if (grown) {
            handles = grown;
            handle_capacity = capacity;
        } else {
            ok = 0;
        }
    }
    if (ok) handles[handle_count++] = handle;
    pthread_mutex_unlock(&handles_mutex);
    return ok;
}

int lowbit_handle_unregister(const void *handle)
{
    int found = 0;
    pthread_mutex_lock(&handles_mutex);
    for (size_t i = 0; i < handle_count && !found; ++i) {
        if (handles[i] == handle) {
            handles[i] = handles[--handle_count];
            found = 1;
        }
    }
    pthread_mutex_unlock(&handles_mutex);
    return found;
}

int lowbit_handle_is_live(const void *handle)
{
    if (!handle) return 0;
    pthread_mutex_lock(&handles_mutex);
    int live = 0;
    for (size_t i = 0; i < handle_count && !live; ++i)
        live = handles[i] == handle;
    pthread_mutex_unlock(&handles_mutex);
    return live;
}
